/**
 * Accounts from the client's side: OPAQUE registration and login (RFC 9807), the account identity
 * sealed under a key derived from OPAQUE's export_key, a recovery code that seals a second copy,
 * and the session calls. The server sees neither the password, the recovery code nor a private key.
 */
import type * as Opaque from '@serenity-kit/opaque';
import { bytesEqual, fromBase64Url, randomBytes, toBase64Url } from '../crypto/bytes.js';
import {
  exportIdentitySecret,
  generateIdentity,
  importIdentitySecret,
  openSealedIdentity,
  sealIdentity,
  type Identity,
  type PublicIdentityKeys,
} from '../crypto/identity.js';
import { deriveKey } from '../crypto/kdf.js';
import type { SessionGranted } from '../protocol/accounts.js';
import type { PublicIdentity } from '../protocol/common.js';
import { errorCatalogue, problemType } from '../protocol/errors.js';
import { ApiError, BurrowApi, type AuthMode } from './api.js';
import { ClientError, type ClientErrorCode } from './client-error.js';
import { deriveRecoveryKeys, generateRecoveryCode } from './recovery-code.js';
import type { SessionStore, StoredSession } from './session-store.js';

/**
 * OPAQUE (a WebAssembly module) and the password policy (a large dictionary) load on first use, not
 * with this module: a web page that only resumes a session never downloads either.
 */
async function loadOpaque(): Promise<typeof Opaque> {
  const opaque = await import('@serenity-kit/opaque');
  await opaque.ready;
  return opaque;
}

/** HKDF label turning OPAQUE's export_key (RFC 9807 §6.4.4) into the identity sealing key. */
const EXPORT_KEY_SEAL_LABEL = 'burrow/identity-seal/v1';
/** AEAD contexts of the two sealed copies, so one can never be passed off as the other. */
const PASSWORD_SEAL_CONTEXT = 'burrow/account-identity/v1/password';
const RECOVERY_SEAL_CONTEXT = 'burrow/account-identity/v1/recovery';

/** Text the server requires in the body of DELETE /v1/accounts/me. */
const DELETE_CONFIRMATION = 'delete my account';

/** Why a client-side account step failed (as opposed to an {@link ApiError} from the server); see the catalogue. */
export type AccountErrorCode = Extract<ClientErrorCode, 'client/weak-password' | 'client/unseal-failed' | 'client/identity-mismatch' | 'client/not-signed-in'>;

/** A client-side account failure (a {@link ClientError}); `feedback` says why a password is weak. Never carries a password, key or token. */
export class AccountError extends ClientError {
  declare readonly code: AccountErrorCode;

  constructor(code: AccountErrorCode, message: string, feedback: readonly string[] = []) {
    super(code, message, { feedback });
    this.name = 'AccountError';
  }
}

/** A signed-in session, as returned by register, login and recovery. */
export interface AccountSession {
  serverUrl: string;
  accountId: string;
  sessionId: string;
  /** Bearer token; absent in cookie mode. Secret: never print or log it. */
  token?: string;
  /** The account's public identity keys, base64url (as the API carries them). */
  identity: PublicIdentity;
}

/** OPAQUE's key-stretching setting (Argon2id parameters), as the library types it. */
type KeyStretching = NonNullable<Parameters<typeof Opaque.client.finishRegistration>[0]['keyStretching']>;

/**
 * The key of a test harness's cheaper key stretching in the options of register, login and
 * recover. Production always stretches with the library's default: Argon2id with RFC 9106's
 * memory-constrained parameters (64 MiB, 3 passes, 4 lanes). Only code that imports this symbol
 * can weaken it: it is not in the global symbol registry, and no server answer, JSON,
 * configuration or environment variable can produce a symbol key; test/architecture.test.ts
 * checks that nothing under src/ but this file names it.
 */
export const TEST_HARNESS_KEY_STRETCHING: unique symbol = Symbol('burrow test-harness key stretching');

/** The stretching of one call: the default unless a test harness passed its own. */
function keyStretchingOf(options: NewSessionOptions): { keyStretching?: KeyStretching } {
  const chosen = options[TEST_HARNESS_KEY_STRETCHING];
  return chosen === undefined ? {} : { keyStretching: chosen };
}

/** Options shared by the calls that end in a new session. */
interface NewSessionOptions {
  /** Test harnesses only: a cheaper stretching; registration and login must use the same one. */
  [TEST_HARNESS_KEY_STRETCHING]?: KeyStretching;
  api: BurrowApi;
  /** Shown to the user in their sessions list, such as "burrow CLI on laptop". */
  sessionLabel?: string;
  /** `bearer` returns the token; `cookie` lets the server set an HttpOnly cookie. Default: the API client's auth mode. */
  tokenDelivery?: AuthMode;
  /** When given, the session and the identity secret are saved to it. */
  store?: SessionStore;
}

/** The encoded form of public identity keys. */
export function encodePublicIdentity(keys: PublicIdentityKeys): PublicIdentity {
  const identity: PublicIdentity = { signingKey: toBase64Url(keys.signingKey), agreementKey: toBase64Url(keys.agreementKey) };
  if (keys.kemKey !== undefined) identity.kemKey = toBase64Url(keys.kemKey);
  return identity;
}

/** The raw form of encoded public identity keys. */
export function decodePublicIdentity(identity: PublicIdentity): PublicIdentityKeys {
  const keys: PublicIdentityKeys = { signingKey: fromBase64Url(identity.signingKey), agreementKey: fromBase64Url(identity.agreementKey) };
  if (identity.kemKey !== undefined) keys.kemKey = fromBase64Url(identity.kemKey);
  return keys;
}

/** True when two sets of public identity keys are the same keys. */
export function samePublicKeys(a: PublicIdentityKeys, b: PublicIdentityKeys): boolean {
  const sameKem = a.kemKey === undefined || b.kemKey === undefined ? a.kemKey === b.kemKey : bytesEqual(a.kemKey, b.kemKey);
  return bytesEqual(a.signingKey, b.signingKey) && bytesEqual(a.agreementKey, b.agreementKey) && sameKem;
}

/** The error a failed login produces, the same for an unknown email and a wrong password. */
export function loginFailedError(): ApiError {
  const entry = errorCatalogue['burrow/login-failed'];
  return new ApiError({ type: problemType('burrow/login-failed'), title: entry.title, status: entry.status, detail: entry.title });
}

function normaliseEmail(email: string): string {
  if (typeof email !== 'string') throw new TypeError('email must be a string');
  const trimmed = email.trim();
  if (!/^[^\s@]+@[^\s@]+$/.test(trimmed)) throw new TypeError('email must look like name@example.org');
  return trimmed;
}

async function assertPolicy(password: string, email: string): Promise<void> {
  const { checkPassword } = await import('./password-policy.js');
  const check = checkPassword(password, { email });
  if (!check.ok) throw new AccountError('client/weak-password', 'The password is too weak.', check.feedback);
}

async function sealingKeyFromExportKey(exportKey: string): Promise<Uint8Array> {
  return deriveKey(fromBase64Url(exportKey), EXPORT_KEY_SEAL_LABEL, 32);
}

/** A recovery code and the sealed copy and verifier the server keeps for it. */
async function sealRecoveryCopy(identity: Identity): Promise<{ recoveryCode: string; recoverySealedIdentity: string; recoveryVerifier: string }> {
  const recoveryCode = generateRecoveryCode();
  const keys = await deriveRecoveryKeys(recoveryCode);
  const sealed = await sealIdentity(identity, keys.recoverySealingKey, RECOVERY_SEAL_CONTEXT);
  keys.recoverySealingKey.fill(0);
  return { recoveryCode, recoverySealedIdentity: toBase64Url(sealed), recoveryVerifier: toBase64Url(keys.recoveryVerifier) };
}

/** Checks the server's answer against the identity we hold and turns it into a session. */
async function acceptGrant(options: NewSessionOptions, granted: SessionGranted, identity: Identity): Promise<AccountSession> {
  if (!samePublicKeys(decodePublicIdentity(granted.identity), identity.publicKeys)) {
    throw new AccountError('client/identity-mismatch', "The server's copy of this account's public keys does not match its sealed identity.");
  }
  const session: AccountSession = {
    serverUrl: options.api.baseUrl,
    accountId: granted.accountId,
    sessionId: granted.sessionId,
    identity: encodePublicIdentity(identity.publicKeys),
    ...(granted.token === undefined ? {} : { token: granted.token }),
  };
  if (options.api.auth === 'bearer') options.api.setToken(granted.token);
  if (options.store !== undefined) {
    const identitySecret = await exportIdentitySecret(identity);
    const stored: StoredSession = { ...session, identitySecret };
    try {
      await options.store.save(stored);
    } finally {
      identitySecret.fill(0);
    }
  }
  return session;
}

/** What registration gives back; show `recoveryCode` to the user once, then forget it. */
export interface Registration {
  session: AccountSession;
  identity: Identity;
  recoveryCode: string;
}

/**
 * Registers a new account: checks the password policy, runs OPAQUE registration, generates the
 * identity, seals it under the export key and under a fresh recovery code, and signs in.
 */
export async function registerAccount(options: NewSessionOptions & {
  email: string;
  password: string;
  /** On a server that takes invited people only: the family invite's id, or the operator's `reg_…` code. */
  registrationPass?: string;
}): Promise<Registration> {
  const email = normaliseEmail(options.email);
  await assertPolicy(options.password, email);
  const opaque = await loadOpaque();
  const { clientRegistrationState, registrationRequest } = opaque.client.startRegistration({ password: options.password });
  const pass = options.registrationPass === undefined || options.registrationPass.trim() === '' ? {} : { registrationPass: options.registrationPass.trim() };
  const { registrationResponse } = await options.api.registerStart({ email, registrationRequest, ...pass });
  const { registrationRecord, exportKey } = opaque.client.finishRegistration({
    clientRegistrationState,
    registrationResponse,
    password: options.password,
    ...keyStretchingOf(options),
  });
  const identity = await generateIdentity();
  const sealingKey = await sealingKeyFromExportKey(exportKey);
  const sealed = await sealIdentity(identity, sealingKey, PASSWORD_SEAL_CONTEXT);
  sealingKey.fill(0);
  const recovery = await sealRecoveryCopy(identity);
  const granted = await options.api.registerFinish({
    email,
    registrationRecord,
    identity: encodePublicIdentity(identity.publicKeys),
    sealedIdentity: toBase64Url(sealed),
    recoverySealedIdentity: recovery.recoverySealedIdentity,
    recoveryVerifier: recovery.recoveryVerifier,
    tokenDelivery: options.tokenDelivery ?? options.api.auth,
    ...(options.sessionLabel === undefined ? {} : { sessionLabel: options.sessionLabel }),
    ...pass,
  });
  const session = await acceptGrant(options, granted, identity);
  return { session, identity, recoveryCode: recovery.recoveryCode };
}

/** Who is acting: the signed-in account and its identity keys. */
export interface Me {
  accountId: string;
  identity: Identity;
}

/** What login and recovery give back. */
export interface SignedIn {
  session: AccountSession;
  identity: Identity;
}

/**
 * Signs in with OPAQUE and restores the identity from the sealed bundle. An unknown email and a
 * wrong password both end in the server's `burrow/login-failed` problem, indistinguishably.
 */
export async function loginAccount(options: NewSessionOptions & { email: string; password: string }): Promise<SignedIn> {
  const email = normaliseEmail(options.email);
  if (typeof options.password !== 'string') throw new TypeError('password must be a string');
  const opaque = await loadOpaque();
  const { clientLoginState, startLoginRequest } = opaque.client.startLogin({ password: options.password });
  const { loginId, loginResponse } = await options.api.loginStart({ email, startLoginRequest });
  const finished = opaque.client.finishLogin({ clientLoginState, loginResponse, password: options.password, ...keyStretchingOf(options) });
  const tokenDelivery = options.tokenDelivery ?? options.api.auth;
  const label = options.sessionLabel === undefined ? {} : { sessionLabel: options.sessionLabel };
  if (finished === undefined) {
    // RFC 9807 §6.4.3: the envelope did not open, so the password is wrong or the account is the
    // server's fake record for an unknown email. Finish with a MAC that cannot verify, so the
    // server counts the failure and answers exactly as it would to any failed login.
    try {
      await options.api.loginFinish({ loginId, finishLoginRequest: toBase64Url(randomBytes(64)), tokenDelivery, ...label });
    } catch (error) {
      if (error instanceof ApiError && error.code === 'burrow/login-failed') throw error;
      if (error instanceof ApiError && error.code === 'burrow/rate-limited') throw error;
    }
    throw loginFailedError();
  }
  const granted = await options.api.loginFinish({ loginId, finishLoginRequest: finished.finishLoginRequest, tokenDelivery, ...label });
  const sealingKey = await sealingKeyFromExportKey(finished.exportKey);
  const opened = await openSealedIdentity(fromBase64Url(granted.sealedIdentity), sealingKey, PASSWORD_SEAL_CONTEXT);
  sealingKey.fill(0);
  if (!opened.ok) {
    throw new AccountError('client/unseal-failed', 'The sealed identity the server returned does not open with this password; it may have been tampered with.');
  }
  const session = await acceptGrant(options, granted, opened.value);
  return { session, identity: opened.value };
}

/** What recovery gives back: a new recovery code replaces the one used. */
export interface Recovery extends SignedIn {
  recoveryCode: string;
}

/**
 * Recovers an account with its recovery code: proves the code, opens the recovery copy of the
 * identity, sets `newPassword` (OPAQUE registration anew) and issues a new recovery code. The
 * identity keys stay the same; every other session ends.
 */
export async function recoverAccount(options: NewSessionOptions & { email: string; recoveryCode: string; newPassword: string }): Promise<Recovery> {
  const email = normaliseEmail(options.email);
  await assertPolicy(options.newPassword, email);
  const oldKeys = await deriveRecoveryKeys(options.recoveryCode);
  const opaque = await loadOpaque();
  const { clientRegistrationState, registrationRequest } = opaque.client.startRegistration({ password: options.newPassword });
  const recoveryProof = toBase64Url(oldKeys.recoveryProof);
  const started = await options.api.recoverStart({ email, recoveryProof, registrationRequest });
  const opened = await openSealedIdentity(fromBase64Url(started.recoverySealedIdentity), oldKeys.recoverySealingKey, RECOVERY_SEAL_CONTEXT);
  oldKeys.recoverySealingKey.fill(0);
  if (!opened.ok) {
    throw new AccountError('client/unseal-failed', 'The recovery copy of the identity does not open with this code; it may have been tampered with.');
  }
  const identity = opened.value;
  const { registrationRecord, exportKey } = opaque.client.finishRegistration({
    clientRegistrationState,
    registrationResponse: started.registrationResponse,
    password: options.newPassword,
    ...keyStretchingOf(options),
  });
  const sealingKey = await sealingKeyFromExportKey(exportKey);
  const sealed = await sealIdentity(identity, sealingKey, PASSWORD_SEAL_CONTEXT);
  sealingKey.fill(0);
  const recovery = await sealRecoveryCopy(identity);
  const granted = await options.api.recoverFinish({
    email,
    recoveryProof,
    registrationRecord,
    sealedIdentity: toBase64Url(sealed),
    recoverySealedIdentity: recovery.recoverySealedIdentity,
    recoveryVerifier: recovery.recoveryVerifier,
    tokenDelivery: options.tokenDelivery ?? options.api.auth,
    ...(options.sessionLabel === undefined ? {} : { sessionLabel: options.sessionLabel }),
      });
  const session = await acceptGrant(options, granted, identity);
  return { session, identity, recoveryCode: recovery.recoveryCode };
}

/** A session resumed from a store: an API client carrying its token, and the identity. */
export interface ResumedSession extends SignedIn {
  api: BurrowApi;
}

/** Resumes the session saved in `store`, or throws `client/not-signed-in`. */
export async function resumeSession(store: SessionStore, options: { fetch?: typeof globalThis.fetch; auth?: AuthMode; allowInsecureHttp?: boolean } = {}): Promise<ResumedSession> {
  const stored = await store.load();
  if (stored === undefined) throw new AccountError('client/not-signed-in', 'Not signed in.');
  const identity = await importIdentitySecret(stored.identitySecret);
  stored.identitySecret.fill(0);
  if (!samePublicKeys(identity.publicKeys, decodePublicIdentity(stored.identity))) {
    throw new AccountError('client/identity-mismatch', 'The stored identity does not match its public keys.');
  }
  const api = new BurrowApi({
    baseUrl: stored.serverUrl,
    auth: options.auth ?? 'bearer',
    ...(stored.token === undefined ? {} : { token: stored.token }),
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    ...(options.allowInsecureHttp === true ? { allowInsecureHttp: true } : {}),
  });
  const { identitySecret: _secret, ...session } = stored;
  return { api, identity, session };
}

/** Ends the current session on the server and forgets it locally (also when the server already had). */
export async function logout(options: { api: BurrowApi; store?: SessionStore }): Promise<void> {
  try {
    await options.api.logout();
  } catch (error) {
    if (!(error instanceof ApiError && error.code === 'burrow/unauthenticated')) throw error;
  } finally {
    if (options.api.auth === 'bearer') options.api.setToken(undefined);
  }
  await options.store?.clear();
}

/**
 * The server refused to delete the account because it is the only guardian of families others
 * belong to (`burrow/sole-guardian`): make another member a guardian of each, or delete it, first.
 */
export class SoleGuardianError extends ApiError {
  /** The families that would be left without a guardian. */
  readonly familyIds: readonly string[];

  constructor(problem: ApiError['problem']) {
    super(problem);
    this.name = 'SoleGuardianError';
    this.familyIds = Array.isArray(problem.familyIds) ? problem.familyIds.filter((id): id is string => typeof id === 'string') : [];
  }
}

/**
 * Deletes the signed-in account and everything the server holds for it, then forgets the session.
 * Families it was the only member of are deleted with it; throws {@link SoleGuardianError} (and
 * deletes nothing) while it is the only guardian of a family someone else is in.
 */
export async function deleteAccount(options: { api: BurrowApi; store?: SessionStore }): Promise<void> {
  try {
    await options.api.deleteAccount({ confirm: DELETE_CONFIRMATION });
  } catch (error) {
    if (error instanceof ApiError && error.code === 'burrow/sole-guardian') throw new SoleGuardianError(error.problem);
    throw error;
  }
  if (options.api.auth === 'bearer') options.api.setToken(undefined);
  await options.store?.clear();
}

/** The account's sessions, the current one marked. */
export async function listSessions(api: BurrowApi): Promise<Array<{ sessionId: string; label: string; createdAt: number; lastSeenAt: number; current: boolean }>> {
  return (await api.listSessions()).sessions;
}

/** Ends one of the account's sessions. */
export async function revokeSession(api: BurrowApi, sessionId: string): Promise<void> {
  await api.revokeSession(sessionId);
}

/** Ends every session of the account, the current one included. */
export async function revokeAllSessions(api: BurrowApi): Promise<void> {
  await api.revokeAllSessions();
}
