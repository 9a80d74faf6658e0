/** The sealed invite description (src/crypto/invite-description.ts): round trip, binding, tamper, misuse. */
import { describe, expect, it } from 'vitest';
import { randomBytes, toBase64Url } from '../../src/crypto/bytes.js';
import { generateInviteSecret } from '../../src/crypto/invite.js';
import { MAX_DESCRIPTION_STRING_BYTES, MAX_SEALED_DESCRIPTION_BYTES, openInviteDescription, sealInviteDescription } from '../../src/crypto/invite-description.js';

const id = () => toBase64Url(randomBytes(16));

describe('the sealed invite description', () => {
  it('opens with the link secret, for its invite and family, as sealed', async () => {
    const secret = generateInviteSecret();
    const inviteId = id();
    const familyId = id();
    const sealed = await sealInviteDescription({ secret, inviteId, familyId, description: { familyName: 'The Smiths', from: 'Anna' } });
    expect(await openInviteDescription({ secret, inviteId, familyId, sealed })).toEqual({ ok: true, value: { familyName: 'The Smiths', from: 'Anna' } });
    // Empty names are allowed (a family whose name did not open; a guardian who gave none).
    const empty = await sealInviteDescription({ secret, inviteId, familyId, description: { familyName: '', from: '' } });
    expect(await openInviteDescription({ secret, inviteId, familyId, sealed: empty })).toEqual({ ok: true, value: { familyName: '', from: '' } });
  });

  it('does not open under another secret, for another invite or another family: the server cannot move or forge it', async () => {
    const secret = generateInviteSecret();
    const inviteId = id();
    const familyId = id();
    const sealed = await sealInviteDescription({ secret, inviteId, familyId, description: { familyName: 'The Smiths', from: 'Anna' } });
    expect(await openInviteDescription({ secret: generateInviteSecret(), inviteId, familyId, sealed })).toEqual({ ok: false, code: 'invite-description/refused' });
    expect(await openInviteDescription({ secret, inviteId: id(), familyId, sealed })).toEqual({ ok: false, code: 'invite-description/refused' });
    expect(await openInviteDescription({ secret, inviteId, familyId: id(), sealed })).toEqual({ ok: false, code: 'invite-description/refused' });
  });

  it('refuses every changed byte, a truncation and an oversized record', async () => {
    const secret = generateInviteSecret();
    const inviteId = id();
    const familyId = id();
    const sealed = await sealInviteDescription({ secret, inviteId, familyId, description: { familyName: 'Fox', from: 'Mo' } });
    for (let i = 0; i < sealed.length; i++) {
      const changed = sealed.slice();
      changed[i]! ^= 0x01;
      expect((await openInviteDescription({ secret, inviteId, familyId, sealed: changed })).ok, `byte ${i}`).toBe(false);
    }
    expect((await openInviteDescription({ secret, inviteId, familyId, sealed: sealed.subarray(0, sealed.length - 1) })).ok).toBe(false);
    expect(await openInviteDescription({ secret, inviteId, familyId, sealed: new Uint8Array(MAX_SEALED_DESCRIPTION_BYTES + 1) })).toEqual({ ok: false, code: 'invite-description/malformed' });
  });

  it('throws on misuse, naming the argument', async () => {
    const secret = generateInviteSecret();
    await expect(sealInviteDescription({ secret: new Uint8Array(15), inviteId: id(), familyId: id(), description: { familyName: 'a', from: 'b' } })).rejects.toThrow(/secret/);
    await expect(sealInviteDescription({ secret, inviteId: '', familyId: id(), description: { familyName: 'a', from: 'b' } })).rejects.toThrow(/inviteId/);
    await expect(sealInviteDescription({ secret, inviteId: id(), familyId: id(), description: { familyName: 'x'.repeat(MAX_DESCRIPTION_STRING_BYTES + 1), from: '' } })).rejects.toThrow(/familyName/);
    await expect(sealInviteDescription({ secret, inviteId: id(), familyId: id(), description: { familyName: 'a', from: 7 as unknown as string } })).rejects.toThrow(/from/);
  });
});
