/**
 * The envelope's byte layout is a contract (the server parses it; a second toy implementation
 * follows docs/protocol.md). These tests pin it independently of the encoder: envelopes of
 * versions 1 to 3 are refused, and a fresh version-4 one is taken apart field by field, its
 * chunks decrypted and its signature checked with raw WebCrypto only.
 */
import { describe, expect, it } from 'vitest';
import { bytesEqual, concatBytes, fromHex, fromUtf8, toHex, utf8 } from '../../src/crypto/bytes.js';
import { openAndVerifyMessage, paddedLengthOf, parseEnvelopeHeader, parseEnvelopePrefix, sealMessage } from '../../src/crypto/envelope.js';
import { importIdentitySecret, type Identity } from '../../src/crypto/identity.js';
import { hkdfSha256 } from '../../src/crypto/kdf.js';
import { appendRosterEntry, createGenesisEntry, hashRosterEntry, verifyRoster, type RosterEntry } from '../../src/crypto/roster.js';

// Version 1 (no roster head), sealed by the encoder at commit 75ca67e: no longer read (one protocol
// version until 1.0), kept to show it is refused, not misread.
const VERSION_1_ENVELOPE = fromHex(
  '4252574d010000000a66616d2d676f6c64656e0000000000000003101112131415161718191a1b1c1d1e1f000000036d756d00000002000000076368696c642d3100000005746f792d310000019ac29c14000000007b01fc3c61a9facc890be3bcd23b03193c0eca52d3ecbb1ae035203d9b47297df9219db50b5d71cbec04626987a7b8e300ae34518801dfda02c477eb6b33ebb3438c0d51ec0dba5eb7728f34bd0064ce845347cf50ecfeef8985f64a113623e845908d8bea06d5f0b251e5b7e858ecf22880ca1b2e0887feaf2efb3d0000004064d0fdc6bdc4c5ec1c1739036280226ccad2f768b47226567b9a3e753079c7542d6f9f1fef9260b65af2118ac611031d0460c91229045c5efd9a85f6fa793402',
);
// Version 2 (one AES-GCM box, unpadded, signature after the ciphertext), sealed from the inputs
// below before chunked envelopes: refused too.
const VERSION_2_ENVELOPE = fromHex('4252574d020000000a66616d2d676f6c64656e000000000000000316cae8171f3b7fcfc9552a112b226dd26317b588b608e4e82e899094f4e247f6101112131415161718191a1b1c1d1e1f000000036d756d00000002000000076368696c642d3100000005746f792d310000019ac29c14000000007b01ff34b04b2393854ec290f7df7f6da6de3fd38df0037c8ebf3eb3da82a316090d08dbc7cc71bf8bf22277879815c87026891928b360c6fff5c16237dc59dbf1619fc3de79c62a04a886381bb3b08542c6c8937c51cd918d90c6bfc5a0430822e8b9c75f843e7011188f8c84c326b4c43cad32daece19e9fb0c01b00000040881acca528bf279365936b3ec00a32972ab62cf587205bfd0f43ebddfdd80a5c9d83a8b02c71e788fd6ebd53b44d3b0071b9e8a267f8998c7ca3e744b37db804');
// Version 3 (no scope: sealed under the single family key), the header, commitment length and the
// first bytes of the nonce prefix as the encoder before per-child keys sealed the inputs below (with
// a rosterHead of 0x28 bytes): refused, not read as a version-4 header.
const VERSION_3_ENVELOPE_PREFIX = fromHex('4252574d030000000a66616d2d676f6c64656e00000000000000032828282828282828282828282828282828282828282828282828282828282828101112131415161718191a1b1c1d1e1f000000036d756d00000002000000076368696c642d3100000005746f792d310000019ac29c14000000400020579ab2831dbd86b37af26ae153e1fad1f3');
// The head the envelopes below commit to: epoch 3 of `rosterAtEpoch3` (roster entries of version 6).

const KNOWN_ROSTER_HEAD = '0c862957fe3c6cca2b2be2ea299b1903e30d7e9e744d7aceabb1f4887ccf15bd';
const KNOWN_SIGNING_KEY = '79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664';
/** child-1's scope key (generation 0) in `rosterAtEpoch3`: the key the known envelopes are sealed under. */
const SCOPE_KEY = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i);
/** The family-wide scope's key (generation 0) in `rosterAtEpoch3`. */
const FAMILY_WIDE_KEY = Uint8Array.from({ length: 32 }, (_, i) => 0x60 + i);
const MESSAGE_ID = Uint8Array.from({ length: 16 }, (_, i) => 0x10 + i);
const AUDIO = utf8('OggS pretend opus audio, 40 bytes long!!');
const CAPTION = 'Sleep well 🌙';
const CHUNK = 65_536;

/** The identity whose secret is 0x01 ‖ 01 02 … 40 (Ed25519 seed 01…20, X25519 key 21…40). */
async function knownSender(): Promise<Identity> {
  return importIdentitySecret(Uint8Array.from({ length: 65 }, (_, i) => (i === 0 ? 1 : i)));
}

function knownInputs(identity: Identity, rosterHead: Uint8Array) {
  return {
    familyId: 'fam-golden', epoch: 3, rosterHead, scope: 'child-1', key: SCOPE_KEY, sender: { accountId: 'mum', identity },
    recipients: ['child-1', 'toy-1'], audio: AUDIO, audioType: 'audio/ogg;codecs=opus', durationMs: 1234,
    caption: CAPTION, messageId: MESSAGE_ID, createdAt: 1_764_201_600_000,
  };
}

/** Walks an envelope with a DataView, field by field, as the format in envelope.ts describes it. */
function takeApart(bytes: Uint8Array) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const fixed = (n: number) => bytes.subarray(at, (at += n));
  const u8 = () => view.getUint8(at++);
  const u32 = () => ((at += 4), view.getUint32(at - 4));
  const u64 = () => ((at += 8), view.getUint32(at - 8) * 2 ** 32 + view.getUint32(at - 4));
  const string = () => fromUtf8(fixed(u32()));
  const magic = fromUtf8(fixed(4));
  const version = u8();
  const familyId = string();
  const epoch = u64();
  const rosterHead = fixed(32);
  const scope = string();
  const messageId = fixed(16);
  const senderId = string();
  const recipients = Array.from({ length: u32() }, string);
  const createdAt = u64();
  const header = bytes.subarray(0, at);
  const commitmentAt = at;
  const paddedLength = u32();
  const noncePrefix = fixed(7);
  const chunkCount = Math.ceil(paddedLength / CHUNK);
  const chunkHashes = Array.from({ length: chunkCount }, () => fixed(32));
  const commitment = bytes.subarray(commitmentAt, at);
  const signature = fixed(64);
  const chunks = Array.from({ length: chunkCount }, (_, i) => fixed(Math.min(CHUNK, paddedLength - i * CHUNK) + 16));
  return { magic, version, familyId, epoch, rosterHead, scope, messageId, senderId, recipients, createdAt, header, paddedLength, noncePrefix, chunkHashes, commitment, signature, chunks, rest: bytes.length - at };
}

/** Decrypts every chunk (AES-GCM ‖ tag, nonce = prefix ‖ u32 index ‖ u8 last) with raw WebCrypto and a key from kdf.ts. */
async function rawDecrypt(parts: ReturnType<typeof takeApart>): Promise<Uint8Array> {
  const keyBytes = await hkdfSha256({ ikm: SCOPE_KEY, salt: MESSAGE_ID, info: utf8('burrow/message-key/v1'), length: 32 });
  const key = await crypto.subtle.importKey('raw', new Uint8Array(keyBytes), 'AES-GCM', false, ['decrypt']);
  const plain: Uint8Array[] = [];
  for (const [i, chunk] of parts.chunks.entries()) {
    const iv = new Uint8Array(12);
    iv.set(parts.noncePrefix);
    new DataView(iv.buffer).setUint32(7, i);
    iv[11] = i === parts.chunks.length - 1 ? 1 : 0;
    plain.push(new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: new Uint8Array(parts.header), tagLength: 128 }, key, new Uint8Array(chunk))));
  }
  return concatBytes(...plain);
}

/** The inner record as envelope.ts defines it, built by hand, without its padding. */
function expectedInner(audio = AUDIO): Uint8Array {
  const u32 = (n: number) => Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  const type = utf8('audio/ogg;codecs=opus');
  const caption = utf8(CAPTION);
  return concatBytes(Uint8Array.of(2), u32(type.length), type, u32(1234), Uint8Array.of(1), u32(caption.length), caption, u32(audio.length), audio);
}

/** Checks the chunk hashes and then the signature over header ‖ SHA-256(commitment), with raw WebCrypto. */
async function rawVerify(signingKey: Uint8Array, parts: ReturnType<typeof takeApart>): Promise<boolean> {
  for (const [i, chunk] of parts.chunks.entries()) {
    if (toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(chunk)))) !== toHex(parts.chunkHashes[i]!)) return false;
  }
  const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(parts.commitment)));
  const key = await crypto.subtle.importKey('raw', new Uint8Array(signingKey), 'Ed25519', false, ['verify']);
  return crypto.subtle.verify('Ed25519', key, new Uint8Array(parts.signature), new Uint8Array(concatBytes(utf8('burrow/message/v1'), Uint8Array.of(0), parts.header, hash)));
}

async function rosterAtEpoch3(identity: Identity) {
  const mum = { accountId: 'mum', identity };
  // toy-1, child-1's toy, from a fixed secret too: its child gives the entry a second scope.
  const toy = await importIdentitySecret(Uint8Array.from({ length: 65 }, (_, i) => (i === 0 ? 1 : 0x80 + i)));
  const toys = [{ toyId: 'toy-1', keys: toy.publicKeys, childId: 'child-1' }];
  // Fixed scope keys (nobody leaves, so generation 0 throughout) and times, so each entry's key commitments (and so the head hash) are fixed too.
  const scopeKeys = [{ scope: '', generation: 0, key: FAMILY_WIDE_KEY }, { scope: 'child-1', generation: 0, key: SCOPE_KEY }];
  const at = (epoch: number) => 1_764_201_600_000 + epoch * 60_000;
  // No quiet hours: they would be sealed with a random nonce, and the head hash would change each run.
  const settings = { volumeLimit: 70, retentionDays: 30 };
  const chain: RosterEntry[] = [await createGenesisEntry({ familyId: 'fam-golden', creator: mum, settings, toys, scopeKeys, createdAt: at(0) })];
  for (let epoch = 1; epoch <= 3; epoch++) chain.push(await appendRosterEntry(chain, { signer: mum, members: chain[0]!.members, toys, settings, scopeKeys, createdAt: at(epoch) }));
  const verified = await verifyRoster(chain, { genesisHash: await hashRosterEntry(chain[0]!) });
  if (!verified.ok) throw new Error(verified.code);
  return verified.value;
}

describe('envelope byte layout', () => {
  it('envelopes of versions 1 to 3 are refused as unsupported', async () => {
    const identity = await knownSender();
    const roster = await rosterAtEpoch3(identity);
    expect(toHex(identity.publicKeys.signingKey)).toBe(KNOWN_SIGNING_KEY);
    expect(toHex(roster.headHash)).toBe(KNOWN_ROSTER_HEAD);
    for (const old of [VERSION_1_ENVELOPE, VERSION_2_ENVELOPE]) {
      expect(await openAndVerifyMessage(old, { roster, keyFor: () => SCOPE_KEY })).toEqual({ ok: false, code: 'envelope/unsupported-version' });
      expect(parseEnvelopeHeader(old)).toEqual({ ok: false, code: 'envelope/unsupported-version' });
      expect(parseEnvelopePrefix(old)).toEqual({ ok: false, code: 'envelope/unsupported-version' });
    }
    expect(parseEnvelopeHeader(VERSION_3_ENVELOPE_PREFIX)).toEqual({ ok: false, code: 'envelope/unsupported-version' });
    expect(parseEnvelopePrefix(VERSION_3_ENVELOPE_PREFIX)).toEqual({ ok: false, code: 'envelope/unsupported-version' });
  });

  it('a new envelope has every field where the format puts it, readable with raw WebCrypto alone', async () => {
    const identity = await knownSender();
    const head = (await rosterAtEpoch3(identity)).headHash;
    const sealed = await sealMessage(knownInputs(identity, head));
    const parts = takeApart(sealed.bytes);
    expect(toHex(parts.rosterHead)).toBe(toHex(head));
    expect(parts).toMatchObject({ magic: 'BRWM', version: 4, familyId: 'fam-golden', epoch: 3, scope: 'child-1', senderId: 'mum', recipients: ['child-1', 'toy-1'], createdAt: 1_764_201_600_000, rest: 0 });
    expect(toHex(parts.messageId)).toBe(toHex(MESSAGE_ID));
    // A short message is padded to the floor bucket, in one chunk.
    expect(parts.paddedLength).toBe(16_384);
    expect(parts.chunks.length).toBe(1);
    const plain = await rawDecrypt(parts);
    expect(plain.length).toBe(16_384);
    expect(toHex(plain.subarray(0, expectedInner().length))).toBe(toHex(expectedInner()));
    expect(plain.subarray(expectedInner().length).every((b) => b === 0)).toBe(true);
    expect(await rawVerify(identity.publicKeys.signingKey, parts)).toBe(true);
    // The returned parts are the envelope's own fields.
    expect(toHex(sealed.commitment)).toBe(toHex(parts.commitment));
    expect(toHex(sealed.signature)).toBe(toHex(parts.signature));
    expect(toHex(sealed.ciphertextHash)).toBe(toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(parts.commitment)))));
  });

  it('a message of several chunks has a full first chunk, a shorter last one, and its end flag only on the last', async () => {
    const identity = await knownSender();
    const audio = new Uint8Array(3 * CHUNK + 100).map((_, i) => i % 251);
    const sealed = await sealMessage({ ...knownInputs(identity, fromHex(KNOWN_ROSTER_HEAD)), audio });
    const parts = takeApart(sealed.bytes);
    expect(parts.rest).toBe(0);
    expect(parts.paddedLength).toBe(paddedLengthOf(expectedInner(audio).length));
    const full = Math.floor(parts.paddedLength / CHUNK);
    expect(parts.paddedLength % CHUNK).not.toBe(0);
    expect(parts.chunks.map((c) => c.length)).toEqual([...Array.from({ length: full }, () => CHUNK + 16), parts.paddedLength - full * CHUNK + 16]);
    const plain = await rawDecrypt(parts);
    expect(toHex(plain.subarray(0, expectedInner(audio).length))).toBe(toHex(expectedInner(audio)));
    expect(await rawVerify(identity.publicKeys.signingKey, parts)).toBe(true);
  });

  it('a large message round-trips and leaves the caller’s audio untouched', async () => {
    const identity = await knownSender();
    const audio = new Uint8Array(1536 * 1024 + 7);
    for (let i = 0; i < audio.length; i += 65_536) crypto.getRandomValues(audio.subarray(i, Math.min(audio.length, i + 65_536)));
    const before = audio.slice();
    const sealed = await sealMessage({ ...knownInputs(identity, fromHex(KNOWN_ROSTER_HEAD)), audio });
    expect(bytesEqual(audio, before)).toBe(true);
    const parts = takeApart(sealed.bytes);
    expect(parts.rest).toBe(0);
    const opened = await openAndVerifyMessage(sealed.bytes, { roster: await rosterAtEpoch3(identity), keyFor: (_epoch, scope) => (scope === 'child-1' ? SCOPE_KEY : undefined) });
    expect(opened.ok && bytesEqual(opened.value.audio, audio)).toBe(true);
    // No stretch of the plaintext audio survives in the envelope.
    expect(toHex(sealed.bytes)).not.toContain(toHex(audio.subarray(1000, 1032)));
  });
});
