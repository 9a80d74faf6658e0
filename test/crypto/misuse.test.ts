import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aeadOpen, aeadSeal } from '../../src/crypto/aead.js';
import { approveMessage, openAndVerifyMessage, parseEnvelopeHeader } from '../../src/crypto/envelope.js';
import { exportIdentitySecret, generateIdentity, importIdentitySecret, openSealedIdentity, safetyCode, sealIdentity } from '../../src/crypto/identity.js';
import { deriveKey } from '../../src/crypto/kdf.js';
import { openProfile, sealProfile } from '../../src/crypto/profile.js';
import { createGenesisEntry, decodeRosterEntry, hashRosterEntry, verifyRoster, type RosterEntry } from '../../src/crypto/roster.js';
import { generateScopeKey, unwrapAndCheckScopeKey, wrapScopeKey, type WrappedScopeKey } from '../../src/crypto/scope-key.js';
import { family, settings } from './fixtures.js';

const junk: unknown[] = [undefined, null, 0, 'text', {}, [], new Uint8Array(3), new ArrayBuffer(32)];

describe('misuse throws a TypeError naming the argument', () => {
  it('byte arguments of the wrong type or length', async () => {
    const identity = await generateIdentity();
    for (const bad of junk) {
      await expect(deriveKey(bad as Uint8Array, 'label')).rejects.toThrow(/secret/);
      await expect(aeadSeal(bad as Uint8Array, new Uint8Array(1), new Uint8Array(0))).rejects.toThrow(/key/);
      // A short sealed box is hostile input, not misuse: it gives a result code (below).
      if (!(bad instanceof Uint8Array)) await expect(aeadOpen(new Uint8Array(32), bad as Uint8Array, new Uint8Array(0))).rejects.toThrow(/sealed/);
      await expect(importIdentitySecret(bad as Uint8Array)).rejects.toThrow(/secret/);
      await expect(sealIdentity(identity, bad as Uint8Array, 'ctx')).rejects.toThrow(/sealingKey/);
      await expect(safetyCode(bad as never, identity.publicKeys)).rejects.toThrow(/\ba\b/);
      await expect(safetyCode(identity.publicKeys, bad as never)).rejects.toThrow(/\bb\b/);
      await expect(wrapScopeKey({ familyId: 'f', scope: '', generation: 0, key: bad as Uint8Array, recipient: { id: 'r', agreementKey: new Uint8Array(32) } })).rejects.toThrow(/key/);
      await expect(sealProfile({ familyId: 'f', epoch: 0, key: bad as Uint8Array, kind: 'child', objectId: 'c', data: {}, signer: identity })).rejects.toThrow(/key/);
      await expect(approveMessage({ guardian: { accountId: 'g', identity }, familyId: 'f', messageId: bad as Uint8Array, ciphertextHash: new Uint8Array(32), rosterEpoch: 0, rosterHead: new Uint8Array(32) })).rejects.toThrow(/messageId/);
    }
  });

  it('identities that are not identities', async () => {
    for (const bad of junk) {
      await expect(exportIdentitySecret(bad as never)).rejects.toThrow(/identity/);
      await expect(createGenesisEntry({ familyId: 'f', creator: { accountId: 'a', identity: bad as never }, settings, scopeKeys: [{ scope: '', generation: 0, key: generateScopeKey() }] })).rejects.toThrow(/creator.identity/);
    }
  });

  it('impossible roster contents', async () => {
    const identity = await generateIdentity();
    await expect(createGenesisEntry({ familyId: '', creator: { accountId: 'a', identity }, settings, scopeKeys: [{ scope: '', generation: 0, key: generateScopeKey() }] })).rejects.toThrow(/familyId/);
    await expect(createGenesisEntry({ familyId: 'f', creator: { accountId: 'a', identity }, settings: { volumeLimit: 200, retentionDays: 1 }, scopeKeys: [{ scope: '', generation: 0, key: generateScopeKey() }] })).rejects.toThrow(/volumeLimit/);
    await expect(createGenesisEntry({ familyId: 'f', creator: { accountId: 'a', identity }, settings: { volumeLimit: 1, retentionDays: 1, quietHours: { start: '25:00', end: '07:00', timeZone: 'UTC' } }, scopeKeys: [{ scope: '', generation: 0, key: generateScopeKey() }] })).rejects.toThrow(/quietHours/);
    await expect(createGenesisEntry({ familyId: 'f', creator: { accountId: 'a', identity }, settings: { volumeLimit: 1, retentionDays: 1, quietHours: { start: '20:00', end: '07:00', timeZone: 'Mars/Olympus' } }, scopeKeys: [{ scope: '', generation: 0, key: generateScopeKey() }] })).rejects.toThrow(/quietHours/);
  });
});

describe('verifiers never throw on hostile input', () => {
  it('random bytes give result codes, never exceptions', async () => {
    const f = await family();
    const verified = await verifyRoster(f.chain, { genesisHash: await hashRosterEntry(f.chain[0]!) });
    if (!verified.ok) throw new Error(verified.code);
    const roster = verified.value;
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), async (bytes) => {
        expect(parseEnvelopeHeader(bytes).ok).toBe(false);
        expect(decodeRosterEntry(bytes).ok).toBe(false);
        expect((await openAndVerifyMessage(bytes, { roster, keyFor: () => new Uint8Array(32) })).ok).toBe(false);
        expect((await openProfile({ sealed: bytes, familyId: roster.familyId, kind: 'child', objectId: 'c', head: roster, keyFor: () => new Uint8Array(32) })).ok).toBe(false);
        expect((await openSealedIdentity(bytes, new Uint8Array(32), 'ctx')).ok).toBe(false);
      }),
      { numRuns: 100 },
    );
  });

  it('non-byte envelopes, junk wraps and junk roster entries give result codes', async () => {
    const f = await family();
    const verified = await verifyRoster(f.chain, { genesisHash: await hashRosterEntry(f.chain[0]!) });
    if (!verified.ok) throw new Error(verified.code);
    for (const bad of junk) {
      expect(await openAndVerifyMessage(bad as Uint8Array, { roster: verified.value, keyFor: () => undefined })).toEqual({ ok: false, code: 'envelope/malformed' });
      const unwrapped = await unwrapAndCheckScopeKey({ wrap: bad as WrappedScopeKey, familyId: 'fam-1', recipientId: 'mum', identity: f.mum.identity, commitments: f.chain[1]!.scopeKeys });
      expect(unwrapped.ok).toBe(false);
      expect(await verifyRoster([bad as RosterEntry], { genesisHash: new Uint8Array(32) })).toEqual({ ok: false, code: 'roster/malformed' });
    }
    expect(await verifyRoster('chain' as never, { genesisHash: new Uint8Array(32) })).toEqual({ ok: false, code: 'roster/empty' });
  });
});
