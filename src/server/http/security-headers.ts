/** Security headers on every response, HTML pages and API answers alike. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * For pages of the web app (and the virtual toy page) and their scripts (a service worker takes
 * the CSP of its own script): only our own origin, no framing, no plugins, no inline script or
 * style. 'wasm-unsafe-eval' lets the page compile WebAssembly (OPAQUE ships as WASM); it does not
 * allow eval() or inline scripts. Trusted Types are required for script sinks: innerHTML,
 * eval-like calls and script URLs set from strings throw instead of running, so an injected string
 * can never become script through the DOM (the app builds its DOM with Preact and uses none of
 * them). One policy may be created, once: the app's, which turns only '/sw.js' into a script URL
 * for the service worker's registration (src/web/app/main.tsx).
 */
export const pageContentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
  "require-trusted-types-for 'script'",
  'trusted-types burrow-service-worker',
].join('; ');

/** For JSON and everything else that is not a page: nothing may load at all. */
export const apiContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'";

/**
 * Sets every security header on `reply`; HSTS when the client reached us over https (our own TLS,
 * an https public origin, or a trusted proxy's X-Forwarded-Proto: `request.secureTransport`).
 */
export function applySecurityHeaders(request: FastifyRequest, reply: FastifyReply): void {
  const type = String(reply.getHeader('content-type') ?? '');
  const page = type.startsWith('text/html') || type.startsWith('text/javascript');
  reply.header('content-security-policy', page ? pageContentSecurityPolicy : apiContentSecurityPolicy);
  reply.header('x-content-type-options', 'nosniff');
  reply.header('x-frame-options', 'DENY');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('cross-origin-opener-policy', 'same-origin');
  reply.header('cross-origin-resource-policy', 'same-origin');
  reply.header('permissions-policy', 'microphone=(self), camera=(self), geolocation=(), payment=(), usb=(), interest-cohort=()');
  reply.header('x-request-id', request.id);
  const path = request.url.split('?')[0] ?? '';
  if (path.startsWith('/v1/') || path === '/v1' || path === '/healthz' || path === '/readyz') reply.header('cache-control', 'no-store');
  if (request.secureTransport) reply.header('strict-transport-security', 'max-age=63072000; includeSubDomains');
}

/** Adds the headers to every response in an `onSend` hook. */
export function installSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    applySecurityHeaders(request, reply);
    return payload;
  });
}
