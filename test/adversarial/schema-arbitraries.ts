/**
 * fast-check arbitraries from the JSON Schemas of the route registry (TypeBox output): values
 * that fit a route's schema, and mutations of them that go beyond it (wrong types, huge and empty
 * values, unicode edge cases, unknown and duplicated fields, deep nesting, prototype-pollution
 * keys, broken JSON, wrong content types). Used by the fuzz test; no knowledge of any one route.
 */
import fc from 'fast-check';
import { toBase64Url } from '../../src/crypto/bytes.js';

export type Schema = Record<string, unknown>;

const BASE64URL_PATTERN = '^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$';
const ID_PATTERN = '^[A-Za-z0-9_-]{22}$';

/** Strings that break naive code: control characters, lone surrogates, direction overrides, combining marks, astral planes, BOMs, encodings of traversal. */
export const UNICODE_EDGES = [
  '', ' ', '\u0000', 'a\u0000b', '\uD800', '\uDFFF', 'x\uDBFF', '\u202Eevil', '\u200B', '\uFEFF', 'e\u0301\u0301\u0301', '𝕏𝕐ℤ', '👨‍👩‍👧‍👦',
  '\u0085\u2028\u2029', '\r\n\r\n', '%00', '%2e%2e%2f', '../../etc/passwd', 'ǅ', 'İ', 'ß', 'ﬁ', '\u{10FFFF}', '\\u0000', '${7*7}', '{{7*7}}',
  "'; DROP TABLE accounts; --", '<script>alert(1)</script>', 'null', 'undefined', 'NaN', '-0', '1e309', '0x10', 'A'.repeat(22), '====',
];

/** Arbitrary bytes as base64url, `min`…`max` bytes. */
function base64url(minBytes: number, maxBytes: number): fc.Arbitrary<string> {
  return fc.uint8Array({ minLength: minBytes, maxLength: maxBytes }).map((bytes) => toBase64Url(bytes));
}

/** Values that satisfy `schema` in form (later checks — signatures, ids that exist — may still refuse them). `ids` are real ids to use for id fields sometimes. */
export function valueOf(schema: Schema, ids: readonly string[] = []): fc.Arbitrary<unknown> {
  if ('const' in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  if (Array.isArray(schema.anyOf)) return fc.oneof(...(schema.anyOf as Schema[]).map((s) => valueOf(s, ids)));
  if (Array.isArray(schema.oneOf)) return fc.oneof(...(schema.oneOf as Schema[]).map((s) => valueOf(s, ids)));
  switch (schema.type) {
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      const required = (schema.required ?? []) as string[];
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [name, property] of Object.entries(properties)) model[name] = valueOf(property, ids);
      return fc.record(model, { requiredKeys: required.filter((name) => name in properties) });
    }
    case 'array': {
      const items = (schema.items ?? {}) as Schema;
      const min = Number(schema.minItems ?? 0);
      const max = Math.min(Number(schema.maxItems ?? 6), min + 6);
      return fc.array(valueOf(items, ids), { minLength: min, maxLength: max });
    }
    case 'string': {
      const minLength = Number(schema.minLength ?? 0);
      const maxLength = Math.min(Number(schema.maxLength ?? 200), 4_000);
      const pattern = schema.pattern as string | undefined;
      if (pattern === ID_PATTERN) return ids.length > 0 ? fc.oneof(fc.constantFrom(...ids), base64url(16, 16)) : base64url(16, 16);
      if (pattern === BASE64URL_PATTERN) {
        // n bytes are ceil(4n/3) characters.
        const minBytes = Math.floor((minLength * 3) / 4);
        const maxBytes = Math.max(minBytes, Math.floor((maxLength * 3) / 4));
        return base64url(minBytes, Math.min(maxBytes, minBytes + 256)).filter((s) => s.length >= minLength && s.length <= maxLength);
      }
      if (pattern !== undefined) {
        return fc.stringMatching(new RegExp(pattern)).filter((s) => s.length >= minLength && s.length <= maxLength);
      }
      if (schema.format === 'email') return fc.emailAddress();
      return fc.string({ minLength, maxLength: Math.min(maxLength, minLength + 64), unit: 'grapheme' });
    }
    case 'integer':
      return fc.integer({ min: Math.max(Number(schema.minimum ?? -1_000_000), Number.MIN_SAFE_INTEGER), max: Math.min(Number(schema.maximum ?? 1_000_000), Number.MAX_SAFE_INTEGER) });
    case 'number':
      return fc.double({ min: Number(schema.minimum ?? -1e9), max: Number(schema.maximum ?? 1e9), noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** A value of a type the schema does not allow, or an extreme of the right type. */
export const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(0, -1, 1.5, -0, 1e308, Number.MAX_SAFE_INTEGER + 2, true, false, null, [], {}, '', [null], { '': '' }),
  fc.constantFrom(...UNICODE_EDGES),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer({ min: 0, max: 3 }).map((k) => 'A'.repeat([65_536, 100_000, 20_000, 4_097][k]!)),
  fc.constant(Array.from({ length: 5_000 }, (_, i) => i)),
  fc.jsonValue({ maxDepth: 3 }),
);

/** Every path (list of keys) inside a JSON value, the empty path for the value itself. */
export function pathsOf(value: unknown, prefix: string[] = []): string[][] {
  const out = [prefix];
  if (typeof value === 'object' && value !== null && prefix.length < 6) {
    for (const [key, child] of Object.entries(value)) out.push(...pathsOf(child, [...prefix, key]));
  }
  return out;
}

function setAt(value: unknown, path: string[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path as [string, ...string[]];
  const copy: Record<string, unknown> = Array.isArray(value) ? ([...value] as unknown as Record<string, unknown>) : { ...(value as Record<string, unknown>) };
  copy[head] = setAt(copy[head], rest, replacement);
  return copy;
}

function deleteAt(value: unknown, path: string[]): unknown {
  if (path.length === 0) return value;
  if (path.length === 1) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
    const { [path[0]!]: _dropped, ...rest } = value as Record<string, unknown>;
    return rest;
  }
  const [head, ...rest] = path as [string, ...string[]];
  return setAt(value, [head], deleteAt((value as Record<string, unknown>)[head], rest));
}

/** A request body: its bytes and content type (undefined: no content-type header). */
export interface Body {
  mutation: string;
  contentType: string | undefined;
  payload: string | Buffer | undefined;
}

const JSON_TYPE = 'application/json';

function nested(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array' ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** Mutations of a valid body `value` that go beyond the schema. */
export function mutatedBody(value: unknown): fc.Arbitrary<Body> {
  const paths = pathsOf(value);
  const text = JSON.stringify(value) ?? 'null';
  const json = (mutation: string, v: unknown): Body => ({ mutation, contentType: JSON_TYPE, payload: JSON.stringify(v) });
  return fc.oneof(
    fc.tuple(fc.constantFrom(...paths), wrongValue).map(([path, wrong]) => json(`wrong value at /${path.join('/')}`, setAt(value, path, wrong))),
    fc.constantFrom(...paths).map((path) => (path.length === 0 ? json('missing everything', {}) : json(`missing /${path.join('/')}`, deleteAt(value, path)))),
    fc.tuple(fc.constantFrom(...paths), fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'prototype', 'isAdmin', 'role', 'accountId', '')), fc.jsonValue({ maxDepth: 2 }))
      .map(([path, key, extra]) => ({ mutation: `unknown field ${JSON.stringify(key)} at /${path.join('/')}`, contentType: JSON_TYPE, payload: insertRawKey(text, value, path, key, extra) })),
    fc.noShrink(fc.constantFrom(...paths).chain((path) => wrongValue.map((wrong) => ({
      mutation: `duplicated field /${path.join('/')}`,
      contentType: JSON_TYPE,
      payload: path.length === 0 ? `{"a":1,"a":${JSON.stringify(wrong)}}` : insertRawKey(text, value, path.slice(0, -1), path[path.length - 1]!, wrong),
    })))),
    fc.constantFrom(
      { mutation: 'prototype pollution (__proto__)', contentType: JSON_TYPE, payload: `{"__proto__":{"isAdmin":true,"role":"guardian"},${text.slice(1)}` },
      { mutation: 'prototype pollution (constructor.prototype)', contentType: JSON_TYPE, payload: `{"constructor":{"prototype":{"isAdmin":true}},${text.slice(1)}` },
      { mutation: 'nested __proto__', contentType: JSON_TYPE, payload: JSON.stringify({ a: 1 }).replace('"a":1', '"a":{"__proto__":{"polluted":1}}') },
    ),
    fc.integer({ min: 0, max: Math.max(0, text.length - 1) }).map((cut) => ({ mutation: `truncated JSON at ${cut}`, contentType: JSON_TYPE, payload: text.slice(0, cut) })),
    fc.constantFrom(10, 1_000, 20_000, 100_000).chain((depth) => fc.constantFrom<'array' | 'object'>('array', 'object').map((kind) => ({ mutation: `${kind} nested ${depth} deep`, contentType: JSON_TYPE, payload: nested(depth, kind) }))),
    fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/xml', 'application/octet-stream', 'APPLICATION/JSON', 'application/json;;', 'application/jsonx', '*/*', '')
      .map((contentType) => ({ mutation: `content type ${JSON.stringify(contentType)}`, contentType, payload: text })),
    fc.constant({ mutation: 'no content type', contentType: undefined, payload: text }),
    fc.uint8Array({ minLength: 0, maxLength: 300 }).map((bytes) => ({ mutation: 'random bytes as JSON', contentType: JSON_TYPE, payload: Buffer.from(bytes) })),
    fc.constantFrom(
      { mutation: 'invalid UTF-8', contentType: JSON_TYPE, payload: Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xc0, 0xaf, 0xff, 0xfe, 0xed, 0xa0, 0x80]), Buffer.from('"}')]) },
      { mutation: 'UTF-16 BOM JSON', contentType: JSON_TYPE, payload: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]) },
      { mutation: 'UTF-8 BOM JSON', contentType: JSON_TYPE, payload: `\uFEFF${text}` },
      { mutation: 'empty body', contentType: JSON_TYPE, payload: '' },
      { mutation: 'whitespace body', contentType: JSON_TYPE, payload: ' \n\t ' },
      { mutation: 'number literal beyond double', contentType: JSON_TYPE, payload: '1e400' },
      { mutation: 'huge number of keys', contentType: JSON_TYPE, payload: JSON.stringify(Object.fromEntries(Array.from({ length: 3_000 }, (_, i) => [`k${i}`, i]))) },
    ),
  );
}

/** Inserts `"key": extra` into the object at `path` of the JSON text of `value` (as raw text, so duplicated keys survive). */
function insertRawKey(text: string, value: unknown, path: string[], key: string, extra: unknown): string {
  let target: unknown = value;
  for (const part of path) target = (target as Record<string, unknown>)[part];
  if (typeof target !== 'object' || target === null || Array.isArray(target)) return `{${JSON.stringify(key)}:${JSON.stringify(extra) ?? 'null'},"value":${text}}`;
  const inner = JSON.stringify(target);
  const replaced = inner === '{}' ? `{${JSON.stringify(key)}:${JSON.stringify(extra) ?? 'null'}}` : `{${JSON.stringify(key)}:${JSON.stringify(extra) ?? 'null'},${inner.slice(1)}`;
  const index = path.length === 0 ? 0 : text.indexOf(inner);
  return index < 0 ? text : text.slice(0, index) + replaced + text.slice(index + inner.length);
}

/** Percent-encodes `text` for a URL; a lone surrogate becomes the (invalid UTF-8) bytes of its code unit. */
export function encodeLoosely(text: string): string {
  return [...text].map((c) => {
    const code = c.codePointAt(0)!;
    if (code >= 0xd800 && code <= 0xdfff) return `%${(0xe0 | (code >> 12)).toString(16)}%${(0x80 | ((code >> 6) & 0x3f)).toString(16)}%${(0x80 | (code & 0x3f)).toString(16)}`.toUpperCase();
    return encodeURIComponent(c);
  }).join('');
}

/** A path parameter beyond its schema. */
export const wrongParam: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...UNICODE_EDGES.filter((s) => s !== '')).map(encodeLoosely),
  fc.constantFrom('..', '.', '%2e%2e', '%2F', '%00', '%ZZ', '%', 'x'.repeat(4_000), 'A'.repeat(21), 'A'.repeat(23), '*', 'null', '__proto__', 'constructor'),
  fc.string({ maxLength: 30, unit: 'binary' }).map(encodeLoosely).filter((s) => s.length > 0),
);

/** A query string the route may or may not take, with repeated, empty, odd and huge values. */
export const queryString: fc.Arbitrary<string> = fc.oneof(
  fc.constant(''),
  fc.array(fc.tuple(fc.constantFrom('limit', 'before', 'after', 'since', 'cursor', 'epoch', 'from', '__proto__', 'constructor', 'x', ''), fc.oneof(
    fc.constantFrom('', '0', '-1', '1', '100', '1e9', 'NaN', '99999999999999999999', 'true', '[]', '{}', 'A'.repeat(22), 'A'.repeat(2_000)),
    fc.string({ maxLength: 12, unit: 'binary' }),
  )), { minLength: 1, maxLength: 4 }).map((pairs) => `?${pairs.map(([k, v]) => `${encodeLoosely(k)}=${encodeLoosely(v)}`).join('&')}`),
  fc.constantFrom('?limit=1&limit=2', '?limit[]=1', '?limit[a]=1', '?%', '?a=%ZZ', `?${'q'.repeat(5_000)}`, '?=&=&', '?limit=%00'),
);
