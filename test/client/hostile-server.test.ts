/**
 * The client library against a server that lies: a real server, with the answers one member's
 * client receives rewritten in transit, as a compromised server or operator would. The client
 * must refuse a rolled-back or forged roster, a swapped guardian key or widened invite terms, a
 * joiner whose keys were swapped, and an envelope served under another message's id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BurrowApi } from '../../src/client/api.js';
import { addChild } from '../../src/client/children.js';
import { ClientError } from '../../src/client/client-error.js';
import { admitJoiners, createFamily, loadFamily, setSettings, type ClientContext } from '../../src/client/families.js';
import { acceptInvite, createInvite, inspectInvite } from '../../src/client/invites.js';
import { downloadAndOpenMessage, sendMessage } from '../../src/client/messages.js';
import { fromBase64Url, toBase64Url, utf8 } from '../../src/crypto/bytes.js';
import { generateScopeKey } from '../../src/crypto/scope-key.js';
import { scopedContentsOf, scopesOf } from '../../src/crypto/key-scopes.js';
import { generateIdentity } from '../../src/crypto/identity.js';
import { FamilyView } from '../../src/protocol/families.js';
import { decodeRosterEntry, encodeRosterEntry, hashRosterEntry, signRosterEntry } from '../../src/crypto/roster.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { registerMember, wavWith, type TestMember } from '../e2e/family-harness.js';

let server: RunningServer;
let mum: TestMember;
let gran: TestMember;
let stranger: TestMember;
let familyId: string;
let mia: string;

type Rewrite = (path: string, body: Record<string, unknown>) => Record<string, unknown> | undefined;

/** The same member's client, but every JSON answer passes through `rewrite` first. */
function underAttack(member: TestMember, rewrite: Rewrite): ClientContext {
  const hostileFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    const type = response.headers.get('content-type') ?? '';
    if (!response.ok || !type.includes('json')) return response;
    const path = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url).pathname;
    const body = (await response.json()) as Record<string, unknown>;
    const changed = rewrite(path, structuredClone(body)) ?? body;
    return new Response(JSON.stringify(changed), { status: response.status, headers: { 'content-type': 'application/json' } });
  };
  return { api: new BurrowApi({ baseUrl: server.url, token: member.token, fetch: hostileFetch }), me: member.me, store: member.store };
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
  [mum, gran, stranger] = (await Promise.all(['mum', 'gran', 'stranger'].map((label) => registerMember(server.url, label)))) as [TestMember, TestMember, TestMember];
  familyId = (await createFamily(mum, { name: 'Wary Family' })).familyId;
  mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
  const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: false } });
  await acceptInvite(gran, link);
  await admitJoiners(mum, { familyId });
  await loadFamily(gran, familyId);
}, 60_000);

afterAll(async () => {
  await server?.close();
});

describe('a client talking to a lying server', () => {
  it('refuses a roster rolled back to before the entry it already trusts', async () => {
    await setSettings(mum, { familyId, settings: { retentionDays: 45 } });
    const head = await loadFamily(gran, familyId);
    expect(head.roster.settings.retentionDays).toBe(45);
    const rolledBack = underAttack(gran, (path, body) => {
      if (path === `/v1/families/${familyId}`) return { ...body, roster: (body.roster as string[]).slice(0, -1) };
      return undefined;
    });
    expect(await refusal(loadFamily(rolledBack, familyId))).toBe('client/roster-untrusted');
  });

  it('refuses a member the server appended itself, signed by no guardian', async () => {
    const forger = await generateIdentity();
    const view = await gran.api.call('GET', `/v1/families/${familyId}`, FamilyView);
    const last = decodeRosterEntry(fromBase64Url(view.roster.at(-1)!));
    if (!last.ok) throw new Error('the real roster must decode');
    const members = [...last.value.members, { accountId: 'the-server', role: 'guardian' as const, keys: forger.publicKeys }];
    const epoch = last.value.epoch + 1;
    const forged = await signRosterEntry(
      {
        familyId,
        epoch,
        previousHash: await hashRosterEntry(last.value),
        members,
        toys: [],
        settings: { volumeLimit: last.value.settings.volumeLimit, retentionDays: last.value.settings.retentionDays },
        signerId: 'the-server',
        children: last.value.children,
        scopeKeys: scopesOf(scopedContentsOf({ members, toys: [], children: last.value.children })).map((scope) => ({ scope, generation: epoch, key: generateScopeKey() })),
      },
      forger,
    );
    const appended = underAttack(gran, (path, body) => {
      if (path === `/v1/families/${familyId}`) return { ...body, roster: [...(body.roster as string[]), toBase64Url(encodeRosterEntry(forged))] };
      return undefined;
    });
    expect(await refusal(loadFamily(appended, familyId))).toBe('client/roster-untrusted');
  });

  it("refuses an invite whose guardian keys or terms the server swapped", async () => {
    const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: true } });
    const attacker = await generateIdentity();
    const swappedKeys = underAttack(stranger, (path, body) => {
      if (!path.startsWith('/v1/invites/')) return undefined;
      return { ...body, guardian: { ...(body.guardian as object), identity: { signingKey: toBase64Url(attacker.publicKeys.signingKey), agreementKey: toBase64Url(attacker.publicKeys.agreementKey) } } };
    });
    expect(await refusal(inspectInvite(swappedKeys, link))).toBe('client/invite-forged');
    const widened = underAttack(stranger, (path, body) => {
      if (!path.startsWith('/v1/invites/')) return undefined;
      return { ...body, terms: { ...(body.terms as object), needsApproval: false } };
    });
    expect(await refusal(acceptInvite(widened, link))).toBe('client/invite-forged');
    // The honest answer verifies.
    expect((await inspectInvite(stranger, link)).guardian.accountId).toBe(mum.me.accountId);
  });

  it("does not admit a joiner whose keys the server swapped for its own", async () => {
    const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: false } });
    await acceptInvite(stranger, link);
    const attacker = await generateIdentity();
    const swapped = underAttack(mum, (path, body) => {
      if (path !== `/v1/families/${familyId}/invites`) return undefined;
      const invites = (body.invites as Array<Record<string, unknown>>).map((invite) =>
        invite.joiner === undefined ? invite : { ...invite, joiner: { ...(invite.joiner as object), identity: { signingKey: toBase64Url(attacker.publicKeys.signingKey), agreementKey: toBase64Url(attacker.publicKeys.agreementKey) } } },
      );
      return { ...body, invites };
    });
    const epochBefore = (await loadFamily(mum, familyId)).roster.epoch;
    const result = await admitJoiners(swapped, { familyId });
    expect(result.admitted).toEqual([]);
    expect(result.refused.map((r) => r.accountId)).toContain(stranger.me.accountId);
    expect((await loadFamily(mum, familyId)).roster.epoch).toBe(epochBefore);
  });

  it('refuses an envelope served under another message id', async () => {
    const first = await sendMessage(mum, { familyId, to: mia, audio: wavWith(utf8('first message')), audioType: 'audio/wav', durationMs: 10 });
    const second = await sendMessage(mum, { familyId, to: mia, audio: wavWith(utf8('second message')), audioType: 'audio/wav', durationMs: 10 });
    const swapping: typeof fetch = (input, init) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      return fetch(url.replace(`/messages/${second.messageId}/envelope`, `/messages/${first.messageId}/envelope`), init);
    };
    const hostile: ClientContext = { api: new BurrowApi({ baseUrl: server.url, token: gran.token, fetch: swapping }), me: gran.me, store: gran.store };
    const got = await downloadAndOpenMessage(hostile, { familyId, messageId: second.messageId });
    expect(got.opened).toEqual({ ok: false, code: 'envelope/id-mismatch' });
  });
});
