/**
 * Which server URLs a client may talk to: https anywhere, plain http only to this machine
 * (loopback) unless the user opts in. Over plain http a session token, a device token, OPAQUE
 * messages and envelopes cross the network readable and changeable by anyone on the path; the
 * end-to-end crypto keeps the content safe, but not the tokens.
 */
import { ClientError } from './client-error.js';

/** Whether `hostname` (as `URL.hostname` gives it) names only this machine. */
export function isLoopbackHostname(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) return true;
  return host === '::1' || /^::ffff:127\./.test(host) || /^::ffff:7f[0-9a-f]{2}:/.test(host);
}

/** Options every client entry point that takes a server URL accepts. */
export interface TransportOptions {
  /** Allow plain http to a host beyond loopback (the CLI's `--insecure-http`). */
  allowInsecureHttp?: boolean;
}

/**
 * Throws `client/insecure-http` for a plain-http URL to a host beyond loopback unless the caller
 * opted in. A page's own origin is allowed: its code already came over that channel, so refusing
 * to call it back would protect nothing.
 */
export function assertTransportAllowed(url: URL, options: TransportOptions = {}): void {
  if (url.protocol !== 'http:' && url.protocol !== 'ws:') return;
  if (isLoopbackHostname(url.hostname) || options.allowInsecureHttp === true) return;
  const page = (globalThis as { location?: { origin?: string } }).location?.origin;
  if (page !== undefined && page === url.origin.replace(/^ws/, 'http')) return;
  throw new ClientError(
    'client/insecure-http',
    `refusing plain http to ${url.host}: session tokens would cross the network in clear. Use https://${url.host}, or, on a network you trust, opt in with --insecure-http (library: allowInsecureHttp).`,
  );
}
