/** The families this account is in, and creating one. */
import { useEffect, useState } from 'preact/hooks';
import { createFamily, listFamilies, loadFamily } from '../../../client/families.js';
import { Button, Card, Empty, ErrorBanner, Field, Loading, Notice, Page } from '../../ui/kit.js';
import { useSession } from '../app.js';
import { navigate } from '../router.js';

type FamilyRow = Awaited<ReturnType<typeof listFamilies>>[number];

export function HomeScreen() {
  const { who } = useSession();
  const [families, setFamilies] = useState<FamilyRow[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [waiting, setWaiting] = useState<string[]>([]);
  const [version, setVersion] = useState(0);

  useEffect(() => {
    let live = true;
    (async () => {
      const rows = await listFamilies(who.ctx);
      if (!live) return;
      setFamilies(rows);
      // Invites this device accepted whose guardian has not let us in yet (they survive a reload).
      const pending: string[] = [];
      for (const familyId of await who.ctx.store.listFamilies()) {
        if (rows.some((r) => r.familyId === familyId)) continue;
        const state = await who.ctx.store.loadFamily(familyId);
        if (state?.pendingInvite !== undefined && state.anchor === undefined) pending.push(familyId);
      }
      if (live) setWaiting(pending);
      // A family this device has not opened yet (a new device, or after signing out) has no name
      // here: load it, which verifies it from the account vault's anchor and opens its name.
      for (const row of rows.filter((r) => r.name === undefined)) {
        try {
          const family = await loadFamily(who.ctx, row.familyId);
          if (!live) return;
          setFamilies((current) => current?.map((r) => (r.familyId === row.familyId ? { ...r, name: family.name } : r)));
        } catch {
          // Not verifiable from here (or not let in yet): the row keeps its placeholder; opening it shows why.
        }
      }
    })().catch((caught: unknown) => {
      if (live) setError(caught);
    });
    return () => {
      live = false;
    };
  }, [who, version]);

  // While an invite waits, look every few seconds whether the guardian has let us in.
  useEffect(() => {
    if (waiting.length === 0) return;
    const timer = setInterval(() => {
      void Promise.all(waiting.map((familyId) => loadFamily(who.ctx, familyId).then(() => true, () => false))).then((results) => {
        if (results.some(Boolean)) setVersion((v) => v + 1);
      });
    }, 5000);
    return () => clearInterval(timer);
  }, [who, waiting]);

  const create = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const family = await createFamily(who.ctx, { name });
      navigate(`/family/${family.familyId}/people`);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Page title="Your families">
      <ErrorBanner error={error} onDismiss={() => setError(undefined)} />
      {families === undefined && error === undefined && <Loading />}
      {waiting.length > 0 && (
        <Notice>
          You accepted an invite to {waiting.length === 1 ? 'a family' : `${waiting.length} families`}. The guardian who invited you must now let you in, on the device they made the invite with; the family appears here when they have.
        </Notice>
      )}
      {families !== undefined && families.length === 0 && waiting.length === 0 && <Empty>You are not in a family yet. Create one below, or open an invite link a guardian sent you.</Empty>}
      {families !== undefined && families.length > 0 && (
        <Card>
          <ul class="list">
            {families.map((f) => (
              <li key={f.familyId}>
                <span class="emoji" aria-hidden="true">
                  🏡
                </span>
                <a class="grow" href={`/family/${f.familyId}`}>
                  {f.name ?? 'A family (open it to load it on this device)'}
                </a>
                <span class="pill">{f.role}</span>
              </li>
            ))}
          </ul>
        </Card>
      )}
      <Card title="Create a family">
        <form onSubmit={(event) => void create(event)}>
          <Field label="Family name" name="family-name" value={name} onValue={setName} maxLength={64} hint="Only your family sees it: it is encrypted." required />
          <Button type="submit" busy={busy} disabled={name.trim().length === 0}>
            Create the family
          </Button>
        </form>
      </Card>
    </Page>
  );
}
