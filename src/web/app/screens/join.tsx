/**
 * Joining a family by invite link (`/join#<inviteId>.<secret>`): the page says who invites you, whom
 * the invite is for and to which family (signed by the inviting guardian and sealed with the link's
 * secret: never a server field), and asks the name you go by in the family (prefilled).
 * The fragment is never sent to the server; the app reads it once, removes it from the address
 * bar, and keeps it sealed under the device key in IndexedDB until it is used, so closing the tab
 * halfway does not lose it (the browser's history list also holds the link until used).
 */
import { useEffect, useState } from 'preact/hooks';
import { loadFamily, acceptInvite, inspectInvite, type InspectedInvite, ClientError } from '../../../client/index.js';
import { Button, Card, ErrorBanner, Field, Loading, Notice, Page } from '../../ui/kit.js';
import { useSession } from '../session-context.js';
import { keyStore } from '../session.js';
import { checkedName } from '../../lib/profile-text.js';
import { navigate } from '../router.js';
import { forgetInviteLink } from '../../lib/browser-stores.js';

/** Reads the invite link from the address bar once, then drops the fragment from it and from history. */
export function takeInviteFragment(): string | undefined {
  if (location.pathname !== '/join' || location.hash.length < 2) return undefined;
  const link = location.href;
  history.replaceState(null, '', '/join');
  return link;
}

export function JoinScreen(props: { link: string | undefined; onDone: () => void }) {
  const { who } = useSession();
  const [link, setLink] = useState(props.link);
  const [pasted, setPasted] = useState('');
  const [invite, setInvite] = useState<InspectedInvite | undefined>(undefined);
  const [state, setState] = useState<'inspecting' | 'ready' | 'joining' | 'waiting' | 'joined'>('inspecting');
  const [error, setError] = useState<unknown>(undefined);
  const [myName, setMyName] = useState('');

  useEffect(() => {
    if (link === undefined) return;
    setError(undefined);
    setState('inspecting');
    inspectInvite(who.ctx, link).then(
      (inspected) => {
        setInvite(inspected);
        setState('ready');
        // Prefilled: the name chosen at sign-up on this device, else whom the guardian made the invite for.
        void keyStore.loadDisplayName().then((saved) => setMyName((current) => (current !== '' ? current : (saved ?? checkedName(inspected.description.for) ?? ''))));
      },
      (caught: unknown) => setError(caught),
    );
  }, [who, link]);

  // After accepting: wait for the guardian's device to let us in (a roster entry that names us).
  useEffect(() => {
    if (state !== 'waiting' || invite === undefined) return;
    let live = true;
    const check = async () => {
      try {
        await loadFamily(who.ctx, invite.familyId);
        if (!live) return;
        setState('joined');
        props.onDone();
        navigate(`/family/${invite.familyId}`, { replace: true });
      } catch (caught) {
        if (!(caught instanceof ClientError && caught.code === 'client/not-a-member') && live) setError(caught);
      }
    };
    void check();
    const timer = setInterval(() => void check(), 3000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [state, invite, who]);

  const join = async () => {
    if (link === undefined) return;
    setState('joining');
    setError(undefined);
    try {
      const name = myName.trim();
      await acceptInvite(who.ctx, link, name === '' ? {} : { name });
      if (name !== '') await keyStore.saveDisplayName(name);
      // Used: the pending join (kept in the key store) is what the device waits on now.
      void forgetInviteLink().catch(() => undefined);
      setLink(undefined);
      setState('waiting');
    } catch (caught) {
      setError(caught);
      setState('ready');
    }
  };

  return (
    <Page title="Join a family" back={{ href: '/', label: 'Your families' }}>
      <ErrorBanner error={error} />
      {link === undefined && invite === undefined && (
        <Card>
          <form
            onSubmit={(event) => {
              event.preventDefault();
              setLink(pasted.trim());
            }}
          >
            <Field label="Invite link" name="invite-link" value={pasted} onValue={setPasted} hint="Paste the link a guardian sent you." autoComplete="off" />
            <Button type="submit" disabled={pasted.trim().length === 0} disabledReason="Paste the link first.">
              Open the invite
            </Button>
          </form>
        </Card>
      )}
      {link !== undefined && state === 'inspecting' && error === undefined && <Loading label="Checking the invite…" />}
      {invite !== undefined && (state === 'ready' || state === 'joining') && (
        <Card>
          <p data-testid="invite-description">
            <strong>
              <bdi>{checkedName(invite.description.from) ?? 'A guardian'}</bdi>
            </strong>{' '}
            invites {checkedName(invite.description.for) === undefined ? 'you' : <><strong><bdi>{checkedName(invite.description.for)}</bdi></strong></>} to the family <strong>
              <bdi>{checkedName(invite.description.familyName) ?? '(no name)'}</bdi>
            </strong>
            .
          </p>
          <p>
            You are invited to join a family as a <strong>{invite.terms.role}</strong>
            {invite.terms.role === 'relative' && invite.terms.needsApproval ? ', and a guardian approves your messages before they play' : ''}.
          </p>
          <p class="muted">
            This invite is signed by the guardian who made it; the server cannot change what it says. Anyone can call a family anything, though: if you were not expecting it, ask the person who sent you the link. Once you are in, you can check a safety code with them (optional, on the People tab).
          </p>
          <Field label="Your name in the family" name="my-name" value={myName} onValue={setMyName} maxLength={64} hint="How the family will see you. Encrypted: the server never reads it." autoComplete="name" />
          <Button class="wide" busy={state === 'joining'} onClick={() => void join()}>
            Join the family
          </Button>
          <p class="muted" data-testid="invite-history-note">
            Join now if you mean to: until the invite is used, the link stays usable, and it stays in this browser's history (this page took it out of the address bar, but not out of the history list). Once you have joined, the link is worthless.
          </p>
        </Card>
      )}
      {state === 'waiting' && (
        <Notice>
          Almost there. The guardian who invited you must now let you in, on the device they made the invite with. This page moves on by itself once they have; you can also come back later.
        </Notice>
      )}
    </Page>
  );
}
