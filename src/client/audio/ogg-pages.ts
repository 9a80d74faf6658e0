/**
 * Writing an Ogg Opus stream (RFC 3533 pages, RFC 7845 mapping) from Opus packets: the one
 * container a Burrow message's Opus audio travels in. Pure, no I/O.
 */

/** CRC-32 of Ogg pages (RFC 3533 §6): polynomial 0x04C11DB7, initial 0, not reflected, no final xor. */
const CRC_TABLE = ((): Uint32Array => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let bit = 0; bit < 8; bit++) r = r & 0x8000_0000 ? (r << 1) ^ 0x04c1_1db7 : r << 1;
    table[i] = r >>> 0;
  }
  return table;
})();

/** The Ogg page checksum of `bytes` (with the page's own CRC field zeroed). */
export function oggCrc32(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ byte) & 0xff]!) >>> 0;
  return crc;
}

/** Samples at 48 kHz in one Opus packet, from its TOC byte (RFC 6716 §3.1), or undefined when malformed. */
export function opusPacketSamples(packet: Uint8Array): number | undefined {
  if (packet.length === 0) return undefined;
  const toc = packet[0]!;
  const config = toc >> 3;
  // SILK-only 10/20/40/60 ms, hybrid 10/20 ms, CELT-only 2.5/5/10/20 ms.
  const frame = config < 12 ? [480, 960, 1920, 2880][config % 4]! : config < 16 ? [480, 960][config % 2]! : [120, 240, 480, 960][config % 4]!;
  const code = toc & 0x03;
  let frames: number;
  if (code === 0) frames = 1;
  else if (code === 1 || code === 2) frames = 2;
  else {
    if (packet.length < 2) return undefined;
    frames = packet[1]! & 0x3f;
    if (frames === 0) return undefined;
  }
  const samples = frames * frame;
  // RFC 6716 §3.2.5: a packet lasts at most 120 ms.
  return samples > 5760 ? undefined : samples;
}

const FLAG_BOS = 0x02;
const FLAG_EOS = 0x04;
/** Largest packet that fits one page's lacing table (255 segments, the last below 255). */
const MAX_PACKET = 255 * 254 + 254;

/** One Ogg page holding whole `packets` (RFC 3533 §6: header, lacing values, then the packets). */
function oggPage(options: { serial: number; sequence: number; granule: bigint; flags: number; packets: readonly Uint8Array[] }): Uint8Array {
  const lacing: number[] = [];
  for (const packet of options.packets) {
    for (let left = packet.length; ; left -= 255) {
      lacing.push(Math.min(left, 255));
      if (left < 255) break;
    }
  }
  if (lacing.length > 255) throw new RangeError('too many segments for one Ogg page');
  const body = options.packets.reduce((sum, p) => sum + p.length, 0);
  const page = new Uint8Array(27 + lacing.length + body);
  const view = new DataView(page.buffer);
  page.set([0x4f, 0x67, 0x67, 0x53], 0);
  page[4] = 0;
  page[5] = options.flags;
  view.setBigUint64(6, options.granule, true);
  view.setUint32(14, options.serial, true);
  view.setUint32(18, options.sequence, true);
  page[26] = lacing.length;
  page.set(lacing, 27);
  let offset = 27 + lacing.length;
  for (const packet of options.packets) {
    page.set(packet, offset);
    offset += packet.length;
  }
  view.setUint32(22, oggCrc32(page), true);
  return page;
}

/** The comment header (RFC 7845 §5.2): a vendor string and no comments (nothing about the sender). */
function opusTags(): Uint8Array {
  const vendor = new TextEncoder().encode('Burrow');
  const tags = new Uint8Array(8 + 4 + vendor.length + 4);
  tags.set(new TextEncoder().encode('OpusTags'), 0);
  new DataView(tags.buffer).setUint32(8, vendor.length, true);
  tags.set(vendor, 12);
  return tags;
}

/** Audio pages hold packets up to this many bytes before a new page starts (about a second of voice). */
const PAGE_TARGET_BYTES = 4096;

/**
 * An Ogg Opus file: the ID header `opusHead` alone on the first page, the comment header on the
 * second, then the packets on pages whose granule position is the 48 kHz sample count (pre-skip
 * included, RFC 7845 §4) at the end of the last packet completed on the page; the last page is
 * marked end-of-stream. Throws RangeError on a packet whose TOC is malformed or that is too large.
 */
export function writeOggOpus(options: { opusHead: Uint8Array; packets: readonly Uint8Array[]; serial: number }): Uint8Array {
  const { opusHead, packets, serial } = options;
  const pages: Uint8Array[] = [oggPage({ serial, sequence: 0, granule: 0n, flags: FLAG_BOS, packets: [opusHead] })];
  pages.push(oggPage({ serial, sequence: 1, granule: 0n, flags: 0, packets: [opusTags()] }));
  const preSkip = new DataView(opusHead.buffer, opusHead.byteOffset, opusHead.byteLength).getUint16(10, true);
  let granule = BigInt(preSkip);
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let pendingSegments = 0;
  const flush = (last: boolean): void => {
    pages.push(oggPage({ serial, sequence: pages.length, granule, flags: last ? FLAG_EOS : 0, packets: pending }));
    pending = [];
    pendingBytes = 0;
    pendingSegments = 0;
  };
  for (const packet of packets) {
    const samples = opusPacketSamples(packet);
    if (samples === undefined) throw new RangeError('an Opus packet has a malformed TOC byte');
    if (packet.length > MAX_PACKET) throw new RangeError('an Opus packet is too large for one Ogg page');
    const segments = Math.floor(packet.length / 255) + 1;
    if (pending.length > 0 && (pendingSegments + segments > 255 || pendingBytes >= PAGE_TARGET_BYTES)) flush(false);
    pending.push(packet);
    pendingBytes += packet.length;
    pendingSegments += segments;
    granule += BigInt(samples);
  }
  // RFC 7845 §4: the stream ends on a page marked end-of-stream (an empty one if there was no audio).
  flush(true);
  const total = pages.reduce((sum, p) => sum + p.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const page of pages) {
    out.set(page, offset);
    offset += page.length;
  }
  return out;
}
