/**
 * Bench accounts. Registration is the client library's (src/client/account.ts) step for step —
 * OPAQUE registration, a fresh identity sealed under the export key and under a recovery code —
 * except for OPAQUE's client-side key stretching, set to a minimal Argon2id here on both
 * registration and login. Key stretching runs only on the client (RFC 9807 §6.4.4: the server
 * never sees the password nor the stretched value), so the server's work per login is exactly a
 * real login's; the load client just does not spend a second of CPU per login that a person's
 * device would.
 */
import * as opaque from '@serenity-kit/opaque';
import { encodePublicIdentity } from '../../src/client/account.js';
import { deriveRecoveryKeys, generateRecoveryCode } from '../../src/client/recovery-code.js';
import { fromBase64Url, randomBytes, toBase64Url, toHex } from '../../src/crypto/bytes.js';
import { generateIdentity, sealIdentity, type Identity } from '../../src/crypto/identity.js';
import { deriveKey } from '../../src/crypto/kdf.js';
import type { HttpClient } from '../harness/http-client.js';

type KeyStretching = NonNullable<Parameters<typeof opaque.client.finishLogin>[0]['keyStretching']>;
/** The load client's key stretching (RFC 9106's minimum): client work only. */
export const BENCH_KEY_STRETCHING: KeyStretching = { 'argon2id-custom': { iterations: 1, memory: 8, parallelism: 1 } };

// The client library's labels (src/client/account.ts).
const EXPORT_KEY_SEAL_LABEL = 'burrow/identity-seal/v1';
const PASSWORD_SEAL_CONTEXT = 'burrow/account-identity/v1/password';
const RECOVERY_SEAL_CONTEXT = 'burrow/account-identity/v1/recovery';

export interface BenchAccount {
  email: string;
  password: string;
  accountId: string;
  token: string;
  identity: Identity;
}

interface Granted {
  accountId: string;
  sessionId: string;
  token: string;
}

export async function registerBenchAccount(client: HttpClient, label: string): Promise<BenchAccount> {
  await opaque.ready;
  const email = `bench-${label}-${toHex(randomBytes(4))}@example.org`;
  const password = `bench ${toHex(randomBytes(8))} quiet harbour`;
  const { clientRegistrationState, registrationRequest } = opaque.client.startRegistration({ password });
  const { registrationResponse } = await client.json<{ registrationResponse: string }>('POST', '/v1/accounts/register/start', { email, registrationRequest });
  const { registrationRecord, exportKey } = opaque.client.finishRegistration({ clientRegistrationState, registrationResponse, password, keyStretching: BENCH_KEY_STRETCHING });
  const identity = await generateIdentity();
  const sealingKey = await deriveKey(fromBase64Url(exportKey), EXPORT_KEY_SEAL_LABEL, 32);
  const sealed = await sealIdentity(identity, sealingKey, PASSWORD_SEAL_CONTEXT);
  const recoveryKeys = await deriveRecoveryKeys(generateRecoveryCode());
  const recoverySealed = await sealIdentity(identity, recoveryKeys.recoverySealingKey, RECOVERY_SEAL_CONTEXT);
  const granted = await client.json<Granted>('POST', '/v1/accounts/register/finish', {
    email,
    registrationRecord,
    identity: encodePublicIdentity(identity.publicKeys),
    sealedIdentity: toBase64Url(sealed),
    recoverySealedIdentity: toBase64Url(recoverySealed),
    recoveryVerifier: toBase64Url(recoveryKeys.recoveryVerifier),
    tokenDelivery: 'bearer',
    sessionLabel: 'bench',
  }, {}, 201);
  return { email, password, accountId: granted.accountId, token: granted.token, identity };
}

/** One OPAQUE login over HTTP (start + finish); returns the new session's bearer token. */
export async function loginBenchAccount(client: HttpClient, account: { email: string; password: string }): Promise<string> {
  const { clientLoginState, startLoginRequest } = opaque.client.startLogin({ password: account.password });
  const { loginId, loginResponse } = await client.json<{ loginId: string; loginResponse: string }>('POST', '/v1/accounts/login/start', { email: account.email, startLoginRequest });
  const finished = opaque.client.finishLogin({ clientLoginState, loginResponse, password: account.password, keyStretching: BENCH_KEY_STRETCHING });
  if (finished === undefined) throw new Error('the OPAQUE login did not finish on the client');
  const granted = await client.json<Granted>('POST', '/v1/accounts/login/finish', { loginId, finishLoginRequest: finished.finishLoginRequest, tokenDelivery: 'bearer', sessionLabel: 'bench' });
  return granted.token;
}
