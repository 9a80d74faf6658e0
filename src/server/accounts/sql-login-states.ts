/**
 * Started OPAQUE logins in the SQL store, so a login started on one node finishes on another. The
 * row is named by SHA-256 of the login id and the state is sealed with AES-256-GCM under a key
 * derived from the cookie key (associated data: the login id), so a database dump alone opens nothing.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac } from 'node:crypto';
import type { Kysely } from 'kysely';
import { concatBytes, fromBase64Url, toBase64Url, utf8 } from '../../crypto/bytes.js';
import type { Database } from '../../storage/database.js';
import type { Clock, Random } from '../deps.js';
import type { LoginStateStore, PendingLogin } from './login-states.js';

/** Every this many logins, expired rows are deleted. */
const PRUNE_EVERY = 200;

function rowId(loginId: string): string {
  return toBase64Url(new Uint8Array(createHash('sha256').update(loginId).digest()));
}

export function createSqlLoginStateStore(db: Kysely<Database>, options: { clock: Clock; random: Random; cookieKey: Uint8Array }): LoginStateStore {
  // A key of its own for this one use (HMAC as a PRF over a fixed label), never the cookie key itself.
  const key = createHmac('sha256', options.cookieKey).update('burrow/login-state/v1').digest();
  let puts = 0;

  function seal(loginId: string, login: PendingLogin): string {
    // A fresh random 96-bit nonce per login; one key seals at most a few million states between
    // key rotations, far below GCM's 2^32 random-nonce limit (NIST SP 800-38D §8.3).
    const nonce = options.random.bytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(utf8(loginId));
    const body = concatBytes(cipher.update(utf8(JSON.stringify(login))), cipher.final(), cipher.getAuthTag());
    return toBase64Url(concatBytes(nonce, body));
  }

  function open(loginId: string, sealed: string): PendingLogin | undefined {
    try {
      const bytes = fromBase64Url(sealed);
      const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, 12));
      decipher.setAAD(utf8(loginId));
      decipher.setAuthTag(bytes.subarray(bytes.length - 16));
      const plain = Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]);
      return JSON.parse(plain.toString('utf8')) as PendingLogin;
    } catch {
      return undefined;
    }
  }

  return {
    async put(loginId, login) {
      const now = options.clock.now();
      if (++puts % PRUNE_EVERY === 0) await db.deleteFrom('login_states').where('expires_at', '<=', now).execute();
      await db.insertInto('login_states').values({ id: rowId(loginId), sealed: seal(loginId, login), expires_at: login.expiresAt }).execute();
    },
    async take(loginId) {
      // DELETE … RETURNING: of two nodes finishing the same login at once, exactly one gets the row.
      const row = await db.deleteFrom('login_states').where('id', '=', rowId(loginId)).returning(['sealed', 'expires_at']).executeTakeFirst();
      if (row === undefined || Number(row.expires_at) <= options.clock.now()) return undefined;
      return open(loginId, row.sealed);
    },
  };
}
