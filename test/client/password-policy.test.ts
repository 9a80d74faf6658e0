import { describe, expect, it } from 'vitest';
import { checkPassword, MIN_PASSWORD_LENGTH } from '../../src/client/password-policy.js';

describe('password policy', () => {
  for (const weak of ['qwe', '123456', 'password', 'cloudpets']) {
    it(`refuses '${weak}' with a helpful message`, () => {
      const check = checkPassword(weak);
      expect(check.ok).toBe(false);
      expect(check.score).toBeLessThan(3);
      expect(check.feedback.length).toBeGreaterThan(0);
      expect(check.feedback.join(' ')).toMatch(/at least 10 characters/);
    });
  }

  it('says a very common password is one of the most common ones', () => {
    expect(checkPassword('password').feedback.join(' ')).toMatch(/most common passwords/);
  });

  it('refuses a long password that is only common words and the product name', () => {
    const check = checkPassword('cloudpetscloudpets');
    expect(check.ok).toBe(false);
    expect(check.feedback.length).toBeGreaterThan(0);
  });

  it("refuses a password built from the user's own email address", () => {
    const email = 'margaret.hollingsworth@example.org';
    expect(checkPassword('hollingsworth2', {}).ok).toBe(true);
    const check = checkPassword('hollingsworth2', { email });
    expect(check.ok).toBe(false);
    expect(check.feedback.join(' ')).toMatch(/email address/);
  });

  it('accepts a strong passphrase', () => {
    const check = checkPassword('correct violet kettle marching under 9 moons');
    expect(check).toEqual({ ok: true, score: 4, feedback: [] });
  });

  it('refuses a random-looking password that is shorter than the minimum', () => {
    const check = checkPassword('x7#Qm!2');
    expect(check.ok).toBe(false);
    expect(check.feedback).toContain(`Use at least ${MIN_PASSWORD_LENGTH} characters (this one has 7).`);
  });

  it('counts characters, not UTF-16 code units', () => {
    expect(checkPassword('🦊🦊🦊🦊🦊').feedback.join(' ')).toMatch(/this one has 5/);
  });
});
