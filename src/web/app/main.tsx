/** The family app's entry: registers the service worker and renders the app. */
import { render } from 'preact';
import { App } from './app.js';

/** The one Trusted Types policy of the app (the CSP allows only it, once): the worker's own address. */
interface TrustedTypesFactory {
  createPolicy(name: string, rules: { createScriptURL(input: string): string }): { createScriptURL(input: string): unknown };
}

function serviceWorkerUrl(): string {
  const factory = (globalThis as { trustedTypes?: TrustedTypesFactory }).trustedTypes;
  if (factory === undefined) return '/sw.js';
  // Under `require-trusted-types-for 'script'` register() takes only a TrustedScriptURL; this
  // policy makes exactly one, for /sw.js, and refuses anything else.
  const policy = factory.createPolicy('burrow-service-worker', {
    createScriptURL(input) {
      if (input !== '/sw.js') throw new TypeError('only /sw.js may be registered as the service worker');
      return input;
    },
  });
  return policy.createScriptURL('/sw.js') as string;
}

if ('serviceWorker' in navigator && location.protocol !== 'file:') {
  try {
    navigator.serviceWorker.register(serviceWorkerUrl(), { scope: '/' }).catch(() => undefined);
  } catch {
    // No worker (a policy of that name exists already): the app works without it, online.
  }
}

render(<App />, document.getElementById('app')!);
