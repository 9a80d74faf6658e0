/**
 * `GET /v1/live`: the WebSocket for members (session cookie or bearer token) and toys (device
 * token as a bearer token, or as a subprotocol from a browser: src/protocol/live.ts; a toy's
 * connection ends as soon as it leaves its family or is reset). Browsers send the
 * session cookie with the upgrade, so a cross-site page could open it: when an `Origin` header is
 * present it must be the server's own origin (or the configured public origin), else the upgrade
 * is refused with 403.
 */
import websocket from '@fastify/websocket';
import type { FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { BurrowError } from '../../protocol/errors.js';
import { LIVE_SUBPROTOCOL } from '../../protocol/live.js';
import type { EventBus } from '../../storage/bus/event-bus.js';
import { TopicFanout } from '../../storage/bus/topic-fanout.js';
import type { Config } from '../config.js';
import type { Clock } from '../deps.js';
import type { FamilyAccess } from '../families/access.js';
import { clientKeyOf } from '../http/addresses.js';
import { internalProblem, unavailableProblemOf } from '../http/problems.js';
import { enforceAddressLimit, type RateLimiter } from '../http/rate-limit.js';
import type { BurrowApp } from '../http/types.js';
import type { MessagesService } from '../messages/service.js';
import { presentedToken, principalOf } from '../sessions/authenticate.js';
import type { SessionsService } from '../sessions/service.js';
import type { ToysService } from '../toys/service.js';
import { LiveConnection, type LiveIdentity, type LiveShared } from './connection.js';
import { LiveHub } from './hub.js';

export interface LiveRouteDeps {
  access: FamilyAccess;
  bus: EventBus;
  sessions: SessionsService;
  toys: Pick<ToysService, 'stillValid'>;
  /** Stores the receipts sent over the live channel, as `POST …/receipts` does. */
  messages: Pick<MessagesService, 'addReceipt'>;
  /** The limiter of the HTTP routes: a receipt over the live channel takes from the same per-address budget. */
  limiter: RateLimiter;
  clock: Clock;
  config: Config;
}

/** The origin a browser page of this server has: the configured public origin, or the request's own scheme and host. */
function ownOrigin(request: FastifyRequest, config: Config): string {
  return config.live.publicOrigin ?? `${request.protocol}://${request.host}`;
}

/**
 * The HTTP response object of the upgrade (answered by ws over the raw socket, never by it) is
 * still attached to the socket (`assignSocket`), and with it the request: detached, both can go.
 */
function releaseUpgradeResponse(request: FastifyRequest): void {
  const socket = request.raw.socket as { _httpMessage?: { detachSocket?: (socket: unknown) => void } | null; _peername?: unknown } | null;
  socket?._httpMessage?.detachSocket?.(socket);
  // The client's address, cached on the socket when the request read it (its IP for the rate
  // limits and logs): an object and a string per connection, read again only if asked again.
  if (socket !== null && socket._peername !== undefined) socket._peername = undefined;
}

/** How long shutdown waits for live clients to answer the 1001 close frame. */
const SHUTDOWN_CLOSE_WAIT_MS = 2_000;

/** Closes every socket with 1001 and resolves once all have closed (or the wait is over and the rest are cut). */
async function closeAllGoingAway(clients: Iterable<WebSocket>): Promise<void> {
  const open = [...clients];
  if (open.length === 0) return;
  const closed = open.map((socket) => new Promise<void>((resolve) => {
    if (socket.readyState === socket.CLOSED) return resolve();
    socket.once('close', () => resolve());
  }));
  for (const socket of open) socket.close(1001, 'server shutting down');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(closed), new Promise<void>((resolve) => { timer = setTimeout(resolve, SHUTDOWN_CLOSE_WAIT_MS); })]);
  clearTimeout(timer);
  for (const socket of open) if (socket.readyState !== socket.CLOSED) socket.terminate();
}

/** Each app's hub and topic fan-out, for the tests' heartbeats (`liveHubOf(app).sweep()`) and the metrics. */
const nodes = new WeakMap<object, { hub: LiveHub; topics: TopicFanout }>();

function liveNodeOf(app: BurrowApp): { hub: LiveHub; topics: TopicFanout } {
  const node = nodes.get(app);
  if (node === undefined) throw new Error('this app has no live routes');
  return node;
}

export function liveHubOf(app: BurrowApp): LiveHub {
  return liveNodeOf(app).hub;
}

/** The app's one subscription per bus topic, shared by its live connections. */
export function liveTopicsOf(app: BurrowApp): TopicFanout {
  return liveNodeOf(app).topics;
}

export function registerLiveRoutes(app: BurrowApp, deps: LiveRouteDeps): void {
  const { config } = deps;
  /** Live connections per principal, for the per-principal limit. */
  const connections = new Map<string, number>();
  const release = (principalId: string): void => {
    const left = (connections.get(principalId) ?? 1) - 1;
    if (left <= 0) connections.delete(principalId);
    else connections.set(principalId, left);
  };
  const hub = new LiveHub(config.live.heartbeatMs);
  const topics = new TopicFanout(deps.bus, {
    onSinkError: (error) => app.log.warn({ err: error }, 'a live connection failed to take an event'),
  });
  nodes.set(app, { hub, topics });
  app.addHook('onClose', async () => {
    hub.stop();
    topics.close();
  });
  // One object for every connection of the node: its collaborators and the three callbacks.
  const shared: LiveShared = {
    access: deps.access,
    topics,
    clock: deps.clock,
    limits: config.live,
    async stillAuthorised({ kind, token, principalId, sessionId }) {
      if (kind === 'toy') return deps.toys.stillValid(token, principalId);
      const session = await deps.sessions.authenticate(token);
      return session !== undefined && session.id === sessionId;
    },
    async storeReceipt(connection, { familyId, messageId, receipt }) {
      // The budget every HTTP request of this address takes from, so moving receipts to the live
      // channel does not add to what an address may send.
      await enforceAddressLimit(deps.limiter, connection.clientKey, config.rateLimits.globalPerIp);
      return deps.messages.addReceipt({ id: connection.principalId, kind: connection.kind }, familyId, messageId, receipt);
    },
    problemOf(error, { requestId }) {
      if (error instanceof BurrowError) return error.toProblem();
      const unavailable = unavailableProblemOf(error);
      if (unavailable !== undefined) {
        app.log.warn({ err: error, reqId: requestId }, `a live receipt: ${unavailable.what}`);
        return unavailable.problem.toProblem();
      }
      app.log.error({ err: error, reqId: requestId }, 'a live receipt failed');
      return internalProblem(requestId);
    },
    warn: (message, error, { requestId }) => app.log.warn({ err: error, reqId: requestId }, message),
    closed(connection) {
      hub.remove(connection);
      release(connection.principalId);
    },
  };

  void app.register(websocket, {
    options: {
      maxPayload: config.live.maxFrameBytes,
      // The hub knows every connection; ws's own set would add a 'close' closure per socket.
      clientTracking: false,
      // Only `burrow.v1` is ever selected: a token offered as a subprotocol (src/protocol/live.ts)
      // is read by the authentication hook and never echoed. A client offering neither gets no
      // subprotocol in the answer (older clients and plain `ws` offer none).
      handleProtocols: (offered: Set<string>) => (offered.has(LIVE_SUBPROTOCOL) ? LIVE_SUBPROTOCOL : false),
    },
    // Shutting down, every live connection is closed as "going away" (RFC 6455 §7.4.1: 1001)
    // rather than with no status (1005), so a client knows to reconnect (to another node, or to
    // this one once it is back) and resume; shutdown waits for the closing handshakes at most
    // SHUTDOWN_CLOSE_WAIT_MS, then cuts whatever has not answered.
    async preClose() {
      await closeAllGoingAway(hub.sockets());
    },
  });
  void app.register(async (scope) => {
    scope.route({
      method: 'GET',
      url: '/v1/live',
      config: {
        authenticated: true,
        toys: 'also',
        summary: 'Live events (WebSocket): message, receipt, approval, roster, child and family events with resumable cursors',
        problems: ['burrow/forbidden', 'burrow/rate-limited'],
        docs: {
          description: 'Opens the live channel: send the request as a WebSocket upgrade (RFC 6455) offering the subprotocol `burrow.v1`; a client that cannot set an Authorization header (a browser) offers its token as a second subprotocol, `burrow.token.<base64url of the token>` (never in the URL). A plain GET is answered 400. An `Origin` other than the server\'s own is refused with 403, more live connections than an account may hold with 429. The frames are described by the AsyncAPI 3.0 document at `/v1/asyncapi.json`.',
          success: { status: 101, description: 'Switching Protocols: the connection is now the live channel\'s WebSocket' },
          headers: {
            Upgrade: { description: '`websocket`', required: true },
            Connection: { description: '`Upgrade`', required: true },
            'Sec-WebSocket-Accept': { description: 'The key the client sent, accepted (RFC 6455 §4.2.2)', required: true },
            'Sec-WebSocket-Protocol': { description: '`burrow.v1` when the client offered it; a token offered as a subprotocol is never echoed' },
          },
        },
      },
      onRequest: async (request) => {
        const origin = request.headers.origin;
        if (origin !== undefined && origin !== ownOrigin(request, config)) {
          throw new BurrowError('burrow/forbidden', 'This page may not open the live channel (Origin mismatch)');
        }
      },
      preHandler: async (request) => {
        const principal = principalOf(request);
        if ((connections.get(principal.id) ?? 0) >= config.live.maxConnectionsPerAccount) {
          throw new BurrowError('burrow/rate-limited', 'Too many live connections for this account; close one first', { retryAfter: 30 });
        }
      },
      // A refused upgrade (401, 403, 429) has answered over the raw socket, which no HTTP parser
      // owns any more: end it, so a client that does not hang up cannot hold it open.
      onResponse: async (request) => {
        if (request.headers.upgrade === undefined) return;
        const socket = request.raw.socket;
        socket.end();
        setTimeout(() => socket.destroy(), 1_000).unref();
      },
      handler: async () => {
        throw new BurrowError('burrow/bad-request', 'Open /v1/live as a WebSocket (Upgrade: websocket)');
      },
      wsHandler: (socket, request) => {
        const principal = principalOf(request);
        const token = presentedToken(request)?.token;
        const count = (connections.get(principal.id) ?? 0) + 1;
        connections.set(principal.id, count);
        if (count > config.live.maxConnectionsPerAccount || token === undefined) {
          socket.once('close', () => release(principal.id));
          socket.close(1008, 'too many live connections');
          return;
        }
        // The connection outlives its upgrade request: keep only the few values it needs, not the
        // request (its headers, raw message and logger would otherwise stay alive per connection).
        // The token is a slice of the upgrade's header string and would keep all of it: copied.
        const identity: LiveIdentity = { principalId: principal.id, kind: principal.kind, token: Buffer.from(token, 'utf8').toString('utf8'), sessionId: request.auth?.sessionId, sessionExpiresAt: request.auth === null ? undefined : Number(request.auth.session.expires_at), requestId: request.id, clientKey: clientKeyOf(request.ip) };
        releaseUpgradeResponse(request);
        hub.add(new LiveConnection(socket, identity, shared));
      },
    });
  });
}
