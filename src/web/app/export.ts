/**
 * "Download everything": every message this account may hear in a family, downloaded, verified and
 * decrypted on this device (src/client/export.ts, the same export and index as `burrow export`),
 * zipped by fflate and saved through a blob: link. Nothing leaves the device. Loaded only when asked for.
 */
import { strToU8, zipSync, type Zippable } from 'fflate';
import { exportIndexCsv, exportIndexJson, exportMessages, type ClientContext, type OpenedFamily } from '../../client/index.js';
import { allowedAudioFormat, DOWNLOAD_TYPE } from '../lib/audio-types.js';

/** Downloads, verifies and decrypts every message of `family` here and saves them as one zip. */
export async function exportFamily(ctx: ClientContext, family: OpenedFamily, progress: (text: string) => void): Promise<void> {
  const files: Zippable = {};
  const index = await exportMessages(ctx, [family], {
    // The extension comes from the allow-list; audio in any other format is left out.
    extensionOf: (audioType) => {
      const format = allowedAudioFormat(audioType);
      return format.ok ? format.value.extension : undefined;
    },
    // Audio is compressed already: store it, do not deflate it again.
    save: (file, audio) => { files[file] = [audio, { level: 0 }]; },
    progress,
  });
  files['index.json'] = strToU8(exportIndexJson(index));
  files['index.csv'] = strToU8(exportIndexCsv(index));
  progress('Making the zip…');
  const zip = zipSync(files, { level: 6 });
  const url = URL.createObjectURL(new Blob([zip as Uint8Array<ArrayBuffer>], { type: DOWNLOAD_TYPE }));
  const link = document.createElement('a');
  link.href = url;
  link.download = `burrow-${(family.name ?? 'family').replace(/[^\w-]+/g, '-').slice(0, 40)}-${new Date().toISOString().slice(0, 10)}.zip`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  progress(`Done: ${index.messages.filter((r) => r.file !== null).length} of ${index.messages.length} messages in the zip.`);
}
