/** The families this account is in, and creating one. */
import { useEffect, useState } from 'preact/hooks';
import { createFamily, listFamilies, loadFamily } from '../../../client/families.js';
import { Button, Card, Empty, ErrorBanner, Field, Loading, Page } from '../../ui/kit.js';
import { useSession } from '../app.js';
import { navigate } from '../router.js';

type FamilyRow = Awaited<ReturnType<typeof listFamilies>>[number];

export function HomeScreen() {
  const { who } = useSession();
  const [families, setFamilies] = useState<FamilyRow[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    (async () => {
      const rows = await listFamilies(who.ctx);
      if (!live) return;
      setFamilies(rows);
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
  }, [who]);

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
      {families !== undefined && families.length === 0 && <Empty>You are not in a family yet. Create one below, or open an invite link a guardian sent you.</Empty>}
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
