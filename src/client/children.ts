/**
 * Children from the client's side: a name and an emoji avatar, sealed at the current epoch under
 * the child's own conversation key once a relative or toy gives them one, under the family-wide
 * key before (crypto/profile.ts `profileScope`; kind 'child', bound to the child's id). No birth
 * date is asked for.
 */
import { toBase64Url } from '../crypto/bytes.js';
import { profileScope, sealProfile } from '../crypto/profile.js';
import { ClientError } from './client-error.js';
import { changeRoster, loadFamily, newClientId, type ChildProfile, type ClientContext, type OpenedFamily } from './families.js';

const NAME_LIMIT = 64;
const EMOJI_LIMIT = 16;

function checkProfile(name: unknown, emoji: unknown): { name: string; emoji: string } {
  if (typeof name !== 'string' || name.trim().length === 0 || name.trim().length > NAME_LIMIT) throw new TypeError(`name must be 1 to ${NAME_LIMIT} characters`);
  if (typeof emoji !== 'string' || emoji.trim().length === 0 || emoji.trim().length > EMOJI_LIMIT) throw new TypeError(`emoji must be 1 to ${EMOJI_LIMIT} characters`);
  return { name: name.trim(), emoji: emoji.trim() };
}

/** The head's key a child's profile is sealed under (a guardian holds every scope's). */
function childKey(family: OpenedFamily, childId: string): Uint8Array {
  const key = family.headKeyOf(profileScope(family.roster.head, 'child', childId));
  if (key === undefined) throw new ClientError('client/no-key', "this device does not hold the child's conversation key; reload the family and try again");
  return key;
}

/**
 * Adds a child (guardian): a fresh child id and their sealed profile, then a roster entry that lists
 * the child, which gives them a conversation and its key (so messages can wait for their toy).
 */
export async function addChild(ctx: ClientContext, options: { familyId: string; name: string; emoji: string }): Promise<ChildProfile> {
  const profile = checkProfile(options.name, options.emoji);
  const family = await loadFamily(ctx, options.familyId);
  if (family.self.role !== 'guardian') throw new ClientError('client/not-a-guardian', 'only a guardian can add a child');
  const childId = newClientId();
  const sealed = await sealProfile({ familyId: family.familyId, epoch: family.roster.epoch, key: childKey(family, childId), kind: 'child', objectId: childId, data: profile, signer: ctx.me.identity });
  await ctx.api.call('POST', `/v1/families/${family.familyId}/children`, undefined, { childId, sealedProfile: toBase64Url(sealed) });
  // The entry's change re-seals the profile under the child's own key.
  await changeRoster(ctx, family.familyId, (current) => ({
    members: current.roster.members.map((m) => ({ ...m, children: [...(m.children ?? [])] })),
    toys: [...current.roster.toys],
    children: [...current.roster.head.children, childId],
    settings: current.settings,
  }));
  return { childId, ...profile, updatedAt: Date.now() };
}

/** Renames a child or changes their avatar (guardian). */
export async function updateChild(ctx: ClientContext, options: { familyId: string; childId: string; name: string; emoji: string }): Promise<void> {
  const profile = checkProfile(options.name, options.emoji);
  const family = await loadFamily(ctx, options.familyId);
  if (!family.children.some((c) => c.childId === options.childId)) throw new ClientError('client/unknown-recipient', 'no such child in this family');
  const sealed = await sealProfile({ familyId: family.familyId, epoch: family.roster.epoch, key: childKey(family, options.childId), kind: 'child', objectId: options.childId, data: profile, signer: ctx.me.identity });
  await ctx.api.call('PUT', `/v1/families/${family.familyId}/children/${options.childId}`, undefined, { sealedProfile: toBase64Url(sealed) });
}

/** The children this account may see, opened. */
export async function listChildren(ctx: ClientContext, options: { familyId: string }): Promise<ChildProfile[]> {
  return (await loadFamily(ctx, options.familyId)).children;
}
