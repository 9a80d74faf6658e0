/**
 * Request metrics from Fastify hooks: counts, latencies and requests in flight by route template,
 * method and status; 429 refusals; answers that the object store was down. A request no route
 * matched (the web app's pages and files, 404s) is labelled `unmatched`, so a scanner's paths never
 * become label values; methods outside the HTTP set are `other`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Metrics } from './metrics.js';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

interface Started {
  at: number;
  route: string;
  method: string;
  /** Counted in `burrow_http_requests_in_flight` until answered or aborted. */
  inFlight: boolean;
}

function routeOf(request: FastifyRequest): string {
  return request.is404 ? 'unmatched' : request.routeOptions.url ?? 'unmatched';
}

/** Installs the hooks that feed `metrics` from every request of `app`. */
export function installHttpMetrics(app: FastifyInstance, metrics: Metrics): void {
  const started = new WeakMap<FastifyRequest, Started>();
  const leave = (request: FastifyRequest): Started | undefined => {
    const entry = started.get(request);
    if (entry?.inFlight === true) {
      entry.inFlight = false;
      metrics.httpInFlight.dec({ route: entry.route, method: entry.method });
    }
    return entry;
  };

  app.addHook('onRequest', async (request) => {
    const entry: Started = { at: performance.now(), route: routeOf(request), method: METHODS.has(request.method) ? request.method : 'other', inFlight: false };
    // An accepted WebSocket upgrade never ends as an HTTP answer: live connections have their own gauge.
    if (request.headers.upgrade === undefined) {
      entry.inFlight = true;
      metrics.httpInFlight.inc({ route: entry.route, method: entry.method });
    }
    started.set(request, entry);
  });

  app.addHook('onRequestAbort', async (request) => {
    leave(request);
  });

  app.addHook('onResponse', async (request, reply) => {
    const entry = leave(request);
    if (entry === undefined) return;
    const status = reply.statusCode;
    metrics.httpRequests.inc({ route: entry.route, method: entry.method, status: String(status) });
    metrics.httpDuration.observe({ route: entry.route, method: entry.method }, (performance.now() - entry.at) / 1000);
    if (status === 429) metrics.rateLimitRefusals.inc({ route: entry.route });
  });
}
