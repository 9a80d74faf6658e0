/**
 * When a toy chimes: once, at a new volume limit a guardian signed (not the limit it starts with),
 * and never in quiet hours. The reference toy and the virtual toy both ask this, with the settings
 * of each roster head they verify (docs/protocol.md, "What a toy plays").
 */
import type { FamilySettings } from '../crypto/roster.js';
import { quietUntil } from './quiet-hours.js';

/** A tracker fed every verified head's settings; it answers the volume to chime at, or undefined. */
export function volumeChimes(): (settings: FamilySettings, now: number) => number | undefined {
  let last: number | undefined;
  return (settings, now) => {
    const before = last;
    last = settings.volumeLimit;
    if (before === undefined || before === settings.volumeLimit) return undefined;
    return quietUntil(settings, now) === undefined ? settings.volumeLimit : undefined;
  };
}
