/**
 * The toys tables: pairing attempts (one per code a toy shows), their runs (one per guess a
 * guardian's client makes), and the paired toys' device rows. Every state change that races is a
 * conditional write whose row count says whether it won.
 */
import type { Kysely } from 'kysely';
import { compiledOnce } from '../../storage/compiled-once.js';
import type { Database, PairingAttemptsTable, PairingRunsTable, ToyDevicesTable } from '../../storage/database.js';

export type AttemptRow = PairingAttemptsTable;
export type RunRow = PairingRunsTable;
export type ToyDeviceRow = ToyDevicesTable;

/** A toy's device row with what its membership needs: the family's epoch and retention, the toy's child in the family's toys. */
export type DeviceInFamily = ToyDeviceRow & { epoch: number; retention_days: number; family_child_id: string };

/** The run states in which a run is still going (until it expires). */
export const OPEN_RUN_STATES = ['waiting-for-toy', 'toy-answered', 'confirmed'] as const;

export interface ToysRepository {
  /** Runs `work` in one transaction with a repository bound to it. */
  transaction<T>(work: (repository: ToysRepository) => Promise<T>): Promise<T>;

  /** Frees the slots of attempts that expired and deletes attempts that expired before `purgeBefore` (with their runs). */
  releaseExpired(now: number, purgeBefore: number): Promise<void>;
  /** The slots held at the moment. */
  heldSlots(): Promise<string[]>;
  /** Inserts an attempt; throws a unique violation when its slot was taken meanwhile. */
  insertAttempt(row: AttemptRow): Promise<void>;
  attempt(pairingId: string): Promise<AttemptRow | undefined>;
  attemptBySlot(slot: string): Promise<AttemptRow | undefined>;
  /**
   * state 'waiting' → 'ended'; false when it was not waiting. `freeSlot` for a toy that gave up;
   * an attempt that used its runs keeps its slot until it expires, so a further guess is told it ended.
   */
  endAttempt(pairingId: string, freeSlot: boolean): Promise<boolean>;
  /** Takes the attempt row's write lock for the rest of the transaction. */
  lockAttempt(pairingId: string): Promise<boolean>;
  /** runs_started from `seen` to `seen + 1` while waiting and unexpired; false when it moved or ended. */
  countRun(pairingId: string, seen: number, now: number): Promise<boolean>;

  childExists(familyId: string, childId: string): Promise<boolean>;
  insertRun(row: RunRow): Promise<void>;
  run(runId: string): Promise<RunRow | undefined>;
  runsOf(pairingId: string): Promise<RunRow[]>;
  /** The runs of a family named by `runIds`. */
  runsByIds(familyId: string, runIds: readonly string[]): Promise<RunRow[]>;
  /** waiting-for-toy → toy-answered with the toy's messages; false when the run was not waiting or expired. */
  answerRun(runId: string, toyShare: string, toyConfirm: string, now: number): Promise<boolean>;
  /** toy-answered → confirmed; false otherwise. */
  confirmRun(runId: string, guardianConfirm: string, now: number): Promise<boolean>;
  /** An open run → failed; false when it was not open. */
  failRun(runId: string): Promise<boolean>;

  device(familyId: string, toyId: string): Promise<ToyDeviceRow | undefined>;
  deviceByToken(tokenHash: string): Promise<ToyDeviceRow | undefined>;
  /**
   * The device with this token whose toy is still in its family, with the family's epoch and
   * retention and the toy's child there: a toy's whole authentication in one statement.
   */
  deviceInFamilyByToken(tokenHash: string): Promise<DeviceInFamily | undefined>;
  devicesOf(familyId: string): Promise<ToyDeviceRow[]>;
  /** Replaces the device token of a toy that has not used one yet; false otherwise. */
  reissueToken(toyId: string, tokenHash: string): Promise<boolean>;
  /** Marks the token used (the first time); true only for the call that did. */
  markTokenUsed(tokenHash: string): Promise<boolean>;
  /** Clears the toy's token (a reset); false when it had none. */
  revokeToken(toyId: string): Promise<boolean>;
  touch(toyId: string, now: number): Promise<void>;
  setProfile(familyId: string, toyId: string, sealedProfile: string): Promise<boolean>;
  /** The attempt whose id is the toy's (for its pairing token, which dies with the first device token use). */
  deleteAttempt(pairingId: string): Promise<void>;
}

/** Every request of a toy looks its device up by token: compiled once (src/storage/compiled-once.ts). */
const deviceByTokenQuery = compiledOnce((db: Kysely<Database>, a: { tokenHash: string }) => db.selectFrom('toy_devices').selectAll().where('token_hash', '=', a.tokenHash));
const deviceInFamilyQuery = compiledOnce((db: Kysely<Database>, a: { tokenHash: string }) => db.selectFrom('toy_devices')
  .innerJoin('family_toys', (join) => join.onRef('family_toys.family_id', '=', 'toy_devices.family_id').onRef('family_toys.toy_id', '=', 'toy_devices.toy_id'))
  .innerJoin('families', 'families.id', 'toy_devices.family_id')
  .selectAll('toy_devices')
  .select(['families.epoch', 'families.retention_days', 'family_toys.child_id as family_child_id'])
  .where('toy_devices.token_hash', '=', a.tokenHash));

export function createToysRepository(db: Kysely<Database>): ToysRepository {
  const repository: ToysRepository = {
    transaction(work) {
      return db.transaction().execute((trx) => work(createToysRepository(trx)));
    },

    async releaseExpired(now, purgeBefore) {
      await db.updateTable('pairing_attempts').set({ held_slot: null }).where('held_slot', 'is not', null).where('expires_at', '<=', now).execute();
      await db.deleteFrom('pairing_attempts').where('expires_at', '<', purgeBefore).execute();
    },

    async heldSlots() {
      const rows = await db.selectFrom('pairing_attempts').select('held_slot').where('held_slot', 'is not', null).execute();
      return rows.map((r) => r.held_slot).filter((s): s is string => s !== null);
    },

    async insertAttempt(row) {
      await db.insertInto('pairing_attempts').values(row).execute();
    },

    attempt(pairingId) {
      return db.selectFrom('pairing_attempts').selectAll().where('id', '=', pairingId).executeTakeFirst();
    },

    attemptBySlot(slot) {
      return db.selectFrom('pairing_attempts').selectAll().where('held_slot', '=', slot).executeTakeFirst();
    },

    async endAttempt(pairingId, freeSlot) {
      const result = await db.updateTable('pairing_attempts').set(freeSlot ? { state: 'ended', held_slot: null } : { state: 'ended' }).where('id', '=', pairingId).where('state', '=', 'waiting').executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async lockAttempt(pairingId) {
      // A no-op write: on PostgreSQL it locks the row until commit; SQLite has one writer anyway.
      const result = await db.updateTable('pairing_attempts').set((eb) => ({ runs_started: eb.ref('runs_started') })).where('id', '=', pairingId).executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async countRun(pairingId, seen, now) {
      const result = await db
        .updateTable('pairing_attempts')
        .set({ runs_started: seen + 1 })
        .where('id', '=', pairingId)
        .where('runs_started', '=', seen)
        .where('state', '=', 'waiting')
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async childExists(familyId, childId) {
      const row = await db.selectFrom('children').select('id').where('family_id', '=', familyId).where('id', '=', childId).executeTakeFirst();
      return row !== undefined;
    },

    async insertRun(row) {
      await db.insertInto('pairing_runs').values(row).execute();
    },

    run(runId) {
      return db.selectFrom('pairing_runs').selectAll().where('id', '=', runId).executeTakeFirst();
    },

    runsOf(pairingId) {
      return db.selectFrom('pairing_runs').selectAll().where('pairing_id', '=', pairingId).orderBy('seq', 'asc').execute();
    },

    async runsByIds(familyId, runIds) {
      if (runIds.length === 0) return [];
      return db.selectFrom('pairing_runs').selectAll().where('family_id', '=', familyId).where('id', 'in', [...runIds]).execute();
    },

    async answerRun(runId, toyShare, toyConfirm, now) {
      const result = await db
        .updateTable('pairing_runs')
        .set({ state: 'toy-answered', toy_share: toyShare, toy_confirm: toyConfirm })
        .where('id', '=', runId)
        .where('state', '=', 'waiting-for-toy')
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async confirmRun(runId, guardianConfirm, now) {
      const result = await db
        .updateTable('pairing_runs')
        .set({ state: 'confirmed', guardian_confirm: guardianConfirm })
        .where('id', '=', runId)
        .where('state', '=', 'toy-answered')
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async failRun(runId) {
      const result = await db.updateTable('pairing_runs').set({ state: 'failed' }).where('id', '=', runId).where('state', 'in', [...OPEN_RUN_STATES]).executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    device(familyId, toyId) {
      return db.selectFrom('toy_devices').selectAll().where('family_id', '=', familyId).where('toy_id', '=', toyId).executeTakeFirst();
    },

    async deviceByToken(tokenHash) {
      return (await deviceByTokenQuery(db, { tokenHash })).rows[0];
    },

    async deviceInFamilyByToken(tokenHash) {
      return (await deviceInFamilyQuery(db, { tokenHash })).rows[0];
    },

    devicesOf(familyId) {
      return db.selectFrom('toy_devices').selectAll().where('family_id', '=', familyId).orderBy('paired_at', 'asc').orderBy('toy_id', 'asc').execute();
    },

    async reissueToken(toyId, tokenHash) {
      const result = await db.updateTable('toy_devices').set({ token_hash: tokenHash }).where('toy_id', '=', toyId).where('token_used', '=', 0).executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async markTokenUsed(tokenHash) {
      const result = await db.updateTable('toy_devices').set({ token_used: 1 }).where('token_hash', '=', tokenHash).where('token_used', '=', 0).executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async revokeToken(toyId) {
      const result = await db.updateTable('toy_devices').set({ token_hash: null, token_used: 1 }).where('toy_id', '=', toyId).where('token_hash', 'is not', null).executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },

    async touch(toyId, now) {
      await db.updateTable('toy_devices').set({ last_seen_at: now }).where('toy_id', '=', toyId).execute();
    },

    async setProfile(familyId, toyId, sealedProfile) {
      const result = await db.updateTable('toy_devices').set({ sealed_profile: sealedProfile }).where('family_id', '=', familyId).where('toy_id', '=', toyId).where('removed_at', 'is', null).executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async deleteAttempt(pairingId) {
      await db.deleteFrom('pairing_attempts').where('id', '=', pairingId).execute();
    },
  };
  return repository;
}
