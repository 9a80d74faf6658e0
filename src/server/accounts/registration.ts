/**
 * Who may create an account (config.registration): `open`, `invite` — only someone holding an open
 * family invite (its id, which only the link carries) or a one-time code an operator issued — or
 * `closed`. Codes are 32 random bytes, shown once and stored as SHA-256; a code is spent when the
 * account it let in is created, and given back if that creation fails.
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { toBase64Url } from '../../crypto/bytes.js';
import { BurrowError } from '../../protocol/errors.js';
import type { Database } from '../../storage/database.js';
import type { RegistrationMode } from '../config.js';
import type { Clock, Random } from '../deps.js';
import { newId } from '../deps.js';

/** Operator codes look like `reg_` and 43 base64url characters (32 bytes). */
export const REGISTRATION_CODE_PATTERN = '^reg_[A-Za-z0-9_-]{43}$';
const CODE = new RegExp(REGISTRATION_CODE_PATTERN);
const INVITE_ID = /^[A-Za-z0-9_-]{22}$/;

export interface RegistrationGate {
  readonly mode: RegistrationMode;
  /** Throws `burrow/registration-closed` unless `pass` lets someone register now. */
  check(pass: string | undefined): Promise<void>;
  /** As `check`, and spends an operator code; returns a function that gives it back. */
  admit(pass: string | undefined): Promise<() => Promise<void>>;
}

function hashCode(code: string): string {
  return toBase64Url(new Uint8Array(createHash('sha256').update(code).digest()));
}

const closed = (mode: RegistrationMode): BurrowError =>
  new BurrowError('burrow/registration-closed', mode === 'closed' ? 'This server is not taking new accounts' : 'Open your family invite link to sign up, or ask the operator of this server for a registration code');

export function createRegistrationGate(options: { mode: RegistrationMode; db: Kysely<Database>; clock: Clock }): RegistrationGate {
  const { mode, db, clock } = options;

  async function inviteIsOpen(inviteId: string): Promise<boolean> {
    const invite = await db.selectFrom('invites').select(['status', 'expires_at']).where('id', '=', inviteId).executeTakeFirst();
    return invite !== undefined && invite.status === 'open' && Number(invite.expires_at) > clock.now();
  }

  async function codeIsUsable(code: string): Promise<boolean> {
    const row = await db.selectFrom('registration_codes').select(['expires_at', 'used_at']).where('code_hash', '=', hashCode(code)).executeTakeFirst();
    return row !== undefined && row.used_at === null && Number(row.expires_at) > clock.now();
  }

  async function check(pass: string | undefined): Promise<void> {
    if (mode === 'open') return;
    if (mode === 'closed' || pass === undefined) throw closed(mode);
    if (CODE.test(pass) ? await codeIsUsable(pass) : INVITE_ID.test(pass) && (await inviteIsOpen(pass))) return;
    throw closed(mode);
  }

  return {
    mode,
    check,
    async admit(pass) {
      await check(pass);
      if (mode === 'open' || pass === undefined || !CODE.test(pass)) return async () => {};
      const hash = hashCode(pass);
      // Spent in one statement: of two registrations racing with one code, one wins.
      const spent = await db.updateTable('registration_codes').set({ used_at: clock.now() }).where('code_hash', '=', hash).where('used_at', 'is', null).where('expires_at', '>', clock.now()).executeTakeFirst();
      if (Number(spent.numUpdatedRows) !== 1) throw closed(mode);
      return async () => {
        await db.updateTable('registration_codes').set({ used_at: null }).where('code_hash', '=', hash).execute();
      };
    },
  };
}

/** Issues a one-time registration code valid for `hours`; only its hash is stored. */
export async function issueRegistrationCode(options: { db: Kysely<Database>; clock: Clock; random: Random; hours: number }): Promise<{ code: string; expiresAt: number }> {
  const code = `reg_${toBase64Url(options.random.bytes(32))}`;
  const now = options.clock.now();
  const expiresAt = now + options.hours * 3600_000;
  await options.db.insertInto('registration_codes').values({ code_hash: hashCode(code), created_at: now, expires_at: expiresAt, used_at: null }).execute();
  await recordOperatorAction(options, 'code-issued', null);
  return { code, expiresAt };
}

/** Appends one line to the operator log. */
export async function recordOperatorAction(options: { db: Kysely<Database>; clock: Clock; random: Random }, action: 'code-issued' | 'account-disabled' | 'account-enabled' | 'account-deleted' | 'emails-shown', accountId: string | null): Promise<void> {
  await options.db.insertInto('operator_log').values({ id: newId(options.random), at: options.clock.now(), action, account_id: accountId }).execute();
}
