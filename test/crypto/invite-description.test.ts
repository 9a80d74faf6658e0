/** The sealed invite description and the joiner's sealed name (src/crypto/invite-description.ts): round trip, binding, signature, tamper, misuse. */
import { beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, toBase64Url } from '../../src/crypto/bytes.js';
import { generateIdentity, type Identity } from '../../src/crypto/identity.js';
import { generateInviteSecret } from '../../src/crypto/invite.js';
import {
  MAX_DESCRIPTION_STRING_BYTES,
  MAX_SEALED_DESCRIPTION_BYTES,
  openInviteDescription,
  openJoinerName,
  sealInviteDescription,
  sealJoinerName,
} from '../../src/crypto/invite-description.js';

const id = () => toBase64Url(randomBytes(16));
let guardian: Identity;
let other: Identity;
beforeAll(async () => {
  guardian = await generateIdentity();
  other = await generateIdentity();
});

describe('the sealed invite description', () => {
  it('opens with the link secret, for its invite and family, as the guardian signed it', async () => {
    const secret = generateInviteSecret();
    const inviteId = id();
    const familyId = id();
    const description = { familyName: 'The Smiths', from: 'Anna', for: 'Grandma Rose' };
    const sealed = await sealInviteDescription({ secret, inviteId, familyId, description, guardian });
    expect(await openInviteDescription({ secret, inviteId, familyId, sealed, guardianKeys: guardian.publicKeys })).toEqual({ ok: true, value: description });
    // Empty names are allowed (a family whose name did not open; a guardian who gave none).
    const empty = await sealInviteDescription({ secret, inviteId, familyId, description: { familyName: '', from: '', for: '' }, guardian });
    expect(await openInviteDescription({ secret, inviteId, familyId, sealed: empty, guardianKeys: guardian.publicKeys })).toEqual({ ok: true, value: { familyName: '', from: '', for: '' } });
  });

  it('is refused when someone other than the inviting guardian signed it (a link holder writing their own description)', async () => {
    const secret = generateInviteSecret();
    const inviteId = id();
    const familyId = id();
    const sealed = await sealInviteDescription({ secret, inviteId, familyId, description: { familyName: 'The Smiths', from: 'Dad', for: 'Mum' }, guardian: other });
    expect(await openInviteDescription({ secret, inviteId, familyId, sealed, guardianKeys: guardian.publicKeys })).toEqual({ ok: false, code: 'invite-description/bad-signature' });
  });

  it('does not open under another secret, for another invite or another family: the server cannot move or forge it', async () => {
    const secret = generateInviteSecret();
    const inviteId = id();
    const familyId = id();
    const sealed = await sealInviteDescription({ secret, inviteId, familyId, description: { familyName: 'The Smiths', from: 'Anna', for: '' }, guardian });
    const guardianKeys = guardian.publicKeys;
    expect(await openInviteDescription({ secret: generateInviteSecret(), inviteId, familyId, sealed, guardianKeys })).toEqual({ ok: false, code: 'invite-description/refused' });
    expect(await openInviteDescription({ secret, inviteId: id(), familyId, sealed, guardianKeys })).toEqual({ ok: false, code: 'invite-description/refused' });
    expect(await openInviteDescription({ secret, inviteId, familyId: id(), sealed, guardianKeys })).toEqual({ ok: false, code: 'invite-description/refused' });
  });

  it('refuses every changed byte, a truncation and an oversized record', async () => {
    const secret = generateInviteSecret();
    const inviteId = id();
    const familyId = id();
    const guardianKeys = guardian.publicKeys;
    const sealed = await sealInviteDescription({ secret, inviteId, familyId, description: { familyName: 'Fox', from: 'Mo', for: 'Jo' }, guardian });
    for (let i = 0; i < sealed.length; i++) {
      const changed = sealed.slice();
      changed[i]! ^= 0x01;
      expect((await openInviteDescription({ secret, inviteId, familyId, sealed: changed, guardianKeys })).ok, `byte ${i}`).toBe(false);
    }
    expect((await openInviteDescription({ secret, inviteId, familyId, sealed: sealed.subarray(0, sealed.length - 1), guardianKeys })).ok).toBe(false);
    expect(await openInviteDescription({ secret, inviteId, familyId, sealed: new Uint8Array(MAX_SEALED_DESCRIPTION_BYTES + 1), guardianKeys })).toEqual({ ok: false, code: 'invite-description/malformed' });
  });

  it('throws on misuse, naming the argument', async () => {
    const secret = generateInviteSecret();
    const d = { familyName: 'a', from: 'b', for: 'c' };
    await expect(sealInviteDescription({ secret: new Uint8Array(15), inviteId: id(), familyId: id(), description: d, guardian })).rejects.toThrow(/secret/);
    await expect(sealInviteDescription({ secret, inviteId: '', familyId: id(), description: d, guardian })).rejects.toThrow(/inviteId/);
    await expect(sealInviteDescription({ secret, inviteId: id(), familyId: id(), description: { ...d, familyName: 'x'.repeat(MAX_DESCRIPTION_STRING_BYTES + 1) }, guardian })).rejects.toThrow(/familyName/);
    await expect(sealInviteDescription({ secret, inviteId: id(), familyId: id(), description: { ...d, from: 7 as unknown as string }, guardian })).rejects.toThrow(/from/);
    await expect(sealInviteDescription({ secret, inviteId: id(), familyId: id(), description: { ...d, for: undefined as unknown as string }, guardian })).rejects.toThrow(/for/);
    await expect(sealInviteDescription({ secret, inviteId: id(), familyId: id(), description: d, guardian: {} as Identity })).rejects.toThrow(/guardian/);
  });
});

describe("the joiner's sealed name", () => {
  it('opens with the link secret for its invite and joiner only', async () => {
    const secret = generateInviteSecret();
    const inviteId = id();
    const joinerId = id();
    const sealed = await sealJoinerName({ secret, inviteId, joinerId, name: 'Rose' });
    expect(await openJoinerName({ secret, inviteId, joinerId, sealed })).toEqual({ ok: true, value: 'Rose' });
    expect(await openJoinerName({ secret: generateInviteSecret(), inviteId, joinerId, sealed })).toEqual({ ok: false, code: 'invite-joiner-name/refused' });
    expect(await openJoinerName({ secret, inviteId: id(), joinerId, sealed })).toEqual({ ok: false, code: 'invite-joiner-name/refused' });
    // Moved to another joiner's accept (the server answering with someone else's account): refused.
    expect(await openJoinerName({ secret, inviteId, joinerId: id(), sealed })).toEqual({ ok: false, code: 'invite-joiner-name/refused' });
    for (let i = 0; i < sealed.length; i++) {
      const changed = sealed.slice();
      changed[i]! ^= 0x80;
      expect((await openJoinerName({ secret, inviteId, joinerId, sealed: changed })).ok, `byte ${i}`).toBe(false);
    }
    await expect(sealJoinerName({ secret, inviteId, joinerId: '', name: 'x' })).rejects.toThrow(/joinerId/);
  });
});
