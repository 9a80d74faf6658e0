/**
 * The family security log, server side: appends one signed, hash-chained event per security event
 * of a family (see src/crypto/family-log.ts) and serves pages of it to the family's guardians.
 * Events hold ids and numbers only: never an email, an address or any content.
 */
import { fromBase64Url, toBase64Url } from '../../crypto/bytes.js';
import { FAMILY_LOG_GENESIS_HASH, hashFamilyLogEvent, type FamilyLogEventBody, type FamilyLogKind } from '../../crypto/family-log.js';
import type { RosterEntry } from '../../crypto/roster.js';
import { isUniqueViolation } from '../../storage/errors.js';
import type { Clock } from '../deps.js';
import type { FamilyAccess } from '../families/access.js';
import { requireGuardian } from '../families/authorize.js';
import type { RateWindow } from '../config.js';
import { enforceLimit, type RateLimiter } from '../http/rate-limit.js';
import { BurrowError } from '../../protocol/errors.js';
import type { LogSigner } from './log-signer.js';
import type { FamilyLogRepository, FamilyLogTable } from './repository.js';

/** What a service reports: who did what to whom. */
export interface SecurityEvent {
  kind: FamilyLogKind;
  actorId: string;
  subjectId?: string;
  details?: Record<string, string | number>;
}

/** The seam the accounts, families and messages services call. */
export interface SecurityLog {
  /** Appends one event to a family's log; throws if it could not be stored. */
  append(familyId: string, event: SecurityEvent): Promise<void>;
  /** A member logged in or got a new session: one event in each family they belong to. Never throws. */
  sessionStarted(accountId: string, kind: 'login' | 'session-created', sessionId: string): Promise<void>;
  /** A family was created. Never throws. */
  familyCreated(familyId: string, actorId: string): Promise<void>;
  /** A roster entry was appended: the events its difference from the previous head makes. Never throws. */
  rosterChanged(familyId: string, actorId: string, change: { before: RosterEntry; after: RosterEntry }): Promise<void>;
  /** Forgets a deleted family's log. */
  forgetFamily(familyId: string): Promise<void>;
}

/** A security log that records nothing (for services built without one). */
export const noSecurityLog: SecurityLog = {
  append: async () => {},
  sessionStarted: async () => {},
  familyCreated: async () => {},
  rosterChanged: async () => {},
  forgetFamily: async () => {},
};

export interface FamilyLogEventView {
  seq: number;
  at: number;
  kind: FamilyLogKind;
  actorId: string;
  subjectId?: string;
  details: Record<string, string | number>;
  prevHash: string;
  hash: string;
  signature: string;
}

const MAX_APPEND_ATTEMPTS = 8;
/** Families whose last log event an append remembers (the most recently appended to). */
const MAX_REMEMBERED_TAILS = 10_000;
export const MAX_LOG_PAGE = 500;
/** Refusal reports one member or toy may add to one family's log per hour. */
export const REFUSAL_REPORTS_PER_HOUR: RateWindow = { max: 30, windowMs: 60 * 60 * 1000 };

/** The events a roster entry makes, compared with the head before it. */
export function rosterChangeEvents(actorId: string, change: { before: RosterEntry; after: RosterEntry }): SecurityEvent[] {
  const { before, after } = change;
  const epoch = after.epoch;
  const out: SecurityEvent[] = [];
  const oldMembers = new Map(before.members.map((m) => [m.accountId, m]));
  const newMembers = new Map(after.members.map((m) => [m.accountId, m]));
  for (const [id, member] of newMembers) {
    const old = oldMembers.get(id);
    if (old === undefined) {
      out.push({ kind: 'member-added', actorId, subjectId: id, details: { epoch, role: member.role } });
    } else if (old.role !== member.role) {
      out.push({ kind: 'role-changed', actorId, subjectId: id, details: { epoch, from: old.role, to: member.role } });
    } else if (JSON.stringify([...(old.children ?? [])].sort()) !== JSON.stringify([...(member.children ?? [])].sort()) || (old.needsApproval === true) !== (member.needsApproval === true)) {
      out.push({ kind: 'settings-changed', actorId, subjectId: id, details: { epoch, setting: 'member-permissions' } });
    }
  }
  for (const id of oldMembers.keys()) if (!newMembers.has(id)) out.push({ kind: 'member-removed', actorId, subjectId: id, details: { epoch } });
  const oldToys = new Set(before.toys.map((t) => t.toyId));
  const newToys = new Set(after.toys.map((t) => t.toyId));
  for (const toy of after.toys) if (!oldToys.has(toy.toyId)) out.push({ kind: 'toy-added', actorId, subjectId: toy.toyId, details: { epoch, childId: toy.childId } });
  for (const toy of before.toys) if (!newToys.has(toy.toyId)) out.push({ kind: 'toy-removed', actorId, subjectId: toy.toyId, details: { epoch } });
  if (clearSettings(before) !== clearSettings(after)) out.push({ kind: 'settings-changed', actorId, details: { epoch, setting: 'family-settings' } });
  return out;
}

/**
 * The settings as the server can compare them: the clear ones and whether quiet hours are set. The
 * hours themselves are sealed (a fresh sealing in every entry), so a change of hours alone is not
 * the server's to see.
 */
function clearSettings(entry: RosterEntry): string {
  const s = entry.settings;
  return JSON.stringify([s.volumeLimit, s.retentionDays, s.toyToToy === true, s.sealedQuietHours !== undefined]);
}

function toView(row: FamilyLogTable): FamilyLogEventView {
  return {
    seq: row.seq,
    at: row.at,
    kind: row.kind as FamilyLogKind,
    actorId: row.actor_id,
    ...(row.subject_id === null ? {} : { subjectId: row.subject_id }),
    details: JSON.parse(row.details) as Record<string, string | number>,
    prevHash: row.prev_hash,
    hash: row.hash,
    signature: row.signature,
  };
}

export interface SecurityLogDeps {
  repository: FamilyLogRepository;
  access: FamilyAccess;
  signer: LogSigner;
  clock: Clock;
  /** Counts reports per reporter and family, so a member cannot flood the log that guardians read. */
  limiter: RateLimiter;
  /** Where an event that could not be stored is reported (without its details). */
  warn(message: string, error: unknown): void;
}

/** What a member's client or a toy reports it refused: a code and, when it concerns one, the epoch and message. */
export interface RefusalReportInput {
  code: string;
  epoch?: number;
  messageId?: string;
}

export type SecurityLogService = SecurityLog & {
  read(accountId: string, familyId: string, after: number, limit: number): Promise<{ familyId: string; events: FamilyLogEventView[]; logKey: string }>;
  /** Appends a `client-refusal` event for a member or toy of the family (404 for anyone else; rate-limited per reporter). */
  recordRefusal(reporter: { id: string }, familyId: string, report: RefusalReportInput): Promise<void>;
  readonly logKey: string;
};

export function createSecurityLog(deps: SecurityLogDeps): SecurityLogService {
  const { repository, signer, clock } = deps;
  const logKey = toBase64Url(signer.publicKey);

  /**
   * The last event appended per family, as this process last saw it: a hint for the next append,
   * which `appendAfter` checks against the stored log in the same statement, so a stale hint (an
   * append on another node, a family deleted) costs a retry on the full path, never a fork.
   */
  const tails = new Map<string, { seq: number; hash: Uint8Array }>();

  function remember(familyId: string, seq: number, hash: Uint8Array): void {
    const known = tails.get(familyId);
    if (known !== undefined && known.seq >= seq) return;
    tails.delete(familyId);
    if (tails.size >= MAX_REMEMBERED_TAILS) tails.delete(tails.keys().next().value!);
    tails.set(familyId, { seq, hash });
  }

  /** The signed, hash-chained row of `event` after the event `last` (undefined: the first). */
  async function chainedRow(familyId: string, event: SecurityEvent, last: { seq: number; hash: Uint8Array } | undefined): Promise<{ row: FamilyLogTable; hash: Uint8Array }> {
    const previous = last === undefined ? FAMILY_LOG_GENESIS_HASH : last.hash;
    const body: FamilyLogEventBody = {
      familyId,
      seq: (last?.seq ?? 0) + 1,
      at: clock.now(),
      kind: event.kind,
      actorId: event.actorId,
      ...(event.subjectId === undefined ? {} : { subjectId: event.subjectId }),
      details: event.details ?? {},
    };
    const hash = await hashFamilyLogEvent(body, previous);
    const row: FamilyLogTable = {
      family_id: familyId,
      seq: body.seq,
      at: body.at,
      kind: body.kind,
      actor_id: body.actorId,
      subject_id: body.subjectId ?? null,
      details: JSON.stringify(body.details),
      prev_hash: toBase64Url(previous),
      hash: toBase64Url(hash),
      signature: toBase64Url(signer.signHash(hash)),
    };
    return { row, hash };
  }

  /** One statement after the remembered tail; false when there is none or the log has moved on. */
  async function appendAfterRemembered(familyId: string, event: SecurityEvent): Promise<boolean> {
    const last = tails.get(familyId);
    if (last === undefined) return false;
    const { row, hash } = await chainedRow(familyId, event, last);
    let appended: boolean;
    try {
      appended = await repository.appendAfter(row);
    } catch (error) {
      tails.delete(familyId);
      if (isUniqueViolation(error)) return false;
      throw error;
    }
    if (!appended) {
      tails.delete(familyId);
      return false;
    }
    remember(familyId, row.seq, hash);
    return true;
  }

  async function appendOnce(familyId: string, event: SecurityEvent): Promise<void> {
    const appended = await repository.transaction(async (trx) => {
      // No log for a family that is gone: its rows would outlive it.
      if (!(await trx.lockFamily(familyId))) return undefined;
      const last = await trx.last(familyId);
      const { row, hash } = await chainedRow(familyId, event, last === undefined ? undefined : { seq: last.seq, hash: fromBase64Url(last.hash) });
      await trx.insert(row);
      return { seq: row.seq, hash };
    });
    if (appended !== undefined) remember(familyId, appended.seq, appended.hash);
  }

  async function append(familyId: string, event: SecurityEvent): Promise<void> {
    if (await appendAfterRemembered(familyId, event)) return;
    // Two appends racing for one seq: the primary key refuses the second, which reads the new tail and retries.
    for (let attempt = 1; ; attempt++) {
      try {
        await appendOnce(familyId, event);
        return;
      } catch (error) {
        if (!isUniqueViolation(error) || attempt >= MAX_APPEND_ATTEMPTS) throw error;
      }
    }
  }

  async function quietly(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      deps.warn('a family security log event was not stored', error);
    }
  }

  return {
    logKey,
    append,
    async sessionStarted(accountId, kind, sessionId) {
      await quietly(async () => {
        for (const familyId of await repository.familiesOf(accountId)) await append(familyId, { kind, actorId: accountId, details: { sessionId } });
      });
    },
    async familyCreated(familyId, actorId) {
      await quietly(() => append(familyId, { kind: 'family-created', actorId }));
    },
    async rosterChanged(familyId, actorId, change) {
      await quietly(async () => {
        for (const event of rosterChangeEvents(actorId, change)) await append(familyId, event);
      });
    },
    async forgetFamily(familyId) {
      tails.delete(familyId);
      await repository.deleteFamily(familyId);
    },
    async recordRefusal(reporter, familyId, report) {
      if ((await deps.access.membership(familyId, reporter.id)) === undefined) throw new BurrowError('burrow/not-found', 'No such family');
      await enforceLimit(deps.limiter, `refusals:${familyId}:${reporter.id}`, REFUSAL_REPORTS_PER_HOUR);
      const details: Record<string, string | number> = { code: report.code };
      if (report.epoch !== undefined) details.epoch = report.epoch;
      if (report.messageId !== undefined) details.messageId = report.messageId;
      await append(familyId, { kind: 'client-refusal', actorId: reporter.id, details });
    },
    async read(accountId, familyId, after, limit) {
      await requireGuardian(deps.access, familyId, accountId);
      const rows = await repository.page(familyId, after, Math.min(Math.max(limit, 1), MAX_LOG_PAGE));
      return { familyId, events: rows.map(toView), logKey };
    },
  };
}
