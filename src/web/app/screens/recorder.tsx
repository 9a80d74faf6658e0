/**
 * Recording a voice message: hold the button to record and let go to stop, or tap once to start
 * and tap again to stop (keyboard and screen readers: each activation starts or stops). A level meter (AnalyserNode) shows the
 * microphone is heard; recording stops by itself at the maximum length. Then a preview to listen
 * to before sending, or to throw away.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { Button, ErrorBanner } from '../../ui/kit.js';
import { messageAudioFromRecording } from '../../../client/index.js';
import { formatDuration, recordingType } from '../audio.js';
import { onUploadProgress } from '../../lib/upload-progress.js';

export const MAX_RECORDING_MS = 60_000;
/** A press longer than this is a hold (release stops); a shorter one is a tap (the next tap stops). */
const HOLD_MS = 400;

export interface Recording {
  audio: Uint8Array;
  audioType: string;
  durationMs: number;
}

interface Live {
  recorder: MediaRecorder;
  stream: MediaStream;
  context: AudioContext;
  startedAt: number;
  timer: ReturnType<typeof setTimeout>;
  frame: number;
}

export function Recorder(props: { onSend: (recording: Recording) => Promise<void>; disabled?: boolean; label: string }) {
  const [state, setState] = useState<'idle' | 'starting' | 'recording' | 'preview' | 'sending'>('idle');
  const [level, setLevel] = useState(0);
  const [elapsed, setElapsed] = useState(0);
  const [error, setError] = useState<unknown>(undefined);
  const [progress, setProgress] = useState<{ sent: number; total: number } | undefined>(undefined);
  const [preview, setPreview] = useState<{ recording: Recording; url: string } | undefined>(undefined);
  const live = useRef<Live | undefined>(undefined);
  const previewHeading = useRef<HTMLParagraphElement>(null);
  // After recording, the focus moves to the preview: what to do next (listen, send, throw away).
  useEffect(() => {
    if (state === 'preview') previewHeading.current?.focus();
  }, [state]);
  const pressedAt = useRef(0);
  /** A hold released while the microphone was still opening: stop as soon as it is open. */
  const stopWhenStarted = useRef(false);
  const stateRef = useRef(state);
  /** The state, also kept in a ref that pointer handlers read without waiting for a render. */
  const go = (next: typeof state) => {
    stateRef.current = next;
    setState(next);
  };

  useEffect(
    () => () => {
      const current = live.current;
      if (current !== undefined) {
        clearTimeout(current.timer);
        cancelAnimationFrame(current.frame);
        current.stream.getTracks().forEach((t) => t.stop());
        void current.context.close();
      }
      if (preview !== undefined) URL.revokeObjectURL(preview.url);
    },
    [],
  );

  const start = async () => {
    setError(undefined);
    const type = recordingType();
    if (type === undefined) {
      setError(new TypeError('this browser cannot record audio'));
      return;
    }
    go('starting');
    let stream: MediaStream;
    try {
      // A voice message, not a call: no echo cancellation, noise suppression or automatic gain, so
      // the child hears the voice as the microphone heard it (automatic gain more than doubles a
      // quiet voice, and noise suppression eats a steady tone), as the virtual toy records too.
      stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
    } catch (caught) {
      go('idle');
      setError(caught);
      return;
    }
    const recorder = new MediaRecorder(stream, { mimeType: type });
    const chunks: Blob[] = [];
    recorder.ondataavailable = (event) => {
      if (event.data.size > 0) chunks.push(event.data);
    };
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const startedAt = performance.now();
    const tick = () => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      // RMS to a 0–1 meter on a gentle curve, so speech shows clearly.
      setLevel(Math.min(1, Math.sqrt(Math.sqrt(sum / samples.length)) * 1.6));
      setElapsed(performance.now() - startedAt);
      if (live.current !== undefined) live.current.frame = requestAnimationFrame(tick);
    };
    recorder.onstop = () => {
      const durationMs = Math.round(performance.now() - startedAt);
      void new Blob(chunks).arrayBuffer().then((buffer) => {
        let message: ReturnType<typeof messageAudioFromRecording>;
        try {
          // What the toys play: Ogg/Opus, remuxed here when the browser recorded WebM/Opus.
          message = messageAudioFromRecording(new Uint8Array(buffer));
        } catch (caught) {
          go('idle');
          setError(caught);
          return;
        }
        const recording: Recording = { audio: message.audio, audioType: message.audioType, durationMs: Math.min(durationMs, MAX_RECORDING_MS) };
        setPreview({ recording, url: URL.createObjectURL(new Blob([message.audio as Uint8Array<ArrayBuffer>], { type: message.audioType })) });
        go('preview');
      });
    };
    const timer = setTimeout(() => stop(), MAX_RECORDING_MS);
    live.current = { recorder, stream, context, startedAt, timer, frame: 0 };
    recorder.start(250);
    live.current.frame = requestAnimationFrame(tick);
    go('recording');
    if (stopWhenStarted.current) {
      stopWhenStarted.current = false;
      stop();
    }
  };

  const stop = () => {
    const current = live.current;
    if (current === undefined) return;
    live.current = undefined;
    clearTimeout(current.timer);
    cancelAnimationFrame(current.frame);
    if (current.recorder.state !== 'inactive') current.recorder.stop();
    current.stream.getTracks().forEach((t) => t.stop());
    void current.context.close();
    setLevel(0);
  };

  const onPointerDown = (event: PointerEvent) => {
    if (props.disabled === true) return;
    event.preventDefault();
    (event.currentTarget as HTMLElement).setPointerCapture?.(event.pointerId);
    if (stateRef.current === 'recording') {
      stop();
      return;
    }
    if (stateRef.current !== 'idle') return;
    stopWhenStarted.current = false;
    pressedAt.current = performance.now();
    void start();
  };
  const onPointerUp = () => {
    // A hold ends when the finger lifts; a tap leaves the recording running until the next tap.
    if (pressedAt.current !== 0 && performance.now() - pressedAt.current > HOLD_MS) {
      if (stateRef.current === 'recording') stop();
      else if (stateRef.current === 'starting') stopWhenStarted.current = true;
    }
    pressedAt.current = 0;
  };
  /**
   * Keyboard (Enter, Space) and assistive technology activate the button with a click that no
   * pointer made (`detail` 0): each such click starts or stops, like a tap. Clicks that follow a
   * pointer press are left to the pointer handlers above.
   */
  const onClick = (event: MouseEvent) => {
    if (event.detail !== 0) return;
    if (stateRef.current === 'recording') stop();
    else if (stateRef.current === 'idle') void start();
  };

  const discard = () => {
    if (preview !== undefined) URL.revokeObjectURL(preview.url);
    setPreview(undefined);
    go('idle');
  };
  const send = async () => {
    if (preview === undefined) return;
    go('sending');
    setError(undefined);
    setProgress(undefined);
    const unsubscribe = onUploadProgress((sent, total) => setProgress({ sent, total }));
    try {
      await props.onSend(preview.recording);
      discard();
    } catch (caught) {
      setError(caught);
      go('preview');
    } finally {
      unsubscribe();
      setProgress(undefined);
    }
  };

  const recording = state === 'recording' || state === 'starting';
  return (
    <div class="recorder" data-state={state}>
      <ErrorBanner error={error} onDismiss={() => setError(undefined)} />
      {state !== 'preview' && state !== 'sending' && (
        <>
          <button
            type="button"
            class="record"
            aria-pressed={recording ? 'true' : 'false'}
            disabled={props.disabled === true}
            onPointerDown={onPointerDown}
            onPointerUp={onPointerUp}
            onPointerCancel={onPointerUp}
            onClick={onClick}
            onContextMenu={(event) => event.preventDefault()}
          >
            {/* The accessible name is the visible text, starting with what the button does. */}
            <span class="record-main">{recording ? 'Stop recording' : props.label}</span> <span class="record-hint">{recording ? '(recording… tap to stop)' : '(hold to talk, or tap)'}</span>
          </button>
          <meter class="meter" min={0} max={1} value={level} aria-label="Microphone level" />
          {/* The running time is shown, not announced each second; the live region says only when recording starts. */}
          <p class="muted">{recording ? `${formatDuration(elapsed)} of ${formatDuration(MAX_RECORDING_MS)}` : `Up to ${MAX_RECORDING_MS / 1000} seconds.`}</p>
          <p class="sr-only" aria-live="polite">
            {recording ? 'Recording.' : ''}
          </p>
        </>
      )}
      {(state === 'preview' || state === 'sending') && preview !== undefined && (
        <div class="card wide">
          <p tabIndex={-1} ref={previewHeading}>
            Listen before sending ({formatDuration(preview.recording.durationMs)}):
          </p>
          <audio controls src={preview.url} class="wide" data-testid="preview" aria-label="Your recording, before sending" />
          {state === 'sending' && (
            <p role="status">
              {progress === undefined ? 'Encrypting on this device…' : `Sending… ${Math.round((100 * progress.sent) / Math.max(1, progress.total))}%`}{' '}
              {progress === undefined ? <progress aria-label="Upload progress" /> : <progress aria-label="Upload progress" max={progress.total} value={progress.sent} />}
            </p>
          )}
          <div class="button-row">
            <Button busy={state === 'sending'} onClick={() => void send()}>
              Send
            </Button>
            <Button variant="secondary" disabled={state === 'sending'} onClick={discard}>
              Throw away
            </Button>
          </div>
        </div>
      )}
    </div>
  );
}
