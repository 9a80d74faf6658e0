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
