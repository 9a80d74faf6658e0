import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AccountError, SoleGuardianError } from '../../src/client/account.js';
import { ApiError, NetworkError } from '../../src/client/api.js';
import { describeFailure } from '../../src/client/describe-failure.js';
import { InvalidRecoveryCodeError, parseRecoveryCode } from '../../src/client/recovery-code.js';
import { CRYPTO_CODES } from '../../src/crypto/result.js';
import { ClientError, clientErrorCatalogue, DEVICE_REFUSAL_CODES, EXIT, isClientErrorCode, refusalInWords, serverErrorWords } from '../../src/protocol/client-errors.js';
import { errorCatalogue, problemType, type ErrorCode } from '../../src/protocol/errors.js';

const root = new URL('../../src/', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(name) ? [path] : [];
  });
}

const sources = sourceFiles(root).map((path) => ({ path, text: readFileSync(path, 'utf8') }));

/** A code as a person must never see it: `prefix/words`. */
const RAW_CODE = /\b(?:client|cli|toy|log|burrow|envelope|roster|scope-key|receipt|pairing|vault|aead|profile|identity|invite)\/[a-z-]+/;

function apiError(code: ErrorCode, extra: Record<string, unknown> = {}): ApiError {
  const entry = errorCatalogue[code];
  return new ApiError({ type: problemType(code), title: entry.title, status: entry.status, detail: `detail of ${code}`, ...extra });
}

describe('the client-side error catalogue', () => {
  it('gives every code plain words without a code in them and one of the shared exit codes', () => {
    const exitCodes = new Set<number>([EXIT.failed, EXIT.usage, EXIT.pairAgain]);
    for (const [code, entry] of Object.entries(clientErrorCatalogue)) {
      const e: { exitCode: number; words: string; toyWords?: string } = entry;
      expect(code, code).toMatch(/^(client|cli|toy|log)\/[a-z-]+$/);
      expect(exitCodes.has(e.exitCode), `${code} exits ${e.exitCode}`).toBe(true);
      for (const words of [e.words, e.toyWords ?? e.words]) {
        expect(words.length, code).toBeGreaterThan(5);
        expect(words, code).not.toMatch(RAW_CODE);
        expect(words, code).toMatch(/[.!?)]$/);
      }
    }
  });

  it('holds every code a ClientError (or a subclass) is thrown with anywhere in src/', () => {
    const thrown = new Map<string, string>();
    const construction = /(?:new (?:ClientError|AccountError)\(|super\()\s*'([a-z-]+\/[a-z-]+)'/g;
    for (const { path, text } of sources) for (const match of text.matchAll(construction)) thrown.set(match[1]!, path);
    // The scan must see the codes the library, the CLI, the toy and the web app throw.
    expect(thrown.size).toBeGreaterThan(30);
    for (const code of ['client/roster-untrusted', 'client/weak-password', 'cli/bad-input', 'toy/state', 'client/audio-type-refused', 'client/bad-input']) expect(thrown.has(code), code).toBe(true);
    for (const [code, path] of thrown) expect(isClientErrorCode(code), `${code} (thrown in ${path}) is not in the catalogue`).toBe(true);
  });

  it('has words for every code of the server catalogue, without a code in them', () => {
    for (const code of Object.keys(errorCatalogue) as ErrorCode[]) {
      expect(serverErrorWords[code], code).toBeTypeOf('string');
      expect(serverErrorWords[code], code).not.toMatch(RAW_CODE);
    }
  });

  it('never matches on the text or suffix of a problem type in src/', () => {
    for (const { path, text } of sources) expect(text, path).not.toMatch(/\.type\.(endsWith|includes|startsWith)\(|type\.endsWith\(':/);
  });

  it('puts every crypto and device refusal code into words that never show the code', () => {
    for (const code of [...CRYPTO_CODES, ...DEVICE_REFUSAL_CODES, 'something/unknown']) {
      const words = refusalInWords(code, 'Mia’s toy');
      expect(words.startsWith('Mia’s toy '), code).toBe(true);
      expect(words, code).not.toContain(code);
      expect(words, code).not.toMatch(RAW_CODE);
    }
  });

  it('lists every code a crypto verification fails with, and only those', () => {
    const used = new Set<string>();
    for (const { path, text } of sources.filter((s) => s.path.includes('/src/crypto/'))) {
      if (path.endsWith('result.ts')) continue;
      for (const match of text.matchAll(/'((?:aead|envelope|identity|invite|invite-description|invite-joiner-name|pairing|profile|receipt|roster|scope-key|vault)\/[a-z-]+)'/g)) used.add(match[1]!);
    }
    expect([...used].sort()).toEqual([...CRYPTO_CODES].sort());
  });
});

describe('describeFailure', () => {
  it('describes a server problem by its catalogue code, with its words and the exit code 1', () => {
    const failure = describeFailure(apiError('burrow/login-failed'));
    expect(failure).toMatchObject({ code: 'burrow/login-failed', exitCode: 1, words: 'The email or password is wrong.', detail: 'detail of burrow/login-failed' });
    expect(failure.problem).toMatchObject({ type: 'urn:burrow:problem:login-failed', code: 'burrow/login-failed', status: 401 });
  });

  it('says how long to wait on a rate limit, in the words and in a further line', () => {
    const failure = describeFailure(apiError('burrow/rate-limited', { retryAfter: 30 }));
    expect(failure.words).toBe('Too many attempts. Wait 30 seconds and try again.');
    expect(failure.more).toEqual(['Try again in 30 seconds.']);
    expect(failure.problem).toMatchObject({ retryAfter: 30 });
  });

  it('names the families that keep an account from being deleted', () => {
    const error = new SoleGuardianError({ type: problemType('burrow/sole-guardian'), title: 't', status: 409, detail: 'd', familyIds: ['FFFFFFFFFFFFFFFFFFFFFF'] });
    const failure = describeFailure(error);
    expect(failure.code).toBe('burrow/sole-guardian');
    expect(failure.detail).toMatch(/your account was not deleted/);
    expect(failure.more).toContain('  - family FFFFFFFFFFFFFFFFFFFFFF');
    expect(failure.problem).toMatchObject({ familyIds: ['FFFFFFFFFFFFFFFFFFFFFF'] });
  });

  it('describes a problem that is not Burrow’s without inventing a code for the server', () => {
    const failure = describeFailure(new ApiError({ type: 'about:blank', title: 'Bad Gateway', status: 502, detail: '' }));
    expect(failure).toMatchObject({ code: 'client/server-refused', exitCode: 1, words: 'The server refused this (502). Try again.', detail: 'Bad Gateway' });
    expect(failure.problem).toMatchObject({ code: null, status: 502 });
  });

  it('takes a client failure’s exit code and words from the catalogue', () => {
    expect(describeFailure(new ClientError('client/not-a-guardian', 'only a guardian can add a toy'))).toMatchObject({
      code: 'client/not-a-guardian',
      exitCode: 1,
      words: 'Only a guardian can do this.',
      detail: 'only a guardian can add a toy',
      problem: { type: 'urn:burrow:problem:client/not-a-guardian', code: 'client/not-a-guardian', detail: 'only a guardian can add a toy' },
    });
    expect(describeFailure(new ClientError('cli/bad-input', '--role must be relative or guardian')).exitCode).toBe(2);
    expect(describeFailure(new ClientError('client/toy-removed', 'removed')).exitCode).toBe(3);
    expect(describeFailure(new ClientError('toy/token-dead', 'dead')).exitCode).toBe(3);
  });

  it('gives a weak password’s reasons, as words and as further lines, and exit code 2', () => {
    const failure = describeFailure(new AccountError('client/weak-password', 'The password is too weak.', ['Add another word or two.']));
    expect(failure).toMatchObject({ exitCode: 2, words: 'Choose a stronger password: Add another word or two.', more: ['  - Add another word or two.'], problem: { feedback: ['Add another word or two.'] } });
  });

  it('uses the toy’s own words on a toy, and the member’s words elsewhere', () => {
    const error = new ClientError('client/pairing-ended', 'ended');
    expect(describeFailure(error, { audience: 'toy' }).words).toBe('This code can no longer be used. Show a new code.');
    expect(describeFailure(error).words).toBe('This pairing code can no longer be used. Have the toy show a new code and enter that.');
    expect(describeFailure(new ClientError('client/not-a-member', 'x'), { audience: 'toy' }).words).toBe(clientErrorCatalogue['client/not-a-member'].words);
  });

  it('describes an unreachable server, bad input and anything else with codes of their own', () => {
    expect(describeFailure(new NetworkError('cannot reach the server at http://127.0.0.1:1'))).toMatchObject({ code: 'client/network', exitCode: 1, detail: 'cannot reach the server at http://127.0.0.1:1' });
    expect(describeFailure(new TypeError('Failed to fetch'))).toMatchObject({ code: 'client/network', words: 'Cannot reach Burrow. Check your connection and try again.' });
    expect(describeFailure(new TypeError('name must be 1 to 64 characters'))).toMatchObject({ code: 'client/bad-input', exitCode: 2, words: 'Name must be 1 to 64 characters.' });
    let invalid: unknown;
    try {
      parseRecoveryCode('0123-4567');
    } catch (error) {
      invalid = error;
    }
    expect(invalid).toBeInstanceOf(InvalidRecoveryCodeError);
    expect(describeFailure(invalid)).toMatchObject({ code: 'client/bad-input', exitCode: 2 });
    expect(describeFailure(new DOMException('denied', 'NotAllowedError')).code).toBe('client/not-allowed');
    expect(describeFailure('a thrown string')).toMatchObject({ code: 'client/failed', exitCode: 1, words: 'Something went wrong. Try again.', detail: 'a thrown string' });
  });

  it('never puts a code into the words it returns', () => {
    // Even when the error's own message is a code (the web app throws `client/message-refused` with
    // the crypto code as its message). Bad input is the exception: its words are the input check's message.
    for (const code of Object.keys(clientErrorCatalogue) as Array<keyof typeof clientErrorCatalogue>) {
      if (code !== 'client/bad-input') expect(describeFailure(new ClientError(code, 'envelope/no-key')).words, code).not.toMatch(RAW_CODE);
    }
    for (const code of Object.keys(errorCatalogue) as ErrorCode[]) expect(describeFailure(apiError(code)).words, code).not.toMatch(RAW_CODE);
  });
});
