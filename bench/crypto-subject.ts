/**
 * What the crypto benchmark measures against raw AES-256-GCM: one voice message sealed and
 * signed by a guardian (`sealMessage`), then verified against the family's verified roster and
 * opened by a toy (`openAndVerifyMessage`), exactly as clients do it (src/crypto/envelope.ts).
 */
import { sealMessage, openAndVerifyMessage } from '../src/crypto/envelope.js';
import { openMessageStream } from '../src/crypto/envelope-stream.js';
import { concatBytes } from '../src/crypto/bytes.js';
import { generateIdentity } from '../src/crypto/identity.js';
import { createGenesisEntry, verifyRoster, hashRosterEntry } from '../src/crypto/roster.js';
import { FAMILY_SCOPE } from '../src/crypto/key-scopes.js';
import { generateScopeKey } from '../src/crypto/scope-key.js';

/** Names the code under test in the report. */
export const MESSAGE_SUBJECT = 'sealMessage / openAndVerifyMessage (src/crypto/envelope.ts)';

/** A prepared sender and recipient for one plaintext. */
export interface MessageSubject {
  seal(): Promise<Uint8Array>;
  open(sealed: Uint8Array): Promise<Uint8Array>;
  /** A toy streaming `sealed` in pieces of `pieceBytes`: resolves with the first verified audio piece. */
  firstAudioStreamed(sealed: Uint8Array, pieceBytes: number): Promise<Uint8Array>;
  /** The whole-message path (before chunked envelopes, the only one): every piece received, then opened. */
  firstAudioWhole(sealed: Uint8Array, pieceBytes: number): Promise<Uint8Array>;
}

/** The envelope as a download delivers it: pieces of `size` bytes, each handed over asynchronously. */
async function* piecesOf(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, Math.min(bytes.length, at + size));
}

/** Sets up a family (a guardian and a toy), its roster and the child's scope key; seal and open then do the per-message work. */
export async function prepareMessageSubject(audio: Uint8Array): Promise<MessageSubject> {
  const [guardian, toy] = await Promise.all([generateIdentity(), generateIdentity()]);
  const childKey = generateScopeKey();
  const genesis = await createGenesisEntry({
    familyId: 'bench-family',
    creator: { accountId: 'guardian-1', identity: guardian },
    settings: { volumeLimit: 70, retentionDays: 30 },
    toys: [{ toyId: 'toy-1', keys: toy.publicKeys, childId: 'child-1' }],
    scopeKeys: [{ scope: FAMILY_SCOPE, generation: 0, key: generateScopeKey() }, { scope: 'child-1', generation: 0, key: childKey }],
  });
  const verified = await verifyRoster([genesis], { genesisHash: await hashRosterEntry(genesis) });
  if (!verified.ok) throw new Error(`benchmark roster did not verify: ${verified.code}`);
  const roster = verified.value;
  return {
    async seal() {
      const sealed = await sealMessage({
        familyId: 'bench-family', epoch: 0, rosterHead: roster.headHash, scope: 'child-1', key: childKey,
        sender: { accountId: 'guardian-1', identity: guardian },
        recipients: ['child-1'], audio, audioType: 'audio/webm;codecs=opus', durationMs: 60_000, createdAt: 1_764_201_600_000,
      });
      return sealed.bytes;
    },
    async open(sealed) {
      const opened = await openAndVerifyMessage(sealed, { roster, keyFor: () => childKey });
      if (!opened.ok) throw new Error(`benchmark message did not open: ${opened.code}`);
      return opened.value.audio;
    },
    async firstAudioStreamed(sealed, pieceBytes) {
      const opened = await openMessageStream(piecesOf(sealed, pieceBytes), { roster, keyFor: () => childKey });
      if (!opened.ok) throw new Error(`benchmark message did not open: ${opened.code}`);
      const first = await opened.value.next();
      if (!first.ok || first.value === undefined) throw new Error('benchmark message has no audio');
      return first.value;
    },
    async firstAudioWhole(sealed, pieceBytes) {
      const pieces: Uint8Array[] = [];
      for await (const piece of piecesOf(sealed, pieceBytes)) pieces.push(piece);
      const opened = await openAndVerifyMessage(concatBytes(...pieces), { roster, keyFor: () => childKey });
      if (!opened.ok) throw new Error(`benchmark message did not open: ${opened.code}`);
      return opened.value.audio.subarray(0, 1);
    },
  };
}
