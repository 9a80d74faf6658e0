/** Burrow's additions to Fastify's types: route config keys, the request's session, app decorators. */
import type { onRequestAsyncHookHandler } from 'fastify';
import type { ErrorCode } from '../../protocol/errors.js';
import type { AuthContext } from '../sessions/authenticate.js';
import type { AuthenticatedToy } from '../toys/service.js';
import type { RouteDocs, RouteInfo } from './route-registry.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route needs a session; the app authenticates before the body is read. */
    authenticated?: boolean;
    /**
     * Whether a toy's device token is accepted (deny by default): 'also' next to sessions, 'only'
     * instead of them. Needs `authenticated: true`.
     */
    toys?: 'also' | 'only';
    /** A stranger uses this route to get in: the tighter per-address limit applies. */
    anonymous?: boolean;
    /** One line for the OpenAPI document. */
    summary?: string;
    /** Problems this route may answer beyond the common ones (400, 413, 415, 429, 500, 503). */
    problems?: ErrorCode[];
    /** The toy's pairing token (`Authorization: Bearer pair.…`) is what the route checks, in its service. */
    pairingToken?: boolean;
    /** What the API documents say beyond the schemas (src/server/http/openapi.ts). */
    docs?: RouteDocs;
  }

  interface FastifyRequest {
    /** The session and account of an authenticated request; null before `authenticate` ran or on public routes. */
    auth: AuthContext | null;
    /** The toy of a request authenticated by a device token (routes with `config.toys`); null otherwise. */
    toy: AuthenticatedToy | null;
    /**
     * Whether the client reached the server over https: its own TLS, an https public origin, or a
     * trusted proxy's X-Forwarded-Proto. Secure requests get the `__Host-` session cookie and HSTS.
     */
    readonly secureTransport: boolean;
  }

  interface FastifyInstance {
    /** Hook that authenticates a request or answers 401; routes get it by `config: { authenticated: true }`. */
    authenticate: onRequestAsyncHookHandler;
    /** Every route registered so far (see route-registry.ts). */
    burrowRoutes: readonly RouteInfo[];
    /** What `burrow admin` does through the server's own services (never reachable over HTTP). */
    operator: {
      /** Deletes an account as its owner would (families it was the only member of are purged); `burrow/sole-guardian` when others depend on it. */
      deleteAccount(accountId: string): Promise<void>;
    };
    /** Resolves once every Web Push started so far has been handed to its push service (or given up on). */
    pushesSettled(): Promise<void>;
  }
}

export {};
