/**
 * The two audio formats a Burrow message may carry, and nothing else: what a toy maker can count
 * on decoding on a small device (docs/protocol.md, "Audio formats").
 *
 * - `audio/ogg`: Opus in Ogg (RFC 7845), the first page holding only the `OpusHead` packet;
 * - `audio/wav`: RIFF/WAVE with a `fmt ` chunk of PCM (format 1), 16 bits, 1 or 2 channels, and
 *   a `data` chunk.
 *
 * The sealed inner record names the format (its audio type is exactly one of the two strings);
 * clients seal, and toys and the app play, only audio whose bytes are that format too: the type
 * is the sender's word, so the bytes are sniffed before they are sealed and again before they play.
 * Pure: no I/O, runs in browsers and Node.
 */

/** Opus in Ogg (RFC 7845). */
export const OGG_OPUS = 'audio/ogg';
/** 16-bit PCM WAV. */
export const WAV_PCM16 = 'audio/wav';

/** The audio type of a message: one of the two formats. */
export type AudioFormat = typeof OGG_OPUS | typeof WAV_PCM16;

/** Both formats, in the order docs list them. */
export const AUDIO_FORMATS: readonly AudioFormat[] = [OGG_OPUS, WAV_PCM16];

/** The file extension of each format (downloads, the CLI, the reference toy's player file). */
export const AUDIO_EXTENSIONS: Readonly<Record<AudioFormat, string>> = { [OGG_OPUS]: 'ogg', [WAV_PCM16]: 'wav' };

/** The words a person sees when audio is neither (with how to convert it). */
export const AUDIO_FORMATS_IN_WORDS = 'Opus in Ogg (.ogg) or 16-bit PCM WAV (.wav)';

/** Why bytes are not one of the two formats (for logs and tests; never shown as is). */
export type AudioFormatProblem = 'audio/not-ogg-or-wav' | 'audio/ogg-not-opus' | 'audio/wav-not-pcm16' | 'audio/type-mismatch';

export type AudioFormatResult = { ok: true; value: AudioFormat } | { ok: false; problem: AudioFormatProblem };

/** Whether an audio type (as sealed in an envelope) is exactly one of the two formats. */
export function isAudioFormat(audioType: unknown): audioType is AudioFormat {
  return audioType === OGG_OPUS || audioType === WAV_PCM16;
}

function ascii(bytes: Uint8Array, offset: number, text: string): boolean {
  if (offset + text.length > bytes.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[offset + i] !== text.charCodeAt(i)) return false;
  return true;
}

/**
 * Whether `bytes` begin as an Ogg Opus stream: an `OggS` page of stream structure version 0 with
 * the beginning-of-stream flag, whose one and only packet is an `OpusHead` of major version 0 with
 * at least one channel (RFC 7845 §3 and §5.1: the first page holds the ID header alone).
 */
function isOggOpus(bytes: Uint8Array): boolean {
  if (!ascii(bytes, 0, 'OggS') || bytes.length < 27 || bytes[4] !== 0 || (bytes[5]! & 0x02) === 0) return false;
  const segments = bytes[26]!;
  if (segments === 0 || bytes.length < 27 + segments) return false;
  let packet = 0;
  for (let i = 0; i < segments; i++) {
    const lacing = bytes[27 + i]!;
    packet += lacing;
    // A lacing value below 255 ends the packet; it must be the page's last (one packet only).
    if (lacing < 255 && i !== segments - 1) return false;
  }
  if (bytes[27 + segments - 1] === 255) return false;
  const head = 27 + segments;
  if (packet < 19 || bytes.length < head + packet || !ascii(bytes, head, 'OpusHead')) return false;
  return (bytes[head + 8]! & 0xf0) === 0 && bytes[head + 9]! >= 1;
}

/** A WAV file's problem, or undefined when it is RIFF/WAVE PCM 16-bit (1 or 2 channels) with data. */
function wavProblem(bytes: Uint8Array): AudioFormatProblem | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pcm16 = false;
  for (let offset = 12; offset + 8 <= bytes.length; ) {
    const size = view.getUint32(offset + 4, true);
    if (ascii(bytes, offset, 'fmt ')) {
      if (size < 16 || offset + 24 > bytes.length) return 'audio/wav-not-pcm16';
      const format = view.getUint16(offset + 8, true);
      const channels = view.getUint16(offset + 10, true);
      const bits = view.getUint16(offset + 22, true);
      if (format !== 1 || bits !== 16 || channels < 1 || channels > 2 || view.getUint32(offset + 12, true) === 0) return 'audio/wav-not-pcm16';
      pcm16 = true;
    } else if (ascii(bytes, offset, 'data')) {
      // The samples follow `fmt `, which must have come first (a reader streams them as they come).
      return pcm16 ? undefined : 'audio/wav-not-pcm16';
    }
    offset += 8 + size + (size % 2);
  }
  return 'audio/wav-not-pcm16';
}

/** Which of the two formats `bytes` are, from their first bytes, or why they are neither. */
export function sniffAudioFormat(bytes: Uint8Array): AudioFormatResult {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
  if (ascii(bytes, 0, 'OggS')) return isOggOpus(bytes) ? { ok: true, value: OGG_OPUS } : { ok: false, problem: 'audio/ogg-not-opus' };
  if (ascii(bytes, 0, 'RIFF') && ascii(bytes, 8, 'WAVE')) {
    const problem = wavProblem(bytes);
    return problem === undefined ? { ok: true, value: WAV_PCM16 } : { ok: false, problem };
  }
  return { ok: false, problem: 'audio/not-ogg-or-wav' };
}

/** Whether `audio` is in the format its (sender-chosen) `audioType` names, and that type is one of the two. */
export function checkAudio(audioType: string, audio: Uint8Array): AudioFormatResult {
  const sniffed = sniffAudioFormat(audio);
  if (!sniffed.ok) return sniffed;
  return sniffed.value === audioType ? sniffed : { ok: false, problem: 'audio/type-mismatch' };
}

/**
 * The playing time of an Ogg Opus stream: the last page's granule position less the pre-skip, at
 * 48 kHz (RFC 7845 §4), or undefined when no page carries one.
 */
export function oggOpusDurationMs(bytes: Uint8Array): number | undefined {
  if (!isOggOpus(bytes)) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const preSkip = view.getUint16(27 + bytes[26]! + 10, true);
  for (let at = bytes.length - 27; at >= 0; at--) {
    if (!ascii(bytes, at, 'OggS')) continue;
    const granule = view.getBigInt64(at + 6, true);
    // -1: no packet ends on this page.
    if (granule >= 0n) return Math.max(0, Math.round((Number(granule) - preSkip) / 48));
  }
  return undefined;
}

/** A 16-bit PCM WAV file around little-endian samples `pcm` (an odd trailing byte is dropped). */
export function wavOfPcm16(pcm: Uint8Array, options: { sampleRate: number; channels?: 1 | 2 }): Uint8Array {
  const channels = options.channels ?? 1;
  const data = pcm.subarray(0, pcm.length - (pcm.length % (2 * channels)));
  const out = new Uint8Array(44 + data.length);
  const view = new DataView(out.buffer);
  const tag = (offset: number, text: string): void => {
    for (let i = 0; i < 4; i++) out[offset + i] = text.charCodeAt(i);
  };
  tag(0, 'RIFF');
  view.setUint32(4, 36 + data.length, true);
  tag(8, 'WAVE');
  tag(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, channels, true);
  view.setUint32(24, options.sampleRate, true);
  view.setUint32(28, options.sampleRate * 2 * channels, true);
  view.setUint16(32, 2 * channels, true);
  view.setUint16(34, 16, true);
  tag(36, 'data');
  view.setUint32(40, data.length, true);
  out.set(data, 44);
  return out;
}
