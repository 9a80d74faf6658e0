/**
 * A deterministic, length-prefixed binary encoding for everything Burrow signs, hashes or parses
 * without keys (roster entries, envelope headers, approvals, key-wrap contexts).
 *
 * Integers are big-endian and fixed-width; every variable-length field (bytes, strings, lists)
 * carries its length first, so two different values never encode to the same bytes. Strings are
 * UTF-8. Signatures are always over `label ‖ 0x00 ‖ bytes` (see `labelled`), so a signature made
 * for one purpose can never be replayed as another.
 */
import { concatBytes, fromUtf8, utf8 } from './bytes.js';

/** Thrown by `CanonicalReader` on truncated or impossible input; callers turn it into a result code. */
export class CanonicalError extends Error {
  override readonly name = 'CanonicalError';

  /** True when the input simply ended early (more bytes might complete it). */
  constructor(message: string, readonly truncated = false) {
    super(message);
  }
}

/** Builds a canonical encoding field by field. */
export class CanonicalWriter {
  private readonly parts: Uint8Array[] = [];

  u8(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new TypeError(`u8 out of range: ${value}`);
    this.parts.push(Uint8Array.of(value));
    return this;
  }

  u16(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff) throw new TypeError(`u16 out of range: ${value}`);
    this.parts.push(Uint8Array.of(value >>> 8, value & 0xff));
    return this;
  }

  u32(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) throw new TypeError(`u32 out of range: ${value}`);
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, value);
    this.parts.push(out);
    return this;
  }

  /** A non-negative safe integer (< 2^53) as 8 bytes. */
  u64(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new TypeError(`u64 out of range: ${value}`);
    const out = new Uint8Array(8);
    const view = new DataView(out.buffer);
    view.setUint32(0, Math.floor(value / 2 ** 32));
    view.setUint32(4, value >>> 0);
    this.parts.push(out);
    return this;
  }

  /** Bytes whose length the format fixes (keys, hashes, ids): no prefix. Copied by `finish` / `writeTo`, not before. */
  fixed(bytes: Uint8Array): this {
    this.parts.push(bytes);
    return this;
  }

  /** Variable-length bytes: u32 length ‖ bytes. Copied by `finish` / `writeTo`, not before. */
  bytes(bytes: Uint8Array): this {
    this.u32(bytes.length);
    this.parts.push(bytes);
    return this;
  }

  /** A UTF-8 string: u32 length ‖ bytes. */
  string(text: string): this {
    return this.bytes(utf8(text));
  }

  /** A list of strings: u32 count ‖ each string. */
  strings(list: readonly string[]): this {
    this.u32(list.length);
    for (const item of list) this.string(item);
    return this;
  }

  /** Bytes the encoding takes so far. */
  get length(): number {
    let length = 0;
    for (const part of this.parts) length += part.length;
    return length;
  }

  /**
   * Writes the encoding into `out` at `offset` and returns the offset after it: each field is copied
   * once, straight into a buffer the caller sized with `length` (no intermediate concatenation).
   */
  writeTo(out: Uint8Array, offset: number): number {
    if (!Number.isInteger(offset) || offset < 0 || offset + this.length > out.length) throw new RangeError('out has no room for the encoding at offset');
    let at = offset;
    for (const part of this.parts) {
      out.set(part, at);
      at += part.length;
    }
    return at;
  }

  /** The encoding as a new array. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    this.writeTo(out, 0);
    return out;
  }
}

/** Reads a canonical encoding; every read throws `CanonicalError` past the end or over a limit. */
export class CanonicalReader {
  private offset = 0;

  constructor(private readonly input: Uint8Array) {}

  private take(length: number): Uint8Array {
    if (length > this.input.length - this.offset) throw new CanonicalError('truncated input', true);
    const out = this.input.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  get position(): number {
    return this.offset;
  }

  u8(): number {
    return this.take(1)[0]!;
  }

  u16(): number {
    const b = this.take(2);
    return (b[0]! << 8) | b[1]!;
  }

  u32(): number {
    const b = this.take(4);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
  }

  u64(): number {
    const b = this.take(8);
    const view = new DataView(b.buffer, b.byteOffset, 8);
    const high = view.getUint32(0);
    if (high >= 2 ** 21) throw new CanonicalError('integer too large');
    return high * 2 ** 32 + view.getUint32(4);
  }

  fixed(length: number): Uint8Array {
    return this.take(length).slice();
  }

  bytes(maxLength: number): Uint8Array {
    return this.bytesView(maxLength).slice();
  }

  /** Like `bytes`, but a view into the input (no copy): for large fields of a buffer the caller owns. */
  bytesView(maxLength: number): Uint8Array {
    const length = this.u32();
    if (length > maxLength) throw new CanonicalError('field too long');
    return this.take(length);
  }

  string(maxBytes: number): string {
    const raw = this.bytes(maxBytes);
    try {
      return fromUtf8(raw);
    } catch {
      throw new CanonicalError('invalid UTF-8');
    }
  }

  strings(maxCount: number, maxBytes: number): string[] {
    const count = this.u32();
    if (count > maxCount) throw new CanonicalError('list too long');
    const out: string[] = [];
    for (let i = 0; i < count; i++) out.push(this.string(maxBytes));
    return out;
  }

  /** Throws unless every byte was read: trailing bytes would make two encodings of one value. */
  end(): void {
    if (this.offset !== this.input.length) throw new CanonicalError('trailing bytes');
  }
}

/** `label ‖ 0x00 ‖ bytes`: the domain-separated input of every signature and hash. */
export function labelled(label: string, bytes: Uint8Array): Uint8Array {
  return concatBytes(utf8(label), Uint8Array.of(0), bytes);
}
