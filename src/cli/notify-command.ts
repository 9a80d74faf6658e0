/**
 * `burrow notify`: a breach notice to the affected members' addresses. Emails are opened with the
 * server's key only here, on the operator's machine; each notice goes through SMTP when configured,
 * else into `<data>/outbox/`, and is recorded (template hash, recipient account, time, channel).
 * Addresses are never printed unless `--show-recipients` asks for them.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../server/config.js';
import { newId, systemRandom } from '../server/deps.js';
import { openEmail } from '../server/secrets.js';
import { createMailer } from '../server/security/mailer.js';
import { ClientError } from '../client/index.js';
import { UsageError, type CliIo } from './io.js';
import { reportOperatorFailure } from './operator-failure.js';
import { askVisible } from './prompt.js';
import { openOperatorStore } from './reports-command.js';

interface NotifyFlags {
  all?: boolean;
  family?: string;
  template: string;
  subject?: string;
  data?: string;
  showRecipients?: boolean;
  json?: boolean;
  dryRun?: boolean;
  yes?: boolean;
}

/** The template's subject (a first line `Subject: …`, else `--subject`, else a default) and body. */
export function parseTemplate(text: string, subject: string | undefined): { subject: string; body: string } {
  const match = /^Subject:[ \t]*(.*)\r?\n(?:\r?\n)?/.exec(text);
  if (match !== null) return { subject: match[1]!.trim(), body: text.slice(match[0].length) };
  return { subject: subject ?? 'Important security notice about your Burrow account', body: text };
}

async function notify(io: CliIo, flags: NotifyFlags): Promise<void> {
  if ((flags.all === true) === (flags.family !== undefined)) throw new UsageError('give exactly one of --all or --family ID');
  let templateText: string;
  try {
    templateText = readFileSync(flags.template, 'utf8');
  } catch {
    throw new ClientError('cli/bad-input', `cannot read the template ${flags.template}`);
  }
  const { subject, body } = parseTemplate(templateText, flags.subject);
  if (body.trim() === '') throw new ClientError('cli/bad-input', 'the template is empty');
  const templateSha256 = createHash('sha256').update(templateText, 'utf8').digest('base64url');
  const say = (text: string): void => {
    io.stdout.write(`${text}\n`);
  };

  const config = loadConfig({ flags: flags.data === undefined ? {} : { data: flags.data }, env: io.env });
  const { store, secrets } = await openOperatorStore(config);
  try {
    let query = store.db.selectFrom('accounts').select(['accounts.id', 'accounts.email_sealed']).orderBy('accounts.id');
    if (flags.family !== undefined) {
      const family = await store.db.selectFrom('families').select('id').where('id', '=', flags.family).executeTakeFirst();
      if (family === undefined) throw new ClientError('cli/not-found', `no family ${flags.family}`);
      query = query.innerJoin('family_members', 'family_members.account_id', 'accounts.id').where('family_members.family_id', '=', flags.family);
    }
    const recipients = await query.execute();
    const channel = config.security.smtpUrl === undefined ? 'outbox' : 'smtp';
    if (flags.dryRun === true) {
      // Nothing is opened, sent or recorded: the count, the channel and the message only.
      if (flags.json === true) {
        say(JSON.stringify({ dryRun: true, recipients: recipients.length, channel, subject, body, templateSha256 }));
        return;
      }
      say(`Dry run: would send ${recipients.length} notice(s) through ${channel}; nothing was sent.`);
      say(`Subject: ${subject}`);
      say('');
      io.stdout.write(body.endsWith('\n') ? body : `${body}\n`);
      return;
    }
    if (secrets === undefined) throw new ClientError('cli/secrets', 'the secrets file is needed to open members\' addresses; run this on the server with --data');
    if (flags.all === true && flags.yes !== true) await confirmAll(io, recipients.length, subject);
    const mailer = createMailer(config);
    const sent: Array<{ accountId: string; channel: string; email: string }> = [];
    for (const recipient of recipients) {
      const email = openEmail(secrets, recipient.id, recipient.email_sealed);
      const used = await mailer.send({ from: mailer.from, to: email, subject, text: body });
      await store.db.insertInto('notices').values({ id: newId(systemRandom), template_sha256: templateSha256, recipient_account_id: recipient.id, sent_at: Date.now(), channel: used }).execute();
      sent.push({ accountId: recipient.id, channel: used, email });
    }
    const channels = [...new Set(sent.map((s) => s.channel))];
    if (flags.json === true) {
      say(JSON.stringify({ sent: sent.length, channels, templateSha256, ...(flags.showRecipients === true ? { recipients: sent.map((s) => ({ accountId: s.accountId, email: s.email })) } : {}) }));
      return;
    }
    say(`Sent ${sent.length} notice(s) (${channels.join(', ') || 'none'}); each is recorded in the notices table (template ${templateSha256}).`);
    if (flags.showRecipients === true) for (const s of sent) say(`  ${s.accountId}  ${s.email}`);
  } finally {
    await store.close();
  }
}

/** `--all` without `--yes`: asks on the terminal, and refuses (exit 2) where there is none. */
async function confirmAll(io: CliIo, count: number, subject: string): Promise<void> {
  let answer: string;
  try {
    answer = await askVisible(io, `This sends "${subject}" to every account (${count}). Type "send to all" to confirm: `);
  } catch {
    throw new ClientError('cli/not-confirmed', 'no terminal to confirm on: pass --yes to send to every account (--dry-run shows what would be sent)');
  }
  if (answer.trim() !== 'send to all') throw new ClientError('cli/not-confirmed', 'not confirmed; nothing was sent');
}


/** Adds `burrow notify --all|--family ID --template FILE`. */
export function registerNotifyCommand(program: Command, io: CliIo): void {
  program
    .command('notify')
    .description('Send a breach notice to every member (--all) or one family\'s members (--family ID): SMTP when configured, else <data>/outbox/.')
    .option('--all', 'every account (asks for confirmation unless --yes)')
    .option('--family <id>', 'the members of one family')
    .requiredOption('--template <file>', 'the notice text; an optional first line "Subject: …" sets the subject')
    .option('--subject <text>', 'the subject when the template has none')
    .option('--data <dir>', 'data directory (default ./data, or BURROW_DATA)')
    .option('--dry-run', 'print how many members would be notified and the message; send and record nothing')
    .option('--yes', 'send to --all without asking (needed when there is no terminal)')
    .option('--show-recipients', 'print the addresses notified (otherwise only a count)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  $ burrow notify --all --template notice.txt --dry-run\n  $ burrow notify --all --template notice.txt --yes --json\n  $ burrow notify --family FAMILY --template notice.txt')
    .action(async (flags: NotifyFlags) => {
      try {
        await notify(io, flags);
      } catch (error) {
        reportOperatorFailure(io, flags, error);
      }
    });
}
