/**
 * Invites: a guardian offers a role (and, for a relative, children and whether their messages
 * need approval) under a client-chosen id; whoever holds the link looks it up and accepts it once,
 * leaving a proof the guardian's client checks before signing the joiner into the roster. The
 * secret behind both proofs stays in the link's fragment; the server stores the proofs only.
 *
 * Status: 'open' → 'accepted' (by one account, before it expires) → 'used' (a roster entry added
 * the joiner). A guardian may revoke an open or accepted invite. An open invite past its expiry
 * reads as 'expired'; an accepted one stays accepted (the joiner came in time).
 */
import type { Static } from '@sinclair/typebox';
import { BurrowError } from '../../protocol/errors.js';
import type { CreateInviteRequest, GuardianInviteView, InviteStatus, InviteView } from '../../protocol/families.js';
import { isUniqueViolation } from '../../storage/errors.js';
import type { RateWindow } from '../config.js';
import type { Clock } from '../deps.js';
import type { FamilyAccess } from '../families/access.js';
import { parseIdList } from '../families/access-repository.js';
import { requireGuardian } from '../families/authorize.js';
import type { FamiliesRepository, InviteRow } from '../families/repository.js';
import { enforceLimit, type RateLimiter } from '../http/rate-limit.js';
import type { PushNotifier } from '../push/service.js';

/** Default lifetime of an invite: 7 days. */
export const DEFAULT_INVITE_TTL_MS = 7 * 24 * 3600_000;

export interface InvitesServiceDeps {
  repository: FamiliesRepository;
  access: FamilyAccess;
  clock: Clock;
  limiter: RateLimiter;
  /** Invite look-ups and accepts per account. */
  lookupLimit: RateWindow;
  /** Tells the guardians, by Web Push, that someone accepted an invite and waits to be let in. */
  push?: Pick<PushNotifier, 'joinRequested'>;
  /** Opens an account's sealed email; without it the guardian's view carries no email. */
  openAccountEmail?: (accountId: string, sealedEmail: string) => string;
}

export type InvitesService = ReturnType<typeof createInvitesService>;

function termsOf(row: InviteRow): Static<typeof InviteView>['terms'] {
  return { role: row.role, children: parseIdList(row.children), needsApproval: row.needs_approval === 1 };
}

function statusOf(row: InviteRow, now: number): Static<typeof InviteStatus> {
  return row.status === 'open' && row.expires_at <= now ? 'expired' : row.status;
}

export function createInvitesService(deps: InvitesServiceDeps) {
  const { repository, access, clock } = deps;

  async function limit(accountId: string): Promise<void> {
    await enforceLimit(deps.limiter, `invite-lookup:${accountId}`, deps.lookupLimit);
  }

  async function create(accountId: string, familyId: string, body: Static<typeof CreateInviteRequest>): Promise<{ inviteId: string; expiresAt: number }> {
    await requireGuardian(access, familyId, accountId);
    const children = body.terms.role === 'relative' ? body.terms.children : [];
    if (body.terms.role === 'guardian' && body.terms.children.length > 0) {
      throw new BurrowError('burrow/bad-request', 'A guardian may message every child; send no children for a guardian invite');
    }
    if (new Set(children).size !== children.length) throw new BurrowError('burrow/bad-request', 'terms.children names a child twice');
    const known = new Set((await repository.children(familyId)).map((c) => c.id));
    if (!children.every((c) => known.has(c))) throw new BurrowError('burrow/bad-request', 'terms.children names a child this family does not have');
    const now = clock.now();
    const expiresAt = now + (body.expiresInMs ?? DEFAULT_INVITE_TTL_MS);
    try {
      await repository.insertInvite({
        id: body.inviteId,
        family_id: familyId,
        role: body.terms.role,
        children: JSON.stringify(children),
        needs_approval: body.terms.needsApproval ? 1 : 0,
        guardian_proof: body.guardianProof,
        sealed_description: body.sealedDescription ?? null,
        created_by: accountId,
        created_at: now,
        expires_at: expiresAt,
        status: 'open',
        joiner_account_id: null,
        joiner_proof: null,
        accepted_at: null,
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new BurrowError('burrow/conflict', 'That invite id is taken; choose another');
      throw error;
    }
    return { inviteId: body.inviteId, expiresAt };
  }

  async function listForGuardian(accountId: string, familyId: string): Promise<{ invites: Array<Static<typeof GuardianInviteView>> }> {
    await requireGuardian(access, familyId, accountId);
    const now = clock.now();
    const rows = await repository.invitesOf(familyId);
    const invites: Array<Static<typeof GuardianInviteView>> = [];
    for (const row of rows) {
      const view: Static<typeof GuardianInviteView> = {
        inviteId: row.id,
        terms: termsOf(row),
        createdBy: row.created_by,
        createdAt: Number(row.created_at),
        expiresAt: Number(row.expires_at),
        status: statusOf(row, now),
        ...(row.sealed_description === null || row.sealed_description === undefined ? {} : { sealedDescription: row.sealed_description }),
      };
      if (row.joiner_account_id !== null && row.joiner_proof !== null && row.accepted_at !== null) {
        const identity = await repository.accountKeys(row.joiner_account_id);
        if (identity !== undefined) {
          view.joiner = { accountId: row.joiner_account_id, identity, joinerProof: row.joiner_proof, acceptedAt: Number(row.accepted_at) };
          if (typeof row.joiner_sealed_name === 'string') view.joiner.sealedName = row.joiner_sealed_name;
          // The server holds every account's email; the guardian letting this account in sees the one
          // it signed up with while the invite waits (not once it is used), so they know whom they admit.
          const sealedEmail = row.status === 'accepted' && deps.openAccountEmail !== undefined ? await repository.accountSealedEmail(row.joiner_account_id) : undefined;
          if (sealedEmail !== undefined) view.joiner.email = deps.openAccountEmail!(row.joiner_account_id, sealedEmail);
        }
      }
      invites.push(view);
    }
    return { invites };
  }

  async function revoke(accountId: string, familyId: string, inviteId: string): Promise<void> {
    await requireGuardian(access, familyId, accountId);
    if (await repository.revokeInvite(familyId, inviteId)) return;
    const row = await repository.invite(inviteId);
    if (row === undefined || row.family_id !== familyId) throw new BurrowError('burrow/not-found', 'No such invite');
    throw new BurrowError('burrow/invite-unavailable', `The invite is already ${row.status}`);
  }

  async function view(accountId: string, inviteId: string): Promise<Static<typeof InviteView>> {
    await limit(accountId);
    const row = await repository.invite(inviteId);
    if (row === undefined) throw new BurrowError('burrow/not-found', 'No such invite');
    const identity = await repository.accountKeys(row.created_by);
    if (identity === undefined) throw new BurrowError('burrow/invite-unavailable', 'The guardian who made this invite has left; ask for a new one');
    return {
      inviteId: row.id,
      familyId: row.family_id,
      terms: termsOf(row),
      expiresAt: Number(row.expires_at),
      status: statusOf(row, clock.now()),
      guardian: { accountId: row.created_by, identity },
      guardianProof: row.guardian_proof,
      ...(row.sealed_description === null || row.sealed_description === undefined ? {} : { sealedDescription: row.sealed_description }),
    };
  }

  async function accept(accountId: string, inviteId: string, joinerProof: string, joinerSealedName?: string): Promise<void> {
    await limit(accountId);
    const row = await repository.invite(inviteId);
    if (row === undefined) throw new BurrowError('burrow/not-found', 'No such invite');
    if ((await access.membership(row.family_id, accountId)) !== undefined) throw new BurrowError('burrow/conflict', 'You are already a member of this family');
    if (await repository.acceptInvite({ inviteId, joinerAccountId: accountId, joinerProof, joinerSealedName: joinerSealedName ?? null, now: clock.now() })) {
      deps.push?.joinRequested(row.family_id);
      return;
    }
    const now = (await repository.invite(inviteId)) ?? row;
    throw new BurrowError('burrow/invite-unavailable', `The invite is ${statusOf(now, clock.now())}`);
  }

  return { create, listForGuardian, revoke, view, accept };
}
