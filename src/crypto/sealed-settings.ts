/**
 * Quiet hours sealed inside the signed roster entry (issue #16): a home's time zone and bedtime are
 * for the family and its toys, not the server. The server still reads what it enforces or checks
 * (retention, volume limit, toy-to-toy) in the clear.
 *
 *   key       = HKDF-SHA-256(ikm = the scope's key in the entry, salt = empty, info = "burrow/quiet-hours/v2")
 *   aad       = "burrow/quiet-hours/v2" ‖ 0x00 ‖ string familyId ‖ u64 epoch ‖ string scope
 *   plaintext = string start ‖ string end ‖ string timeZone          ("HH:MM", "HH:MM", IANA name)
 *   sealed    = 0x01 ‖ nonce (12) ‖ AES-256-GCM(plaintext, aad) ‖ tag (16)   (aead.ts)
 *
 * An entry carries one sealed copy per key scope (roster.ts), each under that scope's key: every
 * member holds the family-wide scope's key and every toy its child's, so they all read the hours
 * while a toy holds no key beyond its child's. The AAD ties a sealed value to its family, epoch
 * and scope, so a guardian's signed value cannot be moved into another entry or slot. The guardian's signature over the entry covers the sealed bytes: the
 * server can neither read nor change them.
 */
import { aeadOpen, aeadSeal } from './aead.js';
import { assertBytes } from './bytes.js';
import { CanonicalError, CanonicalReader, CanonicalWriter, labelled } from './canonical.js';
import { deriveKey } from './kdf.js';
import { fail, ok, type CryptoResult } from './result.js';

const LABEL = 'burrow/quiet-hours/v2';
const TIME_BYTES = 5;
const MAX_TIME_ZONE_BYTES = 64;
/** Largest sealed quiet-hours field: the AEAD framing around the longest plaintext. */
export const MAX_SEALED_QUIET_HOURS_BYTES = 1 + 12 + 16 + (4 + TIME_BYTES) * 2 + 4 + MAX_TIME_ZONE_BYTES;

/** Quiet hours as a guardian sets them: 'HH:MM' times (24 h) in an IANA time zone. */
export interface QuietHours {
  start: string;
  end: string;
  timeZone: string;
}

function aadOf(familyId: string, epoch: number, scope: string): Uint8Array {
  return labelled(LABEL, new CanonicalWriter().string(familyId).u64(epoch).string(scope).finish());
}

/** Seals `quietHours` for the entry of `epoch`, as the copy of `scope`, under that scope's key `key`. */
export async function sealQuietHours(options: { familyId: string; epoch: number; scope: string; key: Uint8Array; quietHours: QuietHours }): Promise<Uint8Array> {
  const { familyId, epoch, scope, quietHours } = options;
  assertBytes(options.key, 'key', 32);
  const key = await deriveKey(options.key, LABEL, 32);
  try {
    const plaintext = new CanonicalWriter().string(quietHours.start).string(quietHours.end).string(quietHours.timeZone).finish();
    return await aeadSeal(key, plaintext, aadOf(familyId, epoch, scope));
  } finally {
    key.fill(0);
  }
}

/**
 * Opens the copy of sealed quiet hours for `scope` with that scope's key in their entry. A wrong
 * key or changed byte is `roster/settings-unreadable`; so is a plaintext that is not three short
 * strings (the caller checks the times and the zone, as it does for anything a guardian signs).
 */
export async function openQuietHours(options: { familyId: string; epoch: number; scope: string; key: Uint8Array; sealed: Uint8Array }): Promise<CryptoResult<QuietHours>> {
  const { familyId, epoch, scope, sealed } = options;
  if (!(options.key instanceof Uint8Array) || options.key.length !== 32) return fail('roster/settings-unreadable');
  const key = await deriveKey(options.key, LABEL, 32);
  try {
    const opened = await aeadOpen(key, sealed, aadOf(familyId, epoch, scope));
    if (!opened.ok) return fail('roster/settings-unreadable');
    const r = new CanonicalReader(opened.value);
    const quietHours = { start: r.string(TIME_BYTES), end: r.string(TIME_BYTES), timeZone: r.string(MAX_TIME_ZONE_BYTES) };
    r.end();
    return ok(quietHours);
  } catch (error) {
    if (error instanceof CanonicalError) return fail('roster/settings-unreadable');
    throw error;
  } finally {
    key.fill(0);
  }
}
