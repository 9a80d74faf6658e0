/**
 * `burrow send`, `burrow inbox`, `burrow approve`, `burrow decline` and `burrow export`: voice
 * messages from the command line. Audio is sealed here and opened here; the server only relays
 * ciphertext.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Command } from 'commander';
import WebSocket from 'ws';
import { exportIndexCsv, exportIndexJson, exportMessages, loadFamily, listFamilies, type ClientContext, type OpenedFamily, connectLive, type WebSocketConstructor, ClientError, approvalStateOf, approveMessage, declineMessage, downloadAndOpenMessage, getMessage, listAllMessages, listMessages, markReceipt, sendMessage, type MessageViewT, checkReceipts, receiptSummary, nameOf, playedBy, ApiError } from '../client/index.js';
import { MAX_AUDIO_BYTES, needsApprovalAtHead, type ApprovalState, type OpenedMessage, type CryptoResult } from '../crypto/index.js';
import { AUDIO_EXTENSIONS, AUDIO_FORMATS_IN_WORDS, isAudioFormat, oggOpusDurationMs, sniffAudioFormat, WAV_PCM16, type AudioFormat } from '../protocol/audio-formats.js';
import type { CliIo } from './io.js';
import { collect, integerOption, memberCli, resolveFamilyId, withCommonOptions, type CommonOptions, type MemberCli } from './member-cli.js';

/**
 * The audio type of a file to send, from its bytes: Opus in Ogg or 16-bit PCM WAV, the two formats
 * every toy plays (src/protocol/audio-formats.ts); anything else is refused with how to convert it.
 */
export function audioTypeOfFile(audio: Uint8Array, name: string): AudioFormat {
  const sniffed = sniffAudioFormat(audio);
  if (sniffed.ok) return sniffed.value;
  throw new ClientError(
    'client/audio-format',
    `${name} is not ${AUDIO_FORMATS_IN_WORDS}, the two formats Burrow sends; convert it first, e.g. "opusenc in.wav out.ogg" or "sox in.mp3 -b 16 out.wav"`,
  );
}

/** The duration of a file of either format, from its headers (0 when they do not say). */
export function audioDurationMs(audio: Uint8Array, type: AudioFormat): number {
  return (type === WAV_PCM16 ? wavDurationMs(audio) : oggOpusDurationMs(audio)) ?? 0;
}

/** The file extension (with its dot) to save an audio type under: .ogg, .wav, or .bin for anything else. */
export function extensionOf(audioType: string): string {
  return isAudioFormat(audioType) ? `.${AUDIO_EXTENSIONS[audioType]}` : '.bin';
}

/** Duration of a PCM WAV file from its header (RIFF: `fmt ` byte rate and `data` size), or undefined. */
export function wavDurationMs(bytes: Uint8Array): number | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (offset: number): string => String.fromCharCode(...bytes.subarray(offset, offset + 4));
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') return undefined;
  let byteRate: number | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.length) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    if (id === 'fmt ' && offset + 16 <= bytes.length) byteRate = view.getUint32(offset + 8 + 8, true);
    if (id === 'data') {
      if (!byteRate) return undefined;
      const dataSize = Math.min(size, bytes.length - offset - 8);
      return Math.round((dataSize / byteRate) * 1000);
    }
    offset += 8 + size + (size % 2);
  }
  return undefined;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Opens a message for reading. Its sender and the guardians may read a relative's message still
 * waiting for (or declined at) approval: approval gates playback on toys, not their reading.
 */
async function openForReading(ctx: ClientContext, family: OpenedFamily, view: MessageViewT): Promise<{ envelope: Uint8Array; opened: CryptoResult<OpenedMessage>; approved: boolean }> {
  const openUnapproved = family.self.role === 'guardian' || view.senderId === ctx.me.accountId;
  const downloaded = await downloadAndOpenMessage(ctx, { familyId: family.familyId, messageId: view.messageId, family, view, openUnapproved });
  const approved = downloaded.opened.ok && (downloaded.opened.value.approval.state === 'not-needed' || downloaded.opened.value.approval.state === 'approved');
  return { envelope: downloaded.envelope, opened: downloaded.opened, approved };
}

/** The inbox's status word for an opened message: judged from the verified roster and signed decisions alone. */
function statusOf(opened: CryptoResult<OpenedMessage>): string {
  if (!opened.ok) return opened.code;
  const state: ApprovalState = opened.value.approval;
  if (state.state === 'waiting') return 'awaiting approval';
  if (state.state === 'declined') return 'declined';
  return 'playable';
}

function recipientNames(family: OpenedFamily, ids: readonly string[]): string[] {
  return ids.map((id) => nameOf(family, id));
}

function fileNameFor(view: MessageViewT, audioType: string): string {
  return `${new Date(view.receivedAt).toISOString().replace(/[:.]/g, '-')}-${view.messageId}${extensionOf(audioType)}`;
}

/** Resolves --to values (child id, child name, or toy id) to recipient ids. */
function resolveRecipients(family: OpenedFamily, values: string[]): string[] {
  return values.map((value) => {
    if (family.children.some((c) => c.childId === value) || family.roster.toys.some((t) => t.toyId === value)) return value;
    const byName = family.children.filter((c) => c.name !== undefined && c.name.toLowerCase() === value.toLowerCase());
    if (byName.length === 1) return byName[0]!.childId;
    throw new ClientError('cli/bad-input', byName.length > 1 ? `several children are called ${value}; use the child id` : `no child or toy ${value} you may send to (see "burrow child list")`);
  });
}

interface InboxLine {
  familyId: string;
  familyName: string | null;
  messageId: string;
  senderId: string;
  /** The sender in words: their own signed name, or their child's toy. */
  senderName: string;
  recipients: string[];
  receivedAt: number;
  createdAt: number | null;
  caption: string | null;
  audioType: string | null;
  durationMs: number | null;
  playable: boolean;
  /** Whether the head of the verified roster marks the sender as needing approval (never the server's field). */
  needsApproval: boolean;
  /** 'playable', 'awaiting approval', 'declined', or the reason it did not open. */
  status: string;
  /** The guardian whose signed approval or decline settled it. */
  decidedBy?: string;
  saved: boolean;
  /** Receipts as verified against the roster: one the server made up or altered has verified false. */
  receipts: Array<{ by: string; kind: string; at: number; verified: boolean }>;
  /** For your own messages: Played, Delivered, Sent, or Unverified receipt. */
  receipt?: string;
  /** History: the sender was removed by the roster entry of this epoch, signed at `at`, which keeps this message. */
  removed: { epoch: number; at: number } | null;
  file?: string;
}

async function inboxLine(ctx: ClientContext, family: OpenedFamily, view: MessageViewT, saveDir: string | undefined): Promise<InboxLine> {
  const { opened, approved } = await openForReading(ctx, family, view);
  const line: InboxLine = {
    familyId: family.familyId,
    familyName: family.name ?? null,
    messageId: view.messageId,
    senderId: view.senderId,
    senderName: nameOf(family, view.senderId),
    recipients: view.recipients,
    receivedAt: view.receivedAt,
    createdAt: opened.ok ? opened.value.header.createdAt : null,
    caption: opened.ok ? (opened.value.caption ?? null) : null,
    audioType: opened.ok ? opened.value.audioType : null,
    durationMs: opened.ok ? opened.value.durationMs : null,
    // Judged from the verified roster and signed decisions alone (openForReading), never the server's needsApproval.
    playable: opened.ok && approved,
    needsApproval: view.senderKind === 'member' && needsApprovalAtHead(family.roster, view.senderId),
    status: statusOf(opened),
    saved: view.saved,
    receipts: [],
    removed: opened.ok ? (opened.value.removed ?? null) : null,
  };
  if (opened.ok && (opened.value.approval.state === 'approved' || opened.value.approval.state === 'declined')) line.decidedBy = opened.value.approval.guardianId;
  const receipts = await checkReceipts(family.roster, view, { api: ctx.api });
  line.receipts = receipts.map((r) => ({ by: r.by, kind: r.kind, at: r.at, verified: r.verified }));
  // The recipients the sender signed, when the envelope opened here; else the server's description
  // (a toy signs a receipt only for a message addressed to it, so that list cannot make one up).
  const recipients = opened.ok ? opened.value.header.recipients : view.recipients;
  if (view.senderId === ctx.me.accountId) {
    const summary = receiptSummary(receipts, { me: ctx.me.accountId, roster: family.roster, recipients });
    const who = summary === 'Played' ? playedBy(family, receipts, ctx.me.accountId) : '';
    line.receipt = who === '' ? summary : `${summary} ${who}`;
  }
  if (opened.ok && saveDir !== undefined) {
    await mkdir(saveDir, { recursive: true, mode: 0o700 });
    const file = join(saveDir, fileNameFor(view, opened.value.audioType));
    await writeFile(file, opened.value.audio, { mode: 0o600 });
    line.file = file;
  }
  if (opened.ok && view.senderId !== ctx.me.accountId && !receipts.some((r) => r.by === ctx.me.accountId && r.kind === 'delivered' && r.verified)) {
    await markReceipt(ctx, { familyId: family.familyId, messageId: view.messageId, kind: 'delivered', family });
  }
  return line;
}

function humanLine(family: OpenedFamily, line: InboxLine): string {
  const from = line.senderName;
  const to = recipientNames(family, line.recipients).join(', ');
  const caption = line.caption === null ? '' : `  “${line.caption}”`;
  const seconds = line.durationMs === null ? '' : `  ${(line.durationMs / 1000).toFixed(1)} s`;
  const receipt = line.receipt === undefined ? '' : `  (${line.receipt})`;
  const removed = line.removed === null ? '' : ` (removed ${new Date(line.removed.at).toISOString().slice(0, 10)})`;
  return `${new Date(line.receivedAt).toISOString()}  ${line.familyName ?? line.familyId}  from ${from}${removed} to ${to}${seconds}${caption}  [${line.status}]${receipt}${line.file ? `  saved ${line.file}` : ''}  ${line.messageId}`;
}

/**
 * The families to read: the one asked for, else every family of the account that this device can
 * verify (from this device's anchor, or for a family created or joined on another device of the account,
 * from the anchor in the account vault; one it cannot verify is reported, not read).
 */
async function familiesToRead(ctx: ClientContext, options: CommonOptions & { family?: string }, progress: MemberCli['progress']): Promise<{ families: OpenedFamily[]; unreadable: Array<{ familyId: string; reason: string }> }> {
  if (options.family !== undefined) return { families: [await loadFamily(ctx, await resolveFamilyId(ctx, options.family))], unreadable: [] };
  const families: OpenedFamily[] = [];
  const unreadable: Array<{ familyId: string; reason: string }> = [];
  for (const { familyId } of await listFamilies(ctx)) {
    try {
      families.push(await loadFamily(ctx, familyId));
    } catch (error) {
      // A family this device cannot verify is skipped; a damaged profile file ends the command.
      if (!(error instanceof ClientError) || error.code === 'cli/damaged-profile') throw error;
      unreadable.push({ familyId, reason: error.code });
      progress(options, `skipping family ${familyId}: ${error.message}`);
    }
  }
  return { families, unreadable };
}

/** Adds `burrow send`, `burrow inbox`, `burrow approve`, `burrow decline` and `burrow export` to the program. */
export function registerMessageCommands(program: Command, io: CliIo): void {
  const { action, insecureHttpOf, memberContext, printResult, progress } = memberCli(io);
  withCommonOptions(program.command('send').description('send a voice message to a child or toy'))
    .option('--family <id>', 'the family (default: your only family)')
    .requiredOption('--to <childOrToy>', 'a child (id or name) or toy id (repeatable)', collect, [])
    .requiredOption('--file <audio>', 'the audio file: Opus in Ogg (.ogg) or 16-bit PCM WAV (.wav), told apart by its content')
    .option('--caption <text>', 'a caption (encrypted)')
    .option('--duration-ms <n>', 'the duration, when it cannot be read from the file (WAV and Ogg are read)')
    .addHelpText('after', '\nThe audio is encrypted and signed on this computer; the server only ever holds ciphertext.\n\nExamples:\n  $ burrow send --family FAMILY --to Mia --file hello.wav --caption "Good night!"\n  $ burrow send --to CHILD_ID --file song.ogg --json\n\nOther audio: convert it first (opusenc in.wav out.ogg, or sox in.mp3 -b 16 out.wav).')
    .action(
      action(async (options: CommonOptions & { family?: string; to: string[]; file: string; caption?: string; durationMs?: string }) => {
        const ctx = await memberContext(options);
        const familyId = await resolveFamilyId(ctx, options.family);
        const path = resolve(options.file);
        const info = await stat(path);
        if (info.size > MAX_AUDIO_BYTES) throw new ClientError('cli/bad-input', `the audio file is larger than ${MAX_AUDIO_BYTES} bytes`);
        const audio = new Uint8Array(await readFile(path));
        const audioType = audioTypeOfFile(audio, basename(path));
        const durationMs = integerOption(options.durationMs, '--duration-ms', 0, 0xffff_ffff) ?? audioDurationMs(audio, audioType);
        const family = await loadFamily(ctx, familyId);
        const to = resolveRecipients(family, options.to);
        const sent = await sendMessage(ctx, {
          familyId,
          to,
          audio,
          audioType,
          durationMs,
          family,
          ...(options.caption === undefined ? {} : { caption: options.caption }),
          onProgress: (done, total) => progress(options, `uploading ${basename(path)}: ${done}/${total} bytes`),
        });
        printResult(options, { familyId, ...sent, recipients: to, audioType, durationMs, sha256: sha256Hex(audio) }, [`Sent ${basename(path)} to ${recipientNames(family, to).join(', ')} (message ${sent.messageId}).`]);
      }),
    );

  withCommonOptions(program.command('inbox').description('list, open and save your messages; --follow for new ones'))
    .option('--family <id>', 'only this family (default: every family)')
    .option('--save <dir>', 'save the decrypted audio of each message into this directory')
    .option('--limit <n>', 'at most this many recent messages per family (1–100, default 20)')
    .option('--follow', 'stay connected and show each new message as it arrives (one JSON object per line with --json)')
    .addHelpText('after', '\nOpening a message sends a "delivered" receipt to its sender.\n\nExamples:\n  $ burrow inbox\n  $ burrow inbox --family FAMILY --save ./messages\n  $ burrow inbox --follow --json')
    .action(
      action(async (options: CommonOptions & { family?: string; save?: string; limit?: string; follow?: boolean }) => {
        const ctx = await memberContext(options);
        const limit = integerOption(options.limit, '--limit', 1, 100) ?? 20;
        const saveDir = options.save === undefined ? undefined : resolve(options.save);
        const { families } = await familiesToRead(ctx, options, progress);
        const lines: InboxLine[] = [];
        const human: string[] = [];
        for (const family of families) {
          const page = await listMessages(ctx, { familyId: family.familyId, limit });
          for (const view of page.messages) {
            const line = await inboxLine(ctx, family, view, saveDir);
            lines.push(line);
            human.push(humanLine(family, line));
          }
        }
        if (!options.follow) {
          printResult(options, { messages: lines }, human.length === 0 ? ['No messages.'] : human);
          return;
        }
        for (const line of lines) io.stdout.write(options.json ? `${JSON.stringify(line)}\n` : `${human[lines.indexOf(line)]}\n`);
        const byId = new Map(families.map((f) => [f.familyId, f]));
        const seen = new Set(lines.map((l) => l.messageId));
        const live = await connectLive({
          baseUrl: ctx.api.baseUrl,
          ...insecureHttpOf(options),
          WebSocket: WebSocket as unknown as WebSocketConstructor,
          ...(ctx.api.token === undefined ? {} : { token: ctx.api.token }),
          store: ctx.store,
          onProblem: (p) => progress(options, `live: ${p.detail}`),
          onEvent: async (event) => {
            if (options.family !== undefined && event.familyId !== options.family) return;
            if (event.event === 'roster') {
              byId.set(event.familyId, await loadFamily(ctx, event.familyId));
              return;
            }
            if (event.event !== 'message' || typeof event.data.messageId !== 'string' || seen.has(event.data.messageId)) return;
            seen.add(event.data.messageId);
            let family = byId.get(event.familyId);
            if (family === undefined || (typeof event.data.epoch === 'number' && event.data.epoch > family.roster.epoch)) {
              family = await loadFamily(ctx, event.familyId);
              byId.set(event.familyId, family);
            }
            let view: MessageViewT;
            try {
              view = await getMessage(ctx, { familyId: family.familyId, messageId: event.data.messageId });
            } catch (error) {
              // Deleted (or expired) before we got to it.
              if (error instanceof ApiError && error.status === 404) return;
              throw error;
            }
            const line = await inboxLine(ctx, family, view, saveDir);
            io.stdout.write(options.json ? `${JSON.stringify(line)}\n` : `${humanLine(family, line)}\n`);
          },
        });
        await live.ready;
        progress(options, 'following new messages; press Ctrl-C to stop');
        await new Promise<void>((done) => {
          const stop = (): void => {
            io.signals.removeListener('SIGINT', stop);
            io.signals.removeListener('SIGTERM', stop);
            void live.close().then(done);
          };
          io.signals.once('SIGINT', stop);
          io.signals.once('SIGTERM', stop);
        });
      }),
    );

  withCommonOptions(program.command('approve').description("approve a relative's message so toys play it (guardian)"))
    .option('--family <id>', 'the family (default: your only family)')
    .option('--message <id>', 'the message to approve; without it, list the messages waiting for approval')
    .addHelpText('after', '\nYou hear (open) the message before your approval is sent; only then do toys play it.\n\nExamples:\n  $ burrow approve --family FAMILY\n  $ burrow approve --family FAMILY --message MESSAGE_ID')
    .action(
      action(async (options: CommonOptions & { family?: string; message?: string }) => {
        const ctx = await memberContext(options);
        const familyId = await resolveFamilyId(ctx, options.family);
        if (options.message === undefined) {
          const family = await loadFamily(ctx, familyId);
          const listed = await listAllMessages(ctx, { familyId, pendingApproval: true });
          // The server's queue says where to look; the roster and the signed decisions say what waits.
          const states = await Promise.all(listed.map((m) => approvalStateOf(family, m)));
          const waiting = listed.filter((_, i) => states[i]!.state === 'waiting');
          printResult(options, { familyId, waiting: waiting.map((m) => ({ messageId: m.messageId, senderId: m.senderId, recipients: m.recipients, receivedAt: m.receivedAt })) }, waiting.length === 0 ? ['Nothing waits for approval.'] : waiting.map((m) => `${m.messageId}  from ${nameOf(family, m.senderId)} to ${recipientNames(family, m.recipients).join(', ')}  ${new Date(m.receivedAt).toISOString()}`));
          return;
        }
        const opened = await approveMessage(ctx, { familyId, messageId: options.message });
        printResult(options, { familyId, messageId: options.message, approved: true, caption: opened.caption ?? null }, [`Approved message ${options.message}.`]);
      }),
    );

  withCommonOptions(program.command('decline').description("decline a relative's message waiting for approval so no toy plays it (guardian)"))
    .option('--family <id>', 'the family (default: your only family)')
    .requiredOption('--message <id>', 'the message to decline (see "burrow approve" for those waiting)')
    .addHelpText('after', '\nThe decline is signed with your key, so toys refuse the message even if a server keeps offering it;\nits sender sees that you declined it.\n\nExample:\n  $ burrow decline --family FAMILY --message MESSAGE_ID')
    .action(
      action(async (options: CommonOptions & { family?: string; message: string }) => {
        const ctx = await memberContext(options);
        const familyId = await resolveFamilyId(ctx, options.family);
        await declineMessage(ctx, { familyId, messageId: options.message });
        printResult(options, { familyId, messageId: options.message, declined: true }, [`Declined message ${options.message}.`]);
      }),
    );

  withCommonOptions(program.command('export').description('every message you can read, decrypted, as audio files plus index.json and index.csv'))
    .requiredOption('--out <dir>', 'the directory to write into (created if missing)')
    .option('--family <id>', 'only this family (default: every family)')
    .addHelpText('after', '\nWrites <out>/audio/<time>_<message id>.<ext>, <out>/index.json and <out>/index.csv (ids, family,\nsender, recipients, times, caption, status, SHA-256 of each file): the same export as the web\napp\'s "Download everything". Progress goes to stderr.\n\nExample:\n  $ burrow export --out ./burrow-export')
    .action(
      action(async (options: CommonOptions & { out: string; family?: string }) => {
        const ctx = await memberContext(options);
        const out = resolve(options.out);
        await mkdir(join(out, 'audio'), { recursive: true, mode: 0o700 });
        const { families, unreadable } = await familiesToRead(ctx, options, progress);
        const index = await exportMessages(ctx, families, {
          extensionOf: (audioType) => extensionOf(audioType).slice(1),
          save: (file, audio) => writeFile(join(out, file), audio, { mode: 0o600 }),
          progress: (text) => progress(options, text),
        }, { unreadableFamilies: unreadable });
        await writeFile(join(out, 'index.json'), exportIndexJson(index), { mode: 0o600 });
        await writeFile(join(out, 'index.csv'), exportIndexCsv(index), { mode: 0o600 });
        const saved = index.messages.filter((m) => m.file !== null).length;
        const left = index.messages.length - saved;
        printResult(options, { out, messages: saved, skipped: left, unreadableFamilies: unreadable.length, index: join(out, 'index.json') }, [
          `Exported ${saved} message${saved === 1 ? '' : 's'} to ${out}${left ? ` (${left} could not be saved; see their status in index.json)` : ''}.`,
        ]);
      }),
    );
}
