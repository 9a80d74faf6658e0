/**
 * Screenshots of the browser tests: to test-results/screenshots during `npm test` (the tree stays
 * clean), to docs/screenshots under `npm run screenshots` (BURROW_SCREENSHOTS=docs), which the
 * README and docs show.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';

const dir = new URL(process.env.BURROW_SCREENSHOTS === 'docs' ? '../../../docs/screenshots/' : '../../../test-results/screenshots/', import.meta.url).pathname;

/** Saves what `page` shows now as `<name>.png`. */
export async function shoot(page: Page, name: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), animations: 'disabled', caret: 'hide' });
}
