/**
 * Quiet hours as the signed roster states them ("19:30"–"07:00" in an IANA time zone), read the
 * same way by the toys (which wait with messages until they end) and by the family app (whose
 * composer says when a child's toys are in quiet time). Times are "HH:MM", 24-hour; the start is
 * inclusive and the end exclusive; start = end means no quiet hours; hours that span midnight work.
 */
import type { FamilySettings } from '../crypto/roster.js';

function minutesOf(time: string): number {
  return Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));
}

/**
 * Whether `now` (ms since 1970) falls in the signed quiet hours, and if so when they end (ms since
 * 1970, to the minute).
 */
export function quietUntil(settings: FamilySettings, now: number): number | undefined {
  const q = settings.quietHours;
  if (q === undefined) return undefined;
  const start = minutesOf(q.start);
  const end = minutesOf(q.end);
  if (start === end) return undefined;
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: q.timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(now));
  const hour = Number(parts.find((p) => p.type === 'hour')?.value ?? '0');
  const minute = Number(parts.find((p) => p.type === 'minute')?.value ?? '0');
  const m = hour * 60 + minute;
  const quiet = start < end ? m >= start && m < end : m >= start || m < end;
  if (!quiet) return undefined;
  const left = (end - m + 1440) % 1440;
  return Math.floor(now / 60_000) * 60_000 + left * 60_000;
}

/** "19:30-07:00 Europe/London", or null without quiet hours (for logs and listings). */
export function quietLabel(settings: FamilySettings): string | null {
  const q = settings.quietHours;
  return q === undefined ? null : `${q.start}-${q.end} ${q.timeZone}`;
}
