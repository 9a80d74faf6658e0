import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64Url, randomBytes, toBase64Url } from '../../src/crypto/bytes.js';
import type { PublicIdentityKeys } from '../../src/crypto/identity.js';
import {
  generatePairingCode, normalizePairingCode, startGuardianPairing, startToyPairing, type GuardianPairing, type ToyPairing,
} from '../../src/crypto/pairing.js';
import type { CryptoResult } from '../../src/crypto/result.js';

function toyKeys(): PublicIdentityKeys {
  return { signingKey: randomBytes(32), agreementKey: randomBytes(32) };
}

function valueOf<T>(result: CryptoResult<T>): T {
  if (!result.ok) throw new Error(`expected success, got ${result.code}`);
  return result.value;
}

interface Run {
  toy: ToyPairing;
  guardian: GuardianPairing;
  keys: PublicIdentityKeys;
  anchor: Uint8Array;
  sessionId: Uint8Array;
}

function start(options: { toyCode?: string; guardianCode?: string } = {}): Run {
  const code = generatePairingCode();
  const sessionId = randomBytes(16);
  const keys = toyKeys();
  const anchor = randomBytes(32);
  return {
    toy: startToyPairing({ code: options.toyCode ?? code, toyKeys: keys, sessionId }),
    guardian: startGuardianPairing({ code: options.guardianCode ?? code, sessionId, headHash: anchor }),
    keys, anchor, sessionId,
  };
}

/** The relay: carries each message as base64url text, as the server will. */
const relay = (message: Uint8Array): Uint8Array => fromBase64Url(toBase64Url(message));

function flip(message: Uint8Array, index: number, mask: number): Uint8Array {
  const copy = message.slice();
  copy[index % copy.length] = copy[index % copy.length]! ^ mask;
  return copy;
}

describe('pairing codes', () => {
  it('are 8 decimal digits', () => {
    for (let i = 0; i < 200; i++) expect(generatePairingCode()).toMatch(/^[0-9]{8}$/);
  });

  it('spread over every digit in every position', () => {
    const seen = Array.from({ length: 8 }, () => new Set<string>());
    for (let i = 0; i < 400; i++) [...generatePairingCode()].forEach((d, p) => seen[p]!.add(d));
    for (const digits of seen) expect(digits.size).toBe(10);
  });

  it('typed codes are normalised and anything else refused', () => {
    expect(normalizePairingCode('1234 5678')).toBe('12345678');
    expect(normalizePairingCode('1234-5678')).toBe('12345678');
    for (const bad of ['1234567', '123456789', '1234567a', '', '１２３４５６７８']) expect(normalizePairingCode(bad)).toBeNull();
  });

  it('start functions refuse malformed codes, session ids, keys and anchors, naming the argument', () => {
    const sessionId = randomBytes(16);
    expect(() => startToyPairing({ code: '1234', toyKeys: toyKeys(), sessionId })).toThrow(/code/);
    expect(() => startToyPairing({ code: '12345678', toyKeys: toyKeys(), sessionId: randomBytes(8) })).toThrow(/sessionId/);
    expect(() => startToyPairing({ code: '12345678', toyKeys: { signingKey: randomBytes(31), agreementKey: randomBytes(32) }, sessionId })).toThrow(/toyKeys/);
    expect(() => startGuardianPairing({ code: '12345678', sessionId, headHash: new Uint8Array() })).toThrow(/headHash/);
    expect(() => startGuardianPairing({ code: '12345678', sessionId, headHash: randomBytes(33) })).toThrow(/headHash/);
  });
});

describe('pairing a toy', () => {
  it("a toy and a guardian with the same code authenticate the toy keys and the guardian's roster head hash to each other", async () => {
    const run = start();
    const toyConfirm = valueOf(await run.toy.receiveGuardianShare(relay(run.guardian.share))).message;
    const guardianConfirm = valueOf(await run.guardian.receiveToyShare(relay(run.toy.share))).message;
    expect(valueOf(await run.guardian.receiveToyConfirmation(relay(toyConfirm))).toyKeys).toEqual(run.keys);
    expect(valueOf(await run.toy.receiveGuardianConfirmation(relay(guardianConfirm))).headHash).toEqual(run.anchor);
  });

  it('works whichever side receives the other share first', async () => {
    const run = start();
    const guardianConfirm = valueOf(await run.guardian.receiveToyShare(run.toy.share)).message;
    const toyConfirm = valueOf(await run.toy.receiveGuardianShare(run.guardian.share)).message;
    expect(valueOf(await run.toy.receiveGuardianConfirmation(guardianConfirm)).headHash).toEqual(run.anchor);
    expect(valueOf(await run.guardian.receiveToyConfirmation(toyConfirm)).toyKeys).toEqual(run.keys);
  });

  it('a wrong code fails key confirmation on both sides and ends the attempt', async () => {
    const run = start({ toyCode: '12345678', guardianCode: '12345679' });
    const toyConfirm = valueOf(await run.toy.receiveGuardianShare(run.guardian.share)).message;
    const guardianConfirm = valueOf(await run.guardian.receiveToyShare(run.toy.share)).message;
    expect(await run.guardian.receiveToyConfirmation(toyConfirm)).toEqual({ ok: false, code: 'pairing/wrong-code' });
    expect(await run.toy.receiveGuardianConfirmation(guardianConfirm)).toEqual({ ok: false, code: 'pairing/wrong-code' });
    // One guess per attempt: the right message afterwards is refused too.
    expect(await run.guardian.receiveToyConfirmation(toyConfirm)).toEqual({ ok: false, code: 'pairing/aborted' });
    expect(await run.toy.receiveGuardianConfirmation(guardianConfirm)).toEqual({ ok: false, code: 'pairing/aborted' });
  });

  it('messages from another pairing session are refused as replays', async () => {
    const code = '31415926';
    const keys = toyKeys();
    const anchor = randomBytes(32);
    const old = { toy: startToyPairing({ code, toyKeys: keys, sessionId: randomBytes(16) }) };
    const sessionId = randomBytes(16);
    const toy = startToyPairing({ code, toyKeys: keys, sessionId });
    const guardian = startGuardianPairing({ code, sessionId, headHash: anchor });
    expect(await guardian.receiveToyShare(old.toy.share)).toEqual({ ok: false, code: 'pairing/replayed' });
    // A replay does not end the attempt: the genuine message still goes through.
    const guardianConfirm = valueOf(await guardian.receiveToyShare(toy.share)).message;
    valueOf(await toy.receiveGuardianShare(guardian.share));
    expect(valueOf(await toy.receiveGuardianConfirmation(guardianConfirm)).headHash).toEqual(anchor);
    expect(await toy.receiveGuardianConfirmation(guardianConfirm)).toEqual({ ok: false, code: 'pairing/replayed' });
  });

  it('a share relabelled with another session id is refused: the session id is bound into the key', async () => {
    const run = start();
    const other = startGuardianPairing({ code: '00000000', sessionId: randomBytes(16), headHash: randomBytes(32) });
    const spliced = other.share.slice();
    spliced.set(run.sessionId, 3);
    const toyConfirm = valueOf(await run.toy.receiveGuardianShare(spliced)).message;
    valueOf(await run.guardian.receiveToyShare(run.toy.share));
    expect(await run.guardian.receiveToyConfirmation(toyConfirm)).toEqual({ ok: false, code: 'pairing/wrong-code' });
  });

  it('a toy refuses its own share reflected back as the guardian share', async () => {
    const run = start();
    const reflected = run.toy.share.slice();
    reflected[1] = 2;
    expect(await run.toy.receiveGuardianShare(reflected)).toEqual({ ok: false, code: 'pairing/replayed' });
  });

  it('the identity element and invalid encodings in a share are refused', async () => {
    for (const y of [new Uint8Array(32), new Uint8Array(32).fill(0xff), Uint8Array.of(1, ...new Uint8Array(31))]) {
      const run = start();
      const share = run.guardian.share.slice();
      share.set(y, share.length - 32);
      expect(await run.toy.receiveGuardianShare(share)).toEqual({ ok: false, code: 'pairing/bad-message' });
    }
  });

  it('confirmations delivered before the shares are refused without ending the attempt', async () => {
    const run = start();
    const guardianConfirm = valueOf(await run.guardian.receiveToyShare(run.toy.share)).message;
    expect(await run.toy.receiveGuardianConfirmation(guardianConfirm)).toEqual({ ok: false, code: 'pairing/out-of-order' });
    valueOf(await run.toy.receiveGuardianShare(run.guardian.share));
    expect(valueOf(await run.toy.receiveGuardianConfirmation(guardianConfirm)).headHash).toEqual(run.anchor);
  });

  it('anything that is not a message is refused with a result, never an exception', async () => {
    const junk: unknown[] = [undefined, null, 0, 'text', {}, [], new ArrayBuffer(32), new Uint8Array(0), new Uint8Array(2)];
    for (const bad of junk) {
      const run = start();
      expect(await run.toy.receiveGuardianShare(bad as Uint8Array)).toEqual({ ok: false, code: 'pairing/bad-message' });
      expect(await run.guardian.receiveToyShare(bad as Uint8Array)).toEqual({ ok: false, code: 'pairing/bad-message' });
      const other = start();
      valueOf(await other.toy.receiveGuardianShare(other.guardian.share));
      valueOf(await other.guardian.receiveToyShare(other.toy.share));
      expect(await other.toy.receiveGuardianConfirmation(bad as Uint8Array)).toEqual({ ok: false, code: 'pairing/bad-message' });
      expect(await other.guardian.receiveToyConfirmation(bad as Uint8Array)).toEqual({ ok: false, code: 'pairing/bad-message' });
    }
  });

  it("a guardian confirmation of version 1 (any anchor bytes) or with a head hash of another length is refused and ends the attempt", async () => {
    const run = start();
    valueOf(await run.toy.receiveGuardianShare(run.guardian.share));
    const guardianConfirm = valueOf(await run.guardian.receiveToyShare(run.toy.share)).message;
    expect(guardianConfirm[0]).toBe(2);
    const old = guardianConfirm.slice();
    old[0] = 1;
    expect(await run.toy.receiveGuardianConfirmation(old)).toEqual({ ok: false, code: 'pairing/bad-message' });
    expect(await run.toy.receiveGuardianConfirmation(guardianConfirm)).toEqual({ ok: false, code: 'pairing/aborted' });
    const other = start();
    valueOf(await other.toy.receiveGuardianShare(other.guardian.share));
    const confirm = valueOf(await other.guardian.receiveToyShare(other.toy.share)).message;
    const sidEnd = 3 + confirm[2]!;
    const longer = new Uint8Array([...confirm.subarray(0, sidEnd), 0, ...confirm.subarray(sidEnd)]);
    expect(await other.toy.receiveGuardianConfirmation(longer)).toEqual({ ok: false, code: 'pairing/bad-message' });
  });

  it('truncated, extended or mistyped messages are refused', async () => {
    const run = start();
    expect((await run.toy.receiveGuardianShare(run.guardian.share.subarray(0, 20))).ok).toBe(false);
    const fresh = start();
    expect((await fresh.toy.receiveGuardianShare(new Uint8Array([...fresh.guardian.share, 0]))).ok).toBe(false);
    const third = start();
    expect((await third.toy.receiveGuardianShare(third.toy.share)).ok).toBe(false);
  });
});

describe('pairing properties', () => {
  const messageIndex = fc.integer({ min: 0, max: 3 });
  const position = fc.nat({ max: 500 });
  const mask = fc.integer({ min: 1, max: 255 });

  it('round trip: any code and session id pairs successfully', async () => {
    await fc.assert(fc.asyncProperty(fc.stringMatching(/^[0-9]{8}$/), fc.uint8Array({ minLength: 16, maxLength: 64 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), async (code, sessionId, anchor) => {
      const keys = toyKeys();
      const toy = startToyPairing({ code, toyKeys: keys, sessionId });
      const guardian = startGuardianPairing({ code, sessionId, headHash: anchor });
      const toyConfirm = valueOf(await toy.receiveGuardianShare(relay(guardian.share))).message;
      const guardianConfirm = valueOf(await guardian.receiveToyShare(relay(toy.share))).message;
      expect(valueOf(await guardian.receiveToyConfirmation(toyConfirm)).toyKeys).toEqual(keys);
      expect(valueOf(await toy.receiveGuardianConfirmation(guardianConfirm)).headHash).toEqual(anchor);
    }), { numRuns: 15 });
  });

  it('any byte flip in any relayed message makes pairing fail on the receiving side', async () => {
    await fc.assert(fc.asyncProperty(messageIndex, position, mask, async (which, index, bits) => {
      const run = start();
      const tamper = (i: number, m: Uint8Array) => (i === which ? flip(m, index, bits) : m);
      const guardianShare = tamper(0, run.guardian.share);
      const toyShare = tamper(1, run.toy.share);
      const toyStep = await run.toy.receiveGuardianShare(guardianShare);
      const guardianStep = await run.guardian.receiveToyShare(toyShare);
      // A flipped share is refused at once, or else the key confirmation that depends on it fails.
      const toyResult = toyStep.ok ? await run.toy.receiveGuardianConfirmation(guardianStep.ok ? tamper(3, guardianStep.value.message) : new Uint8Array()) : toyStep;
      const guardianResult = guardianStep.ok ? await run.guardian.receiveToyConfirmation(toyStep.ok ? tamper(2, toyStep.value.message) : new Uint8Array()) : guardianStep;
      const receiverOk = [toyResult.ok, guardianResult.ok, guardianResult.ok, toyResult.ok][which];
      expect(receiverOk).toBe(false);
      if (guardianResult.ok) expect(guardianResult.value.toyKeys).toEqual(run.keys);
      if (toyResult.ok) expect(toyResult.value.headHash).toEqual(run.anchor);
    }), { numRuns: 60 });
  });

  it('a different code always fails confirmation', async () => {
    await fc.assert(fc.asyncProperty(fc.stringMatching(/^[0-9]{8}$/), fc.stringMatching(/^[0-9]{8}$/), async (a, b) => {
      fc.pre(a !== b);
      const run = start({ toyCode: a, guardianCode: b });
      const toyConfirm = valueOf(await run.toy.receiveGuardianShare(run.guardian.share)).message;
      const guardianConfirm = valueOf(await run.guardian.receiveToyShare(run.toy.share)).message;
      expect(await run.guardian.receiveToyConfirmation(toyConfirm)).toEqual({ ok: false, code: 'pairing/wrong-code' });
      expect(await run.toy.receiveGuardianConfirmation(guardianConfirm)).toEqual({ ok: false, code: 'pairing/wrong-code' });
    }), { numRuns: 15 });
  });
});
