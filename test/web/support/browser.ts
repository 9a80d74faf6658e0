/**
 * Headless Chromium (`BURROW_CHROMIUM`, else Debian's `/usr/bin/chromium`; never a downloaded
 * browser, test/support/chromium.ts) driven by playwright-core, with a fake microphone fed from a
 * WAV file, and phone-sized contexts.
 */
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM_FLAGS, chromiumPath } from '../../support/chromium.js';

/** A phone's screen, for the screenshots in docs/screenshots. */
export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 } as const;

/**
 * Starts the tests' Chromium. With `micWav` its microphone plays that file in a loop (and is
 * granted to every page); with `cameraY4m` too, its camera shows that video. `executablePath`
 * replaces the tests' Chromium (a test of the set-up gives one that cannot start).
 */
export async function launchChromium(options: { micWav?: string; cameraY4m?: string; executablePath?: string } = {}): Promise<Browser> {
  const media = options.micWav === undefined ? [] : ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-audio-capture=${options.micWav}`];
  const camera = options.cameraY4m === undefined ? [] : [`--use-file-for-fake-video-capture=${options.cameraY4m}`];
  return chromium.launch({ executablePath: options.executablePath ?? chromiumPath(), args: [...CHROMIUM_FLAGS, ...media, ...camera] });
}

/** Something a test starts and must stop: a browser, a `burrow serve`, a proxy. */
interface Closable {
  close(): Promise<unknown>;
}

/**
 * Starts several things at once (a server and its browsers). When any fails to start, the others
 * that did start are closed before the first error is thrown, so a browser that cannot launch
 * leaves no `burrow serve` behind (and the other way round).
 */
export async function startTogether<T extends Closable[]>(starting: readonly [...{ [K in keyof T]: Promise<T[K]> }]): Promise<T> {
  const settled = await Promise.allSettled(starting);
  const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed !== undefined) {
    await Promise.allSettled(settled.map((result) => (result.status === 'fulfilled' ? result.value.close() : undefined)));
    throw failed.reason;
  }
  return settled.map((result) => (result as PromiseFulfilledResult<Closable>).value) as T;
}

/** A fresh phone-sized context (its own cookies and IndexedDB: a separate person or device). */
export async function newPhoneContext(browser: Browser, baseURL: string): Promise<BrowserContext> {
  const context = await browser.newContext({ ...PHONE, baseURL, hasTouch: true, locale: 'en-GB', timezoneId: 'Europe/London' });
  await context.grantPermissions(['microphone'], { origin: baseURL });
  await context.addInitScript({ content: AUDIO_PROBE });
  return context;
}

/**
 * Watches, inside each page, the audio the page itself records and hears, without changing what
 * the page does: every MediaRecorder chunk (the encoded bytes a leak would carry), every
 * `decodeAudioData` result and every audio Blob turned into a URL (an `<audio>` source).
 * Only the test reads them, through `recordedAudio` and `heardAudio`.
 */
const AUDIO_PROBE = `(() => {
  const probe = { recorded: [], decoded: [], blobs: [] };
  Object.defineProperty(window, '__burrowAudioProbe', { value: probe });
  const rmsOf = (buffer) => {
    let squares = 0, count = 0;
    for (let c = 0; c < buffer.numberOfChannels; c++) {
      const data = buffer.getChannelData(c);
      for (let i = 0; i < data.length; i++) squares += data[i] * data[i];
      count += data.length;
    }
    return count === 0 ? 0 : Math.sqrt(squares / count);
  };
  probe.rmsOf = rmsOf;
  if (typeof MediaRecorder === 'function') {
    const Original = MediaRecorder;
    class Probed extends Original {
      constructor(...args) {
        super(...args);
        this.addEventListener('dataavailable', (event) => { if (event.data && event.data.size > 0) probe.recorded.push(event.data); });
      }
    }
    window.MediaRecorder = Probed;
  }
  const decode = BaseAudioContext.prototype.decodeAudioData;
  probe.decode = (context, data) => decode.call(context, data);
  BaseAudioContext.prototype.decodeAudioData = function (data, ...rest) {
    const result = decode.call(this, data, ...rest);
    Promise.resolve(result).then((buffer) => { if (buffer) probe.decoded.push({ at: Date.now(), durationMs: buffer.duration * 1000, rms: rmsOf(buffer) }); }, () => {});
    return result;
  };
  const createObjectURL = URL.createObjectURL;
  URL.createObjectURL = function (object) {
    if (object instanceof Blob && object.type.startsWith('audio/')) probe.blobs.push({ at: Date.now(), blob: object });
    return createObjectURL.call(URL, object);
  };
})();`;

interface Probe {
  recorded: Blob[];
  decoded: HeardAudio[];
  blobs: Array<{ at: number; blob: Blob }>;
  rmsOf(buffer: AudioBuffer): number;
  /** The page's own decodeAudioData, unwatched. */
  decode(context: BaseAudioContext, data: ArrayBuffer): Promise<AudioBuffer>;
}

/** What a page heard: a decoded sound's length and loudness. */
export interface HeardAudio {
  at: number;
  durationMs: number;
  rms: number;
}

/**
 * Every sound the page decoded (Web Audio) or handed to a media element (an audio Blob URL,
 * decoded here in the page), oldest first.
 */
export async function heardAudio(page: Page): Promise<HeardAudio[]> {
  return page.evaluate(async () => {
    const probe = (window as unknown as { __burrowAudioProbe: Probe }).__burrowAudioProbe;
    const out: HeardAudio[] = [...probe.decoded];
    const context = new OfflineAudioContext(1, 1, 48_000);
    for (const { at, blob } of probe.blobs) {
      try {
        const buffer = await probe.decode(context, await blob.arrayBuffer());
        out.push({ at, durationMs: buffer.duration * 1000, rms: probe.rmsOf(buffer) });
      } catch {
        // Not decodable audio: nothing was heard from it.
      }
    }
    return out.sort((a, b) => a.at - b.at);
  });
}

/** The encoded bytes of every recording the page made (MediaRecorder chunks), base64. */
export async function recordedAudio(page: Page): Promise<Uint8Array[]> {
  const chunks = await page.evaluate(async () => {
    const probe = (window as unknown as { __burrowAudioProbe: Probe }).__burrowAudioProbe;
    const out: string[] = [];
    for (const blob of probe.recorded) {
      const bytes = new Uint8Array(await blob.arrayBuffer());
      let binary = '';
      for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      out.push(btoa(binary));
    }
    return out;
  });
  return chunks.map((b64) => new Uint8Array(Buffer.from(b64, 'base64')));
}

/** Forgets what the page heard so far, so the next `heardAudio` holds only what comes after. */
export async function forgetHeard(page: Page): Promise<void> {
  await page.evaluate(() => {
    const probe = (window as unknown as { __burrowAudioProbe: Probe }).__burrowAudioProbe;
    probe.decoded.length = 0;
    probe.blobs.length = 0;
  });
}
