/**
 * What the member commands (`family`, `child`, `send`, `inbox`, `export`) share: the signed-in
 * context from the profile, one-result printing (`--json` or human lines), failures as problems
 * on stderr with a non-zero exit, and a key store of 0600 files in the profile directory.
 */
import { chmod, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { resumeSession, ClientError, listFamilies, type ClientContext, familyStateFromJson, familyStateToJson, type FamilyState, type FamilyStateJson, type KeyStore } from '../client/index.js';
import { reportFailure } from './failure.js';
import type { CliIo } from './io.js';
import { ProfileStore, readIfExists, resolveProfileDir, writePrivateFile } from './profile.js';

export interface CommonOptions {
  profile?: string;
  json?: boolean;
  insecureHttp?: boolean;
}

const ID = /^[A-Za-z0-9_-]{22}$/;

/** Family trust anchors, keys and live cursors as 0600 JSON files under `<profile>/families/`. */
export class FileKeyStore implements KeyStore {
  readonly dir: string;

  constructor(profileDir: string) {
    this.dir = join(profileDir, 'families');
  }

  async #ensureDir(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await chmod(this.dir, 0o700);
  }

  #file(familyId: string): string {
    if (!ID.test(familyId)) throw new TypeError('familyId must be a 22-character id');
    return join(this.dir, `${familyId}.json`);
  }

  async loadFamily(familyId: string): Promise<FamilyState | undefined> {
    const text = await readIfExists(this.#file(familyId));
    if (text === undefined) return undefined;
    try {
      return familyStateFromJson(JSON.parse(text) as FamilyStateJson);
    } catch {
      throw new ClientError('cli/damaged-profile', `the family file ${this.#file(familyId)} is damaged`);
    }
  }

  async saveFamily(state: FamilyState): Promise<void> {
    await this.#ensureDir();
    await writePrivateFile(this.#file(state.familyId), `${JSON.stringify(familyStateToJson(state))}\n`);
  }

  async forgetFamily(familyId: string): Promise<void> {
    await rm(this.#file(familyId), { force: true });
  }

  async listFamilies(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((name) => /^[A-Za-z0-9_-]{22}\.json$/.test(name)).map((name) => name.slice(0, 22));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  async loadCursors(): Promise<Record<string, string>> {
    const text = await readIfExists(join(this.dir, 'cursors.json'));
    if (text === undefined) return {};
    try {
      const parsed = JSON.parse(text) as unknown;
      if (typeof parsed !== 'object' || parsed === null) return {};
      return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => ID.test(e[0]) && typeof e[1] === 'string'));
    } catch {
      return {};
    }
  }

  async saveCursors(cursors: Record<string, string>): Promise<void> {
    await this.#ensureDir();
    await writePrivateFile(join(this.dir, 'cursors.json'), `${JSON.stringify(cursors)}\n`);
  }
}

/** The member commands' helpers, bound to the command's {@link CliIo}. */
export interface MemberCli {
  /** The user's opt-in to plain http beyond loopback: `--insecure-http` or BURROW_INSECURE_HTTP=1. */
  insecureHttpOf(options: CommonOptions): { allowInsecureHttp?: true };
  /** The signed-in context of the profile: API client, identity and key store. */
  memberContext(options: CommonOptions): Promise<ClientContext & { profileDir: string }>;
  /** Prints the command's one result: a JSON object with `--json`, else the human lines. */
  printResult(options: CommonOptions, json: Record<string, unknown>, human: string[]): void;
  /** A progress line on stderr (never under --json, where stderr is for the problem only). */
  progress(options: CommonOptions, line: string): void;
  /** Runs a command body, turning any failure into a problem on stderr and a non-zero exit code. */
  action<A extends unknown[]>(body: (...args: A) => Promise<void>): (...args: A) => Promise<void>;
}

/** The member commands' helpers writing to `io`. */
export function memberCli(io: CliIo): MemberCli {
  const insecureHttpOf = (options: CommonOptions): { allowInsecureHttp?: true } =>
    options.insecureHttp === true || io.env.BURROW_INSECURE_HTTP === '1' ? { allowInsecureHttp: true } : {};
  return {
    insecureHttpOf,
    async memberContext(options) {
      const profileDir = resolveProfileDir(options.profile, io.env);
      const { api, identity, session } = await resumeSession(new ProfileStore(profileDir), insecureHttpOf(options));
      return { api, me: { accountId: session.accountId, identity }, store: new FileKeyStore(profileDir), profileDir };
    },
    printResult(options, json, human) {
      if (options.json) io.stdout.write(`${JSON.stringify(json)}\n`);
      else io.stdout.write(`${human.join('\n')}\n`);
    },
    progress(options, line) {
      if (!options.json) io.stderr.write(`${line}\n`);
    },
    action<A extends unknown[]>(body: (...args: A) => Promise<void>) {
      return async (...args: A) => {
        const options = (args.find((a) => typeof a === 'object' && a !== null && !Array.isArray(a) && !('commands' in a)) ?? {}) as CommonOptions;
        try {
          await body(...args);
        } catch (error) {
          reportFailure(io, options, error);
        }
      };
    },
  };
}

/** Adds --profile and --json. */
export function withCommonOptions(command: Command): Command {
  return command
    .option('--profile <dir>', 'profile directory (default: $BURROW_PROFILE, else $XDG_CONFIG_HOME/burrow/profile or ~/.config/burrow/profile)')
    .option('--json', 'print exactly one JSON object on stdout (--follow: one per line); errors as a JSON problem on stderr')
    .option('--insecure-http', 'allow plain http to a server beyond this machine (tokens cross the network in clear; default: refused)');
}

/** Collects a repeatable option into an array. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Parses a positive integer option, naming the flag on error. */
export function integerOption(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]+$/.test(value) || Number(value) < min || Number(value) > max) throw new ClientError('cli/bad-input', `${flag} must be a whole number from ${min} to ${max}`);
  return Number(value);
}

/** The family to act on: --family, else the account's only family. */
export async function resolveFamilyId(ctx: ClientContext, family: string | undefined): Promise<string> {
  if (family !== undefined) {
    if (!ID.test(family)) throw new ClientError('cli/bad-input', '--family must be a family id (22 characters; see "burrow family list")');
    return family;
  }
  const families = await listFamilies(ctx);
  if (families.length === 1) return families[0]!.familyId;
  throw new ClientError('cli/missing-option', families.length === 0 ? 'you are in no family yet' : '--family is required: you are in several families (see "burrow family list")');
}
