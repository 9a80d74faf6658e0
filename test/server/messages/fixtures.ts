/**
 * Factories for the message and live tests: members with real identities registered over the
 * real OPAQUE routes, families written through the families feature's own repository, and real
 * sealed envelopes.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { fromBase64Url, randomBytes, toBase64Url } from '../../../src/crypto/bytes.js';
import { approveMessage, declineMessage, sealMessage, type SealedMessage } from '../../../src/crypto/envelope.js';
import { signReceipt } from '../../../src/crypto/receipt.js';
import type { Identity } from '../../../src/crypto/identity.js';
import { createFamiliesRepository } from '../../../src/server/families/repository.js';
import type { BurrowApp } from '../../../src/server/http/types.js';
import type { SqlStore } from '../../../src/storage/database.js';
import { newPerson } from '../families/fixtures.js';
import { b64, bearer } from '../helpers.js';
import type { ServerMember } from '../../support/members.js';

/** A member of these tests: test/support/members.ts's `ServerMember`. */
export type Member = ServerMember;

/** Registers an account whose public keys are a real identity's (so its approvals verify). */
export function registerMember(app: BurrowApp): Promise<Member> {
  return newPerson(app);
}

export interface FamilySpec {
  guardians: Member[];
  relatives?: Array<{ member: Member; children: string[]; needsApproval?: boolean }>;
  children: string[];
  toys?: Array<{ toyId: string; childId: string }>;
  retentionDays?: number;
  epoch?: number;
}

export interface TestFamily {
  familyId: string;
  epoch: number;
  /** The key messages are sealed with (the server never opens them, so one random key does). */
  key: Uint8Array;
  /** The scope messages are sealed under (default: family-wide; the server cannot tell). */
  scope?: string;
}

function memberRows(familyId: string, spec: FamilySpec) {
  return [
    ...spec.guardians.map((g) => ({ family_id: familyId, account_id: g.accountId, role: 'guardian' as const, children: '[]', needs_approval: 0 })),
    ...(spec.relatives ?? []).map((r) => ({ family_id: familyId, account_id: r.member.accountId, role: 'relative' as const, children: JSON.stringify(r.children), needs_approval: r.needsApproval === true ? 1 : 0 })),
  ];
}

/**
 * Writes a family's rows as the families feature stores them (through its repository). The roster
 * entry bytes are placeholders: the message routes read only the head's tables.
 */
export async function seedFamily(store: SqlStore, spec: FamilySpec): Promise<TestFamily> {
  const repository = createFamiliesRepository(store.db);
  const familyId = b64(16);
  const epoch = spec.epoch ?? 0;
  await repository.transaction(async (tx) => {
    await tx.insertFamily(
      { id: familyId, created_at: 1, created_by: spec.guardians[0]!.accountId, epoch, head_hash: b64(32), retention_days: spec.retentionDays ?? 30, sealed_name: b64(40) },
      { family_id: familyId, epoch, entry: b64(80), hash: b64(32) },
      memberRows(familyId, spec),
      spec.guardians.map((g) => ({ family_id: familyId, scope: '', generation: epoch, recipient_id: g.accountId, suite: 'test', enc: b64(32), ciphertext: b64(48) })),
    );
    for (const childId of spec.children) await tx.insertChild({ family_id: familyId, id: childId, sealed_profile: b64(40), created_at: 1, updated_at: 1 });
  });
  if (spec.toys !== undefined && spec.toys.length > 0) {
    await store.db.insertInto('family_toys').values(spec.toys.map((t) => ({ family_id: familyId, toy_id: t.toyId, child_id: t.childId }))).execute();
  }
  return { familyId, epoch, key: randomBytes(32) };
}

/** Appends a head with the given members (e.g. without a removed relative): a new epoch. */
export async function changeRoster(store: SqlStore, family: TestFamily, spec: FamilySpec): Promise<TestFamily> {
  const repository = createFamiliesRepository(store.db);
  const epoch = family.epoch + 1;
  const ok = await repository.transaction((tx) => tx.appendHead({
    familyId: family.familyId,
    previousEpoch: family.epoch,
    entry: { family_id: family.familyId, epoch, entry: b64(80), hash: b64(32) },
    retentionDays: spec.retentionDays ?? 30,
    members: memberRows(family.familyId, spec),
    toys: (spec.toys ?? []).map((t) => ({ family_id: family.familyId, toy_id: t.toyId, child_id: t.childId })),
    wrappedKeys: spec.guardians.map((g) => ({ family_id: family.familyId, scope: '', generation: epoch, recipient_id: g.accountId, suite: 'test', enc: b64(32), ciphertext: b64(48) })),
    completesInvites: [],
  }));
  if (!ok) throw new Error('the roster head moved');
  return { familyId: family.familyId, epoch, key: randomBytes(32) };
}

/** A real envelope from `sender` to `recipients`. */
export function seal(sender: Member, family: TestFamily, recipients: string[], options: { audioBytes?: number; familyId?: string; senderId?: string; epoch?: number; messageId?: Uint8Array } = {}): Promise<SealedMessage> {
  return sealMessage({
    ...(options.messageId === undefined ? {} : { messageId: options.messageId }),
    familyId: options.familyId ?? family.familyId,
    epoch: options.epoch ?? family.epoch,
    // The server never reads the head commitment; these families have no signed roster to hash.
    rosterHead: new Uint8Array(32),
    scope: family.scope ?? '',
    key: family.key,
    sender: { accountId: options.senderId ?? sender.accountId, identity: sender.identity },
    recipients,
    audio: randomBytes(options.audioBytes ?? 2000),
    audioType: 'audio/webm',
    durationMs: 1500,
    createdAt: 1_700_000_000_000,
  });
}

export function upload(app: BurrowApp, member: Member, familyId: string, bytes: Uint8Array): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: `/v1/families/${familyId}/messages`,
    headers: { ...bearer(member.token), 'content-type': 'application/octet-stream' },
    payload: Buffer.from(bytes),
  });
}

export function call(app: BurrowApp, member: Member | undefined, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown): Promise<LightMyRequestResponse> {
  return app.inject({
    method,
    url,
    headers: member === undefined ? {} : bearer(member.token),
    ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
  });
}

/** Files under `dir` (recursively), split into stored blobs and temp files of uploads in progress. */
export function blobFiles(dir: string): { blobs: string[]; temps: string[] } {
  const blobs: string[] = [];
  const temps: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return { blobs, temps };
  }
  for (const entry of entries) {
    const path = join(dir, entry);
    if (!statSync(path).isDirectory()) continue;
    for (const name of readdirSync(path)) (entry === 'tmp' ? temps : blobs).push(name);
  }
  return { blobs, temps };
}

export async function messageCount(store: SqlStore): Promise<number> {
  const row = await store.db.selectFrom('messages').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The body of a receipt POST signed by `member` (src/crypto/receipt.ts); these families have no signed roster, so the head is zeros. */
export async function receiptBody(member: Member, familyId: string, messageId: string, kind: 'delivered' | 'played', signer: Identity = member.identity): Promise<Record<string, unknown>> {
  const receipt = await signReceipt(signer, { familyId, messageId: fromBase64Url(messageId), kind, signerId: member.accountId, rosterEpoch: 0, rosterHead: new Uint8Array(32), at: 1_700_000_000_000 });
  return { kind, signedAt: receipt.at, rosterEpoch: 0, rosterHead: toBase64Url(receipt.rosterHead), signature: toBase64Url(receipt.signature) };
}

/** The body of an approval POST by `guardian` (with `signer`'s key, to forge one) of a sealed message. */
export function approvalBody(guardian: Member, familyId: string, sealed: SealedMessage, options: { signer?: Identity; ciphertextHash?: Uint8Array } = {}): Promise<Record<string, unknown>> {
  return decisionBody(approveMessage, guardian, familyId, sealed, options);
}

/** The body of a decline POST by `guardian` (with `signer`'s key, to forge one) of a sealed message. */
export function declineBody(guardian: Member, familyId: string, sealed: SealedMessage, options: { signer?: Identity; ciphertextHash?: Uint8Array } = {}): Promise<Record<string, unknown>> {
  return decisionBody(declineMessage, guardian, familyId, sealed, options);
}

async function decisionBody(sign: typeof approveMessage, guardian: Member, familyId: string, sealed: SealedMessage, options: { signer?: Identity; ciphertextHash?: Uint8Array }): Promise<Record<string, unknown>> {
  const approval = await sign({
    guardian: { accountId: guardian.accountId, identity: options.signer ?? guardian.identity },
    familyId,
    messageId: sealed.header.messageId,
    ciphertextHash: options.ciphertextHash ?? sealed.ciphertextHash,
    rosterEpoch: 0,
    rosterHead: new Uint8Array(32),
  });
  return { signature: toBase64Url(approval.signature), rosterEpoch: 0, rosterHead: toBase64Url(approval.rosterHead) };
}
