/**
 * Authentication for every route that needs a session: `Authorization: Bearer <token>` or the
 * `burrow_session` cookie. A cookie-authenticated request that changes state must be sent as
 * `Content-Type: application/json` (bodiless ones send `{}`), or `application/octet-stream` (an
 * envelope upload): browsers cannot send either type cross-site without a CORS preflight, which
 * Burrow never grants — a CSRF defence on top of SameSite=Strict.
 */
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { BurrowError } from '../../protocol/errors.js';
import type { SessionRow } from '../../storage/database.js';
import type { SessionsService } from './service.js';
import { sessionCookieOf } from './tokens.js';

/** Who is calling: their account and the session they used. */
export interface AuthContext {
  readonly accountId: string;
  readonly sessionId: string;
  readonly via: 'bearer' | 'cookie';
  readonly session: SessionRow;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The caller's AuthContext on an authenticated route; throws `burrow/unauthenticated` otherwise. */
export function requireAuth(request: FastifyRequest): AuthContext {
  if (request.auth === null) throw new BurrowError('burrow/unauthenticated');
  return request.auth;
}

/** The token a request presents and how; a bearer header wins over a cookie. */
export function presentedToken(request: FastifyRequest): { token: string; via: 'bearer' | 'cookie' } | undefined {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer ([^\s]+)$/i.exec(header.trim());
    return match?.[1] === undefined ? undefined : { token: match[1], via: 'bearer' };
  }
  const cookie = sessionCookieOf(request.headers.cookie);
  return cookie === undefined || cookie === '' ? undefined : { token: cookie, via: 'cookie' };
}

/** The hook behind `app.authenticate`: sets `request.auth` or answers 401 (403 for a cookie request that could be forged). */
export function createAuthenticateHook(sessions: SessionsService): onRequestAsyncHookHandler {
  return async function authenticate(request) {
    const presented = presentedToken(request);
    if (presented === undefined) throw new BurrowError('burrow/unauthenticated', 'Send a session token as a bearer token or the session cookie');
    const session = await sessions.authenticate(presented.token);
    if (session === undefined) throw new BurrowError('burrow/unauthenticated', 'The session is unknown, ended or expired; sign in again');
    if (presented.via === 'cookie' && !SAFE_METHODS.has(request.method)) {
      const type = request.headers['content-type'] ?? '';
      if (!/^application\/(json|octet-stream)\s*(;|$)/i.test(type)) {
        throw new BurrowError('burrow/forbidden', 'Requests that change state with the session cookie must be sent as application/json (or an envelope as application/octet-stream)');
      }
    }
    request.auth = { accountId: session.account_id, sessionId: session.id, via: presented.via, session };
  };
}
