/**
 * `burrow admin`: the operator's account commands, run on the server machine against its store.
 * Accounts are listed by id and counts; emails appear only with --show-emails (and that is logged).
 * Every change is recorded in the operator log (`burrow admin log`).
 */
import type { Command } from 'commander';
import { issueRegistrationCode, recordOperatorAction } from '../server/accounts/registration.js';
import { createServer } from '../server/app.js';
import { loadConfig, type Config } from '../server/config.js';
import { systemClock, systemRandom } from '../server/deps.js';
import { openEmbeddedMessaging } from '../server/messages/embedded.js';
import { openEmail, type Secrets } from '../server/secrets.js';
import type { SqlStore } from '../storage/database.js';
import { openConfiguredBlobStore, openConfiguredEventBus } from '../storage/open-store.js';
import { ClientError } from '../client/index.js';
import { UsageError, type CliIo } from './io.js';
import { reportOperatorFailure } from './operator-failure.js';
import { openOperatorStore } from './reports-command.js';

interface AdminFlags {
  data?: string;
  json?: boolean;
}

const deps = { clock: systemClock, random: systemRandom };

function when(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

async function withStore<T>(io: CliIo, flags: AdminFlags, run: (store: SqlStore, secrets: Secrets | undefined, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig({ flags: flags.data === undefined ? {} : { data: flags.data }, env: io.env });
  const { store, secrets } = await openOperatorStore(config);
  try {
    return await run(store, secrets, config);
  } finally {
    await store.close();
  }
}

async function accountOrFail(store: SqlStore, accountId: string): Promise<{ id: string; disabled_at?: number | null }> {
  const account = await store.db.selectFrom('accounts').select(['id', 'disabled_at']).where('id', '=', accountId).executeTakeFirst();
  if (account === undefined) throw new ClientError('cli/not-found', `no account ${accountId} (burrow admin accounts lists them)`);
  return account;
}

/** Adds `burrow admin accounts|disable|enable|delete|code|log`. */
export function registerAdminCommand(program: Command, io: CliIo): void {
  const say = (text: string): void => {
    io.stdout.write(`${text}\n`);
  };
  const action = <A extends unknown[]>(run: (...args: A) => Promise<void>): ((...args: A) => Promise<void>) => async (...args: A) => {
    try {
      await run(...args);
    } catch (error) {
      // Commander passes the command last; its options say whether --json was given.
      const command = args.at(-1) as Command;
      reportOperatorFailure(io, command.opts(), error);
    }
  };
  const admin = program.command('admin').description("The operator's account commands: list, disable, enable and delete accounts; registration codes; the operator log.");
  const common = (command: Command) => command.option('--data <dir>', 'data directory (default ./data, or BURROW_DATA)').option('--json', 'print JSON');

  common(admin.command('accounts').description('List accounts: ids, creation time, families, whether disabled (no emails unless --show-emails).').option('--show-emails', 'also show each email (recorded in the operator log)'))
    .action(action(async (flags: AdminFlags & { showEmails?: boolean }) => {
      await withStore(io, flags, async (store, secrets) => {
        if (flags.showEmails === true && secrets === undefined) throw new ClientError('cli/secrets', 'the secrets file is not here: emails cannot be opened without it');
        const rows = await store.db.selectFrom('accounts').select(['id', 'created_at', 'disabled_at', 'email_sealed']).orderBy('created_at', 'asc').execute();
        const memberships = await store.db.selectFrom('family_members').select(['account_id']).execute();
        const families = new Map<string, number>();
        for (const m of memberships) families.set(m.account_id, (families.get(m.account_id) ?? 0) + 1);
        const accounts = rows.map((r) => ({
          accountId: r.id,
          createdAt: Number(r.created_at),
          disabled: r.disabled_at != null,
          families: families.get(r.id) ?? 0,
          ...(flags.showEmails === true && secrets !== undefined ? { email: openEmail(secrets, r.id, r.email_sealed) } : {}),
        }));
        if (flags.showEmails === true) await recordOperatorAction({ db: store.db, ...deps }, 'emails-shown', null);
        if (flags.json === true) {
          say(JSON.stringify({ total: accounts.length, disabled: accounts.filter((a) => a.disabled).length, accounts }));
          return;
        }
        say(`${accounts.length} account${accounts.length === 1 ? '' : 's'}, ${accounts.filter((a) => a.disabled).length} disabled`);
        for (const a of accounts) say(`${a.accountId}  ${when(a.createdAt)}  ${String(a.families).padStart(2)} famil${a.families === 1 ? 'y ' : 'ies'}${a.disabled ? '  disabled' : ''}${'email' in a ? `  ${a.email}` : ''}`);
      });
    }));

  common(admin.command('disable').description('Disable an account: its sessions end now and it cannot sign in until enabled again.').argument('<accountId>'))
    .action(action(async (accountId: string, flags: AdminFlags) => {
      await withStore(io, flags, async (store) => {
        await accountOrFail(store, accountId);
        await store.db.transaction().execute(async (trx) => {
          await trx.updateTable('accounts').set({ disabled_at: Date.now() }).where('id', '=', accountId).execute();
          await trx.deleteFrom('sessions').where('account_id', '=', accountId).execute();
        });
        await recordOperatorAction({ db: store.db, ...deps }, 'account-disabled', accountId);
      });
      say(flags.json === true ? JSON.stringify({ accountId, disabled: true }) : `Account ${accountId} disabled; its sessions have ended.`);
    }));

  common(admin.command('enable').description('Enable a disabled account again.').argument('<accountId>'))
    .action(action(async (accountId: string, flags: AdminFlags) => {
      await withStore(io, flags, async (store) => {
        await accountOrFail(store, accountId);
        await store.db.updateTable('accounts').set({ disabled_at: null }).where('id', '=', accountId).execute();
        await recordOperatorAction({ db: store.db, ...deps }, 'account-enabled', accountId);
      });
      say(flags.json === true ? JSON.stringify({ accountId, disabled: false }) : `Account ${accountId} enabled.`);
    }));

  common(admin.command('delete').description('Delete an account as its owner would: families it was the only member of go with it.').argument('<accountId>').requiredOption('--confirm <accountId>', 'the same account id again, to confirm'))
    .action(action(async (accountId: string, flags: AdminFlags & { confirm: string }) => {
      if (flags.confirm !== accountId) throw new UsageError('--confirm must repeat the account id');
      await withStore(io, flags, async (store, secrets, config) => {
        await accountOrFail(store, accountId);
        if (secrets === undefined) throw new ClientError('cli/secrets', 'the secrets file is not here; run this where the server runs');
        // The server's own deletion path, so blobs and purged families go exactly as they would online.
        const messaging = openEmbeddedMessaging({ config, store, blobs: openConfiguredBlobStore(config), bus: await openConfiguredEventBus(config, { now: () => Date.now() }), onSweepError: () => undefined });
        const app = createServer({ config, store, secrets, blobs: messaging.blobs, bus: messaging.bus, log: false });
        try {
          await app.ready();
          await app.operator.deleteAccount(accountId);
        } finally {
          await app.close();
          await messaging.close();
        }
        await recordOperatorAction({ db: store.db, ...deps }, 'account-deleted', accountId);
      });
      say(flags.json === true ? JSON.stringify({ accountId, deleted: true }) : `Account ${accountId} deleted.`);
    }));

  common(admin.command('code').description('Issue a one-time registration code (for BURROW_REGISTRATION=invite): shown once, stored hashed.').option('--hours <n>', 'hours it stays valid', '72'))
    .action(action(async (flags: AdminFlags & { hours: string }) => {
      const hours = Number(flags.hours);
      if (!Number.isInteger(hours) || hours < 1 || hours > 24 * 30) throw new UsageError('--hours must be a whole number from 1 to 720');
      const issued = await withStore(io, flags, async (store) => issueRegistrationCode({ db: store.db, ...deps, hours }));
      if (flags.json === true) say(JSON.stringify(issued));
      else say(`Registration code (works once, until ${when(issued.expiresAt)}):\n${issued.code}\nThe new user types it on the sign-up screen, or runs "burrow account register --code ${issued.code}".`);
    }));

  common(admin.command('log').description('What operators did: codes issued, accounts disabled, enabled, deleted, emails shown.'))
    .action(action(async (flags: AdminFlags) => {
      const rows = await withStore(io, flags, async (store) => store.db.selectFrom('operator_log').selectAll().orderBy('at', 'asc').execute());
      const entries = rows.map((r) => ({ at: Number(r.at), action: r.action, accountId: r.account_id }));
      if (flags.json === true) say(JSON.stringify({ entries }));
      else if (entries.length === 0) say('Nothing in the operator log.');
      else for (const e of entries) say(`${when(e.at)}  ${e.action}${e.accountId === null ? '' : `  ${e.accountId}`}`);
    }));
}
