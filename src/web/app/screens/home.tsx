/**
 * The families this account is in, and creating one. Families are told apart by more than their
 * name, which any member can set to anything (an attacker's family can be called "The Smiths"
 * too): each row says who its guardians are, from the verified roster ("you", the others by the
 * name they signed, marked "not verified" until this person has checked their safety code), and two
 * families with the same name are pointed out.
 */
import { useEffect, useState } from 'preact/hooks';
import { createFamily, listFamilies, loadFamily, verifiedMembers, type ClientContext, type OpenedFamily, nameOf } from '../../../client/index.js';
import { checkedName, withCheckedProfiles } from '../../lib/profile-text.js';
import { Button, Card, Empty, ErrorBanner, Field, Loading, Notice, Page } from '../../ui/kit.js';
import { useSession } from '../session-context.js';
import { navigate } from '../router.js';
import { keyStore } from '../session.js';

type FamilyRow = Awaited<ReturnType<typeof listFamilies>>[number] & { guardians?: string };

/**
 * The family's guardians in words: "you", the others by the name they signed, each "(not verified)"
 * until this person compared safety codes with them: a name is whatever its owner typed, the code is not.
 */
async function guardiansOf(ctx: ClientContext, family: OpenedFamily, me: string): Promise<string> {
  const checked = withCheckedProfiles(family);
  const verified = await verifiedMembers(ctx, family);
  const guardians = family.roster.members.filter((m) => m.role === 'guardian');
  const words: string[] = guardians.some((m) => m.accountId === me) ? ['you'] : [];
  for (const m of guardians) if (m.accountId !== me) words.push(`${nameOf(checked, m.accountId)}${verified.has(m.accountId) ? ' (verified)' : ' (not verified)'}`);
  return words.length === 0 ? 'none' : words.join(', ');
}

/** Names shared by more than one of the rows (compared without case and surrounding space). */
function sharedNames(rows: FamilyRow[]): Set<string> {
  const seen = new Map<string, number>();
  for (const r of rows) if (r.name !== undefined) seen.set(r.name.toLowerCase(), (seen.get(r.name.toLowerCase()) ?? 0) + 1);
  return new Set([...seen].filter(([, n]) => n > 1).map(([name]) => name));
}

export function HomeScreen() {
  const { who } = useSession();
  const [families, setFamilies] = useState<FamilyRow[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [name, setName] = useState('');
  const [myName, setMyName] = useState('');
  const [busy, setBusy] = useState(false);
  const [waiting, setWaiting] = useState<string[]>([]);
  const [version, setVersion] = useState(0);

  useEffect(() => {
    void keyStore.loadDisplayName().then((saved) => {
      if (saved !== undefined) setMyName((current) => (current === '' ? saved : current));
    });
  }, []);

  useEffect(() => {
    let live = true;
    (async () => {
      const rows: FamilyRow[] = (await listFamilies(who.ctx)).map((r) => ({ ...r, name: checkedName(r.name) }));
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
      // Each family is loaded (verified from this device's anchor, or the account vault's on a new
      // device): its name opens, and its guardians come from the verified roster.
      for (const row of rows) {
        try {
          const family = await loadFamily(who.ctx, row.familyId);
          const guardians = await guardiansOf(who.ctx, family, who.accountId);
          if (!live) return;
          setFamilies((current) => current?.map((r) => (r.familyId === row.familyId ? { ...r, name: checkedName(family.name), guardians } : r)));
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
      const mine = myName.trim();
      if (mine !== '') await keyStore.saveDisplayName(mine);
      const family = await createFamily(who.ctx, { name, ...(mine === '' ? {} : { myName: mine }) });
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
      {families !== undefined && sharedNames(families).size > 0 && (
        <Notice>
          Two of your families have the same name. Anyone can give a family any name: tell them apart by their guardians. A family whose guardians you do not know may not be the one you think.
        </Notice>
      )}
      {families !== undefined && families.length > 0 && (
        <Card>
          <ul class="list">
            {families.map((f) => (
              <li key={f.familyId} data-family={f.familyId}>
                <span class="emoji" aria-hidden="true">
                  🏡
                </span>
                <span class="grow">
                  <a href={`/family/${f.familyId}`}>
                    <bdi>{f.name ?? 'A family (open it to load it on this device)'}</bdi>
                  </a>
                  {f.guardians !== undefined && (
                    <span class="muted" data-testid="family-guardians">
                      {' '}
                      · guardians: {f.guardians}
                    </span>
                  )}
                  {f.name !== undefined && sharedNames(families).has(f.name.toLowerCase()) && <span class="pill">same name as another family</span>}
                </span>
                <span class="pill">{f.role}</span>
              </li>
            ))}
          </ul>
        </Card>
      )}
      <Card title="Create a family">
        <form onSubmit={(event) => void create(event)}>
          <Field label="Family name" name="family-name" value={name} onValue={setName} maxLength={64} hint="Only your family sees it: it is encrypted." required />
          <Field label="Your name in this family" name="my-name" value={myName} onValue={setMyName} maxLength={64} hint="How the others see you (“Mum”). Encrypted and signed by you." autoComplete="name" />
          <Button type="submit" busy={busy} disabled={name.trim().length === 0} disabledReason="Type a name for the family first.">
            Create the family
          </Button>
        </form>
      </Card>
    </Page>
  );
}
