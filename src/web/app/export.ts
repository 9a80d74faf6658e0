/**
 * "Download everything": every message this account may hear in a family, downloaded, verified and
 * decrypted on this device, zipped with an index (index.json and index.csv) by fflate, and saved
 * through a blob: link. Nothing leaves the device. Loaded only when asked for.
 */
import { strToU8, zipSync, type Zippable } from 'fflate';
import type { ClientContext, OpenedFamily } from '../../client/families.js';
import { downloadAndOpenMessage, listAllMessages } from '../../client/messages.js';
import { nameOf } from '../../client/names.js';
import { allowedAudioFormat, DOWNLOAD_TYPE } from '../lib/audio-types.js';

interface IndexRow {
  file: string | null;
  messageId: string;
  from: string;
  to: string;
  sentAt: string;
  durationMs: number | null;
  audioType: string | null;
  caption: string | null;
  saved: boolean;
  status: 'ok' | string;
}

/**
 * One CSV cell (RFC 4180 quoting). Captions, names and audio types are written by family members,
 * who may be hostile: a cell that starts with = + - @, a tab or a carriage return is a formula to
 * a spreadsheet (OWASP "CSV injection"), so it gets a leading apostrophe and is shown as text.
 */
export function csvCell(value: unknown): string {
  let text = value === null || value === undefined ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}


/** Downloads, verifies and decrypts every message of `family` here and saves them as one zip. */
export async function exportFamily(ctx: ClientContext, family: OpenedFamily, progress: (text: string) => void): Promise<void> {
  progress('Listing messages…');
  const views = await listAllMessages(ctx, { familyId: family.familyId });
  const files: Zippable = {};
  const index: IndexRow[] = [];
  let done = 0;
  for (const view of views.slice().reverse()) {
    done += 1;
    progress(`Decrypting ${done} of ${views.length}…`);
    const sentAt = new Date(view.receivedAt).toISOString();
    const row: IndexRow = { file: null, messageId: view.messageId, from: nameOf(family, view.senderId), to: view.recipients.map((r) => nameOf(family, r)).join(' + '), sentAt, durationMs: null, audioType: null, caption: null, saved: view.saved, status: 'ok' };
    try {
      // Its sender and the guardians keep what waits for (or was declined at) approval too, marked as such.
      const openUnapproved = family.self.role === 'guardian' || view.senderId === ctx.me.accountId;
      const downloaded = await downloadAndOpenMessage(ctx, { familyId: family.familyId, messageId: view.messageId, family, view, openUnapproved });
      if (!downloaded.opened.ok && downloaded.opened.code === 'envelope/needs-approval') {
        row.status = 'waiting for approval';
      } else if (!downloaded.opened.ok && downloaded.opened.code === 'envelope/declined') {
        row.status = 'declined';
      } else if (!downloaded.opened.ok) {
        row.status = `not verified: ${downloaded.opened.code}`;
      } else {
        const opened = downloaded.opened.value;
        // The extension comes from the allow-list; audio in any other format is left out.
        const format = allowedAudioFormat(opened.audioType);
        if (!format.ok) {
          Object.assign(row, { durationMs: opened.durationMs, audioType: opened.audioType, caption: opened.caption ?? null, status: 'refused: not an audio format Burrow plays' });
          index.push(row);
          continue;
        }
        const file = `audio/${sentAt.replace(/[:.]/g, '-')}_${view.messageId}.${format.value.extension}`;
        // Audio is compressed already: store it, do not deflate it again.
        files[file] = [opened.audio, { level: 0 }];
        Object.assign(row, { file, durationMs: opened.durationMs, audioType: opened.audioType, caption: opened.caption ?? null });
        if (opened.approval.state === 'waiting') row.status = 'waiting for approval';
        if (opened.approval.state === 'declined') row.status = 'declined';
      }
    } catch (error) {
      row.status = `not downloaded: ${error instanceof Error ? error.name : 'error'}`;
    }
    index.push(row);
  }
  const columns = ['file', 'messageId', 'from', 'to', 'sentAt', 'durationMs', 'audioType', 'caption', 'saved', 'status'] as const;
  const csv = [columns.join(','), ...index.map((row) => columns.map((c) => csvCell(row[c])).join(','))].join('\r\n');
  files['index.json'] = strToU8(JSON.stringify({ family: family.name ?? family.familyId, exportedAt: new Date().toISOString(), messages: index }, null, 2));
  files['index.csv'] = strToU8(`${csv}\r\n`);
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
  progress(`Done: ${index.filter((r) => r.file !== null).length} of ${views.length} messages in the zip.`);
}
