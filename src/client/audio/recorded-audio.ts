/**
 * From what a browser's MediaRecorder wrote to what a message carries: Ogg/Opus as it is, WebM/Opus
 * remuxed into Ogg/Opus (Chromium records no Ogg), anything else refused — the app and the virtual
 * toy send only what every toy plays (src/protocol/audio-formats.ts).
 */
import { OGG_OPUS, sniffAudioFormat } from '../../protocol/audio-formats.js';
import { ClientError } from '../client-error.js';
import { remuxWebmOpusToOgg } from './webm-to-ogg.js';

/** The MediaRecorder types to ask for, best first: Ogg/Opus where the browser records it, else WebM/Opus to remux. */
export const RECORDING_TYPES = ['audio/ogg;codecs=opus', 'audio/webm;codecs=opus'] as const;

/** The first of RECORDING_TYPES that `isTypeSupported` accepts, if any. */
export function recordingTypeFor(isTypeSupported: (type: string) => boolean): string | undefined {
  return RECORDING_TYPES.find((type) => isTypeSupported(type));
}

/**
 * A recording as a message's audio: Ogg/Opus (`audio/ogg`), remuxed from WebM/Opus when the browser
 * recorded that. Throws `client/audio-format` for anything else. Judged by the bytes, not the
 * recorder's type, which only says what was asked for.
 */
export function messageAudioFromRecording(recorded: Uint8Array): { audio: Uint8Array; audioType: typeof OGG_OPUS } {
  const sniffed = sniffAudioFormat(recorded);
  if (sniffed.ok && sniffed.value === OGG_OPUS) return { audio: recorded, audioType: OGG_OPUS };
  // EBML magic (RFC 8794 §8.1): a WebM/Matroska recording.
  if (recorded.length >= 4 && recorded[0] === 0x1a && recorded[1] === 0x45 && recorded[2] === 0xdf && recorded[3] === 0xa3) {
    return { audio: remuxWebmOpusToOgg(recorded), audioType: OGG_OPUS };
  }
  throw new ClientError('client/audio-format', 'this browser recorded neither Ogg/Opus nor WebM/Opus');
}
