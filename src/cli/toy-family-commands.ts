/**
 * `burrow family add-toy | remove-toy | toys | toy-settings`: a guardian manages the family's toys
 * (src/client/toys.ts). Pairing runs the PAKE with the toy's code through the server; every
 * change is a new signed roster entry.
 */
import type { Command } from 'commander';
import { loadFamily, type OpenedFamily, addToy, listToys, removeToy, setToySettings, ClientError } from '../client/index.js';
import type { CliIo } from './io.js';
import { integerOption, memberCli, resolveFamilyId, withCommonOptions, type CommonOptions } from './member-cli.js';

interface FamilyOption extends CommonOptions {
  family?: string;
}

function resolveChild(family: OpenedFamily, value: string): string {
  const byId = family.children.find((c) => c.childId === value);
  if (byId) return byId.childId;
  const byName = family.children.filter((c) => c.name !== undefined && c.name.toLowerCase() === value.toLowerCase());
  if (byName.length === 1) return byName[0]!.childId;
  throw new ClientError('cli/bad-input', byName.length > 1 ? `several children are called ${value}; use the child id` : `no child ${value} in this family (see "burrow child list"; add one with "burrow child add")`);
}

function childName(family: OpenedFamily, childId: string): string {
  return family.children.find((c) => c.childId === childId)?.name ?? childId;
}

/** Adds the toy commands to `burrow family`. */
export function registerToyFamilyCommands(family: Command, io: CliIo): void {
  const { action, memberContext, printResult, progress } = memberCli(io);
  withCommonOptions(family.command('add-toy').description("pair a toy with a child: enter the code the toy shows (guardian)"))
    .option('--family <id>', 'the family (default: your only family)')
    .requiredOption('--code <digits>', 'the 8-digit code the toy shows (spaces and hyphens are ignored)')
    .requiredOption('--child <idOrName>', 'the child the toy belongs to')
    .option('--name <name>', "the toy's name (end-to-end encrypted)")
    .addHelpText(
      'after',
      `
Start pairing on the toy first ("burrow toy pair" on the reference toy): it shows the code. A wrong
code uses one of its 3 tries; after that, or after 10 minutes, the toy must show a new code.

Example:
  $ burrow family add-toy --family FAMILY --code 123-45678 --child Mia --name "Bunny"`,
    )
    .action(
      action(async (options: FamilyOption & { code: string; child: string; name?: string }) => {
        const ctx = await memberContext(options);
        const familyId = await resolveFamilyId(ctx, options.family);
        const opened = await loadFamily(ctx, familyId);
        const childId = resolveChild(opened, options.child);
        progress(options, 'Pairing with the toy…');
        const { toyId, family: after } = await addToy(ctx, { familyId, code: options.code, childId, ...(options.name === undefined ? {} : { name: options.name }) });
        printResult(options, { familyId, toyId, childId, epoch: after.roster.epoch, name: options.name ?? null }, [
          `Toy ${toyId} added for ${childName(after, childId)} (epoch ${after.roster.epoch}).`,
          `Send it a message with "burrow send --family ${familyId} --to ${childName(after, childId)} --file hello.wav".`,
        ]);
      }),
    );

  withCommonOptions(family.command('remove-toy').description('remove a toy (guardian); its token stops working at once'))
    .option('--family <id>', 'the family (default: your only family)')
    .requiredOption('--toy <toyId>', 'the toy (see "burrow family toys")')
    .addHelpText('after', '\nA new epoch with a new family key starts: the toy can open nothing sent from now on. Its past\nreplies stay in members\' history (your device checks and keeps them in the signed entry), and\nnothing it sends later is accepted.\n\nExample:\n  $ burrow family remove-toy --family FAMILY --toy TOY_ID')
    .action(
      action(async (options: FamilyOption & { toy: string }) => {
        const ctx = await memberContext(options);
        const familyId = await resolveFamilyId(ctx, options.family);
        if (!/^[A-Za-z0-9_-]{22}$/.test(options.toy)) throw new ClientError('cli/bad-input', '--toy must be a toy id (22 characters; see "burrow family toys")');
        const after = await removeToy(ctx, { familyId, toyId: options.toy });
        printResult(options, { familyId, removed: options.toy, epoch: after.roster.epoch }, [`Removed toy ${options.toy}; the family is now at epoch ${after.roster.epoch} with a new key.`]);
      }),
    );

  withCommonOptions(family.command('toys').description("the family's toys, their children and when they were last seen"))
    .option('--family <id>', 'the family (default: your only family)')
    .addHelpText('after', '\nRelatives see the toys of their children.\n\nExample:\n  $ burrow family toys --family FAMILY --json')
    .action(
      action(async (options: FamilyOption) => {
        const ctx = await memberContext(options);
        const familyId = await resolveFamilyId(ctx, options.family);
        const opened = await loadFamily(ctx, familyId);
        const toys = await listToys(ctx, { familyId });
        printResult(
          options,
          { familyId, toys: toys.map((t) => ({ ...t, name: t.name ?? null, pairedAt: t.pairedAt ?? null, lastSeenAt: t.lastSeenAt ?? null })), settings: { volumeLimit: opened.settings.volumeLimit, quietHours: opened.settings.quietHours ?? null } },
          toys.length === 0
            ? ['No toys yet. Pair one with "burrow family add-toy".']
            : toys.map((t) => `${t.toyId}  ${t.name ?? '(unnamed)'}  for ${childName(opened, t.childId)}${t.lastSeenAt === undefined ? '' : `  last seen ${new Date(t.lastSeenAt).toISOString()}`}`),
        );
      }),
    );

  withCommonOptions(family.command('toy-settings').description("toys' volume limit and quiet hours, signed into the roster (guardian)"))
    .option('--family <id>', 'the family (default: your only family)')
    .option('--volume <n>', 'the maximum volume toys play at (0–100)')
    .option('--quiet-hours <HH:MM-HH:MM>', 'when toys stay silent, such as 19:30-07:00 (messages wait until the end)')
    .option('--time-zone <zone>', 'IANA time zone of the quiet hours, such as Europe/Berlin (required with --quiet-hours)')
    .option('--no-quiet-hours', 'remove the quiet hours')
    .option('--toy-to-toy <on|off>', "whether a toy's reply also plays on the child's other toys (off by default)")
    .addHelpText('after', '\nToys follow only settings signed by a guardian: the server cannot change them, and cannot read the quiet hours (sealed for the family and its toys).\n\nExamples:\n  $ burrow family toy-settings --family FAMILY --volume 60\n  $ burrow family toy-settings --family FAMILY --quiet-hours 19:30-07:00 --time-zone Europe/Berlin\n  $ burrow family toy-settings --family FAMILY --no-quiet-hours')
    .action(
      action(async (options: FamilyOption & { volume?: string; quietHours?: string | boolean; timeZone?: string; toyToToy?: string }) => {
        const volumeLimit = integerOption(options.volume, '--volume', 0, 100);
        let quietHours: { start: string; end: string; timeZone: string } | null | undefined;
        if (options.quietHours === false) quietHours = null;
        else if (typeof options.quietHours === 'string') {
          const match = /^(\d\d:\d\d)-(\d\d:\d\d)$/.exec(options.quietHours);
          if (!match) throw new ClientError('cli/bad-input', '--quiet-hours must look like 19:30-07:00');
          if (options.timeZone === undefined) throw new ClientError('cli/bad-input', '--quiet-hours needs --time-zone, such as Europe/Berlin or UTC');
          quietHours = { start: match[1]!, end: match[2]!, timeZone: options.timeZone };
        }
        if (options.toyToToy !== undefined && options.toyToToy !== 'on' && options.toyToToy !== 'off') throw new ClientError('cli/bad-input', '--toy-to-toy must be on or off');
        const toyToToy = options.toyToToy === undefined ? undefined : options.toyToToy === 'on';
        if (volumeLimit === undefined && quietHours === undefined && toyToToy === undefined) throw new ClientError('cli/bad-input', 'nothing to change: give --volume, --quiet-hours with --time-zone, --no-quiet-hours or --toy-to-toy');
        const ctx = await memberContext(options);
        const familyId = await resolveFamilyId(ctx, options.family);
        const after = await setToySettings(ctx, { familyId, ...(volumeLimit === undefined ? {} : { volumeLimit }), ...(quietHours === undefined ? {} : { quietHours }), ...(toyToToy === undefined ? {} : { toyToToy }) });
        const s = after.settings;
        printResult(options, { familyId, epoch: after.roster.epoch, volumeLimit: s.volumeLimit, quietHours: s.quietHours ?? null, toyToToy: s.toyToToy === true }, [
          `Toy settings signed (epoch ${after.roster.epoch}): volume limit ${s.volumeLimit}, quiet hours ${s.quietHours ? `${s.quietHours.start}–${s.quietHours.end} ${s.quietHours.timeZone}` : 'none'}, toy to toy ${s.toyToToy === true ? 'on' : 'off'}.`,
        ]);
      }),
    );
}
