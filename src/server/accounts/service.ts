/**
 * Accounts with OPAQUE (RFC 9807): registration, login, recovery, the account itself. The server
 * sees only OPAQUE messages, public keys and sealed bundles. The OPAQUE user identifier is the
 * email's keyed lookup hash, so the email itself never reaches the library or the database.
 * An unknown email takes the same path, the same queries and the same library calls as a known
 * one and ends in the same problem as a wrong password.
 */
import { createHash } from 'node:crypto';
import { bytesEqual, fromBase64Url } from '../../crypto/bytes.js';
import { BurrowError, type ErrorCode } from '../../protocol/errors.js';
import type { AccountRow } from '../../storage/database.js';
import { isUniqueViolation } from '../../storage/errors.js';
import type { Config } from '../config.js';
import type { FamilyEvents, FamilyPurger } from '../families/access.js';
import type { FamiliesRepository } from '../families/repository.js';
import { purgeFamily } from '../families/service.js';
import type { Clock, Random } from '../deps.js';
import { newId } from '../deps.js';
import { enforceLimit, rateLimited, type FailureBudget, type LoginThrottle, type RateLimiter } from '../http/rate-limit.js';
import { emailLookupHash, normaliseEmail, sealEmail, type Secrets } from '../secrets.js';
import type { SessionsService } from '../sessions/service.js';
import type { LoginStateStore } from './login-states.js';
import { loadOpaque, type Opaque } from './opaque-module.js';
import type { AccountsRepository } from './repository.js';
import type { SecurityLog } from '../security-log/service.js';
import type { RegistrationGate } from './registration.js';

export interface PublicIdentity {
  signingKey: string;
  agreementKey: string;
  /** The X-Wing key of accounts registered since the post-quantum change. */
  kemKey?: string;
}

/** An account's public identity as the API shows it (`kemKey` only when it has one). */
export function publicIdentityOf(account: Pick<AccountRow, 'signing_key' | 'agreement_key' | 'kem_key'>): PublicIdentity {
  const identity: PublicIdentity = { signingKey: account.signing_key, agreementKey: account.agreement_key };
  if (typeof account.kem_key === 'string') identity.kemKey = account.kem_key;
  return identity;
}

/** A session granted by registration, login or recovery; `token` goes to the client once. */
export interface GrantedSession {
  accountId: string;
  sessionId: string;
  token: string;
  expiresAt: number;
  identity: PublicIdentity;
  sealedIdentity: string;
}

export interface RegisterFinishInput {
  email: string;
  registrationRecord: string;
  identity: PublicIdentity;
  sealedIdentity: string;
  recoverySealedIdentity: string;
  recoveryVerifier: string;
  sessionLabel?: string | undefined;
  /** An open invite's id or an operator's one-time code, when the server takes invited people only. */
  registrationPass?: string | undefined;
}

export interface RecoverFinishInput {
  email: string;
  recoveryProof: string;
  registrationRecord: string;
  sealedIdentity: string;
  recoverySealedIdentity: string;
  recoveryVerifier: string;
  sessionLabel?: string | undefined;
}

export interface AccountView {
  accountId: string;
  identity: PublicIdentity;
  sealedIdentity: string;
  createdAt: number;
}

export interface AccountsService {
  registerStart(email: string, registrationRequest: string, registrationPass?: string): Promise<{ registrationResponse: string }>;
  registerFinish(input: RegisterFinishInput): Promise<GrantedSession>;
  /** `address`: the client's address, whose failed logins and recoveries are limited. */
  loginStart(email: string, startLoginRequest: string, address: string): Promise<{ loginId: string; loginResponse: string }>;
  loginFinish(loginId: string, finishLoginRequest: string, sessionLabel: string | undefined): Promise<GrantedSession>;
  recoverStart(email: string, recoveryProof: string, registrationRequest: string, address: string): Promise<{ recoverySealedIdentity: string; registrationResponse: string }>;
  recoverFinish(input: RecoverFinishInput, address: string): Promise<GrantedSession>;
  view(accountId: string): Promise<AccountView>;
  delete(accountId: string): Promise<void>;
}

export interface AccountsServiceDeps {
  repository: AccountsRepository;
  sessions: SessionsService;
  loginStates: LoginStateStore;
  limiter: RateLimiter;
  throttle: LoginThrottle;
  /** Failed logins and recoveries per client address (`config.rateLimits.loginFailuresPerIp`). */
  failures: FailureBudget;
  secrets: Secrets;
  config: Config;
  clock: Clock;
  random: Random;
  /** What deleting an account needs to purge the families it was the only member of. */
  families?: AccountFamilies;
  /** Records logins and new sessions in the member's families' security logs. */
  securityLog?: Pick<SecurityLog, 'sessionStarted'>;
  /** Who may register (config.registration); absent: anyone. */
  registration?: RegistrationGate;
}

/** The families seams account deletion uses: the same purge path as deleting a family. */
export interface AccountFamilies {
  repository: FamiliesRepository;
  purger: FamilyPurger;
  events: FamilyEvents;
  /** Reports a purge that failed after the account was deleted (the family is then left for the operator). */
  warn?: (message: string, error: unknown) => void;
}

export const SOLE_GUARDIAN_DETAIL = 'You are the only guardian of a family others belong to: make another member a guardian or delete the family first';

/** The family's events, with a failed publish reported rather than thrown (the deletion already happened). */
function quietEvents(families: AccountFamilies): FamilyEvents {
  return {
    async publish(familyId, type, data) {
      try {
        await families.events.publish(familyId, type, data);
      } catch (error) {
        families.warn?.('a live family event was not published', error);
      }
    },
  };
}

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

function badOpaqueMessage(name: string): BurrowError {
  return new BurrowError('burrow/bad-request', `${name} is not a valid OPAQUE message`);
}

const NO_VERIFIER = new Uint8Array(32);

export function createAccountsService(deps: AccountsServiceDeps): AccountsService {
  const { repository, sessions, secrets, config, clock, random } = deps;

  async function lookupOf(email: string): Promise<string> {
    const lookup = emailLookupHash(secrets, normaliseEmail(email));
    await enforceLimit(deps.limiter, `account:${lookup}`, config.rateLimits.perAccount);
    return lookup;
  }

  const budgetKey = (address: string): string => `login-ip:${address}`;

  /**
   * Counts a login or recovery attempt against the address's failure budget, before anything else
   * (no OPAQUE work for an address over it). The attempt stays counted unless it is given back.
   */
  async function takeFromBudget(address: string): Promise<void> {
    const wait = await deps.failures.take(budgetKey(address), config.rateLimits.loginFailuresPerIp);
    if (wait > 0) throw rateLimited(wait, 'Too many failed attempts from this address; wait before trying again');
  }

  /**
   * Runs `attempt` with one unit of the address's budget taken: it is given back when `attempt`
   * throws anything but `keep` (a refusal or a malformed message: no password was checked).
   */
  async function budgeted<T>(address: string, keep: ErrorCode | undefined, attempt: () => Promise<T>): Promise<T> {
    await takeFromBudget(address);
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof BurrowError && error.code === keep)) await deps.failures.forgive(budgetKey(address));
      throw error;
    }
  }

  async function waitForThrottle(key: string): Promise<void> {
    const wait = await deps.throttle.waitFor(key);
    if (wait > 0) throw rateLimited(wait, 'Too many failed attempts for this account; wait before trying again');
  }

  /** Throws bad-request unless `record` is a registration record the library can log in with. */
  function checkRecord(opaque: Opaque, record: string, userIdentifier: string): void {
    try {
      const { startLoginRequest } = opaque.client.startLogin({ password: 'record check' });
      opaque.server.startLogin({ serverSetup: secrets.serverSetup, registrationRecord: record, startLoginRequest, userIdentifier });
    } catch {
      throw badOpaqueMessage('registrationRecord');
    }
  }

  function recoveryProofMatches(account: AccountRow | undefined, proof: string): boolean {
    const expected = account === undefined ? NO_VERIFIER : fromBase64Url(account.recovery_verifier);
    const matches = bytesEqual(sha256(fromBase64Url(proof)), expected);
    return account !== undefined && matches;
  }

  function granted(account: Pick<AccountRow, 'id' | 'signing_key' | 'agreement_key' | 'kem_key' | 'sealed_identity'>, issued: ReturnType<SessionsService['prepare']>): GrantedSession {
    return {
      accountId: account.id,
      sessionId: issued.row.id,
      token: issued.token,
      expiresAt: issued.row.expires_at,
      identity: publicIdentityOf(account),
      sealedIdentity: account.sealed_identity,
    };
  }

  return {
    async registerStart(email, registrationRequest, registrationPass) {
      const opaque = await loadOpaque();
      // First, so a server that takes no strangers does not tell them which emails have accounts.
      await deps.registration?.check(registrationPass);
      const lookup = await lookupOf(email);
      if ((await repository.findByLookup(lookup)) !== undefined) throw new BurrowError('burrow/account-exists');
      try {
        return opaque.server.createRegistrationResponse({ serverSetup: secrets.serverSetup, userIdentifier: lookup, registrationRequest });
      } catch {
        throw badOpaqueMessage('registrationRequest');
      }
    },

    async registerFinish(input) {
      const opaque = await loadOpaque();
      const lookup = await lookupOf(input.email);
      if ((await repository.findByLookup(lookup)) !== undefined) throw new BurrowError('burrow/account-exists');
      checkRecord(opaque, input.registrationRecord, lookup);
      const accountId = newId(random);
      const account: AccountRow = {
        id: accountId,
        email_lookup: lookup,
        email_sealed: sealEmail(secrets, accountId, normaliseEmail(input.email), random.bytes(12)),
        opaque_record: input.registrationRecord,
        signing_key: input.identity.signingKey,
        agreement_key: input.identity.agreementKey,
        kem_key: input.identity.kemKey ?? null,
        sealed_identity: input.sealedIdentity,
        recovery_sealed_identity: input.recoverySealedIdentity,
        recovery_verifier: input.recoveryVerifier,
        created_at: clock.now(),
        disabled_at: null,
      };
      const issued = sessions.prepare(accountId, input.sessionLabel);
      const giveBack = (await deps.registration?.admit(input.registrationPass)) ?? (async () => {});
      try {
        await repository.createWithSession(account, issued.row);
      } catch (error) {
        await giveBack();
        if (isUniqueViolation(error)) throw new BurrowError('burrow/account-exists');
        throw error;
      }
      return granted(account, issued);
    },

    async loginStart(email, startLoginRequest, address) {
      const opaque = await loadOpaque();
      // Every throw here ends the attempt before the client could check a password: given back.
      return budgeted(address, undefined, async () => {
        const lookup = await lookupOf(email);
        await waitForThrottle(`login:${lookup}`);
        const account = await repository.findByLookup(lookup);
        let started: { serverLoginState: string; loginResponse: string };
        try {
          // With a null record the library answers with a fake one derived from the server setup,
          // indistinguishable from a real account (RFC 9807 §10.9, client enumeration).
          started = opaque.server.startLogin({
            serverSetup: secrets.serverSetup,
            registrationRecord: account?.opaque_record ?? null,
            startLoginRequest,
            userIdentifier: lookup,
          });
        } catch {
          throw badOpaqueMessage('startLoginRequest');
        }
        const loginId = newId(random);
        await deps.loginStates.put(loginId, {
          serverLoginState: started.serverLoginState,
          accountId: account?.id ?? null,
          ...(account === undefined ? {} : {
            account: {
              opaque_record: account.opaque_record,
              signing_key: account.signing_key,
              agreement_key: account.agreement_key,
              kem_key: account.kem_key,
              sealed_identity: account.sealed_identity,
              disabled_at: account.disabled_at ?? null,
            },
          }),
          emailLookup: lookup,
          address,
          expiresAt: clock.now() + config.login.stateTtlMs,
        });
        return { loginId, loginResponse: started.loginResponse };
      });
    },

    async loginFinish(loginId, finishLoginRequest, sessionLabel) {
      const opaque = await loadOpaque();
      const pending = await deps.loginStates.take(loginId);
      if (pending === undefined) throw new BurrowError('burrow/login-expired');
      let ok = true;
      try {
        opaque.server.finishLogin({ serverLoginState: pending.serverLoginState, finishLoginRequest });
      } catch {
        ok = false;
      }
      // The account as the start read it: the finish does not read it again. The session is
      // inserted only if the account is still enabled and has the same OPAQUE record.
      const account = pending.accountId === null || pending.account === undefined ? undefined : { ...pending.account, id: pending.accountId };
      // A failed (or expired) login keeps the unit its start took from the address's budget. Only a
      // failed finish slows the account down (an unknown email's too, so both look alike): a start
      // alone costs a stranger nothing, and counting starts let anyone lock the owner out.
      const failed = async (): Promise<never> => {
        await deps.throttle.failed(`login:${pending.emailLookup}`);
        throw new BurrowError('burrow/login-failed');
      };
      if (!ok || account === undefined) return failed();
      // Said only to someone who proved the password: a disabled account is not revealed to guessers.
      if (account.disabled_at != null) throw new BurrowError('burrow/account-disabled');
      const issued = sessions.prepare(account.id, sessionLabel);
      if (!(await repository.insertSessionIfCurrent(issued.row, account.opaque_record))) {
        // Rare: since the start the account was disabled, deleted, or given a new password (recovery).
        const now = await repository.findById(account.id);
        if (now?.disabled_at != null && now.opaque_record === account.opaque_record) throw new BurrowError('burrow/account-disabled');
        return failed();
      }
      await deps.throttle.succeeded(`login:${pending.emailLookup}`);
      if (pending.address !== undefined) await deps.failures.forgive(budgetKey(pending.address));
      await deps.securityLog?.sessionStarted(account.id, 'login', issued.row.id);
      return granted(account, issued);
    },

    async recoverStart(email, recoveryProof, registrationRequest, address) {
      const opaque = await loadOpaque();
      const started = await budgeted(address, 'burrow/recovery-failed', async () => {
        const lookup = await lookupOf(email);
        await waitForThrottle(`recover:${lookup}`);
        const account = await repository.findByLookup(lookup);
        let registrationResponse: string;
        try {
          ({ registrationResponse } = opaque.server.createRegistrationResponse({ serverSetup: secrets.serverSetup, userIdentifier: lookup, registrationRequest }));
        } catch {
          throw badOpaqueMessage('registrationRequest');
        }
        if (!recoveryProofMatches(account, recoveryProof) || account === undefined) {
          await deps.throttle.failed(`recover:${lookup}`);
          throw new BurrowError('burrow/recovery-failed');
        }
        return { recoverySealedIdentity: account.recovery_sealed_identity, registrationResponse };
      });
      await deps.failures.forgive(budgetKey(address));
      return started;
    },

    async recoverFinish(input, address) {
      const opaque = await loadOpaque();
      const done = await budgeted(address, 'burrow/recovery-failed', async () => {
        const lookup = await lookupOf(input.email);
        await waitForThrottle(`recover:${lookup}`);
        const account = await repository.findByLookup(lookup);
        if (!recoveryProofMatches(account, input.recoveryProof) || account === undefined) {
          await deps.throttle.failed(`recover:${lookup}`);
          throw new BurrowError('burrow/recovery-failed');
        }
        checkRecord(opaque, input.registrationRecord, lookup);
        if (account.disabled_at != null) throw new BurrowError('burrow/account-disabled');
        const issued = sessions.prepare(account.id, input.sessionLabel);
        const replaced = await repository.replaceCredentials(
          account.id,
          {
            opaque_record: input.registrationRecord,
            sealed_identity: input.sealedIdentity,
            recovery_sealed_identity: input.recoverySealedIdentity,
            recovery_verifier: input.recoveryVerifier,
          },
          issued.row,
        );
        if (!replaced) throw new BurrowError('burrow/recovery-failed');
        await sessions.ended(account.id);
        await deps.throttle.succeeded(`recover:${lookup}`);
        await deps.throttle.succeeded(`login:${lookup}`);
        await deps.securityLog?.sessionStarted(account.id, 'session-created', issued.row.id);
        return granted({ ...account, sealed_identity: input.sealedIdentity }, issued);
      });
      await deps.failures.forgive(budgetKey(address));
      return done;
    },

    async view(accountId) {
      const account = await repository.findById(accountId);
      if (account === undefined) throw new BurrowError('burrow/unauthenticated');
      return {
        accountId: account.id,
        identity: publicIdentityOf(account),
        sealedIdentity: account.sealed_identity,
        createdAt: account.created_at,
      };
    },

    async delete(accountId) {
      const outcome = await repository.deleteAccount(accountId);
      if (!outcome.deleted) throw new BurrowError('burrow/sole-guardian', SOLE_GUARDIAN_DETAIL, { familyIds: outcome.soleGuardianOf });
      await sessions.ended(accountId);
      const families = deps.families;
      if (families === undefined) return;
      // After the commit: nobody can act in these families any more (their one member is gone), so
      // nothing can join them while they are purged.
      for (const familyId of outcome.abandonedFamilies) {
        try {
          await purgeFamily({ repository: families.repository, purger: families.purger, events: quietEvents(families) }, familyId);
        } catch (error) {
          families.warn?.('a family left without members was not purged', error);
        }
      }
    },
  };
}
