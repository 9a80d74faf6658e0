/**
 * Authentication for every route that needs a session: `Authorization: Bearer <token>` or the
 * `burrow_session` cookie. A cookie-authenticated request that changes state must be sent as
 * `Content-Type: application/json` (bodiless ones send `{}`), or `application/octet-stream` (an
 * envelope upload): browsers cannot send either type cross-site without a CORS preflight, which
 * Burrow never grants — a CSRF defence on top of SameSite=Strict.
 */
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { BurrowError } from '../../protocol/errors.js';
import { tokenOfSubprotocols } from '../../protocol/live.js';
import type { SessionRow } from '../../storage/database.js';
import type { Principal } from '../principal.js';
import type { AuthenticatedToy } from '../toys/service.js';
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

/**
 * The token a request presents and how; a bearer header wins over a token offered as a WebSocket
 * subprotocol (only on an upgrade: browsers cannot set headers on a WebSocket), which wins over a
 * cookie. A subprotocol token counts as a bearer token: a page had to hold it to send it.
 */
export function presentedToken(request: FastifyRequest): { token: string; via: 'bearer' | 'cookie' } | undefined {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer ([^\s]+)$/i.exec(header.trim());
    return match?.[1] === undefined ? undefined : { token: match[1], via: 'bearer' };
  }
  const offered = request.headers['sec-websocket-protocol'];
  if (offered !== undefined && request.headers.upgrade?.toLowerCase() === 'websocket') {
    const token = tokenOfSubprotocols(offered);
    if (token !== undefined) return { token, via: 'bearer' };
  }
  const cookie = sessionCookieOf(request.headers.cookie, { secure: request.secureTransport });
  return cookie === undefined || cookie === '' ? undefined : { token: cookie, via: 'cookie' };
}

/** The caller of a route that accepts members and toys (`config: { toys: 'also' }`); 401 otherwise. */
export function principalOf(request: FastifyRequest): Principal {
  if (request.toy !== null) return { id: request.toy.toyId, kind: 'toy', membership: request.toy.membership };
  return { id: requireAuth(request).accountId, kind: 'member' };
}

/** The toy calling a toy route; throws `burrow/unauthenticated` otherwise. */
export function requireToy(request: FastifyRequest): AuthenticatedToy {
  if (request.toy === null) throw new BurrowError('burrow/unauthenticated', 'Send the toy’s device token as a bearer token');
  return request.toy;
}

/** Device tokens start with this; they are bearer tokens only (never a cookie). */
const DEVICE_TOKEN_PREFIX = 'toy.';

/**
 * The hook behind `app.authenticate`: sets `request.auth` (a session) or `request.toy` (a device
 * token), or answers 401 (403 for a cookie request that could be forged). Deny by default: a device
 * token works only on routes marked `config: { toys: 'also' | 'only' }`, a session never on `'only'`.
 */
export function createAuthenticateHook(sessions: SessionsService, toys?: { authenticateDevice(token: string): Promise<AuthenticatedToy | undefined> }): onRequestAsyncHookHandler {
  return async function authenticate(request) {
    const presented = presentedToken(request);
    const accepts = request.routeOptions.config.toys;
    if (presented?.via === 'bearer' && presented.token.startsWith(DEVICE_TOKEN_PREFIX)) {
      if (accepts === undefined || toys === undefined) throw new BurrowError('burrow/unauthenticated', 'A toy’s device token is not accepted on this route');
      const toy = await toys.authenticateDevice(presented.token);
      if (toy === undefined) throw new BurrowError('burrow/unauthenticated', 'The device token is unknown or revoked, or the toy is no longer in its family');
      request.toy = toy;
      return;
    }
    if (accepts === 'only') throw new BurrowError('burrow/unauthenticated', 'Only a toy’s device token is accepted on this route');
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
