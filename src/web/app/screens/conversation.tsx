/**
 * A conversation (one child, or one toy): messages with play, receipts, save, delete; recording; the
 * approval queue. Where a message stands on approval (waiting, approved, declined by whom) comes from
 * the verified roster's head and the guardians' signed decisions (`approvalStateOf`), never from the
 * server's `needsApproval`; waiting is a state of its own, in neutral words and colour, and the
 * sender and the guardians can listen before a guardian decides.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { loadFamily, type OpenedFamily, approvalStateOf, approveMessage, declineMessage, deleteMessage, downloadAndOpenMessage, getMessage, listAllMessages, listMessages, markReceipt, saveMessage, sendMessage, type MessageApproval, type MessageViewT, ClientError, formerParticipant, readFamilyLog, toyRefusalsByMessage, type ToyRefusal, checkReceipts, playedOnToyOf, receiptSummary, refusalInWords, toyNames as loadToyNames, nameOf, playedBy, NetworkError, ApiError } from '../../../client/index.js';
import { Button, Card, Empty, ErrorBanner, Loading, Notice, Page } from '../../ui/kit.js';
import { useSession } from '../session-context.js';
import { onLive } from '../live.js';
import { formatDuration } from '../audio.js';
import { playableAudioBlob } from '../../lib/audio-types.js';
import { withCheckedProfiles } from '../../lib/profile-text.js';
import { QuietNotice } from './quiet-notice.js';
import { discardQueued, onOutbox, queueMessage, queuedMessages, type QueuedMessage } from '../outbox.js';
import { Recorder, type Recording } from './recorder.js';
import { formatWhen } from '../../lib/dates.js';

/** The date of a signed removal in the reader's locale: day and month (and the year if not this one), no time. */
function removalDate(at: number): string {
  const date = new Date(at);
  const thisYear = date.getFullYear() === new Date().getFullYear();
  return date.toLocaleDateString(undefined, thisYear ? { day: 'numeric', month: 'short' } : { day: 'numeric', month: 'short', year: 'numeric' });
}

/**
 * Who someone is, in words, from the verified roster; someone it no longer lists by the entries
 * around their removal ("Mia's toy Bunny, removed 12 Dec"). `toyNames` are the names the family
 * gave its toys, removed ones included.
 */
export function senderName(family: OpenedFamily, senderId: string, me: string, epoch?: number, toyNames?: ReadonlyMap<string, string>): string {
  if (senderId === me) return 'You';
  const toyLabel = (toyId: string, childId: string) => {
    const child = family.children.find((c) => c.childId === childId);
    const name = toyNames?.get(toyId);
    return `${child?.name ?? 'The'}'s toy${name === undefined ? '' : ` ${name}`}`;
  };
  const toy = family.roster.toys.find((t) => t.toyId === senderId);
  if (toy !== undefined) return toyLabel(toy.toyId, toy.childId);
  if (family.roster.members.some((m) => m.accountId === senderId)) return nameOf(family, senderId, { me });
  const former = epoch === undefined ? undefined : formerParticipant(family.roster, senderId, epoch);
  if (former === undefined) return 'Someone no longer in the family';
  const who = former.toy !== undefined ? toyLabel(former.toy.toyId, former.toy.childId) : former.member?.role === 'guardian' ? 'A guardian' : 'A relative';
  return `${who}, removed ${removalDate(former.removed.at)}`;
}

/** A guardian in words: "you", the name they signed for themselves in this family, or "a guardian". */
async function guardianWords(family: OpenedFamily, guardianId: string, me: string): Promise<string> {
  if (guardianId === me) return 'you';
  return family.members.find((m) => m.accountId === guardianId)?.name ?? 'a guardian';
}

/** Where a message stands on approval, judged from signed data; undefined while it is being checked. */
function useApproval(family: OpenedFamily, view: MessageViewT): MessageApproval | undefined {
  const [approval, setApproval] = useState<MessageApproval | undefined>(undefined);
  useEffect(() => {
    let live = true;
    void approvalStateOf(family, view).then((state) => {
      if (live) setApproval(state);
    }, () => {
      if (live) setApproval({ state: 'unverified', code: 'client/unverified' });
    });
    return () => {
      live = false;
    };
  }, [family, view]);
  return approval;
}

/** The approval state in plain, neutral words: waiting, approved by whom, declined by whom. */
function ApprovalLine(props: { family: OpenedFamily; approval: MessageApproval | undefined; mine: boolean }) {
  const { who } = useSession();
  const { approval } = props;
  const [by, setBy] = useState<string | undefined>(undefined);
  const decider = approval?.state === 'approved' || approval?.state === 'declined' ? approval.guardianId : undefined;
  useEffect(() => {
    let live = true;
    if (decider !== undefined) void guardianWords(props.family, decider, who.accountId).then((words) => live && setBy(words));
    return () => {
      live = false;
    };
  }, [props.family, decider, who.accountId]);
  if (approval?.state === 'waiting') {
    return (
      <div class="approval-line">
        <span class="pill" data-testid="approval-state" data-state="waiting">Waiting for approval</span>
        <span class="muted">{props.mine ? ' A guardian listens to it first; the toy plays it once approved.' : ' The toy plays it once a guardian approves it.'}</span>
      </div>
    );
  }
  if ((approval?.state === 'approved' || approval?.state === 'declined') && by !== undefined) {
    const declined = approval.state === 'declined';
    return (
      <div class="approval-line">
        <span class="pill" data-testid="approval-state" data-state={approval.state}>{declined ? `Declined by ${by}` : `Approved by ${by}`}</span>
        {declined && <span class="muted">{props.mine ? ' The toy will not play it.' : ' The toy will not play it; only its sender and the guardians see it.'}</span>}
      </div>
    );
  }
  return null;
}

/** A guardian's decision on a message waiting for approval: Approve or Decline (each signed, after the message verifies). */
function DecisionButtons(props: { family: OpenedFamily; view: MessageViewT; onDecided: (verdict: 'approved' | 'declined') => void; onError: (error: unknown) => void }) {
  const { who } = useSession();
  const [busy, setBusy] = useState<'approve' | 'decline' | undefined>(undefined);
  const decide = (verdict: 'approve' | 'decline') => {
    setBusy(verdict);
    const call = verdict === 'approve' ? approveMessage : declineMessage;
    call(who.ctx, { familyId: props.family.familyId, messageId: props.view.messageId })
      .then(() => props.onDecided(verdict === 'approve' ? 'approved' : 'declined'), props.onError)
      .finally(() => setBusy(undefined));
  };
  return (
    <>
      <Button busy={busy === 'approve'} disabled={busy !== undefined} onClick={() => decide('approve')}>
        Approve
      </Button>
      <Button variant="secondary" busy={busy === 'decline'} disabled={busy !== undefined} onClick={() => decide('decline')}>
        Decline
      </Button>
    </>
  );
}

/**
 * Opens and plays one message. `whose` says whose message and when ("Rose, 7 Dec 2026, 10:42"):
 * the play button and the audio player carry it, so a screen-reader user knows which they start.
 */
function Player(props: { family: OpenedFamily; view: MessageViewT; whose: string; openUnapproved?: boolean; onOpened?: () => void }) {
  const { who } = useSession();
  const [url, setUrl] = useState<string | undefined>(undefined);
  const [info, setInfo] = useState<{ durationMs: number; caption?: string } | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const [receipted, setReceipted] = useState(true);
  const audio = useRef<HTMLAudioElement>(null);
  useEffect(() => () => {
    if (url !== undefined) URL.revokeObjectURL(url);
  }, [url]);
  const open = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const downloaded = await downloadAndOpenMessage(who.ctx, { familyId: props.family.familyId, messageId: props.view.messageId, family: props.family, view: props.view, openUnapproved: props.openUnapproved === true });
      if (!downloaded.opened.ok && downloaded.opened.code === 'envelope/sender-removed') throw new ClientError('client/not-in-history', downloaded.opened.code);
      if (!downloaded.opened.ok) throw new ClientError('client/message-refused', downloaded.opened.code);
      const opened = downloaded.opened.value;
      // A guardian or the sender listening before approval is not the child hearing it: no 'played' receipt then.
      setReceipted(opened.approval.state === 'not-needed' || opened.approval.state === 'approved');
      // The Blob's type comes from the allow-list, never from the sender (lib/audio-types.ts).
      setUrl(URL.createObjectURL(playableAudioBlob(opened)));
      setInfo({ durationMs: opened.durationMs, ...(opened.caption === undefined ? {} : { caption: opened.caption }) });
      props.onOpened?.();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    if (url !== undefined) void audio.current?.play().catch(() => undefined);
  }, [url]);
  return (
    <div class="player">
      <ErrorBanner error={error} />
      {url === undefined ? (
        <Button variant="secondary" busy={busy} onClick={() => void open()} aria-label={`Play the message from ${props.whose}`}>
          ▶ Play
        </Button>
      ) : (
        <>
          <audio
            ref={audio}
            controls
            src={url}
            class="wide"
            aria-label={`Message from ${props.whose}`}
            data-testid="message-audio"
            onPlay={() => {
              if (props.view.senderId !== who.accountId && receipted) void markReceipt(who.ctx, { familyId: props.family.familyId, messageId: props.view.messageId, kind: 'played', family: props.family }).catch(() => undefined);
            }}
          />
          {info !== undefined && <span class="muted">{formatDuration(info.durationMs)}{info.caption ? ` · ${info.caption}` : ''}</span>}
        </>
      )}
    </div>
  );
}

/** A toy's name, in words, from the verified roster: "Mia's toy". */
function toyName(family: OpenedFamily, toyId: string): string {
  const toy = family.roster.entries.flatMap((e) => e.toys).find((t) => t.toyId === toyId);
  const child = toy === undefined ? undefined : family.children.find((c) => c.childId === toy.childId);
  return `${child?.name ?? 'The'}'s toy`;
}

/**
 * What happened to a message, from receipts verified against the roster: for one's own message,
 * its receipt line (Played only by a verified receipt of a toy of its recipients; a made-up one
 * shows as unverified); for any message a toy reported it could not play (guardians read the
 * reports in the security log), why, in plain words — until a toy of its child played it.
 */
function DeliveryLine(props: { family: OpenedFamily; view: MessageViewT; me: string; refusal: ToyRefusal | undefined }) {
  const [state, setState] = useState<{ summary: string; played: boolean } | undefined>(undefined);
  const mine = props.view.senderId === props.me;
  useEffect(() => {
    let live = true;
    void checkReceipts(props.family.roster, props.view).then((checked) => {
      if (!live) return;
      const summary = receiptSummary(checked, { me: props.me, roster: props.family.roster, recipients: props.view.recipients });
      const who = summary === 'Played' ? playedBy(props.family, checked, props.me) : '';
      setState({ summary: who === '' ? summary : `${summary} ${who}`, played: playedOnToyOf(props.family.roster, checked, props.view.recipients) });
    });
    return () => {
      live = false;
    };
  }, [props.family, props.view, props.me]);
  if (state === undefined) return null;
  return (
    <>
      {mine && (
        <span class="muted" data-testid="receipt" data-verified={state.summary === 'Unverified receipt' ? 'false' : 'true'}>
          <bdi>{state.summary}</bdi>
        </span>
      )}
      {!state.played && props.refusal !== undefined && (
        <span class="pill" data-testid="refusal">
          {refusalInWords(props.refusal.code, toyName(props.family, props.refusal.toyId))}
        </span>
      )}
    </>
  );
}

function MessageItem(props: { family: OpenedFamily; view: MessageViewT; toyNames: ReadonlyMap<string, string>; refusal: ToyRefusal | undefined; onChanged: () => void }) {
  const { who } = useSession();
  const { view, family } = props;
  const mine = view.senderId === who.accountId;
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState<string | undefined>(undefined);
  const act = (key: string, action: () => Promise<void>) => {
    setBusy(key);
    setError(undefined);
    action()
      .then(props.onChanged)
      .catch((caught: unknown) => setError(caught))
      .finally(() => setBusy(undefined));
  };
  const guardian = family.self.role === 'guardian';
  const canDelete = mine || guardian;
  const approval = useApproval(family, view);
  const undecided = approval?.state === 'waiting' || approval?.state === 'declined';
  // The sender and the guardians listen before a decision; the child's other relatives once it is approved.
  const mayListen = approval !== undefined && (!undecided || mine || guardian);
  return (
    <li class={`bubble${mine ? ' mine' : ''}`} data-message={view.messageId} data-sender={view.senderKind} data-approval={approval?.state}>
      <div>
        <strong data-testid="sender">{senderName(family, view.senderId, who.accountId, view.epoch, props.toyNames)}</strong> <span class="muted">{formatWhen(view.receivedAt)}</span>
      </div>
      <ApprovalLine family={family} approval={approval} mine={mine} />
      <ErrorBanner error={error} onDismiss={() => setError(undefined)} />
      {mayListen && <Player family={family} view={view} whose={`${senderName(family, view.senderId, who.accountId, view.epoch, props.toyNames)}, ${formatWhen(view.receivedAt)}`} openUnapproved={mine || guardian} />}
      <div class="button-row">
        {guardian && approval?.state === 'waiting' && <DecisionButtons family={family} view={view} onDecided={props.onChanged} onError={setError} />}
        <DeliveryLine family={family} view={view} me={who.accountId} refusal={props.refusal} />
        <Button variant="link" busy={busy === 'save'} onClick={() => act('save', () => saveMessage(who.ctx, { familyId: family.familyId, messageId: view.messageId, saved: !view.saved }))}>
          {view.saved ? 'Saved ★ (unsave)' : 'Save'}
        </Button>
        {canDelete && (
          <Button
            variant="link"
            busy={busy === 'delete'}
            onClick={() => {
              if (confirm('Delete this message for everyone?')) act('delete', () => deleteMessage(who.ctx, { familyId: family.familyId, messageId: view.messageId }));
            }}
          >
            Delete
          </Button>
        )}
      </div>
    </li>
  );
}

export function ConversationScreen(props: { familyId: string; conversationId: string }) {
  const { who } = useSession();
  const [family, setFamily] = useState<OpenedFamily | undefined>(undefined);
  const [messages, setMessages] = useState<MessageViewT[] | undefined>(undefined);
  const [toyNames, setToyNames] = useState<ReadonlyMap<string, string>>(new Map());
  const [refusals, setRefusals] = useState<Map<string, ToyRefusal>>(new Map());
  const [error, setError] = useState<unknown>(undefined);
  const [sent, setSent] = useState(false);
  const [queuedNow, setQueuedNow] = useState(false);
  const [queued, setQueued] = useState<QueuedMessage[]>([]);
  useEffect(() => {
    const refresh = () => void queuedMessages({ familyId: props.familyId, to: props.conversationId }).then(setQueued, () => undefined);
    refresh();
    const stop = onOutbox(() => {
      refresh();
      reload();
    });
    return stop;
  }, [props.familyId, props.conversationId]);
  const [version, setVersion] = useState(0);
  const reload = useCallback(() => setVersion((v) => v + 1), []);
  /** Full loads under way: one of them may have listed before an event, so the event starts another. */
  const loading = useRef(0);

  useEffect(() => {
    let live = true;
    let listing = true;
    loading.current += 1;
    const listed = (): void => {
      if (listing) loading.current -= 1;
      listing = false;
    };
    (async () => {
      const f = withCheckedProfiles(await loadFamily(who.ctx, props.familyId));
      const list = await listAllMessages(who.ctx, { familyId: props.familyId, conversation: props.conversationId });
      // Names label toys' replies; a name that does not load only leaves the label shorter.
      const names = await loadToyNames(who.ctx, f).catch(() => new Map<string, string>());
      if (!live) return;
      setFamily(f);
      setToyNames(names);
      setMessages(list.reverse());
      listed();
      // What the toys could not play, as they reported it to the security log (guardians read it).
      if (f.self.role === 'guardian') {
        const log = await readFamilyLog(who.ctx, props.familyId).catch(() => undefined);
        if (live && log?.ok === true) setRefusals(toyRefusalsByMessage(f.roster, log.events));
      }
      // Receipts: everything listed here reached this device.
      for (const m of list) markDelivered(m, f);
    })().catch((caught: unknown) => {
      if (live) setError(caught);
    }).finally(listed);
    return () => {
      live = false;
    };
  }, [who, props.familyId, props.conversationId, version]);

  const markDelivered = (m: MessageViewT, f: OpenedFamily): void => {
    if (m.senderId !== who.accountId && !m.receipts.some((r) => r.by === who.accountId)) {
      void markReceipt(who.ctx, { familyId: f.familyId, messageId: m.messageId, kind: 'delivered', family: f }).catch(() => undefined);
    }
  };

  // What the screen shows now, for the live handlers below (which outlive a render).
  const shown = useRef({ family, familyId: props.familyId, conversationId: props.conversationId });
  shown.current = { family, familyId: props.familyId, conversationId: props.conversationId };

  /**
   * Fetches one message again and puts it in place (added when it is new to this conversation,
   * dropped when it is gone or hidden now). A live event only names the message: what is shown
   * still comes from the server's view, checked on this device as every listed message is.
   */
  const refreshMessage = useCallback(async (messageId: string): Promise<void> => {
    const at = shown.current;
    let view: MessageViewT | undefined;
    try {
      view = await getMessage(who.ctx, { familyId: at.familyId, messageId });
    } catch (caught) {
      if (!(caught instanceof ApiError && caught.status === 404)) throw caught;
    }
    const now = shown.current;
    if (now.familyId !== at.familyId || now.conversationId !== at.conversationId) return;
    const fresh = view !== undefined && view.recipients.includes(at.conversationId) ? view : undefined;
    setMessages((list) => {
      if (list === undefined) return list;
      if (fresh === undefined) return list.filter((m) => m.messageId !== messageId);
      if (list.some((m) => m.messageId === messageId)) return list.map((m) => (m.messageId === messageId ? fresh : m));
      return [...list, fresh].sort((a, b) => a.receivedAt - b.receivedAt);
    });
    if (fresh !== undefined && now.family !== undefined) markDelivered(fresh, now.family);
  }, [who]);

  useEffect(
    () =>
      onLive((event) => {
        if (event.familyId !== props.familyId) return;
        const family = shown.current.family;
        if (loading.current > 0 && event.event !== 'message-deleted') {
          reload();
          return;
        }
        switch (event.event) {
          case 'roster':
          case 'child':
            // Keys, members or children changed: the family is verified again, and its messages with it.
            reload();
            return;
          case 'message':
            // Sealed in an epoch this device has not verified yet: the family first, then everything.
            if (family === undefined || event.data.epoch > family.roster.epoch) reload();
            else void refreshMessage(event.data.messageId).catch(reload);
            return;
          case 'message-deleted':
            setMessages((list) => list?.filter((m) => m.messageId !== event.data.messageId));
            return;
          case 'receipt':
          case 'approval':
          case 'decline':
            void refreshMessage(event.data.messageId).catch(reload);
            return;
        }
      }),
    [props.familyId, reload, refreshMessage],
  );

  const child = family?.children.find((c) => c.childId === props.conversationId);
  const toy = family?.roster.toys.find((t) => t.toyId === props.conversationId);
  const toyChild = toy === undefined ? undefined : family?.children.find((c) => c.childId === toy.childId);
  // A child's conversation with no toy of theirs in the verified roster: messages wait for one.
  const noToyYet = child !== undefined && family !== undefined && !family.roster.toys.some((t) => t.childId === child.childId);
  const title = child !== undefined ? `${child.emoji ?? ''} ${child.name ?? 'A child'}` : toy !== undefined && family !== undefined ? senderName(family, toy.toyId, who.accountId, undefined, toyNames) : 'Conversation';

  const send = async (recording: Recording) => {
    if (family === undefined) return;
    setSent(false);
    setQueuedNow(false);
    let messageId: string;
    try {
      ({ messageId } = await sendMessage(who.ctx, { familyId: family.familyId, to: props.conversationId, audio: recording.audio, audioType: recording.audioType, durationMs: recording.durationMs, family }));
    } catch (error) {
      if (!(error instanceof NetworkError)) throw error;
      // Offline: kept on this device, sealed and sent when the connection returns (./outbox.ts).
      await queueMessage({ familyId: family.familyId, to: props.conversationId, audio: recording.audio, audioType: recording.audioType, durationMs: recording.durationMs });
      setQueuedNow(true);
      return;
    }
    setSent(true);
    void refreshMessage(messageId).catch(reload);
  };

  return (
    <Page title={title} back={{ href: `/family/${props.familyId}`, label: family?.name ?? 'Family' }}>
      <ErrorBanner error={error} />
      {family === undefined && error === undefined && <Loading />}
      {family !== undefined && messages !== undefined && (
        <>
          {messages.length === 0 && <Empty>No messages yet. Record the first one below.</Empty>}
          <ul class="conversation list" aria-live="polite" aria-label="Messages">
            {messages.map((m) => (
              <MessageItem key={m.messageId} family={family} view={m} toyNames={toyNames} refusal={refusals.get(m.messageId)} onChanged={() => void refreshMessage(m.messageId).catch(reload)} />
            ))}
          </ul>
          {queued.length > 0 && (
            <ul class="conversation list" aria-label="Waiting to be sent">
              {queued.map((q) => (
                <li key={q.id} class="bubble mine queued" data-queued={q.id}>
                  <strong>You</strong> <span class="muted">{formatWhen(q.recordedAt)}</span>
                  <p class="muted">{q.failed === undefined ? `Waiting to be sent (${Math.round(q.durationMs / 1000)} s): it goes as soon as this device is back online.` : `Not sent: the server refused it (${q.failed}).`}</p>
                  <Button variant="link" onClick={() => void discardQueued(q.id)}>
                    Throw away
                  </Button>
                </li>
              ))}
            </ul>
          )}
          {queuedNow && <Notice focus>You are offline. The message is kept on this device and sent as soon as you are back online.</Notice>}
          {sent && (
            <Notice tone="success" focus>
              {noToyYet ? `Sent, encrypted. It waits until ${child?.name ?? 'the child'} has a toy, and plays once one is paired.` : 'Sent, encrypted. It plays on the toy when the toy is online.'}
            </Notice>
          )}
          {noToyYet && (
            <Notice tone="warning">
              <span data-testid="no-toy">{child?.name ?? 'This child'} has no toy yet — the message will wait and play once a toy is paired.</span>
            </Notice>
          )}
          {family.self.needsApproval === true && <Notice>A guardian approves your messages before the toy plays them.</Notice>}
          <QuietNotice settings={family.settings} childName={child?.name ?? toyChild?.name} />
          <Card>
            <Recorder label={`Record a message for ${child?.name ?? toyChild?.name ?? 'them'}`} onSend={send} />
          </Card>
        </>
      )}
    </Page>
  );
}

/**
 * Messages from relatives waiting for a guardian's decision: one card each with Play, Approve and
 * Decline. The server's queue says which messages to look at; each is shown only if the verified
 * head marks its sender as needing approval and no guardian's signed decision settles it.
 */
export function ApprovalQueue(props: { family: OpenedFamily }) {
  const { who } = useSession();
  const [pending, setPending] = useState<MessageViewT[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [decided, setDecided] = useState<'approved' | 'declined' | undefined>(undefined);
  const [version, setVersion] = useState(0);
  const loading = useRef(0);
  useEffect(() => {
    let live = true;
    loading.current += 1;
    (async () => {
      const page = await listMessages(who.ctx, { familyId: props.family.familyId, pendingApproval: true, limit: 50 });
      const states = await Promise.all(page.messages.map((m) => approvalStateOf(props.family, m)));
      if (live) setPending(page.messages.filter((_, i) => states[i]!.state === 'waiting'));
    })().catch((caught: unknown) => {
      if (live) setError(caught);
    }).finally(() => {
      loading.current -= 1;
    });
    return () => {
      live = false;
    };
  }, [who, props.family, version]);
  const family = useRef(props.family);
  family.current = props.family;
  useEffect(
    () =>
      onLive((event) => {
        if (event.familyId !== props.family.familyId) return;
        if (loading.current > 0 && event.event !== 'message-deleted') {
          // A listing under way may predate this event: list again.
          setVersion((v) => v + 1);
          return;
        }
        switch (event.event) {
          case 'roster':
            setVersion((v) => v + 1);
            return;
          case 'message-deleted':
            setPending((list) => list?.filter((m) => m.messageId !== event.data.messageId));
            return;
          case 'message':
          case 'approval':
          case 'decline': {
            // The event names the message; whether it waits is judged again from its signed data.
            const { messageId } = event.data;
            const at = family.current;
            void (async () => {
              const view = await getMessage(who.ctx, { familyId: at.familyId, messageId }).catch((caught: unknown) => {
                if (caught instanceof ApiError && caught.status === 404) return undefined;
                throw caught;
              });
              const waiting = view !== undefined && (await approvalStateOf(at, view)).state === 'waiting';
              if (family.current !== at) return;
              setPending((list) => {
                if (list === undefined) return list;
                const rest = list.filter((m) => m.messageId !== messageId);
                return waiting ? [view, ...rest].sort((a, b) => b.receivedAt - a.receivedAt) : rest;
              });
            })().catch(() => setVersion((v) => v + 1));
            return;
          }
        }
      }),
    [who, props.family.familyId],
  );
  if (pending === undefined || (pending.length === 0 && error === undefined && decided === undefined)) return null;
  return (
    <Card title="Waiting for your approval">
      <ErrorBanner error={error} onDismiss={() => setError(undefined)} />
      {decided === 'approved' && <Notice tone="success">Approved. The toy plays it now.</Notice>}
      {decided === 'declined' && <Notice>Declined. The toy will not play it; its sender sees that a guardian declined it.</Notice>}
      <p class="muted">These relatives' messages play on the toy only after a guardian approves them. Listen first, then approve or decline.</p>
      <ul class="list">
        {pending.map((m) => (
          <li key={m.messageId} class="decision" data-message={m.messageId}>
            <div>
              <strong>{senderName(props.family, m.senderId, who.accountId)}</strong> <span class="muted">{formatWhen(m.receivedAt)}</span>{' '}
              <span class="pill" data-testid="approval-state" data-state="waiting">Waiting for approval</span>
            </div>
            <Player family={props.family} view={m} whose={`${senderName(props.family, m.senderId, who.accountId)}, ${formatWhen(m.receivedAt)}`} openUnapproved />
            <div class="button-row">
              <DecisionButtons
                family={props.family}
                view={m}
                onDecided={(verdict) => {
                  setDecided(verdict);
                  setVersion((v) => v + 1);
                }}
                onError={setError}
              />
            </div>
          </li>
        ))}
      </ul>
    </Card>
  );
}
