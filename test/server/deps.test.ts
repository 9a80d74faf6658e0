import { describe, expect, it } from 'vitest';
import { newId, systemRandom } from '../../src/server/deps.js';

describe('the system random source', () => {
  it('never hands out the same bytes twice, across many refills of its pool', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2_000; i++) seen.add(Buffer.from(systemRandom.bytes(16)).toString('hex'));
    expect(seen.size).toBe(2_000);
  });

  it('gives every length asked for, small ones from the pool and large ones directly', () => {
    for (const length of [0, 1, 12, 32, 255, 256, 257, 4096, 70_000]) expect(systemRandom.bytes(length)).toHaveLength(length);
  });

  it('hands out bytes that are not all zero (the pool is filled before it is cut)', () => {
    const drawn = Array.from({ length: 300 }, () => systemRandom.bytes(32));
    expect(drawn.every((bytes) => bytes.some((b) => b !== 0))).toBe(true);
  });

  it('refuses a length that is not a non-negative integer, naming it', () => {
    expect(() => systemRandom.bytes(-1)).toThrow(/length/);
    expect(() => systemRandom.bytes(1.5)).toThrow(/length/);
  });

  it('makes ids of 22 base64url characters', () => {
    expect(newId(systemRandom)).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });
});
