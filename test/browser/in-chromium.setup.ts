/**
 * Setup for the `crypto-browser` project: refuses to run unless the tests really are inside
 * Chromium with WebCrypto, so a misconfigured project cannot pass by running in Node.
 */
const agent: string = typeof navigator === 'undefined' ? '' : navigator.userAgent;
if (typeof window === 'undefined' || typeof document === 'undefined' || !/\bHeadlessChrome\/|\bChrome\//.test(agent)) {
  throw new Error(`crypto-browser tests must run inside Chromium, not ${agent || 'a non-browser runtime'}`);
}
if (typeof globalThis.crypto?.subtle?.digest !== 'function') throw new Error('WebCrypto is missing in this browser context');
