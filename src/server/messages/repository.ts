/** The message tables: rows, recipients, receipts, approvals and declines. Blobs are the service's business. */
import { sql, type ExpressionBuilder, type Kysely, type SelectQueryBuilder } from 'kysely';
import { executeAtomically, executeInOneTrip } from '../../storage/atomic-batch.js';
import { isForeignKeyViolation } from '../../storage/errors.js';
import { compiledOnce } from '../../storage/compiled-once.js';
import type { Database, MessageApprovalsTable, MessageDeclinesTable, MessageReceiptsTable, MessagesTable } from '../../storage/database.js';

export type MessageRow = MessagesTable;
export type ReceiptRow = MessageReceiptsTable;
export type ApprovalRow = MessageApprovalsTable;
export type DeclineRow = MessageDeclinesTable;
type Detail = 'receipt' | 'approval' | 'decline';

/** A message row with what the API shows beside it. */
export interface MessageRecord {
  row: MessageRow;
  receipts: ReceiptRow[];
  approvals: ApprovalRow[];
  declines: DeclineRow[];
}

/**
 * Which messages a caller may see: all of a family's (guardians), or their own plus those for their
 * conversations that no guardian declined (relatives and toys: a declined message is hidden from
 * the child's toys and the other relatives; its sender still sees it, and who declined it).
 */
export type Visibility = { all: true } | { all: false; conversations: readonly string[]; principalId: string };

export interface ListFilter {
  familyId: string;
  visibility: Visibility;
  /** Only messages for this child or toy. */
  conversation?: string;
  /** Only messages that need approval and have no approval or decline yet (true), or only the others (false). */
  pendingApproval?: boolean;
  /** Strictly older than this position (newest first). */
  before?: { receivedAt: number; id: string };
  limit: number;
}

export interface MessagesRepository {
  /**
   * Inserts a message and its recipients in one unit, only while its sender (`sender_kind`) is in
   * the family and the family is at the message's epoch: false, and nothing stored, otherwise.
   * Throws a unique violation on a reused id.
   */
  insertWhileSenderInFamily(row: MessageRow): Promise<boolean>;
  /**
   * An upload's early checks in one read: whether `messageId` is taken, and which of `recipients`
   * are children or toys of the family (valid recipients).
   */
  uploadChecks(familyId: string, messageId: string, recipients: readonly string[]): Promise<{ idTaken: boolean; conversations: Set<string> }>;
  /** The message if it is in `familyId` and visible under `visibility`. */
  find(familyId: string, messageId: string, visibility: Visibility): Promise<MessageRecord | undefined>;
  /** The message's row alone (no receipts, approvals or declines), on the same terms as `find`. */
  findRow(familyId: string, messageId: string, visibility: Visibility): Promise<MessageRow | undefined>;
  list(filter: ListFilter): Promise<MessageRecord[]>;
  /**
   * Records a receipt on a message of `familyId` visible under `visibility` (a repeated one keeps
   * its first time), then reads the message back with its details (on the embedded store in the
   * same unit): the message as stored then, or undefined, and nothing stored, when it is gone or
   * not visible.
   */
  addReceipt(familyId: string, visibility: Visibility, receipt: ReceiptRow): Promise<MessageRecord | undefined>;
  /** Records an approval (a repeated one keeps the first) unless the message is gone or declined. */
  addApproval(approval: ApprovalRow): Promise<'added' | 'gone' | 'declined'>;
  /** Records a decline (a repeated one keeps the first) unless the message is gone or approved. */
  addDecline(decline: DeclineRow): Promise<'added' | 'gone' | 'approved'>;
  setSaved(messageId: string, saved: boolean, expiresAt: number | null): Promise<void>;
  /** Deletes the row (and with it recipients, receipts, approvals, declines); returns its blob name. */
  delete(messageId: string): Promise<string | undefined>;
  /** Deletes up to `limit` unsaved messages that expired at or before `now`; returns their blob names. */
  deleteExpired(now: number, limit: number): Promise<string[]>;
  /** Deletes every message of a family; returns their blob names. */
  deleteFamily(familyId: string): Promise<string[]>;
  /** Of `names`, those that some message references. */
  referencedBlobs(names: readonly string[]): Promise<Set<string>>;
  count(): Promise<number>;
}

/** A restricted caller as compiled-once statements take it: no conversations is no argument (SQL has no empty IN list). */
type Restriction = { principalId: string; conversations?: readonly string[] };

function restrictionOf(v: { principalId: string; conversations: readonly string[] }): Restriction {
  return v.conversations.length === 0 ? { principalId: v.principalId } : { principalId: v.principalId, conversations: v.conversations };
}

/** Relatives and toys see their own messages and those for their conversations that no guardian declined. */
function restrictTo<O, Q extends SelectQueryBuilder<Database, 'messages', O>>(query: Q, v: Restriction): Q {
  return query.where((eb) => eb.or([
    eb('messages.sender_id', '=', v.principalId),
    ...(v.conversations === undefined ? [] : [eb.and([
      eb.exists(
        eb.selectFrom('message_recipients').select('message_recipients.message_id')
          .whereRef('message_recipients.message_id', '=', 'messages.id')
          .where('message_recipients.recipient_id', 'in', [...v.conversations]),
      ),
      eb.not(eb.exists(eb.selectFrom('message_declines').select('message_declines.message_id').whereRef('message_declines.message_id', '=', 'messages.id'))),
    ])]),
  ])) as Q;
}

// The statements every message's upload, download and receipt run, compiled once (src/storage/compiled-once.ts).
const rowForAll = compiledOnce((db: Kysely<Database>, a: { familyId: string; messageId: string }) => db.selectFrom('messages').selectAll('messages')
  .where('messages.family_id', '=', a.familyId).where('messages.id', '=', a.messageId));
const rowForSome = compiledOnce((db: Kysely<Database>, a: { familyId: string; messageId: string } & Restriction) =>
  restrictTo(db.selectFrom('messages').selectAll('messages'), a).where('messages.family_id', '=', a.familyId).where('messages.id', '=', a.messageId));
// The message id if taken, and those of the recipients that are a child or a toy of the family:
// the upload's id check and its recipient checks in one statement.
const idAndConversations = compiledOnce((db: Kysely<Database>, a: { familyId: string; messageId: string; recipients: readonly string[] }) => db
  .selectFrom('messages').select([sql<string>`'message'`.as('what'), 'messages.id as id']).where('messages.id', '=', a.messageId)
  .unionAll(db.selectFrom('children').select([sql<string>`'child'`.as('what'), 'children.id as id']).where('children.family_id', '=', a.familyId).where('children.id', 'in', a.recipients))
  .unionAll(db.selectFrom('family_toys').select([sql<string>`'toy'`.as('what'), 'family_toys.toy_id as id']).where('family_toys.family_id', '=', a.familyId).where('family_toys.toy_id', 'in', a.recipients)));
type MessageArgs = MessageRow & Record<string, string | number | null>;

/**
 * The message's row, selected from its family only while the family is at the message's epoch and
 * the sender is in it (a member or a toy, per `kind`): the upload's last membership check and its
 * insert in one statement.
 */
function insertWhileIn(kind: 'member' | 'toy') {
  return compiledOnce((db: Kysely<Database>, a: MessageArgs) => db.insertInto('messages')
    .columns(['id', 'family_id', 'sender_id', 'sender_kind', 'recipients', 'epoch', 'size', 'ciphertext_hash', 'blob_name', 'received_at', 'expires_at', 'saved', 'needs_approval'])
    .expression((eb) => eb.selectFrom('families')
      .select([
        eb.val(a.id).as('id'), eb.val(a.family_id).as('family_id'), eb.val(a.sender_id).as('sender_id'), eb.val(a.sender_kind).as('sender_kind'),
        eb.val(a.recipients).as('recipients'), eb.val(a.epoch).as('epoch'), eb.val(a.size).as('size'), eb.val(a.ciphertext_hash).as('ciphertext_hash'),
        eb.val(a.blob_name).as('blob_name'), eb.val(a.received_at).as('received_at'), eb.val(a.expires_at).as('expires_at'), eb.val(a.saved).as('saved'),
        eb.val(a.needs_approval).as('needs_approval'),
      ])
      .where('families.id', '=', a.family_id)
      .where('families.epoch', '=', a.epoch)
      .where((w) => w.exists(kind === 'member'
        ? w.selectFrom('family_members').select('family_members.account_id').whereRef('family_members.family_id', '=', 'families.id').where('family_members.account_id', '=', a.sender_id)
        : w.selectFrom('family_toys').select('family_toys.toy_id').whereRef('family_toys.family_id', '=', 'families.id').where('family_toys.toy_id', '=', a.sender_id)))));
}
const insertMessageWhileMember = insertWhileIn('member');
const insertMessageWhileToy = insertWhileIn('toy');
// The recipients' rows, each only if the row this upload inserted is there (so after a refused
// insert, none). Its id alone is not enough: a refused upload may carry the id of a message stored
// since its early checks, and its recipients must not join that message (they would come to see
// it). The blob name is the upload's own, fresh from the blob store.
const insertRecipientsOfStored = compiledOnce((db: Kysely<Database>, a: { messageId: string; blobName: string; senderId: string; recipients: readonly string[] }) => {
  const [first, ...rest] = a.recipients.map((recipient) => db.selectFrom('messages')
    .select((eb) => ['messages.id as message_id', eb.val(recipient).as('recipient_id')])
    .where('messages.id', '=', a.messageId)
    .where('messages.blob_name', '=', a.blobName)
    .where('messages.sender_id', '=', a.senderId));
  if (first === undefined) throw new TypeError('a message has at least one recipient');
  return db.insertInto('message_recipients').columns(['message_id', 'recipient_id'])
    .expression(rest.reduce((union, next) => union.unionAll(next), first));
});
// The receipt goes in only while its message is in the family and visible to the signer: the
// visibility check and the insert are one statement (a write on SQLite's one writer, or under the
// message row's foreign key on PostgreSQL).
type ReceiptArgs = ReceiptRow & { familyId: string } & Record<string, string | number | readonly string[]>;
function receiptValues(eb: ExpressionBuilder<Database, 'messages'>, a: ReceiptArgs) {
  return [
    eb.val(a.message_id).as('message_id'), eb.val(a.by_id).as('by_id'), eb.val(a.kind).as('kind'), eb.val(a.at).as('at'),
    eb.val(a.signed_at).as('signed_at'), eb.val(a.roster_epoch).as('roster_epoch'), eb.val(a.roster_head).as('roster_head'), eb.val(a.signature).as('signature'),
  ];
}
const RECEIPT_COLUMNS = ['message_id', 'by_id', 'kind', 'at', 'signed_at', 'roster_epoch', 'roster_head', 'signature'] as const;
const insertReceiptForAll = compiledOnce((db: Kysely<Database>, a: ReceiptArgs) => db.insertInto('message_receipts').columns(RECEIPT_COLUMNS)
  .expression((eb) => eb.selectFrom('messages').where('messages.id', '=', a.message_id).where('messages.family_id', '=', a.familyId).select((s) => receiptValues(s, a)))
  .onConflict((oc) => oc.columns(['message_id', 'by_id', 'kind']).doNothing()));
const insertReceiptForSome = compiledOnce((db: Kysely<Database>, a: ReceiptArgs & Restriction) => db.insertInto('message_receipts').columns(RECEIPT_COLUMNS)
  .expression((eb) => restrictTo(eb.selectFrom('messages').where('messages.id', '=', a.message_id).where('messages.family_id', '=', a.familyId).select((s) => receiptValues(s, a)), a))
  .onConflict((oc) => oc.columns(['message_id', 'by_id', 'kind']).doNothing()));
// A message's receipts, approvals and declines in one statement, each kind in the order it came.
const detailsOf = compiledOnce((db: Kysely<Database>, a: { ids: readonly string[] }) => db
  .selectFrom('message_receipts')
  .select((eb) => [sql<Detail>`'receipt'`.as('detail'), 'message_id', 'by_id', eb.ref('kind').$castTo<ReceiptRow['kind'] | null>().as('kind'), 'at',
    eb.ref('signed_at').$castTo<number | null>().as('signed_at'), 'roster_epoch', 'roster_head', 'signature'])
  .where('message_id', 'in', a.ids)
  .unionAll(db.selectFrom('message_approvals')
    .select([sql<Detail>`'approval'`.as('detail'), 'message_id', 'guardian_id as by_id', sql<ReceiptRow['kind'] | null>`null`.as('kind'), 'at', sql<number | null>`null`.as('signed_at'), 'roster_epoch', 'roster_head', 'signature'])
    .where('message_id', 'in', a.ids))
  .unionAll(db.selectFrom('message_declines')
    .select([sql<Detail>`'decline'`.as('detail'), 'message_id', 'guardian_id as by_id', sql<ReceiptRow['kind'] | null>`null`.as('kind'), 'at', sql<number | null>`null`.as('signed_at'), 'roster_epoch', 'roster_head', 'signature'])
    .where('message_id', 'in', a.ids))
  .orderBy('at'));

export function createMessagesRepository(db: Kysely<Database>): MessagesRepository {
  async function withDetails(rows: MessageRow[]): Promise<MessageRecord[]> {
    if (rows.length === 0) return [];
    const { rows: details } = await detailsOf(db, { ids: rows.map((r) => r.id) });
    return recordsOf(rows, details);
  }

  async function findRow(familyId: string, messageId: string, visibility: Visibility): Promise<MessageRow | undefined> {
    const { rows } = visibility.all
      ? await rowForAll(db, { familyId, messageId })
      : await rowForSome(db, { familyId, messageId, ...restrictionOf(visibility) });
    return rows[0] === undefined ? undefined : normalise(rows[0]);
  }

  function visible(visibility: Visibility) {
    const query = db.selectFrom('messages').selectAll('messages');
    return visibility.all ? query : restrictTo(query, restrictionOf(visibility));
  }

  return {
    async insertWhileSenderInFamily(row) {
      const recipients = JSON.parse(row.recipients) as string[];
      const insert = row.sender_kind === 'member' ? insertMessageWhileMember : insertMessageWhileToy;
      // One unit, and on the embedded store one round trip to its worker.
      const [message] = await executeAtomically(db, [insert.compile(db, { ...row }), insertRecipientsOfStored.compile(db, { messageId: row.id, blobName: row.blob_name, senderId: row.sender_id, recipients })]);
      return Number(message?.numAffectedRows ?? 0n) === 1;
    },

    async uploadChecks(familyId, messageId, recipients) {
      if (recipients.length === 0) throw new TypeError('recipients: a message has at least one');
      const { rows } = await idAndConversations(db, { familyId, messageId, recipients });
      return { idTaken: rows.some((r) => r.what === 'message'), conversations: new Set(rows.filter((r) => r.what !== 'message').map((r) => r.id)) };
    },

    async find(familyId, messageId, visibility) {
      const row = await findRow(familyId, messageId, visibility);
      return row === undefined ? undefined : (await withDetails([row]))[0];
    },

    findRow,

    async list(filter) {
      let query = visible(filter.visibility).where('messages.family_id', '=', filter.familyId);
      if (filter.conversation !== undefined) {
        const conversation = filter.conversation;
        query = query.where((eb) => eb.exists(
          eb.selectFrom('message_recipients').select('message_recipients.message_id')
            .whereRef('message_recipients.message_id', '=', 'messages.id')
            .where('message_recipients.recipient_id', '=', conversation),
        ));
      }
      if (filter.pendingApproval === true) {
        query = query.where('messages.needs_approval', '=', 1)
          .where((eb) => eb.not(eb.exists(eb.selectFrom('message_approvals').select('message_approvals.message_id').whereRef('message_approvals.message_id', '=', 'messages.id'))))
          .where((eb) => eb.not(eb.exists(eb.selectFrom('message_declines').select('message_declines.message_id').whereRef('message_declines.message_id', '=', 'messages.id'))));
      } else if (filter.pendingApproval === false) {
        query = query.where((eb) => eb.or([
          eb('messages.needs_approval', '=', 0),
          eb.exists(eb.selectFrom('message_approvals').select('message_approvals.message_id').whereRef('message_approvals.message_id', '=', 'messages.id')),
          eb.exists(eb.selectFrom('message_declines').select('message_declines.message_id').whereRef('message_declines.message_id', '=', 'messages.id')),
        ]));
      }
      if (filter.before !== undefined) {
        const { receivedAt, id } = filter.before;
        query = query.where((eb) => eb.or([
          eb('messages.received_at', '<', receivedAt),
          eb.and([eb('messages.received_at', '=', receivedAt), eb('messages.id', '<', id)]),
        ]));
      }
      const rows = await query.orderBy('messages.received_at', 'desc').orderBy('messages.id', 'desc').limit(filter.limit).execute();
      return withDetails(rows);
    },

    async addReceipt(familyId, visibility, receipt) {
      const args = { ...receipt, familyId };
      const ids = [receipt.message_id];
      // On the embedded store one round trip to its worker, read where the receipt was written.
      // Elsewhere three statements with no transaction: the insert carries its own check, and at
      // READ COMMITTED a transaction would add BEGIN and COMMIT but not one snapshot for the reads.
      let results: Awaited<ReturnType<typeof executeInOneTrip>>;
      try {
        results = await executeInOneTrip(db, visibility.all
          ? [insertReceiptForAll.compile(db, args), rowForAll.compile(db, { familyId, messageId: receipt.message_id }), detailsOf.compile(db, { ids })]
          : [
            insertReceiptForSome.compile(db, { ...args, ...restrictionOf(visibility) }),
            rowForSome.compile(db, { familyId, messageId: receipt.message_id, ...restrictionOf(visibility) }),
            detailsOf.compile(db, { ids }),
          ]);
      } catch (error) {
        // On PostgreSQL the insert reads the message as committed when it starts; if a deletion
        // commits meanwhile, its foreign-key check fails: the message is gone, as if it never was.
        if (isForeignKeyViolation(error)) return undefined;
        throw error;
      }
      const [inserted, found, details] = results;
      let row = found?.rows[0] as MessageRow | undefined;
      // Stored, yet not visible when read back: on PostgreSQL, where the three statements share no
      // snapshot, a guardian's decline committed in between (on the embedded store the batch is one
      // unit). The receipt went in while the message was visible to its signer, so it is answered
      // as stored, with the decline, as a check before the insert would have answered it; the
      // details, read by id after the insert, already hold the decline.
      if (row === undefined && Number(inserted?.numAffectedRows ?? 0n) === 1) {
        row = (await rowForAll(db, { familyId, messageId: receipt.message_id })).rows[0];
      }
      return row === undefined ? undefined : recordOf(row, details?.rows as DetailRow[]);
    },

    async addApproval(approval) {
      return db.transaction().execute(async (tx) => {
        if (!(await lockMessage(tx, approval.message_id))) return 'gone';
        if ((await tx.selectFrom('message_declines').select('message_id').where('message_id', '=', approval.message_id).executeTakeFirst()) !== undefined) return 'declined';
        await tx.insertInto('message_approvals').values(approval).onConflict((oc) => oc.columns(['message_id', 'guardian_id']).doNothing()).execute();
        return 'added';
      });
    },

    async addDecline(decline) {
      return db.transaction().execute(async (tx) => {
        if (!(await lockMessage(tx, decline.message_id))) return 'gone';
        if ((await tx.selectFrom('message_approvals').select('message_id').where('message_id', '=', decline.message_id).executeTakeFirst()) !== undefined) return 'approved';
        await tx.insertInto('message_declines').values(decline).onConflict((oc) => oc.columns(['message_id', 'guardian_id']).doNothing()).execute();
        return 'added';
      });
    },

    async setSaved(messageId, saved, expiresAt) {
      await db.updateTable('messages').set({ saved: saved ? 1 : 0, expires_at: expiresAt }).where('id', '=', messageId).execute();
    },

    async delete(messageId) {
      return db.transaction().execute(async (tx) => {
        const row = await tx.selectFrom('messages').select('blob_name').where('id', '=', messageId).executeTakeFirst();
        if (row === undefined) return undefined;
        await deleteRows(tx, [messageId]);
        return row.blob_name;
      });
    },

    async deleteExpired(now, limit) {
      return db.transaction().execute(async (tx) => {
        const rows = await tx.selectFrom('messages').select(['id', 'blob_name'])
          .where('saved', '=', 0).where('expires_at', 'is not', null).where('expires_at', '<=', now)
          .orderBy('expires_at').limit(limit).execute();
        await deleteRows(tx, rows.map((r) => r.id));
        return rows.map((r) => r.blob_name);
      });
    },

    async deleteFamily(familyId) {
      return db.transaction().execute(async (tx) => {
        const rows = await tx.selectFrom('messages').select(['id', 'blob_name']).where('family_id', '=', familyId).execute();
        for (let i = 0; i < rows.length; i += 500) await deleteRows(tx, rows.slice(i, i + 500).map((r) => r.id));
        return rows.map((r) => r.blob_name);
      });
    },

    async referencedBlobs(names) {
      const out = new Set<string>();
      for (let i = 0; i < names.length; i += 500) {
        const slice = names.slice(i, i + 500);
        if (slice.length === 0) continue;
        const rows = await db.selectFrom('messages').select('blob_name').where('blob_name', 'in', slice).execute();
        for (const r of rows) out.add(r.blob_name);
      }
      return out;
    },

    async count() {
      const row = await db.selectFrom('messages').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      return Number(row.n);
    },
  };
}

type DetailRow = Awaited<ReturnType<typeof detailsOf>>['rows'][number];

/** `rows` with their receipts, approvals and declines from `details` (as `detailsOf` reads them). */
function recordsOf(rows: readonly MessageRow[], details: readonly DetailRow[]): MessageRecord[] {
  const byMessage = new Map<string, MessageRecord>(rows.map((row) => [row.id, { row: normalise(row), receipts: [], approvals: [], declines: [] }]));
  for (const d of details) {
    const record = byMessage.get(d.message_id);
    if (record === undefined) continue;
    const signed = { message_id: d.message_id, at: Number(d.at), roster_epoch: Number(d.roster_epoch), roster_head: d.roster_head, signature: d.signature };
    if (d.detail === 'receipt') record.receipts.push({ ...signed, by_id: d.by_id, kind: d.kind!, signed_at: Number(d.signed_at) });
    else if (d.detail === 'approval') record.approvals.push({ ...signed, guardian_id: d.by_id });
    else record.declines.push({ ...signed, guardian_id: d.by_id });
  }
  return [...byMessage.values()];
}

function recordOf(row: MessageRow, details: readonly DetailRow[]): MessageRecord {
  return recordsOf([row], details)[0]!;
}

/**
 * Takes the message row's write lock for the rest of the transaction (a no-op write: on PostgreSQL
 * it locks the row until commit; SQLite has one writer anyway); false when the message is gone.
 * An approval and a decline take it before they look at each other, so two guardians answering at
 * once cannot both be stored, and a deletion cannot slip between the check and the insert.
 */
async function lockMessage(tx: Kysely<Database>, messageId: string): Promise<boolean> {
  const result = await tx.updateTable('messages').set((eb) => ({ saved: eb.ref('saved') })).where('id', '=', messageId).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Deletes messages and their dependent rows explicitly, so nothing relies on ON DELETE CASCADE being enforced. */
async function deleteRows(tx: Kysely<Database>, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await tx.deleteFrom('message_recipients').where('message_id', 'in', ids).execute();
  await tx.deleteFrom('message_receipts').where('message_id', 'in', ids).execute();
  await tx.deleteFrom('message_approvals').where('message_id', 'in', ids).execute();
  await tx.deleteFrom('message_declines').where('message_id', 'in', ids).execute();
  await tx.deleteFrom('messages').where('id', 'in', ids).execute();
}

function normalise(row: MessageRow): MessageRow {
  return {
    ...row,
    epoch: Number(row.epoch),
    size: Number(row.size),
    received_at: Number(row.received_at),
    expires_at: row.expires_at === null ? null : Number(row.expires_at),
    saved: Number(row.saved),
    needs_approval: Number(row.needs_approval),
  };
}
