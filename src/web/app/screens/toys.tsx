/** Toys: pair one by the code it shows, see each with its child, remove one. */
import { useEffect, useState } from 'preact/hooks';
import { type OpenedFamily, addToy, listToys, removeToy, type ToyInfo } from '../../../client/index.js';
import { Button, Card, Empty, ErrorBanner, Field, Loading, Notice, Select } from '../../ui/kit.js';
import { useSession } from '../session-context.js';
import { formatWhen } from '../../lib/dates.js';

/** What removing a toy does, said before it is done. */
export const REMOVE_TOY_WORDS =
  'Remove this toy? It stops receiving and playing messages at once, and it must be paired again to come back. ' +
  'Its past replies stay in your conversations, marked as from a removed toy, and keep playing in the app. ' +
  'The family’s keys are changed, so the toy cannot open anything sent from now on, and nothing it sends after today is accepted. ' +
  'This takes a moment: your device first checks the toy’s past replies so they can be kept.';

export function ToysTab(props: { family: OpenedFamily; onChanged: (f: OpenedFamily) => void }) {
  const { who } = useSession();
  const { family } = props;
  const guardian = family.self.role === 'guardian';
  const [toys, setToys] = useState<ToyInfo[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [code, setCode] = useState('');
  const [childId, setChildId] = useState(family.children[0]?.childId ?? '');
  const [name, setName] = useState('');
  const [busy, setBusy] = useState<string | undefined>(undefined);
  const [added, setAdded] = useState<{ text: string; childId: string; childName: string } | undefined>(undefined);

  useEffect(() => {
    listToys(who.ctx, { familyId: family.familyId }).then(setToys, setError);
  }, [who, family]);

  const pair = async (event: Event) => {
    event.preventDefault();
    setBusy('pair');
    setError(undefined);
    setAdded(undefined);
    try {
      const result = await addToy(who.ctx, { familyId: family.familyId, code, childId, ...(name.trim() === '' ? {} : { name }) });
      setCode('');
      setName('');
      const child = family.children.find((c) => c.childId === childId);
      setAdded({ text: `The toy is paired with ${child?.name ?? 'your child'}. Messages you send to ${child?.name ?? 'them'} now play on it.`, childId, childName: child?.name ?? 'your child' });
      props.onChanged(result.family);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(undefined);
    }
  };

  const childLabel = (id: string) => {
    const child = family.children.find((c) => c.childId === id);
    return child === undefined ? 'a child' : `${child.emoji ?? ''} ${child.name ?? 'a child'}`;
  };

  return (
    <>
      <ErrorBanner error={error} onDismiss={() => setError(undefined)} />
      {added !== undefined && (
        <>
          <Notice tone="success" focus>
            {added.text}
          </Notice>
          <div class="button-row">
            <a class="button button-primary" href={`/family/${family.familyId}/talk/${added.childId}`} data-testid="record-now">
              <span>
                Record for <bdi>{added.childName}</bdi> now
              </span>
            </a>
          </div>
        </>
      )}
      <Card title="Toys">
        {toys === undefined && error === undefined && <Loading />}
        {toys !== undefined && toys.length === 0 && <Empty>No toy yet.{guardian ? ' Add one below.' : ''}</Empty>}
        <ul class="list">
          {(toys ?? []).map((t) => (
            <li key={t.toyId} data-toy={t.toyId}>
              <span class="emoji" aria-hidden="true">
                🧸
              </span>
              <div class="grow">
                <strong>{t.name ?? 'Toy'}</strong>
                <div class="muted">
                  for {childLabel(t.childId)}
                  {t.lastSeenAt !== undefined ? ` · last seen ${formatWhen(t.lastSeenAt)}` : ''}
                </div>
                <a href={`/family/${family.familyId}/talk/${t.toyId}`}>Conversation with this toy</a>
              </div>
              {guardian && (
                <Button
                  variant="danger"
                  busy={busy === t.toyId}
                  onClick={() => {
                    if (!confirm(REMOVE_TOY_WORDS)) return;
                    setBusy(t.toyId);
                    removeToy(who.ctx, { familyId: family.familyId, toyId: t.toyId })
                      .then((f) => props.onChanged(f))
                      .catch((caught: unknown) => setError(caught))
                      .finally(() => setBusy(undefined));
                  }}
                >
                  Remove
                </Button>
              )}
            </li>
          ))}
        </ul>
      </Card>
      {guardian && (
        <Card title="Add a toy">
          {family.children.length === 0 ? (
            <Empty>
              Add a child first (<a href={`/family/${family.familyId}/people`}>People</a>): a toy belongs to one child.
            </Empty>
          ) : (
            <form onSubmit={(event) => void pair(event)}>
              <p class="muted">Switch the toy on and hold its button until it shows (or says) an 8-digit code. The code proves to both of you that you are pairing with each other; the server cannot see it.</p>
              <Field label="The code the toy shows" name="pairing-code" inputMode="numeric" autoComplete="off" value={code} onValue={setCode} placeholder="123 45678" maxLength={12} required />
              <Select label="Whose toy is it?" name="toy-child" value={childId} onValue={setChildId} options={family.children.map((c) => ({ value: c.childId, label: `${c.emoji ?? ''} ${c.name ?? 'A child'}` }))} />
              <Field label="Name (optional)" name="toy-name" value={name} onValue={setName} maxLength={64} placeholder="Bunny" />
              <Button type="submit" busy={busy === 'pair'} disabled={code.replace(/\D/g, '').length !== 8 || childId === ''} disabledReason="Type the 8 digits the toy shows.">
                {busy === 'pair' ? 'Pairing… keep the toy on' : 'Pair the toy'}
              </Button>
            </form>
          )}
        </Card>
      )}
    </>
  );
}
