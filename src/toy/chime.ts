/**
 * The reference toy's chime, the same two rising tones as the virtual toy's (0.4 s), as a 16-bit
 * PCM WAV file for the toy's --play-command. A toy plays it once at a new volume limit, so the
 * family hears how loud the limit is.
 */
const RATE = 16_000;

export function chimeWav(): Uint8Array {
  const samples = Math.round(RATE * 0.4);
  const out = new Uint8Array(44 + samples * 2);
  const view = new DataView(out.buffer);
  const ascii = (offset: number, text: string): void => {
    for (let i = 0; i < text.length; i++) out[offset + i] = text.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  view.setUint32(4, 36 + samples * 2, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true); // fmt chunk size
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, RATE, true);
  view.setUint32(28, RATE * 2, true); // bytes per second
  view.setUint16(32, 2, true); // bytes per frame
  view.setUint16(34, 16, true); // bits per sample
  ascii(36, 'data');
  view.setUint32(40, samples * 2, true);
  for (let i = 0; i < samples; i++) {
    const t = i / RATE;
    const frequency = t < 0.2 ? 660 : 880;
    const edge = Math.min(1, (t % 0.2) / 0.01, (0.2 - (t % 0.2)) / 0.01);
    view.setInt16(44 + i * 2, Math.round(16_000 * edge * Math.sin(2 * Math.PI * frequency * t)), true);
  }
  return out;
}
