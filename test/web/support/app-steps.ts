/**
 * What a person does in the family app and on the virtual toy, as steps the browser tests share:
 * each one drives the pages through their labels and roles (as a screen-reader user would), and
 * waits for the page to say it worked.
 */
import { expect } from 'vitest';
import type { Page } from 'playwright-core';

/** Generous per-step limit: the machine running the suite may be busy. */
const STEP_MS = 60_000;

/** The `data-*` state the virtual toy exposes on `#virtual-toy`. */
export async function toyState(toy: Page, name: string): Promise<string> {
  return (await toy.locator('#virtual-toy').getAttribute(`data-${name}`)) ?? '';
}

/** Waits until the toy's `data-<name>` satisfies `check` (a value or a predicate). */
export async function waitForToy(toy: Page, name: string, check: string | ((value: string) => boolean), timeout = STEP_MS): Promise<string> {
  const ok = typeof check === 'string' ? (v: string) => v === check : check;
  await expect.poll(async () => ok(await toyState(toy, name)), { timeout, interval: 100 }).toBe(true);
  return toyState(toy, name);
}

/**
 * Signs up on the app's first screen; returns the recovery code it shows once. `beforeSubmit`
 * runs with the form filled in (the strength meter says the password is good), e.g. to take a
 * screenshot.
 */
export async function signUp(page: Page, options: { email: string; password: string; beforeSubmit?: () => Promise<void> }): Promise<string> {
  await page.getByLabel('Email').fill(options.email);
  await page.getByLabel('Password', { exact: true }).fill(options.password);
  const submit = page.getByRole('button', { name: 'Create account' });
  await expect.poll(() => submit.isEnabled(), { timeout: STEP_MS }).toBe(true);
  await options.beforeSubmit?.();
  await submit.click();
  const code = page.getByTestId('recovery-code');
  await code.waitFor({ timeout: STEP_MS });
  const recoveryCode = (await code.innerText()).trim();
  await page.getByLabel('I have saved my recovery code somewhere safe').check();
  await page.getByRole('button', { name: 'Continue' }).click();
  return recoveryCode;
}

/** Creates a family from the home screen; returns its id (from the address the app moves to). */
export async function createFamily(page: Page, name: string): Promise<string> {
  await page.getByLabel('Family name').fill(name);
  await page.getByRole('button', { name: 'Create the family' }).click();
  await page.waitForURL(/\/family\/[A-Za-z0-9_-]{22}\/people$/, { timeout: STEP_MS });
  return /\/family\/([A-Za-z0-9_-]{22})\//.exec(page.url())![1]!;
}

/** Adds a child on the family's People tab. */
export async function addChild(page: Page, name: string, emoji: string): Promise<void> {
  await page.getByLabel("Child's name").fill(name);
  await page.getByRole('radio', { name: `Picture ${emoji}` }).click();
  // Adding a child signs a roster entry (the child gets a conversation key): on a busy machine the
  // previous add may still hold the form, so wait for the button rather than the default 30 s.
  const add = page.getByRole('button', { name: 'Add the child' });
  await expect.poll(() => add.isEnabled(), { timeout: STEP_MS }).toBe(true);
  await add.click();
  await page.locator('.card li', { hasText: name }).first().waitFor({ timeout: STEP_MS });
}

/** Opens one of the family's tabs (Messages, People, Toys, Settings). */
export async function openTab(page: Page, tab: 'Messages' | 'People' | 'Toys' | 'Settings'): Promise<void> {
  const tabs = page.getByRole('navigation', { name: 'Family' });
  // From a conversation, the back link leads to the family first.
  if ((await tabs.count()) === 0) await page.locator('a.back').click();
  await tabs.getByRole('link', { name: tab }).click();
  await page.waitForURL(new RegExp(`/family/[A-Za-z0-9_-]{22}/${tab.toLowerCase()}$`), { timeout: STEP_MS });
}

/** Switches the virtual toy on and reads the pairing code it shows. */
export async function showToyCode(toy: Page): Promise<string> {
  await toy.goto('/toy');
  await toy.getByRole('button', { name: 'Switch the toy on' }).click();
  const code = await toy.locator('[data-code]').getAttribute('data-code', { timeout: STEP_MS });
  expect(code).toMatch(/^\d{8}$/);
  return code!;
}

/**
 * Types the toy's code on the family's Toys tab for `childLabel` ("🦊 Mia") and waits until both
 * sides say they are paired. `beforeSubmit` runs with the form filled in.
 */
export async function pairToy(page: Page, toy: Page, options: { code: string; childLabel: string; beforeSubmit?: () => Promise<void> }): Promise<void> {
  await openTab(page, 'Toys');
  await page.getByLabel('The code the toy shows').fill(`${options.code.slice(0, 3)} ${options.code.slice(3)}`);
  await page.getByLabel('Whose toy is it?').selectOption({ label: options.childLabel });
  await options.beforeSubmit?.();
  await page.getByRole('button', { name: 'Pair the toy' }).click();
  await page.getByText('The toy is paired with').waitFor({ timeout: STEP_MS });
  await waitForToy(toy, 'phase', 'paired');
}

/**
 * Removes the toy of `childLabel` ("🦊 Mia") on the family's Toys tab, accepting the dialog that
 * says what removing does, and waits until the app lists that toy no more. Returns the dialog's words.
 */
export async function removeToy(page: Page, childLabel: string): Promise<string> {
  await openTab(page, 'Toys');
  const entry = page.locator('li[data-toy]', { hasText: `for ${childLabel}` });
  await expect.poll(() => entry.count(), { timeout: STEP_MS }).toBe(1);
  const toyId = (await entry.getAttribute('data-toy'))!;
  let words = '';
  page.once('dialog', (dialog) => {
    words = dialog.message();
    void dialog.accept();
  });
  await entry.getByRole('button', { name: 'Remove' }).click();
  await expect.poll(() => page.locator(`li[data-toy="${toyId}"]`).count(), { timeout: STEP_MS }).toBe(0);
  return words;
}

/** Opens the conversation with a child from the family's Messages tab. */
export async function openConversation(page: Page, childName: string): Promise<void> {
  await openTab(page, 'Messages');
  await page.getByRole('link', { name: childName, exact: true }).click();
  await page.waitForURL(/\/family\/[A-Za-z0-9_-]{22}\/talk\/[A-Za-z0-9_-]{22}$/, { timeout: STEP_MS });
}

/**
 * Presses a button with the mouse and holds it (press-and-hold recording): `holdMs` counted from
 * when `recording()` says the microphone is open (opening it takes a moment after the press).
 */
export async function holdButton(page: Page, options: { name: string; holdMs: number; recording: () => Promise<boolean> }): Promise<void> {
  const button = page.getByRole('button', { name: options.name });
  await button.waitFor({ timeout: STEP_MS });
  const box = (await button.boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await expect.poll(options.recording, { timeout: STEP_MS, interval: 50 }).toBe(true);
  await page.waitForTimeout(options.holdMs);
  await page.mouse.up();
}

/** Records a message in the open conversation by holding the record button, previews it, sends it. */
export async function recordAndSend(page: Page, options: { childName: string; holdMs: number }): Promise<void> {
  const recorder = page.locator('.recorder').first();
  await holdButton(page, { name: `Record a message for ${options.childName}`, holdMs: options.holdMs, recording: async () => (await recorder.getAttribute('data-state')) === 'recording' });
  await page.getByTestId('preview').waitFor({ timeout: STEP_MS });
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await page.getByText('Sent, encrypted.').waitFor({ timeout: STEP_MS });
}

/** The toy records a reply by tap-to-start, tap-to-stop (the accessible way), `talkMs` apart. */
export async function toyReplyByTaps(toy: Page, talkMs: number): Promise<void> {
  const sent = Number(await toyState(toy, 'sent'));
  await toy.getByRole('button', { name: 'Hold to talk' }).click();
  await waitForToy(toy, 'recording', 'latched');
  await waitForToy(toy, 'mic', 'open');
  await toy.waitForTimeout(talkMs);
  await toy.getByRole('button', { name: /tap to send/ }).click();
  await waitForToy(toy, 'sent', (v) => Number(v) === sent + 1);
}
