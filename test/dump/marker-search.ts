/**
 * The dump test's search: every byte of every file in a directory, for every marker in every
 * encoding an attacker would try (DESIGN §2): UTF-8, UTF-16LE/BE, hex (both cases), standard and
 * URL-safe base64 at all three byte alignments, each of the marker as given, lower- and upper-case.
 * Reusable by later dump tests (names, captions, audio bytes: pass them as `bytesMarkers`).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** Needles shorter than this would match by chance in a few megabytes of ciphertext. */
export const MIN_NEEDLE_BYTES = 8;

/** One encoded form of a marker. */
export interface Needle {
  marker: string;
  encoding: string;
  bytes: Buffer;
}

/** Where a marker was found. */
export interface MarkerHit {
  marker: string;
  encoding: string;
  file: string;
  offset: number;
}

function utf16be(text: string): Buffer {
  const le = Buffer.from(text, 'utf16le');
  const be = Buffer.alloc(le.length);
  for (let i = 0; i + 1 < le.length; i += 2) {
    be[i] = le[i + 1]!;
    be[i + 1] = le[i]!;
  }
  return be;
}

/**
 * Base64 of `bytes` as it appears inside any longer base64 text: for each alignment k = 0, 1, 2
 * the encoding of bytes[k…] cut to whole 3-byte groups, so no character depends on a neighbour.
 */
function base64Forms(bytes: Buffer): Array<{ alignment: number; std: string; url: string }> {
  const forms = [];
  for (let k = 0; k < 3; k++) {
    const slice = bytes.subarray(k, k + Math.floor((bytes.length - k) / 3) * 3);
    if (slice.length < 3) continue;
    const std = slice.toString('base64');
    forms.push({ alignment: k, std, url: std.replace(/\+/g, '-').replace(/\//g, '_') });
  }
  return forms;
}

/** Every encoded form of raw bytes (no case variants): raw, hex, base64 at three alignments. */
export function byteNeedles(marker: string, raw: Buffer, prefix = ''): Needle[] {
  const needles: Needle[] = [{ marker, encoding: `${prefix}raw`, bytes: raw }];
  const hex = raw.toString('hex');
  needles.push({ marker, encoding: `${prefix}hex`, bytes: Buffer.from(hex, 'latin1') });
  needles.push({ marker, encoding: `${prefix}HEX`, bytes: Buffer.from(hex.toUpperCase(), 'latin1') });
  for (const form of base64Forms(raw)) {
    needles.push({ marker, encoding: `${prefix}base64@${form.alignment}`, bytes: Buffer.from(form.std, 'latin1') });
    if (form.url !== form.std) needles.push({ marker, encoding: `${prefix}base64url@${form.alignment}`, bytes: Buffer.from(form.url, 'latin1') });
  }
  return needles;
}

/** Every encoded form of a text marker, for the text as given, lower-cased and upper-cased. */
export function textNeedles(marker: string): Needle[] {
  const variants = new Map<string, string>([
    ['', marker],
    ['lower ', marker.toLowerCase()],
    ['upper ', marker.toUpperCase()],
  ]);
  const needles: Needle[] = [];
  for (const [prefix, text] of variants) {
    needles.push(...byteNeedles(marker, Buffer.from(text, 'utf8'), `${prefix}utf8 `).map((n) => ({ ...n, encoding: n.encoding.replace('utf8 raw', 'utf8') })));
    needles.push({ marker, encoding: `${prefix}utf16le`, bytes: Buffer.from(text, 'utf16le') });
    needles.push({ marker, encoding: `${prefix}utf16be`, bytes: utf16be(text) });
  }
  const seen = new Set<string>();
  return needles.filter((needle) => {
    const key = needle.bytes.toString('latin1');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const BASE = 0x01000193;

/** Rabin–Karp over a fixed window: finds every needle in one pass whatever their number. */
class NeedleIndex {
  readonly #window: number;
  readonly #byHash = new Map<number, Needle[]>();
  readonly #topPower: number;

  constructor(needles: Needle[]) {
    this.#window = MIN_NEEDLE_BYTES;
    let power = 1;
    for (let i = 1; i < this.#window; i++) power = Math.imul(power, BASE) >>> 0;
    this.#topPower = power;
    for (const needle of needles) {
      if (needle.bytes.length < this.#window) {
        throw new Error(`marker "${needle.marker}" is too short in ${needle.encoding}: use markers of at least ${MIN_NEEDLE_BYTES + 2} characters`);
      }
      const hash = this.#hash(needle.bytes, 0);
      const list = this.#byHash.get(hash);
      if (list) list.push(needle);
      else this.#byHash.set(hash, [needle]);
    }
  }

  #hash(bytes: Buffer, start: number): number {
    let h = 0;
    for (let i = 0; i < this.#window; i++) h = (Math.imul(h, BASE) + bytes[start + i]!) >>> 0;
    return h;
  }

  search(haystack: Buffer, file: string): MarkerHit[] {
    const hits: MarkerHit[] = [];
    const w = this.#window;
    if (haystack.length < w) return hits;
    let h = this.#hash(haystack, 0);
    for (let i = 0; ; i++) {
      const candidates = this.#byHash.get(h);
      if (candidates) {
        for (const needle of candidates) {
          if (i + needle.bytes.length <= haystack.length && haystack.compare(needle.bytes, 0, needle.bytes.length, i, i + needle.bytes.length) === 0) {
            hits.push({ marker: needle.marker, encoding: needle.encoding, file, offset: i });
          }
        }
      }
      if (i + w >= haystack.length) break;
      h = (Math.imul((h - Math.imul(haystack[i]!, this.#topPower)) >>> 0, BASE) + haystack[i + w]!) >>> 0;
    }
    return hits;
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await filesUnder(path)));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

/** What a search looked at and found. */
export interface SearchReport {
  hits: MarkerHit[];
  files: string[];
  bytesSearched: number;
  needles: number;
}

/** Searches every byte of every file under `dir` for every text marker (all encodings) and byte marker. */
export async function searchDirectory(
  dir: string,
  markers: { text?: string[]; bytes?: Array<{ marker: string; bytes: Uint8Array }> },
): Promise<SearchReport> {
  const needles = [
    ...(markers.text ?? []).flatMap(textNeedles),
    ...(markers.bytes ?? []).flatMap(({ marker, bytes }) => byteNeedles(marker, Buffer.from(bytes))),
  ];
  const index = new NeedleIndex(needles);
  const files = await filesUnder(dir);
  const hits: MarkerHit[] = [];
  let bytesSearched = 0;
  for (const file of files) {
    if ((await stat(file)).size === 0) continue;
    const data = await readFile(file);
    bytesSearched += data.length;
    hits.push(...index.search(data, relative(dir, file)));
  }
  return { hits, files: files.map((f) => relative(dir, f)), bytesSearched, needles: needles.length };
}
