/**
 * Scheduled backups: every `intervalMs` the server writes `<dir>/burrow-<time>.burrow-backup` and
 * keeps the newest `keep` of its own files. The first run waits only for what is left of the
 * interval since the newest existing backup, so restarts neither skip nor double a backup.
 * Scheduled backups never hold the secrets file (no passphrase is kept on the server).
 */
import { mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createBackup, type BackupSummary } from './create-backup.js';

/** Timer functions, injected so tests drive the schedule by hand. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const systemTimers: Timers = {
  setTimeout: (callback, ms) => {
    const handle = setTimeout(callback, ms);
    handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

const NAME_PATTERN = /^burrow-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z\.burrow-backup$/;

export interface BackupScheduleOptions {
  dataDir: string;
  dir: string;
  intervalMs: number;
  keep: number;
  now?: () => number;
  timers?: Timers;
  onBackup?: (summary: BackupSummary, removed: string[]) => void;
  onError?: (error: unknown) => void;
}

export interface BackupSchedule {
  /** Writes one backup now and prunes old ones; answers the new file's path. */
  runNow(): Promise<string>;
  /** Stops the schedule and waits for a backup in progress. */
  stop(): Promise<void>;
}

/** The scheduled backups in `dir`, newest first. */
export async function scheduledBackups(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => NAME_PATTERN.test(n)).sort().reverse();
}

/** The time a scheduled backup's name records. */
export function timeOfBackupName(name: string): number | undefined {
  const match = /^burrow-(\d{4}-\d\d-\d\d)T(\d\d)-(\d\d)-(\d\d)-(\d{3})Z/.exec(name);
  if (match === null) return undefined;
  const time = Date.parse(`${match[1]}T${match[2]}:${match[3]}:${match[4]}.${match[5]}Z`);
  return Number.isNaN(time) ? undefined : time;
}

/** Starts the schedule; the first backup runs when the newest existing one is an interval old. */
export function startBackupSchedule(options: BackupScheduleOptions): BackupSchedule {
  if (!Number.isSafeInteger(options.intervalMs) || options.intervalMs < 1) throw new TypeError('options.intervalMs must be a positive integer');
  if (!Number.isSafeInteger(options.keep) || options.keep < 1) throw new TypeError('options.keep must be a positive integer');
  const now = options.now ?? (() => Date.now());
  const timers = options.timers ?? systemTimers;
  let handle: unknown;
  let stopped = false;
  let running: Promise<unknown> = Promise.resolve();

  const runNow = async (): Promise<string> => {
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    const stamp = new Date(now()).toISOString().replace(/[:.]/g, '-');
    const out = join(options.dir, `burrow-${stamp}.burrow-backup`);
    const summary = await createBackup({ dataDir: options.dataDir, out, now: now() });
    const removed: string[] = [];
    for (const old of (await scheduledBackups(options.dir)).slice(options.keep)) {
      await unlink(join(options.dir, old)).catch(() => undefined);
      removed.push(old);
    }
    options.onBackup?.(summary, removed);
    return out;
  };

  const schedule = (delay: number): void => {
    if (stopped) return;
    handle = timers.setTimeout(() => {
      running = runNow()
        .catch((error: unknown) => options.onError?.(error))
        .finally(() => schedule(options.intervalMs));
    }, Math.max(0, delay));
  };

  void (async () => {
    const newest = (await scheduledBackups(options.dir))[0];
    const newestAt = newest === undefined ? undefined : timeOfBackupName(newest);
    schedule(newestAt === undefined ? 0 : newestAt + options.intervalMs - now());
  })().catch((error: unknown) => options.onError?.(error));

  return {
    runNow,
    async stop() {
      stopped = true;
      if (handle !== undefined) timers.clearTimeout(handle);
      await running.catch(() => undefined);
    },
  };
}
