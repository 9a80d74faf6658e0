/**
 * The reference toy's state directory (0700, every file 0600, written through a temporary file and
 * a rename). Everything in it is secret:
 *
 *   toy.json        server URL, toy id, family id, the roster head hash pairing anchored at, device token
 *   identity.key    the toy's private keys (exportIdentitySecret, base64url)
 *   trust.json      the paired head hash, the verified roster chain (stored at pairing, only ever
 *                   extended) and its child's scope keys by generation
 *   inbox.json      what the toy knows of each message (played, refused with a reason, waiting),
 *                   with when the toy first saw it and its signed createdAt: each id is kept until
 *                   the longest signed retention has passed, so a replayed message never plays twice
 *   messages/       verified envelopes, kept for offline play until the signed retention ends
 *   outbox/         queued replies: <seq>-<messageId>.json, sent in order
 *   cursors.json    the live channel's cursors
 *   presses/        button presses from `burrow toy press`, consumed by `burrow toy run`
 */
import { chmod, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fromBase64Url, randomBytes, toBase64Url, toHex, exportIdentitySecret, importIdentitySecret, type Identity } from '../crypto/index.js';
import { ClientError, type EnvelopeWriter, type InboxRecord, type OutboxItem, type ToyStorage, type ScopeKeys, type ToyTrust } from '../client/index.js';
import { readIfExists, writePrivateFile } from './private-files.js';

const ID = /^[A-Za-z0-9_-]{22}$/;
/** Characters of an envelope file read at once (a multiple of 4: whole base64 groups). */
const READ_CHARS = 64 * 1024;

/** toy.json */
export interface ToyConfig {
  /** 2: anchored at the guardian's roster head (`anchorHash`), not at the genesis. */
  version: 2;
  serverUrl: string;
  toyId: string;
  familyId: string;
  anchorHash: string;
  deviceToken: string;
}

export class ToyStateError extends ClientError {
  constructor(message: string) {
    super('toy/state', message);
    this.name = 'ToyStateError';
  }
}

async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await stat(dir);
  if ((info.mode & 0o077) !== 0) await chmod(dir, 0o700);
}

function parse<T>(text: string | undefined, file: string): T | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ToyStateError(`the toy's state file ${file} is damaged`);
  }
}

/** The state directory of one toy. */
export class ToyStateDir implements ToyStorage {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  get pressDir(): string {
    return join(this.dir, 'presses');
  }

  async ensure(): Promise<void> {
    await ensureDir(this.dir);
  }

  async #write(name: string, value: unknown): Promise<void> {
    await ensureDir(this.dir);
    await writePrivateFile(join(this.dir, name), `${JSON.stringify(value)}\n`);
  }

  async loadConfig(): Promise<ToyConfig | undefined> {
    const config = parse<ToyConfig>(await readIfExists(join(this.dir, 'toy.json')), 'toy.json');
    if (config === undefined) return undefined;
    if (config.version !== 2 || typeof config.anchorHash !== 'string' || !ID.test(config.toyId) || !ID.test(config.familyId) || typeof config.deviceToken !== 'string' || typeof config.serverUrl !== 'string') {
      throw new ToyStateError("the toy's state file toy.json is damaged");
    }
    return config;
  }

  /** The paired toy's configuration and identity, or a clear error when it is not paired. */
  async loadPaired(): Promise<{ config: ToyConfig; identity: Identity }> {
    const config = await this.loadConfig();
    const secret = await readIfExists(join(this.dir, 'identity.key'));
    if (config === undefined || secret === undefined) throw new ToyStateError(`no paired toy in ${this.dir}: run "burrow toy pair --server URL --state ${this.dir}" first`);
    let identity: Identity;
    try {
      identity = await importIdentitySecret(fromBase64Url(secret.trim()));
    } catch {
      throw new ToyStateError("the toy's identity.key is damaged");
    }
    return { config, identity };
  }

  async savePaired(config: ToyConfig, identity: Identity): Promise<void> {
    await ensureDir(this.dir);
    await writePrivateFile(join(this.dir, 'identity.key'), `${toBase64Url(await exportIdentitySecret(identity))}\n`);
    await this.#write('toy.json', config);
  }

  async loadTrust(): Promise<ToyTrust | undefined> {
    const json = parse<{ anchorHash: string; chain?: string[]; keys: Record<string, string> }>(await readIfExists(join(this.dir, 'trust.json')), 'trust.json');
    if (json === undefined) return undefined;
    if (typeof json.anchorHash !== 'string') throw new ToyStateError("the toy's state file trust.json is damaged");
    const keys: ScopeKeys = {};
    for (const [id, key] of Object.entries(json.keys)) keys[id] = fromBase64Url(key);
    return { anchorHash: fromBase64Url(json.anchorHash), keys, ...(json.chain === undefined ? {} : { chain: json.chain.map(fromBase64Url) }) };
  }

  async saveTrust(trust: ToyTrust): Promise<void> {
    const keys: Record<string, string> = {};
    for (const [id, key] of Object.entries(trust.keys)) keys[id] = toBase64Url(key);
    await this.#write('trust.json', { anchorHash: toBase64Url(trust.anchorHash), keys, ...(trust.chain === undefined ? {} : { chain: trust.chain.map(toBase64Url) }) });
  }

  async loadInbox(): Promise<Record<string, InboxRecord>> {
    return parse<Record<string, InboxRecord>>(await readIfExists(join(this.dir, 'inbox.json')), 'inbox.json') ?? {};
  }

  async saveInbox(inbox: Record<string, InboxRecord>): Promise<void> {
    await this.#write('inbox.json', inbox);
  }

  #envelopeFile(messageId: string): string {
    if (!ID.test(messageId)) throw new TypeError('messageId must be a 22-character id');
    return join(this.dir, 'messages', `${messageId}.env`);
  }

  async saveEnvelope(messageId: string, envelope: Uint8Array): Promise<void> {
    await ensureDir(join(this.dir, 'messages'));
    await writePrivateFile(this.#envelopeFile(messageId), toBase64Url(envelope));
  }

  async loadEnvelope(messageId: string): Promise<Uint8Array | undefined> {
    const text = await readIfExists(this.#envelopeFile(messageId));
    return text === undefined ? undefined : fromBase64Url(text.trim());
  }

  /**
   * Writes an envelope as it downloads, in the same file format as `saveEnvelope` (base64url),
   * through a 0600 temporary file renamed on `commit`: what is held is one piece at a time.
   */
  async envelopeWriter(messageId: string): Promise<EnvelopeWriter> {
    const file = this.#envelopeFile(messageId);
    await ensureDir(join(this.dir, 'messages'));
    await this.#removePartials(messageId);
    const temporary = `${file}.${toHex(randomBytes(6))}.tmp`;
    const handle = await open(temporary, 'wx', 0o600);
    // Base64 encodes 3 bytes at a time: up to 2 bytes wait for the next piece.
    let rest = new Uint8Array(0);
    let open_ = true;
    const close = async (): Promise<void> => {
      if (!open_) return;
      open_ = false;
      await handle.close();
    };
    return {
      async write(piece) {
        if (!open_) throw new TypeError('the envelope writer is closed');
        let bytes = piece;
        if (rest.length > 0) {
          const need = Math.min(3 - rest.length, bytes.length);
          const joined = new Uint8Array(rest.length + need);
          joined.set(rest);
          joined.set(bytes.subarray(0, need), rest.length);
          bytes = bytes.subarray(need);
          if (joined.length < 3) {
            rest = joined;
            return;
          }
          await handle.write(toBase64Url(joined));
        }
        const whole = bytes.length - (bytes.length % 3);
        if (whole > 0) await handle.write(toBase64Url(bytes.subarray(0, whole)));
        rest = bytes.slice(whole);
      },
      async commit() {
        if (rest.length > 0) await handle.write(toBase64Url(rest));
        await handle.sync();
        await close();
        await chmod(temporary, 0o600);
        await rename(temporary, file);
      },
      async discard() {
        await close().catch(() => undefined);
        await rm(temporary, { force: true });
      },
    };
  }

  /** The stored envelope piece by piece (48 KiB at a time), or undefined when none is stored. */
  async readEnvelope(messageId: string): Promise<AsyncIterable<Uint8Array> | undefined> {
    const file = this.#envelopeFile(messageId);
    try {
      await stat(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    return {
      async *[Symbol.asyncIterator]() {
        const handle = await open(file, 'r');
        try {
          const buffer = Buffer.alloc(READ_CHARS);
          let carry = '';
          for (;;) {
            const { bytesRead } = await handle.read(buffer, 0, READ_CHARS, null);
            if (bytesRead === 0) break;
            const text = carry + buffer.toString('latin1', 0, bytesRead);
            const whole = text.length - (text.length % 4);
            carry = text.slice(whole);
            if (whole > 0) yield fromBase64Url(text.slice(0, whole));
          }
          carry = carry.trim();
          if (carry.length > 0) yield fromBase64Url(carry);
        } finally {
          await handle.close();
        }
      },
    };
  }

  async deleteEnvelope(messageId: string): Promise<void> {
    await rm(this.#envelopeFile(messageId), { force: true });
    await this.#removePartials(messageId);
  }

  /** Removes what an envelope writer of `messageId` left when the toy stopped mid-download. */
  async #removePartials(messageId: string): Promise<void> {
    const dir = join(this.dir, 'messages');
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const name of names) if (name.startsWith(`${messageId}.env.`) && name.endsWith('.tmp')) await rm(join(dir, name), { force: true });
  }

  async loadOutbox(): Promise<OutboxItem[]> {
    const dir = join(this.dir, 'outbox');
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const items: OutboxItem[] = [];
    for (const name of names.filter((n) => /^\d{10}-[A-Za-z0-9_-]{22}\.json$/.test(n)).sort()) {
      const json = parse<Omit<OutboxItem, 'audio' | 'envelope'> & { audio: string; envelope?: string }>(await readIfExists(join(dir, name)), `outbox/${name}`);
      if (json === undefined) continue;
      items.push({ ...json, audio: fromBase64Url(json.audio), ...(json.envelope === undefined ? {} : { envelope: fromBase64Url(json.envelope) }) } as OutboxItem);
    }
    return items.sort((a, b) => a.seq - b.seq);
  }

  async putOutbox(item: OutboxItem): Promise<void> {
    const dir = join(this.dir, 'outbox');
    await ensureDir(dir);
    const { audio, envelope, ...rest } = item;
    await writePrivateFile(join(dir, `${String(item.seq).padStart(10, '0')}-${item.messageId}.json`), `${JSON.stringify({ ...rest, audio: toBase64Url(audio), ...(envelope === undefined ? {} : { envelope: toBase64Url(envelope) }) })}\n`);
  }

  async removeOutbox(messageId: string): Promise<void> {
    const dir = join(this.dir, 'outbox');
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const name of names) if (name.endsWith(`-${messageId}.json`)) await rm(join(dir, name), { force: true });
  }

  async loadCursors(): Promise<Record<string, string>> {
    const parsed = parse<Record<string, unknown>>(await readIfExists(join(this.dir, 'cursors.json')), 'cursors.json') ?? {};
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => ID.test(e[0]) && typeof e[1] === 'string'));
  }

  async saveCursors(cursors: Record<string, string>): Promise<void> {
    await this.#write('cursors.json', cursors);
  }

  /** Records a button press for a running `burrow toy run` to pick up. */
  async press(): Promise<void> {
    await ensureDir(this.pressDir);
    await writePrivateFile(join(this.pressDir, `${Date.now()}-${toHex(randomBytes(4))}.press`), '1\n');
  }

  /** Takes the pending presses (oldest first), removing them. */
  async takePresses(): Promise<number> {
    let names: string[];
    try {
      names = (await readdir(this.pressDir)).filter((n) => n.endsWith('.press')).sort();
    } catch {
      return 0;
    }
    for (const name of names) await rm(join(this.pressDir, name), { force: true });
    return names.length;
  }

  /** A private scratch directory inside the state directory (audio to play or just recorded). */
  async scratch(): Promise<string> {
    const dir = join(this.dir, 'scratch');
    await ensureDir(dir);
    return dir;
  }

  /** Forgets everything: keys, messages, queue, token. */
  async wipe(): Promise<void> {
    for (const name of ['toy.json', 'identity.key', 'trust.json', 'inbox.json', 'cursors.json', 'messages', 'outbox', 'presses', 'scratch']) {
      await rm(join(this.dir, name), { recursive: true, force: true });
    }
  }
}
