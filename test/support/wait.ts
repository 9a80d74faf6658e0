/**
 * Waiting for a condition on a machine that may be busy: the tests wait for what they expect to
 * happen, polling, with a deadline generous enough that only a real failure reaches it — never a
 * fixed number of short sleeps that a loaded machine outlasts. The caller asserts afterwards, so a
 * failure still says what was expected and what was found.
 */

/** Generous: a loaded CI machine or a busy laptop, not a hung test, is what this has to outlast. */
export const WAIT_MS = 60_000;

/**
 * Polls `check` every `intervalMs` until it holds or `timeoutMs` passed; resolves whether it held.
 */
export async function waitUntil(check: () => boolean | Promise<boolean>, options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<boolean> {
  const deadline = Date.now() + (options.timeoutMs ?? WAIT_MS);
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 20));
  }
}
