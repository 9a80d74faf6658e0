/**
 * Debian's opus-tools (`opusinfo`, `opusdec`) and sox: decoders independent of Burrow and of the
 * browser, to check that what Burrow writes is a real Ogg/Opus or WAV file. Without them the tests
 * that need them skip with one line saying how to get them; under `CI` (.ci/run installs them) a
 * missing tool fails instead.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

function onPath(command: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // Not in this folder.
    }
  }
  return false;
}

/** Whether opusdec, opusinfo and sox are all installed. */
export function hasAudioTools(): boolean {
  return onPath('opusdec') && onPath('opusinfo') && onPath('sox');
}

const ci = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

/** Whether tests needing the decoders skip: only outside CI, and then with one line on stderr. */
export function skipWithoutAudioTools(): boolean {
  if (hasAudioTools()) return false;
  if (ci) throw new Error('opusdec, opusinfo or sox is missing and CI is set, so the run fails. Install them (Debian/Ubuntu: apt-get install opus-tools sox).');
  process.stderr.write('opusdec, opusinfo or sox is missing: the independent-decoder tests are skipped. Install them (Debian/Ubuntu: apt-get install opus-tools sox).\n');
  return true;
}

/** A decoded sound: its length, loudness and what the decoder said about the input. */
export interface DecodedAudio {
  durationMs: number;
  /** Root mean square of all samples, full scale = 1. */
  rms: number;
  /** What opusinfo printed (Ogg input only). */
  info?: string;
}

/** The RMS and length of a 16-bit PCM WAV read with sox (`sox FILE -n stat`). */
async function soxStat(wav: string): Promise<{ durationMs: number; rms: number }> {
  const { stderr } = await run('sox', [wav, '-n', 'stat']);
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(-?[0-9.]+)`, 'm').exec(stderr);
    if (match === null) throw new Error(`sox stat printed no ${name}`);
    return Number(match[1]);
  };
  return { durationMs: Math.round(field('Length \\(seconds\\)') * 1000), rms: field('RMS\\s+amplitude') };
}

/**
 * Decodes `audio` outside the browser: Ogg/Opus with opusinfo (which checks every page's CRC and
 * granule position) then opusdec to WAV, WAV directly; sox measures the result.
 */
export async function decodeIndependently(audio: Uint8Array, format: 'audio/ogg' | 'audio/wav'): Promise<DecodedAudio> {
  const dir = await mkdtemp(join(tmpdir(), 'burrow-decode-'));
  try {
    if (format === 'audio/wav') {
      const wav = join(dir, 'in.wav');
      await writeFile(wav, audio);
      return await soxStat(wav);
    }
    const ogg = join(dir, 'in.ogg');
    const wav = join(dir, 'out.wav');
    await writeFile(ogg, audio);
    const info = await run('opusinfo', [ogg]);
    await run('opusdec', ['--quiet', ogg, wav]);
    if ((await readFile(wav)).length <= 44) throw new Error('opusdec wrote no samples');
    return { ...(await soxStat(wav)), info: `${info.stdout}${info.stderr}` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
