/**
 * The tests' family members, one set of types for every suite:
 * - `TestMember`: a person registered through the client library on a running server (a `burrow
 *   serve` or an in-process one), with their own in-memory key store — what end-to-end, client,
 *   toy, adversarial and browser tests use;
 * - `ServerMember`: an account registered over the real OPAQUE routes of an in-process app, with a
 *   real identity's public keys, for the server suites that write families and envelopes by hand
 *   (test/server/families/fixtures.ts makes them).
 * With them, small WAV files with known bytes and a live connection that records its events.
 */
import WebSocket from 'ws';
import { registerAccount, TEST_HARNESS_KEY_STRETCHING } from '../../src/client/account.js';
import { addChild } from '../../src/client/children.js';
import { admitJoiners, createFamily } from '../../src/client/families.js';
import { acceptInvite, createInvite } from '../../src/client/invites.js';
import { BurrowApi } from '../../src/client/api.js';
import type { ClientContext } from '../../src/client/families.js';
import { MemoryKeyStore } from '../../src/client/key-store.js';
import { connectLive, type LiveConnection, type LiveEvent, type WebSocketConstructor } from '../../src/client/live.js';
import { randomBytes, toHex } from '../../src/crypto/bytes.js';
import { wavOfPcm16 } from '../../src/protocol/audio-formats.js';
import type { Person } from '../server/families/fixtures.js';
import { TEST_KEY_STRETCHING } from '../server/helpers.js';

/** An account of an in-process server's tests: its session and its identity's keys. */
export type ServerMember = Person;

export interface TestMember extends ClientContext {
  label: string;
  email: string;
  password: string;
  token: string;
  store: MemoryKeyStore;
  /**
   * How the client stretched the password (OPAQUE's Argon2id): `cheap` for the harness's members,
   * who log in again only through the client library ({@link sameStretchingAs}); `production` for
   * those who sign in through the web app or the CLI, which always stretch as production does.
   */
  stretching: 'cheap' | 'production';
}

/** Options for register, login or recover with the stretching `member` was registered with. */
export function sameStretchingAs(member: Pick<TestMember, 'stretching'>): { [TEST_HARNESS_KEY_STRETCHING]?: typeof TEST_KEY_STRETCHING } {
  return member.stretching === 'cheap' ? { [TEST_HARNESS_KEY_STRETCHING]: TEST_KEY_STRETCHING } : {};
}

async function register(url: string, label: string, email: string, stretching: TestMember['stretching']): Promise<TestMember> {
  const password = `quiet ${label} ${toHex(randomBytes(4))} harbour lantern`;
  const api = new BurrowApi({ baseUrl: url });
  const registration = await registerAccount({ api, email, password, sessionLabel: `${label} test`, ...sameStretchingAs({ stretching }) });
  return { label, email, password, token: registration.session.token!, api, me: { accountId: registration.session.accountId, identity: registration.identity }, store: new MemoryKeyStore(), stretching };
}

/**
 * Registers a member on the server at `url` through the client library, with a password that
 * passes the policy and the harness's cheap key stretching: such a member logs in again only
 * through the client library with {@link sameStretchingAs}. The server cannot tell the difference.
 */
export async function registerMember(url: string, label: string, email = `${label}-${toHex(randomBytes(4))}@example.org`): Promise<TestMember> {
  return register(url, label, email, 'cheap');
}

/** Registers a member who will sign in through the web app or the CLI: production key stretching. */
export async function registerSignInMember(url: string, label: string, email = `${label}-${toHex(randomBytes(4))}@example.org`): Promise<TestMember> {
  return register(url, label, email, 'production');
}

/** A PCM WAV file (8 kHz mono 16-bit) whose samples start with `marker` and are otherwise random. */
export function wavWith(marker: Uint8Array, sampleBytes = 4000): Uint8Array {
  const data = randomBytes(sampleBytes);
  data.set(marker.subarray(0, Math.min(marker.length, sampleBytes)));
  return wavOfPcm16(data, { sampleRate: 8000 });
}

/** A live connection that records every event it is handed. */
export async function recordLive(member: TestMember, url: string): Promise<{ live: LiveConnection; events: LiveEvent[]; readies: () => number; waitFor: (predicate: (e: LiveEvent) => boolean, timeoutMs?: number) => Promise<LiveEvent> }> {
  const events: LiveEvent[] = [];
  let readies = 0;
  const waiters: Array<{ predicate: (e: LiveEvent) => boolean; resolve: (e: LiveEvent) => void }> = [];
  const live = await connectLive({
    baseUrl: url,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    token: member.token,
    store: member.store,
    backoff: { initialMs: 50, maxMs: 500 },
    onReady: () => {
      readies += 1;
    },
    onEvent: (event) => {
      events.push(event);
      for (const waiter of [...waiters]) {
        if (waiter.predicate(event)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(event);
        }
      }
    },
  });
  const waitFor = (predicate: (e: LiveEvent) => boolean, timeoutMs = 60_000): Promise<LiveEvent> => {
    const found = events.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching live event for ${member.label} within ${timeoutMs} ms`)), timeoutMs);
      waiters.push({
        predicate,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  };
  return { live, events, readies: () => readies, waitFor };
}

/** A family of `mum` (guardian, who signs in through the web app) with one child, Mia, and `gran`, a relative of Mia's let in through an invite. */
export async function familyWithGran(baseUrl: string, name: string): Promise<{ mum: TestMember; gran: TestMember; familyId: string; mia: string }> {
  const [mum, gran] = await Promise.all([registerSignInMember(baseUrl, 'mum'), registerMember(baseUrl, 'gran')]);
  const familyId = (await createFamily(mum, { name })).familyId;
  const mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
  const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: false } });
  await acceptInvite(gran, link);
  await admitJoiners(mum, { familyId });
  return { mum, gran, familyId, mia };
}
