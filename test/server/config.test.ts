import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/server/config.js';

describe('configuration', () => {
  it('defaults to ./data on 127.0.0.1:8080', () => {
    const config = loadConfig({ env: {} });
    expect(config.dataDir.endsWith('/data')).toBe(true);
    expect(config.host).toBe('127.0.0.1');
    expect(config.port).toBe(8080);
  });

  it('takes BURROW_* variables, and flags win over them', () => {
    const config = loadConfig({ env: { BURROW_PORT: '9000', BURROW_HOST: '127.0.0.2' }, flags: { port: '9001' } });
    expect(config.port).toBe(9001);
    expect(config.host).toBe('127.0.0.2');
  });

  it('names the variable and the range of a bad port', () => {
    expect(() => loadConfig({ env: { BURROW_PORT: 'eighty' } })).toThrow(new ConfigError('BURROW_PORT must be an integer 0–65535, got "eighty"'));
    expect(() => loadConfig({ env: {}, flags: { port: '70000' } })).toThrow(/--port must be an integer/);
  });

  it('takes the live frame limit, beside the public origin, and refuses one out of range', () => {
    const config = loadConfig({ env: { BURROW_LIVE_FRAMES_PER_MINUTE: '600', BURROW_PUBLIC_ORIGIN: 'https://burrow.example' } });
    expect(config.live.maxFramesPerMinute).toBe(600);
    expect(config.live.publicOrigin).toBe('https://burrow.example');
    expect(config.live.maxFrameBytes).toBe(16 * 1024);
    expect(() => loadConfig({ env: { BURROW_LIVE_FRAMES_PER_MINUTE: '5' } })).toThrow(new ConfigError('BURROW_LIVE_FRAMES_PER_MINUTE must be an integer 10–1000000, got "5"'));
  });

  it('is deeply frozen', () => {
    const config = loadConfig({ env: {} });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.rateLimits.loginSlowdown)).toBe(true);
  });

  it('refuses half of the per-field secrets', () => {
    expect(() => loadConfig({ env: { BURROW_COOKIE_KEY: 'x' } })).toThrow(/all of/);
  });
});
