import { describe, expect, it } from 'vitest';
import { isStoreUnavailable, isUniqueViolation } from '../../../src/storage/errors.js';

function withCode(code: string, message = 'x'): Error {
  return Object.assign(new Error(message), { code });
}

describe('recognising database errors', () => {
  it('a database that is down, restarting or full of connections is "unavailable"', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', '57P01', '57P03', '08006', '53300', 'SQLITE_BUSY']) {
      expect(isStoreUnavailable(withCode(code)), code).toBe(true);
    }
    expect(isStoreUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isStoreUnavailable(new Error('timeout exceeded when trying to connect'))).toBe(true);
  });

  it('bugs and constraint violations are not "unavailable"', () => {
    for (const error of [withCode('23505'), withCode('42P01'), withCode('SQLITE_CONSTRAINT_UNIQUE'), new TypeError('x is undefined'), null, undefined, 'ECONNREFUSED']) {
      expect(isStoreUnavailable(error)).toBe(false);
    }
    expect(isUniqueViolation(withCode('23505'))).toBe(true);
    expect(isUniqueViolation(withCode('ECONNREFUSED'))).toBe(false);
  });
});
