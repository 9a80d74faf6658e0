/**
 * The two formats a message may carry, told apart by their bytes: Opus in Ogg and 16-bit PCM WAV
 * pass; every near miss (another Ogg codec, a float or 8-bit WAV, WebM, MP3, a header cut short)
 * is refused with its reason.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { remuxWebmOpusToOgg } from '../../src/client/audio/webm-to-ogg.js';
import { AUDIO_FORMATS, checkAudio, isAudioFormat, sniffAudioFormat } from '../../src/protocol/audio-formats.js';

/** A WAV header (then `dataBytes` of zeros) with the given format code, bits and channels. */
function wav(options: { format?: number; bits?: number; channels?: number; dataBytes?: number; fmtLast?: boolean } = {}): Uint8Array {
  const { format = 1, bits = 16, channels = 1, dataBytes = 64 } = options;
  const fmt = new Uint8Array(24);
  const f = new DataView(fmt.buffer);
  fmt.set(new TextEncoder().encode('fmt '), 0);
  f.setUint32(4, 16, true);
  f.setUint16(8, format, true);
  f.setUint16(10, channels, true);
  f.setUint32(12, 16_000, true);
  f.setUint32(16, 16_000 * channels * (bits / 8), true);
  f.setUint16(20, channels * (bits / 8), true);
  f.setUint16(22, bits, true);
  const data = new Uint8Array(8 + dataBytes);
  data.set(new TextEncoder().encode('data'), 0);
  new DataView(data.buffer).setUint32(4, dataBytes, true);
  const chunks = options.fmtLast === true ? [data, fmt] : [fmt, data];
  const out = new Uint8Array(12 + fmt.length + data.length);
  out.set(new TextEncoder().encode('RIFF'), 0);
  new DataView(out.buffer).setUint32(4, out.length - 8, true);
  out.set(new TextEncoder().encode('WAVE'), 8);
  out.set(chunks[0]!, 12);
  out.set(chunks[1]!, 12 + chunks[0]!.length);
  return out;
}

const ogg = remuxWebmOpusToOgg(new Uint8Array(readFileSync(new URL('../client/audio/fixtures/chromium-opus.webm', import.meta.url))));
const webm = new Uint8Array(readFileSync(new URL('../client/audio/fixtures/chromium-opus.webm', import.meta.url)));

describe('the two audio formats', () => {
  it('are exactly audio/ogg and audio/wav', () => {
    expect(AUDIO_FORMATS).toEqual(['audio/ogg', 'audio/wav']);
    for (const type of ['audio/ogg', 'audio/wav']) expect(isAudioFormat(type)).toBe(true);
    for (const type of ['audio/webm', 'audio/ogg; codecs=opus', 'AUDIO/WAV', 'audio/x-wav', 'audio/mpeg', 'text/html', '']) expect(isAudioFormat(type), type).toBe(false);
  });

  it('Opus in Ogg is audio/ogg', () => {
    expect(sniffAudioFormat(ogg)).toEqual({ ok: true, value: 'audio/ogg' });
  });

  it('16-bit PCM WAV, mono or stereo, is audio/wav', () => {
    expect(sniffAudioFormat(wav())).toEqual({ ok: true, value: 'audio/wav' });
    expect(sniffAudioFormat(wav({ channels: 2 }))).toEqual({ ok: true, value: 'audio/wav' });
  });

  it('refuses other WAV: float, 8-bit, 24-bit, extensible, many channels, no data, data before fmt', () => {
    for (const bad of [wav({ format: 3, bits: 32 }), wav({ bits: 8 }), wav({ bits: 24 }), wav({ format: 0xfffe }), wav({ channels: 6 }), wav().subarray(0, 36), wav({ fmtLast: true })]) {
      expect(sniffAudioFormat(bad)).toEqual({ ok: false, problem: 'audio/wav-not-pcm16' });
    }
  });

  it('refuses an Ogg stream that is not Opus, or whose first page holds more than the OpusHead', () => {
    const vorbis = ogg.slice();
    vorbis.set(new TextEncoder().encode('\x01vorbis\0'), 28);
    expect(sniffAudioFormat(vorbis)).toEqual({ ok: false, problem: 'audio/ogg-not-opus' });
    const notFirst = ogg.slice();
    notFirst[5] = 0; // beginning-of-stream flag cleared
    expect(sniffAudioFormat(notFirst)).toEqual({ ok: false, problem: 'audio/ogg-not-opus' });
    expect(sniffAudioFormat(ogg.subarray(0, 30))).toEqual({ ok: false, problem: 'audio/ogg-not-opus' });
    const twoPackets = ogg.slice();
    twoPackets[26] = 2; // the lacing table now claims a second packet on the first page
    expect(sniffAudioFormat(twoPackets).ok).toBe(false);
  });

  it('refuses WebM, MP3, HTML and nothing at all', () => {
    const mp3 = Uint8Array.of(0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 0);
    for (const bad of [webm, mp3, new TextEncoder().encode('<html><script>alert(1)</script>'), new Uint8Array(0)]) {
      expect(sniffAudioFormat(bad)).toEqual({ ok: false, problem: 'audio/not-ogg-or-wav' });
    }
  });

  it('checkAudio wants the declared type to be the sniffed one', () => {
    expect(checkAudio('audio/wav', wav()).ok).toBe(true);
    expect(checkAudio('audio/ogg', ogg).ok).toBe(true);
    expect(checkAudio('audio/ogg', wav())).toEqual({ ok: false, problem: 'audio/type-mismatch' });
    expect(checkAudio('text/html', wav())).toEqual({ ok: false, problem: 'audio/type-mismatch' });
    expect(checkAudio('audio/webm', webm)).toEqual({ ok: false, problem: 'audio/not-ogg-or-wav' });
  });
});
