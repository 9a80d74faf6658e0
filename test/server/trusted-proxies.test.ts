/**
 * Who the client is: X-Forwarded-For counts only from a listed proxy, IPv6 clients are keyed by
 * their /64, the limiters' memory is bounded, and over-broad settings are refused or reported.
 * The attacks run over real HTTP against a listening server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Config, type DeepPartial } from '../../src/server/config.js';
import { clientKeyOf, isTrustedProxy, parseTrustedProxies, type AddressRange } from '../../src/server/http/addresses.js';
import { createMemoryFailureBudget, createMemoryLoginThrottle, createMemoryRateLimiter } from '../../src/server/http/rate-limit.js';
import { checkTrustProxy } from '../../src/server/security/audit.js';
import { manualClock, startTestServer, type TestServer } from './helpers.js';

const PAIRING_LIMIT = 10;

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A listening server whose pairing starts are limited to 10 per client, as shipped. */
async function listening(overrides: DeepPartial<Config> = {}): Promise<string> {
  server = await startTestServer({ overrides: { ...overrides, rateLimits: { pairingStartsPerIp: { max: PAIRING_LIMIT, windowMs: 10 * 60_000 } } } });
  return server.app.listen({ host: '127.0.0.1', port: 0 });
}

async function startPairing(baseUrl: string, forwardedFor?: string): Promise<number> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (forwardedFor !== undefined) headers['x-forwarded-for'] = forwardedFor;
  const answer = await fetch(`${baseUrl}/v1/pairings`, { method: 'POST', headers, body: '{}' });
  await answer.arrayBuffer();
  return answer.status;
}

function accepted(statuses: number[]): number {
  return statuses.filter((s) => s === 201).length;
}

describe('client addresses behind proxies', () => {
  it('an untrusted peer cannot pick its own address: 30 spoofed pairing starts get only the limit of 10', async () => {
    // A proxy is listed, but the attacker connects directly from an address that is not it.
    const baseUrl = await listening({ trustProxy: ['10.1.2.3'] });
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push(await startPairing(baseUrl, `198.51.100.${i + 1}`));
    expect(accepted(statuses)).toBe(PAIRING_LIMIT);
    expect(statuses.slice(PAIRING_LIMIT).every((s) => s === 429)).toBe(true);
  });

  it('with no proxy configured, X-Forwarded-For is ignored altogether', async () => {
    const baseUrl = await listening();
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push(await startPairing(baseUrl, `2001:db8:${i}::1`));
    expect(accepted(statuses)).toBe(PAIRING_LIMIT);
  });

  it('through a listed proxy each real client has its own budget, and the address a client wrote itself is not believed', async () => {
    const baseUrl = await listening({ trustProxy: ['127.0.0.1'] });
    const clients = ['192.0.2.10', '192.0.2.11', '192.0.2.12'];
    const statuses: number[] = [];
    for (const client of clients) for (let i = 0; i < PAIRING_LIMIT; i++) statuses.push(await startPairing(baseUrl, client));
    expect(accepted(statuses)).toBe(30);
    // The proxy appends the real peer; whatever the client put before it is not who it is.
    const spoofed: number[] = [];
    for (let i = 0; i < 5; i++) spoofed.push(await startPairing(baseUrl, `203.0.113.${i + 1}, 192.0.2.10`));
    expect(spoofed).toEqual([429, 429, 429, 429, 429]);
    expect(await startPairing(baseUrl, '192.0.2.13')).toBe(201);
  });

  it('IPv6 addresses in one /64 share a budget; the next /64 has its own', async () => {
    const baseUrl = await listening({ trustProxy: ['127.0.0.1'] });
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++) statuses.push(await startPairing(baseUrl, `2001:db8:aa:bb:${(i * 4099).toString(16)}::${i + 1}`));
    expect(accepted(statuses)).toBe(PAIRING_LIMIT);
    expect(await startPairing(baseUrl, '2001:db8:aa:bc::1')).toBe(201);
  });

  it('keys an IPv4-mapped IPv6 address as its IPv4 address and an IPv6 address by its /64', () => {
    expect(clientKeyOf('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(clientKeyOf('192.0.2.1')).toBe('192.0.2.1');
    expect(clientKeyOf('2001:db8:1:2:3:4:5:6')).toBe(clientKeyOf('2001:db8:1:2::ffff'));
    expect(clientKeyOf('2001:db8:1:2::1')).not.toBe(clientKeyOf('2001:db8:1:3::1'));
    expect(clientKeyOf('fe80::1%eth0')).toBe(clientKeyOf('fe80::2'));
  });

  it('matches a listed IPv4 proxy seen through a dual-stack socket, and IPv6 ranges by prefix', () => {
    const ranges = parseTrustedProxies(['127.0.0.1', '10.0.0.0/24', 'fd00:1::/64']) as AddressRange[];
    expect(isTrustedProxy(ranges, '::ffff:127.0.0.1')).toBe(true);
    expect(isTrustedProxy(ranges, '10.0.0.200')).toBe(true);
    expect(isTrustedProxy(ranges, '10.0.1.1')).toBe(false);
    expect(isTrustedProxy(ranges, 'fd00:1::abcd')).toBe(true);
    expect(isTrustedProxy(ranges, 'fd00:2::1')).toBe(false);
    expect(isTrustedProxy(ranges, undefined)).toBe(false);
  });
});

describe('the limiters\' memory', () => {
  it('holds at most maxKeys keys under a flood of new ones, dropping ended windows and then the oldest', () => {
    const clock = manualClock();
    const limiter = createMemoryRateLimiter(clock, { maxKeys: 1_000 });
    const window = { max: 2, windowMs: 60_000 };
    for (let i = 0; i < 20_000; i++) limiter.hit(`ip:flood-${i}`, window);
    expect(limiter.size()).toBeLessThanOrEqual(1_000);
    // A key still within its window is counted (the newest ones are kept).
    expect(limiter.hit('ip:flood-19999', window)).toBe(0);
    expect(limiter.hit('ip:flood-19999', window)).toBeGreaterThan(0);
    // Ended windows go before live ones.
    clock.advance(60_000);
    limiter.hit('ip:after', window);
    expect(limiter.size()).toBe(1);
  });

  it('bounds the failure budget and the login slow-down the same way', () => {
    const clock = manualClock();
    const budget = createMemoryFailureBudget(clock, { maxKeys: 500 });
    const throttle = createMemoryLoginThrottle(clock, { freeFailures: 1, baseDelayMs: 1_000, maxDelayMs: 60_000, maxKeys: 500 });
    for (let i = 0; i < 5_000; i++) {
      budget.take(`login-ip:${i}`, { max: 5, windowMs: 60_000 });
      throttle.failed(`login:${i}`);
    }
    expect(budget.size()).toBeLessThanOrEqual(500);
    expect(throttle.size()).toBeLessThanOrEqual(500);
    throttle.failed('login:4999');
    expect(throttle.waitFor('login:4999')).toBeGreaterThan(0);
  });
});

describe('BURROW_TRUST_PROXY', () => {
  const parse = (value: string) => loadConfig({ env: { BURROW_TRUST_PROXY: value } });

  it.each(['true', '*', '1', '0.0.0.0/0', '::/0', '::ffff:0:0/96', '10.0.0.1,0.0.0.0/0', 'proxy.example', '10.0.0.0/33'])('refuses %s and says what to set', (value) => {
    expect(() => parse(value)).toThrow(ConfigError);
    expect(() => parse(value)).toThrow(/BURROW_TRUST_PROXY.*addresses or CIDR ranges of your reverse proxies/);
  });

  it('takes a list of IPv4 and IPv6 addresses and ranges', () => {
    expect(parse('127.0.0.1, 10.0.0.0/24 fd00::/64').trustProxy).toEqual(['127.0.0.1', '10.0.0.0/24', 'fd00::/64']);
    expect(parse('false').trustProxy).toEqual([]);
  });

  it('refuses a catch-all handed in as an override too', () => {
    expect(() => loadConfig({ env: {}, overrides: { trustProxy: ['::/0'] } })).toThrow(ConfigError);
  });

  it('burrow audit flags a range wider than /8 or /32, or of public addresses', () => {
    const audit = (value: string) => checkTrustProxy(parse(value)).map((f) => [f.id, f.severity]);
    expect(audit('10.0.0.0/8,127.0.0.1,fd00::/64,203.0.113.5')).toEqual([]);
    expect(audit('0.0.0.0/4')).toEqual([['trust-proxy-too-broad', 'high']]);
    expect(audit('2001:db8::/16')).toEqual([['trust-proxy-too-broad', 'high']]);
    expect(audit('203.0.113.0/24')).toEqual([['trust-proxy-too-broad', 'medium']]);
    expect(audit('2001:db8::/48')).toEqual([['trust-proxy-too-broad', 'medium']]);
  });
});
