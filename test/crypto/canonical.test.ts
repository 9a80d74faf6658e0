import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../../src/crypto/bytes.js';
import { CanonicalReader, CanonicalWriter } from '../../src/crypto/canonical.js';

function sample(): CanonicalWriter {
  return new CanonicalWriter().u8(7).u16(0x0102).u32(0xdeadbeef).u64(2 ** 40 + 5).fixed(Uint8Array.of(9, 9)).bytes(utf8('abc')).string('é').strings(['x', 'yz']);
}

describe('canonical encoding', () => {
  it('writes big-endian fixed-width integers and length-prefixed fields', () => {
    expect(toHex(sample().finish())).toBe(
      '07' + '0102' + 'deadbeef' + '0000010000000005' + '0909' + '00000003616263' + '00000002c3a9' + '00000002' + '0000000178' + '00000002797a',
    );
  });

  it('writes the same bytes into a caller’s buffer at an offset as finish returns, and nothing else', () => {
    const writer = sample();
    const expected = writer.finish();
    expect(writer.length).toBe(expected.length);
    const out = new Uint8Array(expected.length + 10).fill(0xaa);
    expect(writer.writeTo(out, 4)).toBe(4 + expected.length);
    expect(toHex(out.subarray(4, 4 + expected.length))).toBe(toHex(expected));
    expect([...out.subarray(0, 4), ...out.subarray(4 + expected.length)].every((b) => b === 0xaa)).toBe(true);
  });

  it('refuses to write past the end of the buffer', () => {
    const writer = sample();
    expect(() => writer.writeTo(new Uint8Array(writer.length - 1), 0)).toThrow(RangeError);
    expect(() => writer.writeTo(new Uint8Array(writer.length), 1)).toThrow(RangeError);
    expect(() => writer.writeTo(new Uint8Array(writer.length), -1)).toThrow(RangeError);
  });

  it('reads back what it wrote', () => {
    const r = new CanonicalReader(sample().finish());
    expect([r.u8(), r.u16(), r.u32(), r.u64()]).toEqual([7, 0x0102, 0xdeadbeef, 2 ** 40 + 5]);
    expect(toHex(r.fixed(2))).toBe('0909');
    expect(toHex(r.bytes(10))).toBe('616263');
    expect(r.string(10)).toBe('é');
    expect(r.strings(5, 10)).toEqual(['x', 'yz']);
    r.end();
  });
});
