/**
 * `burrow account …`: register, sign in and out, recover, list and end sessions, delete the
 * account. A thin shell over the client library; the session and identity live in a profile
 * directory (see profile.ts). Never prints a password, token, recovery proof or private key.
 */
import { Option, type Command } from 'commander';
import { deleteAccount, listSessions, loginAccount, logout, recoverAccount, registerAccount, resumeSession, revokeAllSessions, revokeSession, type AccountSession, BurrowApi, ClientError } from '../client/index.js';
import { reportFailure } from './failure.js';
import type { CliIo } from './io.js';
import { askVisible, readPassword, readSecret, withPasswordOptions, type PasswordOptions } from './prompt.js';
import { ProfileStore, resolveProfileDir } from './profile.js';

const DEFAULT_LABEL = 'burrow CLI';

interface CommonOptions {
  profile?: string;
  json?: boolean;
  insecureHttp?: boolean;
}

/** The user's opt-in to plain http beyond loopback: `--insecure-http` or BURROW_INSECURE_HTTP=1. */
function insecureHttp(io: CliIo, options: CommonOptions): { allowInsecureHttp?: true } {
  return options.insecureHttp === true || io.env.BURROW_INSECURE_HTTP === '1' ? { allowInsecureHttp: true } : {};
}

interface ServerOptions extends CommonOptions {
  server?: string;
  email?: string;
  label?: string;
}

/** Prints the command's one result: a JSON object with `--json`, else the human lines. */
function printResult(io: CliIo, options: CommonOptions, json: Record<string, unknown>, human: string[]): void {
  if (options.json) io.stdout.write(`${JSON.stringify(json)}\n`);
  else io.stdout.write(`${human.join('\n')}\n`);
}

/** Runs a command body, turning any failure into stderr output and a non-zero exit code. */
function action<O extends CommonOptions>(io: CliIo, body: (options: O) => Promise<void>): (options: O) => Promise<void> {
  return async (options: O) => {
    try {
      await body(options);
    } catch (error) {
      reportFailure(io, options, error);
    }
  };
}

function requireOption(value: string | undefined, flag: string): string {
  if (value === undefined || value.trim() === '') throw new ClientError('cli/missing-option', `${flag} is required`);
  return value.trim();
}

function serverUrl(io: CliIo, options: ServerOptions): string {
  return requireOption(options.server ?? io.env.BURROW_SERVER, '--server (or BURROW_SERVER)');
}

/** The profile store, refusing to overwrite a profile that is already signed in. */
async function emptyProfile(io: CliIo, options: CommonOptions): Promise<ProfileStore> {
  const store = new ProfileStore(resolveProfileDir(options.profile, io.env));
  const existing = await store.load();
  if (existing !== undefined) {
    throw new ClientError('cli/profile-in-use', `the profile at ${store.dir} is already signed in; run "burrow account logout" first or pass another --profile`);
  }
  return store;
}

async function sessionSummary(session: AccountSession, profileDir: string): Promise<Record<string, unknown>> {
  return {
    server: session.serverUrl,
    accountId: session.accountId,
    sessionId: session.sessionId,
    identity: session.identity,
    profile: profileDir,
  };
}

function summaryLines(summary: Record<string, unknown>): string[] {
  return [
    `Account:     ${String(summary.accountId)}`,
    `Server:      ${String(summary.server)}`,
    `Profile:     ${String(summary.profile)}`,
  ];
}

function withCommonOptions(command: Command): Command {
  return command
    .option('--profile <dir>', 'profile directory (default: $BURROW_PROFILE, else $XDG_CONFIG_HOME/burrow/profile or ~/.config/burrow/profile)')
    .option('--json', 'print exactly one JSON object on stdout; errors as a JSON problem on stderr')
    .option('--insecure-http', 'allow plain http to a server beyond this machine (tokens cross the network in clear; default: refused)');
}

function withServerOptions(command: Command, emailRequired: boolean): Command {
  return withCommonOptions(command)
    .option('--server <url>', 'the Burrow server, such as https://burrow.example (default: $BURROW_SERVER)')
    .addOption(new Option('--email <address>', `the account's email address${emailRequired ? ' (required)' : ''}`))
    .option('--label <text>', 'how this session appears in your sessions list', DEFAULT_LABEL);
}

const registerHelp = `
The password is asked for twice without echo, or read (for scripts) from --password-file FILE,
--password-stdin or BURROW_PASSWORD; one trailing newline of a file or stdin is ignored.
It must have at least 10 characters and be hard to guess; a few unrelated words work well.
A recovery code is printed once: write it down and keep it somewhere safe. It is the only
way back into the account if the password is forgotten.

Examples:
  $ burrow account register --server https://burrow.example --email ada@example.org
  $ burrow account register --server http://127.0.0.1:8080 --email ada@example.org --profile ./ada --password-file ./ada.pw --json`;

const loginHelp = `
The password is asked for without echo, or read from --password-file FILE, --password-stdin or
BURROW_PASSWORD. An unknown email and a wrong password give the same answer.

Examples:
  $ burrow account login --server https://burrow.example --email ada@example.org
  $ BURROW_PROFILE=~/.burrow-laptop burrow account login --server https://burrow.example --email ada@example.org --json`;

const recoverHelp = `
Sets a new password using the recovery code shown at registration. The code is asked for on the
terminal, or read from BURROW_RECOVERY_CODE; the new password is asked for twice, or read from
--password-file, --password-stdin or BURROW_PASSWORD. Every other session of the account ends,
and a NEW recovery code is printed once (the old one no longer works). The account's identity
keys stay the same.

Example:
  $ burrow account recover --server https://burrow.example --email ada@example.org`;

/** Adds `burrow account …` to the program. */
export function registerAccountCommands(program: Command, io: CliIo): void {
  const account = program
    .command('account')
    .description('register, sign in and manage your Burrow account')
    .addHelpText(
      'after',
      `
The session and your identity's private keys are kept in a profile directory (0700, files
0600): --profile DIR, else $BURROW_PROFILE, else ~/.config/burrow/profile.

Examples:
  $ burrow account register --server https://burrow.example --email ada@example.org
  $ burrow account sessions
  $ burrow account logout`,
    );

  withPasswordOptions(withServerOptions(account.command('register').description('create an account and sign in'), true))
    .option('--code <code>', "a registration code from the server's operator (servers that take invited people only)")
    .addHelpText('after', registerHelp)
    .action(
      action(io, async (options: ServerOptions & PasswordOptions & { code?: string }) => {
        const server = serverUrl(io, options);
        const email = requireOption(options.email, '--email');
        const store = await emptyProfile(io, options);
        const password = await readPassword(io, options, { question: 'New password: ', confirm: true });
        const api = new BurrowApi({ baseUrl: server, ...insecureHttp(io, options) });
        const registration = await registerAccount({ api, email, password, sessionLabel: options.label ?? DEFAULT_LABEL, store, ...(options.code === undefined ? {} : { registrationPass: options.code }) });
        const summary = await sessionSummary(registration.session, store.dir);
        printResult(io, options, { ...summary, recoveryCode: registration.recoveryCode }, [
          'Account created; this profile is signed in.',
          ...summaryLines(summary),
          '',
          `Recovery code: ${registration.recoveryCode}`,
          '',
          'Write this recovery code down now and keep it somewhere safe. It is shown only this once,',
          'and it is the only way back into your account if you forget your password.',
        ]);
      }),
    );

  withPasswordOptions(withServerOptions(account.command('login').description('sign in and restore your identity'), true))
    .addHelpText('after', loginHelp)
    .action(
      action(io, async (options: ServerOptions & PasswordOptions) => {
        const server = serverUrl(io, options);
        const email = requireOption(options.email, '--email');
        const store = await emptyProfile(io, options);
        const password = await readPassword(io, options, { question: 'Password: ' });
        const api = new BurrowApi({ baseUrl: server, ...insecureHttp(io, options) });
        const { session } = await loginAccount({ api, email, password, sessionLabel: options.label ?? DEFAULT_LABEL, store });
        const summary = await sessionSummary(session, store.dir);
        printResult(io, options, summary, ['Signed in.', ...summaryLines(summary)]);
      }),
    );

  withPasswordOptions(withServerOptions(account.command('recover').description('set a new password with your recovery code'), true))
    .addHelpText('after', recoverHelp)
    .action(
      action(io, async (options: ServerOptions & PasswordOptions) => {
        const server = serverUrl(io, options);
        const email = requireOption(options.email, '--email');
        const store = await emptyProfile(io, options);
        const recoveryCode = await readSecret(io, { envName: 'BURROW_RECOVERY_CODE', question: 'Recovery code: ' });
        const newPassword = await readPassword(io, options, { question: 'New password: ', confirm: true });
        const api = new BurrowApi({ baseUrl: server, ...insecureHttp(io, options) });
        const recovered = await recoverAccount({ api, email, recoveryCode, newPassword, sessionLabel: options.label ?? DEFAULT_LABEL, store });
        const summary = await sessionSummary(recovered.session, store.dir);
        printResult(io, options, { ...summary, recoveryCode: recovered.recoveryCode }, [
          'New password set; every other session has ended; this profile is signed in.',
          ...summaryLines(summary),
          '',
          `New recovery code: ${recovered.recoveryCode}`,
          '',
          'Write this new recovery code down now; the old one no longer works. It is shown only this once.',
        ]);
      }),
    );

  withCommonOptions(account.command('status').description("show this profile's account and server"))
    .action(
      action(io, async (options: CommonOptions) => {
        const store = new ProfileStore(resolveProfileDir(options.profile, io.env));
        const { api, session } = await resumeSession(store, insecureHttp(io, options));
        const me = await api.me();
        const summary = { ...(await sessionSummary(session, store.dir)), createdAt: me.createdAt };
        printResult(io, options, summary, ['Signed in.', ...summaryLines(summary)]);
      }),
    );

  withCommonOptions(account.command('logout').description('end this session and forget it'))
    .addHelpText('after', '\nEnds the session on the server and deletes the session and identity files from the profile.\n\nExample:\n  $ burrow account logout')
    .action(
      action(io, async (options: CommonOptions) => {
        const store = new ProfileStore(resolveProfileDir(options.profile, io.env));
        const { api, session } = await resumeSession(store, insecureHttp(io, options));
        await logout({ api, store });
        printResult(io, options, { loggedOut: true, accountId: session.accountId, profile: store.dir }, ['Signed out; the profile no longer holds the session or the identity.']);
      }),
    );

  withCommonOptions(account.command('delete').description('delete your account and everything the server holds for it'))
    .option('--yes', 'do not ask for confirmation (for scripts)')
    .addHelpText('after', '\nThis cannot be undone. Without --yes you are asked to type "delete my account".\n\nExample:\n  $ burrow account delete')
    .action(
      action(io, async (options: CommonOptions & { yes?: boolean }) => {
        const store = new ProfileStore(resolveProfileDir(options.profile, io.env));
        const { api, session } = await resumeSession(store, insecureHttp(io, options));
        if (!options.yes) {
          let answer: string;
          try {
            answer = await askVisible(io, 'This deletes the account and cannot be undone. Type "delete my account" to confirm: ');
          } catch {
            throw new ClientError('cli/not-confirmed', 'no terminal to confirm on: pass --yes to delete without asking');
          }
          if (answer.trim() !== 'delete my account') throw new ClientError('cli/not-confirmed', 'not confirmed; nothing was deleted');
        }
        await deleteAccount({ api, store });
        printResult(io, options, { deleted: true, accountId: session.accountId }, ['The account has been deleted.']);
      }),
    );

  withCommonOptions(account.command('sessions').description('list your sessions, or end some of them'))
    .option('--revoke <sessionId>', 'end the session with this id')
    .option('--revoke-all', 'end every session of the account, this one included (the profile is then signed out)')
    .addHelpText('after', '\nExamples:\n  $ burrow account sessions\n  $ burrow account sessions --revoke 3mJr7AoUXx2Wqd4vvcyQ5A\n  $ burrow account sessions --revoke-all --json')
    .action(
      action(io, async (options: CommonOptions & { revoke?: string; revokeAll?: boolean }) => {
        const store = new ProfileStore(resolveProfileDir(options.profile, io.env));
        const { api, session } = await resumeSession(store, insecureHttp(io, options));
        if (options.revoke !== undefined) {
          await revokeSession(api, options.revoke);
          if (options.revoke === session.sessionId) await store.clear();
          printResult(io, options, { revoked: [options.revoke] }, [`Session ${options.revoke} has ended.`]);
          return;
        }
        if (options.revokeAll) {
          await revokeAllSessions(api);
          await store.clear();
          printResult(io, options, { revokedAll: true }, ['Every session has ended, this one included; the profile is signed out.']);
          return;
        }
        const sessions = await listSessions(api);
        printResult(
          io,
          options,
          { sessions },
          sessions.length === 0
            ? ['No sessions.']
            : sessions.map(
                (s) => `${s.current ? '*' : ' '} ${s.sessionId}  ${s.label}  since ${new Date(s.createdAt).toISOString()}  last seen ${new Date(s.lastSeenAt).toISOString()}`,
              ),
        );
      }),
    );
}
