/**
 * Reading a family's security log and checking it: every event's hash chain from the first event,
 * every signature by the server's log key (pinned on first use, per family, in the key store), and
 * continuity with the last event this client verified, so that an edited, removed, reordered or
 * rewritten event, or a log cut back to before what was already seen, is reported, never shown.
 */
import type { Static } from '@sinclair/typebox';
import { bytesEqual, fromBase64Url } from '../crypto/bytes.js';
import { FAMILY_LOG_GENESIS_HASH, hashFamilyLogEvent, verifyFamilyLogSignature, type FamilyLogKind } from '../crypto/family-log.js';
import { FamilyLogPage } from '../protocol/family-log.js';
import type { ClientContext } from './families.js';
import type { VerifiedRoster } from '../crypto/roster.js';
import { refusalInWords } from './refusal-words.js';

/** Why a log was refused. */
export type FamilyLogFailure =
  /** An event is missing: sequence numbers do not run 1, 2, 3… */
  | 'log/gap'
  /** An event's content or links do not match its hash: it was changed after it was written. */
  | 'log/edited'
  /** A signature is not the pinned log key's, or the server now presents another key. */
  | 'log/bad-signature'
  /** The log ends before, or differs at, the last event this client already verified. */
  | 'log/rolled-back';

/** One verified event. Ids only; the caller turns them into names. */
export interface FamilyLogEvent {
  seq: number;
  at: number;
  kind: FamilyLogKind;
  actorId: string;
  subjectId?: string;
  details: Record<string, string | number>;
}

export type FamilyLogResult = { ok: true; events: FamilyLogEvent[]; logKey: Uint8Array } | { ok: false; code: FamilyLogFailure; seq?: number };

type WireEvent = Static<typeof FamilyLogPage>['events'][number];

const PAGE = 500;

/**
 * Verifies a whole log (events in order from seq 1) against a log key and, when given, the last
 * checkpoint this client verified. Pure: no network, no storage.
 */
export async function verifyFamilyLog(options: {
  familyId: string;
  events: readonly WireEvent[];
  logKey: Uint8Array;
  checkpoint?: { seq: number; hash: Uint8Array };
}): Promise<FamilyLogResult> {
  const { familyId, events, logKey, checkpoint } = options;
  let previous: Uint8Array = FAMILY_LOG_GENESIS_HASH;
  const out: FamilyLogEvent[] = [];
  for (const [index, event] of events.entries()) {
    if (event.seq !== index + 1) return { ok: false, code: 'log/gap', seq: index + 1 };
    if (!bytesEqual(fromBase64Url(event.prevHash), previous)) return { ok: false, code: 'log/edited', seq: event.seq };
    const body = {
      familyId,
      seq: event.seq,
      at: event.at,
      kind: event.kind,
      actorId: event.actorId,
      ...(event.subjectId === undefined ? {} : { subjectId: event.subjectId }),
      details: event.details,
    };
    let hash: Uint8Array;
    try {
      hash = await hashFamilyLogEvent(body, previous);
    } catch {
      return { ok: false, code: 'log/edited', seq: event.seq };
    }
    if (!bytesEqual(hash, fromBase64Url(event.hash))) return { ok: false, code: 'log/edited', seq: event.seq };
    if (!(await verifyFamilyLogSignature({ logKey, hash, signature: fromBase64Url(event.signature) }))) return { ok: false, code: 'log/bad-signature', seq: event.seq };
    if (checkpoint !== undefined && event.seq === checkpoint.seq && !bytesEqual(hash, checkpoint.hash)) return { ok: false, code: 'log/rolled-back', seq: event.seq };
    out.push(body);
    previous = hash;
  }
  if (checkpoint !== undefined && out.length < checkpoint.seq) return { ok: false, code: 'log/rolled-back', seq: out.length };
  return { ok: true, events: out, logKey };
}

/**
 * Reads a family's whole security log (guardians only; the server answers 403 to relatives),
 * verifies it and, on success, remembers its last event and the log key in the key store. The
 * first read pins the key the server presents; later reads accept only that key.
 */
export async function readFamilyLog(ctx: ClientContext, familyId: string): Promise<FamilyLogResult> {
  const events: WireEvent[] = [];
  let served: string | undefined;
  for (;;) {
    const page = await ctx.api.call('GET', `/v1/families/${encodeURIComponent(familyId)}/log?after=${events.length}&limit=${PAGE}`, FamilyLogPage);
    if (served !== undefined && page.logKey !== served) return { ok: false, code: 'log/bad-signature' };
    served = page.logKey;
    events.push(...page.events);
    if (page.events.length < PAGE) break;
    // A page whose last seq is not the count so far has a hole; stop and let verification say where.
    if (page.events.at(-1)?.seq !== events.length) break;
  }
  const state = await ctx.store.loadFamily(familyId);
  const pinned = state?.securityLog;
  if (served === undefined) return { ok: false, code: 'log/bad-signature' };
  const servedKey = fromBase64Url(served);
  if (pinned !== undefined && !bytesEqual(pinned.logKey, servedKey)) {
    // Still check the events against the pinned key: a rewritten history shows as bad signatures.
    const result = await verifyFamilyLog({ familyId, events, logKey: pinned.logKey, checkpoint: pinned });
    return result.ok ? { ok: false, code: 'log/bad-signature' } : result;
  }
  const result = await verifyFamilyLog({ familyId, events, logKey: servedKey, ...(pinned === undefined ? {} : { checkpoint: pinned }) });
  if (!result.ok) return result;
  const last = events.at(-1);
  // Remember only in a family this device already keeps; a bare state would look like an opened family.
  const fresh = await ctx.store.loadFamily(familyId);
  if (fresh !== undefined) {
    await ctx.store.saveFamily({ ...fresh, securityLog: { logKey: servedKey, seq: last?.seq ?? 0, hash: last === undefined ? FAMILY_LOG_GENESIS_HASH : fromBase64Url(last.hash) } });
  }
  return result;
}

/**
 * One event as a sentence, the same for every front end (the web app's security log card, `burrow
 * family log`); a refusal in the words of `refusalInWords`, never as its code. The log holds only
 * ids: `name` may turn one into a name the caller verified (a toy's, a child's), else the id stays.
 */
export function describeLogEvent(event: FamilyLogEvent, me: string, name: (id: string) => string | undefined = () => undefined): string {
  const who = (id: string): string => (id === me ? 'you' : (name(id) ?? id));
  const actor = who(event.actorId);
  const subject = event.subjectId === undefined ? '' : who(event.subjectId);
  const epoch = event.details.epoch === undefined ? '' : ` (epoch ${event.details.epoch})`;
  switch (event.kind) {
    case 'family-created':
      return `${actor} created the family`;
    case 'login':
      return `${actor} logged in (session ${event.details.sessionId ?? '?'})`;
    case 'session-created':
      return `${actor} started a new session by account recovery (session ${event.details.sessionId ?? '?'})`;
    case 'member-added':
      return `${actor} added ${subject} as ${event.details.role ?? 'member'}${epoch}`;
    case 'member-removed':
      return `${actor} removed ${subject}${epoch}`;
    case 'role-changed':
      return `${actor} changed ${subject} from ${event.details.from ?? '?'} to ${event.details.to ?? '?'}${epoch}`;
    case 'toy-added':
      return `${actor} added toy ${subject}${epoch}`;
    case 'toy-removed':
      return `${actor} removed toy ${subject}${epoch}`;
    case 'settings-changed':
      return subject === '' ? `${actor} changed the family settings${epoch}` : `${actor} changed what ${subject} may do${epoch}`;
    case 'message-downloaded':
      return `${actor}${event.details.by === 'toy' ? ' (a toy)' : ''} downloaded message ${subject}`;
    case 'client-refusal': {
      const message = event.details.messageId === undefined ? '' : ` (message ${event.details.messageId})`;
      const code = typeof event.details.code === 'string' ? event.details.code : '';
      return `${refusalInWords(code, actor === 'you' ? 'Your device' : name(event.actorId) ?? `The device ${actor}`)}${epoch}${message}`;
    }
  }
}

/** A toy's latest refusal of a message, from the verified log. */
export interface ToyRefusal {
  toyId: string;
  code: string;
}

/**
 * The refusals toys of the family reported, per message id (the latest of each), from a verified
 * log: what a guardian's conversation shows on the message, in plain words (`refusalInWords`).
 * Only reports by a toy the verified roster holds count; a member's own reports stay in the log.
 */
export function toyRefusalsByMessage(roster: VerifiedRoster, events: readonly FamilyLogEvent[]): Map<string, ToyRefusal> {
  const toys = new Set(roster.entries.flatMap((e) => e.toys.map((t) => t.toyId)));
  const out = new Map<string, ToyRefusal>();
  for (const event of events) {
    const { messageId, code } = event.details;
    if (event.kind !== 'client-refusal' || typeof messageId !== 'string' || typeof code !== 'string' || !toys.has(event.actorId)) continue;
    out.set(messageId, { toyId: event.actorId, code });
  }
  return out;
}
