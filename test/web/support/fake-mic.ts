/**
 * What the fake microphone says: a speech-like signal generated here (a voiced tone with
 * harmonics, in syllables), written as a 16-bit mono WAV that Chromium loops as its capture device
 * (`--use-file-for-fake-audio-capture`). Its loudness is known exactly, so a test can check that
 * the audio a page decoded at the other end is this signal, at this level, and not silence.
 */
import { writeFile } from 'node:fs/promises';
import { wavOfPcm16 } from '../../../src/protocol/audio-formats.js';

/** A generated microphone signal. */
export interface FakeVoice {
  /** The WAV file's bytes (RIFF, PCM 16-bit, mono). */
  wav: Uint8Array;
  /** Only the PCM samples of `wav` (what a leak of the raw audio would carry). */
  pcm: Uint8Array;
  /** RMS of one loop of the signal, full scale = 1. */
  rms: number;
  /** Length of one loop in ms; any recording of a few loops has about this RMS. */
  loopMs: number;
  sampleRate: number;
}

/**
 * A voice-like signal: a fundamental `pitchHz` with two harmonics, shaped into `syllablesPerSecond`
 * half-sine syllables, peaking at `peak` of full scale. The loop is one second, a whole number of
 * syllables, so its RMS is the same wherever a recording starts.
 */
export function fakeVoice(options: { pitchHz: number; syllablesPerSecond: number; peak: number; sampleRate?: number }): FakeVoice {
  const sampleRate = options.sampleRate ?? 48_000;
  const count = sampleRate;
  const pcm = new Uint8Array(count * 2);
  const view = new DataView(pcm.buffer);
  let squares = 0;
  for (let i = 0; i < count; i++) {
    const t = i / sampleRate;
    const envelope = Math.max(0, Math.sin(2 * Math.PI * options.syllablesPerSecond * t));
    const voice = 0.6 * Math.sin(2 * Math.PI * options.pitchHz * t) + 0.3 * Math.sin(2 * Math.PI * 2 * options.pitchHz * t) + 0.1 * Math.sin(2 * Math.PI * 4 * options.pitchHz * t);
    const sample = Math.round(Math.max(-1, Math.min(1, options.peak * envelope * voice)) * 32767);
    view.setInt16(i * 2, sample, true);
    squares += (sample / 32767) ** 2;
  }
  return { wav: wavOf(pcm, sampleRate), pcm, rms: Math.sqrt(squares / count), loopMs: 1000, sampleRate };
}

/** Silence, for checking that the tests would notice a microphone that records nothing. */
export function fakeSilence(sampleRate = 48_000): FakeVoice {
  const pcm = new Uint8Array(sampleRate * 2);
  return { wav: wavOf(pcm, sampleRate), pcm, rms: 0, loopMs: 1000, sampleRate };
}

function wavOf(pcm: Uint8Array, sampleRate: number): Uint8Array {
  return wavOfPcm16(pcm, { sampleRate });
}

/** Writes the voice's WAV to `path` for Chromium to read. */
export async function writeFakeVoice(voice: FakeVoice, path: string): Promise<string> {
  await writeFile(path, voice.wav);
  return path;
}
