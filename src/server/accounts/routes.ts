/** `/v1/accounts/*`: the HTTP face of the accounts service. */
import { clientKeyOf } from '../http/addresses.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  AccountView,
  DeleteAccountRequest,
  LoginFinishRequest,
  LoginStartRequest,
  LoginStartResponse,
  RecoverFinishRequest,
  RecoverStartRequest,
  RecoverStartResponse,
  RegisterFinishRequest,
  RegisterStartRequest,
  RegistrationInfo,
  RegisterStartResponse,
  SessionGranted,
} from '../../protocol/accounts.js';
import { refuseBody, NoContent } from '../http/bodies.js';
import type { BurrowApp } from '../http/types.js';
import { requireAuth } from '../sessions/authenticate.js';
import { clearedSessionCookie, sessionCookie } from '../sessions/tokens.js';
import type { SessionsService } from '../sessions/service.js';
import type { AccountsService, GrantedSession } from './service.js';
import type { RegistrationMode } from '../config.js';

/** The session cookie a sign-in may set. */
const SETS_SESSION_COOKIE = { 'Set-Cookie': { description: 'The session cookie (HttpOnly, SameSite=Strict; `__Host-` and Secure over https), when the body asked for `tokenDelivery: "cookie"`' } };
/** The session cookie a sign-out always clears. */
const CLEARS_SESSION_COOKIE = { 'Set-Cookie': { description: 'Clears the session cookie (Max-Age=0)', required: true } };

export interface AccountRoutesOptions {
  accounts: AccountsService;
  sessions: SessionsService;
  /** Session lifetime, for the cookie's Max-Age. */
  sessionTtlMs: number;
  /** Who may register (config.registration), as GET /v1/accounts/registration tells clients. */
  registrationMode: RegistrationMode;
}

/** Hands the session over as the body wants it: a cookie (token left out of the body) or a bearer token. */
function deliver(request: FastifyRequest, reply: FastifyReply, granted: GrantedSession, delivery: 'cookie' | 'bearer', ttlMs: number) {
  const body = { accountId: granted.accountId, sessionId: granted.sessionId, identity: granted.identity, sealedIdentity: granted.sealedIdentity };
  if (delivery === 'cookie') {
    reply.header('set-cookie', sessionCookie(granted.token, { maxAgeMs: ttlMs, secure: request.secureTransport }));
    return body;
  }
  return { ...body, token: granted.token };
}

export function registerAccountRoutes(app: BurrowApp, options: AccountRoutesOptions): void {
  const { accounts, sessionTtlMs } = options;

  app.get('/v1/accounts/registration', {
    schema: { response: { 200: RegistrationInfo } },
    config: { summary: 'Who may create an account here: open, invite (an invite link or an operator code) or closed' },
  }, async () => ({ mode: options.registrationMode }));

  app.post('/v1/accounts/register/start', {
    schema: { body: RegisterStartRequest, response: { 200: RegisterStartResponse } },
    config: { anonymous: true, summary: 'Begin an OPAQUE registration', problems: ['burrow/account-exists', 'burrow/registration-closed'] },
  }, async (request) => accounts.registerStart(request.body.email, request.body.registrationRequest, request.body.registrationPass));

  app.post('/v1/accounts/register/finish', {
    schema: { body: RegisterFinishRequest, response: { 201: SessionGranted } },
    config: { anonymous: true, summary: 'Store the OPAQUE record and sealed identity; starts a session', problems: ['burrow/account-exists', 'burrow/registration-closed'], docs: { headers: SETS_SESSION_COOKIE } },
  }, async (request, reply) => {
    const granted = await accounts.registerFinish(request.body);
    reply.code(201);
    return deliver(request, reply, granted, request.body.tokenDelivery, sessionTtlMs);
  });

  app.post('/v1/accounts/login/start', {
    schema: { body: LoginStartRequest, response: { 200: LoginStartResponse } },
    config: { anonymous: true, summary: 'Begin an OPAQUE login' },
  }, async (request) => accounts.loginStart(request.body.email, request.body.startLoginRequest, clientKeyOf(request.ip)));

  app.post('/v1/accounts/login/finish', {
    schema: { body: LoginFinishRequest, response: { 200: SessionGranted } },
    config: { anonymous: true, summary: 'Finish an OPAQUE login; starts a session', problems: ['burrow/login-failed', 'burrow/login-expired', 'burrow/account-disabled'], docs: { headers: SETS_SESSION_COOKIE } },
  }, async (request, reply) => {
    const granted = await accounts.loginFinish(request.body.loginId, request.body.finishLoginRequest, request.body.sessionLabel);
    return deliver(request, reply, granted, request.body.tokenDelivery, sessionTtlMs);
  });

  app.post('/v1/accounts/recover/start', {
    schema: { body: RecoverStartRequest, response: { 200: RecoverStartResponse } },
    config: { anonymous: true, summary: 'Prove the recovery code and begin a new OPAQUE registration', problems: ['burrow/recovery-failed'] },
  }, async (request) => accounts.recoverStart(request.body.email, request.body.recoveryProof, request.body.registrationRequest, clientKeyOf(request.ip)));

  app.post('/v1/accounts/recover/finish', {
    schema: { body: RecoverFinishRequest, response: { 200: SessionGranted } },
    config: { anonymous: true, summary: 'Set a new password record and sealed identity; ends every session and starts a new one', problems: ['burrow/recovery-failed'], docs: { headers: SETS_SESSION_COOKIE } },
  }, async (request, reply) => {
    const granted = await accounts.recoverFinish(request.body, clientKeyOf(request.ip));
    return deliver(request, reply, granted, request.body.tokenDelivery, sessionTtlMs);
  });

  app.post('/v1/accounts/logout', {
    schema: { response: { 204: NoContent } },
    config: { authenticated: true, summary: 'End the current session', problems: ['burrow/forbidden'], docs: { headers: CLEARS_SESSION_COOKIE } },
    preValidation: refuseBody,
  }, async (request, reply) => {
    const auth = requireAuth(request);
    await options.sessions.revoke(auth.accountId, auth.sessionId);
    reply.header('set-cookie', clearedSessionCookie({ secure: request.secureTransport }));
    return reply.code(204).send(null);
  });

  app.get('/v1/accounts/me', {
    schema: { response: { 200: AccountView } },
    config: { authenticated: true, summary: 'The signed-in account: public identity and sealed identity bundle' },
  }, async (request) => accounts.view(requireAuth(request).accountId));

  app.delete('/v1/accounts/me', {
    schema: { body: DeleteAccountRequest, response: { 204: NoContent } },
    config: {
      authenticated: true,
      summary: 'Delete the account and every session; families it was the only member of go with it, and it may not strand a family without a guardian',
      problems: ['burrow/forbidden', 'burrow/sole-guardian'],
      docs: { headers: CLEARS_SESSION_COOKIE },
    },
  }, async (request, reply) => {
    await accounts.delete(requireAuth(request).accountId);
    reply.header('set-cookie', clearedSessionCookie({ secure: request.secureTransport }));
    return reply.code(204).send(null);
  });
}
