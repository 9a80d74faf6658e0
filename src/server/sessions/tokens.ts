/** Session tokens: 256 random bits handed to the client once; the server keeps only their SHA-256. */
import { createHash } from 'node:crypto';
import { fromBase64Url, toBase64Url } from '../../crypto/bytes.js';
import type { Random } from '../deps.js';

export const SESSION_COOKIE = 'burrow_session';
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

/** The value of the `burrow_session` cookie in a Cookie header, if any. */
export function sessionCookieOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The Set-Cookie value that hands `token` to a browser: HttpOnly, SameSite=Strict, Secure over TLS. */
export function sessionCookie(token: string, options: { maxAgeMs: number; secure: boolean }): string {
  const maxAge = Math.floor(options.maxAgeMs / 1000);
  return `${SESSION_COOKIE}=${token}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${options.secure ? '; Secure' : ''}`;
}

/** The Set-Cookie value that removes the session cookie. */
export function clearedSessionCookie(options: { secure: boolean }): string {
  return `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${options.secure ? '; Secure' : ''}`;
}
