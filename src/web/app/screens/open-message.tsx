/**
 * Where a push notification about a message opens: finds the message's conversation from the
 * verified roster (a toy's reply belongs to its child's conversation) and goes there, where the
 * app fetches and decrypts it. Nothing the push carried is shown.
 */
import { useEffect, useState } from 'preact/hooks';
import { loadFamily, getMessage } from '../../../client/index.js';
import { ErrorBanner, Loading, Page } from '../../ui/kit.js';
import { useSession } from '../session-context.js';
import { navigate } from '../router.js';

export function OpenMessageScreen(props: { familyId: string; messageId: string }) {
  const { who } = useSession();
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    let live = true;
    (async () => {
      const [family, view] = await Promise.all([loadFamily(who.ctx, props.familyId), getMessage(who.ctx, { familyId: props.familyId, messageId: props.messageId })]);
      const toy = family.roster.toys.find((t) => t.toyId === view.senderId);
      const child = toy?.childId ?? view.recipients.find((id) => family.children.some((c) => c.childId === id));
      if (live) navigate(child === undefined ? `/family/${props.familyId}` : `/family/${props.familyId}/talk/${child}`, { replace: true });
    })().catch((caught: unknown) => {
      if (live) setError(caught);
    });
    return () => {
      live = false;
    };
  }, [who, props.familyId, props.messageId]);
  return (
    <Page title="Opening the message" back={{ href: `/family/${props.familyId}`, label: 'Family' }}>
      <ErrorBanner error={error} />
      {error === undefined && <Loading label="Opening the message…" />}
    </Page>
  );
}
