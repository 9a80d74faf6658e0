/** The family app: signed-in state, routes, the top bar. */
import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { ErrorBanner, Loading, Page } from '../ui/kit.js';
import { interceptLinks, match, navigate, usePath } from './router.js';
import { resume, signOut, type SignedIn } from './session.js';
import { onLiveStatus, startLive, stopLive } from './live.js';
import { AuthScreen } from './screens/auth.js';
import { HomeScreen } from './screens/home.js';
import { FamilyScreen } from './screens/family.js';
import { ConversationScreen } from './screens/conversation.js';
import { JoinScreen, takeInviteFragment } from './screens/join.js';
import { AccountScreen } from './screens/account.js';
import { OpenMessageScreen } from './screens/open-message.js';

interface AppState {
  who: SignedIn;
  signOut: () => Promise<void>;
}

const Session = createContext<AppState | undefined>(undefined);

export function useSession(): AppState {
  const state = useContext(Session);
  if (state === undefined) throw new Error('useSession outside a signed-in screen');
  return state;
}

interceptLinks();
// The invite fragment is read once at start and removed from the address bar (and history).
const inviteAtStart = takeInviteFragment();

function LiveBadge() {
  const [status, setStatus] = useState<'connecting' | 'online' | 'offline'>('offline');
  useEffect(() => onLiveStatus(setStatus), []);
  return (
    <span class="pill" data-live={status} aria-live="polite">
      {status === 'online' ? 'Live' : status === 'connecting' ? 'Connecting…' : 'Offline'}
    </span>
  );
}

export function App() {
  const path = usePath();
  const [who, setWho] = useState<SignedIn | undefined>(undefined);
  const [booting, setBooting] = useState(true);
  const [bootError, setBootError] = useState<unknown>(undefined);
  const [invite, setInvite] = useState<string | undefined>(inviteAtStart);

  useEffect(() => {
    resume()
      .then((resumed) => setWho(resumed))
      .catch((error: unknown) => setBootError(error))
      .finally(() => setBooting(false));
  }, []);

  useEffect(() => {
    if (who !== undefined) startLive(who);
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
    navigate(invite !== undefined ? '/join' : path === '/join' ? '/' : path, { replace: true });
  };

  if (who === undefined) {
    return (
      <>
        <ErrorBanner error={bootError} />
        <AuthScreen onSignedIn={onSignedIn} inviteWaiting={invite !== undefined} {...(invite === undefined ? {} : { inviteLink: invite })} />
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
        navigate('/', { replace: true });
      }
    },
  };

  let screen;
  let params: Record<string, string> | undefined;
  if (path === '/join') screen = <JoinScreen link={invite} onDone={() => setInvite(undefined)} />;
  else if (path === '/account') screen = <AccountScreen />;
  else if ((params = match('/family/:familyId/message/:messageId', path))) screen = <OpenMessageScreen familyId={params.familyId!} messageId={params.messageId!} />;
  else if ((params = match('/family/:familyId/talk/:conversationId', path))) screen = <ConversationScreen familyId={params.familyId!} conversationId={params.conversationId!} />;
  else if ((params = match('/family/:familyId/:tab', path))) screen = <FamilyScreen familyId={params.familyId!} tab={params.tab!} />;
  else if ((params = match('/family/:familyId', path))) screen = <FamilyScreen familyId={params.familyId!} tab="messages" />;
  else screen = <HomeScreen />;

  return (
    <Session.Provider value={state}>
      <nav class="topbar" aria-label="Main">
        <a class="brand" href="/">
          Burrow
        </a>
        <span>
          <LiveBadge /> <a href="/account">Account</a>
        </span>
      </nav>
      {screen}
    </Session.Provider>
  );
}
