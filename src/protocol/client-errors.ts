/**
 * The one catalogue of client-side failures, beside the server's (errors.ts): every code a client,
 * the CLI, the toy or the web app reports, with the exit code a command leaves with and the plain
 * words a person sees. `describeFailure` (src/client/describe-failure.ts) turns any thrown value
 * into one of these; front ends never map errors to text themselves and never show a raw code.
 *
 * Codes: `client/…` from the client library, `cli/…` from the command line's own checks, `toy/…`
 * from the reference toy, `log/…` from verifying the family security log. A code, its exit code and
 * its meaning never change once released; the words may be improved.
 */
import type { CryptoCode } from '../crypto/result.js';
import type { ErrorCode } from './errors.js';

/** The exit codes every command shares (docs/operations.md, "The command line: exit codes"). */
export const EXIT = {
  ok: 0,
  /** The command ran and failed. */
  failed: 1,
  /** Wrong usage or input: nothing was done. */
  usage: 2,
  /** The toy was removed from its family or reset: restarting cannot help, it must be paired again. */
  pairAgain: 3,
} as const;

/** One entry: the exit code to leave with and the words for a person. */
export interface ClientErrorEntry {
  exitCode: (typeof EXIT)[keyof typeof EXIT];
  /** A sentence (or two) a person can act on; never a code. */
  words: string;
  /** The words on a toy's own screen, where they differ (the virtual toy). */
  toyWords?: string;
}

export const clientErrorCatalogue = {
  // The client library's checks.
  /** The roster from the server does not verify from this client's trust anchor. */
  'client/roster-untrusted': {
    exitCode: EXIT.failed,
    words: 'The family list from the server does not check out. Nothing was changed. Tell a guardian, and do not trust this family view until it is fixed.',
    toyWords: 'The family list from the server does not check out, so the toy keeps the one it trusted. Tell a guardian.',
  },
  /** This client has no trust anchor for the family (it was neither created nor joined here). */
  'client/no-anchor': {
    exitCode: EXIT.failed,
    words: 'This device does not know this family yet. Join it with an invite link, or sign in on the device that created it.',
    toyWords: 'The toy’s keys in this browser do not open. Reset the toy and pair it again.',
  },
  /** This account is not (yet) in the family's verified roster. */
  'client/not-a-member': { exitCode: EXIT.failed, words: 'You are not in this family (yet). If you just joined, wait for the guardian to let you in.' },
  /** The action needs a guardian. */
  'client/not-a-guardian': { exitCode: EXIT.failed, words: 'Only a guardian can do this.' },
  /** A family key this client needs did not unwrap or is missing. */
  'client/no-key': { exitCode: EXIT.failed, words: 'This device has no key for this family. Ask a guardian to check that you are still in it.' },
  /** The server offered a family key the signed roster does not commit to (one it chose): refused, never used. */
  'client/key-refused': {
    exitCode: EXIT.failed,
    words: "The server offered this device a family key that the family's guardians did not sign, so it was refused and nothing was opened or sent with it. Tell a guardian: the attempt is in the family's security log.",
    toyWords: 'The server offered this toy a family key its guardians did not sign. The toy refused it: it plays and sends nothing with that key.',
  },
  /** The invite's guardian proof does not verify: the link or the server's copy was altered. */
  'client/invite-forged': { exitCode: EXIT.failed, words: 'This invite link does not check out: it was changed or damaged. Ask for a new link.' },
  /** The invite can no longer be used (accepted, used, revoked or expired). */
  'client/invite-unavailable': { exitCode: EXIT.failed, words: 'This invite can no longer be used. Ask for a new link.' },
  /** The link points at another server than the one this client talks to. */
  'client/invite-other-server': { exitCode: EXIT.failed, words: 'This invite link is for another Burrow server.' },
  /** A recipient is neither a child nor a toy of the family that the sender may address. */
  'client/unknown-recipient': { exitCode: EXIT.failed, words: 'You cannot send to that child or toy.' },
  /** A member named in a roster change is not in the roster (or already is). */
  'client/unknown-member': { exitCode: EXIT.failed, words: 'That person is not in the family (or already is).' },
  'client/photo-too-large': { exitCode: EXIT.failed, words: 'That photo is too large: choose one of at most 64 KB.' },
  'client/photo-type': { exitCode: EXIT.failed, words: 'That file is not a JPEG, PNG or WebP picture.' },
  /** The server kept moving the roster head; try again. */
  'client/roster-busy': { exitCode: EXIT.failed, words: 'The family kept changing. Try again.' },
  /** A message did not verify or open; the message of the error holds the crypto code. */
  'client/message-refused': { exitCode: EXIT.failed, words: 'This message did not pass its checks, so it is not shown or played.' },
  /** Approving or declining a message whose sender the head does not mark as needing approval. */
  'client/no-approval-needed': { exitCode: EXIT.failed, words: 'This message needs no approval: its sender’s messages play without one.' },
  /** A message from a member or toy since removed that the entry removing them did not keep (e.g. one signed after the removal). */
  'client/not-in-history': {
    exitCode: EXIT.failed,
    words: 'This message is from someone no longer in the family, and it was not among the messages kept when they were removed, so it is not played.',
  },
  /** A message's audio is in a format the app does not play (never rendered, never sniffed). */
  'client/audio-type-refused': {
    exitCode: EXIT.failed,
    words: 'This message is not in an audio format Burrow plays, so it is not played or saved. Tell a guardian: whoever sent it may be trying to attack your browser.',
  },
  /** Audio to be sent is neither of the two formats every toy plays (src/protocol/audio-formats.ts). */
  'client/audio-format': {
    exitCode: EXIT.usage,
    words: 'Burrow sends voice messages as Opus in Ogg (.ogg) or 16-bit PCM WAV (.wav) only, so this one was not sent. Convert it first, for example with "opusenc in.wav out.ogg" or "sox in.mp3 -b 16 out.wav".',
    toyWords: 'The toy records replies as Opus in Ogg or 16-bit PCM WAV only, and this recording was neither, so it was not sent.',
  },
  /** The account vault from the server does not open (altered, or not this account's). */
  'client/vault-refused': { exitCode: EXIT.failed, words: 'Your account vault from the server does not open. Nothing was changed; tell whoever runs your Burrow server.' },
  /** The new password does not meet the policy; the error's `feedback` says why. */
  'client/weak-password': { exitCode: EXIT.usage, words: 'Choose a stronger password.' },
  /** A sealed identity from the server did not open: it was changed, or the key is wrong. */
  'client/unseal-failed': { exitCode: EXIT.failed, words: 'Your keys from the server did not open with this password. Nothing was changed.' },
  /** The server's public identity does not match the keys in the sealed bundle. */
  'client/identity-mismatch': { exitCode: EXIT.failed, words: "The server's copy of your keys does not match. Nothing was changed; tell whoever runs your Burrow server." },
  /** There is no stored session to act on. */
  'client/not-signed-in': { exitCode: EXIT.failed, words: 'You are signed out. Sign in again.' },
  /** The pairing code typed does not match the toy's (or a share was altered in transit). */
  'client/wrong-code': { exitCode: EXIT.failed, words: 'That code did not match the toy. Check the code on the toy and try again.' },
  /** The pairing attempt ended (wrong codes used up, expired or cancelled): the toy must show a new code. */
  'client/pairing-ended': {
    exitCode: EXIT.failed,
    words: 'This pairing code can no longer be used. Have the toy show a new code and enter that.',
    toyWords: 'This code can no longer be used. Show a new code.',
  },
  /** The pairing failed for another reason (a malformed or replayed message from the relay). */
  'client/pairing-failed': {
    exitCode: EXIT.failed,
    words: 'Pairing with the toy did not finish. Check that the toy is on and shows its code, then try again.',
    toyWords: 'The pairing did not check out: the code was typed wrong, or someone got in the middle. Show a new code and try again.',
  },
  /** The toy is no longer in its family's verified roster (removed by a guardian): it must stop and be paired again. */
  'client/toy-removed': {
    exitCode: EXIT.pairAgain,
    words: 'This toy is no longer in its family. Reset it and pair it again.',
    toyWords: 'This toy is no longer in its family. Reset it and pair it again.',
  },
  /** Plain http to a host beyond loopback without the user's opt-in (`allowInsecureHttp`, `--insecure-http`). */
  'client/insecure-http': {
    exitCode: EXIT.failed,
    words: 'This server address is not secure (http instead of https): Burrow does not send your sign-in over it. Use the https address of your Burrow server.',
  },

  // What any front end may meet without a code of its own.
  /** The server could not be reached, or answered with something that is not Burrow's API. */
  'client/network': { exitCode: EXIT.failed, words: 'Cannot reach Burrow. Check your connection and try again.' },
  /** The server refused with a problem that is not in its catalogue (a proxy, another service). */
  'client/server-refused': { exitCode: EXIT.failed, words: 'The server refused this. Try again.' },
  /** Input the client library refused before sending (its checks say what is wrong in plain words). */
  'client/bad-input': { exitCode: EXIT.usage, words: 'Something in the form is not right.' },
  /** The browser did not allow the microphone or the camera. */
  'client/not-allowed': { exitCode: EXIT.failed, words: 'The browser did not allow this (to record, allow the microphone; to scan a code, the camera — in the site settings).' },
  /** No microphone was found. */
  'client/no-device': { exitCode: EXIT.failed, words: 'No microphone was found.' },
  /** The person stopped it. */
  'client/stopped': { exitCode: EXIT.failed, words: 'Stopped.' },
  /** Anything else: a bug rather than a failure foreseen. */
  'client/failed': { exitCode: EXIT.failed, words: 'Something went wrong. Try again.' },

  // The command line's own checks.
  /** An unknown option or command, a missing argument, options that exclude each other. */
  'cli/usage': { exitCode: EXIT.usage, words: 'The command was not used as it should be: see its --help.' },
  /** A value the command refuses (a bad id, an unknown audio type, a number out of range). */
  'cli/bad-input': { exitCode: EXIT.usage, words: 'A value given to the command is not right.' },
  /** An option the command needs was not given. */
  'cli/missing-option': { exitCode: EXIT.usage, words: 'An option the command needs is missing.' },
  /** A confirmation was not given (no terminal, or other words typed): nothing was done. */
  'cli/not-confirmed': { exitCode: EXIT.usage, words: 'Not confirmed; nothing was done.' },
  /** The profile is signed in already. */
  'cli/profile-in-use': { exitCode: EXIT.usage, words: 'This profile is signed in already: sign out first, or use another profile.' },
  /** A file of the profile does not read back. */
  'cli/damaged-profile': { exitCode: EXIT.failed, words: 'A file of this profile is damaged.' },

  // The operator's commands (serve, admin, reports, canary, backup, restore, notify, audit, migrate-store).
  /** The settings, the data directory or the database are not usable as given. */
  'cli/config': { exitCode: EXIT.failed, words: "The server's settings or data directory are not usable as they are. Fix what the message names and run the command again." },
  /** No account, family or report has the id given. */
  'cli/not-found': { exitCode: EXIT.failed, words: 'Nothing has that id on this server: check it against the list (burrow admin accounts, burrow reports list).' },
  /** The secrets file is missing, damaged or does not open. */
  'cli/secrets': { exitCode: EXIT.failed, words: "The server's secrets file is missing, damaged or does not open. Restore it from your backup, or run the command where the server runs." },
  /** A file the command would write is there already and was kept. */
  'cli/file-exists': { exitCode: EXIT.failed, words: 'A file is in the way and was kept: pass --force to replace it, or choose another --out.' },
  /** A backup could not be written, or one could not be verified or restored. */
  'cli/backup': { exitCode: EXIT.failed, words: 'The backup or restore did not complete. Nothing was put in place of the data directory.' },
  /** Copying the embedded store to PostgreSQL and an object store stopped. */
  'cli/copy-store': { exitCode: EXIT.failed, words: 'Copying the store stopped before the end. The data directory is unchanged; fix what the message names and run it again on an empty database.' },
  /** Mail could not be handed to the mail server. */
  'cli/mail': { exitCode: EXIT.failed, words: 'The mail could not be sent. Check the SMTP settings (docs/operations.md) and try again.' },
  /** The operator tried to delete the only guardian of a family others belong to. */
  'cli/sole-guardian': {
    exitCode: EXIT.failed,
    words: 'This account is the only guardian of a family others belong to: its owner must make someone else a guardian (or delete the family) first. Disable it meanwhile with burrow admin disable.',
  },

  // The reference toy (`burrow toy …`).
  /** The state directory holds a paired toy already. */
  'toy/already-paired': { exitCode: EXIT.usage, words: 'This toy is paired already: reset it first to pair it again.' },
  /** Pairing was stopped at the toy. */
  'toy/cancelled': { exitCode: EXIT.failed, words: 'Pairing was cancelled.' },
  /** A file of the toy's state directory is missing or damaged. */
  'toy/state': { exitCode: EXIT.failed, words: 'The toy’s stored state is missing or damaged.' },
  /** The device token no longer works (the toy was removed, or reset): it must be paired again. */
  'toy/token-dead': { exitCode: EXIT.pairAgain, words: 'This toy is no longer let in by the server. Reset it and pair it again.' },
  /** The family was deleted. */
  'toy/family-deleted': { exitCode: EXIT.failed, words: 'The toy’s family was deleted. Reset the toy and pair it again.' },
  /** The server ended the live connection for good. */
  'toy/live-ended': { exitCode: EXIT.failed, words: 'The server ended the toy’s connection. Start the toy again.' },

  // Verifying the family security log (src/client/family-log.ts).
  'log/gap': { exitCode: EXIT.failed, words: "The family's security log does not check out: an event is missing. Tell whoever runs your Burrow server." },
  'log/edited': { exitCode: EXIT.failed, words: "The family's security log does not check out: an event was changed after it was written. Tell whoever runs your Burrow server." },
  'log/bad-signature': { exitCode: EXIT.failed, words: "The family's security log does not check out: it is not signed by the key this device trusts. Tell whoever runs your Burrow server." },
  'log/rolled-back': { exitCode: EXIT.failed, words: "The family's security log does not check out: it was cut back. Tell whoever runs your Burrow server." },
} as const satisfies Record<string, ClientErrorEntry>;

/** Every client-side failure code. */
export type ClientErrorCode = keyof typeof clientErrorCatalogue;

/** Whether a string is one of the catalogue's codes. */
export function isClientErrorCode(code: string): code is ClientErrorCode {
  return Object.hasOwn(clientErrorCatalogue, code);
}

/** A client-side failure with a stable code. Never carries a key, a secret or a plaintext. */
export class ClientError extends Error {
  readonly code: ClientErrorCode;
  /** Further lines that help (a weak password's reasons), shown after the message. */
  readonly feedback: readonly string[];

  constructor(code: ClientErrorCode, message: string, options: { feedback?: readonly string[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ClientError';
    this.code = code;
    this.feedback = options.feedback ?? [];
  }

  /** The exit code a command leaves with on this failure. */
  get exitCode(): number {
    return clientErrorCatalogue[this.code].exitCode;
  }
}

/** The words for each of the server catalogue's codes, as a person sees them in any front end. */
export const serverErrorWords: Readonly<Record<ErrorCode, string>> = {
  'burrow/bad-request': 'Something in the form was not accepted. Check it and try again.',
  'burrow/unsupported-media-type': 'The app sent something the server does not understand. Reload the page and try again.',
  'burrow/payload-too-large': 'That is too large to send. Try a shorter recording.',
  'burrow/not-found': 'That does not exist any more, or you may not see it.',
  'burrow/method-not-allowed': 'The server does not allow that. Reload the page and try again.',
  'burrow/conflict': 'Someone else changed this at the same time. Try again.',
  'burrow/invalid-roster': 'The server refused the change to the family. Reload and try again.',
  'burrow/stale-roster': 'The family changed meanwhile. Try again.',
  'burrow/invite-unavailable': 'This invite can no longer be used. Ask for a new link.',
  'burrow/sole-guardian': 'You are the only guardian of a family others belong to. Make someone else a guardian, or delete that family, first.',
  'burrow/pairing-ended': 'This pairing code can no longer be used. Ask the toy for a new code.',
  'burrow/unauthenticated': 'You are signed out. Sign in again.',
  'burrow/login-failed': 'The email or password is wrong.',
  'burrow/recovery-failed': 'The email or recovery code is wrong.',
  'burrow/account-exists': 'An account with this email already exists. Sign in instead.',
  'burrow/registration-closed': 'This server creates accounts only for invited people: open your family invite link, or enter the registration code the server’s operator gave you.',
  'burrow/account-disabled': 'The operator of this server has disabled this account.',
  'burrow/login-expired': 'The sign-in took too long. Start again.',
  'burrow/forbidden': 'You may not do this.',
  'burrow/invalid-envelope': 'The server refused this message. Try recording it again.',
  'burrow/stale-epoch': 'The family changed while you were sending. Send it again.',
  'burrow/invalid-approval': 'The approval was not accepted. Try again.',
  'burrow/invalid-decline': 'The decline was not accepted. Try again.',
  'burrow/invalid-receipt': 'The receipt was not accepted. Try again.',
  'burrow/rate-limited': 'Too many attempts. Wait a moment and try again.',
  'burrow/unavailable': 'Burrow is unavailable right now. Try again shortly.',
  'burrow/storage-full': 'The server has no room left for this. Tell whoever runs your Burrow server.',
  'burrow/internal': 'Something went wrong on the server. Try again; if it keeps happening, tell whoever runs your Burrow server.',
};

/**
 * The refusals a device reports beyond the crypto codes: a toy's own decisions and a toy's checks
 * while pairing. With {@link CryptoCode} they are what a toy logs and what the family security log
 * holds (`reportRefusal`), put into words by {@link refusalInWords}.
 */
export const DEVICE_REFUSAL_CODES = [
  'toy/not-for-this-toy',
  'toy/own-message',
  'toy/withdrawn',
  'toy/download-failed',
  'toy/toy-to-toy-off',
  'toy/quiet-hours',
  'toy/audio-format',
  'pairing/roster-not-anchored',
  'pairing/roster-refused',
] as const;

/** A code a device refused something with: a crypto code or one of {@link DEVICE_REFUSAL_CODES}. */
export type RefusalCode = CryptoCode | (typeof DEVICE_REFUSAL_CODES)[number];

/** Sentences per refusal code; each completes "The toy …" / "Your device …" once the subject is put in front. */
export const refusalWords: Readonly<Partial<Record<RefusalCode, string>>> = {
  'envelope/no-key':
    'could not open this message yet: it was sent before the toy was paired, and the toy has not been given the key for it. It keeps waiting and plays once it has the key; if it still has not played, send the message again.',
  'envelope/roster-behind': 'is waiting to see the family’s newest member list before it plays anything, and the server has not shown it yet.',
  'envelope/needs-approval': 'is waiting for a guardian to approve this message.',
  'envelope/unknown-epoch': 'refused a message from a version of the family it has never seen.',
  'envelope/sender-not-member': 'refused a message from someone who is not in the family.',
  'envelope/sender-removed': 'refused a message from someone no longer in the family.',
  'envelope/recipient-not-allowed': 'refused a message its sender may not send to this child.',
  'envelope/bad-signature': 'refused a message whose signature does not check out: it was forged or changed on the way.',
  'envelope/decrypt-failed': 'refused a message that did not decrypt: it was changed on the way.',
  'envelope/malformed': 'refused a message that was damaged or not a Burrow message at all.',
  'envelope/unsupported-version': 'refused a message in a format it does not know.',
  'envelope/wrong-family': 'refused a message that belongs to another family.',
  'envelope/id-mismatch': 'refused a message the server passed off under another message’s name.',
  'envelope/roster-fork': 'refused a message sent from a different version of the family than the toy holds: the server may be showing family members different member lists.',
  'envelope/expired': 'did not play a message older than the family keeps messages.',
  'envelope/from-the-future': 'refused a message dated in the future.',
  'toy/not-for-this-toy': 'refused a message that was not for its child.',
  'toy/toy-to-toy-off': 'did not play a message from another toy, because toy-to-toy messages are off.',
  'toy/download-failed': 'could not download this message from the server.',
  'toy/audio-format': 'refused a message whose audio is neither Opus in Ogg nor 16-bit PCM WAV, the two formats a toy plays.',
  'scope-key/commitment-mismatch': 'refused a conversation key the family’s guardians never signed for: the server offered a key of its own choosing. Nothing was opened or sent with it.',
  'envelope/wrong-scope': 'refused a message addressed across two children’s conversations, or to someone who may not take part in the conversation.',
  'receipt/roster-fork': 'saw a receipt from a different version of the family than it holds: the server may be showing family members different member lists.',
  'pairing/roster-not-anchored': 'refused to join a family whose member list does not include what the guardian confirmed while pairing.',
  'pairing/roster-refused': 'refused to join a family whose member list does not check out.',
};

const ROSTER_REFUSAL = 'refused a family member list that does not check out: nobody was added, removed or changed by it.';
const OTHER_REFUSAL = 'refused something the server sent because it did not check out.';

/**
 * The sentence for a refusal code, after a subject such as "Mia’s toy" (default "The device").
 * Takes any string (codes reach a client through the server's log) and never returns the code.
 */
export function refusalInWords(code: string, subject = 'The device'): string {
  const words = (refusalWords as Readonly<Record<string, string>>)[code] ?? (code.startsWith('roster/') ? ROSTER_REFUSAL : OTHER_REFUSAL);
  return `${subject} ${words}`;
}

/** Whether a refusal code means the message may still play later (a wait), rather than never. */
export function refusalIsWait(code: string): boolean {
  return code === 'envelope/no-key' || code === 'envelope/roster-behind' || code === 'envelope/needs-approval';
}
