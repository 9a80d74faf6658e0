/**
 * The first-run checklist of a family (guardians): add a child → pair a toy → record a first
 * message. Each step's state comes from the family as this device verified it (children, toys in
 * the roster) and from the messages the server lists. It shows until it is hidden on this browser.
 */
import { useEffect, useState } from 'preact/hooks';
import { type OpenedFamily, listMessages } from '../../../client/index.js';
import { Button, Card } from '../../ui/kit.js';
import { loadPreference, savePreference } from '../../lib/browser-stores.js';
import { useSession } from '../session-context.js';
import { onLive } from '../live.js';

interface Step {
  key: 'child' | 'toy' | 'message';
  label: string;
  done: boolean;
  href: string;
  action: string;
}

/** The steps, from the family's state. */
export function firstRunSteps(family: OpenedFamily, messageSent: boolean): Step[] {
  const f = `/family/${family.familyId}`;
  const withToy = family.children.find((c) => family.roster.toys.some((t) => t.childId === c.childId)) ?? family.children[0];
  return [
    { key: 'child', label: 'Add a child', done: family.children.length > 0, href: `${f}/people`, action: 'Add a child' },
    { key: 'toy', label: 'Pair a toy', done: family.roster.toys.length > 0, href: `${f}/toys`, action: 'Pair a toy' },
    { key: 'message', label: 'Record a first message', done: messageSent, href: withToy === undefined ? `${f}/people` : `${f}/talk/${withToy.childId}`, action: 'Record the first message' },
  ];
}

export function FirstRunChecklist(props: { family: OpenedFamily }) {
  const { who } = useSession();
  const { family } = props;
  const preference = `first-run-hidden:${family.familyId}`;
  const [hidden, setHidden] = useState<boolean | undefined>(undefined);
  const [messageSent, setMessageSent] = useState<boolean | undefined>(undefined);
  const [version, setVersion] = useState(0);

  useEffect(() => {
    loadPreference(preference).then(setHidden, () => setHidden(false));
  }, [preference]);
  useEffect(() => {
    if (hidden !== false) return;
    let live = true;
    listMessages(who.ctx, { familyId: family.familyId, limit: 20 }).then(
      (page) => {
        if (live) setMessageSent(page.messages.some((m) => m.senderKind === 'member'));
      },
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [who, family, hidden, version]);
  useEffect(() => onLive((event) => {
    // Once a member's message is listed the step stays done: later messages change nothing here.
    if (event.familyId === family.familyId && event.event === 'message' && messageSent !== true) setVersion((v) => v + 1);
  }), [family.familyId, messageSent]);

  if (family.self.role !== 'guardian' || hidden !== false || messageSent === undefined) return null;
  const steps = firstRunSteps(family, messageSent);
  const next = steps.find((s) => !s.done);
  const hide = () => {
    setHidden(true);
    void savePreference(preference, true).catch(() => undefined);
  };
  return (
    <Card title={next === undefined ? 'All set' : 'Get started'}>
      <div data-testid="first-run">
        <ol class="checklist">
          {steps.map((step, i) => (
            <li key={step.key} data-step={step.key} data-done={step.done ? 'true' : 'false'}>
              <span class="tick" aria-hidden="true">{step.done ? '✓' : i + 1}</span>
              <span class="step grow">
                {step.label}
                <span class="sr-only">{step.done ? ' (done)' : ' (to do)'}</span>
              </span>
            </li>
          ))}
        </ol>
        {next === undefined ? (
          <p>Your first message is on its way to the toy. Messages you record play on it; the child's replies come back here.</p>
        ) : (
          <div class="button-row">
            <a class="button button-primary" href={next.href} data-testid="first-run-next">
              {next.action}
            </a>
          </div>
        )}
        <Button variant="link" onClick={hide}>
          {next === undefined ? 'Close' : 'Hide this list'}
        </Button>
      </div>
    </Card>
  );
}
