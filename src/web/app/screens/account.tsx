/** The account: sessions (sign out one, or everywhere), sign out, delete the account. */
import { useEffect, useState } from 'preact/hooks';
import { Button, Card, ErrorBanner, Field, Loading, Notice, Page } from '../../ui/kit.js';
import { useSession } from '../session-context.js';
import { formatWhen } from '../../lib/dates.js';
import { NotificationsCard } from './notifications.js';

type SessionRow = { sessionId: string; label: string; createdAt: number; lastSeenAt: number; current: boolean };

export function AccountScreen() {
  const { who, signOut } = useSession();
  const [sessions, setSessions] = useState<SessionRow[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState<string | undefined>(undefined);
  const [confirmText, setConfirmText] = useState('');
  const [version, setVersion] = useState(0);

  useEffect(() => {
    who.ctx.api.listSessions().then((list) => setSessions(list.sessions), setError);
  }, [who, version]);

  const act = async (key: string, action: () => Promise<void>) => {
    setBusy(key);
    setError(undefined);
    try {
      await action();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <Page title="Your account" back={{ href: '/', label: 'Your families' }}>
      <ErrorBanner error={error} onDismiss={() => setError(undefined)} />
      <Card title="Where you are signed in">
        {sessions === undefined && error === undefined && <Loading />}
        <ul class="list">
          {(sessions ?? []).map((s) => (
            <li key={s.sessionId}>
              <div class="grow">
                <strong>{s.label || 'A session'}</strong> {s.current && <span class="pill">this device</span>}
                <div class="muted">Last used {formatWhen(s.lastSeenAt)}</div>
              </div>
              {!s.current && (
                <Button variant="link" busy={busy === s.sessionId} onClick={() => void act(s.sessionId, async () => { await who.ctx.api.revokeSession(s.sessionId); setVersion((v) => v + 1); })}>
                  Sign out
                </Button>
              )}
            </li>
          ))}
        </ul>
        <div class="button-row">
          <Button variant="secondary" busy={busy === 'everywhere'} onClick={() => void act('everywhere', async () => { await who.ctx.api.revokeAllSessions(); await signOut(); })}>
            Sign out everywhere
          </Button>
          <Button variant="secondary" busy={busy === 'out'} onClick={() => void act('out', signOut)}>
            Sign out
          </Button>
        </div>
        <p class="muted">Signing out forgets this device's keys. Invites you created here and nobody has used yet can then no longer be completed: create new ones.</p>
      </Card>
      <NotificationsCard />
      <Card title="Delete your account">
        <Notice tone="warning">
          This deletes your account and everything the server keeps for you, for good. Families where you are the only member are deleted with it. If you are the only guardian of a family others are in, make someone else a guardian (or delete the family) first.
        </Notice>
        <Field label='Type "delete my account" to confirm' name="confirm-delete" value={confirmText} onValue={setConfirmText} autoComplete="off" />
        <Button
          variant="danger"
          disabled={confirmText.trim().toLowerCase() !== 'delete my account'}
          disabledReason='Type "delete my account" above to confirm.'
          busy={busy === 'delete'}
          onClick={() =>
            void act('delete', async () => {
              const { deleteAccount } = await import('../../../client/account.js');
              await deleteAccount({ api: who.ctx.api });
              await signOut().catch(() => undefined);
            })
          }
        >
          Delete my account
        </Button>
      </Card>
    </Page>
  );
}
