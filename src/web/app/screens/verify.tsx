/**
 * Verifying a member, an optional step a member takes when they like (never on a first screen):
 * the safety code both devices compute from the two people's keys (src/crypto/identity.ts), shown
 * as 12 digits to read to each other and as a QR code for the other device's camera. Scanning
 * compares the whole 32-byte code; the frames come from getUserMedia and are decoded with
 * BarcodeDetector where the browser has it, else jsQR.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { encode } from 'uqr';
import { safetyCodeWith, verifyMember, type OpenedFamily } from '../../../client/index.js';
import type { SafetyCode } from '../../../crypto/index.js';
import { Button, ErrorBanner, Notice } from '../../ui/kit.js';
import { useSession } from '../session-context.js';

/** The QR code of `text` as SVG squares, with a four-module quiet zone (ISO/IEC 18004 §6.3.8). */
function QrCode(props: { text: string; label: string }) {
  const { data, size } = encode(props.text, { ecc: 'M', border: 0 });
  const quiet = 4;
  let path = '';
  data.forEach((row, y) => row.forEach((dark, x) => {
    if (dark) path += `M${x + quiet} ${y + quiet}h1v1h-1z`;
  }));
  const side = size + 2 * quiet;
  return (
    <svg class="qr" data-testid="safety-qr" role="img" aria-label={props.label} viewBox={`0 0 ${side} ${side}`} width={side * 6} height={side * 6} shape-rendering="crispEdges">
      <rect width={side} height={side} fill="#fff" />
      <path d={path} fill="#000" />
    </svg>
  );
}

interface Detector {
  detect(source: CanvasImageSource): Promise<Array<{ rawValue: string }>>;
}

/** Reads QR codes from the camera until one is found or the component goes away. */
function Scanner(props: { onText: (text: string) => void; onError: (error: unknown) => void }) {
  const video = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    let stream: MediaStream | undefined;
    let stopped = false;
    const canvas = document.createElement('canvas');
    const context = canvas.getContext('2d', { willReadFrequently: true });
    const BarcodeDetectorClass = (globalThis as { BarcodeDetector?: new (options: { formats: string[] }) => Detector }).BarcodeDetector;
    const detector = BarcodeDetectorClass === undefined ? undefined : new BarcodeDetectorClass({ formats: ['qr_code'] });
    // jsQR loads only when a scan starts and the browser has no BarcodeDetector.
    let decode: ((data: Uint8ClampedArray, width: number, height: number) => { data: string } | null) | undefined;
    const tick = async (): Promise<void> => {
      if (stopped) return;
      const v = video.current;
      if (v !== null && v.readyState >= 2 && v.videoWidth > 0) {
        try {
          let text: string | undefined;
          if (detector !== undefined) text = (await detector.detect(v).catch(() => []))[0]?.rawValue;
          if (text === undefined && context !== null) {
            decode ??= (await import('jsqr')).default;
            canvas.width = v.videoWidth;
            canvas.height = v.videoHeight;
            context.drawImage(v, 0, 0);
            const image = context.getImageData(0, 0, canvas.width, canvas.height);
            text = decode(image.data, image.width, image.height)?.data;
          }
          if (text !== undefined && !stopped) {
            props.onText(text);
            return;
          }
        } catch (error) {
          props.onError(error);
          return;
        }
      }
      setTimeout(() => void tick(), 150);
    };
    navigator.mediaDevices
      .getUserMedia({ video: { facingMode: 'environment' }, audio: false })
      .then(async (s) => {
        stream = s;
        if (stopped || video.current === null) return;
        video.current.srcObject = s;
        await video.current.play();
        void tick();
      })
      .catch(props.onError);
    return () => {
      stopped = true;
      for (const track of stream?.getTracks() ?? []) track.stop();
    };
  }, []);
  return <video ref={video} class="scanner" data-testid="qr-scanner" muted playsInline aria-label="Camera: point it at the code on their screen" />;
}

/** The Verify panel for one member: their safety code, its QR code, scanning theirs, or confirming the digits. */
export function VerifyMember(props: { family: OpenedFamily; accountId: string; name: string; verified: boolean; onVerified: () => void }) {
  const { who } = useSession();
  const [code, setCode] = useState<SafetyCode | undefined>(undefined);
  const [scanning, setScanning] = useState(false);
  const [result, setResult] = useState<'verified' | 'mismatch' | undefined>(props.verified ? 'verified' : undefined);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    safetyCodeWith(who.ctx, props.family, props.accountId).then(setCode, setError);
  }, [who, props.family, props.accountId]);

  const confirm = async (options: { scanned?: string; digitsConfirmed?: boolean }) => {
    setScanning(false);
    const ok = await verifyMember(who.ctx, { family: props.family, accountId: props.accountId, ...options });
    setResult(ok ? 'verified' : 'mismatch');
    if (ok) props.onVerified();
  };

  return (
    <div class="verify" data-testid="verify-panel">
      <ErrorBanner error={error} onDismiss={() => setError(undefined)} />
      <p class="muted">Optional: if your two devices show the same safety code, no one — not even the server — sits between you and {props.name}.</p>
      {code !== undefined && (
        <>
          <p class="code-box" data-testid="safety-code">
            {code.digits}
          </p>
          <QrCode text={code.qr} label={`Safety code with ${props.name}, for their camera`} />
        </>
      )}
      {result === 'verified' && (
        <Notice tone="success">
          <span data-testid="verify-result">Verified: your safety codes match.</span>
        </Notice>
      )}
      {result === 'mismatch' && (
        <Notice tone="warning">
          <span data-testid="verify-result">The code you scanned is not your safety code with {props.name}. Do not trust this device's view of them; tell a guardian.</span>
        </Notice>
      )}
      {scanning && <Scanner onText={(text) => void confirm({ scanned: text }).catch(setError)} onError={(caught) => { setScanning(false); setError(caught); }} />}
      <div class="button-row">
        <Button variant="secondary" onClick={() => setScanning(!scanning)}>
          {scanning ? 'Stop the camera' : 'Scan their code'}
        </Button>
        <Button variant="secondary" onClick={() => void confirm({ digitsConfirmed: true }).catch(setError)}>
          The digits match
        </Button>
      </div>
    </div>
  );
}
