/**
 * A toy that learns of a message before it has seen the roster entry the message was sealed
 * under (a toy that polls, like the virtual toy, or a roster event still on its way) verifies the
 * newer roster first and plays the message, at the newer entry's settings, instead of refusing it
 * for an unknown epoch. Real server, real pairing.
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

describe('a message sealed under a roster entry the toy has not seen yet', { timeout: 60_000 }, () => {
  it('is played after the toy verifies the newer roster, at its settings', async () => {
    const familyId = (await createFamily(mum, { name: 'Moving On' })).familyId;
    const mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
    const toy = await toyRuntime(await pairToy(server.url, mum, familyId, mia));
    const before = await toy.runtime.start();
    // A new epoch the toy has not loaded, and a message sealed under it.
    await setToySettings(mum, { familyId, volumeLimit: 25 });
    const sent = await sendMessage(mum, { familyId, to: mia, audio: wavWith(utf8('newer'), 400), audioType: 'audio/wav', durationMs: 25 });
    expect(sent.epoch).toBe(before.roster.epoch + 1);
    expect(await toy.runtime.sync()).toBe(1);
    expect(toy.played.map((p) => [p.messageId, p.volume])).toEqual([[sent.messageId, 25]]);
    expect(toy.logs.filter((l) => l.event === 'refused')).toEqual([]);
  });
});
