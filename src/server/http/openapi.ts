/**
 * The OpenAPI 3.1 document, generated from the registered routes' TypeBox schemas (JSON Schema
 * 2020-12 compatible), so it can never drift from what the server validates.
 */
import type { FastifySchema } from 'fastify';
import { errorCatalogue, type ErrorCode } from '../../protocol/errors.js';
import { ProblemSchema } from '../../protocol/common.js';
import type { RouteInfo } from './route-registry.js';

type Json = Record<string, unknown>;

function plain(schema: unknown): Json {
  // Drops TypeBox's symbol keys and any functions.
  return JSON.parse(JSON.stringify(schema)) as Json;
}

function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

const COMMON_PROBLEMS: ErrorCode[] = ['burrow/bad-request', 'burrow/rate-limited', 'burrow/internal'];
const BODY_PROBLEMS: ErrorCode[] = ['burrow/payload-too-large', 'burrow/unsupported-media-type'];

function parameters(schema: FastifySchema | undefined): Json[] {
  const out: Json[] = [];
  for (const [where, part] of [['path', schema?.params], ['query', schema?.querystring]] as const) {
    if (part === undefined) continue;
    const p = plain(part);
    const required = new Set((p.required as string[] | undefined) ?? []);
    for (const [name, s] of Object.entries((p.properties as Record<string, Json> | undefined) ?? {})) {
      out.push({ name, in: where, required: where === 'path' || required.has(name), schema: s });
    }
  }
  return out;
}

function responses(route: RouteInfo): Json {
  const out: Json = {};
  const declared = (route.schema?.response ?? {}) as Record<string, unknown>;
  for (const [status, schema] of Object.entries(declared)) {
    const s = plain(schema);
    out[status] = s.type === 'null'
      ? { description: 'No content' }
      : { description: String(s.description ?? 'Success'), content: { 'application/json': { schema: s } } };
  }
  const codes = new Set<ErrorCode>([...COMMON_PROBLEMS, ...(route.schema?.body === undefined ? [] : BODY_PROBLEMS), ...(route.problems as ErrorCode[])]);
  if (route.authenticated) codes.add('burrow/unauthenticated');
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = errorCatalogue[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    out[String(status)] = {
      description: list.map((c) => `${c}: ${errorCatalogue[c].title}`).join('; '),
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
    };
  }
  return out;
}

/** Builds the document for `routes` (the OpenAPI route itself included). */
export function buildOpenApiDocument(routes: readonly RouteInfo[], info: { version: string }): Json {
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    if (route.method === 'HEAD' || route.method === 'OPTIONS') continue;
    const operation: Json = {
      operationId: `${route.method.toLowerCase()}${route.url.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      ...(route.summary === undefined ? {} : { summary: route.summary }),
      tags: [route.url.split('/')[2] ?? 'service'],
      parameters: parameters(route.schema),
      responses: responses(route),
      security: route.authenticated ? [{ bearer: [] }, { cookie: [] }] : [],
    };
    if (route.schema?.body !== undefined) {
      operation.requestBody = { required: true, content: { 'application/json': { schema: plain(route.schema.body) } } };
    }
    // A route that streams a raw body (an envelope upload) names its media types in `consumes`.
    const consumes = (route.schema as { consumes?: readonly string[] } | undefined)?.consumes;
    if (consumes !== undefined) {
      operation.requestBody = { required: true, content: Object.fromEntries(consumes.map((type) => [type, { schema: { type: 'string', contentMediaType: type } }])) };
    }
    const path = openApiPath(route.url);
    paths[path] = { ...(paths[path] ?? {}), [route.method.toLowerCase()]: operation };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Burrow',
      version: info.version,
      description: 'End-to-end encrypted voice messages for connected toys. Every error is an RFC 9457 problem whose type is urn:burrow:problem:<name>. Cookie-authenticated requests that change state must be sent as application/json (bodiless ones send {}).',
    },
    servers: [{ url: '/' }],
    paths,
    components: {
      schemas: { Problem: plain(ProblemSchema) },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'A 256-bit session token, base64url' },
        cookie: { type: 'apiKey', in: 'cookie', name: 'burrow_session' },
      },
    },
  };
}
