/** The backstop's bookkeeping: one slot per principal, one lookup per principal and token in a sweep. */
import { describe, expect, it } from 'vitest';
import { RecheckRound } from '../../../src/server/live/connection.js';
import { BACKSTOP_SWEEPS, backstopSlotOf } from '../../../src/server/live/hub.js';

const who = (principalId: string, token: string, sessionId?: string) => ({ kind: 'member' as const, principalId, token, sessionId });

describe('the authorisation backstop', () => {
  it('gives every connection of a principal the same slot, and spreads principals over every slot', () => {
    const ids = Array.from({ length: 4_000 }, (_, i) => `acct-${i}-${(i * 7919).toString(36)}`);
    expect(ids.map(backstopSlotOf)).toEqual(ids.map(backstopSlotOf));
    const perSlot = new Array<number>(BACKSTOP_SWEEPS).fill(0);
    for (const id of ids) perSlot[backstopSlotOf(id)]!++;
    expect(perSlot.every((n) => n > 0)).toBe(true);
    // 100 expected in each; a hash that favours some slots would put several times that in one.
    expect(Math.max(...perSlot)).toBeLessThan(200);
  });

  it('asks once per principal, session and token in a round, however many connections share them', async () => {
    const round = new RecheckRound();
    const asked: string[] = [];
    const check = async (w: ReturnType<typeof who>) => {
      asked.push(`${w.principalId}/${w.sessionId}`);
      return w.token === 'good';
    };
    const answers = await Promise.all([
      round.authorised(who('a', 'good', 's1'), check),
      round.authorised(who('a', 'good', 's1'), check),
      round.authorised(who('a', 'good', 's1'), check),
      round.authorised(who('a', 'bad', 's2'), check),
      round.authorised(who('b', 'good', 's3'), check),
    ]);
    expect(answers).toEqual([true, true, true, false, true]);
    expect(asked).toEqual(['a/s1', 'a/s2', 'b/s3']);
    const listed: string[] = [];
    const list = async (id: string) => {
      listed.push(id);
      return [`family-of-${id}`];
    };
    expect(await Promise.all([round.familiesOf('a', list), round.familiesOf('a', list), round.familiesOf('b', list)])).toEqual([['family-of-a'], ['family-of-a'], ['family-of-b']]);
    expect(listed).toEqual(['a', 'b']);
  });

  it('asks again in a new round', async () => {
    let asked = 0;
    const check = async () => ++asked > 1;
    expect(await new RecheckRound().authorised(who('a', 't'), check)).toBe(false);
    expect(await new RecheckRound().authorised(who('a', 't'), check)).toBe(true);
  });
});
