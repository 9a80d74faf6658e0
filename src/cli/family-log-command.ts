/** `burrow family log`: the family's security log, verified by the client, in plain words (`describeLogEvent`). */
import type { Command } from 'commander';
import { describeFailure, describeLogEvent, readFamilyLog, ClientError } from '../client/index.js';
import type { CliIo } from './io.js';
import { memberCli, resolveFamilyId, withCommonOptions, type CommonOptions } from './member-cli.js';

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
        if (!result.ok) {
          // The catalogue's words say what is wrong; the event number helps the operator find it.
          const words = describeFailure(new ClientError(result.code, '')).words;
          throw new ClientError(result.code, `${words}${result.seq === undefined ? '' : ` (at event ${result.seq})`} Do not trust this server until it is explained.`);
        }
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
