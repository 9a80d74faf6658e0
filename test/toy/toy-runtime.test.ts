/**
 * The toy's decisions without a server: a signed roster built here, envelopes sealed here, and the
 * toy runtime deciding play / wait / refuse (with its reason code) only from its verified roster.
 * Every decision is taken twice, on the whole envelope (`decideMessage`) and on the envelope
 * streamed in small pieces (`openToyStream`, the runtime's path): both must agree, audio included.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { quietUntil } from '../../src/client/quiet-hours.js';
import { decideMessage as decideWhole, loadToyFamilyOffline, openToyStream, sealToyReply, type ToyDecision, type ToyDevice, type ToyFamily, type ToyStreamDecision, type ToyTrust } from '../../src/client/toy-runtime.js';
import { commandWords, fullJitterDelay } from '../../src/cli/toy-commands.js';
import { bytesEqual, concatBytes, randomBytes, toBase64Url } from '../../src/crypto/bytes.js';
import { wavOfPcm16 } from '../../src/protocol/audio-formats.js';
import { remuxWebmOpusToOgg } from '../../src/client/audio/webm-to-ogg.js';
import { queueReply } from '../../src/client/toy/outbox.js';
import { approveMessage, openAndVerifyMessage, sealMessage } from '../../src/crypto/envelope.js';
import { generateScopeKey } from '../../src/crypto/scope-key.js';
import { scopeKeyId, type ScopeKeys } from '../../src/client/key-ring.js';
import { planScopeKeys, ringOf } from '../support/scope-keys.js';
import { generateIdentity, type Identity } from '../../src/crypto/identity.js';
import { appendRosterEntry, createGenesisEntry, encodeRosterEntry, hashRosterEntry, scopeKeyOf, verifyRoster, type FamilySettings, type Member, type RosterEntry, type Toy } from '../../src/crypto/roster.js';

const familyId = 'fam-toy-runtime';
const settings: FamilySettings = { volumeLimit: 40, retentionDays: 30 };
let ids: Record<'mum' | 'gran' | 'aunt' | 'uncle' | 'stranger' | 'toy', Identity>;
let chain: RosterEntry[];
/** Every scope key of every generation, as the family's guardian holds them. */
const keys: ScopeKeys = {};
let device: ToyDevice;
let family: ToyFamily;
let trust: ToyTrust;
/** Signs the entry after the chain's head with `members` and `toys` (fresh keys where the change needs them). */
let appendNext: (members: Member[], toys: Toy[], settings?: FamilySettings) => Promise<RosterEntry>;

/** `bytes` as a download might deliver them, `size` bytes at a time. */
async function* piecesOf(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

/** What two decisions must share: the action, the reason and its times (and, to play, the volume). */
function gist(decision: ToyDecision | ToyStreamDecision): Record<string, unknown> {
  if (decision.action === 'play') return { action: 'play', volume: decision.volume };
  if (decision.action === 'wait' && decision.reason === 'toy/quiet-hours') return { action: 'wait', reason: decision.reason, notBefore: decision.notBefore, createdAt: decision.createdAt };
  return { action: decision.action, reason: decision.reason };
}

/**
 * The toy's decision on a whole envelope, taken again as the runtime takes it, streaming the
 * envelope in 1000-byte pieces: the two must agree, and a message that plays yields the same audio.
 */
async function decideMessage(f: ToyFamily, input: Parameters<typeof decideWhole>[1]): Promise<ToyDecision> {
  const whole = await decideWhole(f, input);
  const streamed = await openToyStream(f, { source: piecesOf(input.envelope, 1000), view: input.view, now: input.now });
  expect(gist(streamed)).toEqual(gist(whole));
  if (whole.action === 'play' && streamed.action === 'play') {
    const pieces: Uint8Array[] = [];
    for (let piece = await streamed.next(); piece.ok && piece.value !== undefined; piece = await streamed.next()) pieces.push(piece.value.slice());
    expect(bytesEqual(concatBytes(...pieces), whole.message.audio)).toBe(true);
  }
  return whole;
}

type WireApproval = { guardianId: string; rosterEpoch: number; rosterHead: string; signature: string };

/** An approval by `guardian` as the server relays it, committing to the head of `chain`. */
async function approvalBy(guardian: 'mum' | 'gran', sealed: { header: { messageId: Uint8Array }; ciphertextHash: Uint8Array }): Promise<WireApproval> {
  const head = chain.at(-1)!;
  const rosterHead = await hashRosterEntry(head);
  const approval = await approveMessage({ guardian: { accountId: guardian, identity: ids[guardian] }, familyId, messageId: sealed.header.messageId, ciphertextHash: sealed.ciphertextHash, rosterEpoch: head.epoch, rosterHead });
  return { guardianId: guardian, rosterEpoch: head.epoch, rosterHead: toBase64Url(rosterHead), signature: toBase64Url(approval.signature) };
}

function member(name: 'mum' | 'gran' | 'aunt' | 'uncle', extra: Partial<Member> = {}): Member {
  return name === 'mum' ? { accountId: 'mum', role: 'guardian', keys: ids.mum.publicKeys } : { accountId: name, role: 'relative', keys: ids[name].publicKeys, children: ['child-1'], ...extra };
}

async function seal(from: 'mum' | 'gran' | 'aunt' | 'uncle' | 'stranger', options: { epoch?: number; recipients?: string[]; signer?: Identity; createdAt?: number; audio?: Uint8Array; audioType?: string } = {}) {
  const epoch = options.epoch ?? chain.at(-1)!.epoch;
  // A message to a child is sealed under the child's scope; a child the roster has no key for gets a key of nobody's.
  const scope = (options.recipients ?? ['child-1'])[0]!;
  const generation = scopeKeyOf(chain[epoch]!, scope)?.generation;
  const sealed = await sealMessage({
    familyId,
    epoch,
    rosterHead: await hashRosterEntry(chain[epoch]!),
    scope,
    key: (generation === undefined ? undefined : keys[scopeKeyId(scope, generation)]) ?? generateScopeKey(),
    sender: { accountId: from, identity: options.signer ?? ids[from] },
    recipients: options.recipients ?? ['child-1'],
    audio: options.audio ?? wavOfPcm16(randomBytes(64), { sampleRate: 8000 }),
    audioType: options.audioType ?? 'audio/wav',
    durationMs: 1000,
    createdAt: options.createdAt ?? Date.now(),
  });
  return { envelope: sealed.bytes, view: { messageId: toBase64Url(sealed.header.messageId), ciphertextHash: toBase64Url(sealed.ciphertextHash), approvals: [] as WireApproval[] }, sealed };
}

beforeAll(async () => {
  const [mum, gran, aunt, uncle, stranger, toy] = await Promise.all(Array.from({ length: 6 }, () => generateIdentity()));
  ids = { mum: mum!, gran: gran!, aunt: aunt!, uncle: uncle!, stranger: stranger!, toy: toy! };
  const signer = { accountId: 'mum', identity: ids.mum };
  const genesisKeys = planScopeKeys(undefined, { members: [member('mum')], toys: [] });
  Object.assign(keys, ringOf(genesisKeys));
  chain = [await createGenesisEntry({ familyId, creator: signer, settings, scopeKeys: genesisKeys })];
  const toys = [{ toyId: 'toy-1', keys: ids.toy.publicKeys, childId: 'child-1' }];
  const append = async (members: Member[], next: Toy[], entrySettings = settings): Promise<RosterEntry> => {
    const scopeKeys = planScopeKeys(chain.at(-1)!, { members, toys: next }, keys);
    Object.assign(keys, ringOf(scopeKeys));
    return appendRosterEntry(chain, { signer, members, toys: next, settings: entrySettings, scopeKeys });
  };
  appendNext = append;
  // Epoch 1: child-1's conversation starts (generation 1), and child-2's, whose relative gran is too.
  const granOfBoth = member('gran', { children: ['child-1', 'child-2'] });
  chain.push(await append([member('mum'), granOfBoth, member('aunt', { needsApproval: true }), member('uncle')], toys));
  // Epoch 2: the uncle is removed: child-1's key starts generation 2.
  chain.push(await append([member('mum'), granOfBoth, member('aunt', { needsApproval: true })], toys));
  device = { toyId: 'toy-1', familyId, identity: ids.toy };
  // The toy holds its child's keys only.
  trust = { anchorHash: await hashRosterEntry(chain[0]!), chain: chain.map(encodeRosterEntry), keys: { [scopeKeyId('child-1', 1)]: keys[scopeKeyId('child-1', 1)]!, [scopeKeyId('child-1', 2)]: keys[scopeKeyId('child-1', 2)]! } };
  family = await loadToyFamilyOffline(device, trust);
});

describe('the toy decides from its verified roster', () => {
  it("plays a guardian's message to its child at the signed volume limit", async () => {
    const { envelope, view } = await seal('mum');
    const decision = await decideMessage(family, { envelope, view, now: Date.now() });
    expect(decision.action).toBe('play');
    expect(decision.action === 'play' && decision.volume).toBe(40);
  });

  it('refuses a forged message, a removed member, a swapped blob and a message for another child; the hash the server describes decides nothing', async () => {
    const now = Date.now();
    const forged = await seal('mum', { signer: ids.stranger });
    expect(await decideMessage(family, { ...forged, now })).toEqual({ action: 'refuse', reason: 'envelope/bad-signature' });
    const stranger = await seal('stranger');
    expect(await decideMessage(family, { ...stranger, now })).toEqual({ action: 'refuse', reason: 'envelope/sender-not-member' });
    const removed = await seal('uncle', { epoch: 1 });
    expect(await decideMessage(family, { ...removed, now })).toEqual({ action: 'refuse', reason: 'envelope/sender-removed' });
    const a = await seal('mum');
    const b = await seal('mum');
    expect(await decideMessage(family, { envelope: b.envelope, view: a.view, now })).toEqual({ action: 'refuse', reason: 'envelope/id-mismatch' });
    expect((await decideMessage(family, { envelope: a.envelope, view: { ...a.view, ciphertextHash: b.view.ciphertextHash }, now })).action).toBe('play');
    const elsewhere = await seal('mum', { recipients: ['child-2'] });
    expect(await decideMessage(family, { ...elsewhere, now })).toEqual({ action: 'refuse', reason: 'toy/not-for-this-toy' });
    const garbage = randomBytes(200);
    expect(await decideMessage(family, { envelope: garbage, view: a.view, now })).toEqual({ action: 'refuse', reason: 'envelope/malformed' });
  });

  it('plays Opus in Ogg and 16-bit PCM WAV, and refuses any other audio, whatever type its sender sealed', async () => {
    const now = Date.now();
    const webm = new Uint8Array(readFileSync(new URL('../client/audio/fixtures/chromium-opus.webm', import.meta.url)));
    const ogg = remuxWebmOpusToOgg(webm);
    expect((await decideMessage(family, { ...(await seal('mum', { audio: ogg, audioType: 'audio/ogg' })), now })).action).toBe('play');
    expect((await decideMessage(family, { ...(await seal('mum')), now })).action).toBe('play');
    const refused = { action: 'refuse', reason: 'toy/audio-format' };
    // WebM as it came from the browser, an MP3, a page: refused, declared as themselves or disguised.
    expect(await decideMessage(family, { ...(await seal('mum', { audio: webm, audioType: 'audio/webm' })), now })).toEqual(refused);
    expect(await decideMessage(family, { ...(await seal('mum', { audio: webm, audioType: 'audio/ogg' })), now })).toEqual(refused);
    expect(await decideMessage(family, { ...(await seal('mum', { audio: Uint8Array.of(0x49, 0x44, 0x33, 4, 0, 0), audioType: 'audio/mpeg' })), now })).toEqual(refused);
    expect(await decideMessage(family, { ...(await seal('mum', { audio: new TextEncoder().encode('<script>'), audioType: 'audio/wav' })), now })).toEqual(refused);
    // Real Ogg/Opus labelled as WAV (or with parameters): the type must name the format exactly.
    expect(await decideMessage(family, { ...(await seal('mum', { audio: ogg, audioType: 'audio/wav' })), now })).toEqual(refused);
    expect(await decideMessage(family, { ...(await seal('mum', { audio: ogg, audioType: 'audio/ogg; codecs=opus' })), now })).toEqual(refused);
  });

  it('refuses to queue a reply that is not Ogg/Opus or 16-bit PCM WAV', async () => {
    const storage = { loadOutbox: () => Promise.resolve([]), putOutbox: () => Promise.reject(new Error('nothing may be queued')) };
    const ctx = { device, storage, log: () => undefined } as unknown as Parameters<typeof queueReply>[0];
    await expect(queueReply(ctx, family, { audio: randomBytes(400), audioType: 'audio/webm', durationMs: 100 }, Date.now())).rejects.toMatchObject({ code: 'client/audio-format' });
  });

  it("waits for a guardian's approval of a relative who needs one, then plays", async () => {
    const { envelope, view, sealed } = await seal('aunt');
    expect(await decideMessage(family, { envelope, view, now: Date.now() })).toEqual({ action: 'wait', reason: 'envelope/needs-approval' });
    // An approval by someone who is not a guardian does not count.
    expect((await decideMessage(family, { envelope, view: { ...view, approvals: [await approvalBy('gran', sealed)] }, now: Date.now() })).action).toBe('wait');
    const real = await approvalBy('mum', sealed);
    expect((await decideMessage(family, { envelope, view: { ...view, approvals: [real] }, now: Date.now() })).action).toBe('play');
    // The same approval claiming a newer head the toy does not hold: it waits for the roster.
    const newerHead = randomBytes(32);
    const newer = await approveMessage({ guardian: { accountId: 'mum', identity: ids.mum }, familyId, messageId: sealed.header.messageId, ciphertextHash: sealed.ciphertextHash, rosterEpoch: 9, rosterHead: newerHead });
    const newerWire = { guardianId: 'mum', rosterEpoch: 9, rosterHead: toBase64Url(newerHead), signature: toBase64Url(newer.signature) };
    expect(await decideMessage(family, { envelope, view: { ...view, approvals: [newerWire] }, now: Date.now() })).toEqual({ action: 'wait', reason: 'envelope/roster-behind' });
    // Moved to another head by the server, it is no approval at all.
    expect(await decideMessage(family, { envelope, view: { ...view, approvals: [{ ...newerWire, rosterHead: toBase64Url(randomBytes(32)) }] }, now: Date.now() })).toEqual({ action: 'wait', reason: 'envelope/needs-approval' });
  });

  it('keeps messages for the end of signed quiet hours, across midnight and in the signed time zone', async () => {
    const quiet: FamilySettings = { ...settings, quietHours: { start: '19:30', end: '07:00', timeZone: 'UTC' } };
    expect(quietUntil(quiet, Date.parse('2026-01-01T12:00:00Z'))).toBeUndefined();
    expect(quietUntil(quiet, Date.parse('2026-01-01T20:00:30Z'))).toBe(Date.parse('2026-01-02T07:00:00Z'));
    expect(quietUntil(quiet, Date.parse('2026-01-02T06:59:00Z'))).toBe(Date.parse('2026-01-02T07:00:00Z'));
    // 20:00 in Berlin (winter, UTC+1) is 19:00 UTC.
    const berlin: FamilySettings = { ...settings, quietHours: { start: '19:30', end: '07:00', timeZone: 'Europe/Berlin' } };
    expect(quietUntil(berlin, Date.parse('2026-01-01T19:00:00Z'))).toBe(Date.parse('2026-01-02T06:00:00Z'));

    // The hours are sealed in epoch 3 under each scope's key: the toy opens its child's copy with the key it holds (generation 2, kept).
    const quietChain = [...chain, await appendNext(chain[2]!.members, chain[2]!.toys, quiet)];
    expect(scopeKeyOf(quietChain[3]!, 'child-1')!.generation).toBe(2);
    const quietFamily = await loadToyFamilyOffline(device, { ...trust, chain: quietChain.map(encodeRosterEntry) });
    chain = quietChain;
    const { envelope, view } = await seal('mum', { createdAt: Date.parse('2026-01-01T21:59:00Z') });
    expect(await decideMessage(quietFamily, { envelope, view, now: Date.parse('2026-01-01T22:00:00Z') })).toEqual({ action: 'wait', reason: 'toy/quiet-hours', notBefore: Date.parse('2026-01-02T07:00:00Z'), createdAt: Date.parse('2026-01-01T21:59:00Z') });
    expect((await decideMessage(quietFamily, { envelope, view, now: Date.parse('2026-01-02T07:00:00Z') })).action).toBe('play');
    chain = quietChain.slice(0, 3);
  });

  it('refuses a message past the signed retention or dated beyond the clock skew, by the toy’s clock', async () => {
    const createdAt = Date.parse('2026-03-01T12:00:00Z');
    const { envelope, view } = await seal('mum', { createdAt });
    const day = 24 * 3600_000;
    expect((await decideMessage(family, { envelope, view, now: createdAt + 30 * day - 1 })).action).toBe('play');
    expect(await decideMessage(family, { envelope, view, now: createdAt + 30 * day })).toEqual({ action: 'refuse', reason: 'envelope/expired' });
    expect(await decideMessage(family, { envelope, view, now: createdAt - 11 * 60_000 })).toEqual({ action: 'refuse', reason: 'envelope/from-the-future' });
    // An expired message from a relative who needs approval is refused, not kept waiting.
    const fromAunt = await seal('aunt', { createdAt });
    expect(await decideMessage(family, { ...fromAunt, now: createdAt + 31 * day })).toEqual({ action: 'refuse', reason: 'envelope/expired' });
  });

  it('stops when the toy is not in its roster with its own keys, and refuses a stored chain that does not verify', async () => {
    const without = [...chain, await appendNext(chain[2]!.members, [])];
    await expect(loadToyFamilyOffline(device, { ...trust, chain: without.map(encodeRosterEntry) })).rejects.toMatchObject({ code: 'client/toy-removed' });
    const other = await generateIdentity();
    await expect(loadToyFamilyOffline({ ...device, identity: other }, trust)).rejects.toMatchObject({ code: 'client/toy-removed' });
    await expect(loadToyFamilyOffline(device, { ...trust, anchorHash: randomBytes(32) })).rejects.toMatchObject({ code: 'client/no-anchor' });
  });

  it("seals a reply into its child's conversation that the family opens as the toy's", async () => {
    const reply = await sealToyReply(family, device, { audio: wavOfPcm16(randomBytes(100), { sampleRate: 8000 }), audioType: 'audio/wav', durationMs: 500, messageId: randomBytes(16), createdAt: Date.now() });
    const verified = await verifyRoster(chain.slice(0, 3), { headHash: trust.anchorHash });
    if (!verified.ok) throw new Error('the chain must verify');
    const opened = await openAndVerifyMessage(reply.envelope, { roster: verified.value, keyFor: (e, scope) => keys[scopeKeyId(scope, scopeKeyOf(chain[e]!, scope)!.generation)] });
    expect(opened.ok && opened.value.sender).toEqual({ kind: 'toy', id: 'toy-1' });
    expect(opened.ok && opened.value.header.recipients).toEqual(['child-1']);
  });
});

describe('the reference toy helpers', () => {
  it('fills command placeholders per word, without a shell', () => {
    expect(commandWords('ffplay -nodisp -autoexit -volume {volume} {file}', { file: '/tmp/a b.wav', volume: '40' })).toEqual(['ffplay', '-nodisp', '-autoexit', '-volume', '40', '/tmp/a b.wav']);
    expect(commandWords(`sh -c 'cat {file} > /dev/null'`, { file: 'x.wav' })).toEqual(['sh', '-c', 'cat x.wav > /dev/null']);
    expect(() => commandWords('   ', {})).toThrow(TypeError);
  });

  it('backs off exponentially with full jitter, capped', () => {
    for (let attempt = 0; attempt < 30; attempt++) {
      const delay = fullJitterDelay(attempt, 500, 30_000);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(Math.min(30_000, 500 * 2 ** attempt));
    }
  });
});
