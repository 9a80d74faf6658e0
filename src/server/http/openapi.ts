/**
 * The OpenAPI 3.1 document, generated from the route registry (route-registry.ts): each route's
 * TypeBox schemas (JSON Schema 2020-12 compatible), its declared problems and its route config
 * (who may call it, what it documents beyond its schemas), so it can never drift from what the
 * server validates. test/server/api-description.test.ts validates it, lints it and checks real
 * answers against it; a route it cannot describe fails that test with what to add.
 *
 * Why not @fastify/swagger: it produces an equally valid 3.1 document from the same schemas, but
 * everything past the schemas (problems from the error catalogue, the security scheme a route
 * takes, response headers, tags) lives in Burrow's route config and would have to be written as a
 * swagger `transform` anyway, while it keeps a second route list beside the registry that the 405
 * answers and the authorisation matrix already use — for five more runtime dependencies.
 */
import type { FastifySchema } from 'fastify';
import { errorCatalogue, type ErrorCode } from '../../protocol/errors.js';
import { ProblemSchema } from '../../protocol/common.js';
import { SECURE_SESSION_COOKIE, SESSION_COOKIE } from '../sessions/tokens.js';
import type { HeaderDoc, RouteInfo } from './route-registry.js';

type Json = Record<string, unknown>;

function plain(schema: unknown): Json {
  // Drops TypeBox's symbol keys and any functions.
  return JSON.parse(JSON.stringify(schema)) as Json;
}

/** `/v1/sessions/:sessionId` → `/v1/sessions/{sessionId}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** The operationId of a route: its method and path in camel case (`getV1FamiliesFamilyIdMessages`). */
export function operationIdOf(route: Pick<RouteInfo, 'method' | 'url'>): string {
  return `${route.method.toLowerCase()}${route.url.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`;
}

/** Every tag an operation may carry, with what it groups. A route whose tag is missing here fails test/server/api-description.test.ts. */
export const TAGS: Readonly<Record<string, string>> = {
  service: 'Health checks, the API documents and the security contact file',
  accounts: 'Sign-up, sign-in and recovery with OPAQUE (the server never sees a password), the account and its sealed key vault',
  sessions: 'The signed-in account\'s sessions',
  families: 'Families and their signed roster, the chain every member verifies',
  children: 'The children of a family, their names sealed under the family key',
  invites: 'Invitations to join a family',
  messages: 'Voice-message envelopes (sealed on the device), their receipts and approvals',
  live: 'The live channel: a WebSocket of events; its frames are described by the AsyncAPI document at /v1/asyncapi.json',
  pairings: 'Pairing a toy with a family: a relay for the toy and the guardian, who prove the same code to each other',
  toys: 'The toys of a family, and a toy\'s own routes (device token)',
  security: 'Security reports from anyone, the family security log and its signing key',
};

/** Where a path's first segments put a route, when `config.docs.tag` does not say. */
const TAG_OF_SEGMENT: Readonly<Record<string, string>> = {
  'openapi.json': 'service',
  'asyncapi.json': 'service',
  roster: 'families',
  profile: 'families',
  log: 'security',
  toy: 'toys',
};

/** The tag of a route: `config.docs.tag`, else from its path (`/v1/families/:familyId/<tag>…`, `/v1/<tag>…`; outside /v1: service). */
export function tagOf(route: RouteInfo): string {
  if (route.docs.tag !== undefined) return route.docs.tag;
  const parts = route.url.split('/').filter(Boolean);
  if (parts[0] !== 'v1' || parts[1] === undefined) return 'service';
  const segment = parts[1] === 'families' && parts[2] === ':familyId' && parts[3] !== undefined ? parts[3] : parts[1];
  return TAG_OF_SEGMENT[segment] ?? segment;
}

/** Problems every route may answer: bad input, rate limits, a failure, the database or the server going away. */
const COMMON_PROBLEMS: ErrorCode[] = ['burrow/bad-request', 'burrow/rate-limited', 'burrow/internal', 'burrow/unavailable'];
/** Problems of every method whose body Fastify reads (never GET or HEAD). */
const BODY_PROBLEMS: ErrorCode[] = ['burrow/payload-too-large', 'burrow/unsupported-media-type'];
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

const REQUEST_ID: Json = { $ref: '#/components/headers/X-Request-Id' };

/** The headers of an answer: the request id on all, and those a status always or sometimes carries. */
function headersFor(status: number, extra: Readonly<Record<string, HeaderDoc>> = {}): Json {
  const out: Json = status === 101 ? {} : { 'X-Request-Id': REQUEST_ID };
  if (status === 401) out['WWW-Authenticate'] = { $ref: '#/components/headers/WWW-Authenticate' };
  if (status === 429) out['Retry-After'] = { $ref: '#/components/headers/Retry-After' };
  if (status === 503) out['Retry-After'] = { $ref: '#/components/headers/Retry-After-Maybe' };
  for (const [name, header] of Object.entries(extra)) {
    out[name] = { description: header.description, required: header.required === true, schema: { type: 'string' } };
  }
  return out;
}

/** The problem codes a route may answer, by status. */
export function problemCodesOf(route: RouteInfo): Map<number, ErrorCode[]> {
  const codes = new Set<ErrorCode>([...COMMON_PROBLEMS, ...(BODY_METHODS.has(route.method) ? BODY_PROBLEMS : []), ...(route.problems as ErrorCode[])]);
  if (route.authenticated || route.pairingToken) codes.add('burrow/unauthenticated');
  // A session cookie on a request that changes state must come as JSON (a CSRF defence): 403 otherwise.
  if (route.authenticated && route.toys !== 'only' && BODY_METHODS.has(route.method)) codes.add('burrow/forbidden');
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = errorCatalogue[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return new Map([...byStatus].sort((a, b) => a[0] - b[0]));
}

function parameters(schema: FastifySchema | undefined): Json[] {
  const out: Json[] = [];
  for (const [where, part] of [['path', schema?.params], ['query', schema?.querystring]] as const) {
    if (part === undefined) continue;
    const p = plain(part);
    const required = new Set((p.required as string[] | undefined) ?? []);
    for (const [name, s] of Object.entries((p.properties as Record<string, Json> | undefined) ?? {})) {
      out.push({
        name,
        in: where,
        required: where === 'path' || required.has(name),
        ...(typeof s.description === 'string' ? { description: s.description } : {}),
        schema: s,
      });
    }
  }
  return out;
}

function responses(route: RouteInfo): Json {
  const out: Json = {};
  const declared = (route.schema?.response ?? {}) as Record<string, unknown>;
  for (const [status, schema] of Object.entries(declared)) {
    const s = plain(schema);
    const headers = headersFor(Number(status), route.docs.headers);
    out[status] = s.type === 'null'
      ? { description: 'No content', headers }
      : { description: String(s.description ?? 'Success'), headers, content: { 'application/json': { schema: s } } };
  }
  const success = route.docs.success;
  if (success !== undefined) {
    out[String(success.status)] = {
      description: success.description,
      headers: headersFor(success.status, route.docs.headers),
      ...(success.contentType === undefined ? {} : { content: { [success.contentType]: { schema: success.schema ?? {} } } }),
    };
  }
  for (const [status, list] of problemCodesOf(route)) {
    out[String(status)] = {
      description: list.map((c) => `${c}: ${errorCatalogue[c].title}`).join('; '),
      headers: headersFor(status),
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
    };
  }
  out['408'] = { $ref: '#/components/responses/RequestTimeout' };
  return out;
}

const SESSION = [{ sessionBearer: [] }, { sessionCookie: [] }, { secureSessionCookie: [] }];

/** The security requirement of a route: a session, a device token, a pairing token, or none. */
function securityOf(route: RouteInfo): Json[] {
  if (route.pairingToken) return [{ pairingToken: [] }];
  if (!route.authenticated) return [];
  if (route.toys === 'only') return [{ deviceToken: [] }];
  return route.toys === 'also' ? [...SESSION, { deviceToken: [] }] : SESSION;
}

/** Who may call a route, in a sentence for its description. */
function callersOf(route: RouteInfo): string {
  if (route.pairingToken) return 'The toy that started the pairing attempt, with its pairing token as a bearer token.';
  if (!route.authenticated) return route.anonymous ? 'Anyone, without credentials; counted against the tighter per-address limit for strangers.' : 'Anyone, without credentials.';
  if (route.toys === 'only') return 'A toy, with its device token as a bearer token; sessions are refused.';
  const session = 'A signed-in person, with a session token as a bearer token or the session cookie';
  return route.toys === 'also' ? `${session}, or a toy with its device token.` : `${session}; device tokens are refused.`;
}

function describe(route: RouteInfo): string {
  const what = route.docs.description ?? (route.summary === undefined ? '' : `${route.summary}.`);
  return [what, `**Who may call:** ${callersOf(route)}`].filter((part) => part !== '').join('\n\n');
}

/** The operation of a route (without its path). */
function operationOf(route: RouteInfo): Json {
  const operation: Json = {
    operationId: operationIdOf(route),
    ...(route.summary === undefined ? {} : { summary: route.summary }),
    description: describe(route),
    tags: [tagOf(route)],
    parameters: parameters(route.schema),
    responses: responses(route),
    security: securityOf(route),
  };
  if (route.schema?.body !== undefined) {
    operation.requestBody = { required: true, content: { 'application/json': { schema: plain(route.schema.body) } } };
  } else if (BODY_METHODS.has(route.method)) {
    // A bodiless route takes nothing or `{}` (what cookie clients send as application/json); anything else is a 400.
    operation.requestBody = { required: false, content: { 'application/json': { schema: { type: 'object', maxProperties: 0 } } } };
  }
  // A route that streams a raw body (an envelope upload) names its media types in `consumes`.
  const consumes = (route.schema as { consumes?: readonly string[] } | undefined)?.consumes;
  if (consumes !== undefined) {
    operation.requestBody = { required: true, content: Object.fromEntries(consumes.map((type) => [type, { schema: { type: 'string', contentMediaType: type } }])) };
  }
  return operation;
}

/** Builds the document for `routes` (the document's own route included). */
export function buildOpenApiDocument(routes: readonly RouteInfo[], info: { version: string }): Json {
  const paths: Record<string, Json> = {};
  const tags = new Set<string>();
  for (const route of routes) {
    if (route.method === 'HEAD' || route.method === 'OPTIONS') continue;
    const path = openApiPath(route.url);
    paths[path] = { ...(paths[path] ?? {}), [route.method.toLowerCase()]: operationOf(route) };
    tags.add(tagOf(route));
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Burrow',
      version: info.version,
      license: { name: 'AGPL-3.0-or-later', identifier: 'AGPL-3.0-or-later' },
      description: [
        'End-to-end encrypted voice messages for connected toys. The server stores sealed envelopes and signed rosters; every decision a client or toy makes rests on what family members signed, never on a field this API sends.',
        'Every error is an RFC 9457 problem (`application/problem+json`) whose `type` is `urn:burrow:problem:<name>`. Every answer carries `X-Request-Id`; a 401 carries `WWW-Authenticate`, a 429 `Retry-After`. A method a path does not list is answered 405 (`burrow/method-not-allowed`) with `Allow` naming those it does; a request whose headers or body arrive too slowly is answered 408 by the HTTP server, without a body.',
        'Cookie-authenticated requests that change state must be sent as application/json (bodiless ones send `{}`). The live channel (`GET /v1/live`, a WebSocket) is described by the AsyncAPI 3.0 document at `/v1/asyncapi.json`.',
      ].join('\n\n'),
    },
    servers: [{ url: '/' }],
    tags: [...tags].sort().map((name) => ({ name, ...(TAGS[name] === undefined ? {} : { description: TAGS[name] }) })),
    paths,
    components: {
      schemas: { Problem: plain(ProblemSchema) },
      headers: {
        'X-Request-Id': { description: 'The id the server gave this request (never the client\'s); quote it to the operator', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{16}$' } },
        'Retry-After': { description: 'Seconds to wait before trying again (RFC 9110 §10.2.3)', required: true, schema: { type: 'string', pattern: '^[0-9]+$' } },
        'Retry-After-Maybe': { description: 'Seconds to wait before trying again, when the server can tell', required: false, schema: { type: 'string', pattern: '^[0-9]+$' } },
        'WWW-Authenticate': { description: 'The challenge (RFC 9110 §11.6.1): `Bearer realm="burrow"`', required: true, schema: { type: 'string' } },
      },
      responses: {
        RequestTimeout: { description: 'The request\'s headers or body did not arrive in time; answered by the HTTP server, without a body, and the connection is closed' },
      },
      securitySchemes: {
        sessionBearer: { type: 'http', scheme: 'bearer', description: 'A session token (256 bits, base64url) from sign-up, sign-in or recovery with `tokenDelivery: "bearer"`' },
        sessionCookie: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'The session cookie over plain HTTP (loopback and development), set with `tokenDelivery: "cookie"`' },
        secureSessionCookie: { type: 'apiKey', in: 'cookie', name: SECURE_SESSION_COOKIE, description: 'The session cookie over https' },
        deviceToken: { type: 'http', scheme: 'bearer', description: 'A toy\'s device token (`toy.…`), handed over once pairing succeeds' },
        pairingToken: { type: 'http', scheme: 'bearer', description: 'A toy\'s pairing token (`pair.…`) for its own pairing attempt, from `POST /v1/pairings`' },
      },
    },
  };
}
