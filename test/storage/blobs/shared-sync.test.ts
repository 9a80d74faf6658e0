import { describe, expect, it } from 'vitest';
import { SharedSync } from '../../../src/storage/blobs/shared-sync.js';

/** A sync whose runs the test finishes by hand, recording when each started. */
function manualSync(): { sync: () => Promise<void>; runs: Array<{ finish: (error?: Error) => void }> } {
  const runs: Array<{ finish: (error?: Error) => void }> = [];
  return {
    runs,
    sync: () =>
      new Promise<void>((resolve, reject) => {
        runs.push({ finish: (error) => (error === undefined ? resolve() : reject(error)) });
      }),
  };
}

async function settledAll(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('shared fsync', () => {
  it('a request made while an fsync runs is served by the next one, which starts after it', async () => {
    const manual = manualSync();
    const shared = new SharedSync(manual.sync, () => undefined);
    let firstDone = false;
    let secondDone = false;
    void shared.request().then(() => (firstDone = true));
    void shared.request().then(() => (secondDone = true));
    expect(manual.runs).toHaveLength(1);
    manual.runs[0]!.finish();
    await settledAll();
    expect(firstDone).toBe(true);
    expect(secondDone).toBe(false);
    expect(manual.runs).toHaveLength(2);
    manual.runs[1]!.finish();
    await settledAll();
    expect(secondDone).toBe(true);
  });

  it('the requests made during one fsync share the next: one fsync for them all', async () => {
    const manual = manualSync();
    const shared = new SharedSync(manual.sync, () => undefined);
    const first = shared.request();
    const waiting = [shared.request(), shared.request(), shared.request()];
    manual.runs[0]!.finish();
    await first;
    await settledAll();
    expect(manual.runs).toHaveLength(2);
    manual.runs[1]!.finish();
    await Promise.all(waiting);
    expect(manual.runs).toHaveLength(2);
  });

  it('a failed fsync fails only the requests it serves; the next still runs for those waiting', async () => {
    const manual = manualSync();
    let idled = 0;
    const shared = new SharedSync(manual.sync, () => idled++);
    const first = shared.request();
    const second = shared.request();
    manual.runs[0]!.finish(Object.assign(new Error('EIO'), { code: 'EIO' }));
    await expect(first).rejects.toThrow('EIO');
    await settledAll();
    expect(manual.runs).toHaveLength(2);
    expect(idled).toBe(0);
    manual.runs[1]!.finish();
    await expect(second).resolves.toBeUndefined();
    await settledAll();
    expect(idled).toBe(1);
  });
});
