import { describe, expect, it } from 'vitest';
import { bytesEqual } from '../../src/crypto/bytes.js';
import { CanonicalWriter } from '../../src/crypto/canonical.js';
import { generateIdentity } from '../../src/crypto/identity.js';
import { encodeRosterEntry } from '../../src/crypto/roster.js';
import { decodeVault, emptyVault, encodeVault, openVault, sealVault, type Vault } from '../../src/crypto/vault.js';
import { family } from './fixtures.js';

async function sampleVault(): Promise<{ vault: Vault; identity: Awaited<ReturnType<typeof generateIdentity>> }> {
  const f = await family();
  const vault: Vault = {
    version: 1,
    revision: 7,
    families: {
      'fam-1': { anchor: encodeRosterEntry(f.chain[1]!), joinedVia: 'created' },
    },
  };
  return { vault, identity: f.mum.identity };
}

describe('the account vault', () => {
  it('a sealed vault opens for the same account and revision and gives back every anchor', async () => {
    const { vault, identity } = await sampleVault();
    const sealed = await sealVault({ identity, accountId: 'acct-mum', vault });
    const opened = await openVault({ identity, accountId: 'acct-mum', revision: 7, sealed });
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    expect(opened.value.revision).toBe(7);
    expect(Object.keys(opened.value.families)).toEqual(['fam-1']);
    expect(bytesEqual(opened.value.families['fam-1']!.anchor, vault.families['fam-1']!.anchor)).toBe(true);
    expect(opened.value.families['fam-1']!.joinedVia).toBe('created');
  });

  it('a sealed vault holds no anchor bytes in clear', async () => {
    const { vault, identity } = await sampleVault();
    const sealed = await sealVault({ identity, accountId: 'acct-mum', vault });
    const anchor = vault.families['fam-1']!.anchor;
    const window = anchor.subarray(40, 72);
    for (let i = 0; i + window.length <= sealed.length; i++) expect(bytesEqual(sealed.subarray(i, i + window.length), window)).toBe(false);
  });

  it('any byte flipped anywhere in a sealed vault is refused with a code', async () => {
    const { vault, identity } = await sampleVault();
    const sealed = await sealVault({ identity, accountId: 'acct-mum', vault });
    for (let i = 0; i < sealed.length; i++) {
      const tampered = sealed.slice();
      tampered[i]! ^= 0x01;
      const opened = await openVault({ identity, accountId: 'acct-mum', revision: 7, sealed: tampered });
      expect(opened.ok, `byte ${i}`).toBe(false);
      if (!opened.ok) expect(opened.code).toMatch(/^vault\//);
    }
  });

  it('a vault sealed for another account id does not open', async () => {
    const { vault, identity } = await sampleVault();
    const sealed = await sealVault({ identity, accountId: 'acct-mum', vault });
    const opened = await openVault({ identity, accountId: 'acct-dad', revision: 7, sealed });
    expect(opened).toEqual({ ok: false, code: 'vault/decrypt-failed' });
  });

  it('a vault filed under another revision does not open (a server cannot relabel an old one as new)', async () => {
    const { vault, identity } = await sampleVault();
    const sealed = await sealVault({ identity, accountId: 'acct-mum', vault });
    expect(await openVault({ identity, accountId: 'acct-mum', revision: 8, sealed })).toEqual({ ok: false, code: 'vault/decrypt-failed' });
  });

  it('another identity cannot open the vault', async () => {
    const { vault, identity } = await sampleVault();
    const sealed = await sealVault({ identity, accountId: 'acct-mum', vault });
    const stranger = await generateIdentity();
    expect(await openVault({ identity: stranger, accountId: 'acct-mum', revision: 7, sealed })).toEqual({ ok: false, code: 'vault/decrypt-failed' });
  });

  it('a truncated or empty sealed vault is refused', async () => {
    const { vault, identity } = await sampleVault();
    const sealed = await sealVault({ identity, accountId: 'acct-mum', vault });
    for (const bad of [new Uint8Array(0), sealed.subarray(0, 10), sealed.subarray(0, sealed.length - 1)]) {
      const opened = await openVault({ identity, accountId: 'acct-mum', revision: 7, sealed: bad });
      expect(opened.ok).toBe(false);
    }
  });

  it('the encoding is canonical: it round-trips, families come out in id order, and any other form is refused', async () => {
    const { vault } = await sampleVault();
    const f = await family();
    // An anchor filed under another family's id is malformed, even inside a well-formed record.
    const misfiled: Vault = { version: 1, revision: 1, families: { 'fam-0': { anchor: encodeRosterEntry(f.chain[0]!) } } };
    expect(decodeVault(encodeVault(misfiled))).toEqual({ ok: false, code: 'vault/malformed' });
    const bytes = encodeVault(vault);
    const decoded = decodeVault(bytes);
    expect(decoded.ok && bytesEqual(encodeVault(decoded.value), bytes)).toBe(true);
    expect(decodeVault(new Uint8Array([...bytes, 0]))).toEqual({ ok: false, code: 'vault/malformed' });
    expect(decodeVault(bytes.subarray(0, bytes.length - 1))).toEqual({ ok: false, code: 'vault/malformed' });
    expect(decodeVault(new Uint8Array([2, ...bytes.subarray(1)]))).toEqual({ ok: false, code: 'vault/unsupported-version' });
    // Two families out of order (a second encoding of one record) are refused.
    const a = encodeRosterEntry(f.chain[0]!);
    const unordered = new CanonicalWriter().u8(1).u64(1).u32(2).string('fam-1').bytes(a).u8(0).string('fam-1').bytes(a).u8(0).finish();
    expect(decodeVault(unordered)).toEqual({ ok: false, code: 'vault/malformed' });
  });

  it('an empty vault seals and opens', async () => {
    const identity = await generateIdentity();
    const vault = { ...emptyVault(), revision: 1 };
    const sealed = await sealVault({ identity, accountId: 'a', vault });
    const opened = await openVault({ identity, accountId: 'a', revision: 1, sealed });
    expect(opened).toEqual({ ok: true, value: { version: 1, revision: 1, families: {} } });
  });

  it('misuse throws at once, naming the argument', async () => {
    const identity = await generateIdentity();
    await expect(sealVault({ identity, accountId: '', vault: emptyVault() })).rejects.toThrow(/accountId/);
    await expect(sealVault({ identity, accountId: 'a', vault: { ...emptyVault(), revision: -1 } })).rejects.toThrow(/revision/);
    await expect(openVault({ identity, accountId: 'a', revision: 1.5, sealed: new Uint8Array(40) })).rejects.toThrow(/revision/);
    await expect(openVault({ identity, accountId: 'a', revision: 1, sealed: 'x' as unknown as Uint8Array })).rejects.toThrow(/sealed/);
    const locked = await generateIdentity({ extractable: false });
    await expect(sealVault({ identity: locked, accountId: 'a', vault: emptyVault() })).rejects.toThrow(/extractable/);
  });
});
