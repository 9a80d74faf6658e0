/** Small audio helpers for the app: the recording type and durations (allowed playback formats: lib/audio-types.ts). */
import { recordingTypeFor } from '../../client/index.js';

/**
 * The recording type this browser supports: Ogg/Opus where it records it, else WebM/Opus, which
 * is remuxed to Ogg/Opus before sending (`messageAudioFromRecording`). None: it cannot record a
 * message a toy plays.
 */
export function recordingType(): string | undefined {
  if (typeof MediaRecorder === 'undefined') return undefined;
  return recordingTypeFor((type) => MediaRecorder.isTypeSupported(type));
}

/** A duration as m:ss. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}
