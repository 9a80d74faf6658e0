/**
 * The virtual toy's screen: switch it on, its pairing code (big, with its expiry), then its
 * child's emoji, what it is doing (playing, recording, sending), a big button to record a reply
 * (hold to talk, or tap to start and tap to stop), a status line and a reset button.
 *
 * For tests and curious people the root element carries what the toy observably does, nothing
 * secret: `data-phase`, `data-online`, `data-queued`, `data-played`, `data-refused`,
 * `data-last-refusal`, `data-waiting`, `data-last-waiting`, `data-playing`, `data-last-played-id`, `data-last-played-duration-ms`,
 * `data-last-played-rms` (the decoded audio's loudness), `data-last-played-volume` (the signed limit it played at), `data-recording`, `data-mic`, `data-sent`, `data-roster-refused`, `data-key-refused`,
 * `data-last-chime-volume` (the new volume limit the toy last chimed at);
 * while pairing, the code element carries `data-code`, `data-runs-left` and `data-code-expires-at` (the toy's own count and clock).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { describeFailure, refusalInWords } from '../../client/index.js';
import { Button, Notice, Page } from '../ui/kit.js';
import type { ToySnapshot, VirtualToy } from './virtual-toy.js';

/** What went wrong, in words a child's grown-up can act on. */
function ToyError(props: { error: unknown }) {
  if (props.error === undefined || props.error === null) return null;
  return (
    <div class="banner banner-error" role="alert">
      <span>{describeFailure(props.error, { audience: 'toy' }).words}</span>
    </div>
  );
}

function useSnapshot(toy: VirtualToy): ToySnapshot {
  const [snapshot, setSnapshot] = useState(toy.snapshot);
  useEffect(() => toy.subscribe(setSnapshot), [toy]);
  return snapshot;
}

/** Re-renders every second (countdowns). */
function useNow(active: boolean): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!active) return undefined;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [active]);
  return now;
}

function spacedCode(code: string): string {
  return `${code.slice(0, 4)} ${code.slice(4)}`;
}

function clock(at: number): string {
  return new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function left(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function SwitchOn(props: { toy: VirtualToy }) {
  return (
    <div class="toy-center">
      <div class="toy-face" aria-hidden="true">
        🧸
      </div>
      <p>
        This page is a toy. Pair it with a family in the Burrow app: it then plays their voice messages and records replies, like a real toy
        would.
      </p>
      <Button class="toy-power" onClick={() => void props.toy.switchOn()}>
        Switch the toy on
      </Button>
    </div>
  );
}

function Pairing(props: { snapshot: ToySnapshot }) {
  const pairing = props.snapshot.pairing;
  const now = useNow(pairing !== undefined);
  if (pairing === undefined) return null;
  return (
    <div class="toy-center">
      <p class="toy-label" id="code-label">
        Pairing code
      </p>
      <p class="toy-code" aria-labelledby="code-label" data-code={pairing.code} data-runs-left={String(pairing.runsLeft ?? 3)} data-code-expires-at={String(pairing.expiresAt)}>
        {spacedCode(pairing.code)}
      </p>
      <p>
        In the Burrow app, a guardian opens the family, chooses <strong>Add a toy</strong> and types this code.
      </p>
      <p class="muted">
        {/* What the toy itself counts: its own clock and its own tally of tries, never the server's. */}
        The code works until {clock(pairing.expiresAt)} ({left(pairing.expiresAt - now)} left) and for {pairing.runsLeft ?? 3} more {(pairing.runsLeft ?? 3) === 1 ? 'try' : 'tries'}; then the toy shows a new code.
      </p>
      {/* Announced when the tries change, not every second of the countdown. */}
      <p class="sr-only" aria-live="polite">
        {(pairing.runsLeft ?? 3) < 3 ? `${pairing.runsLeft ?? 3} ${(pairing.runsLeft ?? 3) === 1 ? 'try' : 'tries'} left for this code.` : ''}
      </p>
    </div>
  );
}

function Meter(props: { toy: VirtualToy; active: boolean }) {
  const meter = useRef<HTMLMeterElement>(null);
  useEffect(() => {
    if (!props.active) return undefined;
    let frame = 0;
    const draw = (): void => {
      if (meter.current) meter.current.value = props.toy.level();
      frame = requestAnimationFrame(draw);
    };
    frame = requestAnimationFrame(draw);
    return () => cancelAnimationFrame(frame);
  }, [props.active, props.toy]);
  return <meter ref={meter} class="meter" min={0} max={1} value={0} aria-label="Microphone level" hidden={!props.active} />;
}

function RecordButton(props: { toy: VirtualToy; snapshot: ToySnapshot }) {
  const { toy } = props;
  const state = props.snapshot.recording;
  const label = state === 'holding' ? 'Recording… let go to send' : state === 'latched' ? 'Recording… tap to send' : state === 'sending' ? 'Sending…' : 'Hold to talk';
  return (
    <div class="recorder">
      <button
        type="button"
        class="record toy-record"
        aria-pressed={state === 'holding' || state === 'latched' ? 'true' : 'false'}
        disabled={state === 'sending'}
        onPointerDown={(event) => {
          if (event.button !== 0) return;
          (event.currentTarget as HTMLButtonElement).setPointerCapture(event.pointerId);
          void toy.press();
        }}
        onPointerUp={() => void toy.release()}
        onPointerCancel={() => void toy.release()}
        onKeyDown={(event) => {
          if (event.key === 'Enter' || event.key === ' ') {
            event.preventDefault();
            if (!event.repeat) void toy.toggle();
          }
        }}
        onContextMenu={(event) => event.preventDefault()}
      >
        {label}
      </button>
      <Meter toy={toy} active={state === 'holding' || state === 'latched'} />
      <p class="muted">Hold the button while you talk, or tap once to start and again to send.</p>
    </div>
  );
}

/** Why messages wait, in words (the last reason the runtime logged). */
function waitingFor(reason: string | undefined): string {
  if (reason === 'envelope/no-key') return ' for their key (sent before the toy was paired)';
  if (reason === 'envelope/roster-behind') return ' for the newest family list';
  return ' for a guardian’s approval';
}

function StatusLine(props: { snapshot: ToySnapshot }) {
  const s = props.snapshot;
  const parts = [s.online ? 'Online' : 'Offline'];
  if (s.queued > 0) parts.push(`${s.queued} ${s.queued === 1 ? 'reply' : 'replies'} waiting to be sent`);
  if (s.waiting > 0) parts.push(`${s.waiting} ${s.waiting === 1 ? 'message' : 'messages'} waiting${s.quietUntil !== undefined ? ` for the end of quiet time (${clock(s.quietUntil)})` : waitingFor(s.lastWaiting)}`);
  if (s.volumeLimit !== undefined) parts.push(`volume limit ${s.volumeLimit} %`);
  return (
    <p class={`toy-status ${s.online ? 'is-online' : 'is-offline'}`} role="status" aria-live="polite">
      <span class="toy-dot" aria-hidden="true" />
      {parts.join(' · ')}
    </p>
  );
}

function ResetButton(props: { toy: VirtualToy; label?: string }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!confirming) {
    return (
      <Button variant="secondary" onClick={() => setConfirming(true)}>
        {props.label ?? 'Reset the toy'}
      </Button>
    );
  }
  return (
    <div class="card toy-reset">
      <p>The toy forgets its family, its keys and every message on it, and shows a new pairing code.</p>
      <div class="button-row">
        <Button
          variant="danger"
          busy={busy}
          onClick={() => {
            setBusy(true);
            void props.toy.reset().finally(() => {
              setBusy(false);
              setConfirming(false);
            });
          }}
        >
          Yes, reset it
        </Button>
        <Button variant="secondary" onClick={() => setConfirming(false)}>
          Keep it
        </Button>
      </div>
    </div>
  );
}

function Paired(props: { toy: VirtualToy; snapshot: ToySnapshot }) {
  const s = props.snapshot;
  const name = s.child?.name;
  return (
    <div class="toy-center">
      <div class={`toy-face${s.playing !== undefined ? ' is-playing' : ''}`} aria-hidden="true">
        {s.child?.emoji ?? '🧸'}
      </div>
      <p class="toy-owner">
        {name !== undefined ? (
          <>
            <bdi>{name}</bdi>’s toy
          </>
        ) : (
          'Paired with a family'
        )}
      </p>
      <p class="toy-activity" aria-live="polite">
        {s.playing !== undefined ? '▶ Playing a message…' : s.played > 0 ? `${s.played} ${s.played === 1 ? 'message' : 'messages'} played` : 'Waiting for messages'}
      </p>
      <RecordButton toy={props.toy} snapshot={s} />
      <StatusLine snapshot={s} />
      {s.rosterRefused && (
        <div class="banner banner-warning" role="alert">
          The server sent a family list that does not check out. The toy ignores it and keeps the one it trusted, with its settings.
        </div>
      )}
      {s.refused > 0 && (
        <p class="muted">
          {s.refused} {s.refused === 1 ? 'message was' : 'messages were'} not played. {refusalInWords(s.lastRefusal ?? '', 'Last time, the toy')}
        </p>
      )}
    </div>
  );
}

/** The whole toy page. */
export function ToyApp(props: { toy: VirtualToy }) {
  const s = useSnapshot(props.toy);
  const data = {
    'data-phase': s.phase,
    'data-online': String(s.online),
    'data-queued': String(s.queued),
    'data-sent': String(s.sent),
    'data-played': String(s.played),
    'data-refused': String(s.refused),
    'data-last-refusal': s.lastRefusal ?? '',
    'data-waiting': String(s.waiting),
    'data-last-waiting': s.lastWaiting ?? '',
    'data-playing': s.playing ?? '',
    'data-recording': s.recording,
    'data-mic': s.micOpen ? 'open' : 'closed',
    'data-roster-refused': String(s.rosterRefused),
    'data-key-refused': String(s.keyRefused),
    'data-last-chime-volume': s.lastChime === undefined ? '' : String(s.lastChime.volume),
    'data-last-played-id': s.lastPlayed?.messageId ?? '',
    'data-last-played-duration-ms': s.lastPlayed === undefined ? '' : String(s.lastPlayed.durationMs),
    'data-last-played-rms': s.lastPlayed === undefined ? '' : s.lastPlayed.rms.toFixed(4),
    'data-last-played-volume': s.lastPlayed === undefined ? '' : String(s.lastPlayed.volume),
  };
  return (
    <div class="toy" id="virtual-toy" {...data}>
      <Page title="Virtual toy">
        <ToyError error={s.error} />
        {s.notice !== undefined && <Notice>{s.notice}</Notice>}
        {s.phase === 'off' && <SwitchOn toy={props.toy} />}
        {s.phase === 'starting' && (
          <p class="loading" role="status">
            <span class="spinner" aria-hidden="true" />
            Waking up…
          </p>
        )}
        {s.phase === 'pairing' && <Pairing snapshot={s} />}
        {s.phase === 'pairing-ended' && (
          <div class="toy-center">
            <Button onClick={() => void props.toy.newCode()}>Show a new code</Button>
          </div>
        )}
        {s.phase === 'paired' && <Paired toy={props.toy} snapshot={s} />}
        {s.phase === 'removed' && (
          <div class="toy-center">
            <p>This toy is no longer in its family: a guardian removed it, or it was reset. Reset it to pair it again.</p>
          </div>
        )}
        {s.phase === 'failed' && (
          <div class="toy-center">
            <Button onClick={() => void props.toy.switchOn()}>Try again</Button>
          </div>
        )}
        {(s.phase === 'paired' || s.phase === 'removed' || s.phase === 'failed') && (
          <div class="toy-footer">
            <ResetButton toy={props.toy} />
          </div>
        )}
      </Page>
    </div>
  );
}
