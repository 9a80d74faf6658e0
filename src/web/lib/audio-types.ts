/**
 * The audio formats the app turns into something playable or saveable, and nothing else.
 *
 * The audio type inside a sealed envelope is chosen by whoever sent the message (up to 128 bytes,
 * any text): a member of the family, who may be hostile. A Blob or object URL built with that type
 * becomes a document of this origin when opened in a tab (text/html, image/svg+xml,
 * application/xhtml+xml run script there, outside the page's CSP). So the type of every Blob the
 * app builds from a message comes from this table, never from the message: a message whose type is
 * not listed here is refused when it is opened, and downloads are application/octet-stream with an
 * extension from this table.
 */
import { ClientError } from '../../client/index.js';

/** One allowed format: the Blob type the app uses for it and the file extension of a download. */
export interface AudioFormat {
  blobType: string;
  extension: string;
}

// Base types only (parameters such as `codecs=opus` are ignored): what MediaRecorder in the
// supported browsers and the reference toy produce, and what an <audio> element plays.
const FORMATS: ReadonlyMap<string, AudioFormat> = new Map([
  ['audio/webm', { blobType: 'audio/webm', extension: 'webm' }],
  ['audio/ogg', { blobType: 'audio/ogg', extension: 'ogg' }],
  ['audio/mp4', { blobType: 'audio/mp4', extension: 'm4a' }],
  ['audio/aac', { blobType: 'audio/aac', extension: 'aac' }],
  ['audio/mpeg', { blobType: 'audio/mpeg', extension: 'mp3' }],
  ['audio/wav', { blobType: 'audio/wav', extension: 'wav' }],
  ['audio/x-wav', { blobType: 'audio/wav', extension: 'wav' }],
  ['audio/wave', { blobType: 'audio/wav', extension: 'wav' }],
]);

/** The media-type parameters the app accepts after the base type: `; codecs=<token list>` only. */
const PARAMETERS = /^(\s*;\s*codecs\s*=\s*("[a-z0-9.,+ -]{1,40}"|[a-z0-9.+-]{1,40}))?\s*$/;

/** The allowed format of a message's (sender-chosen) audio type, or a refusal. */
export function allowedAudioFormat(audioType: string): { ok: true; value: AudioFormat } | { ok: false; code: 'audio-type-not-allowed' } {
  const lower = audioType.toLowerCase();
  const semicolon = lower.indexOf(';');
  const base = (semicolon === -1 ? lower : lower.slice(0, semicolon)).trim();
  const format = FORMATS.get(base);
  if (format === undefined || !PARAMETERS.test(semicolon === -1 ? '' : lower.slice(semicolon))) return { ok: false, code: 'audio-type-not-allowed' };
  return { ok: true, value: format };
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

/** A playable Blob of opened audio, typed from the allow-list; throws AudioTypeRefused otherwise. */
export function playableAudioBlob(opened: { audio: Uint8Array; audioType: string }): Blob {
  const format = allowedAudioFormat(opened.audioType);
  if (!format.ok) throw new AudioTypeRefused();
  return new Blob([opened.audio as Uint8Array<ArrayBuffer>], { type: format.value.blobType });
}
