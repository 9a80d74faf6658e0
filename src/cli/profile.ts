/**
 * The CLI's profile directory: the signed-in session and the account's identity secret, in a
 * 0700 directory of 0600 files. Implements the client library's `SessionStore`.
 */
import { chmod, mkdir, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { Type } from '@sinclair/typebox';
import { fromBase64Url, toBase64Url } from '../crypto/index.js';
import type { SessionStore, StoredSession } from '../client/index.js';
import { PublicIdentity } from '../protocol/common.js';
import { readIfExists, writePrivateFile } from '../toy/private-files.js';

const SESSION_FILE = 'session.json';
const IDENTITY_FILE = 'identity.key';

/** The session file's shape: everything but the identity secret, which has a file of its own. */
const SessionFile = Type.Object({
  version: Type.Literal(1),
  serverUrl: Type.String(),
  accountId: Type.String(),
  sessionId: Type.String(),
  token: Type.Optional(Type.String()),
  identity: PublicIdentity,
});

/**
 * The profile directory to use: `--profile`, else `BURROW_PROFILE`, else
 * `$XDG_CONFIG_HOME/burrow/profile`, else `~/.config/burrow/profile`.
 */
export function resolveProfileDir(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag !== undefined && flag !== '') return resolve(flag);
  if (env.BURROW_PROFILE) return resolve(env.BURROW_PROFILE);
  // HOME from the command's environment first, as os.homedir() reads it from the process's.
  const config = env.XDG_CONFIG_HOME ? env.XDG_CONFIG_HOME : join(env.HOME ? env.HOME : homedir(), '.config');
  return join(resolve(config), 'burrow', 'profile');
}

export { readIfExists, writePrivateFile };

/** A profile directory on disk. */
export class ProfileStore implements SessionStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  async load(): Promise<StoredSession | undefined> {
    const sessionText = await readIfExists(join(this.dir, SESSION_FILE));
    const identityText = await readIfExists(join(this.dir, IDENTITY_FILE));
    if (sessionText === undefined || identityText === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(sessionText);
    } catch {
      throw new Error(`the profile at ${this.dir} is damaged (${SESSION_FILE} is not JSON)`);
    }
    if (!Value.Check(SessionFile, parsed)) throw new Error(`the profile at ${this.dir} is damaged (${SESSION_FILE} has the wrong shape)`);
    let identitySecret: Uint8Array;
    try {
      identitySecret = fromBase64Url(identityText.trim());
    } catch {
      throw new Error(`the profile at ${this.dir} is damaged (${IDENTITY_FILE} is not base64url)`);
    }
    const { version: _version, ...session } = parsed;
    return { ...session, identitySecret };
  }

  async save(session: StoredSession): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const info = await stat(this.dir);
    if ((info.mode & 0o077) !== 0) await chmod(this.dir, 0o700);
    const file = {
      version: 1 as const,
      serverUrl: session.serverUrl,
      accountId: session.accountId,
      sessionId: session.sessionId,
      ...(session.token === undefined ? {} : { token: session.token }),
      identity: session.identity,
    };
    await writePrivateFile(join(this.dir, IDENTITY_FILE), `${toBase64Url(session.identitySecret)}\n`);
    await writePrivateFile(join(this.dir, SESSION_FILE), `${JSON.stringify(file, null, 2)}\n`);
  }

  async clear(): Promise<void> {
    await rm(join(this.dir, SESSION_FILE), { force: true });
    await rm(join(this.dir, IDENTITY_FILE), { force: true });
  }
}
