/**
 * Scheduled backups with a hand-driven clock and timers: one backup per interval into the backup
 * directory, the newest `keep` kept, and a restart waits only for what is left of the interval.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOrCreateSecrets } from '../../src/server/secrets.js';
import { readBackupManifest } from '../../src/storage/backup/restore-backup.js';
import { scheduledBackups, startBackupSchedule, type Timers } from '../../src/storage/backup/schedule.js';
import { openSqliteStore } from '../../src/storage/sqlite.js';
import { startBurrow } from '../support/cli.js';

function manualTimers(): Timers & { pending: Array<{ callback: () => void; ms: number }>; fire(): void } {
  const pending: Array<{ callback: () => void; ms: number }> = [];
  return {
    pending,
    setTimeout(callback, ms) {
      const entry = { callback, ms };
      pending.push(entry);
      return entry;
    },
    clearTimeout(handle) {
      const index = pending.indexOf(handle as { callback: () => void; ms: number });
      if (index >= 0) pending.splice(index, 1);
    },
    fire() {
      const next = pending.shift();
      if (next === undefined) throw new Error('nothing scheduled');
      next.callback();
    },
  };
}

async function until(check: () => boolean | Promise<boolean>, tries = 1000): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('condition not reached');
}

describe('scheduled backups', () => {
  it('writes one backup per interval and keeps the newest N, without the secrets', async () => {
    const work = mkdtempSync(join(tmpdir(), 'burrow-schedule-'));
    const dataDir = join(work, 'data');
    await loadOrCreateSecrets({ dataDir });
    await (await openSqliteStore(join(dataDir, 'burrow.db'))).close();
    const dir = join(work, 'backups');
    let now = Date.UTC(2026, 10, 27, 3, 0, 0);
    const timers = manualTimers();
    const hour = 3_600_000;
    const done: string[] = [];
    const schedule = startBackupSchedule({ dataDir, dir, intervalMs: 24 * hour, keep: 2, now: () => now, timers, onBackup: (s) => done.push(s.out) });
    await until(() => timers.pending.length === 1);
    expect(timers.pending[0]!.ms).toBe(0);
    for (let day = 0; day < 3; day++) {
      timers.fire();
      await until(() => done.length === day + 1 && timers.pending.length === 1);
      expect(timers.pending[0]!.ms).toBe(24 * hour);
      now += 24 * hour;
    }
    const kept = await scheduledBackups(dir);
    expect(kept).toEqual(['burrow-2026-11-29T03-00-00-000Z.burrow-backup', 'burrow-2026-11-28T03-00-00-000Z.burrow-backup']);
    const { manifest } = await readBackupManifest(join(dir, kept[0]!));
    expect(manifest.files.map((f) => f.path)).toContain('burrow.db');
    expect(manifest.secrets).toBeUndefined();
    expect(manifest.files.map((f) => f.path)).not.toContain('secrets.json');
    await schedule.stop();
    expect(timers.pending).toEqual([]);

    // A restart 5 hours after the newest backup waits the remaining 19 hours.
    now = Date.UTC(2026, 10, 29, 8, 0, 0);
    const restarted = startBackupSchedule({ dataDir, dir, intervalMs: 24 * hour, keep: 2, now: () => now, timers });
    await until(() => timers.pending.length === 1);
    expect(timers.pending[0]!.ms).toBe(19 * hour);
    await restarted.stop();
  });
});

describe('burrow serve with BURROW_BACKUP_DIR', () => {
  it('writes its first scheduled backup soon after it starts', async () => {
    const work = mkdtempSync(join(tmpdir(), 'burrow-schedule-serve-'));
    const backupDir = join(work, 'backups');
    const serve = startBurrow(['serve', '--data', join(work, 'data'), '--port', '0'], {
      env: { BURROW_BACKUP_DIR: backupDir, BURROW_LOG_LEVEL: 'info', BURROW_SECURITY_CONTACT: 'mailto:security@example.org' },
    });
    try {
      await until(async () => (await scheduledBackups(backupDir)).length === 1 && serve.stdout().includes('scheduled backup written'), 5000);
      const [name] = await scheduledBackups(backupDir);
      const { manifest } = await readBackupManifest(join(backupDir, name!));
      expect(manifest.files.map((f) => f.path)).toContain('burrow.db');
    } finally {
      serve.signal('SIGTERM');
      expect((await serve.done).code).toBe(0);
    }
  }, 60_000);
});
