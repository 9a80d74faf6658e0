/**
 * Records every route the app registers, so that the OpenAPI document, the 405 answer and the
 * tests that walk every route ("bad input to every route") see the same list.
 */
import type { FastifyInstance, FastifySchema, HTTPMethods, RouteOptions } from 'fastify';

/** One registered route, as the rest of the server and the tests see it. */
export interface RouteInfo {
  readonly method: HTTPMethods;
  /** Fastify's path, such as `/v1/sessions/:sessionId`. */
  readonly url: string;
  readonly schema: FastifySchema | undefined;
  /** Whether the route needs a session (it uses `app.authenticate`). */
  readonly authenticated: boolean;
  /** Whether a toy's device token is accepted: 'also' (next to sessions) or 'only'; undefined for none. */
  readonly toys: 'also' | 'only' | undefined;
  readonly summary: string | undefined;
  readonly problems: readonly string[];
  /** Whether strangers use it to get in (`config.anonymous`: the tighter per-address limit). */
  readonly anonymous: boolean;
  /** Whether the route checks a toy's pairing token (`config.pairingToken`). */
  readonly pairingToken: boolean;
  /** What the API documents say beyond the schemas (`config.docs`). */
  readonly docs: RouteDocs;
}

/** A response header as the API documents describe it. */
export interface HeaderDoc {
  readonly description: string;
  /** Sent on every such answer (default: only sometimes). */
  readonly required?: boolean;
}

/** What the OpenAPI document says of a route beyond its schemas (`config.docs`). */
export interface RouteDocs {
  /** Prose for the operation; the document adds who may call it and what it may refuse. */
  readonly description?: string;
  /** The operation's tag, when its path does not give it (see `tagOf` in openapi.ts). */
  readonly tag?: string;
  /** A success the response schemas cannot describe: a body that is not JSON, or a protocol switch. */
  readonly success?: {
    readonly status: number;
    readonly description: string;
    /** The media type of the body; none for an answer without one (a 101). */
    readonly contentType?: string;
    readonly schema?: object;
  };
  /** Headers of the success answer, by name. */
  readonly headers?: Readonly<Record<string, HeaderDoc>>;
}

/** Adds an `onRoute` hook that appends each route (except Fastify's automatic HEAD routes) to `routes`. */
export function recordRoutes(app: FastifyInstance, routes: RouteInfo[]): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const config = route.config ?? {};
    for (const method of methods) {
      if (method === 'HEAD' && methods.length === 1 && routes.some((r) => r.method === 'GET' && r.url === route.url)) continue;
      routes.push(Object.freeze({
        method: method.toUpperCase() as HTTPMethods,
        url: route.url,
        schema: route.schema,
        authenticated: config.authenticated === true,
        toys: config.toys,
        summary: config.summary,
        problems: Object.freeze([...(config.problems ?? [])]),
        anonymous: config.anonymous === true,
        pairingToken: config.pairingToken === true,
        docs: config.docs ?? {},
      }));
    }
  });
}

function patternOf(url: string): RegExp {
  const escaped = url
    .split('/')
    .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${escaped}/?$`);
}

/** The methods registered for the path of `url` (query string ignored). */
export function methodsForPath(routes: readonly RouteInfo[], url: string): HTTPMethods[] {
  const path = url.split('?')[0] ?? url;
  return [...new Set(routes.filter((r) => patternOf(r.url).test(path)).map((r) => r.method))];
}
