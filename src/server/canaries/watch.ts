/**
 * Watches for canaries being touched: a Set of registry tags, reloaded when the file changes
 * (its mtime is looked at most every 10 s) or on demand (SIGHUP). A check is one HMAC and one
 * Set lookup; a hit raises an alert at most once per canary per minute, so an intruder who
 * hammers a decoy cannot flood the operator's mail. Checks never throw and never wait.
 */
import type { Clock } from '../deps.js';
import { canaryKey, canaryRegistryMtime, canaryTag, readCanaryRegistry, type CanaryKind } from './registry.js';
import type { Secrets } from '../secrets.js';

export const CANARY_RELOAD_INTERVAL_MS = 10_000;
export const CANARY_ALERT_INTERVAL_MS = 60_000;

export interface CanaryWatch {
  /** Raises an alert (fire and forget) when `value` of this kind is a canary; answers whether it was. */
  check(kind: CanaryKind, value: string): boolean;
  /** Reads the registry again now. */
  reload(): void;
  /** How many canaries are watched. */
  readonly size: number;
}

export function createCanaryWatch(deps: {
  dataDir: string;
  secrets: Secrets;
  clock: Clock;
  /** Tells the operator; `id` is the first characters of the tag, never the decoy's id or email. */
  alert(kind: CanaryKind, id: string): Promise<void>;
  onError(message: string, error: unknown): void;
}): CanaryWatch {
  const key = canaryKey(deps.secrets);
  let tags = new Set<string>();
  let loadedMtime: number | undefined;
  let lastLookAt = -Infinity;
  const lastAlertAt = new Map<string, number>();

  const reload = (): void => {
    try {
      loadedMtime = canaryRegistryMtime(deps.dataDir);
      tags = new Set(readCanaryRegistry(deps.dataDir).map((e) => e.tag));
    } catch (error) {
      // A broken file keeps the previous set: better stale canaries than none.
      deps.onError('the canary registry could not be read', error);
    }
  };
  const refreshIfChanged = (now: number): void => {
    if (now - lastLookAt < CANARY_RELOAD_INTERVAL_MS) return;
    lastLookAt = now;
    if (canaryRegistryMtime(deps.dataDir) !== loadedMtime) reload();
  };
  reload();
  lastLookAt = deps.clock.now();

  return {
    get size() {
      return tags.size;
    },
    reload,
    check(kind, value) {
      const now = deps.clock.now();
      refreshIfChanged(now);
      if (tags.size === 0) return false;
      const tag = canaryTag(key, kind, value);
      if (!tags.has(tag)) return false;
      const last = lastAlertAt.get(tag);
      if (last === undefined || now - last >= CANARY_ALERT_INTERVAL_MS) {
        lastAlertAt.set(tag, now);
        deps.alert(kind, tag.slice(0, 16)).catch((error: unknown) => deps.onError('the canary alert failed', error));
      }
      return true;
    },
  };
}
