/**
 * The virtual toy's speaker and microphone: recording a reply with MediaRecorder, and playing an
 * opened message through Web Audio (decodeAudioData, a gain node for the family's volume limit).
 * Nothing here sees a key or a token; it sees audio only, inside the page.
 */
import { messageAudioFromRecording, recordingTypeFor } from '../../client/index.js';

/** Longest reply the toy records, like a toy's button held down. */
export const MAX_RECORDING_MS = 60_000;

/** What the microphone recorded, ready to seal. */
export interface Recorded {
  audio: Uint8Array;
  audioType: string;
  durationMs: number;
}

/** A sound decoded and measured, ready to play. */
export interface Decoded {
  buffer: AudioBuffer;
  durationMs: number;
  /** Root mean square of all samples, full scale = 1 (a measure of loudness; ~0 is silence). */
  rms: number;
}

let context: AudioContext | undefined;

/** One AudioContext for the page, created on first use (after a user gesture where browsers need one). */
function audioContext(): AudioContext {
  context ??= new AudioContext();
  return context;
}

/** Lets later playback start without a gesture (call from a click or key press). */
export async function unlockAudio(): Promise<void> {
  const ctx = audioContext();
  if (ctx.state === 'suspended') await ctx.resume();
}

function rmsOf(buffer: AudioBuffer): number {
  let squares = 0;
  let count = 0;
  for (let channel = 0; channel < buffer.numberOfChannels; channel++) {
    const data = buffer.getChannelData(channel);
    for (const sample of data) squares += sample * sample;
    count += data.length;
  }
  return count === 0 ? 0 : Math.sqrt(squares / count);
}

/** Decodes audio bytes (a message's Ogg/Opus or 16-bit WAV, which the toy runtime checked) and measures them. */
export async function decodeAudio(audio: Uint8Array): Promise<Decoded> {
  const copy = audio.slice().buffer;
  const buffer = await audioContext().decodeAudioData(copy);
  return { buffer, durationMs: Math.round(buffer.duration * 1000), rms: rmsOf(buffer) };
}

/**
 * Plays a decoded sound at `volume` (0–100, the roster's volume limit; linear gain) and resolves
 * when it ended or `signal` stopped it.
 */
export async function playDecoded(decoded: Decoded, volume: number, signal?: AbortSignal): Promise<void> {
  const ctx = audioContext();
  if (ctx.state === 'suspended') await ctx.resume().catch(() => undefined);
  const source = ctx.createBufferSource();
  source.buffer = decoded.buffer;
  const gain = ctx.createGain();
  gain.gain.value = Math.max(0, Math.min(100, volume)) / 100;
  source.connect(gain).connect(ctx.destination);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      try {
        source.stop();
      } catch {
        // Already stopped.
      }
    };
    source.onended = () => {
      signal?.removeEventListener('abort', stop);
      source.disconnect();
      gain.disconnect();
      resolve();
    };
    signal?.addEventListener('abort', stop, { once: true });
    source.start();
  });
}

/**
 * The toy's chime: two short rising tones (0.4 s), made here rather than decoded, so it sounds
 * the same on every toy. The toy plays it at a new volume limit so the family hears the limit.
 */
export function chimeSound(): Decoded {
  const ctx = audioContext();
  const rate = ctx.sampleRate;
  const buffer = ctx.createBuffer(1, Math.round(rate * 0.4), rate);
  const data = buffer.getChannelData(0);
  for (let i = 0; i < data.length; i++) {
    const t = i / rate;
    const frequency = t < 0.2 ? 660 : 880;
    // A 10 ms fade at each tone's edges keeps the speaker from clicking.
    const edge = Math.min(1, (t % 0.2) / 0.01, (0.2 - (t % 0.2)) / 0.01);
    data[i] = 0.5 * edge * Math.sin(2 * Math.PI * frequency * t);
  }
  return { buffer, durationMs: 400, rms: rmsOf(buffer) };
}

/** Ogg/Opus where the browser records it, else WebM/Opus (remuxed to Ogg/Opus when the recording stops). */
function preferredType(): string | undefined {
  return recordingTypeFor((type) => MediaRecorder.isTypeSupported(type));
}

/** A recording in progress; `stop()` resolves with the audio. */
export interface Recording {
  readonly startedAt: number;
  /** Current input level 0–1, for a level meter. */
  level(): number;
  stop(): Promise<Recorded>;
  /** Throws the recording away. */
  cancel(): void;
}

/**
 * Starts recording from the microphone. Voice processing (echo cancellation, noise suppression,
 * automatic gain) is off: this is a voice message, not a call, and the family should hear the
 * child as the microphone heard them. Stops by itself after `MAX_RECORDING_MS`.
 */
export async function startRecording(options: { onAutoStop?: () => void } = {}): Promise<Recording> {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 } });
  const type = preferredType();
  const recorder = new MediaRecorder(stream, type === undefined ? {} : { mimeType: type });
  const chunks: Blob[] = [];
  recorder.ondataavailable = (event) => {
    if (event.data.size > 0) chunks.push(event.data);
  };
  const ctx = audioContext();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 1024;
  const input = ctx.createMediaStreamSource(stream);
  input.connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const release = (): void => {
    input.disconnect();
    for (const track of stream.getTracks()) track.stop();
  };
  const stopped = new Promise<void>((resolve) => {
    recorder.onstop = () => resolve();
  });
  const startedAt = Date.now();
  recorder.start();
  const autoStop = setTimeout(() => {
    if (recorder.state === 'recording') {
      recorder.stop();
      options.onAutoStop?.();
    }
  }, MAX_RECORDING_MS);
  return {
    startedAt,
    level() {
      analyser.getFloatTimeDomainData(samples);
      let squares = 0;
      for (const s of samples) squares += s * s;
      return Math.min(1, Math.sqrt(squares / samples.length) * 3);
    },
    async stop() {
      clearTimeout(autoStop);
      if (recorder.state === 'recording') recorder.stop();
      await stopped;
      release();
      const durationMs = Date.now() - startedAt;
      // A reply carries Ogg/Opus, one of the two formats every toy plays (throws client/audio-format otherwise).
      const message = messageAudioFromRecording(new Uint8Array(await new Blob(chunks).arrayBuffer()));
      return { audio: message.audio, audioType: message.audioType, durationMs: Math.min(durationMs, MAX_RECORDING_MS) };
    },
    cancel() {
      clearTimeout(autoStop);
      if (recorder.state === 'recording') recorder.stop();
      release();
    },
  };
}
