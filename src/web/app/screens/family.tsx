/** One family: conversations and the approval queue, people (children, members, invites), toys, settings. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { addChild, admitJoiners, deleteFamily, loadFamily, removeMember, setMyProfile, setSettings, verifiedMembers, type OpenedFamily, describeLogEvent, describeFailure, ClientError, readFamilyLog, createInvite, describeInvites, revokeInvite, type DescribedInvite, nameOf, countFamilyBadges, type FamilyBadges } from '../../../client/index.js';
import { Button, Card, Checkbox, Empty, ErrorBanner, Field, Loading, Notice, Page, RadioGroup, Range, Select } from '../../ui/kit.js';
import { checkedName, withCheckedProfiles } from '../../lib/profile-text.js';
import { keyStore } from '../session.js';
import { useSession } from '../session-context.js';
import { onLive } from '../live.js';
import { navigate } from '../router.js';
import { ApprovalQueue } from './conversation.js';
import { ToysTab } from './toys.js';
import { formatWhen } from '../../lib/dates.js';
import { FirstRunChecklist } from './first-run.js';
import { VerifyMember } from './verify.js';

const TABS = [
  ['messages', 'Messages'],
  ['people', 'People'],
  ['toys', 'Toys'],
  ['settings', 'Settings'],
] as const;

export function FamilyScreen(props: { familyId: string; tab: string }) {
  const { who } = useSession();
  const [family, setFamily] = useState<OpenedFamily | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [version, setVersion] = useState(0);

  const reload = useCallback(() => setVersion((v) => v + 1), []);
  useEffect(() => {
    let live = true;
    loadFamily(who.ctx, props.familyId).then(
      (f) => {
        if (live) {
          setFamily(withCheckedProfiles(f));
          setError(undefined);
        }
      },
      (caught: unknown) => {
        if (live) setError(caught);
      },
    );
    return () => {
      live = false;
    };
  }, [who, props.familyId, version]);
  useEffect(
    () =>
      onLive((event) => {
        if (event.familyId !== props.familyId) return;
        if (event.event === 'family-deleted') navigate('/', { replace: true });
        else if (event.event === 'roster' || event.event === 'child') reload();
      }),
    [props.familyId, reload],
  );

  const badges = useFamilyBadges(family);
  const counts: Partial<Record<(typeof TABS)[number][0], number>> = { messages: badges.approvals, people: badges.joinRequests };
  const title = family?.name ?? 'Family';
  const tabLabel = TABS.find(([tab]) => tab === props.tab)?.[1];
  return (
    <Page title={title} documentTitle={tabLabel === undefined ? title : `${tabLabel} · ${title}`} back={{ href: '/', label: 'All families' }}>
      <nav class="tabs" aria-label="Family">
        {TABS.map(([tab, label]) => (
          <a key={tab} href={`/family/${props.familyId}/${tab}`} aria-current={props.tab === tab ? 'page' : undefined}>
            {label}
            {(counts[tab] ?? 0) > 0 && (
              <span class="badge" data-testid={`badge-${tab}`} aria-label={`, ${counts[tab]} waiting`}>
                {counts[tab]}
              </span>
            )}
          </a>
        ))}
      </nav>
      <ErrorBanner error={error} />
      {family === undefined && error === undefined && <Loading />}
      {family !== undefined && <FirstRunChecklist family={family} />}
      {family !== undefined && props.tab === 'messages' && <MessagesTab family={family} />}
      {family !== undefined && props.tab === 'people' && <PeopleTab family={family} onChanged={(f) => setFamily(withCheckedProfiles(f))} reload={reload} />}
      {family !== undefined && props.tab === 'toys' && <ToysTab family={family} onChanged={(f) => setFamily(withCheckedProfiles(f))} />}
      {family !== undefined && props.tab === 'settings' && <SettingsTab family={family} onChanged={(f) => setFamily(withCheckedProfiles(f))} />}
    </Page>
  );
}

/** Badge counts for the tabs, from what this device verified (client/badges.ts); kept fresh by live events and, for join requests (which have no event), a slow poll. */
function useFamilyBadges(family: OpenedFamily | undefined): FamilyBadges {
  const { who } = useSession();
  const [badges, setBadges] = useState<FamilyBadges>({ joinRequests: 0, approvals: 0 });
  const [version, setVersion] = useState(0);
  useEffect(() => {
    if (family === undefined || family.self.role !== 'guardian') return;
    let live = true;
    countFamilyBadges(who.ctx, family).then((next) => {
      if (live) setBadges(next);
    }, () => undefined);
    const timer = setInterval(() => setVersion((v) => v + 1), 10_000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [who, family, version]);
  useEffect(() => onLive((event) => {
    if (family !== undefined && event.familyId === family.familyId && ['message', 'approval', 'message-deleted', 'roster'].includes(event.event)) setVersion((v) => v + 1);
  }), [family]);
  return badges;
}

function MessagesTab(props: { family: OpenedFamily }) {
  const { family } = props;
  const guardian = family.self.role === 'guardian';
  const mine = guardian ? family.children : family.children.filter((c) => family.self.children?.includes(c.childId));
  return (
    <>
      {mine.length === 0 && (
        <Empty>
          {guardian ? (
            <>
              No children yet. <a href={`/family/${family.familyId}/people`}>Add a child</a> to start sending messages.
            </>
          ) : (
            'No conversations yet: a guardian has not given you a child to talk to.'
          )}
        </Empty>
      )}
      {mine.length > 0 && (
        <Card title="Conversations">
          <ul class="list">
            {mine.map((child) => {
              const toys = family.roster.toys.filter((t) => t.childId === child.childId);
              return (
                <li key={child.childId}>
                  <span class="emoji" aria-hidden="true">
                    {child.emoji ?? '🙂'}
                  </span>
                  <a class="grow" href={`/family/${family.familyId}/talk/${child.childId}`} data-child={child.childId}>
                    <bdi>{child.name ?? 'A child'}</bdi>
                  </a>
                  <span class="muted">{toys.length === 0 ? 'no toy yet' : toys.length === 1 ? '1 toy' : `${toys.length} toys`}</span>
                </li>
              );
            })}
          </ul>
        </Card>
      )}
      {guardian && <ApprovalQueue family={family} />}
    </>
  );
}

const EMOJIS = ['🦊', '🐻', '🐰', '🦁', '🐼', '🐸', '🐯', '🦄', '🐙', '🐢', '🚀', '⭐'];

function AddChild(props: { family: OpenedFamily; onAdded: () => void }) {
  const { who } = useSession();
  const [name, setName] = useState('');
  const [emoji, setEmoji] = useState('🦊');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    const submitted = name;
    try {
      await addChild(who.ctx, { familyId: props.family.familyId, name: submitted, emoji });
      // The child shows in the list (its live event) before the roster that gives them their key is
      // signed: a name typed for the next child meanwhile stays.
      setName((current) => (current === submitted ? '' : current));
      props.onAdded();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(event) => void submit(event)}>
      <ErrorBanner error={error} onDismiss={() => setError(undefined)} />
      <Field label="Child's name" name="child-name" value={name} onValue={setName} maxLength={64} hint="No birth date or surname needed. Only your family can read it." required />
      <fieldset class="field">
        <legend>Picture</legend>
        <div class="button-row" role="radiogroup" aria-label="Picture">
          {EMOJIS.map((e) => (
            <button key={e} type="button" class={`button ${emoji === e ? 'button-primary' : 'button-secondary'}`} role="radio" aria-checked={emoji === e ? 'true' : 'false'} aria-label={`Picture ${e}`} onClick={() => setEmoji(e)}>
              {e}
            </button>
          ))}
        </div>
      </fieldset>
      <Button type="submit" busy={busy} disabled={name.trim().length === 0} disabledReason="Type the child's name first.">
        Add the child
      </Button>
    </form>
  );
}

type InviteRow = DescribedInvite;

function InviteForm(props: { family: OpenedFamily; onCreated: () => void }) {
  const { who } = useSession();
  const [role, setRole] = useState<'relative' | 'guardian'>('relative');
  // Every child is offered until the guardian picks (children added later are included too).
  const [picked, setPicked] = useState<string[] | undefined>(undefined);
  const children = (picked ?? props.family.children.map((c) => c.childId)).filter((id) => props.family.children.some((c) => c.childId === id));
  const setChildren = setPicked;
  const [needsApproval, setNeedsApproval] = useState(false);
  const [from, setFrom] = useState('');
  const [invitee, setInvitee] = useState('');
  const [link, setLink] = useState<string | undefined>(undefined);
  const [copied, setCopied] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const created = await createInvite(who.ctx, { familyId: props.family.familyId, terms: { role, children, needsApproval }, origin: location.origin, ...(from.trim() === '' ? {} : { from }), for: invitee });
      setLink(created.link);
      setCopied(false);
      props.onCreated();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  const share = async () => {
    if (link === undefined) return;
    try {
      await navigator.share({ title: 'Join our family on Burrow', text: 'Open this link to join our family on Burrow:', url: link });
    } catch {
      // Dismissed: nothing to do.
    }
  };
  return (
    <form onSubmit={(event) => void submit(event)}>
      <ErrorBanner error={error} onDismiss={() => setError(undefined)} />
      <Field label="Who is it for?" name="invite-for" value={invitee} onValue={setInvitee} maxLength={64} hint="“Grandma Rose”: shown to them and here, and offered as their name in the family." autoComplete="off" />
      <RadioGroup
        legend="They join as"
        name="invite-role"
        value={role}
        onValue={(v) => setRole(v === 'guardian' ? 'guardian' : 'relative')}
        options={[
          { value: 'relative', label: 'Relative: talks with the children you choose' },
          { value: 'guardian', label: 'Guardian: manages the family, like you' },
        ]}
      />
      {role === 'relative' && (
        <>
          <fieldset class="field">
            <legend>Who they may talk to</legend>
            {props.family.children.length === 0 && <p class="muted">Add a child first.</p>}
            {props.family.children.map((c) => (
              <Checkbox
                key={c.childId}
                label={`${c.emoji ?? ''} ${c.name ?? 'A child'}`}
                checked={children.includes(c.childId)}
                onChecked={(on) => setChildren(on ? [...children, c.childId] : children.filter((id) => id !== c.childId))}
              />
            ))}
          </fieldset>
          <Checkbox label="A guardian approves their messages before the toy plays them" checked={needsApproval} onChecked={setNeedsApproval} />
        </>
      )}
      <Field label="Your name, as they know you" name="invite-from" value={from} onValue={setFrom} maxLength={64} hint="Shown to them, with this family's name, before they join (leave empty for your name in this family). Signed by you and sealed in the link: the server cannot read or change it." autoComplete="off" />
      <Button type="submit" busy={busy} disabled={role === 'relative' && children.length === 0} disabledReason={props.family.children.length === 0 ? 'Add a child first: a relative talks with children you choose.' : 'Tick at least one child they may talk with.'}>
        Create an invite link
      </Button>
      {link !== undefined && (
        <div class="card" aria-live="polite">
          <p>
            Send this link to them (a message, an email). It works once, and only you can let them in: <strong>keep this page's device</strong>, because the link's secret is kept here.
          </p>
          <p class="code-box mono" data-testid="invite-link">
            {link}
          </p>
          <div class="button-row">
            <Button
              variant="secondary"
              onClick={() => {
                void navigator.clipboard?.writeText(link).then(() => setCopied(true), () => setCopied(false));
              }}
            >
              {copied ? 'Copied' : 'Copy the link'}
            </Button>
            {'share' in navigator && (
              <Button variant="secondary" onClick={() => void share()}>
                Share…
              </Button>
            )}
          </div>
        </div>
      )}
    </form>
  );
}

/** What removing a member does, said before it is done. */
const REMOVE_MEMBER_WORDS =
  'Remove this member? They stop receiving messages at once. ' +
  'The messages they sent so far stay in your conversations, marked as from a removed member, and keep playing in the app; the toys no longer play them. ' +
  'The family’s keys are changed, so they cannot open anything sent from now on, and nothing they send after today is accepted.';

function PeopleTab(props: { family: OpenedFamily; onChanged: (f: OpenedFamily) => void; reload: () => void }) {
  const { who } = useSession();
  const { family } = props;
  const guardian = family.self.role === 'guardian';
  const [verified, setVerified] = useState<Set<string> | undefined>(undefined);
  const [verifying, setVerifying] = useState<string | undefined>(undefined);
  const [invites, setInvites] = useState<InviteRow[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState<string | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [invitesVersion, setInvitesVersion] = useState(0);

  const [verifiedVersion, setVerifiedVersion] = useState(0);
  useEffect(() => {
    verifiedMembers(who.ctx, family).then(setVerified, setError);
  }, [who, family, verifiedVersion]);
  useEffect(() => {
    if (!guardian) return;
    let live = true;
    const load = async () => {
      const list = await describeInvites(who.ctx, { familyId: family.familyId });
      if (!live) return;
      setInvites(list);
    };
    load().catch(setError);
    // A joiner accepting shows up here without a reload: invites have no live event, so look every few seconds.
    const timer = setInterval(() => void load().catch(() => undefined), 4000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [who, family, guardian, invitesVersion]);

  const act = async (key: string, action: () => Promise<void>) => {
    setBusy(key);
    setError(undefined);
    setNotice(undefined);
    try {
      await action();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(undefined);
    }
  };
  const childName = (id: string) => family.children.find((c) => c.childId === id)?.name ?? 'a child';
  const pending = (invites ?? []).filter((i) => i.status === 'accepted' && i.joiner !== undefined);
  const open = (invites ?? []).filter((i) => i.status === 'open');

  return (
    <>
      <ErrorBanner error={error} onDismiss={() => setError(undefined)} />
      {notice !== undefined && <Notice tone="success">{notice}</Notice>}
      <Card title="Children">
        {family.children.length === 0 && <Empty>No children yet.</Empty>}
        <ul class="list">
          {family.children.map((c) => (
            <li key={c.childId}>
              <span class="emoji" aria-hidden="true">
                {c.emoji ?? '🙂'}
              </span>
              <span class="grow">
                <bdi>{c.name ?? 'A child (the name does not open)'}</bdi>
              </span>
            </li>
          ))}
        </ul>
        {guardian && <AddChild family={family} onAdded={props.reload} />}
      </Card>
      {guardian && pending.length > 0 && (
        <Card title="Waiting to be let in">
          <ul class="list">
            {pending.map((i) => (
              <li key={i.inviteId} data-testid="let-in-card">
                <span class="grow">
                  <strong data-testid="joiner-name">
                    <bdi>{checkedName(i.joiner?.name) ?? 'Someone (no name given)'}</bdi>
                  </strong>{' '}
                  {i.joiner?.email !== undefined && (
                    <span class="muted" data-testid="joiner-email">
                      &lt;<bdi>{i.joiner.email}</bdi>&gt;
                    </span>
                  )}{' '}
                  accepted your invite{i.for !== undefined && checkedName(i.for) !== undefined ? <> for <bdi>{checkedName(i.for)}</bdi></> : ''} ({i.terms.role}
                  {i.terms.role === 'relative' ? `, for ${i.terms.children.map(childName).join(', ')}` : ''}).
                  <span class="muted"> The email is the one their account signed up with, as the server says; the name is what they typed.</span>
                  {!i.mine && <span class="muted"> Only the device that created this invite can let them in: open Burrow there.</span>}
                </span>
                {i.mine && (
                  <Button
                    busy={busy === `admit:${i.inviteId}`}
                    onClick={() =>
                      void act(`admit:${i.inviteId}`, async () => {
                        const result = await admitJoiners(who.ctx, { familyId: family.familyId });
                        if (result.admitted.length > 0) setNotice('Let in. Later, if you like, verify them from the Members list.');
                        if (result.refused.length > 0 && result.admitted.length === 0) setNotice(`Not let in: ${result.refused.map((r) => r.reason).join('; ')}`);
                        setInvitesVersion((v) => v + 1);
                        props.reload();
                      })
                    }
                  >
                    Let them in
                  </Button>
                )}
              </li>
            ))}
          </ul>
        </Card>
      )}
      <Card title="Members">
        <ul class="list">
          {family.members.map((m) => {
            const me = m.accountId === who.accountId;
            const name = nameOf(family, m.accountId);
            const member = family.roster.members.find((r) => r.accountId === m.accountId)!;
            return (
              <li key={m.accountId} data-member={m.accountId}>
                {m.photo !== undefined && <MemberPhoto photo={m.photo} />}
                <div class="grow">
                  <strong data-testid="member-name">
                    <bdi>{name}</bdi>
                  </strong>
                  {me && ' (you)'} <span class="pill">{m.role}</span>
                  {!me && verified?.has(m.accountId) === true && (
                    <span class="pill" data-testid="member-verified">
                      verified
                    </span>
                  )}
                  {m.refused === 'profile/stale' && <div class="field-error">The server sent an older name for this member than this device has seen: it is not shown.</div>}
                  {m.refused !== undefined && m.refused !== 'profile/stale' && <div class="field-error">This member's name did not verify: it is not shown.</div>}
                  {member.role === 'relative' && <div class="muted">Talks to {(member.children ?? []).map(childName).join(', ') || 'nobody yet'}{member.needsApproval === true ? ', with approval' : ''}</div>}
                  {family.deletedAccounts.includes(m.accountId) && <div class="field-error">This account was deleted: remove it.</div>}
                  {me && <MyName family={family} onChanged={props.onChanged} />}
                  {!me && verifying === m.accountId && <VerifyMember family={family} accountId={m.accountId} name={name} verified={verified?.has(m.accountId) === true} onVerified={() => setVerifiedVersion((v) => v + 1)} />}
                </div>
                {!me && (
                  <Button variant="secondary" onClick={() => setVerifying(verifying === m.accountId ? undefined : m.accountId)}>
                    {verifying === m.accountId ? 'Close' : 'Verify'}
                  </Button>
                )}
                {guardian && !me && (
                  <Button
                    variant="danger"
                    busy={busy === `remove:${m.accountId}`}
                    onClick={() => {
                      if (!confirm(REMOVE_MEMBER_WORDS)) return;
                      void act(`remove:${m.accountId}`, async () => props.onChanged(await removeMember(who.ctx, { familyId: family.familyId, accountId: m.accountId })));
                    }}
                  >
                    Remove
                  </Button>
                )}
              </li>
            );
          })}
        </ul>
      </Card>
      {guardian && (
        <Card title="Invite someone">
          <InviteForm family={family} onCreated={() => setInvitesVersion((v) => v + 1)} />
          {open.length > 0 && (
            <>
              <h3>Open invites</h3>
              <ul class="list">
                {open.map((i) => (
                  <li key={i.inviteId}>
                    <span class="grow">
                      {i.for !== undefined && checkedName(i.for) !== undefined && (
                        <>
                          For <bdi>{checkedName(i.for)}</bdi> ·{' '}
                        </>
                      )}
                      {i.terms.role} · expires {formatWhen(i.expiresAt)}
                    </span>
                    <Button variant="link" busy={busy === `revoke:${i.inviteId}`} onClick={() => void act(`revoke:${i.inviteId}`, async () => { await revokeInvite(who.ctx, { familyId: family.familyId, inviteId: i.inviteId }); setInvitesVersion((v) => v + 1); })}>
                      Revoke
                    </Button>
                  </li>
                ))}
              </ul>
            </>
          )}
        </Card>
      )}
    </>
  );
}

/** What is wrong with each settings field, in plain words (shown next to the field). */
interface SettingsErrors {
  retention?: string;
  start?: string;
  end?: string;
}

const TIME = /^([01]\d|2[0-3]):[0-5]\d$/;

function checkSettings(input: { retention: string; quiet: boolean; start: string; end: string }): SettingsErrors {
  const errors: SettingsErrors = {};
  const days = Number(input.retention.trim());
  if (input.retention.trim() === '' || !Number.isInteger(days) || days < 1 || days > 365) errors.retention = 'Enter a whole number of days from 1 to 365.';
  if (input.quiet) {
    if (!TIME.test(input.start)) errors.start = 'Choose the time quiet hours start, like 19:30.';
    if (!TIME.test(input.end)) errors.end = 'Choose the time quiet hours end, like 07:00.';
    if (errors.start === undefined && errors.end === undefined && input.start === input.end) errors.end = 'The end must differ from the start.';
  }
  return errors;
}

/** Every time zone this browser knows (with `current` first if it is missing), readable names. */
function timeZoneOptions(current: string): Array<{ value: string; label: string }> {
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  const all = zones.includes(current) ? zones : [current, ...zones];
  return all.map((zone) => ({ value: zone, label: zone.replace(/_/g, ' ') }));
}

/** A member's photo, from bytes whose type was checked by their magic bytes. */
function MemberPhoto(props: { photo: { type: string; bytes: Uint8Array } }) {
  const [url, setUrl] = useState<string | undefined>(undefined);
  useEffect(() => {
    const made = URL.createObjectURL(new Blob([props.photo.bytes as BlobPart], { type: props.photo.type }));
    setUrl(made);
    return () => URL.revokeObjectURL(made);
  }, [props.photo]);
  return url === undefined ? null : <img class="avatar" src={url} alt="" width={40} height={40} />;
}

/** This member's own name (and photo) in the family: prefilled, editable, signed and sealed by this device. */
function MyName(props: { family: OpenedFamily; onChanged: (f: OpenedFamily) => void }) {
  const { who } = useSession();
  const current = props.family.members.find((m) => m.accountId === who.accountId)?.name ?? '';
  const [name, setName] = useState(current);
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [photo, setPhoto] = useState<Uint8Array | undefined>(undefined);
  if (!open) {
    return (
      <div>
        <Button variant="link" onClick={() => setOpen(true)}>
          {current === '' ? 'Set your name' : 'Change your name or photo'}
        </Button>
      </div>
    );
  }
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      props.onChanged(withCheckedProfiles(await setMyProfile(who.ctx, { familyId: props.family.familyId, name, ...(photo === undefined ? {} : { photo }) })));
      await keyStore.saveDisplayName(name.trim());
      setOpen(false);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(event) => void submit(event)}>
      <ErrorBanner error={error} onDismiss={() => setError(undefined)} />
      <Field label="Your name in this family" name="my-name" value={name} onValue={setName} maxLength={64} hint="Encrypted and signed by you: the server can neither read nor change it." autoComplete="name" required />
      <label class="field">
        <span>Photo (optional: JPEG, PNG or WebP, at most 64 KB)</span>
        <input
          type="file"
          name="my-photo"
          accept="image/jpeg,image/png,image/webp"
          onChange={(event) => {
            const file = (event.currentTarget as HTMLInputElement).files?.[0];
            if (file !== undefined) void file.arrayBuffer().then((b) => setPhoto(new Uint8Array(b)));
          }}
        />
      </label>
      <Button type="submit" busy={busy} disabled={name.trim().length === 0}>
        Save
      </Button>
    </form>
  );
}

function SettingsTab(props: { family: OpenedFamily; onChanged: (f: OpenedFamily) => void }) {
  const { who } = useSession();
  const { family } = props;
  const guardian = family.self.role === 'guardian';
  const settings = family.settings;
  const [retention, setRetention] = useState(String(settings.retentionDays));
  const [volume, setVolume] = useState(settings.volumeLimit);
  const [quiet, setQuiet] = useState(settings.quietHours !== undefined);
  const [toyToToy, setToyToToy] = useState(settings.toyToToy === true);
  const [start, setStart] = useState(settings.quietHours?.start ?? '19:30');
  const [end, setEnd] = useState(settings.quietHours?.end ?? '07:00');
  const [timeZone, setTimeZone] = useState(settings.quietHours?.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone);
  const [fieldErrors, setFieldErrors] = useState<SettingsErrors>({});
  const [invalidTries, setInvalidTries] = useState(0);
  const form = useRef<HTMLFormElement>(null);
  // After a refused save, the first field in error takes the focus (once it is marked), so a
  // keyboard or screen-reader user lands on what to fix.
  useEffect(() => {
    if (invalidTries > 0) form.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }, [invalidTries]);
  const [confirmName, setConfirmName] = useState('');
  const [busy, setBusy] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [saved, setSaved] = useState(false);
  const [exportState, setExportState] = useState<string | undefined>(undefined);

  const save = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    setSaved(false);
    const checked = checkSettings({ retention, quiet, start, end });
    setFieldErrors(checked);
    if (Object.keys(checked).length > 0) {
      setInvalidTries((n) => n + 1);
      return;
    }
    setBusy('save');
    try {
      const retentionDays = Number(retention);
      props.onChanged(await setSettings(who.ctx, { familyId: family.familyId, settings: { retentionDays, volumeLimit: volume, toyToToy, quietHours: quiet ? { start, end, timeZone } : null } }));
      setSaved(true);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(undefined);
    }
  };

  const exportAll = async () => {
    setBusy('export');
    setError(undefined);
    try {
      const { exportFamily } = await import('../export.js');
      await exportFamily(who.ctx, family, setExportState);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <>
      <ErrorBanner error={error} onDismiss={() => setError(undefined)} />
      {saved && <Notice tone="success">Saved. The toys follow the new settings once they see the change.</Notice>}
      <Card title="Messages and toys">
        {guardian ? (
          <form ref={form} onSubmit={(event) => void save(event)}>
            <Field label="Keep messages for (days)" name="retention" inputMode="numeric" value={retention} onValue={setRetention} error={fieldErrors.retention} hint="Older messages are deleted from the server unless someone saved them. 1 to 365." />
            <Range label="Toy volume limit" name="volume" min={0} max={100} step={5} value={volume} onValue={setVolume} valueText={(v) => (v === 0 ? 'silent' : `${v} of 100`)} hint="The toys play a short chime at the new limit when they receive the change, so you can hear how loud it is." />
            <Checkbox label="Quiet hours: toys stay silent" checked={quiet} onChecked={setQuiet} />
            {quiet && (
              <>
                <div class="button-row">
                  <Field label="From" type="time" name="quiet-start" value={start} onValue={setStart} error={fieldErrors.start} />
                  <Field label="Until" type="time" name="quiet-end" value={end} onValue={setEnd} error={fieldErrors.end} />
                </div>
                <Select label="Time zone of the quiet hours" name="quiet-time-zone" value={timeZone} onValue={setTimeZone} options={timeZoneOptions(timeZone)} hint="The toys follow these hours in this time zone, wherever they are. Messages that arrive in quiet time wait and play when it ends. Sealed for the family and its toys: the server cannot read them." />
              </>
            )}
            <Checkbox label="Toy to toy: a toy's reply also plays on the child's other toys" checked={toyToToy} onChecked={setToyToToy} />
            <Button type="submit" busy={busy === 'save'}>
              Save the settings
            </Button>
          </form>
        ) : (
          <p>
            Messages are kept {settings.retentionDays} days. Toy volume limit {settings.volumeLimit}
            {settings.quietHours ? `, quiet from ${settings.quietHours.start} to ${settings.quietHours.end} (${settings.quietHours.timeZone.replace(/_/g, ' ')})` : ''}
            {settings.toyToToy === true ? ", a toy's reply also plays on the child's other toys" : ''}. Only a guardian can change this.
          </p>
        )}
      </Card>
      <Card title="Download everything">
        <p>Makes a zip of every message you can hear in this family, decrypted on this device, with an index (JSON and CSV). Nothing is sent anywhere.</p>
        <Button variant="secondary" busy={busy === 'export'} onClick={() => void exportAll()}>
          Download everything
        </Button>
        {exportState !== undefined && (
          <p class="muted" role="status">
            {exportState}
          </p>
        )}
      </Card>
      {guardian && <SecurityLogCard family={family} />}
      {guardian && (
        <Card title="Delete this family" class="danger-zone">
          <Notice tone="warning">This deletes the family for everyone: all messages, children, toys and invites, on the server, for good. Toys stop working until they are paired again.</Notice>
          <Field label={`Type the family's name (${family.name ?? ''}) to confirm`} name="confirm-family" value={confirmName} onValue={setConfirmName} />
          <Button
            variant="danger"
            busy={busy === 'delete'}
            disabled={confirmName.trim() !== (family.name ?? '').trim() || confirmName.trim().length === 0}
            disabledReason="Type the family's name exactly to confirm."
            onClick={() => {
              setBusy('delete');
              deleteFamily(who.ctx, { familyId: family.familyId })
                .then(() => navigate('/', { replace: true }))
                .catch((caught: unknown) => setError(caught))
                .finally(() => setBusy(undefined));
            }}
          >
            Delete the family
          </Button>
        </Card>
      )}
    </>
  );
}


/** The family's security log (guardians), verified on this device, newest first, in plain words. */
function SecurityLogCard(props: { family: OpenedFamily }) {
  const { who } = useSession();
  const { family } = props;
  const [lines, setLines] = useState<Array<{ seq: number; at: number; text: string; refusal: boolean }> | undefined>(undefined);
  const [failure, setFailure] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    let live = true;
    // Ids become names only where the verified roster and opened profiles give one.
    const name = (id: string): string | undefined => {
      const toy = family.roster.entries.flatMap((e) => e.toys).find((t) => t.toyId === id);
      if (toy !== undefined) return `${family.children.find((c) => c.childId === toy.childId)?.name ?? 'a child'}'s toy`;
      return family.children.find((c) => c.childId === id)?.name;
    };
    readFamilyLog(who.ctx, family.familyId).then(
      (log) => {
        if (!live) return;
        if (!log.ok) setFailure(describeFailure(new ClientError(log.code, 'the security log does not verify')).words);
        else setLines(log.events.slice(-50).reverse().map((e) => ({ seq: e.seq, at: e.at, text: describeLogEvent(e, who.accountId, name), refusal: e.kind === 'client-refusal' })));
      },
      (caught: unknown) => {
        if (live) setError(caught);
      },
    );
    return () => {
      live = false;
    };
  }, [who, family]);
  return (
    <Card title="Security log">
      <ErrorBanner error={error} />
      {failure !== undefined && <Notice tone="warning">{failure} Do not trust this server until it is explained.</Notice>}
      {lines === undefined && failure === undefined && error === undefined && <Loading />}
      {lines !== undefined && lines.length === 0 && <Empty>Nothing in the log yet.</Empty>}
      {lines !== undefined && lines.length > 0 && (
        <ul class="list" aria-label="Security log" data-testid="security-log">
          {lines.map((line) => (
            <li key={line.seq} data-kind={line.refusal ? 'client-refusal' : undefined}>
              <span class="muted">{new Date(line.at).toLocaleString()}</span> {line.text}
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}
