/** The family app: signed-in state, routes, the top bar. */
import { useEffect, useState } from 'preact/hooks';
import { ErrorBanner, Loading, Page } from '../ui/kit.js';
import { interceptLinks, match, navigate, usePath } from './router.js';
import { resume, signOut, type SignedIn } from './session.js';
import { SessionContext, type AppState } from './session-context.js';
import { forgetInviteLink, keepInviteLink, keptInviteLink } from '../lib/browser-stores.js';
import { onLiveStatus, startLive, stopLive } from './live.js';
import { keepFlushing } from './outbox.js';
import { isOnline, onConnectivity } from '../lib/offline.js';
import { AuthScreen, authModeOf } from './screens/auth.js';
import { HomeScreen } from './screens/home.js';
import { FamilyScreen } from './screens/family.js';
import { ConversationScreen } from './screens/conversation.js';
import { JoinScreen, takeInviteFragment } from './screens/join.js';
import { AccountScreen } from './screens/account.js';
import { OpenMessageScreen } from './screens/open-message.js';

interceptLinks();
// The invite fragment is read once at start and removed from the address bar (and history).
const inviteAtStart = takeInviteFragment();

/**
 * The truth about updates: "Live" only while the live channel is open and the app reaches the
 * server; "Offline" as soon as the browser or a request says the network is gone.
 */
function LiveBadge() {
  const [status, setStatus] = useState<'connecting' | 'online' | 'offline'>('offline');
  const [reachable, setReachable] = useState(isOnline());
  useEffect(() => onLiveStatus(setStatus), []);
  useEffect(() => onConnectivity(setReachable), []);
  const shown = reachable ? status : 'offline';
  return (
    <span class="pill" data-live={shown} aria-live="polite">
      {shown === 'online' ? 'Live' : shown === 'connecting' ? 'Connecting…' : 'Offline'}
    </span>
  );
}

/** While offline: what the person sees is what this device kept, and what they record waits. */
function OfflineBanner() {
  const [online, setOnline] = useState(isOnline());
  useEffect(() => onConnectivity(setOnline), []);
  if (online) return null;
  return (
    <div class="banner banner-warning offline-banner" role="status" data-testid="offline-banner">
      <strong>Offline.</strong> You see what this device saved, read-only. Messages you record are kept here and sent when you are back online.
    </div>
  );
}

export function App() {
  const path = usePath();
  const [who, setWho] = useState<SignedIn | undefined>(undefined);
  const [booting, setBooting] = useState(true);
  const [bootError, setBootError] = useState<unknown>(undefined);
  const [invite, setInvite] = useState<string | undefined>(inviteAtStart);

  useEffect(() => {
    // An invite link opened now is kept on this device until used; one opened before (the tab was
    // closed halfway, while creating the account say) comes back.
    const kept = (inviteAtStart !== undefined ? keepInviteLink(inviteAtStart).then(() => inviteAtStart) : keptInviteLink()).catch(() => inviteAtStart);
    Promise.all([resume(), kept])
      .then(([resumed, link]) => {
        if (link !== undefined && inviteAtStart === undefined) {
          setInvite(link);
          if (resumed !== undefined && location.pathname === '/') navigate('/join', { replace: true });
        }
        setWho(resumed);
      })
      .catch((error: unknown) => setBootError(error))
      .finally(() => setBooting(false));
  }, []);

  useEffect(() => {
    if (who === undefined) return;
    startLive(who);
    return keepFlushing(who);
  }, [who]);

  if (booting) {
    return (
      <Page title="Burrow">
        <Loading label="Opening Burrow…" />
      </Page>
    );
  }

  const onSignedIn = (next: SignedIn) => {
    setWho(next);
    navigate(invite !== undefined ? '/join' : path === '/join' || path === '/sign-in' || path === '/recover' ? '/' : path, { replace: true });
  };

  if (who === undefined) {
    return (
      <>
        <ErrorBanner error={bootError} />
        <AuthScreen key={authModeOf(path)} mode={authModeOf(path)} onSignedIn={onSignedIn} inviteWaiting={invite !== undefined} {...(invite === undefined ? {} : { inviteLink: invite })} />
      </>
    );
  }

  const state: AppState = {
    who,
    signOut: async () => {
      await stopLive();
      try {
        await signOut(who);
      } finally {
        setWho(undefined);
        // Someone who just signed out comes back by signing in, not by creating an account.
        navigate('/sign-in', { replace: true });
      }
    },
  };

  let screen;
  let params: Record<string, string> | undefined;
  if (path === '/join')
    screen = (
      <JoinScreen
        link={invite}
        onDone={() => {
          setInvite(undefined);
          void forgetInviteLink().catch(() => undefined);
        }}
      />
    );
  else if (path === '/account') screen = <AccountScreen />;
  else if ((params = match('/family/:familyId/message/:messageId', path))) screen = <OpenMessageScreen familyId={params.familyId!} messageId={params.messageId!} />;
  else if ((params = match('/family/:familyId/talk/:conversationId', path))) screen = <ConversationScreen familyId={params.familyId!} conversationId={params.conversationId!} />;
  else if ((params = match('/family/:familyId/:tab', path))) screen = <FamilyScreen familyId={params.familyId!} tab={params.tab!} />;
  else if ((params = match('/family/:familyId', path))) screen = <FamilyScreen familyId={params.familyId!} tab="messages" />;
  else screen = <HomeScreen />;

  return (
    <SessionContext.Provider value={state}>
      <nav class="topbar" aria-label="Main">
        <a class="brand" href="/">
          Burrow
        </a>
        <span>
          <LiveBadge /> <a href="/account">Account</a>
        </span>
      </nav>
      <OfflineBanner />
      {screen}
    </SessionContext.Provider>
  );
}
