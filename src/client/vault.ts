/**
 * The account vault from the client's side: the trust anchors of this account's families, sealed
 * under a key derived from its identity (src/crypto/vault.ts) and kept on the server, so that a
 * device the account logs in on for the first time can verify each family's roster from an entry
 * one of the account's own devices verified, instead of trusting whatever the server sends.
 *
 * Reads are cached per API session (one fetch per process or page). Writes are read-merge-write
 * with optimistic revisions: a 409 means another device wrote first, so this one re-reads, merges
 * its anchors into what it finds and writes the revision after it. Merging replaces a family's
 * anchor only by a head that verifies forward from it; otherwise the vault's anchor is kept and the
 * conflict reported.
 *
 * Rollback: a server can serve an older revision of the vault (or none). It cannot forge or alter
 * one, so the worst it gets is an older but genuine anchor, from which the roster must still verify
 * forward; a device that already holds an anchor never replaces it with the vault's. A device with
 * no state of its own cannot tell an older revision from the newest: served one from before a
 * removal, it could accept a chain forked after that anchor until an author's head commitment or
 * another of its devices shows the fork (docs/threat-model.md).
 */
import type { Static } from '@sinclair/typebox';
import { bytesEqual, fromBase64Url, toBase64Url } from '../crypto/bytes.js';
import { decodeRosterEntry, encodeRosterEntry, verifyRoster, type VerifiedRoster } from '../crypto/roster.js';
import { emptyVault, openVault, sealVault, type Vault, type VaultFamily } from '../crypto/vault.js';
import { VaultView } from '../protocol/accounts.js';
import { ApiError, type BurrowApi } from './api.js';
import { ClientError } from './client-error.js';
import type { Me } from './account.js';

/** Who the vault belongs to and how to reach it. */
export interface VaultContext {
  api: BurrowApi;
  me: Me;
}

/** A family whose anchor could not be merged, or a vault write that did not happen; never carries a key. */
export interface VaultProblem {
  familyId?: string;
  code: 'vault/not-forward' | 'vault/unreadable' | 'vault/write-failed';
  message: string;
}

/** A verified roster head to keep in the vault, and how this account came into the family. */
export interface AnchorUpdate {
  roster: VerifiedRoster;
  joinedVia?: string;
}

interface VaultSession {
  accountId: string;
  /** The vault as last read or written, with the server's revision; undefined until read. */
  current?: Promise<Vault>;
  /** Writes run one after another, so two loads in one process do not race each other. */
  queue: Promise<unknown>;
  problems: VaultProblem[];
}

const WRITE_ATTEMPTS = 4;
const sessions = new WeakMap<BurrowApi, VaultSession>();

function sessionOf(ctx: VaultContext): VaultSession {
  let session = sessions.get(ctx.api);
  if (session === undefined || session.accountId !== ctx.me.accountId) {
    session = { accountId: ctx.me.accountId, queue: Promise.resolve(), problems: [] };
    sessions.set(ctx.api, session);
  }
  return session;
}

async function fetchVault(ctx: VaultContext): Promise<Vault> {
  let view: Static<typeof VaultView>;
  try {
    view = await ctx.api.call('GET', '/v1/accounts/me/vault', VaultView);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return emptyVault();
    throw error;
  }
  const opened = await openVault({ identity: ctx.me.identity, accountId: ctx.me.accountId, revision: view.revision, sealed: fromBase64Url(view.sealed) });
  if (!opened.ok) throw new ClientError('client/vault-refused', `the account vault from the server does not open (${opened.code})`);
  return opened.value;
}

/**
 * The account's vault, fetched once per API session and cached (`refresh` fetches again). An empty
 * vault at revision 0 when none is stored; throws `client/vault-refused` when the stored one does not open.
 */
export async function readAccountVault(ctx: VaultContext, options: { refresh?: boolean } = {}): Promise<Vault> {
  const session = sessionOf(ctx);
  if (session.current === undefined || options.refresh === true) {
    const fetching = fetchVault(ctx);
    session.current = fetching;
    // A failed read is not cached: the next call tries again.
    fetching.catch(() => { if (session.current === fetching) delete session.current; });
  }
  return session.current;
}

/** The anchor (`encodeRosterEntry` bytes) the vault holds for a family, if any. */
export async function vaultAnchorOf(ctx: VaultContext, familyId: string): Promise<Uint8Array | undefined> {
  const vault = await readAccountVault(ctx);
  return vault.families[familyId]?.anchor.slice();
}

/** Problems met while merging or writing the vault in this session (oldest first). */
export function vaultProblems(ctx: VaultContext): readonly VaultProblem[] {
  return [...sessionOf(ctx).problems];
}

/** Merges verified heads into `vault` (a copy): per family, see the module comment. */
async function mergeAnchors(vault: Vault, updates: readonly AnchorUpdate[]): Promise<{ vault: Vault; changed: boolean; problems: VaultProblem[] }> {
  const families: Record<string, VaultFamily> = { ...vault.families };
  const problems: VaultProblem[] = [];
  let changed = false;
  for (const { roster, joinedVia } of updates) {
    const familyId = roster.familyId;
    const head = encodeRosterEntry(roster.head);
    const stored = families[familyId];
    const keep = (): void => {
      const via = stored?.joinedVia ?? joinedVia;
      families[familyId] = via === undefined ? { anchor: head } : { anchor: head, joinedVia: via };
      changed = true;
    };
    if (stored === undefined) {
      keep();
      continue;
    }
    if (bytesEqual(stored.anchor, head)) continue;
    const storedEntry = decodeRosterEntry(stored.anchor);
    // The vault's anchor must lie on the chain this device verified: then the head is its descendant.
    const forward = storedEntry.ok ? await verifyRoster(roster.entries, { trustedEntry: storedEntry.value }) : undefined;
    if (forward?.ok !== true) {
      // Never replace an anchor by a head that does not extend it: a later entry stays (this device
      // is behind), and so does one on another branch (a fork, which the vault must not forget).
      const higher = storedEntry.ok && storedEntry.value.epoch > roster.epoch ? 'a later entry' : 'an entry';
      problems.push({ familyId, code: 'vault/not-forward', message: `the vault holds ${higher} that this device's roster does not verify forward from; the vault's anchor was kept` });
      continue;
    }
    keep();
  }
  return { vault: { version: 1, revision: vault.revision, families }, changed, problems };
}

/**
 * Records verified roster heads in the account vault: read (cached), merge, write the next revision;
 * on a conflict re-read and merge again. Returns the problems met; throws only on misuse.
 */
export async function recordAnchors(ctx: VaultContext, updates: readonly AnchorUpdate[]): Promise<VaultProblem[]> {
  const session = sessionOf(ctx);
  const run = session.queue.then(async () => {
    const problems: VaultProblem[] = [];
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      let current: Vault;
      try {
        current = await readAccountVault(ctx, { refresh: attempt > 0 });
      } catch (error) {
        // A vault that does not open is never overwritten blind: the anchors in it would be lost.
        problems.push({ code: 'vault/unreadable', message: error instanceof Error ? error.message : 'the vault could not be read' });
        return problems;
      }
      const merged = await mergeAnchors(current, updates);
      if (!merged.changed) {
        problems.push(...merged.problems);
        return problems;
      }
      const next: Vault = { ...merged.vault, revision: current.revision + 1 };
      try {
        const sealed = await sealVault({ identity: ctx.me.identity, accountId: ctx.me.accountId, vault: next });
        await ctx.api.call('PUT', '/v1/accounts/me/vault', undefined, { revision: next.revision, sealed: toBase64Url(sealed) });
      } catch (error) {
        if (error instanceof ApiError && error.status === 409) continue;
        problems.push({ code: 'vault/write-failed', message: error instanceof Error ? error.message : 'the vault could not be written' });
        return problems;
      }
      session.current = Promise.resolve(next);
      problems.push(...merged.problems);
      return problems;
    }
    problems.push({ code: 'vault/write-failed', message: 'other devices kept writing the vault; it will be written on the next change' });
    return problems;
  });
  session.queue = run.catch(() => undefined);
  const problems = await run;
  session.problems.push(...problems);
  return problems;
}
