/**
 * The composer's word on quiet hours: while the family's signed quiet hours hold, a message sent
 * now waits on the toy and plays when they end. Read from the verified roster (the toys follow the
 * same rule), re-checked every minute while the screen is open.
 */
import { useEffect, useState } from 'preact/hooks';
import type { FamilySettings } from '../../../crypto/index.js';
import { quietUntil } from '../../../client/index.js';
import { Notice } from '../../ui/kit.js';

export function QuietNotice(props: { settings: FamilySettings; childName: string | undefined }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 60_000);
    return () => clearInterval(timer);
  }, []);
  const until = quietUntil(props.settings, now);
  if (until === undefined) return null;
  const time = new Date(until).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  const whose = props.childName === undefined ? 'the toys' : `${props.childName}’s toys`;
  return (
    <Notice>
      <span data-testid="quiet-notice">
        It is quiet time for <bdi>{whose}</bdi> until {time}. A message you send now waits on the toy and plays after that.
      </span>
    </Notice>
  );
}
