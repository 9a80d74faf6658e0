/**
 * Exporting every message an account may hear, for the web app's "Download everything" (a zip) and
 * `burrow export` (a directory): each message downloaded, verified and decrypted on this device,
 * one index in one format (index.json and index.csv). The front end only stores the files.
 */
import { toHex } from '../crypto/bytes.js';
import { sha256 } from '../crypto/webcrypto.js';
import type { ClientContext, OpenedFamily } from './families.js';
import { downloadAndOpenMessage, listAllMessages } from './messages.js';
import { nameOf } from './names.js';

/** One exported message: a row of index.json and of index.csv. */
export interface ExportRow {
  /** The audio's path inside the export (`audio/…`), or null when it was not saved (see `status`). */
  file: string | null;
  messageId: string;
  familyId: string;
  familyName: string | null;
  senderId: string;
  senderKind: 'member' | 'toy';
  /** The sender's name as this device's verified family names them. */
  from: string;
  recipients: string[];
  /** The recipients' names, joined with " + ". */
  to: string;
  /** The sender's signed creation time (ms since 1970), when the envelope opened. */
  createdAt: number | null;
  /** When the server received it (ms since 1970), and the same as ISO 8601. */
  receivedAt: number;
  sentAt: string;
  durationMs: number | null;
  audioType: string | null;
  caption: string | null;
  saved: boolean;
  /** Whether a toy would play it: no approval needed, or a guardian's signed approval. */
  approved: boolean;
  /** 'ok', 'waiting for approval', 'declined', 'not verified: <code>', 'refused: …' or 'not downloaded: …'. */
  status: string;
  bytes: number | null;
  /** SHA-256 of the saved audio file, hex. */
  sha256: string | null;
}

/** index.json: who exported what, when. */
export interface ExportIndex {
  exportedAt: string;
  accountId: string;
  families: Array<{ familyId: string; name: string | null }>;
  /** Families this device could not verify, so did not read. */
  unreadableFamilies: Array<{ familyId: string; reason: string }>;
  messages: ExportRow[];
}

/** What a front end supplies: where files go, which audio it keeps, and progress text. */
export interface ExportSink {
  /**
   * The file extension (without the dot) to save this sender-chosen audio type under, or undefined
   * to leave the audio out ('refused: not an audio format Burrow plays').
   */
  extensionOf(audioType: string): string | undefined;
  /** Stores the decrypted audio at `file`, a path relative to the export's root. */
  save(file: string, audio: Uint8Array): Promise<void> | void;
  progress?(text: string): void;
}

/**
 * Downloads, verifies and decrypts every message of `families` here, oldest first, hands each
 * playable audio file to `sink.save` and returns the index. A message that does not open is listed
 * with its status, never saved; approval gates playback on toys, not reading, so its sender and
 * the guardians get messages waiting for (or declined at) approval too, marked as such.
 */
export async function exportMessages(
  ctx: ClientContext,
  families: readonly OpenedFamily[],
  sink: ExportSink,
  options: { unreadableFamilies?: ExportIndex['unreadableFamilies']; now?: () => number } = {},
): Promise<ExportIndex> {
  const messages: ExportRow[] = [];
  for (const family of families) {
    sink.progress?.(`${family.name ?? family.familyId}: listing messages…`);
    const views = (await listAllMessages(ctx, { familyId: family.familyId })).slice().reverse();
    let done = 0;
    for (const view of views) {
      done += 1;
      sink.progress?.(`${family.name ?? family.familyId}: ${done} of ${views.length}…`);
      const sentAt = new Date(view.receivedAt).toISOString();
      const row: ExportRow = {
        file: null,
        messageId: view.messageId,
        familyId: family.familyId,
        familyName: family.name ?? null,
        senderId: view.senderId,
        senderKind: view.senderKind,
        from: nameOf(family, view.senderId),
        recipients: view.recipients,
        to: view.recipients.map((r) => nameOf(family, r)).join(' + '),
        createdAt: null,
        receivedAt: view.receivedAt,
        sentAt,
        durationMs: null,
        audioType: null,
        caption: null,
        saved: view.saved,
        approved: false,
        status: 'ok',
        bytes: null,
        sha256: null,
      };
      messages.push(row);
      try {
        const openUnapproved = family.self.role === 'guardian' || view.senderId === ctx.me.accountId;
        const { opened } = await downloadAndOpenMessage(ctx, { familyId: family.familyId, messageId: view.messageId, family, view, openUnapproved });
        if (!opened.ok) {
          row.status = opened.code === 'envelope/needs-approval' ? 'waiting for approval' : opened.code === 'envelope/declined' ? 'declined' : `not verified: ${opened.code}`;
          continue;
        }
        const message = opened.value;
        const approval = message.approval.state;
        Object.assign(row, {
          createdAt: message.header.createdAt,
          durationMs: message.durationMs,
          audioType: message.audioType,
          caption: message.caption ?? null,
          approved: approval === 'not-needed' || approval === 'approved',
        });
        if (approval === 'waiting') row.status = 'waiting for approval';
        if (approval === 'declined') row.status = 'declined';
        const extension = sink.extensionOf(message.audioType);
        if (extension === undefined) {
          row.status = 'refused: not an audio format Burrow plays';
          continue;
        }
        const file = `audio/${sentAt.replace(/[:.]/g, '-')}_${view.messageId}.${extension}`;
        await sink.save(file, message.audio);
        Object.assign(row, { file, bytes: message.audio.length, sha256: toHex(await sha256(message.audio)) });
      } catch (error) {
        row.status = `not downloaded: ${error instanceof Error ? error.name : 'error'}`;
      }
    }
  }
  return {
    exportedAt: new Date((options.now ?? Date.now)()).toISOString(),
    accountId: ctx.me.accountId,
    families: families.map((f) => ({ familyId: f.familyId, name: f.name ?? null })),
    unreadableFamilies: options.unreadableFamilies ?? [],
    messages,
  };
}

/** index.json of an export. */
export function exportIndexJson(index: ExportIndex): string {
  return `${JSON.stringify(index, null, 2)}\n`;
}

const CSV_COLUMNS = ['file', 'messageId', 'familyId', 'familyName', 'from', 'to', 'sentAt', 'durationMs', 'audioType', 'caption', 'saved', 'approved', 'status', 'sha256'] as const;

/** index.csv of an export: one line per message, CRLF line ends (RFC 4180), every cell through `csvCell`. */
export function exportIndexCsv(index: ExportIndex): string {
  const lines = [CSV_COLUMNS.join(','), ...index.messages.map((row) => CSV_COLUMNS.map((c) => csvCell(row[c])).join(','))];
  return `${lines.join('\r\n')}\r\n`;
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
