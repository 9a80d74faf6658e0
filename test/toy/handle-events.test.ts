/**
 * `runtime.handle(event)`: what a toy does on each event is the runtime's, for the reference toy
 * (live events) and the virtual toy (polls) alike. Real server, real pairing, real toy runtime.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChild } from '../../src/client/children.js';
import { createFamily } from '../../src/client/families.js';
import { sendMessage } from '../../src/client/messages.js';
import { setToySettings } from '../../src/client/toys.js';
import { utf8 } from '../../src/crypto/bytes.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { registerMember, wavWith, type TestMember } from '../e2e/family-harness.js';
import { pairToy, toyRuntime } from './toy-harness.js';

let server: RunningServer;
let mum: TestMember;

beforeAll(async () => {
  server = await startServer();
  mum = await registerMember(server.url, 'mum');
}, 60_000);

afterAll(async () => {
  await server?.close();
});

describe('a toy handed events', { timeout: 60_000 }, () => {
  it('plays on a message event, ignores events that change nothing, chimes once at a new volume limit, and stops when the family is deleted', async () => {
    const familyId = (await createFamily(mum, { name: 'Events' })).familyId;
    const mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
    const toy = await toyRuntime(await pairToy(server.url, mum, familyId, mia));
    await toy.runtime.start();

    const sent = await sendMessage(mum, { familyId, to: mia, audio: wavWith(utf8('hello'), 400), audioType: 'audio/wav', durationMs: 25 });
    // A receipt or a child event tells the toy nothing it acts on.
    expect(await toy.runtime.handle({ event: 'receipt' })).toEqual({ played: 0 });
    expect(toy.played).toEqual([]);
    expect(await toy.runtime.handle({ event: 'message' })).toEqual({ played: 1 });
    expect(toy.played.map((p) => p.messageId)).toEqual([sent.messageId]);
    // Each message is handled once: a poll afterwards plays nothing more.
    expect(await toy.runtime.handle({ event: 'poll' })).toEqual({ played: 0 });

    // No chime at start-up; one when a guardian's new signed limit arrives with a roster event.
    expect(toy.logs.filter((l) => l.event === 'chime')).toEqual([]);
    await setToySettings(mum, { familyId, volumeLimit: 40 });
    await toy.runtime.handle({ event: 'roster' });
    expect(toy.logs.filter((l) => l.event === 'chime')).toEqual([{ event: 'chime', volume: 40 }]);
    expect(toy.runtime.family?.settings.volumeLimit).toBe(40);
    // The same roster again: no second chime.
    await toy.runtime.handle({ event: 'roster' });
    expect(toy.logs.filter((l) => l.event === 'chime')).toHaveLength(1);

    expect(await toy.runtime.handle({ event: 'family-deleted' })).toEqual({ played: 0, ended: 'family-deleted' });
  });
});
