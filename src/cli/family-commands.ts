/**
 * `burrow family …`: create a family, show its verified roster, invite, join, admit joiners,
 * remove members, change roles and settings, delete it. A thin shell over the client library;
 * trust anchors and family keys live in the profile directory (0600 files).
 */
import type { Command } from 'commander';
import { admitJoiners, changeRole, createFamily, deleteFamily, describeMembers, listFamilies, loadFamily, removeMember, safetyCodeWith, setMyProfile, setSettings, verifiedMembers, verifyMember, type ClientContext, type OpenedFamily, acceptInvite, createInvite, describeInvites, inspectInvite, revokeInvite, ClientError } from '../client/index.js';
import { renderUnicodeCompact } from 'uqr';
import { registerFamilyLogCommand } from './family-log-command.js';
import { registerToyFamilyCommands } from './toy-family-commands.js';
import { askVisible } from './prompt.js';
import type { CliIo } from './io.js';
import { collect, integerOption, memberCli, resolveFamilyId, withCommonOptions, type CommonOptions } from './member-cli.js';

interface FamilyOption extends CommonOptions {
  family?: string;
}

function childName(family: OpenedFamily, childId: string): string {
  const child = family.children.find((c) => c.childId === childId);
  return child?.name === undefined ? childId : `${child.emoji ?? ''} ${child.name}`.trim();
}

/** Child ids from --child values that are ids or (case-insensitive) names. */
function resolveChildren(family: OpenedFamily, values: string[]): string[] {
  return values.map((value) => {
    const byId = family.children.find((c) => c.childId === value);
    if (byId) return byId.childId;
    const byName = family.children.filter((c) => c.name !== undefined && c.name.toLowerCase() === value.toLowerCase());
    if (byName.length === 1) return byName[0]!.childId;
    throw new ClientError('cli/bad-input', byName.length > 1 ? `several children are called ${value}; use the child id` : `no child ${value} in this family (see "burrow child list")`);
  });
}

async function familySummary(ctx: ClientContext, family: OpenedFamily) {
  return {
    familyId: family.familyId,
    name: family.name ?? null,
    epoch: family.roster.epoch,
    role: family.self.role,
    members: await describeMembers(ctx, family),
    children: family.children.map((c) => ({ childId: c.childId, name: c.name ?? null, emoji: c.emoji ?? null })),
    toys: family.roster.toys.map((t) => ({ toyId: t.toyId, childId: t.childId })),
    settings: family.settings,
    retentionDays: family.retentionDays,
    deletedAccounts: family.deletedAccounts,
  };
}

const familyHelp = `
Your trust in each family (the roster entry you last verified) and its keys are kept in the
profile directory. A family created or joined on another device must be joined here too.

Examples:
  $ burrow family create --name "The Burrows"
  $ burrow family invite --family FAMILY --role relative --child Mia --needs-approval --for "Grandma Rose"
  $ burrow family join 'https://burrow.example/join#…'
  $ burrow family admit --family FAMILY
  $ burrow family show --family FAMILY --json`;

/** Adds `burrow family …` to the program. */
export function registerFamilyCommands(program: Command, io: CliIo): void {
  const { action, memberContext, printResult } = memberCli(io);
  const family = program.command('family').description('create, show and manage your families').addHelpText('after', familyHelp);

  withCommonOptions(family.command('create').description('create a family; you become its first guardian'))
    .requiredOption('--name <name>', "the family's name (end-to-end encrypted)")
    .option('--my-name <name>', 'your name in this family, as the others see it (end-to-end encrypted, signed by you)')
    .option('--retention-days <n>', 'days messages are kept (1–365, default 30)')
    .addHelpText('after', '\nExample:\n  $ burrow family create --name "The Burrows" --my-name "Mum" --retention-days 60')
    .action(
      action(async (options: CommonOptions & { name: string; myName?: string; retentionDays?: string }) => {
        const ctx = await memberContext(options);
        const retentionDays = integerOption(options.retentionDays, '--retention-days', 1, 365);
        const created = await createFamily(ctx, { name: options.name, ...(options.myName === undefined ? {} : { myName: options.myName }), ...(retentionDays === undefined ? {} : { settings: { retentionDays } }) });
        printResult(options, { familyId: created.familyId, name: created.name ?? null, epoch: created.roster.epoch }, [
          `Family created: ${created.name ?? ''}`,
          `Family id: ${created.familyId}`,
          'Add a child with "burrow child add", then invite relatives with "burrow family invite".',
        ]);
      }),
    );

  withCommonOptions(family.command('list').description('the families you are in'))
    .addHelpText('after', '\nExample:\n  $ burrow family list --json')
    .action(
      action(async (options: CommonOptions) => {
        const ctx = await memberContext(options);
        const families = await listFamilies(ctx);
        printResult(options, { families }, families.length === 0 ? ['You are in no family yet.'] : families.map((f) => `${f.familyId}  ${f.role.padEnd(8)}  epoch ${f.epoch}  ${f.name ?? '(not opened on this device)'}`));
      }),
    );

  withCommonOptions(family.command('show').description('members with names, roles and safety codes, children, toys, settings, epoch'))
    .option('--family <id>', 'the family (default: your only family)')
    .addHelpText('after', '\nOptionally, compare a safety code with that person (in person or on a call): if it matches, no one sits in between.\n\nExample:\n  $ burrow family show --family FAMILY')
    .action(
      action(async (options: FamilyOption) => {
        const ctx = await memberContext(options);
        const opened = await loadFamily(ctx, await resolveFamilyId(ctx, options.family));
        const summary = await familySummary(ctx, opened);
        const settings = opened.settings;
        printResult(options, summary, [
          `${opened.name ?? '(unreadable name)'}  (${opened.familyId}, epoch ${opened.roster.epoch}, you are a ${opened.self.role})`,
          'Members:',
          ...summary.members.map(
            (m) =>
              `  ${m.name ?? '(no name yet)'}  ${m.accountId}  ${m.role}${m.me ? ' (you)' : ''}${opened.deletedAccounts.includes(m.accountId) ? '  ACCOUNT DELETED (a guardian should remove them)' : ''}${m.role === 'relative' ? `  children: ${m.children.map((c) => childName(opened, c)).join(', ') || 'none'}${m.needsApproval ? '  needs approval' : ''}` : ''}${m.me ? '' : `\n    safety code: ${m.safetyCode}`}`,
          ),
          'Children:',
          ...(opened.children.length === 0 ? ['  none'] : opened.children.map((c) => `  ${c.childId}  ${c.emoji ?? ''} ${c.name ?? '(unreadable)'}`)),
          `Toys: ${opened.roster.toys.length === 0 ? 'none' : opened.roster.toys.map((t) => `${t.toyId} (${childName(opened, t.childId)})`).join(', ')}`,
          `Settings: retention ${settings.retentionDays} days, volume limit ${settings.volumeLimit}${settings.quietHours ? `, quiet ${settings.quietHours.start}–${settings.quietHours.end} ${settings.quietHours.timeZone}` : ''}`,
        ]);
      }),
    );

  withCommonOptions(family.command('invite').description('invite a relative or guardian; prints the link to share'))
    .option('--family <id>', 'the family (default: your only family)')
    .option('--role <role>', 'relative or guardian', 'relative')
    .option('--child <idOrName>', 'a child the relative may message (repeatable)', collect, [])
    .option('--needs-approval', "a guardian must approve the relative's messages before toys play them")
    .option('--expires-days <n>', 'days the link works (1–30, default 7)')
    .option('--for <name>', 'whom the invite is for ("Grandma Rose"); shown to them and to you, sealed in the link')
    .option('--from <name>', 'your name as they know you (default: your name in this family)')
    .addHelpText(
      'after',
      `
The link carries a secret after '#': share it only with the person you invite (in person or a
private message). It works once. They run "burrow family join LINK", then you run
"burrow family admit" on this device to sign them in.

Examples:
  $ burrow family invite --family FAMILY --role relative --child Mia --needs-approval --for "Grandma Rose"
  $ burrow family invite --family FAMILY --role guardian --json`,
    )
    .action(
      action(async (options: FamilyOption & { role: string; child: string[]; needsApproval?: boolean; expiresDays?: string; for?: string; from?: string }) => {
        if (options.role !== 'relative' && options.role !== 'guardian') throw new ClientError('cli/bad-input', '--role must be relative or guardian');
        const ctx = await memberContext(options);
        const familyId = await resolveFamilyId(ctx, options.family);
        const opened = await loadFamily(ctx, familyId);
        const children = options.role === 'relative' ? resolveChildren(opened, options.child) : [];
        if (options.role === 'relative' && children.length === 0) throw new ClientError('cli/bad-input', 'a relative needs at least one --child to message');
        const days = integerOption(options.expiresDays, '--expires-days', 1, 30);
        const invite = await createInvite(ctx, {
          familyId,
          terms: { role: options.role, children, needsApproval: options.needsApproval === true },
          ...(days === undefined ? {} : { expiresInMs: days * 24 * 3600_000 }),
          ...(options.for === undefined ? {} : { for: options.for }),
          ...(options.from === undefined ? {} : { from: options.from }),
        });
        printResult(options, { ...invite, familyId, role: options.role, children, needsApproval: options.needsApproval === true }, [
          `Invite link (works once, until ${new Date(invite.expiresAt).toISOString()}):`,
          invite.link,
          'Share it privately. When they have joined, run "burrow family admit" here.',
        ]);
      }),
    );

  withCommonOptions(family.command('join').description('join a family with an invite link').argument('<link>', 'the invite link you were given'))
    .option('--name <name>', 'your name in the family (default: whom the invite is for)')
    .addHelpText('after', "\nQuote the link: it contains '#'.\n\nExample:\n  $ burrow family join --name 'Grandma Rose' 'https://burrow.example/join#…'")
    .action(
      action(async (link: string, options: CommonOptions & { name?: string }) => {
        const ctx = await memberContext(options);
        const inspected = await inspectInvite(ctx, link);
        const name = options.name ?? (inspected.description.for === '' ? undefined : inspected.description.for);
        const invite = await acceptInvite(ctx, link, name === undefined ? {} : { name });
        const from = invite.description.from === '' ? 'a guardian' : invite.description.from;
        printResult(
          options,
          { familyId: invite.familyId, inviteId: invite.inviteId, terms: invite.terms, description: invite.description, guardian: { accountId: invite.guardian.accountId }, status: 'waiting' },
          [
            `Invite accepted for the family "${invite.description.familyName}" (${invite.familyId}) as ${invite.terms.role}${name === undefined ? '' : `, as ${name}`}.`,
            `Invited by ${from} (signed by the inviting guardian, ${invite.guardian.accountId}).`,
            'Waiting for a guardian to add you; then "burrow family show" works.',
          ],
        );
      }),
    );

  withCommonOptions(family.command('admit').description('sign in the people who accepted your invites (guardian)'))
    .option('--family <id>', 'the family (default: your only family)')
    .addHelpText('after', '\nChecks that each joiner holds the link you made on this device, then signs a new roster entry\nadding them with the terms you offered (a new epoch with a new family key).\n\nExample:\n  $ burrow family admit --family FAMILY')
    .action(
      action(async (options: FamilyOption) => {
        const ctx = await memberContext(options);
        const familyId = await resolveFamilyId(ctx, options.family);
        const result = await admitJoiners(ctx, { familyId });
        printResult(options, { familyId, ...result }, [
          ...(result.admitted.length === 0 ? ['Nobody is waiting to be admitted.'] : result.admitted.map((a) => `Admitted ${a.accountId} as ${a.role}. Optionally compare your safety code with them: burrow family show`)),
          ...result.refused.map((r) => `Not admitted ${r.accountId}: ${r.reason}`),
        ]);
      }),
    );

  withCommonOptions(family.command('invites').description("the family's invites and their status (guardian)"))
    .option('--family <id>', 'the family (default: your only family)')
    .option('--revoke <inviteId>', 'revoke this invite')
    .addHelpText('after', '\nExamples:\n  $ burrow family invites --family FAMILY\n  $ burrow family invites --family FAMILY --revoke INVITE_ID')
    .action(
      action(async (options: FamilyOption & { revoke?: string }) => {
        const ctx = await memberContext(options);
        const familyId = await resolveFamilyId(ctx, options.family);
        if (options.revoke !== undefined) {
          await revokeInvite(ctx, { familyId, inviteId: options.revoke });
          printResult(options, { revoked: options.revoke }, [`Invite ${options.revoke} revoked.`]);
          return;
        }
        const invites = await describeInvites(ctx, { familyId });
        printResult(
          options,
          { invites },
          invites.length === 0
            ? ['No invites.']
            : invites.map((i) => `${i.inviteId}  ${i.terms.role}  ${i.status}${i.for === undefined ? '' : `  for ${i.for}`}${i.joiner ? `  joiner ${i.joiner.name ?? '(no name)'} <${i.joiner.email ?? '?'}> ${i.joiner.accountId}` : ''}`),
        );
      }),
    );

  withCommonOptions(family.command('set-name').description('set your name in a family, as the other members see it').argument('<name>', 'your name (1–64 characters)'))
    .option('--family <id>', 'the family (default: your only family)')
    .addHelpText('after', '\nThe name is end-to-end encrypted and signed by you: the server can neither read nor change it.\n\nExample:\n  $ burrow family set-name --family FAMILY "Grandma Rose"')
    .action(
      action(async (name: string, options: FamilyOption) => {
        const ctx = await memberContext(options);
        const familyId = await resolveFamilyId(ctx, options.family);
        await setMyProfile(ctx, { familyId, name });
        printResult(options, { familyId, name }, [`Your name in this family is now ${name}.`]);
      }),
    );

  withCommonOptions(family.command('verify').description('show your safety code with a member (digits and a QR code); record that it matched'))
    .option('--family <id>', 'the family (default: your only family)')
    .requiredOption('--member <accountIdOrName>', 'the member (account id, or their name as "burrow family show" lists it)')
    .option('--confirm', 'you compared the digits with them and they match: remember them as verified')
    .addHelpText('after', '\nOptional. If your two screens show the same safety code, no one, not even the server, sits between you.\nTheir phone can scan the QR code printed here.\n\nExample:\n  $ burrow family verify --family FAMILY --member "Grandma Rose" --confirm')
    .action(
      action(async (options: FamilyOption & { member: string; confirm?: boolean }) => {
        const ctx = await memberContext(options);
        const opened = await loadFamily(ctx, await resolveFamilyId(ctx, options.family));
        const byName = opened.members.filter((m) => m.name === options.member && m.accountId !== ctx.me.accountId);
        const member = opened.members.find((m) => m.accountId === options.member) ?? (byName.length === 1 ? byName[0] : undefined);
        if (member === undefined || member.accountId === ctx.me.accountId) throw new ClientError('cli/bad-input', byName.length > 1 ? `several members are called ${options.member}; use the account id` : `no other member ${options.member} (see "burrow family show")`);
        const code = await safetyCodeWith(ctx, opened, member.accountId);
        const verified = options.confirm === true ? await verifyMember(ctx, { family: opened, accountId: member.accountId, digitsConfirmed: true }) : (await verifiedMembers(ctx, opened)).has(member.accountId);
        printResult(options, { familyId: opened.familyId, accountId: member.accountId, name: member.name ?? null, safetyCode: code.digits, qr: code.qr, verified }, [
          `Your safety code with ${member.name ?? member.accountId}: ${code.digits}`,
          renderUnicodeCompact(code.qr, { border: 2 }),
          verified ? 'Verified: you confirmed this code with them.' : 'Not verified yet: compare the digits with them, then run this again with --confirm.',
        ]);
      }),
    );

  withCommonOptions(family.command('remove').description('remove a member (guardian); starts a new epoch they cannot read'))
    .option('--family <id>', 'the family (default: your only family)')
    .requiredOption('--member <accountId>', "the member's account id (see \"burrow family show\")")
    .addHelpText('after', '\nThe family key changes: the removed member cannot open anything sent from now on. The messages\nthey sent so far stay in members\' history (your device checks and keeps them in the signed entry;\n"burrow inbox" marks them removed); toys no longer play them, and nothing they send later is accepted.\n\nExample:\n  $ burrow family remove --family FAMILY --member ACCOUNT_ID')
    .action(
      action(async (options: FamilyOption & { member: string }) => {
        const ctx = await memberContext(options);
        const familyId = await resolveFamilyId(ctx, options.family);
        const after = await removeMember(ctx, { familyId, accountId: options.member });
        printResult(options, { familyId, removed: options.member, epoch: after.roster.epoch }, [`Removed ${options.member}; the family is now at epoch ${after.roster.epoch} with a new key.`]);
      }),
    );

  withCommonOptions(family.command('role').description("change a member's role (guardian)"))
    .option('--family <id>', 'the family (default: your only family)')
    .requiredOption('--member <accountId>', "the member's account id")
    .requiredOption('--role <role>', 'relative or guardian')
    .option('--child <idOrName>', 'for a relative: a child they may message (repeatable; replaces the list)', collect, [])
    .option('--needs-approval', "for a relative: a guardian must approve their messages")
    .option('--no-needs-approval', 'for a relative: their messages play without approval')
    .addHelpText('after', '\nExamples:\n  $ burrow family role --family FAMILY --member ACCOUNT_ID --role guardian\n  $ burrow family role --family FAMILY --member ACCOUNT_ID --role relative --child Mia --needs-approval')
    .action(
      action(async (options: FamilyOption & { member: string; role: string; child: string[]; needsApproval?: boolean }) => {
        if (options.role !== 'relative' && options.role !== 'guardian') throw new ClientError('cli/bad-input', '--role must be relative or guardian');
        const ctx = await memberContext(options);
        const familyId = await resolveFamilyId(ctx, options.family);
        const opened = await loadFamily(ctx, familyId);
        const children = options.child.length > 0 ? resolveChildren(opened, options.child) : undefined;
        const after = await changeRole(ctx, {
          familyId,
          accountId: options.member,
          role: options.role,
          ...(children === undefined ? {} : { children }),
          ...(options.needsApproval === undefined ? {} : { needsApproval: options.needsApproval }),
        });
        printResult(options, { familyId, member: options.member, role: options.role, epoch: after.roster.epoch }, [`${options.member} is now a ${options.role} (epoch ${after.roster.epoch}).`]);
      }),
    );

  withCommonOptions(family.command('settings').description('retention, volume limit and quiet hours (guardian)'))
    .option('--family <id>', 'the family (default: your only family)')
    .option('--retention-days <n>', 'days messages are kept (1–365)')
    .option('--volume-limit <n>', "toys' maximum volume (0–100)")
    .option('--quiet-hours <HH:MM-HH:MM>', 'when toys stay silent, such as 19:30-07:00')
    .option('--time-zone <zone>', 'IANA time zone of the quiet hours, such as Europe/Berlin', 'UTC')
    .option('--no-quiet-hours', 'remove the quiet hours')
    .addHelpText('after', '\nSettings are signed into the roster, so the server cannot change them; quiet hours are also sealed, so it cannot read them.\n\nExample:\n  $ burrow family settings --family FAMILY --retention-days 90 --quiet-hours 19:30-07:00 --time-zone Europe/Berlin')
    .action(
      action(async (options: FamilyOption & { retentionDays?: string; volumeLimit?: string; quietHours?: string | boolean; timeZone: string }) => {
        const ctx = await memberContext(options);
        const familyId = await resolveFamilyId(ctx, options.family);
        const retentionDays = integerOption(options.retentionDays, '--retention-days', 1, 365);
        const volumeLimit = integerOption(options.volumeLimit, '--volume-limit', 0, 100);
        let quietHours: { start: string; end: string; timeZone: string } | null | undefined;
        if (options.quietHours === false) quietHours = null;
        else if (typeof options.quietHours === 'string') {
          const match = /^(\d\d:\d\d)-(\d\d:\d\d)$/.exec(options.quietHours);
          if (!match) throw new ClientError('cli/bad-input', '--quiet-hours must look like 19:30-07:00');
          quietHours = { start: match[1]!, end: match[2]!, timeZone: options.timeZone };
        }
        const after = await setSettings(ctx, {
          familyId,
          settings: {
            ...(retentionDays === undefined ? {} : { retentionDays }),
            ...(volumeLimit === undefined ? {} : { volumeLimit }),
            ...(quietHours === undefined ? {} : { quietHours }),
          },
        });
        printResult(options, { familyId, epoch: after.roster.epoch, settings: after.settings }, [`Settings saved (epoch ${after.roster.epoch}).`]);
      }),
    );

  withCommonOptions(family.command('delete').description('delete the family and every message in it (guardian)'))
    .option('--family <id>', 'the family (default: your only family)')
    .option('--yes', 'do not ask for confirmation (for scripts)')
    .addHelpText('after', '\nThis cannot be undone: every message, child profile, invite and key goes. Export first if you\nwant to keep the messages ("burrow export").\n\nExample:\n  $ burrow family delete --family FAMILY')
    .action(
      action(async (options: FamilyOption & { yes?: boolean }) => {
        const ctx = await memberContext(options);
        const familyId = await resolveFamilyId(ctx, options.family);
        if (!options.yes) {
          let answer: string;
          try {
            answer = await askVisible(io, 'This deletes the family and every message in it. Type "delete this family" to confirm: ');
          } catch {
            throw new ClientError('cli/not-confirmed', 'no terminal to confirm on: pass --yes to delete without asking');
          }
          if (answer.trim() !== 'delete this family') throw new ClientError('cli/not-confirmed', 'not confirmed; nothing was deleted');
        }
        await deleteFamily(ctx, { familyId });
        printResult(options, { deleted: true, familyId }, ['The family has been deleted.']);
      }),
    );

  registerFamilyLogCommand(family, io);
  registerToyFamilyCommands(family, io);

}
