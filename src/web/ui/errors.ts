/**
 * Every failure in plain words. The client library throws ApiError (the server's RFC 9457
 * problem, by catalogue code), NetworkError, ClientError / AccountError (client-side checks, by
 * code) and TypeError (bad input caught before sending). None of them ever carries a secret.
 */
import { ApiError, NetworkError, ClientError } from '../../client/index.js';

const apiWords: Record<string, string> = {
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
  'burrow/rate-limited': 'Too many attempts. Wait a moment and try again.',
  'burrow/unavailable': 'Burrow is unavailable right now. Try again shortly.',
  'burrow/storage-full': 'The server has no room left for this. Tell whoever runs your Burrow server.',
  'burrow/internal': 'Something went wrong on the server. Try again; if it keeps happening, tell whoever runs your Burrow server.',
};

const clientWords: Record<string, string> = {
  'client/roster-untrusted': 'The family list from the server does not check out. Nothing was changed. Tell a guardian, and do not trust this family view until it is fixed.',
  'client/no-anchor': 'This device does not know this family yet. Join it with an invite link, or sign in on the device that created it.',
  'client/not-a-member': 'You are not in this family (yet). If you just joined, wait for the guardian to let you in.',
  'client/not-a-guardian': 'Only a guardian can do this.',
  'client/no-key': 'This device has no key for this family. Ask a guardian to check that you are still in it.',
  'client/key-refused': "The server offered this device a family key that the family's guardians did not sign, so it was refused and nothing was opened or sent with it. Tell a guardian: the attempt is in the family's security log.",
  'client/invite-forged': 'This invite link does not check out: it was changed or damaged. Ask for a new link.',
  'client/invite-unavailable': 'This invite can no longer be used. Ask for a new link.',
  'client/invite-other-server': 'This invite link is for another Burrow server.',
  'client/unknown-recipient': 'You cannot send to that child or toy.',
  'client/unknown-member': 'That person is not in the family (or already is).',
  'client/photo-too-large': 'That photo is too large: choose one of at most 64 KB.',
  'client/photo-type': 'That file is not a JPEG, PNG or WebP picture.',
  'client/roster-busy': 'The family kept changing. Try again.',
  'client/no-approval-needed': 'This message needs no approval: its sender’s messages play without one.',
  'client/message-refused': 'This message did not pass its checks, so it is not shown or played.',
  'client/not-in-history': 'This message is from someone no longer in the family, and it was not among the messages kept when they were removed, so it is not played.',
  'client/audio-type-refused': 'This message is not in an audio format Burrow plays, so it is not played or saved. Tell a guardian: whoever sent it may be trying to attack your browser.',
  'client/vault-refused': 'Your account vault from the server does not open. Nothing was changed; tell whoever runs your Burrow server.',
  'client/weak-password': 'Choose a stronger password.',
  'client/unseal-failed': 'Your keys from the server did not open with this password. Nothing was changed.',
  'client/identity-mismatch': "The server's copy of your keys does not match. Nothing was changed; tell whoever runs your Burrow server.",
  'client/not-signed-in': 'You are signed out. Sign in again.',
  'client/wrong-code': 'That code did not match the toy. Check the code on the toy and try again.',
  'client/pairing-ended': 'This pairing code can no longer be used. Have the toy show a new code and enter that.',
  'client/pairing-failed': 'Pairing with the toy did not finish. Check that the toy is on and shows its code, then try again.',
};

/** One sentence a person can act on, for any thrown value. */
export function plainWords(error: unknown): string {
  if (error instanceof ApiError) {
    const words = error.code === undefined ? undefined : apiWords[error.code];
    if (error.code === 'burrow/rate-limited' && error.retryAfter !== undefined) return `Too many attempts. Wait ${error.retryAfter} seconds and try again.`;
    return words ?? `The server refused this (${error.status}). Try again.`;
  }
  if (error instanceof NetworkError) return 'Cannot reach Burrow. Check your connection and try again.';
  if (error instanceof ClientError || (error instanceof Error && 'code' in error && typeof error.code === 'string' && error.code.startsWith('client/'))) {
    const code = (error as { code: string }).code;
    const feedback = (error as { feedback?: unknown }).feedback;
    if (code === 'client/weak-password' && Array.isArray(feedback) && feedback.length > 0) return `Choose a stronger password: ${feedback.join(' ')}`;
    return clientWords[code] ?? 'That did not work. Try again.';
  }
  if (error instanceof DOMException && error.name === 'NotAllowedError') return 'The browser did not allow this (to record, allow the microphone; to scan a code, the camera — in the site settings).';
  if (error instanceof DOMException && error.name === 'NotFoundError') return 'No microphone was found.';
  if (error instanceof DOMException && error.name === 'AbortError') return 'Stopped.';
  if (error instanceof TypeError) {
    // The client library's input checks say what is wrong in plain words already ("name must be 1 to 64 characters").
    const message = error.message;
    if (/failed to fetch|networkerror|load failed/i.test(message)) return 'Cannot reach Burrow. Check your connection and try again.';
    return message.length > 0 && message.length < 200 ? `${message.charAt(0).toUpperCase()}${message.slice(1)}.` : 'Something in the form is not right.';
  }
  return 'Something went wrong. Try again.';
}
