import { describe, expect, it } from 'vitest';
import { familyStateFromJson, familyStateToJson, MemoryKeyStore, type FamilyState } from '../../src/client/key-store.js';
import { randomBytes, toBase64Url } from '../../src/crypto/bytes.js';
import { scopeKeyId } from '../../src/client/key-ring.js';

const CHILD = toBase64Url(randomBytes(16));
const FAMILY_WIDE = scopeKeyId('', 0);
const CHILD_KEY = scopeKeyId(CHILD, 3);

function sampleState(): FamilyState {
  return {
    familyId: toBase64Url(randomBytes(16)),
    anchor: randomBytes(300),
    keys: { [FAMILY_WIDE]: randomBytes(32), [CHILD_KEY]: randomBytes(32) },
    pendingInvite: {
      inviteId: toBase64Url(randomBytes(16)),
      guardianId: toBase64Url(randomBytes(16)),
      guardianKeys: { signingKey: randomBytes(32), agreementKey: randomBytes(32) },
      terms: { role: 'relative', children: [toBase64Url(randomBytes(16))], needsApproval: true },
      headHash: randomBytes(32),
    },
    createdInvites: { [toBase64Url(randomBytes(16))]: { secret: randomBytes(16), terms: { role: 'guardian', children: [], needsApproval: false } } },
  };
}

describe('family state in a key store', () => {
  it('survives a round trip through JSON text unchanged', () => {
    const state = sampleState();
    const text = JSON.stringify(familyStateToJson(state));
    expect(familyStateFromJson(JSON.parse(text) as never)).toEqual(state);
  });

  it('a damaged record is refused rather than half-read', () => {
    const json = familyStateToJson(sampleState());
    // A key id that is not generation/scope (the per-epoch form of before scope keys, or nonsense), or a key of the wrong size.
    for (const id of ['x', '0', '/child', '-1/child', `3/${CHILD}/x`]) expect(() => familyStateFromJson({ ...json, keys: { [id]: json.keys[FAMILY_WIDE]! } }), id).toThrow(TypeError);
    expect(() => familyStateFromJson({ ...json, keys: { [CHILD_KEY]: toBase64Url(randomBytes(31)) } })).toThrow(TypeError);
    // A pending invite without the head hash its proof bound (the earlier form) has no anchor to start from.
    const { headHash: _dropped, ...earlier } = json.pendingInvite!;
    expect(() => familyStateFromJson({ ...json, pendingInvite: earlier as never })).toThrow(TypeError);
    expect(() => familyStateFromJson({ ...json, pendingInvite: { ...json.pendingInvite!, headHash: toBase64Url(randomBytes(31)) } })).toThrow(TypeError);
  });

  it('the memory store hands out copies, so a caller cannot change what it keeps', async () => {
    const store = new MemoryKeyStore();
    const state = sampleState();
    await store.saveFamily(state);
    const loaded = (await store.loadFamily(state.familyId))!;
    loaded.keys[CHILD_KEY]!.fill(0);
    expect((await store.loadFamily(state.familyId))!.keys[CHILD_KEY]).toEqual(state.keys[CHILD_KEY]);
    expect(await store.listFamilies()).toEqual([state.familyId]);
    await store.forgetFamily(state.familyId);
    expect(await store.loadFamily(state.familyId)).toBeUndefined();
  });

  it('cursors are kept per family', async () => {
    const store = new MemoryKeyStore();
    await store.saveCursors({ a: '1', b: '7' });
    expect(await store.loadCursors()).toEqual({ a: '1', b: '7' });
  });
});
