/**
 * Toy to toy (issue #15 item 8): a toy's reply goes into its child's conversation, which the child's
 * other toys also receive. A sibling toy plays it only where the signed settings allow toy-to-toy
 * (off by default); the guardians still hear every reply. Real server, two paired toys of one child.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChild } from '../../src/client/children.js';
import { createFamily } from '../../src/client/families.js';
import { downloadAndOpenMessage } from '../../src/client/messages.js';
import { setToySettings } from '../../src/client/toys.js';
import { utf8 } from '../../src/crypto/bytes.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { registerMember, wavWith, type TestMember } from '../e2e/family-harness.js';
import { pairToy, toyRuntime, type TestToy } from './toy-harness.js';

let server: RunningServer;
let mum: TestMember;
let familyId: string;
let bear: TestToy;
let bunny: TestToy;

beforeAll(async () => {
  server = await startServer();
  mum = await registerMember(server.url, 'mum');
  familyId = (await createFamily(mum, { name: 'Two Toys' })).familyId;
  const mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
  bear = await toyRuntime(await pairToy(server.url, mum, familyId, mia, 'Bear'));
  bunny = await toyRuntime(await pairToy(server.url, mum, familyId, mia, 'Bunny'));
  await bear.runtime.start();
  await bunny.runtime.start();
}, 90_000);

afterAll(async () => {
  await server?.close();
});

describe('a reply from a sibling toy', { timeout: 60_000 }, () => {
  it('does not play on the other toy while toy-to-toy is off (the default), but reaches the guardian', async () => {
    expect(bunny.runtime.family?.settings.toyToToy).toBeUndefined();
    const reply = await bear.runtime.reply({ audio: wavWith(utf8('bear says hi'), 300), audioType: 'audio/wav', durationMs: 20 });
    expect(reply.sent).toBe(true);
    expect(await bunny.runtime.sync()).toBe(0);
    expect(bunny.played).toEqual([]);
    expect(bunny.logs).toContainEqual({ event: 'refused', messageId: reply.messageId, senderId: bear.paired.toyId, reason: 'toy/toy-to-toy-off' });
    const heard = await downloadAndOpenMessage(mum, { familyId, messageId: reply.messageId });
    expect(heard.opened.ok && heard.opened.value.sender).toEqual({ kind: 'toy', id: bear.paired.toyId });
  });

  it('plays on the other toy once a guardian signs toy-to-toy on, and the sender does not play its own', async () => {
    const after = await setToySettings(mum, { familyId, toyToToy: true });
    expect(after.roster.settings.toyToToy).toBe(true);
    await bear.runtime.refresh();
    await bunny.runtime.refresh();
    const reply = await bear.runtime.reply({ audio: wavWith(utf8('bear again'), 300), audioType: 'audio/wav', durationMs: 20 });
    expect(await bunny.runtime.sync()).toBe(1);
    expect(bunny.played.map((p) => p.messageId)).toEqual([reply.messageId]);
    expect(await bear.runtime.sync()).toBe(0);
    expect(bear.played).toEqual([]);
  });
});
