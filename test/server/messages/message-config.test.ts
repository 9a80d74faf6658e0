/** The settings of messages and live events: defaults, environment variables and refusals. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/server/config.js';

describe('message and live settings', () => {
  it('default to a 5 MB envelope, a one-hour orphan grace and 30-second heartbeats', () => {
    const config = loadConfig({ env: {} });
    expect(config.limits.maxMessageBytes).toBe(5 * 1024 * 1024);
    expect(config.messages.orphanGraceMs).toBe(3600_000);
    expect(config.live.heartbeatMs).toBe(30_000);
    expect(config.live.publicOrigin).toBeUndefined();
  });

  it('read BURROW_MAX_MESSAGE_BYTES, the sweeper variables and BURROW_PUBLIC_ORIGIN', () => {
    const config = loadConfig({ env: {
      BURROW_MAX_MESSAGE_BYTES: '1048576',
      BURROW_SWEEP_INTERVAL_SECONDS: '60',
      BURROW_ORPHAN_GRACE_SECONDS: '0',
      BURROW_PUBLIC_ORIGIN: 'https://burrow.example/app/',
    } });
    expect(config.limits.maxMessageBytes).toBe(1048576);
    expect(config.limits.maxBodyBytes).toBe(64 * 1024);
    expect(config.messages.sweepIntervalMs).toBe(60_000);
    expect(config.messages.orphanGraceMs).toBe(0);
    expect(config.live.publicOrigin).toBe('https://burrow.example');
  });

  it('refuse values out of range or not an origin, naming the variable', () => {
    expect(() => loadConfig({ env: { BURROW_MAX_MESSAGE_BYTES: '10' } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { BURROW_MAX_MESSAGE_BYTES: 'big' } })).toThrow(/BURROW_MAX_MESSAGE_BYTES/);
    expect(() => loadConfig({ env: { BURROW_SWEEP_INTERVAL_SECONDS: '0' } })).toThrow(/BURROW_SWEEP_INTERVAL_SECONDS/);
    expect(() => loadConfig({ env: { BURROW_PUBLIC_ORIGIN: 'not a url' } })).toThrow(/BURROW_PUBLIC_ORIGIN/);
    expect(() => loadConfig({ env: { BURROW_PUBLIC_ORIGIN: 'ftp://burrow.example' } })).toThrow(/BURROW_PUBLIC_ORIGIN/);
  });
});
