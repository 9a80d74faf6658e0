/** `burrow child add|list`: children's names and emoji avatars, end-to-end encrypted. */
import type { Command } from 'commander';
import { addChild, listChildren } from '../client/index.js';
import type { CliIo } from './io.js';
import { memberCli, resolveFamilyId, withCommonOptions, type CommonOptions } from './member-cli.js';

interface ChildOptions extends CommonOptions {
  family?: string;
}

/** Adds `burrow child …` to the program. */
export function registerChildCommands(program: Command, io: CliIo): void {
  const { action, memberContext, printResult } = memberCli(io);
  const child = program.command('child').description("add and list your family's children").addHelpText(
    'after',
    `
A child has a name and an emoji avatar, both encrypted so that only the family can read them.
No birth date or anything else is asked for.

Examples:
  $ burrow child add --family FAMILY --name Mia --emoji 🦊
  $ burrow child list --family FAMILY --json`,
  );

  withCommonOptions(child.command('add').description('add a child (guardian)'))
    .option('--family <id>', 'the family (default: your only family)')
    .requiredOption('--name <name>', "the child's name (encrypted)")
    .option('--emoji <emoji>', 'an emoji avatar (encrypted)', '🧸')
    .addHelpText('after', '\nExample:\n  $ burrow child add --family FAMILY --name Mia --emoji 🦊')
    .action(
      action(async (options: ChildOptions & { name: string; emoji: string }) => {
        const ctx = await memberContext(options);
        const familyId = await resolveFamilyId(ctx, options.family);
        const added = await addChild(ctx, { familyId, name: options.name, emoji: options.emoji });
        printResult(options, { familyId, childId: added.childId, name: added.name, emoji: added.emoji }, [`Added ${added.emoji} ${added.name} (child id ${added.childId}).`]);
      }),
    );

  withCommonOptions(child.command('list').description('the children you may see and message'))
    .option('--family <id>', 'the family (default: your only family)')
    .addHelpText('after', '\nExample:\n  $ burrow child list --family FAMILY --json')
    .action(
      action(async (options: ChildOptions) => {
        const ctx = await memberContext(options);
        const familyId = await resolveFamilyId(ctx, options.family);
        const children = await listChildren(ctx, { familyId });
        printResult(
          options,
          { familyId, children: children.map((c) => ({ childId: c.childId, name: c.name ?? null, emoji: c.emoji ?? null })) },
          children.length === 0 ? ['No children yet.'] : children.map((c) => `${c.childId}  ${c.emoji ?? ''} ${c.name ?? '(unreadable)'}`),
        );
      }),
    );
}
