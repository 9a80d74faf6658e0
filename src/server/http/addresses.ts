/**
 * Client addresses: parsing IPv4/IPv6 addresses and CIDR ranges, the trusted-proxy list
 * (BURROW_TRUST_PROXY), and the key every rate limit counts a client under. An IPv6 client is
 * keyed by its /64, the smallest block an ISP or host hands out (RFC 6177): a single client can
 * pick any of 2^64 addresses in it, so a per-address limit would be no limit at all.
 */
import { isIP } from 'node:net';

/** An address as a number: 32 bits for IPv4, 128 for IPv6. */
export interface ParsedAddress {
  readonly family: 4 | 6;
  readonly value: bigint;
}

/** A CIDR range; a bare address is a range of one (/32 or /128). */
export interface AddressRange {
  readonly family: 4 | 6;
  readonly network: bigint;
  readonly prefix: number;
  /** As written in the configuration. */
  readonly text: string;
}

const BITS = { 4: 32, 6: 128 } as const;

function parseIpv4(text: string): bigint {
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function parseIpv6(text: string): bigint {
  let body = text;
  // An embedded IPv4 tail (::ffff:192.0.2.1) is the last two hextets.
  const lastColon = body.lastIndexOf(':');
  const last = body.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = parseIpv4(last);
    body = `${body.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', rest] = body.split('::') as [string, string | undefined];
  const split = (s: string): number[] => (s === '' ? [] : s.split(':').map((h) => parseInt(h, 16)));
  const left = split(head);
  const right = rest === undefined ? [] : split(rest);
  const hextets = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  return hextets.reduce((acc, h) => (acc << 16n) | BigInt(h), 0n);
}

/** Parses an IPv4 or IPv6 address (an IPv6 zone such as `%eth0` is dropped); undefined if it is none. */
export function parseAddress(text: string): ParsedAddress | undefined {
  const bare = text.split('%')[0] ?? '';
  const family = isIP(bare);
  if (family === 4) return { family: 4, value: parseIpv4(bare) };
  if (family === 6) return { family: 6, value: parseIpv6(bare) };
  return undefined;
}

const MAPPED_PREFIX = 0xffffn << 32n;

function formatIpv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

function formatIpv6Prefix64(value: bigint): string {
  const hextets = [112n, 96n, 80n, 64n].map((shift) => ((value >> shift) & 0xffffn).toString(16));
  return `${hextets.join(':')}::/64`;
}

/**
 * The key a rate limit counts a client under: the IPv4 address itself (an IPv4-mapped IPv6 address
 * counts as its IPv4 address), or the IPv6 address's /64. Anything unparsable is its own key.
 */
export function clientKeyOf(address: string | undefined): string {
  if (address === undefined || address === '') return 'unknown';
  const parsed = parseAddress(address);
  if (parsed === undefined) return address;
  if (parsed.family === 4) return formatIpv4(parsed.value);
  if (parsed.value >> 32n === 0xffffn) return formatIpv4(parsed.value & 0xffffffffn);
  return formatIpv6Prefix64(parsed.value);
}

/** Parses `address[/prefix]`; a message saying what is wrong when it is not one. */
export function parseRange(text: string): AddressRange | string {
  const [address = '', prefixText, extra] = text.split('/');
  if (extra !== undefined) return `"${text}" is not an address or a CIDR range`;
  const parsed = parseAddress(address);
  if (parsed === undefined || address.includes('%')) return `"${text}" is not an IPv4 or IPv6 address or CIDR range`;
  const bits = BITS[parsed.family];
  let prefix: number = bits;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) return `"${text}" has a prefix length outside 0–${bits}`;
    prefix = Number(prefixText);
  }
  const hostBits = BigInt(bits - prefix);
  const network = (parsed.value >> hostBits) << hostBits;
  return { family: parsed.family, network, prefix, text };
}

/** Whether `range` contains `address` (an IPv4-mapped IPv6 address also matches an IPv4 range). */
export function rangeContains(range: AddressRange, address: ParsedAddress): boolean {
  let { family, value } = address;
  if (family === 6 && range.family === 4 && value >> 32n === 0xffffn) {
    family = 4;
    value &= 0xffffffffn;
  }
  if (family !== range.family) return false;
  const hostBits = BigInt(BITS[family] - range.prefix);
  return (value >> hostBits) << hostBits === range.network;
}

/** Whether `outer` contains every address of `inner`. */
export function rangeCovers(outer: AddressRange, inner: AddressRange): boolean {
  return outer.family === inner.family && outer.prefix <= inner.prefix && rangeContains(outer, { family: inner.family, value: inner.network });
}

/** Ranges that cover every address of a family (or every IPv4 address, written as IPv6). */
export function isCatchAll(range: AddressRange): boolean {
  if (range.prefix === 0) return true;
  return range.family === 6 && range.prefix <= 96 && rangeCovers(range, { family: 6, network: MAPPED_PREFIX, prefix: 96, text: '::ffff:0:0/96' });
}

const NON_PUBLIC = [
  '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '127.0.0.0/8', '169.254.0.0/16', '100.64.0.0/10',
  '::1/128', 'fc00::/7', 'fe80::/10',
].map((text) => parseRange(text) as AddressRange);

/** Whether every address of `range` is private, loopback, link-local or shared (CGNAT). */
export function isNonPublicRange(range: AddressRange): boolean {
  const mapped = range.family === 6 && range.prefix >= 96 && range.network >> 32n === 0xffffn;
  const asIpv4: AddressRange = mapped ? { family: 4, network: range.network & 0xffffffffn, prefix: range.prefix - 96, text: range.text } : range;
  return NON_PUBLIC.some((outer) => rangeCovers(outer, asIpv4));
}

const TRUST_PROXY_HELP = 'list the addresses or CIDR ranges of your reverse proxies, comma-separated (e.g. BURROW_TRUST_PROXY=127.0.0.1 or 10.0.0.0/24,fd00::/64)';

/**
 * Parses BURROW_TRUST_PROXY: a comma- or space-separated list of proxy addresses or CIDR ranges.
 * `true`, `*`, hop counts and catch-all ranges are refused: each lets any client that can reach
 * the port choose its own address in X-Forwarded-For. Returns the ranges or what is wrong.
 */
export function parseTrustedProxies(entries: readonly string[]): AddressRange[] | string {
  const ranges: AddressRange[] = [];
  for (const entry of entries) {
    const text = entry.trim();
    if (text === '') continue;
    if (/^(true|\*|all|any)$/i.test(text)) return `"${text}" would trust any client to choose its own address: ${TRUST_PROXY_HELP}`;
    if (/^\d+$/.test(text)) return `a hop count ("${text}") trusts whoever connects: ${TRUST_PROXY_HELP}`;
    const range = parseRange(text);
    if (typeof range === 'string') return `${range}: ${TRUST_PROXY_HELP}`;
    if (isCatchAll(range)) return `"${text}" covers every address, so any client could choose its own: ${TRUST_PROXY_HELP}`;
    ranges.push(range);
  }
  return ranges;
}

/** Splits a BURROW_TRUST_PROXY value into its entries (`false` or empty: none). */
export function splitTrustProxyList(value: string): string[] {
  const text = value.trim();
  if (text === '' || text === 'false') return [];
  return text.split(/[\s,]+/).filter((part) => part !== '');
}

/** Parsed trusted proxies: who may speak for a client in X-Forwarded-For and X-Forwarded-Proto. */
export function isTrustedProxy(ranges: readonly AddressRange[], address: string | undefined): boolean {
  if (address === undefined) return false;
  const parsed = parseAddress(address);
  return parsed !== undefined && ranges.some((range) => rangeContains(range, parsed));
}
