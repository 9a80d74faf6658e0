/**
 * The invite description through a real server (issue #22 item 5): the invitee reads who invites
 * and to which family before joining, and a server that removes the description, or moves one from
 * another invite of the same family, is refused as a forged invite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BurrowApi } from '../../src/client/api.js';
import { addChild } from '../../src/client/children.js';
import { ClientError } from '../../src/client/client-error.js';
import { createFamily, type ClientContext } from '../../src/client/families.js';
import { createInvite, inspectInvite } from '../../src/client/invites.js';
import { toBase64Url } from '../../src/crypto/bytes.js';
import { parseInviteLink } from '../../src/crypto/invite.js';
import { sealInviteDescription } from '../../src/crypto/invite-description.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { registerMember, type TestMember } from '../e2e/family-harness.js';

let server: RunningServer;
let mum: TestMember;
let gran: TestMember;
let familyId: string;
let mia: string;

/** Gran's client, but every answer for an invite passes through `rewrite` first. */
function underAttack(rewrite: (body: Record<string, unknown>) => Record<string, unknown>): ClientContext {
  const hostileFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    const path = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url).pathname;
    if (!response.ok || !path.startsWith('/v1/invites/')) return response;
    const body = rewrite((await response.json()) as Record<string, unknown>);
    return new Response(JSON.stringify(body), { status: response.status, headers: { 'content-type': 'application/json' } });
  };
  return { api: new BurrowApi({ baseUrl: server.url, token: gran.token, fetch: hostileFetch }), me: gran.me, store: gran.store };
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'accepted';
  } catch (error) {
    if (error instanceof ClientError) return error.code;
    throw error;
  }
}

beforeAll(async () => {
  server = await startServer();
  [mum, gran] = (await Promise.all(['mum', 'gran'].map((label) => registerMember(server.url, label)))) as [TestMember, TestMember];
  familyId = (await createFamily(mum, { name: 'The Smiths' })).familyId;
  mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
}, 60_000);

afterAll(async () => {
  await server?.close();
});

describe('the invite description', () => {
  it("tells the invitee the family's name, the inviter's name and whom it is for, from the link's secret", async () => {
    const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: false }, from: 'Anna', for: 'Grandma Rose' });
    const invite = await inspectInvite(gran, link);
    expect(invite.description).toEqual({ familyName: 'The Smiths', from: 'Anna', for: 'Grandma Rose' });
  });

  it('is refused when someone holding the link (with the server) swaps in a description they signed themselves', async () => {
    const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: false }, from: 'Anna', for: 'Gran' });
    const { inviteId, secret } = parseInviteLink(link);
    // The link leaked to someone who, with the server's help, rewrites who invites: sealed with the
    // right secret (so it opens), but not signed by the guardian the invite proof authenticates.
    const forged = await sealInviteDescription({ secret, inviteId, familyId, description: { familyName: 'The Smiths', from: 'Dad', for: 'Gran' }, guardian: gran.me.identity });
    const swapped = underAttack((body) => ({ ...body, sealedDescription: toBase64Url(forged) }));
    expect(await refusal(inspectInvite(swapped, link))).toBe('client/invite-forged');
  });

  it('is refused when the server removes it or moves in the description of another invite', async () => {
    const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: false }, from: 'Anna' });
    const other = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: false }, from: 'Someone else' });
    const otherView = (await (await fetch(`${server.url}/v1/invites/${other.inviteId}`, { headers: { authorization: `Bearer ${gran.token}` } })).json()) as { sealedDescription: string };
    expect(typeof otherView.sealedDescription).toBe('string');
    const stripped = underAttack((body) => {
      const copy = { ...body };
      delete copy.sealedDescription;
      return copy;
    });
    expect(await refusal(inspectInvite(stripped, link))).toBe('client/invite-forged');
    const moved = underAttack((body) => ({ ...body, sealedDescription: otherView.sealedDescription }));
    expect(await refusal(inspectInvite(moved, link))).toBe('client/invite-forged');
  });
});
