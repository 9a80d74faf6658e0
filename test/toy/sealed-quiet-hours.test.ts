/**
 * Quiet hours are sealed in the signed roster (issue #16): the server's database and blob store hold
 * no time zone and no bedtime, in any row or file, while a paired toy still keeps a message until
 * the signed quiet hours end. Real server, real pairing, the database read behind the server's back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChild } from '../../src/client/children.js';
import { createFamily, loadFamily } from '../../src/client/families.js';
import { sendMessage } from '../../src/client/messages.js';
import { setToySettings } from '../../src/client/toys.js';
import { utf8 } from '../../src/crypto/bytes.js';
import { CanonicalWriter } from '../../src/crypto/canonical.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { registerMember, wavWith, type TestMember } from '../e2e/family-harness.js';
import { searchDirectory } from '../dump/marker-search.js';
import { pairToy, toyRuntime } from './toy-harness.js';

// An unusual zone and odd minutes, so a match in the data directory cannot be a coincidence.
const QUIET = { start: '21:17', end: '06:43', timeZone: 'Pacific/Chatham' } as const;

/** The first whole minute from `from` on that reads `hhmm` on a clock in `timeZone`. */
function nextLocal(from: number, hhmm: string, timeZone: string): number {
  const format = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  for (let t = Math.ceil(from / 60_000) * 60_000; ; t += 60_000) if (format.format(t) === hhmm) return t;
}

let server: RunningServer;
let mum: TestMember;

beforeAll(async () => {
  server = await startServer();
  mum = await registerMember(server.url, 'mum');
}, 60_000);

afterAll(async () => {
  await server?.close();
});

describe('sealed quiet hours', { timeout: 90_000 }, () => {
  it('leave no time zone or bedtime on the server, and the toy still obeys them', async () => {
    const familyId = (await createFamily(mum, { name: 'Night Owls' })).familyId;
    const mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦉' })).childId;
    const paired = await pairToy(server.url, mum, familyId, mia);
    const after = await setToySettings(mum, { familyId, quietHours: { ...QUIET } });
    expect(after.settings.quietHours).toEqual(QUIET);
    expect(after.roster.settings).not.toHaveProperty('quietHours');
    // A second guardian's view (a fresh load) opens the same hours from the signed entry.
    expect((await loadFamily(mum, familyId)).settings.quietHours).toEqual(QUIET);

    const sent = await sendMessage(mum, { familyId, to: mia, audio: wavWith(utf8('goodnight'), 400), audioType: 'audio/wav', durationMs: 25 });
    // The toy's clock: the next 22:00 in Chatham after the message was sealed (inside the quiet hours).
    const inQuiet = nextLocal(Date.now(), '22:00', QUIET.timeZone);
    const quietEnds = nextLocal(inQuiet, QUIET.end, QUIET.timeZone);
    let now = inQuiet;
    const toy = await toyRuntime(paired, undefined, { now: () => now });
    const family = await toy.runtime.start();
    expect(family.settings.quietHours).toEqual(QUIET);
    await toy.runtime.sync();
    expect(toy.played).toEqual([]);
    expect(toy.logs).toContainEqual({ event: 'waiting', messageId: sent.messageId, reason: 'toy/quiet-hours', notBefore: quietEnds });
    now = quietEnds;
    await toy.runtime.handle({ event: 'message' });
    expect(toy.played.map((p) => p.messageId)).toEqual([sent.messageId]);

    // Behind the server's back: every row of the database (its file and write-ahead log) and every
    // blob, for the zone and for the hours as the roster encoded them in the clear (the times alone
    // are too short to search for), in every encoding the dump test knows (base64url included, as
    // the server stores roster entries).
    await server.stop();
    const clearHours = new CanonicalWriter().string(QUIET.start).string(QUIET.end).string(QUIET.timeZone).finish();
    const report = await searchDirectory(server.dataDir, { text: [QUIET.timeZone], bytes: [{ marker: 'quiet hours in the clear', bytes: clearHours }] });
    expect(report.bytesSearched).toBeGreaterThan(0);
    expect(report.hits).toEqual([]);
  });
});
