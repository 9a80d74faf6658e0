/** `burrow family log`: the family's security log, verified by the client, in plain words. */
import type { Command } from 'commander';
import { readFamilyLog, type FamilyLogEvent, type FamilyLogFailure } from '../client/family-log.js';
import type { CliIo } from './io.js';
import { CliError, memberCli, resolveFamilyId, withCommonOptions, type CommonOptions } from './member-cli.js';

const FAILURES: Record<FamilyLogFailure, string> = {
  'log/gap': 'an event is missing from the log',
  'log/edited': 'an event in the log was changed after it was written',
  'log/bad-signature': "an event is not signed by the server's log key this device trusts (or the server now shows another key)",
  'log/rolled-back': 'the log is shorter than, or differs from, what this device already verified',
};

function who(id: string, me: string): string {
  return id === me ? 'you' : id;
}

/** One event as a sentence; ids stay ids (the log never holds names). */
export function describeLogEvent(event: FamilyLogEvent, me: string): string {
  const actor = who(event.actorId, me);
  const subject = event.subjectId === undefined ? '' : who(event.subjectId, me);
  const epoch = event.details.epoch === undefined ? '' : ` (epoch ${event.details.epoch})`;
  switch (event.kind) {
    case 'family-created':
      return `${actor} created the family`;
    case 'login':
      return `${actor} logged in (session ${event.details.sessionId ?? '?'})`;
    case 'session-created':
      return `${actor} started a new session by account recovery (session ${event.details.sessionId ?? '?'})`;
    case 'member-added':
      return `${actor} added ${subject} as ${event.details.role ?? 'member'}${epoch}`;
    case 'member-removed':
      return `${actor} removed ${subject}${epoch}`;
    case 'role-changed':
      return `${actor} changed ${subject} from ${event.details.from ?? '?'} to ${event.details.to ?? '?'}${epoch}`;
    case 'toy-added':
      return `${actor} added toy ${subject}${epoch}`;
    case 'toy-removed':
      return `${actor} removed toy ${subject}${epoch}`;
    case 'settings-changed':
      return subject === '' ? `${actor} changed the family settings${epoch}` : `${actor} changed what ${subject} may do${epoch}`;
    case 'message-downloaded':
      return `${actor}${event.details.by === 'toy' ? ' (a toy)' : ''} downloaded message ${subject}`;
    case 'client-refusal': {
      const message = event.details.messageId === undefined ? '' : ` (message ${event.details.messageId})`;
      return `${actor === 'you' ? 'your device' : `the device of ${actor}`} refused something the server sent: ${event.details.code ?? '?'}${epoch}${message}`;
    }
  }
}

/** Adds `burrow family log` to the `family` command. */
export function registerFamilyLogCommand(family: Command, io: CliIo): void {
  const { action, memberContext, printResult } = memberCli(io);
  withCommonOptions(family.command('log').description("the family's security log (guardians): logins, members, toys, settings, downloads — verified on this device"))
    .option('--family <id>', 'the family (default: your only family)')
    .addHelpText(
      'after',
      `
Every event is signed by the server's log key and chained to the one before. This device pins the
key on first use and remembers the last event it verified, so an event edited or removed in the
server's database, or a log cut back, is reported instead of shown.

Example:
  $ burrow family log --family FAMILY --json`,
    )
    .action(
      action(async (options: CommonOptions & { family?: string }) => {
        const ctx = await memberContext(options);
        const familyId = await resolveFamilyId(ctx, options.family);
        const result = await readFamilyLog(ctx, familyId);
        if (!result.ok) throw new CliError(result.code, `the security log does not verify: ${FAILURES[result.code]}${result.seq === undefined ? '' : ` (at event ${result.seq})`}. Tell the server's operator; do not trust this server until it is explained.`);
        const me = ctx.me.accountId;
        printResult(
          options,
          { familyId, events: result.events },
          result.events.length === 0
            ? ['The log is empty.']
            : result.events.map((e) => `${String(e.seq).padStart(4)}  ${new Date(e.at).toISOString().replace('T', ' ').slice(0, 19)}Z  ${describeLogEvent(e, me)}`),
        );
      }),
    );
}
