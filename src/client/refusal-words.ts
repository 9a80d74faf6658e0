/**
 * What a toy's or a member's device refused, in plain words: the one mapping from refusal codes
 * (`envelope/no-key`, `family-key/commitment-mismatch`…, as reported to the family security log by
 * `reportRefusal` and as the toy logs them) to sentences for people. The web app (on the message in
 * its conversation) and the CLI (`burrow family log`) both use it, so a code never reaches a family
 * as a code. A code this mapping does not know still gets a sentence, never the code itself.
 */

/** Sentences per code; each completes "The toy …" / "Your device …" once the subject is put in front. */
const WORDS: Readonly<Record<string, string>> = {
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
  'family-key/commitment-mismatch': 'refused a family key the family’s guardians never signed for: the server offered a key of its own choosing. Nothing was opened or sent with it.',
  'receipt/roster-fork': 'saw a receipt from a different version of the family than it holds: the server may be showing family members different member lists.',
  'pairing/roster-not-anchored': 'refused to join a family whose member list does not include what the guardian confirmed while pairing.',
  'pairing/roster-refused': 'refused to join a family whose member list does not check out.',
};

const FALLBACK = 'refused something the server sent because it did not check out.';

/** The sentence for a refusal code, after a subject such as "Mia’s toy" (default "The device"). Never returns the code. */
export function refusalInWords(code: string, subject = 'The device'): string {
  const words = WORDS[code] ?? (code.startsWith('roster/') ? 'refused a family member list that does not check out: nobody was added, removed or changed by it.' : FALLBACK);
  return `${subject} ${words}`;
}

/** Whether a refusal code means the message may still play later (a wait), rather than never. */
export function refusalIsWait(code: string): boolean {
  return code === 'envelope/no-key' || code === 'envelope/roster-behind' || code === 'envelope/needs-approval';
}
