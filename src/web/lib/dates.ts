/**
 * Dates and times as the reader writes them: their own locale and time zone, never seconds
 * ("7 Dec 2026, 10:42" in en-GB, "Dec 7, 2026, 10:42 AM" in en-US).
 */
export function formatWhen(at: number): string {
  return new Date(at).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A day without the time ("12 Dec 2026"). */
export function formatDay(at: number): string {
  return new Date(at).toLocaleDateString(undefined, { dateStyle: 'medium' });
}
