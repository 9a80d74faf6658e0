/**
 * What waits for a guardian in a family, counted from what this device verified, never from a
 * count the server sends: join requests whose joiner proved they hold the link of an invite this
 * device created (the ones it can let in), and messages waiting for approval from senders the
 * verified roster says need it.
 */
import { fromBase64Url } from '../crypto/bytes.js';
import { verifyJoinerInviteProof } from '../crypto/invite.js';
import { decodePublicIdentity } from './account.js';
import { GuardianInviteList } from '../protocol/families.js';
import type { ClientContext, OpenedFamily } from './families.js';
import { listAllMessages } from './messages.js';

export interface FamilyBadges {
  joinRequests: number;
  approvals: number;
}

/** The join requests and approvals waiting for this member (zero for a relative). */
export async function countFamilyBadges(ctx: ClientContext, family: OpenedFamily): Promise<FamilyBadges> {
  if (family.self.role !== 'guardian') return { joinRequests: 0, approvals: 0 };
  const [{ invites }, state, pending] = await Promise.all([
    ctx.api.call('GET', `/v1/families/${family.familyId}/invites`, GuardianInviteList),
    ctx.store.loadFamily(family.familyId),
    listAllMessages(ctx, { familyId: family.familyId, pendingApproval: true }),
  ]);
  const created = state?.createdInvites ?? {};
  let joinRequests = 0;
  for (const invite of invites) {
    const mine = created[invite.inviteId];
    if (invite.status !== 'accepted' || invite.joiner === undefined || mine === undefined) continue;
    let keys;
    try {
      keys = decodePublicIdentity(invite.joiner.identity);
    } catch {
      continue;
    }
    const proof = await verifyJoinerInviteProof({ secret: mine.secret, inviteId: invite.inviteId, joinerId: invite.joiner.accountId, joinerKeys: keys, proof: fromBase64Url(invite.joiner.joinerProof) });
    if (proof.ok) joinRequests++;
  }
  const needsApproval = new Set(family.roster.members.filter((m) => m.needsApproval === true).map((m) => m.accountId));
  const approvals = pending.filter((m) => m.senderKind === 'member' && needsApproval.has(m.senderId) && m.approvals.length === 0).length;
  return { joinRequests, approvals };
}
