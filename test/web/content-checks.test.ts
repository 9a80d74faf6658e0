/**
 * The web app's checks on what family members write (issue #22), one by one: the audio-type
 * allow-list, CSV cells, profile strings. The browser test (malicious-member.test.ts) stages the
 * attacks; this pins every case of each rule.
 */
import { describe, expect, it } from 'vitest';
import { csvCell } from '../../src/client/export.js';
import { wavOfPcm16 } from '../../src/protocol/audio-formats.js';
import { allowedAudioFormat, AudioTypeRefused, playableAudioBlob } from '../../src/web/lib/audio-types.js';
import { checkedEmoji, checkedName } from '../../src/web/lib/profile-text.js';

describe('the audio-type allow-list', () => {
  it('accepts exactly the two message formats, and gives the Blob type and extension', () => {
    expect(allowedAudioFormat('audio/ogg')).toEqual({ ok: true, value: { blobType: 'audio/ogg', extension: 'ogg' } });
    expect(allowedAudioFormat('audio/wav')).toEqual({ ok: true, value: { blobType: 'audio/wav', extension: 'wav' } });
  });

  it('refuses everything else: other audio, anything a browser could render as a page, smuggled parameters', () => {
    for (const type of ['audio/webm', 'audio/webm;codecs=opus', 'audio/ogg; codecs="opus"', 'AUDIO/WAV', 'audio/x-wav', 'audio/mpeg', 'audio/mp4', 'text/html', 'image/svg+xml', 'application/xhtml+xml', 'text/xml', 'application/xml', 'video/webm', 'application/octet-stream', 'text/plain', '', 'audio/ogg, text/html', 'audio/ogg;charset=utf-8', 'audio/wav\u0000text/html', 'audio/svg+xml']) {
      expect(allowedAudioFormat(type), type).toEqual({ ok: false, code: 'audio-type-not-allowed' });
    }
  });

  it('builds Blobs only with the allow-listed type, and only of bytes in that format', () => {
    const wav = wavOfPcm16(new Uint8Array(64), { sampleRate: 8000 });
    expect(playableAudioBlob({ audio: wav, audioType: 'audio/wav' }).type).toBe('audio/wav');
    expect(() => playableAudioBlob({ audio: new Uint8Array(4), audioType: 'text/html' })).toThrow(AudioTypeRefused);
    // An allowed type on bytes that are not that format (a page in disguise): refused too.
    expect(() => playableAudioBlob({ audio: new TextEncoder().encode('<!doctype html><script>'), audioType: 'audio/ogg' })).toThrow(AudioTypeRefused);
    expect(() => playableAudioBlob({ audio: wav, audioType: 'audio/ogg' })).toThrow(AudioTypeRefused);
  });
});

describe('CSV cells of the export', () => {
  it('neutralise a leading = + - @, tab or carriage return, and quote as RFC 4180 says', () => {
    expect(csvCell('=HYPERLINK("x","y")')).toBe(`"'=HYPERLINK(""x"",""y"")"`);
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('-2+3')).toBe("'-2+3");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('\t=1')).toBe("'\t=1");
    expect(csvCell('\r=1')).toBe(`"'\r=1"`);
    expect(csvCell('Mia says hi')).toBe('Mia says hi');
    expect(csvCell(null)).toBe('');
    expect(csvCell(1234)).toBe('1234');
  });
});

describe('profile strings when opened', () => {
  it('keeps ordinary names in any script, trimmed', () => {
    for (const name of ['Mia', ' Leo ', 'Zoë', 'محمد', 'שרה', 'क्षत्रिय', 'Анна-Мария']) expect(checkedName(name), name).toBe(name.trim());
    expect(checkedName('x'.repeat(64))).toBe('x'.repeat(64));
  });

  it('refuses bidi controls, control characters, empty and overlong names', () => {
    for (const name of ['\u202Eeman', 'a\u202Db', 'a\u2066b\u2069', 'a\u200Fb', 'a\u061Cb', 'a\u0000b', 'a\nb', 'a\u2028b', '', '   ', 'x'.repeat(65), 'W'.repeat(15_000), 7, undefined]) {
      expect(checkedName(name), JSON.stringify(name)).toBeUndefined();
    }
  });

  it('keeps one emoji grapheme (with joiners, modifiers, flags) and refuses more, or text', () => {
    for (const emoji of ['🦊', '⭐', '👩‍👩‍👧', '👍🏽', '🇬🇧', '1️⃣']) expect(checkedEmoji(emoji), emoji).toBe(emoji);
    for (const emoji of ['🐯🐯🐯', 'ab', 'A', '🦊\u202E', '', 3]) expect(checkedEmoji(emoji), JSON.stringify(emoji)).toBeUndefined();
  });
});
