/**
 * Everything a browser context sends: each request's URL, headers and body
 * (`postDataBuffer`), and each WebSocket frame it sends, so a test can search all of it for what
 * must never leave the page in the clear. Also a probe of the page's WebCrypto that notes every
 * private or secret key the page creates or imports, so the search can include them.
 */
import type { BrowserContext, Page } from 'playwright-core';

/** One thing a page sent. */
export interface Sent {
  kind: 'request' | 'websocket';
  method: string;
  url: string;
  /** Headers, one `name: value` per line (the session cookie included: it is not a needle). */
  headers: string;
  body: Uint8Array;
}

/** Records what every page of `context` sends, from now on. */
export function recordSent(context: BrowserContext): { sent: Sent[] } {
  const sent: Sent[] = [];
  context.on('request', (request) => {
    const headers = Object.entries(request.headers()).map(([name, value]) => `${name}: ${value}`).join('\n');
    sent.push({ kind: 'request', method: request.method(), url: request.url(), headers, body: new Uint8Array(request.postDataBuffer() ?? new Uint8Array(0)) });
  });
  const watch = (page: Page): void => {
    page.on('websocket', (socket) => {
      socket.on('framesent', (frame) => {
        const body = typeof frame.payload === 'string' ? new TextEncoder().encode(frame.payload) : new Uint8Array(frame.payload);
        sent.push({ kind: 'websocket', method: 'FRAME', url: socket.url(), headers: '', body });
      });
    });
  };
  for (const page of context.pages()) watch(page);
  context.on('page', watch);
  return { sent };
}

/**
 * Notes, inside the page, the secret bytes of every key the page's WebCrypto makes or imports:
 * private keys it generates (exported once here; a key asked for as non-extractable is handed
 * back non-extractable, re-imported), PKCS#8 and private JWK imports, and raw secret keys
 * (AES-GCM, HKDF, HMAC). Read them with `pageSecrets`. Only for tests: it sees every key.
 */
export const KEY_PROBE = `(() => {
  const secrets = [];
  Object.defineProperty(window, '__burrowKeyProbe', { value: secrets });
  const subtle = crypto.subtle;
  const proto = Object.getPrototypeOf(subtle);
  const original = { generateKey: proto.generateKey, importKey: proto.importKey, exportKey: proto.exportKey };
  const note = (bytes) => { if (bytes && bytes.byteLength >= 16) secrets.push(new Uint8Array(bytes.slice ? bytes.slice(0) : bytes)); };
  const b64url = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
  const nameOf = (alg) => (typeof alg === 'string' ? alg : alg && alg.name) || '';
  proto.importKey = function (format, data, algorithm, extractable, usages) {
    const name = nameOf(algorithm).toUpperCase();
    try {
      if (format === 'pkcs8') note(new Uint8Array(data.buffer ? data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) : data).slice(-32));
      else if (format === 'jwk' && data && typeof data.d === 'string') note(b64url(data.d));
      else if (format === 'jwk' && data && typeof data.k === 'string') note(b64url(data.k));
      else if (format === 'raw' && ['AES-GCM', 'HKDF', 'HMAC', 'AES-KW', 'AES-CTR', 'AES-CBC'].includes(name)) note(new Uint8Array(data.buffer ? data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) : data));
    } catch (e) { /* keep the page working whatever the probe cannot read */ }
    return original.importKey.call(this, format, data, algorithm, extractable, usages);
  };
  proto.generateKey = async function (algorithm, extractable, usages) {
    const result = await original.generateKey.call(this, algorithm, true, usages);
    const keys = result.privateKey ? [result.privateKey] : [result];
    for (const key of keys) {
      try {
        const jwk = await original.exportKey.call(this, 'jwk', key);
        if (typeof jwk.d === 'string') note(b64url(jwk.d));
        if (typeof jwk.k === 'string') note(b64url(jwk.k));
      } catch (e) { /* not exportable as JWK */ }
    }
    if (extractable) return result;
    const again = async (key) => {
      const jwk = await original.exportKey.call(this, 'jwk', key);
      return original.importKey.call(this, 'jwk', jwk, key.algorithm, false, key.usages);
    };
    if (result.privateKey) return { publicKey: result.publicKey, privateKey: await again(result.privateKey) };
    return again(result);
  };
})();`;

/** The secret key bytes the key probe noted in `page` so far. */
export async function pageSecrets(page: Page): Promise<Uint8Array[]> {
  const list = await page.evaluate(() => {
    const secrets = (window as unknown as { __burrowKeyProbe?: Uint8Array[] }).__burrowKeyProbe ?? [];
    return secrets.map((bytes) => Array.from(bytes));
  });
  return list.map((bytes) => Uint8Array.from(bytes));
}

function base64Variants(bytes: Uint8Array): string[] {
  // A byte string inside a longer base64 text is encoded differently at each of the three
  // alignments; drop the characters that depend on the neighbours.
  const out: string[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const padded = new Uint8Array(shift + bytes.length);
    padded.set(bytes, shift);
    const text = Buffer.from(padded).toString('base64').replace(/=+$/, '');
    const start = shift === 0 ? 0 : Math.ceil((shift * 4) / 3) + 1;
    const end = text.length - 2;
    if (end - start >= 8) out.push(text.slice(start, end));
  }
  return out;
}

/** The forms in which `needle` could travel: raw, hex, base64 and base64url (any alignment); text also UTF-16 and lower case. */
export function encodingsOf(needle: Uint8Array | string): Uint8Array[] {
  const bytes = typeof needle === 'string' ? new TextEncoder().encode(needle) : needle;
  const forms = new Set<string>();
  const out: Uint8Array[] = [bytes];
  const add = (text: string): void => {
    if (forms.has(text)) return;
    forms.add(text);
    out.push(new TextEncoder().encode(text));
  };
  add(Buffer.from(bytes).toString('hex'));
  add(Buffer.from(bytes).toString('hex').toUpperCase());
  for (const b64 of base64Variants(bytes)) {
    add(b64);
    add(b64.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  if (typeof needle === 'string') {
    add(needle.toLowerCase());
    add(encodeURIComponent(needle));
    out.push(new Uint8Array(Buffer.from(needle, 'utf16le')));
  }
  return out;
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  return needle.length > 0 && Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).indexOf(Buffer.from(needle.buffer, needle.byteOffset, needle.byteLength)) >= 0;
}

function safeDecode(url: string): string {
  try {
    return decodeURIComponent(url);
  } catch {
    return url;
  }
}

/** Where any form of `needle` appears in what was sent: one line per hit (method, URL, part). */
export function findInSent(sent: readonly Sent[], needle: Uint8Array | string): string[] {
  const forms = encodingsOf(needle);
  const hits: string[] = [];
  for (const item of sent) {
    const parts: Array<[string, Uint8Array]> = [
      ['url', new TextEncoder().encode(safeDecode(item.url))],
      ['url', new TextEncoder().encode(item.url)],
      ['headers', new TextEncoder().encode(item.headers)],
      ['body', item.body],
    ];
    for (const [part, bytes] of parts) {
      if (forms.some((form) => contains(bytes, form))) hits.push(`${item.kind} ${item.method} ${item.url} (${part})`);
    }
  }
  return [...new Set(hits)];
}
