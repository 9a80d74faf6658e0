/**
 * Voice messages: streaming uploads checked against their key-free header, listing with a cursor,
 * downloads, receipts, approvals, saving and deletion. The server handles only ciphertext: the
 * envelope goes to the blob store as it arrives, and only a committed row makes a message visible.
 * No HTTP here; errors come from the catalogue.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { concatBytes, fromBase64Url, fromUtf8, toBase64Url, utf8 } from '../../crypto/bytes.js';
import { createEnvelopeStreamChecker, MAX_ENVELOPE_PREFIX_BYTES, parseEnvelopePrefix, verifyApprovalSignature, verifyDeclineSignature, type EnvelopePrefix, type EnvelopeStreamChecker } from '../../crypto/envelope.js';
import { verifyReceiptSignature } from '../../crypto/receipt.js';
import { BurrowError } from '../../protocol/errors.js';
import type { LiveEventPayload, LiveEventType } from '../../protocol/live.js';
import type { BlobRead, BlobStore } from '../../storage/blobs/blob-store.js';
import { isUniqueViolation } from '../../storage/errors.js';
import type { Clock } from '../deps.js';
import type { Principal, PrincipalKind } from '../principal.js';
import type { FamilyAccess, FamilyEvents, FamilyMembership, FamilyPurger } from '../families/access.js';
import type { MessageRecord, MessageRow, MessagesRepository, Visibility } from './repository.js';
import type { SecurityLog } from '../security-log/service.js';
import type { PushNotifier } from '../push/service.js';

const DAY = 24 * 3600_000;
const DEFAULT_PAGE = 50;

export interface MessageViewData {
  messageId: string;
  familyId: string;
  senderId: string;
  senderKind: PrincipalKind;
  recipients: string[];
  epoch: number;
  size: number;
  ciphertextHash: string;
  receivedAt: number;
  expiresAt?: number;
  saved: boolean;
  needsApproval: boolean;
  approvals: Array<{ guardianId: string; rosterEpoch: number; rosterHead: string; signature: string }>;
  declines: Array<{ guardianId: string; rosterEpoch: number; rosterHead: string; signature: string }>;
  receipts: Array<{ by: string; kind: 'delivered' | 'played'; at: number; signedAt: number; rosterEpoch: number; rosterHead: string; signature: string }>;
}

/** A receipt as the caller signed it (src/crypto/receipt.ts); the signer is the caller. */
export interface ReceiptInput {
  kind: 'delivered' | 'played';
  signedAt: number;
  rosterEpoch: number;
  /** base64url */
  rosterHead: string;
  /** base64url */
  signature: string;
}

/** An approval or a decline as the guardian signed it (src/crypto/envelope.ts `approveMessage`, `declineMessage`). */
export interface ApprovalInput {
  rosterEpoch: number;
  /** base64url */
  rosterHead: string;
  /** base64url */
  signature: string;
}

export interface UploadInput {
  principal: Principal;
  familyId: string;
  body: AsyncIterable<Uint8Array> | Readable;
  /** The request's Content-Length, when it sent one. */
  contentLength?: number;
  /** Aborts when the client goes away. */
  signal?: AbortSignal;
}

export interface ListInput {
  before?: string;
  limit?: number;
  conversation?: string;
  pendingApproval?: boolean;
}

export interface MessagesService extends FamilyPurger {
  upload(input: UploadInput): Promise<{ messageId: string; receivedAt: number; size: number }>;
  list(principal: Principal, familyId: string, input: ListInput): Promise<{ messages: MessageViewData[]; nextCursor?: string }>;
  get(principal: Principal, familyId: string, messageId: string): Promise<MessageViewData>;
  /** The stored envelope, streamed. */
  envelope(principal: Principal, familyId: string, messageId: string): Promise<BlobRead>;
  addReceipt(principal: Principal, familyId: string, messageId: string, receipt: ReceiptInput): Promise<MessageViewData>;
  approve(principal: Principal, familyId: string, messageId: string, approval: ApprovalInput): Promise<MessageViewData>;
  /** A guardian declines a message waiting for approval: toys and other relatives no longer see it. */
  decline(principal: Principal, familyId: string, messageId: string, decline: ApprovalInput): Promise<MessageViewData>;
  setSaved(principal: Principal, familyId: string, messageId: string, saved: boolean): Promise<MessageViewData>;
  delete(principal: Principal, familyId: string, messageId: string): Promise<void>;
}

export interface MessagesServiceDeps {
  repository: MessagesRepository;
  access: FamilyAccess;
  events: FamilyEvents;
  blobs: BlobStore;
  clock: Clock;
  /** Largest envelope accepted. */
  maxMessageBytes: number;
  /** The Ed25519 public key of an account, for checking approvals and members' receipts. */
  signingKeyOf(accountId: string): Promise<Uint8Array | undefined>;
  /** Where failures that must not fail the request (an event not published, a blob not removed) are reported. */
  warn(message: string, error: unknown): void;
  /** Records every envelope download in the family's security log; a download that cannot be recorded is refused. */
  securityLog?: Pick<SecurityLog, 'append'>;
  /** Sends the Web Push a stored message calls for (a toy's reply, a message to approve); never waits for it. */
  push?: Pick<PushNotifier, 'messageStored'>;
}

function notFound(): BurrowError {
  return new BurrowError('burrow/not-found', 'No such message in a family you belong to');
}

function invalidEnvelope(detail: string): BurrowError {
  return new BurrowError('burrow/invalid-envelope', detail);
}

/** What a membership may see. */
export function visibilityOf(membership: FamilyMembership): Visibility {
  if (membership.conversations === 'all') return { all: true };
  return { all: false, conversations: [...membership.conversations], principalId: membership.principalId };
}

/** The opaque list cursor: base64url of `<receivedAt>.<messageId>`. */
export function encodeCursor(receivedAt: number, messageId: string): string {
  return toBase64Url(utf8(`${receivedAt}.${messageId}`));
}

function decodeCursor(cursor: string): { receivedAt: number; id: string } {
  let text: string;
  try {
    text = fromUtf8(fromBase64Url(cursor));
  } catch {
    text = '';
  }
  const match = /^(\d{1,16})\.([A-Za-z0-9_-]{22})$/.exec(text);
  if (match === null) throw new BurrowError('burrow/bad-request', 'The cursor is not one this server gave', { errors: [{ path: 'querystring/before', message: 'is not a cursor' }] });
  return { receivedAt: Number(match[1]), id: match[2]! };
}

export function toMessageView(record: MessageRecord): MessageViewData {
  const { row } = record;
  const view: MessageViewData = {
    messageId: row.id,
    familyId: row.family_id,
    senderId: row.sender_id,
    senderKind: row.sender_kind,
    recipients: JSON.parse(row.recipients) as string[],
    epoch: row.epoch,
    size: row.size,
    ciphertextHash: row.ciphertext_hash,
    receivedAt: row.received_at,
    saved: row.saved === 1,
    needsApproval: row.needs_approval === 1,
    approvals: record.approvals.map((a) => ({ guardianId: a.guardian_id, rosterEpoch: a.roster_epoch, rosterHead: a.roster_head, signature: a.signature })),
    declines: record.declines.map((d) => ({ guardianId: d.guardian_id, rosterEpoch: d.roster_epoch, rosterHead: d.roster_head, signature: d.signature })),
    receipts: record.receipts.map((r) => ({ by: r.by_id, kind: r.kind, at: r.at, signedAt: r.signed_at, rosterEpoch: r.roster_epoch, rosterHead: r.roster_head, signature: r.signature })),
  };
  if (row.expires_at !== null) view.expiresAt = row.expires_at;
  return view;
}

/**
 * Reads from `iterator` until the envelope's header and ciphertext length are in. Returns the
 * chunks read (to be stored too) and what they say.
 */
async function readPrefix(iterator: AsyncIterator<Uint8Array>): Promise<{ chunks: Uint8Array[]; prefix: EnvelopePrefix }> {
  const chunks: Uint8Array[] = [];
  let buffered = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done === true) throw invalidEnvelope('The body ends before the envelope header does');
    const chunk = next.value instanceof Uint8Array ? next.value : new Uint8Array(next.value as ArrayBuffer);
    if (chunk.length === 0) continue;
    chunks.push(chunk);
    buffered += chunk.length;
    const parsed = parseEnvelopePrefix(chunks.length === 1 ? chunk : concatBytes(...chunks));
    if (parsed.ok) return { chunks, prefix: parsed.value };
    if (parsed.code !== 'envelope/incomplete') throw invalidEnvelope('The body is not a Burrow envelope of a supported version');
    if (buffered >= MAX_ENVELOPE_PREFIX_BYTES) throw invalidEnvelope('The envelope header is longer than any valid one');
  }
}

/**
 * Passes an envelope's bytes through while checking every sealed chunk against the commitment and
 * hashing the commitment (src/crypto/envelope.ts), so the row can carry the ciphertext hash
 * approvals sign and a blob whose chunks are not the ones its sender committed to is never stored.
 */
class EnvelopeScanner {
  readonly #checker: EnvelopeStreamChecker;

  constructor(prefix: EnvelopePrefix) {
    this.#checker = createEnvelopeStreamChecker(prefix, () => {
      const hash = createHash('sha256');
      return { update: (piece: Uint8Array) => hash.update(piece), digest: () => new Uint8Array(hash.digest()) };
    });
  }

  update(chunk: Uint8Array): void {
    if (!this.#checker.push(chunk).ok) throw invalidEnvelope('An envelope chunk is not the one its commitment lists');
  }

  digest(): Uint8Array {
    const hash = this.#checker.finish();
    if (!hash.ok) throw invalidEnvelope('The envelope ends before the length it declares');
    return hash.value;
  }
}

async function* envelopeBody(chunks: Uint8Array[], iterator: AsyncIterator<Uint8Array>, scanner: EnvelopeScanner): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) {
    scanner.update(chunk);
    yield chunk;
  }
  for (;;) {
    const next = await iterator.next();
    if (next.done === true) return;
    const chunk = next.value instanceof Uint8Array ? next.value : new Uint8Array(next.value as ArrayBuffer);
    scanner.update(chunk);
    yield chunk;
  }
}

export function createMessagesService(deps: MessagesServiceDeps): MessagesService {
  const { repository, access, events, blobs, clock } = deps;

  async function membershipOf(principal: Principal, familyId: string): Promise<FamilyMembership> {
    // A toy's membership was read when this request was authenticated; reading it again would repeat it.
    const known = principal.membership;
    const membership = known !== undefined && known.familyId === familyId && known.principalId === principal.id ? known : await access.membership(familyId, principal.id);
    if (membership === undefined || membership.kind !== principal.kind) throw new BurrowError('burrow/not-found', 'No such family, or you are not in it');
    return membership;
  }

  /** The message's row if the caller may see it; its receipts, approvals and declines are read only where an answer shows them. */
  async function visibleRow(principal: Principal, familyId: string, messageId: string): Promise<{ membership: FamilyMembership; row: MessageRow }> {
    const membership = await membershipOf(principal, familyId);
    const row = await repository.findRow(familyId, messageId, visibilityOf(membership));
    if (row === undefined) throw notFound();
    return { membership, row };
  }

  async function publish<K extends LiveEventType>(familyId: string, type: K, data: LiveEventPayload<K>): Promise<void> {
    try {
      await events.publish(familyId, type, data);
    } catch (error) {
      deps.warn(`a live '${type}' event was not published`, error);
    }
  }

  async function removeBlob(name: string): Promise<void> {
    try {
      await blobs.delete(name);
    } catch (error) {
      // The orphan sweeper removes it later.
      deps.warn('a blob was not removed', error);
    }
  }

  async function reread(familyId: string, messageId: string): Promise<MessageViewData> {
    const record = await repository.find(familyId, messageId, { all: true });
    if (record === undefined) throw notFound();
    return toMessageView(record);
  }

  /** The message a guardian approves or declines: visible to them, and one that needs a decision. */
  async function decidable(principal: Principal, familyId: string, messageId: string, verb: string): Promise<MessageRow> {
    const { membership, row } = await visibleRow(principal, familyId, messageId);
    if (membership.role !== 'guardian') throw new BurrowError('burrow/forbidden', `Only a guardian ${verb} messages`);
    if (row.needs_approval !== 1) throw new BurrowError('burrow/conflict', 'This message needs no approval');
    return row;
  }

  /** Whether the decision is signed with the caller's account key over this message's id and stored ciphertext hash. */
  async function signedByCaller(verify: typeof verifyApprovalSignature, principal: Principal, familyId: string, row: MessageRow, input: ApprovalInput): Promise<boolean> {
    const signingKey = await deps.signingKeyOf(principal.id);
    return signingKey !== undefined && verify({
      signingKey,
      familyId,
      messageId: fromBase64Url(row.id),
      ciphertextHash: fromBase64Url(row.ciphertext_hash),
      rosterEpoch: input.rosterEpoch,
      rosterHead: fromBase64Url(input.rosterHead),
      signature: fromBase64Url(input.signature),
    });
  }

  function eventBase(row: MessageRow): LiveEventPayload<'message-deleted'> {
    return { messageId: row.id, senderId: row.sender_id, recipients: JSON.parse(row.recipients) as string[] };
  }

  return {
    async upload(input) {
      const { principal, familyId } = input;
      if (input.contentLength !== undefined && input.contentLength > deps.maxMessageBytes) {
        throw new BurrowError('burrow/payload-too-large', `A message may be at most ${deps.maxMessageBytes} bytes`);
      }
      const membership = await membershipOf(principal, familyId);
      const iterator = (input.body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
      let finished = false;
      try {
        const { chunks, prefix } = await readPrefix(iterator);
        const { header } = prefix;
        if (header.familyId !== familyId) throw invalidEnvelope('The envelope names another family than the route');
        if (header.senderId !== principal.id) throw invalidEnvelope('The envelope names another sender than the caller');
        if (header.epoch !== membership.epoch) throw new BurrowError('burrow/stale-epoch', `The family is at epoch ${membership.epoch}; the envelope was sealed for epoch ${header.epoch}`);
        const { conversations } = membership;
        const notYours = () => new BurrowError('burrow/not-found', 'A recipient is not a child or toy you may message in this family');
        if (conversations !== 'all' && header.recipients.some((recipient) => !conversations.has(recipient))) throw notYours();
        const messageId = toBase64Url(header.messageId);
        // The recipients and the id in one read; the answers keep their order (404, 413, 400, 409).
        const checks = await repository.uploadChecks(familyId, messageId, header.recipients);
        if (header.recipients.some((recipient) => !checks.conversations.has(recipient))) throw notYours();
        if (prefix.envelopeLength > deps.maxMessageBytes) throw new BurrowError('burrow/payload-too-large', `A message may be at most ${deps.maxMessageBytes} bytes`);
        if (input.contentLength !== undefined && input.contentLength !== prefix.envelopeLength) {
          throw invalidEnvelope('The Content-Length is not the length the envelope declares');
        }
        if (checks.idTaken) throw new BurrowError('burrow/conflict', 'A message with this id exists already');
        // Read with the membership, in the same statement: the family's retention needs no read of its own.
        const { retentionDays } = membership;

        const scanner = new EnvelopeScanner(prefix);
        const stored = await blobs.put(envelopeBody(chunks, iterator, scanner), {
          maxBytes: deps.maxMessageBytes,
          size: prefix.envelopeLength,
          // The scanner checks every chunk's hash and the commitment: a second hash would go unread.
          hash: false,
          ...(input.signal === undefined ? {} : { signal: input.signal }),
        });
        finished = true;
        const receivedAt = clock.now();
        const row = {
          id: messageId,
          family_id: familyId,
          sender_id: principal.id,
          sender_kind: principal.kind,
          recipients: JSON.stringify(header.recipients),
          epoch: header.epoch,
          size: stored.size,
          ciphertext_hash: toBase64Url(scanner.digest()),
          blob_name: stored.name,
          received_at: receivedAt,
          expires_at: receivedAt + retentionDays * DAY,
          saved: 0,
          needs_approval: membership.needsApproval ? 1 : 0,
        };
        try {
          // A member removed (or a new epoch begun) while the body streamed does not get the message
          // in: the insert itself checks both, and only a refused one reads why.
          if (!(await repository.insertWhileSenderInFamily(row))) {
            const still = await access.membership(familyId, principal.id);
            if (still !== undefined && still.epoch !== header.epoch) throw new BurrowError('burrow/stale-epoch', `The family moved to epoch ${still.epoch} during the upload`);
            throw new BurrowError('burrow/not-found', 'No such family, or you are not in it');
          }
        } catch (error) {
          await removeBlob(stored.name);
          if (isUniqueViolation(error)) throw new BurrowError('burrow/conflict', 'A message with this id exists already');
          throw error;
        }
        await publish(familyId, 'message', { messageId, senderId: principal.id, recipients: header.recipients, epoch: header.epoch, size: stored.size });
        deps.push?.messageStored(familyId, { messageId, senderId: principal.id, senderKind: principal.kind, needsApproval: row.needs_approval === 1 });
        return { messageId, receivedAt, size: stored.size };
      } finally {
        // Stop reading a body we refused; the route closes the connection after answering.
        if (!finished) await iterator.return?.().catch(() => undefined);
      }
    },

    async list(principal, familyId, input) {
      const membership = await membershipOf(principal, familyId);
      const limit = input.limit ?? DEFAULT_PAGE;
      const records = await repository.list({
        familyId,
        visibility: visibilityOf(membership),
        limit: limit + 1,
        ...(input.conversation === undefined ? {} : { conversation: input.conversation }),
        ...(input.pendingApproval === undefined ? {} : { pendingApproval: input.pendingApproval }),
        ...(input.before === undefined ? {} : { before: decodeCursor(input.before) }),
      });
      const page = records.slice(0, limit);
      const last = page.at(-1);
      const result: { messages: MessageViewData[]; nextCursor?: string } = { messages: page.map(toMessageView) };
      if (records.length > limit && last !== undefined) result.nextCursor = encodeCursor(last.row.received_at, last.row.id);
      return result;
    },

    async get(principal, familyId, messageId) {
      const membership = await membershipOf(principal, familyId);
      const record = await repository.find(familyId, messageId, visibilityOf(membership));
      if (record === undefined) throw notFound();
      return toMessageView(record);
    },

    async envelope(principal, familyId, messageId) {
      const { row } = await visibleRow(principal, familyId, messageId);
      const read = await blobs.get(row.blob_name);
      if (read === undefined) throw notFound();
      try {
        await deps.securityLog?.append(familyId, { kind: 'message-downloaded', actorId: principal.id, subjectId: messageId, details: { by: principal.kind } });
      } catch (error) {
        // A read held in memory has no stream to end; asking for `body` would make one.
        if (read.bytes === undefined) read.body.destroy();
        throw error;
      }
      return read;
    },

    async addReceipt(principal, familyId, messageId, receipt) {
      const membership = await membershipOf(principal, familyId);
      const visibility = visibilityOf(membership);
      const { kind } = receipt;
      // Clients verify every receipt against their roster; checking a member's here as well keeps
      // a bad one from being stored at all. A toy's key lives only in the signed roster, so a
      // toy's receipt is left to the clients.
      if (principal.kind === 'member') {
        // A message the member cannot see is 404 before their signature is judged.
        if ((await repository.findRow(familyId, messageId, visibility)) === undefined) throw notFound();
        const signingKey = await deps.signingKeyOf(principal.id);
        const valid = signingKey !== undefined && await verifyReceiptSignature({
          familyId,
          messageId: fromBase64Url(messageId),
          kind,
          signerId: principal.id,
          rosterEpoch: receipt.rosterEpoch,
          rosterHead: fromBase64Url(receipt.rosterHead),
          at: receipt.signedAt,
          signature: fromBase64Url(receipt.signature),
        }, signingKey);
        if (!valid) throw new BurrowError('burrow/invalid-receipt');
      }
      // The visibility check, the insert and the answer's read are one unit (no read before it for a toy).
      const record = await repository.addReceipt(familyId, visibility, {
        message_id: messageId,
        by_id: principal.id,
        kind,
        at: clock.now(),
        signed_at: receipt.signedAt,
        roster_epoch: receipt.rosterEpoch,
        roster_head: receipt.rosterHead,
        signature: receipt.signature,
      });
      if (record === undefined) throw notFound();
      await publish(familyId, 'receipt', { ...eventBase(record.row), by: principal.id, kind });
      return toMessageView(record);
    },

    async approve(principal, familyId, messageId, approval) {
      const row = await decidable(principal, familyId, messageId, 'approves');
      if (!(await signedByCaller(verifyApprovalSignature, principal, familyId, row, approval))) throw new BurrowError('burrow/invalid-approval');
      const added = await repository.addApproval({ message_id: messageId, guardian_id: principal.id, signature: approval.signature, at: clock.now(), roster_epoch: approval.rosterEpoch, roster_head: approval.rosterHead });
      if (added === 'gone') throw notFound();
      if (added === 'declined') throw new BurrowError('burrow/conflict', 'A guardian declined this message; it cannot be approved');
      await publish(familyId, 'approval', { ...eventBase(row), guardianId: principal.id });
      return reread(familyId, messageId);
    },

    async decline(principal, familyId, messageId, decline) {
      const row = await decidable(principal, familyId, messageId, 'declines');
      if (!(await signedByCaller(verifyDeclineSignature, principal, familyId, row, decline))) throw new BurrowError('burrow/invalid-decline');
      const added = await repository.addDecline({ message_id: messageId, guardian_id: principal.id, signature: decline.signature, at: clock.now(), roster_epoch: decline.rosterEpoch, roster_head: decline.rosterHead });
      if (added === 'gone') throw notFound();
      if (added === 'approved') throw new BurrowError('burrow/conflict', 'A guardian approved this message already; delete it instead');
      await publish(familyId, 'decline', { ...eventBase(row), guardianId: principal.id });
      return reread(familyId, messageId);
    },

    async setSaved(principal, familyId, messageId, saved) {
      const { row } = await visibleRow(principal, familyId, messageId);
      let expiresAt: number | null = null;
      if (!saved) {
        const days = await access.retentionDays(familyId);
        if (days === undefined) throw notFound();
        expiresAt = row.received_at + days * DAY;
      }
      await repository.setSaved(messageId, saved, expiresAt);
      return reread(familyId, messageId);
    },

    async delete(principal, familyId, messageId) {
      const { membership, row } = await visibleRow(principal, familyId, messageId);
      if (membership.role !== 'guardian' && row.sender_id !== principal.id) {
        throw new BurrowError('burrow/forbidden', 'Only the sender or a guardian deletes a message');
      }
      const blobName = await repository.delete(messageId);
      if (blobName === undefined) throw notFound();
      await removeBlob(blobName);
      await publish(familyId, 'message-deleted', eventBase(row));
    },

    async purgeFamily(familyId) {
      const names = await repository.deleteFamily(familyId);
      for (const name of names) await removeBlob(name);
    },
  };
}
