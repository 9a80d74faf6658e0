/**
 * Remuxing a browser's WebM/Opus recording into Ogg/Opus without decoding it: the Opus packets
 * are copied as they are, only the container changes. Browsers without an Ogg MediaRecorder
 * (Chromium records WebM, a Matroska container small devices rarely parse) record WebM and the app
 * sends Ogg, one of the two formats every toy plays (src/protocol/audio-formats.ts).
 *
 * A small EBML reader: just what MediaRecorder writes (Matroska spec, RFC 9559): one audio track
 * with CodecID `A_OPUS` whose CodecPrivate is the `OpusHead`, clusters of SimpleBlocks (or
 * BlockGroups) without lacing; elements of unknown size (live recordings) are read as open-ended.
 * Anything else is refused with a WebmRemuxError, never guessed at.
 */
import { ClientError } from '../client-error.js';
import { writeOggOpus } from './ogg-pages.js';

/** A recording that is not the single-track WebM/Opus this remuxer reads. */
export class WebmRemuxError extends ClientError {
  constructor(detail: string) {
    super('client/audio-format', `the recording could not be turned into Ogg/Opus: ${detail}`);
    this.name = 'WebmRemuxError';
  }
}

// Element ids (RFC 9559 §5.1), with their length-marker bits, as the reader returns them.
const EBML = 0x1a45dfa3;
const SEGMENT = 0x18538067;
const TRACKS = 0x1654ae6b;
const TRACK_ENTRY = 0xae;
const TRACK_NUMBER = 0xd7;
const TRACK_TYPE = 0x83;
const CODEC_ID = 0x86;
const CODEC_PRIVATE = 0x63a2;
const CODEC_DELAY = 0x56aa;
const CLUSTER = 0x1f43b675;
const SIMPLE_BLOCK = 0xa3;
const BLOCK_GROUP = 0xa0;
const BLOCK = 0xa1;

/** Masters read by stepping inside (their children follow at once, so an unknown size does no harm). */
const ENTERED = new Set([SEGMENT, TRACKS, TRACK_ENTRY, CLUSTER, BLOCK_GROUP]);

interface Track {
  number?: number;
  type?: number;
  codec?: string;
  opusHead?: Uint8Array;
  /** CodecDelay in nanoseconds (RFC 9559 §5.1.4.1.20), the container's word for Opus pre-skip. */
  codecDelayNs?: number;
}

/** An EBML variable-size integer at `offset` (RFC 8794 §4): its value (marker kept when `id`), length, and whether all value bits are 1 (unknown size). */
function readVint(bytes: Uint8Array, offset: number, id: boolean): { value: number; length: number; unknown: boolean } {
  const first = bytes[offset];
  if (first === undefined || first === 0) throw new WebmRemuxError('a damaged element header');
  const length = Math.clz32(first) - 23;
  if (length > 8 || offset + length > bytes.length) throw new WebmRemuxError('a damaged element header');
  let value = id ? first : first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    const byte = bytes[offset + i]!;
    value = value * 256 + byte;
    allOnes &&= byte === 0xff;
  }
  if (!id && !allOnes && value > Number.MAX_SAFE_INTEGER) throw new WebmRemuxError('an element too large');
  return { value, length, unknown: !id && allOnes };
}

/** The Opus packet of a (Simple)Block's payload on `trackNumber`, or undefined for another track. */
function blockPacket(payload: Uint8Array, trackNumber: number): Uint8Array | undefined {
  const track = readVint(payload, 0, false);
  // Then a 16-bit relative timecode and a flags byte (RFC 9559 §10.1); bits 1–2 of the flags are lacing.
  const header = track.length + 3;
  if (payload.length < header) throw new WebmRemuxError('a damaged block');
  if (track.value !== trackNumber) return undefined;
  if ((payload[track.length + 2]! & 0x06) !== 0) throw new WebmRemuxError('laced blocks (MediaRecorder never writes them)');
  return payload.subarray(header);
}

/**
 * The Ogg/Opus file carrying exactly the Opus packets of a WebM/Opus recording, in order. Throws
 * WebmRemuxError when `webm` is not a single-track WebM/Opus recording.
 */
export function remuxWebmOpusToOgg(webm: Uint8Array): Uint8Array {
  if (!(webm instanceof Uint8Array)) throw new TypeError('webm must be a Uint8Array');
  const tracks: Track[] = [];
  const blocks: Uint8Array[] = [];
  let offset = 0;
  let first = true;
  while (offset < webm.length) {
    const id = readVint(webm, offset, true);
    const size = readVint(webm, offset + id.length, false);
    const start = offset + id.length + size.length;
    if (first && id.value !== EBML) throw new WebmRemuxError('not a WebM file');
    first = false;
    if (ENTERED.has(id.value)) {
      if (id.value === TRACK_ENTRY) tracks.push({});
      offset = start;
      continue;
    }
    if (size.unknown) throw new WebmRemuxError('an element of unknown size');
    const end = start + size.value;
    // A recording stopped mid-write may end inside its last block: what is complete is kept.
    if (end > webm.length) break;
    const data = webm.subarray(start, end);
    const track = tracks.at(-1);
    if (id.value === TRACK_NUMBER && track !== undefined) track.number = readUint(data);
    else if (id.value === TRACK_TYPE && track !== undefined) track.type = readUint(data);
    else if (id.value === CODEC_ID && track !== undefined) track.codec = new TextDecoder().decode(data);
    else if (id.value === CODEC_PRIVATE && track !== undefined) track.opusHead = data;
    else if (id.value === CODEC_DELAY && track !== undefined) track.codecDelayNs = readUint(data);
    else if (id.value === SIMPLE_BLOCK || id.value === BLOCK) blocks.push(data);
    offset = end;
  }
  if (tracks.length !== 1) throw new WebmRemuxError(`${tracks.length} tracks instead of one`);
  const track = tracks[0]!;
  if (track.codec !== 'A_OPUS' || (track.type !== undefined && track.type !== 2) || track.number === undefined) throw new WebmRemuxError('the track is not Opus audio');
  const head = track.opusHead;
  // RFC 7845 §5.1: the CodecPrivate of A_OPUS is the OpusHead packet.
  if (head === undefined || head.length < 19 || new TextDecoder().decode(head.subarray(0, 8)) !== 'OpusHead') throw new WebmRemuxError('the track has no OpusHead');
  const packets: Uint8Array[] = [];
  for (const block of blocks) {
    const packet = blockPacket(block, track.number);
    if (packet !== undefined && packet.length > 0) packets.push(packet);
  }
  try {
    return writeOggOpus({ opusHead: withPreSkip(head, track.codecDelayNs), packets, serial: 0x4275_7272 });
  } catch (error) {
    throw new WebmRemuxError(error instanceof Error ? error.message : 'an Opus packet is damaged');
  }
}

/** libopus's look-ahead at 48 kHz (2.5 ms + 4 ms): the delay its encoder puts before the audio. */
const LIBOPUS_LOOKAHEAD = 312;

/**
 * The OpusHead with a pre-skip (RFC 7845 §4.2) that trims the encoder's delay. Chromium writes
 * pre-skip 0 and no CodecDelay, although its libopus encoder delays the audio by its look-ahead;
 * a player would then play that delay as a click of silence, and opusinfo calls such a pre-skip
 * implausible. So: the head's own pre-skip when set, else CodecDelay, else libopus's look-ahead.
 */
function withPreSkip(head: Uint8Array, codecDelayNs: number | undefined): Uint8Array {
  const out = head.slice();
  const view = new DataView(out.buffer);
  if (view.getUint16(10, true) !== 0) return out;
  const fromDelay = codecDelayNs === undefined ? 0 : Math.round((codecDelayNs * 48_000) / 1e9);
  view.setUint16(10, Math.min(0xffff, fromDelay > 0 ? fromDelay : LIBOPUS_LOOKAHEAD), true);
  return out;
}

function readUint(data: Uint8Array): number {
  if (data.length > 6) throw new WebmRemuxError('an integer too large');
  let value = 0;
  for (const byte of data) value = value * 256 + byte;
  return value;
}
