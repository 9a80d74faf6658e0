import { describe, expect, it } from 'vitest';
import { fromBase64Url, randomBytes, toBase64Url } from '../../src/crypto/bytes.js';
import { generateIdentity, type PublicIdentityKeys } from '../../src/crypto/identity.js';
import {
  GUARDIAN_PROOF_LENGTH,
  INVITE_PROOF_LENGTH,
  formatInviteLink,
  generateInviteSecret,
  guardianInviteProof,
  joinerInviteProof,
  parseInviteLink,
  verifyGuardianInviteProof,
  verifyJoinerInviteProof,
  type InviteTerms,
} from '../../src/crypto/invite.js';

const id = () => toBase64Url(randomBytes(16));

async function setup() {
  const guardian = await generateIdentity();
  const joiner = await generateIdentity();
  const other = await generateIdentity();
  const terms: InviteTerms = { role: 'relative', children: [id(), id()], needsApproval: true };
  const guardianInput = { secret: generateInviteSecret(), familyId: id(), inviteId: id(), guardianId: id(), guardianKeys: guardian.publicKeys, terms, headHash: randomBytes(32) };
  const joinerInput = { secret: guardianInput.secret, inviteId: guardianInput.inviteId, joinerId: id(), joinerKeys: joiner.publicKeys };
  return { guardianInput, joinerInput, otherKeys: other.publicKeys };
}

function flipped(bytes: Uint8Array, index = 0): Uint8Array {
  const out = bytes.slice();
  out[index] = out[index]! ^ 1;
  return out;
}

function swapped(keys: PublicIdentityKeys): PublicIdentityKeys {
  return { signingKey: keys.agreementKey, agreementKey: keys.signingKey };
}

describe('invite links', () => {
  it('a link carries the invite id and the 128-bit secret in its fragment, and parses back', () => {
    const secret = generateInviteSecret();
    expect(secret).toHaveLength(16);
    const inviteId = id();
    const link = formatInviteLink('https://burrow.example/', inviteId, secret);
    expect(link).toBe(`https://burrow.example/join#${inviteId}.${toBase64Url(secret)}`);
    const url = new URL(link);
    expect(url.pathname + url.search).not.toContain(toBase64Url(secret));
    const parsed = parseInviteLink(link);
    expect(parsed.origin).toBe('https://burrow.example');
    expect(parsed.inviteId).toBe(inviteId);
    expect(parsed.secret).toEqual(secret);
  });

  it('a server under a path prefix keeps its prefix', () => {
    const secret = generateInviteSecret();
    const inviteId = id();
    const parsed = parseInviteLink(formatInviteLink('http://127.0.0.1:8080/burrow', inviteId, secret));
    expect(parsed.origin).toBe('http://127.0.0.1:8080/burrow');
  });

  it('two secrets are never the same', () => {
    expect(toBase64Url(generateInviteSecret())).not.toBe(toBase64Url(generateInviteSecret()));
  });

  it('malformed links are refused with a TypeError', () => {
    const good = formatInviteLink('https://burrow.example', id(), generateInviteSecret());
    for (const bad of ['', 'not a url', 'ftp://burrow.example/join#a.b', good.replace('/join', '/joint'), good.split('#')[0]!, `${good}x`, good.replace(/\.(?=[^.]*$)/, ''), good.slice(0, -1)]) {
      expect(() => parseInviteLink(bad), bad).toThrow(TypeError);
    }
  });

  it('formatting refuses a wrong-length secret, a bad id or a non-http origin', () => {
    expect(() => formatInviteLink('https://burrow.example', id(), randomBytes(15))).toThrow(/secret/);
    expect(() => formatInviteLink('https://burrow.example', 'short', generateInviteSecret())).toThrow(/inviteId/);
    expect(() => formatInviteLink('mailto:a@b', id(), generateInviteSecret())).toThrow(/origin/);
  });
});

describe('the guardian proof', () => {
  it('verifies for the same secret, family, invite, guardian, keys and terms, and gives the roster head hash it binds', async () => {
    const { guardianInput } = await setup();
    const proof = await guardianInviteProof(guardianInput);
    expect(proof).toHaveLength(GUARDIAN_PROOF_LENGTH);
    expect(proof[0]).toBe(3);
    expect(await verifyGuardianInviteProof({ ...guardianInput, proof })).toEqual({ ok: true, value: { headHash: guardianInput.headHash } });
  });

  it('binds the head hash: a proof carrying another head hash, or the earlier 32-byte form without one, is refused', async () => {
    const { guardianInput } = await setup();
    const proof = await guardianInviteProof(guardianInput);
    const otherHead = proof.slice();
    otherHead.set(randomBytes(32), 1);
    expect(await verifyGuardianInviteProof({ ...guardianInput, proof: otherHead })).toEqual({ ok: false, code: 'invite/bad-guardian-proof' });
    expect(await verifyGuardianInviteProof({ ...guardianInput, proof: proof.slice(33) })).toEqual({ ok: false, code: 'invite/bad-guardian-proof' });
    const version2 = proof.slice();
    version2[0] = 2;
    expect(await verifyGuardianInviteProof({ ...guardianInput, proof: version2 })).toEqual({ ok: false, code: 'invite/bad-guardian-proof' });
  });

  it('does not depend on the order the children are listed in', async () => {
    const { guardianInput } = await setup();
    const proof = await guardianInviteProof(guardianInput);
    const reordered = { ...guardianInput.terms, children: [...guardianInput.terms.children].reverse() };
    expect((await verifyGuardianInviteProof({ ...guardianInput, terms: reordered, proof })).ok).toBe(true);
  });

  it('fails when any bound field is changed', async () => {
    const { guardianInput, otherKeys } = await setup();
    const proof = await guardianInviteProof(guardianInput);
    const { terms } = guardianInput;
    const tampered = [
      { ...guardianInput, secret: flipped(guardianInput.secret) },
      { ...guardianInput, familyId: id() },
      { ...guardianInput, inviteId: id() },
      { ...guardianInput, guardianId: id() },
      { ...guardianInput, guardianKeys: otherKeys },
      { ...guardianInput, guardianKeys: { ...guardianInput.guardianKeys, agreementKey: otherKeys.agreementKey } },
      { ...guardianInput, guardianKeys: swapped(guardianInput.guardianKeys) },
      { ...guardianInput, terms: { ...terms, role: 'guardian' as const } },
      { ...guardianInput, terms: { ...terms, children: [terms.children[0]!] } },
      { ...guardianInput, terms: { ...terms, children: [...terms.children, id()] } },
      { ...guardianInput, terms: { ...terms, needsApproval: false } },
    ];
    for (const input of tampered) {
      expect(await verifyGuardianInviteProof({ ...input, proof })).toEqual({ ok: false, code: 'invite/bad-guardian-proof' });
    }
    for (let i = 0; i < proof.length; i++) {
      expect((await verifyGuardianInviteProof({ ...guardianInput, proof: flipped(proof, i) })).ok).toBe(false);
    }
    expect((await verifyGuardianInviteProof({ ...guardianInput, proof: proof.slice(0, 31) })).ok).toBe(false);
  });

  it('is not accepted as a joiner proof, nor the other way round', async () => {
    const { guardianInput, joinerInput } = await setup();
    const joinerAsGuardian = { ...joinerInput, joinerId: guardianInput.guardianId, joinerKeys: guardianInput.guardianKeys };
    const guardianProof = await guardianInviteProof(guardianInput);
    expect((await verifyJoinerInviteProof({ ...joinerAsGuardian, proof: guardianProof })).ok).toBe(false);
    const joinerProof = await joinerInviteProof(joinerAsGuardian);
    expect((await verifyGuardianInviteProof({ ...guardianInput, proof: joinerProof })).ok).toBe(false);
  });

  it('a malformed input to verification is a failed result, not an exception', async () => {
    const { guardianInput } = await setup();
    const proof = await guardianInviteProof(guardianInput);
    expect(await verifyGuardianInviteProof({ ...guardianInput, familyId: '', proof })).toEqual({ ok: false, code: 'invite/bad-guardian-proof' });
    expect(await verifyGuardianInviteProof({ ...guardianInput, terms: { ...guardianInput.terms, role: 'toy' as never }, proof })).toEqual({ ok: false, code: 'invite/bad-guardian-proof' });
  });

  it('making a proof refuses broken arguments, naming them', async () => {
    const { guardianInput } = await setup();
    await expect(guardianInviteProof({ ...guardianInput, secret: randomBytes(32) })).rejects.toThrow(/secret/);
    await expect(guardianInviteProof({ ...guardianInput, inviteId: 'x' })).rejects.toThrow(/inviteId/);
    await expect(guardianInviteProof({ ...guardianInput, guardianKeys: { signingKey: randomBytes(31), agreementKey: randomBytes(32) } })).rejects.toThrow(/guardianKeys/);
    await expect(guardianInviteProof({ ...guardianInput, terms: { ...guardianInput.terms, needsApproval: 'yes' as never } })).rejects.toThrow(/needsApproval/);
  });
});

describe('the joiner proof', () => {
  it('verifies for the same secret, invite, joiner and keys', async () => {
    const { joinerInput } = await setup();
    const proof = await joinerInviteProof(joinerInput);
    expect(proof).toHaveLength(INVITE_PROOF_LENGTH);
    expect(await verifyJoinerInviteProof({ ...joinerInput, proof })).toEqual({ ok: true, value: true });
  });

  it('fails when any bound field is changed', async () => {
    const { joinerInput, otherKeys } = await setup();
    const proof = await joinerInviteProof(joinerInput);
    const tampered = [
      { ...joinerInput, secret: generateInviteSecret() },
      { ...joinerInput, inviteId: id() },
      { ...joinerInput, joinerId: id() },
      { ...joinerInput, joinerKeys: otherKeys },
      { ...joinerInput, joinerKeys: { ...joinerInput.joinerKeys, signingKey: otherKeys.signingKey } },
      { ...joinerInput, joinerKeys: swapped(joinerInput.joinerKeys) },
    ];
    for (const input of tampered) {
      expect(await verifyJoinerInviteProof({ ...input, proof })).toEqual({ ok: false, code: 'invite/bad-joiner-proof' });
    }
    for (let i = 0; i < proof.length; i++) {
      expect((await verifyJoinerInviteProof({ ...joinerInput, proof: flipped(proof, i) })).ok).toBe(false);
    }
  });

  it('a proof made with a link from another invite does not verify', async () => {
    const a = await setup();
    const b = await setup();
    const proof = await joinerInviteProof({ ...a.joinerInput, secret: b.joinerInput.secret });
    expect((await verifyJoinerInviteProof({ ...a.joinerInput, proof })).ok).toBe(false);
  });

  it('the proof is not the secret and does not reveal it', async () => {
    const { joinerInput } = await setup();
    const proof = await joinerInviteProof(joinerInput);
    expect(toBase64Url(proof)).not.toContain(toBase64Url(joinerInput.secret));
    expect(fromBase64Url(toBase64Url(proof))).toEqual(proof);
  });
});
