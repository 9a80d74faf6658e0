/**
 * Invites from the client's side. A guardian creates one for a role (and, for a relative, the
 * children they may message and whether their messages need approval) and shares the link; the
 * invitee checks the guardian's proof, proves they hold the link, and waits; the guardian's client
 * then signs them into the roster (`admitJoiners` in families.ts). The secret never leaves the link
 * and the clients: the server sees only the two proofs.
 */
import { fromBase64Url, toBase64Url } from '../crypto/bytes.js';
import type { PublicIdentityKeys } from '../crypto/identity.js';
import {
  formatInviteLink,
  generateInviteSecret,
  guardianInviteProof,
  joinerInviteProof,
  parseInviteLink,
  verifyGuardianInviteProof,
  type InviteTerms,
} from '../crypto/invite.js';
import { openInviteDescription, openJoinerName, sealInviteDescription, sealJoinerName, type InviteDescription } from '../crypto/invite-description.js';
import { GuardianInviteList, InviteCreated, InviteView } from '../protocol/families.js';
import { decodePublicIdentity } from './account.js';
import { ClientError } from './client-error.js';
import { assertFamilyId, loadFamily, newClientId, type ClientContext } from './families.js';

/** A created invite: share `link` with the invitee (it holds the secret). */
export interface CreatedInviteLink {
  inviteId: string;
  link: string;
  expiresAt: number;
}

/**
 * Creates an invite as a guardian: a fresh secret and invite id, the guardian's proof over the
 * family, the guardian's keys and the terms, and the sealed description (the family's name and
 * `from`, the name the guardian goes by for the invitee). The secret and terms are kept in the key
 * store so this client can later verify the joiner and sign them in with exactly these terms.
 * `for` is whom the invite is for ("Grandma Rose"): shown on both sides, and the joiner's
 * suggested name. The description is signed by this guardian.
 */
export async function createInvite(
  ctx: ClientContext,
  options: { familyId: string; terms: InviteTerms; expiresInMs?: number; origin?: string; from?: string; for?: string },
): Promise<CreatedInviteLink> {
  const family = await loadFamily(ctx, options.familyId);
  if (family.self.role !== 'guardian') throw new ClientError('client/not-a-guardian', 'only a guardian can invite');
  const terms: InviteTerms = {
    role: options.terms.role,
    children: options.terms.role === 'relative' ? [...new Set(options.terms.children)] : [],
    needsApproval: options.terms.role === 'relative' && options.terms.needsApproval,
  };
  const known = new Set(family.children.map((c) => c.childId));
  for (const child of terms.children) if (!known.has(child)) throw new ClientError('client/unknown-recipient', `${child} is not a child of this family`);
  const secret = generateInviteSecret();
  const inviteId = newClientId();
  // The proof binds this guardian's verified head: the joiner anchors there, so a fork made beside
  // it (by a guardian removed since, say) never verifies for them.
  const guardianProof = await guardianInviteProof({ secret, familyId: family.familyId, inviteId, guardianId: ctx.me.accountId, guardianKeys: ctx.me.identity.publicKeys, terms, headHash: family.roster.headHash });
  // Unless told otherwise, the guardian goes by the name in their own member profile.
  const from = (options.from ?? family.members.find((m) => m.accountId === ctx.me.accountId)?.name ?? '').trim();
  const sealedDescription = await sealInviteDescription({ secret, inviteId, familyId: family.familyId, description: { familyName: family.name ?? '', from, for: (options.for ?? '').trim() }, guardian: ctx.me.identity });
  const state = (await ctx.store.loadFamily(family.familyId))!;
  await ctx.store.saveFamily({ ...state, createdInvites: { ...(state.createdInvites ?? {}), [inviteId]: { secret, terms } } });
  const created = await ctx.api.call('POST', `/v1/families/${family.familyId}/invites`, InviteCreated, {
    inviteId,
    terms: { role: terms.role, children: [...terms.children], needsApproval: terms.needsApproval },
    guardianProof: toBase64Url(guardianProof),
    sealedDescription: toBase64Url(sealedDescription),
    ...(options.expiresInMs === undefined ? {} : { expiresInMs: options.expiresInMs }),
  });
  return { inviteId, link: formatInviteLink(options.origin ?? ctx.api.baseUrl, inviteId, secret), expiresAt: created.expiresAt };
}

/** What an invitee sees before accepting, after the guardian's proof verified. */
export interface InspectedInvite {
  inviteId: string;
  familyId: string;
  terms: InviteTerms;
  status: 'open' | 'accepted' | 'used' | 'revoked' | 'expired';
  expiresAt: number;
  guardian: { accountId: string; keys: PublicIdentityKeys };
  /** Who invites, whom for and to which family, as the inviting guardian signed and sealed it with the link's secret. */
  description: InviteDescription;
  /** The inviting guardian's verified roster head hash, bound by the proof: where the joiner's trust starts. */
  headHash: Uint8Array;
}

/** Fetches an invite and verifies the guardian's proof with the link's secret. */
export async function inspectInvite(ctx: ClientContext, link: string): Promise<InspectedInvite> {
  const parsed = parseInviteLink(link);
  if (parsed.origin !== ctx.api.baseUrl) throw new ClientError('client/invite-other-server', `the link is for ${parsed.origin}, but this profile uses ${ctx.api.baseUrl}`);
  const view = await ctx.api.call('GET', `/v1/invites/${parsed.inviteId}`, InviteView);
  if (view.inviteId !== parsed.inviteId) throw new ClientError('client/invite-forged', 'the server answered for another invite');
  const guardianKeys = decodePublicIdentity(view.guardian.identity);
  const verified = await verifyGuardianInviteProof({
    secret: parsed.secret,
    familyId: view.familyId,
    inviteId: view.inviteId,
    guardianId: view.guardian.accountId,
    guardianKeys,
    terms: view.terms,
    proof: fromBase64Url(view.guardianProof),
  });
  if (!verified.ok) throw new ClientError('client/invite-forged', "the invite's guardian proof does not verify: the link or the server's copy was altered");
  // Every invite carries its description; a missing one was removed on the way.
  // Signed by the guardian whose keys the proof just authenticated: no one else, the server included, wrote it.
  const description = view.sealedDescription === undefined ? undefined : await openInviteDescription({ secret: parsed.secret, inviteId: view.inviteId, familyId: view.familyId, sealed: fromBase64Url(view.sealedDescription), guardianKeys });
  if (description === undefined || !description.ok) throw new ClientError('client/invite-forged', "the invite's description is missing, does not open or is not signed by the inviting guardian: the server's copy was altered");
  return {
    inviteId: view.inviteId,
    familyId: view.familyId,
    terms: { role: view.terms.role, children: [...view.terms.children], needsApproval: view.terms.needsApproval },
    status: view.status,
    expiresAt: view.expiresAt,
    guardian: { accountId: view.guardian.accountId, keys: guardianKeys },
    description: description.value,
    headHash: verified.value.headHash,
  };
}

/**
 * Accepts an invite: verifies it, proves to the guardian that this account holds the link (MAC
 * over the invite id and this account's id and keys) and remembers the inviting guardian's
 * roster head hash (bound by the guardian's proof) as the anchor for the first look at the roster. The account appears in the roster only when a
 * guardian's client signs it in.
 */
export async function acceptInvite(ctx: ClientContext, link: string, options: { name?: string } = {}): Promise<InspectedInvite> {
  const invite = await inspectInvite(ctx, link);
  if (invite.status !== 'open') throw new ClientError('client/invite-unavailable', `the invite is ${invite.status}`);
  const name = options.name?.trim();
  if (name !== undefined && (name.length === 0 || name.length > 64)) throw new TypeError('name must be 1 to 64 characters');
  const { secret } = parseInviteLink(link);
  const joinerProof = await joinerInviteProof({ secret, inviteId: invite.inviteId, joinerId: ctx.me.accountId, joinerKeys: ctx.me.identity.publicKeys });
  // The chosen name reaches the guardian's let-in card sealed under the link's secret; once let in,
  // it becomes this member's own signed profile (loadFamily).
  const sealedName = name === undefined ? undefined : await sealJoinerName({ secret, inviteId: invite.inviteId, joinerId: ctx.me.accountId, name });
  const existing = await ctx.store.loadFamily(invite.familyId);
  await ctx.store.saveFamily({
    ...(existing ?? { familyId: invite.familyId, keys: {} }),
    pendingInvite: { inviteId: invite.inviteId, guardianId: invite.guardian.accountId, guardianKeys: invite.guardian.keys, terms: invite.terms, headHash: invite.headHash, ...(name === undefined ? {} : { displayName: name }) },
  });
  await ctx.api.call('POST', `/v1/invites/${invite.inviteId}/accept`, undefined, { joinerProof: toBase64Url(joinerProof), ...(sealedName === undefined ? {} : { sealedName: toBase64Url(sealedName) }) });
  return { ...invite, status: 'accepted' };
}

/** The family's invites (guardian), with their status and joiners. */
export async function listInvites(ctx: ClientContext, options: { familyId: string }) {
  assertFamilyId(options.familyId);
  return (await ctx.api.call('GET', `/v1/families/${options.familyId}/invites`, GuardianInviteList)).invites;
}

/** A family's invite as its guardian sees it, with what this device can open of it. */
export interface DescribedInvite {
  inviteId: string;
  status: 'open' | 'accepted' | 'used' | 'revoked' | 'expired';
  terms: InviteTerms;
  expiresAt: number;
  /** True when this device created the invite (it holds the secret, so only it can let the joiner in). */
  mine: boolean;
  /** Whom the invite is for, as the guardian typed it (opened with the kept secret). */
  for?: string;
  /** Who accepted it: the name they chose (sealed under the link's secret) and the email their account holds, as the server says. */
  joiner?: { accountId: string; name?: string; email?: string };
}

/**
 * The family's invites (guardian), with whom each is for and, for an accepted one, the joiner's
 * chosen name — both opened here with the secret this device kept — and the joiner's email, which
 * the server (that holds every account's email) gives the guardian letting them in.
 */
export async function describeInvites(ctx: ClientContext, options: { familyId: string }): Promise<DescribedInvite[]> {
  const invites = await listInvites(ctx, options);
  const state = await ctx.store.loadFamily(options.familyId);
  const out: DescribedInvite[] = [];
  for (const invite of invites) {
    const kept = state?.createdInvites?.[invite.inviteId];
    const described: DescribedInvite = { inviteId: invite.inviteId, status: invite.status, terms: invite.terms, expiresAt: invite.expiresAt, mine: kept !== undefined };
    if (kept !== undefined && invite.sealedDescription !== undefined && invite.createdBy === ctx.me.accountId) {
      const opened = await openInviteDescription({ secret: kept.secret, inviteId: invite.inviteId, familyId: options.familyId, sealed: fromBase64Url(invite.sealedDescription), guardianKeys: ctx.me.identity.publicKeys });
      if (opened.ok && opened.value.for !== '') described.for = opened.value.for;
    }
    if (invite.joiner !== undefined) {
      const joiner: NonNullable<DescribedInvite['joiner']> = { accountId: invite.joiner.accountId };
      if (kept !== undefined && invite.joiner.sealedName !== undefined) {
        const name = await openJoinerName({ secret: kept.secret, inviteId: invite.inviteId, joinerId: invite.joiner.accountId, sealed: fromBase64Url(invite.joiner.sealedName) });
        if (name.ok) joiner.name = name.value;
      }
      if (invite.joiner.email !== undefined) joiner.email = invite.joiner.email;
      described.joiner = joiner;
    }
    out.push(described);
  }
  return out;
}

/** Revokes an invite (guardian) and forgets its secret. */
export async function revokeInvite(ctx: ClientContext, options: { familyId: string; inviteId: string }): Promise<void> {
  assertFamilyId(options.familyId);
  assertFamilyId(options.inviteId, 'inviteId');
  await ctx.api.call('DELETE', `/v1/families/${options.familyId}/invites/${options.inviteId}`, undefined);
  const state = await ctx.store.loadFamily(options.familyId);
  if (state?.createdInvites?.[options.inviteId] !== undefined) {
    const createdInvites = { ...state.createdInvites };
    delete createdInvites[options.inviteId];
    await ctx.store.saveFamily({ ...state, createdInvites });
  }
}
