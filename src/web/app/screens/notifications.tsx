/** Notifications on this device: Web Push on or off, with what a push reveals, in words. */
import { useEffect, useState } from 'preact/hooks';
import { Button, Card, ErrorBanner, Notice } from '../../ui/kit.js';
import { currentPushSubscription, disablePush, enablePush, pushSupported } from '../../lib/push.js';
import { useSession } from '../session-context.js';

export function NotificationsCard() {
  const { who } = useSession();
  const [subscriptionId, setSubscriptionId] = useState<string | undefined | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const supported = pushSupported();

  useEffect(() => {
    currentPushSubscription(who.ctx).then(setSubscriptionId, setError);
  }, [who]);

  const act = async (action: () => Promise<string | undefined>) => {
    setBusy(true);
    setError(undefined);
    try {
      setSubscriptionId(await action());
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card title="Notifications on this device">
      <ErrorBanner error={error} onDismiss={() => setError(undefined)} />
      <p class="muted">
        A notification says only that something happened (a reply from a toy, someone asking to join, a message to approve), never who or what: Burrow opens it when you tap. The browser's push service learns when
        something happens, nothing more.
      </p>
      {!supported && <Notice>This browser cannot show notifications from Burrow.</Notice>}
      {supported && subscriptionId === undefined && (
        <Button busy={busy} onClick={() => void act(() => enablePush(who.ctx))}>
          Turn on notifications
        </Button>
      )}
      {supported && typeof subscriptionId === 'string' && (
        <>
          <Notice tone="success">Notifications are on for this device.</Notice>
          <Button variant="secondary" busy={busy} onClick={() => void act(async () => { await disablePush(who.ctx, subscriptionId); return undefined; })}>
            Turn off notifications
          </Button>
        </>
      )}
    </Card>
  );
}
