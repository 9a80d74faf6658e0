/**
 * The signed-in state of the app: an API client in cookie mode (the server keeps the session in
 * an HttpOnly, SameSite=Strict cookie; no token ever reaches script), the identity from login or
 * from the browser's sealed session record, and the IndexedDB key store.
 */
import { BurrowApi, ApiError, NetworkError, type ClientContext } from '../../client/index.js';
import type { Identity } from '../../crypto/index.js';
import { BrowserSessionStore, forgetEverything, IndexedDbKeyStore } from '../lib/browser-stores.js';
import { fetchWithUploadProgress } from '../lib/upload-progress.js';
import { withOfflineCopy } from '../lib/offline.js';
import { forgetBrowserPush } from '../lib/push.js';

export interface SignedIn {
  ctx: ClientContext;
  accountId: string;
  sessionId: string;
}

export const sessionStore = new BrowserSessionStore();
export const keyStore = new IndexedDbKeyStore();

export function newApi(): BurrowApi {
  return new BurrowApi({ baseUrl: location.origin, auth: 'cookie', fetch: withOfflineCopy(fetchWithUploadProgress) });
}

function sessionLabel(): string {
  const ua = navigator.userAgent;
  const browser = /Firefox\//.test(ua) ? 'Firefox' : /Edg\//.test(ua) ? 'Edge' : /Chrome\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'a browser';
  const device = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iPhone/iPad' : /Mac OS X/.test(ua) ? 'Mac' : /Windows/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : 'a device';
  return `Web app, ${browser} on ${device}`;
}

function signedIn(api: BurrowApi, session: { accountId: string; sessionId: string }, identity: Identity): SignedIn {
  return { ctx: { api, me: { accountId: session.accountId, identity }, store: keyStore }, accountId: session.accountId, sessionId: session.sessionId };
}

/** Resumes the session kept in IndexedDB, if the server still honours its cookie. */
export async function resume(): Promise<SignedIn | undefined> {
  const { resumeSession } = await import('../../client/account.js');
  let resumed;
  try {
    resumed = await resumeSession(sessionStore, { auth: 'cookie', fetch: withOfflineCopy(fetchWithUploadProgress) });
  } catch {
    return undefined;
  }
  if (resumed.session.serverUrl !== location.origin) {
    await forgetEverything();
    return undefined;
  }
  try {
    const me = await resumed.api.me();
    if (me.accountId !== resumed.session.accountId) throw new Error('another account');
  } catch (error) {
    // Signed out elsewhere (or the session expired): forget this browser's copy.
    if (error instanceof ApiError && error.status === 401) {
      await forgetEverything();
      return undefined;
    }
    // Offline (the server cannot be reached): the session stays; the app shows what this device
    // kept, read-only, and the server judges the cookie once it is reachable again.
    if (!(error instanceof ApiError) && !(error instanceof NetworkError)) throw error;
  }
  return signedIn(resumed.api, resumed.session, resumed.identity);
}

/** Who may create an account on this server (GET /v1/accounts/registration). */
export async function registrationMode(): Promise<'open' | 'invite' | 'closed'> {
  const { RegistrationInfo } = await import('../../protocol/accounts.js');
  return (await newApi().call('GET', '/v1/accounts/registration', RegistrationInfo)).mode;
}

/** Creates an account; `registrationPass` is the invite's id or an operator's code where the server takes invited people only. */
export async function signUp(email: string, password: string, registrationPass?: string): Promise<{ who: SignedIn; recoveryCode: string }> {
  const { registerAccount } = await import('../../client/account.js');
  const api = newApi();
  const registration = await registerAccount({ api, email, password, store: sessionStore, tokenDelivery: 'cookie', sessionLabel: sessionLabel(), ...(registrationPass === undefined ? {} : { registrationPass }) });
  return { who: signedIn(api, registration.session, registration.identity), recoveryCode: registration.recoveryCode };
}

export async function signIn(email: string, password: string): Promise<SignedIn> {
  const { loginAccount } = await import('../../client/account.js');
  const api = newApi();
  const login = await loginAccount({ api, email, password, store: sessionStore, tokenDelivery: 'cookie', sessionLabel: sessionLabel() });
  return signedIn(api, login.session, login.identity);
}

export async function recover(email: string, recoveryCode: string, newPassword: string): Promise<{ who: SignedIn; recoveryCode: string }> {
  const { recoverAccount } = await import('../../client/account.js');
  const api = newApi();
  const recovery = await recoverAccount({ api, email, recoveryCode, newPassword, store: sessionStore, tokenDelivery: 'cookie', sessionLabel: sessionLabel() });
  return { who: signedIn(api, recovery.session, recovery.identity), recoveryCode: recovery.recoveryCode };
}

export async function signOut(who: SignedIn): Promise<void> {
  const { logout } = await import('../../client/account.js');
  try {
    await logout({ api: who.ctx.api, store: sessionStore });
  } finally {
    // The server dropped this device's push subscription with the session; the browser drops its own.
    await forgetBrowserPush().catch(() => undefined);
    await forgetEverything();
  }
}
