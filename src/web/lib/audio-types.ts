/**
 * The audio formats the app turns into something playable or saveable, and nothing else.
 *
 * A message carries Opus in Ogg (`audio/ogg`) or 16-bit PCM WAV (`audio/wav`), nothing else
 * (src/protocol/audio-formats.ts). The audio type inside a sealed envelope is chosen by whoever
 * sent the message (up to 128 bytes, any text): a member of the family, who may be hostile. A
 * Blob or object URL built with that type becomes a document of this origin when opened in a tab
 * (text/html, image/svg+xml, application/xhtml+xml run script there, outside the page's CSP). So the type of every Blob the
 * app builds from a message comes from this table, never from the message: a message whose type is
 * not listed here is refused when it is opened, and downloads are application/octet-stream with an
 * extension from this table.
 */
import { AUDIO_EXTENSIONS, checkAudio, ClientError, isAudioFormat } from '../../client/index.js';

/** One allowed format: the Blob type the app uses for it and the file extension of a download. */
export interface AudioFormat {
  blobType: string;
  extension: string;
}

/** The allowed format of a message's (sender-chosen) audio type: exactly `audio/ogg` or `audio/wav`, or a refusal. */
export function allowedAudioFormat(audioType: string): { ok: true; value: AudioFormat } | { ok: false; code: 'audio-type-not-allowed' } {
  if (!isAudioFormat(audioType)) return { ok: false, code: 'audio-type-not-allowed' };
  return { ok: true, value: { blobType: audioType, extension: AUDIO_EXTENSIONS[audioType] } };
}

/** The Blob type of every download the app makes: never rendered, never sniffed into a page. */
export const DOWNLOAD_TYPE = 'application/octet-stream';

/** A refused message: its audio is in a format the app does not play (plain words in ui/errors.ts). */
export class AudioTypeRefused extends ClientError {
  constructor() {
    super('client/audio-type-refused', 'the message audio is in a format Burrow does not play');
    this.name = 'AudioTypeRefused';
  }
}

/**
 * A playable Blob of opened audio, typed from the allow-list, whose bytes are that format too
 * (Opus in Ogg or 16-bit PCM WAV); throws AudioTypeRefused otherwise.
 */
export function playableAudioBlob(opened: { audio: Uint8Array; audioType: string }): Blob {
  const format = allowedAudioFormat(opened.audioType);
  if (!format.ok || !checkAudio(opened.audioType, opened.audio).ok) throw new AudioTypeRefused();
  return new Blob([opened.audio as Uint8Array<ArrayBuffer>], { type: format.value.blobType });
}
