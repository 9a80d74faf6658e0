/**
 * Pairing toys in tests, one way for each kind of toy:
 * - `pairToy`: a toy of the client library (what the reference toy runs), paired by a guardian
 *   through the client library against a real server;
 * - `pairVirtualToy`: the browser's virtual toy at /toy, switched on in a page, its code entered
 *   by a guardian through the client library.
 * (A guardian pairing in the family app's Toys tab is a step of the app: test/web/support/app-steps.ts.)
 */
import type { Page } from 'playwright-core';
import type { ClientContext } from '../../src/client/families.js';
import { addToy, startToyPairingAttempt, type PairedToy } from '../../src/client/toys.js';
import { showToyCode, waitForToy } from '../web/support/app-steps.js';

/** Pairs a new toy with `childId`: the toy starts an attempt, the guardian enters its code. */
export async function pairToy(url: string, guardian: ClientContext, familyId: string, childId: string, name?: string): Promise<PairedToy> {
  const attempt = await startToyPairingAttempt({ baseUrl: url });
  const paired = attempt.waitUntilPaired({ pollMs: 100 });
  paired.catch(() => undefined);
  await addToy(guardian, { familyId, code: attempt.code, childId, pollMs: 100, ...(name === undefined ? {} : { name }) });
  return paired;
}

/**
 * Switches the virtual toy on in `toy` (a page of the app's origin), has `guardian` enter its code
 * for `childId`, and waits until the toy says it is paired. Returns the toy's id.
 */
export async function pairVirtualToy(toy: Page, guardian: ClientContext, options: { familyId: string; childId: string }): Promise<string> {
  const code = await showToyCode(toy);
  const { toyId } = await addToy(guardian, { familyId: options.familyId, code, childId: options.childId, pollMs: 250 });
  await waitForToy(toy, 'phase', 'paired');
  return toyId;
}
