/** Session tokens: 256 random bits handed to the client once; the server keeps only their SHA-256. */
import { createHash } from 'node:crypto';
import { fromBase64Url, toBase64Url } from '../../crypto/bytes.js';
import type { Random } from '../deps.js';

/** The session cookie's name over plain HTTP (loopback, development). */
export const SESSION_COOKIE = 'burrow_session';
/**
 * Its name over https: the `__Host-` prefix makes browsers accept it only with Secure, Path=/ and
 * no Domain (RFC 6265bis §4.1.3.2), so neither a sibling subdomain nor a plain-HTTP page can plant
 * or overwrite it.
 */
export const SECURE_SESSION_COOKIE = '__Host-burrow_session';

function cookieName(secure: boolean): string {
  return secure ? SECURE_SESSION_COOKIE : SESSION_COOKIE;
}
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** A fresh token, base64url of 32 random bytes. */
export function newSessionToken(random: Random): string {
  return toBase64Url(random.bytes(32));
}

/** base64url(SHA-256(token bytes)); undefined when `token` is not a well-formed token. */
export function hashSessionToken(token: string): string | undefined {
  if (!TOKEN_PATTERN.test(token)) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = fromBase64Url(token);
  } catch {
    return undefined;
  }
  if (bytes.length !== 32) return undefined;
  return toBase64Url(new Uint8Array(createHash('sha256').update(bytes).digest()));
}

/**
 * The session cookie's value in a Cookie header, if any. Over https only the `__Host-` cookie
 * counts: a plain `burrow_session` there could have been planted by a sibling subdomain.
 */
export function sessionCookieOf(header: string | undefined, options: { secure: boolean }): string | undefined {
  if (header === undefined) return undefined;
  const name = cookieName(options.secure);
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The Set-Cookie value that hands `token` to a browser: HttpOnly, SameSite=Strict; over https `__Host-` and Secure. */
export function sessionCookie(token: string, options: { maxAgeMs: number; secure: boolean }): string {
  const maxAge = Math.floor(options.maxAgeMs / 1000);
  return `${cookieName(options.secure)}=${token}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${options.secure ? '; Secure' : ''}`;
}

/** The Set-Cookie value that removes the session cookie. */
export function clearedSessionCookie(options: { secure: boolean }): string {
  return `${cookieName(options.secure)}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${options.secure ? '; Secure' : ''}`;
}
