/**
 * `burrow canary create|list`: the operator plants decoy accounts, families and message blobs on
 * the server machine. Decoys go through the real code paths (an in-process server on loopback and
 * the client library: OPAQUE registration, a signed genesis roster, a wrapped family key, sealed
 * names, sealed envelopes), so nothing in the database sets them apart. Which records are decoys
 * is kept only in `<data>/canaries.json`, as keyed hashes.
 */
import type { AddressInfo } from 'node:net';
import type { Command } from 'commander';
import { registerAccount, BurrowApi, addChild, createFamily, type ClientContext, MemoryKeyStore, sendMessage } from '../client/index.js';
import { randomBytes, toBase64Url } from '../crypto/index.js';
import { createServer } from '../server/app.js';
import { appendCanaryRegistry, canaryKey, canaryTag, openCanaryEmail, readCanaryRegistry, sealCanaryEmail, type CanaryEntry, type CanaryKind } from '../server/canaries/registry.js';
import { loadConfig, type Config } from '../server/config.js';
import { emailLookupHash, ensureDataDir, loadOrCreateSecrets, normaliseEmail, type Secrets } from '../server/secrets.js';
import { openConfiguredBlobStore, openConfiguredEventBus, openConfiguredSqlStore } from '../storage/open-store.js';
import type { SqlStore } from '../storage/database.js';
import { UsageError, type CliIo } from './io.js';
import { reportOperatorFailure } from './operator-failure.js';
import { WAV_PCM16, wavOfPcm16 } from '../protocol/audio-formats.js';

interface CanaryFlags {
  data?: string;
  json?: boolean;
}

interface CreateFlags extends CanaryFlags {
  accounts?: string;
  families?: string;
  blobs?: string;
  domain?: string;
}

const FIRST = ['anna', 'ben', 'clara', 'david', 'emma', 'felix', 'grace', 'hugo', 'iris', 'jonas', 'katie', 'liam', 'maya', 'noah', 'olivia', 'paul', 'rosa', 'sam', 'tara', 'will'];
const LAST = ['adams', 'baker', 'carter', 'dawson', 'ellis', 'fisher', 'gray', 'hughes', 'irving', 'jones', 'keller', 'lopez', 'morgan', 'novak', 'owens', 'price', 'reed', 'shaw', 'turner', 'walsh'];
const CHILD = ['Mia', 'Leo', 'Ava', 'Max', 'Ella', 'Finn', 'Lily', 'Theo', 'Zoe', 'Oscar'];
const EMOJI = ['🦊', '🐢', '🐰', '🦉', '🐻', '🐼', '🦁', '🐸'];
const WORDS = ['amber', 'birch', 'cobalt', 'dune', 'ember', 'fjord', 'garnet', 'heron', 'indigo', 'juniper', 'kestrel', 'lagoon', 'meadow', 'nectar', 'orchid', 'pebble', 'quartz', 'rowan', 'saffron', 'thistle'];

/** A uniformly random index below `n` (rejection sampling, no modulo bias). */
function randomIndex(n: number): number {
  const limit = Math.floor(256 / n) * n;
  for (;;) {
    const byte = randomBytes(1)[0] ?? 0;
    if (byte < limit) return byte % n;
  }
}

function pick<T>(list: readonly T[]): T {
  return list[randomIndex(list.length)] as T;
}

function randomDigits(count: number): string {
  let out = '';
  for (let i = 0; i < count; i++) out += String(randomIndex(10));
  return out;
}

/** A plausible address: first.last plus 0-4 digits at the given domain. */
export function decoyEmail(domain: string): { email: string; last: string } {
  const last = pick(LAST);
  return { email: `${pick(FIRST)}.${last}${randomDigits(randomIndex(5))}@${domain}`, last };
}

/** A strong random password that is never stored: four words and 96 random bits. */
function decoyPassword(): string {
  return `${pick(WORDS)} ${pick(WORDS)} ${pick(WORDS)} ${pick(WORDS)} ${toBase64Url(randomBytes(12))}`;
}

function count(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,3}$/.test(value)) throw new UsageError(`--${name} must be a whole number from 0 to 999`);
  return Number(value);
}

async function openStore(config: Config): Promise<SqlStore> {
  return openConfiguredSqlStore(config);
}

async function loadSecrets(config: Config): Promise<Secrets> {
  return (await loadOrCreateSecrets({ dataDir: config.dataDir, ...(config.secretsFromEnvironment === undefined ? {} : { fromEnvironment: config.secretsFromEnvironment }) })).secrets;
}

/** Plants decoys through an in-process server on loopback; answers the registry entries. */
async function plant(config: Config, secrets: Secrets, wanted: { accounts: number; families: number; blobs: number; domain: string }): Promise<{ entries: CanaryEntry[]; messages: number }> {
  const store = await openStore(config);
  const blobs = openConfiguredBlobStore(config);
  const bus = await openConfiguredEventBus(config, { now: () => Date.now() });
  // Only this process talks to this server, so its per-address limits would just slow planting.
  const roomy = { max: 1_000_000, windowMs: 60_000 };
  const plantConfig: Config = { ...config, rateLimits: { ...config.rateLimits, globalPerIp: roomy, anonymousPerIp: roomy, perAccount: roomy } };
  const app = createServer({ config: plantConfig, store, secrets, blobs, bus, log: false });
  const entries: CanaryEntry[] = [];
  let messages = 0;
  const key = canaryKey(secrets);
  const now = Date.now();
  try {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const members: Array<{ ctx: ClientContext; last: string }> = [];
    for (let i = 0; i < wanted.accounts; i++) {
      const { email, last } = decoyEmail(wanted.domain);
      const api = new BurrowApi({ baseUrl });
      const registration = await registerAccount({ api, email, password: decoyPassword(), sessionLabel: 'burrow CLI' });
      members.push({ ctx: { api, me: { accountId: registration.session.accountId, identity: registration.identity }, store: new MemoryKeyStore() }, last });
      const tag = canaryTag(key, 'account', emailLookupHash(secrets, normaliseEmail(email)));
      entries.push({ kind: 'account', tag, sealedEmail: sealCanaryEmail(secrets, tag, normaliseEmail(email)), createdAt: now });
      entries.push({ kind: 'account', tag: canaryTag(key, 'account', `id:${registration.session.accountId}`), createdAt: now });
    }
    const families: Array<{ member: (typeof members)[number]; familyId: string; childId: string }> = [];
    for (let i = 0; i < wanted.families && members.length > 0; i++) {
      const member = members[i % members.length]!;
      const family = await createFamily(member.ctx, { name: `The ${member.last[0]!.toUpperCase()}${member.last.slice(1)}s` });
      const child = await addChild(member.ctx, { familyId: family.familyId, name: pick(CHILD), emoji: pick(EMOJI) });
      families.push({ member, familyId: family.familyId, childId: child.childId });
      entries.push({ kind: 'family', tag: canaryTag(key, 'family', family.familyId), createdAt: now });
    }
    for (let i = 0; i < wanted.blobs && families.length > 0; i++) {
      const target = families[i % families.length]!;
      // 8 kHz 16-bit PCM runs at 16 KB/s, like recorded speech: 2 to 12 seconds of noise in a WAV.
      const seconds = 2 + randomIndex(11);
      const sent = await sendMessage(target.member.ctx, {
        familyId: target.familyId,
        to: target.childId,
        audio: wavOfPcm16(randomBytes(seconds * 16_000 + randomIndex(200) * 10), { sampleRate: 8000 }),
        audioType: WAV_PCM16,
        durationMs: seconds * 1000 + randomIndex(100) * 10,
      });
      messages += 1;
      entries.push({ kind: 'blob', tag: canaryTag(key, 'blob', sent.messageId), createdAt: now });
      const row = await store.db.selectFrom('messages').select('blob_name').where('id', '=', sent.messageId).executeTakeFirst();
      if (row !== undefined) entries.push({ kind: 'blob', tag: canaryTag(key, 'blob', row.blob_name), createdAt: now });
    }
  } finally {
    await app.close();
    await bus.close();
    await blobs.close();
    await store.close();
  }
  return { entries, messages };
}

function kindCounts(entries: readonly CanaryEntry[]): Record<CanaryKind, number> {
  const counts: Record<CanaryKind, number> = { account: 0, family: 0, blob: 0 };
  // An account has two tags (its email lookup and its id); only the first keeps the sealed email.
  for (const e of entries) if (e.kind !== 'account' || e.sealedEmail !== undefined) counts[e.kind] += 1;
  return counts;
}

/** Adds `burrow canary create|list`. */
export function registerCanaryCommand(program: Command, io: CliIo): void {
  const say = (text: string): void => {
    io.stdout.write(`${text}\n`);
  };
  const canary = program.command('canary').description('Decoy accounts, families and messages that raise an alert when touched (run on the server machine).');
  const common = (command: Command) => command.option('--data <dir>', 'data directory (default ./data, or BURROW_DATA)').option('--json', 'print JSON');

  common(canary.command('create').description('Plant decoys through the real code paths; which records are decoys is kept only in <data>/canaries.json.'))
    .option('--accounts <n>', 'decoy accounts (default 2)')
    .option('--families <n>', 'decoy families, spread over the decoy accounts (default: one per account)')
    .option('--blobs <n>', 'decoy voice messages, spread over the decoy families (default 3)')
    .option('--domain <domain>', 'mail domain of the decoy addresses (default example.org; use one your families use)')
    .action(async (flags: CreateFlags) => {
      try {
        const config = loadConfig({ flags: flags.data === undefined ? {} : { data: flags.data }, env: io.env });
        const accounts = count(flags.accounts, 2, 'accounts');
        const wanted = { accounts, families: count(flags.families, accounts, 'families'), blobs: count(flags.blobs, 3, 'blobs'), domain: flags.domain ?? 'example.org' };
        if (!/^[a-z0-9.-]+\.[a-z]{2,}$/i.test(wanted.domain)) throw new UsageError('--domain must be a domain name such as example.org');
        if (wanted.accounts === 0 && (wanted.families > 0 || wanted.blobs > 0)) throw new UsageError('decoy families and messages need at least one decoy account');
        ensureDataDir(config.dataDir);
        const secrets = await loadSecrets(config);
        const { entries, messages } = await plant(config, secrets, wanted);
        appendCanaryRegistry(config.dataDir, entries);
        const counts = kindCounts(entries);
        const planted = { accounts: counts.account, families: counts.family, messages };
        if (flags.json === true) say(JSON.stringify({ planted, registry: 'canaries.json' }));
        else say(`Planted ${planted.accounts} decoy account(s), ${planted.families} famil${planted.families === 1 ? 'y' : 'ies'} and ${planted.messages} message(s). A running server picks them up within 10 s (or send it SIGHUP).`);
      } catch (error) {
        reportOperatorFailure(io, flags, error);
      }
    });

  common(canary.command('list').description('Count the canaries by kind.').option('--show', 'also show the decoy email addresses (needs the secrets)'))
    .action(async (flags: CanaryFlags & { show?: boolean }) => {
      try {
        const config = loadConfig({ flags: flags.data === undefined ? {} : { data: flags.data }, env: io.env });
        const entries = readCanaryRegistry(config.dataDir);
        const counts = kindCounts(entries);
        let emails: string[] | undefined;
        if (flags.show === true) {
          const secrets = await loadSecrets(config);
          emails = entries.flatMap((e) => {
            try {
              const email = openCanaryEmail(secrets, e);
              return email === undefined ? [] : [email];
            } catch {
              return ['(sealed email does not open with these secrets)'];
            }
          });
        }
        if (flags.json === true) {
          say(JSON.stringify({ accounts: counts.account, families: counts.family, blobs: counts.blob, ...(emails === undefined ? {} : { emails }) }));
          return;
        }
        say(`Canaries: ${counts.account} account(s), ${counts.family} famil${counts.family === 1 ? 'y' : 'ies'}, ${counts.blob} blob tag(s) (a message id and its blob name each).`);
        for (const email of emails ?? []) say(`  ${email}`);
      } catch (error) {
        reportOperatorFailure(io, flags, error);
      }
    });
}
