/**
 * Accounts registered over the real OPAQUE routes, with a cheap client-side key-stretching setting
 * so that tests needing many accounts stay fast. The server cannot tell: stretching happens on the
 * client, and the server stores and checks the record exactly as any other.
 */
import * as opaque from '@serenity-kit/opaque';
import type { BurrowApp } from '../../src/server/http/types.js';
import { b64, sha256b64, TEST_KEY_STRETCHING } from '../server/helpers.js';

export const CHEAP_STRETCHING = TEST_KEY_STRETCHING;

export interface CheapAccount {
  email: string;
  password: string;
  accountId: string;
  sessionId: string;
  token: string;
}

export async function registerCheaply(app: BurrowApp, options: { email?: string; password?: string; remoteAddress?: string } = {}): Promise<CheapAccount> {
  await opaque.ready;
  const email = options.email ?? `cheap-${b64(6)}@example.org`;
  const password = options.password ?? `pw-${b64(12)}`;
  const remoteAddress = options.remoteAddress ?? '127.0.0.1';
  const { clientRegistrationState, registrationRequest } = opaque.client.startRegistration({ password });
  const start = await app.inject({ method: 'POST', url: '/v1/accounts/register/start', payload: { email, registrationRequest }, remoteAddress });
  if (start.statusCode !== 200) throw new Error(`register/start answered ${start.statusCode}: ${start.body}`);
  const { registrationRecord } = opaque.client.finishRegistration({
    clientRegistrationState, registrationResponse: start.json<{ registrationResponse: string }>().registrationResponse, password, keyStretching: CHEAP_STRETCHING,
  });
  const finish = await app.inject({
    method: 'POST', url: '/v1/accounts/register/finish', remoteAddress,
    payload: { email, registrationRecord, identity: { signingKey: b64(32), agreementKey: b64(32) }, sealedIdentity: b64(96), recoverySealedIdentity: b64(96), recoveryVerifier: sha256b64(b64(32)), tokenDelivery: 'bearer' },
  });
  if (finish.statusCode !== 201) throw new Error(`register/finish answered ${finish.statusCode}: ${finish.body}`);
  const body = finish.json<{ accountId: string; sessionId: string; token: string }>();
  return { email, password, accountId: body.accountId, sessionId: body.sessionId, token: body.token };
}
