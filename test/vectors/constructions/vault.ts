/** The account vault (docs/protocol.md, "Account vault"): record bytes, key, AAD and the sealed box. */
import { deriveVaultKey, encodeVault, openVault, sealVault, type Vault } from '../../../src/crypto/vault.js';
import { encodeRosterEntry } from '../../../src/crypto/roster.js';
import { FAMILY_ID, MUM_ID, vectorFamily } from '../family.js';
import { cat, expectHex, hexOf, hkdfSha256, labelled, str, u32, u64, u8 } from '../independent.js';
import { fixedIdentitySecret, flipByte, hex, withFixedRandom, type Construction } from '../support.js';

export const vault: Construction = {
  name: 'vault',
  async generate() {
    const family = await vectorFamily();
    const record: Vault = { version: 1, revision: 3, families: { [FAMILY_ID]: { anchor: encodeRosterEntry(family.chain[1]!), joinedVia: 'created' } } };
    const sealed = await withFixedRandom('vault', () => sealVault({ identity: family.mum, accountId: MUM_ID, vault: record }));
    const rolledBack = await openVault({ identity: family.mum, accountId: MUM_ID, revision: 2, sealed });
    const tampered = await openVault({ identity: family.mum, accountId: MUM_ID, revision: 3, sealed: flipByte(sealed, 30) });
    return {
      construction: 'vault',
      version: { record: 1, box: sealed[0]! },
      spec: 'Account vault',
      description: 'The vault of the account whose identity secret is in identity.json, holding one anchor.',
      vectors: [
        {
          name: 'one-family',
          identitySecret: hex(fixedIdentitySecret('mum')),
          accountId: MUM_ID,
          revision: 3,
          familyId: FAMILY_ID,
          anchor: hex(record.families[FAMILY_ID]!.anchor),
          joinedVia: 'created',
          record: hex(encodeVault(record)),
          key: hex(await deriveVaultKey(family.mum)),
          nonce: hex(sealed.subarray(1, 13)),
          sealed: hex(sealed),
        },
      ],
      refusals: [
        { name: 'filed-under-older-revision', change: 'the server files the sealed vault under revision 2', input: { revision: 2 }, expected: rolledBack.ok ? 'accepted' : rolledBack.code },
        { name: 'tampered-ciphertext', change: 'one bit of the ciphertext flipped', input: { sealed: hex(flipByte(sealed, 30)) }, expected: tampered.ok ? 'accepted' : tampered.code },
      ],
    };
  },
  async checkIndependently(file) {
    const v = file.vectors[0]!;
    const record = cat(u8(1), u64(v.revision as number), u32(1), str(v.familyId as string), u32(hexOf(v.anchor).length), hexOf(v.anchor), u8(1), str(v.joinedVia as string));
    expectHex(record, v.record, 'vault record');
    const key = hkdfSha256(hexOf(v.identitySecret), new Uint8Array(0), 'burrow/vault/v1');
    expectHex(key, v.key, 'vault key');
    const sealed = hexOf(v.sealed);
    const aad = cat(u8(1), labelled('burrow/vault/v1', cat(str(v.accountId as string), u64(v.revision as number))));
    const aesKey = await crypto.subtle.importKey('raw', key as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['decrypt']);
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.slice(1, 13), additionalData: aad as Uint8Array<ArrayBuffer> }, aesKey, sealed.slice(13));
    expectHex(new Uint8Array(plain), v.record, 'opened vault record');
  },
};
