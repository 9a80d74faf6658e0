/** The reference toy's chime: a WAV that its --play-command and independent tools read as 0.4 s of sound. */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { wavDurationMs } from '../../src/cli/message-commands.js';
import { chimeWav } from '../../src/toy/chime.js';

function hasSox(): boolean {
  try {
    execFileSync('sox', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('the toy chime', () => {
  it('is a 0.4 s mono 16-bit WAV, loud enough to hear and not clipped', async () => {
    const wav = chimeWav();
    expect(wavDurationMs(wav)).toBe(400);
    const samples = new Int16Array(wav.buffer.slice(44));
    const peak = Math.max(...samples.map((s) => Math.abs(s)));
    expect(peak).toBeGreaterThan(10_000);
    expect(peak).toBeLessThan(32_767);
    if (!hasSox()) return;
    const dir = await mkdtemp(join(tmpdir(), 'burrow-chime-'));
    try {
      const file = join(dir, 'chime.wav');
      await writeFile(file, wav);
      // sox (an independent reader) agrees on the format and length.
      expect(execFileSync('soxi', ['-D', file]).toString().trim()).toBe('0.400000');
      expect(execFileSync('soxi', ['-r', file]).toString().trim()).toBe('16000');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
