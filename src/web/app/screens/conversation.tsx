/** A conversation (one child, or one toy): messages with play, receipts, save, delete; recording; the approval queue. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { loadFamily, type OpenedFamily } from '../../../client/families.js';
import { approveMessage, deleteMessage, downloadAndOpenMessage, listAllMessages, listMessages, markReceipt, saveMessage, sendMessage, type MessageViewT } from '../../../client/messages.js';
import { ClientError } from '../../../client/client-error.js';
import { checkReceipts, receiptSummary } from '../../../client/receipts.js';
import { nameOf, playedBy } from '../../../client/names.js';
import { Button, Card, Empty, ErrorBanner, Loading, Notice, Page } from '../../ui/kit.js';
import { useSession } from '../app.js';
import { onLive } from '../live.js';
import { formatDuration } from '../audio.js';
import { AudioTypeRefused, playableAudioBlob } from '../../lib/audio-types.js';
import { withCheckedProfiles } from '../../lib/profile-text.js';
import { Recorder, type Recording } from './recorder.js';

/** Who someone is, in words, from the verified family (their own signed name; src/client/names.ts). */
function senderName(family: OpenedFamily, senderId: string, me: string): string {
  return nameOf(family, senderId, { me });
}

function Player(props: { family: OpenedFamily; view: MessageViewT; autoPlay?: boolean; onOpened?: () => void }) {
  const { who } = useSession();
  const [url, setUrl] = useState<string | undefined>(undefined);
  const [info, setInfo] = useState<{ durationMs: number; caption?: string } | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const audio = useRef<HTMLAudioElement>(null);
  useEffect(() => () => {
    if (url !== undefined) URL.revokeObjectURL(url);
  }, [url]);
  const open = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const downloaded = await downloadAndOpenMessage(who.ctx, { familyId: props.family.familyId, messageId: props.view.messageId, family: props.family, view: props.view });
      if (!downloaded.opened.ok) throw new ClientError('client/message-refused', downloaded.opened.code);
      const opened = downloaded.opened.value;
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
        <Button variant="secondary" busy={busy} onClick={() => void open()} aria-label="Play the message">
          ▶ Play
        </Button>
      ) : (
        <>
          <audio
            ref={audio}
            controls
            src={url}
            class="wide"
            data-testid="message-audio"
            onPlay={() => {
              if (props.view.senderId !== who.accountId) void markReceipt(who.ctx, { familyId: props.family.familyId, messageId: props.view.messageId, kind: 'played', family: props.family }).catch(() => undefined);
            }}
          />
          {info !== undefined && <span class="muted">{formatDuration(info.durationMs)}{info.caption ? ` · ${info.caption}` : ''}</span>}
        </>
      )}
    </div>
  );
}

/** The receipt line of one's own message, from receipts verified against the roster (a made-up one shows as unverified, never as Played). */
function ReceiptLine(props: { family: OpenedFamily; view: MessageViewT; me: string }) {
  const [summary, setSummary] = useState<string | undefined>(undefined);
  useEffect(() => {
    let live = true;
    void checkReceipts(props.family.roster, props.view).then((checked) => {
      if (!live) return;
      const summary = receiptSummary(checked, props.me);
      const who = summary === 'Played' ? playedBy(props.family, checked, props.me) : '';
      setSummary(who === '' ? summary : `${summary} ${who}`);
    });
    return () => {
      live = false;
    };
  }, [props.family, props.view, props.me]);
  if (summary === undefined) return null;
  return (
    <span class="muted" data-testid="receipt" data-verified={summary === 'Unverified receipt' ? 'false' : 'true'}>
      <bdi>{summary}</bdi>
    </span>
  );
}

function MessageItem(props: { family: OpenedFamily; view: MessageViewT; onChanged: () => void }) {
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
  const canDelete = mine || family.self.role === 'guardian';
  return (
    <li class={`bubble${mine ? ' mine' : ''}`} data-message={view.messageId} data-sender={view.senderKind}>
      <div>
        <strong>{senderName(family, view.senderId, who.accountId)}</strong> <span class="muted">{new Date(view.receivedAt).toLocaleString()}</span>
      </div>
      {view.needsApproval && view.approvals.length === 0 && <div class="pill">Waiting for a guardian's approval</div>}
      <ErrorBanner error={error} onDismiss={() => setError(undefined)} />
      <Player family={family} view={view} />
      <div class="button-row">
        {mine && <ReceiptLine family={family} view={view} me={who.accountId} />}
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
  const [error, setError] = useState<unknown>(undefined);
  const [sent, setSent] = useState(false);
  const [version, setVersion] = useState(0);
  const reload = useCallback(() => setVersion((v) => v + 1), []);

  useEffect(() => {
    let live = true;
    (async () => {
      const f = withCheckedProfiles(await loadFamily(who.ctx, props.familyId));
      const list = await listAllMessages(who.ctx, { familyId: props.familyId, conversation: props.conversationId });
      if (!live) return;
      setFamily(f);
      setMessages(list.reverse());
      // Receipts: everything listed here reached this device.
      for (const m of list) {
        if (m.senderId !== who.accountId && !m.receipts.some((r) => r.by === who.accountId)) {
          void markReceipt(who.ctx, { familyId: props.familyId, messageId: m.messageId, kind: 'delivered', family: f }).catch(() => undefined);
        }
      }
    })().catch((caught: unknown) => {
      if (live) setError(caught);
    });
    return () => {
      live = false;
    };
  }, [who, props.familyId, props.conversationId, version]);

  useEffect(
    () =>
      onLive((event) => {
        if (event.familyId !== props.familyId) return;
        if (['message', 'message-deleted', 'receipt', 'approval', 'roster', 'child'].includes(event.event)) reload();
      }),
    [props.familyId, reload],
  );

  const child = family?.children.find((c) => c.childId === props.conversationId);
  const toy = family?.roster.toys.find((t) => t.toyId === props.conversationId);
  const toyChild = toy === undefined ? undefined : family?.children.find((c) => c.childId === toy.childId);
  const title = child !== undefined ? `${child.emoji ?? ''} ${child.name ?? 'A child'}` : toy !== undefined ? `${toyChild?.name ?? 'The'}'s toy` : 'Conversation';

  const send = async (recording: Recording) => {
    if (family === undefined) return;
    setSent(false);
    await sendMessage(who.ctx, { familyId: family.familyId, to: props.conversationId, audio: recording.audio, audioType: recording.audioType, durationMs: recording.durationMs, family });
    setSent(true);
    reload();
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
              <MessageItem key={m.messageId} family={family} view={m} onChanged={reload} />
            ))}
          </ul>
          {sent && <Notice tone="success">Sent, encrypted. It plays on the toy when the toy is online.</Notice>}
          {family.self.needsApproval === true && <Notice>A guardian approves your messages before the toy plays them.</Notice>}
          <Card>
            <Recorder label={`Record a message for ${child?.name ?? toyChild?.name ?? 'them'}`} onSend={send} />
          </Card>
        </>
      )}
    </Page>
  );
}

/** Messages from relatives who need approval, for a guardian to listen to and approve (or delete). */
export function ApprovalQueue(props: { family: OpenedFamily }) {
  const { who } = useSession();
  const [pending, setPending] = useState<MessageViewT[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState<string | undefined>(undefined);
  // The message just approved stays in the list, with its audio, after the queue no longer holds it.
  const [played, setPlayed] = useState<{ id: string; url: string; message: MessageViewT } | undefined>(undefined);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    listMessages(who.ctx, { familyId: props.family.familyId, pendingApproval: true, limit: 50 }).then((page) => setPending(page.messages), setError);
  }, [who, props.family, version]);
  useEffect(
    () =>
      onLive((event) => {
        if (event.familyId === props.family.familyId && (event.event === 'message' || event.event === 'approval' || event.event === 'message-deleted')) setVersion((v) => v + 1);
      }),
    [props.family.familyId],
  );
  const shown = pending === undefined ? undefined : played === undefined || pending.some((m) => m.messageId === played.id) ? pending : [...pending, played.message];
  if (shown === undefined || (shown.length === 0 && error === undefined)) return null;
  return (
    <Card title="Waiting for your approval">
      <ErrorBanner error={error} onDismiss={() => setError(undefined)} />
      <p class="muted">These relatives' messages play on the toy only after a guardian approves them. Approving first checks the message is genuine.</p>
      <ul class="list">
        {shown.map((m) => (
          <li key={m.messageId}>
            <span class="grow">
              {senderName(props.family, m.senderId, who.accountId)} · {new Date(m.receivedAt).toLocaleString()}
              {played?.id === m.messageId && <audio controls autoPlay src={played.url} class="wide" />}
            </span>
            {played?.id === m.messageId && !(pending ?? []).some((p) => p.messageId === m.messageId) ? (
              <span class="muted">Approved</span>
            ) : (
            <Button
              busy={busy === m.messageId}
              onClick={() => {
                setBusy(m.messageId);
                approveMessage(who.ctx, { familyId: props.family.familyId, messageId: m.messageId })
                  .then((opened) => {
                    if (played !== undefined) URL.revokeObjectURL(played.url);
                    setPlayed({ id: m.messageId, url: URL.createObjectURL(playableAudioBlob(opened)), message: m });
                    setVersion((v) => v + 1);
                  })
                  .catch((caught: unknown) => {
                    setError(caught);
                    // Approved, but in a format the app does not play: the queue no longer holds it.
                    if (caught instanceof AudioTypeRefused) setVersion((v) => v + 1);
                  })
                  .finally(() => setBusy(undefined));
              }}
            >
              Approve
            </Button>
            )}
            <Button variant="link" onClick={() =>
                void deleteMessage(who.ctx, { familyId: props.family.familyId, messageId: m.messageId }).then(() => {
                  if (played?.id === m.messageId) setPlayed(undefined);
                  setVersion((v) => v + 1);
                }, setError)
              }
            >
              Delete
            </Button>
          </li>
        ))}
      </ul>
    </Card>
  );
}
