/**
 * What a toy trusts, and how it comes to: its anchor, the roster chain it verified, and the keys
 * of its child's conversation wrapped to it that the signed entries commit to — no other scope's:
 * a toy, the family's least protected device, never holds a key beyond its own child's.
 *
 * Pairing stores the chain verified from the guardian's roster head the PAKE authenticated; every
 * later load verifies from the stored chain's head, so the server can never roll the toy back nor
 * move it to a chain that does not extend what it holds (a fork). The toy must be in the head with
 * its own keys, else it was removed and stops (`client/toy-removed`). A roster that does not
 * verify is refused (and reported to the family security log, best effort).
 */
import { bytesEqual } from '../../crypto/bytes.js';
import type { Identity } from '../../crypto/identity.js';
import { decodeRosterEntry, encodeRosterEntry, openEntrySettings, scopeKeyOf, verifyRoster, type FamilySettings, type RosterAnchor, type RosterEntry, type Toy, type VerifiedRoster } from '../../crypto/roster.js';
import { FamilyView } from '../../protocol/families.js';
import type { BurrowApi } from '../api.js';
import { ClientError } from '../client-error.js';
import { acceptWraps, keyAt, type ScopeKeys } from '../key-ring.js';
import { reportRefusal } from '../refusal-report.js';
import { decodeRosterChain } from '../toys.js';

/** Who the toy is. */
export interface ToyDevice {
  toyId: string;
  familyId: string;
  identity: Identity;
}

/** What the toy trusts: its anchor, the chain it verified, its child's scope keys it unwrapped. Secret. */
export interface ToyTrust {
  /** The roster head hash the pairing authenticated: the stored chain must always hold it. */
  anchorHash: Uint8Array;
  /** The verified chain (encodeRosterEntry bytes), oldest first; absent before the first verification. */
  chain?: Uint8Array[];
  keys: ScopeKeys;
}

/** A family as the toy verified it. */
export interface ToyFamily {
  familyId: string;
  toyId: string;
  childId: string;
  roster: VerifiedRoster;
  self: Toy;
  settings: FamilySettings;
  /** The toy's key of `scope` as the entry of `epoch` names it: only ever its child's scope. */
  keyFor(epoch: number, scope: string): Uint8Array | undefined;
  /** Its child's conversation key at the head. */
  headKey: Uint8Array;
  /** The trust to store (the verified chain and keys). */
  trust: ToyTrust;
}

/** The toy was offered a current key of its child's conversation that its signed roster does not commit to. */
export class KeyRefusedError extends ClientError {
  readonly epoch: number;
  constructor(epoch: number) {
    super('client/key-refused', `the conversation key the server offered for generation ${epoch} is not the one the roster commits to: refused`);
    this.epoch = epoch;
  }
}

function isSelf(toy: Toy | undefined, device: ToyDevice): toy is Toy {
  return toy !== undefined && bytesEqual(toy.keys.signingKey, device.identity.publicKeys.signingKey) && bytesEqual(toy.keys.agreementKey, device.identity.publicKeys.agreementKey);
}

async function familyOf(roster: VerifiedRoster, device: ToyDevice, keys: ScopeKeys, anchorHash: Uint8Array): Promise<ToyFamily> {
  if (roster.familyId !== device.familyId) throw new ClientError('client/roster-untrusted', 'the roster belongs to another family');
  const self = roster.toyAt(roster.epoch, device.toyId);
  if (!isSelf(self, device)) throw new ClientError('client/toy-removed', 'this toy is no longer in its family (a guardian removed it): pair it again');
  const keyFor = (epoch: number, scope: string): Uint8Array | undefined => (scope === self.childId ? keyAt(roster, keys, epoch, scope) : undefined);
  const headKey = keyFor(roster.epoch, self.childId);
  if (headKey === undefined) throw new ClientError('client/no-key', `no key of its child's conversation at epoch ${roster.epoch} was wrapped to this toy`);
  // The quiet hours are sealed in the signed entry, a copy per scope: the toy reads its child's.
  const settings = await openEntrySettings(roster.head, self.childId, headKey);
  if (!settings.ok) throw new ClientError('client/roster-untrusted', `the family's signed settings do not open (${settings.code})`);
  return {
    familyId: roster.familyId,
    toyId: device.toyId,
    childId: self.childId,
    roster,
    self,
    settings: settings.value,
    keyFor,
    headKey,
    trust: { anchorHash, chain: roster.entries.map(encodeRosterEntry), keys },
  };
}

/** The stored chain's entries (verified when they were new; verified again by every caller). */
function storedEntries(chain: readonly Uint8Array[]): RosterEntry[] {
  return chain.map((bytes) => {
    const decoded = decodeRosterEntry(bytes);
    if (!decoded.ok) throw new ClientError('client/no-anchor', "the toy's stored roster is damaged");
    return decoded.value;
  });
}

function anchorOf(trust: ToyTrust): RosterAnchor {
  const last = trust.chain?.at(-1);
  if (last === undefined) return { headHash: trust.anchorHash };
  return { trustedEntry: storedEntries([last])[0]! };
}

// Each refused (toy, generation) is reported once per running toy, not on every refresh.
const reportedKeyRefusals = new Set<string>();
// Each refused roster head is reported once per session (the toy reloads its roster often).
const reportedRefusals = new WeakMap<BurrowApi, string>();

/** Records a refused key in the family security log (best effort: a hostile server can drop it; the refusal is what protects). */
async function reportKeyRefusal(api: BurrowApi, device: ToyDevice, epoch: number): Promise<void> {
  const id = `${device.familyId}/${device.toyId}/${epoch}`;
  if (reportedKeyRefusals.has(id)) return;
  if (await reportRefusal(api, { familyId: device.familyId, code: 'scope-key/commitment-mismatch', epoch })) reportedKeyRefusals.add(id);
}

/** The stored entries before the fetched ones, and the fetched ones: the whole chain, verified from the paired head hash. */
async function mergeChains(stored: Uint8Array[], roster: VerifiedRoster, anchorHash: Uint8Array): Promise<VerifiedRoster> {
  const first = roster.entries[0]!.epoch;
  const chain = [...storedEntries(stored).filter((e) => e.epoch < first), ...roster.entries];
  const verified = await verifyRoster(chain, { headHash: anchorHash });
  if (!verified.ok) throw new ClientError('client/roster-untrusted', `the family's roster does not verify (${verified.code})`);
  return verified.value;
}

/**
 * Loads the family from the server as the toy and verifies it from `trust` (the stored head; the
 * paired head hash only if no chain was ever stored). Unwraps the family keys wrapped to the toy for epochs it is in.
 */
export async function loadToyFamily(api: BurrowApi, device: ToyDevice, trust: ToyTrust): Promise<ToyFamily> {
  const view = await api.call('GET', `/v1/families/${device.familyId}`, FamilyView);
  if (view.familyId !== device.familyId) throw new ClientError('client/roster-untrusted', 'the server answered for another family');
  const chain = decodeRosterChain(view.roster);
  const verified = await verifyRoster(chain, anchorOf(trust));
  if (!verified.ok) {
    // Best effort: guardians see the refusal in the security log; a hostile server can drop it, the
    // toy's refusal stands. Once per refused head and session, as the toy reloads its roster often.
    const epoch = chain.at(-1)?.epoch;
    const key = `${verified.code} ${epoch ?? ''}`;
    if (reportedRefusals.get(api) !== key) {
      reportedRefusals.set(api, key);
      await reportRefusal(api, { familyId: device.familyId, code: verified.code, ...(epoch === undefined ? {} : { epoch }) });
    }
    throw new ClientError('client/roster-untrusted', `the family's roster does not verify from this toy's anchor (${verified.code})`);
  }
  const roster = verified.value;
  // Entries before the stored head were verified when they were new; keep the whole chain for offline use.
  const stored = trust.chain ?? [];
  const fullRoster = roster.entries[0]!.epoch === 0 || stored.length === 0 ? roster : await mergeChains(stored, roster, trust.anchorHash);
  // Only its child's scope, and only keys the signed entries commit to: the toy never opens or
  // seals under a key the server chose, nor takes another child's key the server wraps to it.
  // Earlier generations of its child's key come only from a guardian's device, wrapped at pairing
  // for the messages that waited for the child (src/client/toys.ts).
  const childId = fullRoster.toyAt(fullRoster.epoch, device.toyId)?.childId;
  const { keys, refused } = await acceptWraps({ roster: fullRoster, held: trust.keys, wraps: view.wrappedKeys, recipientId: device.toyId, identity: device.identity, wanted: (scope) => scope === childId });
  const current = childId === undefined ? undefined : scopeKeyOf(fullRoster.head, childId)?.generation;
  for (const { generation } of refused) {
    await reportKeyRefusal(api, device, generation);
    if (generation === current) throw new KeyRefusedError(generation);
  }
  return familyOf(fullRoster, device, keys, trust.anchorHash);
}

/** The family from the toy's stored chain alone (offline): verified again from the paired head hash. */
export async function loadToyFamilyOffline(device: ToyDevice, trust: ToyTrust): Promise<ToyFamily> {
  if (trust.chain === undefined || trust.chain.length === 0) throw new ClientError('client/no-anchor', 'the toy has never verified its family: connect it once');
  const verified = await verifyRoster(storedEntries(trust.chain), { headHash: trust.anchorHash });
  if (!verified.ok) throw new ClientError('client/no-anchor', `the toy's stored roster does not verify (${verified.code})`);
  return familyOf(verified.value, device, { ...trust.keys }, trust.anchorHash);
}
