/**
 * The WebM → Ogg remuxer on a real recording: Chromium's MediaRecorder, fed a 300 Hz tone at −6 dBFS
 * through its fake microphone for about 1.5 s (fixtures/chromium-opus.webm, recorded with
 * `audio/webm;codecs=opus`). The output is checked by Burrow's own sniffer, then by decoders that
 * are not Burrow's: opusinfo (every page's CRC and granule position) and opusdec, measured by sox.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { oggCrc32, opusPacketSamples, writeOggOpus } from '../../../src/client/audio/ogg-pages.js';
import { messageAudioFromRecording, recordingTypeFor } from '../../../src/client/audio/recorded-audio.js';
import { remuxWebmOpusToOgg, WebmRemuxError } from '../../../src/client/audio/webm-to-ogg.js';
import { sniffAudioFormat, wavOfPcm16 } from '../../../src/protocol/audio-formats.js';
import { decodeIndependently, skipWithoutAudioTools } from '../../support/opus-tools.js';

const webm = new Uint8Array(readFileSync(new URL('fixtures/chromium-opus.webm', import.meta.url)));

/** The Ogg pages of a stream: header fields and packets' bytes, read back independently of the writer. */
function pagesOf(ogg: Uint8Array): { flags: number; granule: bigint; sequence: number; crc: number; crcOk: boolean; bodyBytes: number }[] {
  const pages = [];
  const view = new DataView(ogg.buffer, ogg.byteOffset, ogg.byteLength);
  for (let offset = 0; offset < ogg.length; ) {
    expect(String.fromCharCode(...ogg.subarray(offset, offset + 4))).toBe('OggS');
    const segments = ogg[offset + 26]!;
    const lacing = ogg.subarray(offset + 27, offset + 27 + segments);
    const bodyBytes = lacing.reduce((a, b) => a + b, 0);
    const length = 27 + segments + bodyBytes;
    const page = ogg.slice(offset, offset + length);
    const crc = view.getUint32(offset + 22, true);
    page.fill(0, 22, 26);
    pages.push({ flags: ogg[offset + 5]!, granule: view.getBigUint64(offset + 6, true), sequence: view.getUint32(offset + 18, true), crc, crcOk: oggCrc32(page) === crc, bodyBytes });
    offset += length;
  }
  return pages;
}

describe('remuxing a WebM/Opus recording to Ogg/Opus', () => {
  it('the page checksum is RFC 3533 CRC-32 (0x04C11DB7, unreflected): "123456789" gives 0x89A1897F', () => {
    // The check value of CRC-32/MPEG-2's polynomial with initial 0 and no final xor (the Ogg variant).
    expect(oggCrc32(new TextEncoder().encode('123456789'))).toBe(0x89a1897f);
  });

  it('counts the samples of an Opus packet from its TOC byte (RFC 6716 §3.1)', () => {
    expect(opusPacketSamples(Uint8Array.of(0xfc))).toBe(960); // CELT 20 ms, one frame
    expect(opusPacketSamples(Uint8Array.of(0xfd))).toBe(1920); // two frames
    expect(opusPacketSamples(Uint8Array.of(0x1b, 0x02))).toBe(5760); // SILK 60 ms, code 3, two frames
    expect(opusPacketSamples(Uint8Array.of(0x1b, 0x03))).toBeUndefined(); // three: longer than 120 ms
    expect(opusPacketSamples(new Uint8Array(0))).toBeUndefined();
  });

  it('turns the recording into Ogg/Opus that Burrow accepts: header pages first, checksums right, granules rising, end marked', () => {
    const ogg = remuxWebmOpusToOgg(webm);
    expect(sniffAudioFormat(ogg)).toEqual({ ok: true, value: 'audio/ogg' });
    const pages = pagesOf(ogg);
    expect(pages.length).toBeGreaterThan(3);
    expect(pages.every((p) => p.crcOk)).toBe(true);
    expect(pages.map((p) => p.sequence)).toEqual(pages.map((_, i) => i));
    expect(pages[0]!.flags).toBe(0x02);
    expect(pages.at(-1)!.flags).toBe(0x04);
    expect(pages.slice(1, -1).every((p) => p.flags === 0)).toBe(true);
    expect(pages[0]!.granule).toBe(0n);
    expect(pages[1]!.granule).toBe(0n);
    for (let i = 3; i < pages.length; i++) expect(pages[i]!.granule).toBeGreaterThan(pages[i - 1]!.granule);
    // About 1.5 s at 48 kHz (a recording stops on a 20 ms packet boundary, after the timer).
    const seconds = Number(pages.at(-1)!.granule) / 48_000;
    expect(seconds).toBeGreaterThan(1.2);
    expect(seconds).toBeLessThan(2);
  });

  it.skipIf(skipWithoutAudioTools())('opusinfo finds no fault and opusdec decodes the tone at its level and length', async () => {
    const decoded = await decodeIndependently(remuxWebmOpusToOgg(webm), 'audio/ogg');
    expect(decoded.info).not.toMatch(/WARNING|ERROR|corrupt|hole/i);
    expect(decoded.info).toMatch(/Opus stream 1/);
    expect(decoded.durationMs).toBeGreaterThan(1200);
    expect(decoded.durationMs).toBeLessThan(2000);
    // A sine at −6 dBFS has an RMS of 0.5/√2 ≈ 0.354; Opus keeps it within a few per cent.
    expect(decoded.rms).toBeGreaterThan(0.3);
    expect(decoded.rms).toBeLessThan(0.4);
  });

  it('refuses what is not a single-track WebM/Opus recording', () => {
    expect(() => remuxWebmOpusToOgg(new TextEncoder().encode('RIFF....WAVEfmt '))).toThrow(WebmRemuxError);
    expect(() => remuxWebmOpusToOgg(new Uint8Array(0))).toThrow(WebmRemuxError);
    // The codec id changed from A_OPUS to A_VORB (same length): refused, not remuxed.
    const vorbis = webm.slice();
    const at = Buffer.from(vorbis).indexOf('A_OPUS');
    vorbis.set(new TextEncoder().encode('A_VORB'), at);
    expect(() => remuxWebmOpusToOgg(vorbis)).toThrow(/not Opus audio/);
    // A second OpusHead-less track entry: refused.
    const head = Buffer.from(webm).indexOf('OpusHead');
    const noHead = webm.slice();
    noHead.set(new TextEncoder().encode('OpusHeaX'), head);
    expect(() => remuxWebmOpusToOgg(noHead)).toThrow(/no OpusHead/);
  });

  it('keeps the complete blocks of a recording cut short mid-block', () => {
    const cut = remuxWebmOpusToOgg(webm.subarray(0, webm.length - 100));
    expect(sniffAudioFormat(cut).ok).toBe(true);
    expect(pagesOf(cut).every((p) => p.crcOk)).toBe(true);
  });

  it('writes an empty end-of-stream page when there is no audio', () => {
    const head = Uint8Array.from([...new TextEncoder().encode('OpusHead'), 1, 1, 0x38, 1, 0x80, 0xbb, 0, 0, 0, 0, 0]);
    const pages = pagesOf(writeOggOpus({ opusHead: head, packets: [], serial: 1 }));
    expect(pages.map((p) => [p.flags, p.granule])).toEqual([[2, 0n], [0, 0n], [4, 312n]]);
  });
});

describe('a browser recording as a message', () => {
  it('asks for Ogg/Opus first, WebM/Opus where that is all the browser records, and nothing else', () => {
    expect(recordingTypeFor(() => true)).toBe('audio/ogg;codecs=opus');
    // Chromium's answers (MediaRecorder.isTypeSupported in Chromium 156).
    expect(recordingTypeFor((type) => type === 'audio/webm;codecs=opus' || type === 'audio/mp4;codecs=opus')).toBe('audio/webm;codecs=opus');
    expect(recordingTypeFor((type) => type.startsWith('audio/mp4'))).toBeUndefined();
  });

  it('sends Ogg as recorded, remuxes WebM to Ogg, and refuses anything else', () => {
    const ogg = remuxWebmOpusToOgg(webm);
    expect(messageAudioFromRecording(ogg)).toEqual({ audio: ogg, audioType: 'audio/ogg' });
    expect(messageAudioFromRecording(webm)).toEqual({ audio: ogg, audioType: 'audio/ogg' });
    for (const other of [wavOfPcm16(new Uint8Array(64), { sampleRate: 8000 }), new Uint8Array([0, 0, 0, 0x20, 0x66, 0x74, 0x79, 0x70])]) {
      expect(() => messageAudioFromRecording(other)).toThrow(expect.objectContaining({ code: 'client/audio-format' }));
    }
  });
});
