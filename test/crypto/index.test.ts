import { describe, expect, it } from 'vitest';
import * as bytes from '../../src/crypto/bytes.js';
import * as envelope from '../../src/crypto/envelope.js';
import * as familyLog from '../../src/crypto/family-log.js';
import * as identity from '../../src/crypto/identity.js';
import * as core from '../../src/crypto/index.js';
import * as invite from '../../src/crypto/invite.js';
import * as inviteDescription from '../../src/crypto/invite-description.js';
import * as kdf from '../../src/crypto/kdf.js';
import * as keyScopes from '../../src/crypto/key-scopes.js';
import * as pairing from '../../src/crypto/pairing.js';
import * as profile from '../../src/crypto/profile.js';
import * as receipt from '../../src/crypto/receipt.js';
import * as result from '../../src/crypto/result.js';
import * as roster from '../../src/crypto/roster.js';
import * as rosterHead from '../../src/crypto/roster-head.js';
import * as scopeKey from '../../src/crypto/scope-key.js';
import * as sealedSettings from '../../src/crypto/sealed-settings.js';
import * as vault from '../../src/crypto/vault.js';
import * as wrapSuites from '../../src/crypto/wrap-suites.js';

// The public modules; the primitives beneath them stay inside (test/architecture.test.ts).
const modules = { bytes, envelope, familyLog, identity, invite, inviteDescription, keyScopes, kdf, pairing, profile, receipt, result, roster, rosterHead, scopeKey, sealedSettings, vault, wrapSuites };

describe('crypto index', () => {
  // Two modules exporting one name would make `export *` drop it silently: every name must get through.
  it('re-exports every export of every public crypto module, the same binding, with no name claimed twice', () => {
    const owners = new Map<string, string>();
    for (const [name, mod] of Object.entries(modules)) {
      for (const [key, value] of Object.entries(mod)) {
        expect(owners.get(key), `${key} is exported by ${owners.get(key)} and ${name}`).toBeUndefined();
        owners.set(key, name);
        expect((core as Record<string, unknown>)[key], `${name}.${key}`).toBe(value);
      }
    }
    expect(Object.keys(core).sort()).toEqual([...owners.keys()].sort());
  });
});
