/** Client-side failures of the family, invite and message calls (as opposed to `ApiError` from the server). */

export type ClientErrorCode =
  /** The roster from the server does not verify from this client's trust anchor. */
  | 'client/roster-untrusted'
  /** This client has no trust anchor for the family (it was neither created nor joined here). */
  | 'client/no-anchor'
  /** This account is not (yet) in the family's verified roster. */
  | 'client/not-a-member'
  /** The action needs a guardian. */
  | 'client/not-a-guardian'
  /** A family key this client needs did not unwrap or is missing. */
  | 'client/no-key'
  /** The server offered a family key the signed roster does not commit to (one it chose): refused, never used. */
  | 'client/key-refused'
  /** The invite's guardian proof does not verify: the link or the server's copy was altered. */
  | 'client/invite-forged'
  /** The invite can no longer be used (accepted, used, revoked or expired). */
  | 'client/invite-unavailable'
  /** The link points at another server than the one this client talks to. */
  | 'client/invite-other-server'
  /** A recipient is neither a child nor a toy of the family that the sender may address. */
  | 'client/unknown-recipient'
  /** A member named in a roster change is not in the roster (or already is). */
  | 'client/unknown-member'
  | 'client/photo-too-large'
  | 'client/photo-type'
  /** The server kept moving the roster head; try again. */
  | 'client/roster-busy'
  /** A message did not verify or open; `detail` holds the crypto code. */
  | 'client/message-refused'
  /** Approving or declining a message whose sender the head does not mark as needing approval. */
  | 'client/no-approval-needed'
  /** A message from a member or toy since removed that the entry removing them did not keep (e.g. one signed after the removal). */
  | 'client/not-in-history'
  /** The account vault from the server does not open (altered, or not this account's). */
  | 'client/vault-refused'
  /** The pairing code typed does not match the toy's (or a share was altered in transit). */
  | 'client/wrong-code'
  /** The pairing attempt ended (wrong codes used up, expired or cancelled): the toy must show a new code. */
  | 'client/pairing-ended'
  /** The pairing failed for another reason (a malformed or replayed message from the relay). */
  | 'client/pairing-failed'
  /** The toy is no longer in its family's verified roster (removed by a guardian): it must stop and be paired again. */
  | 'client/toy-removed'
  /** Plain http to a host beyond loopback without the user's opt-in (`allowInsecureHttp`, `--insecure-http`). */
  | 'client/insecure-http';

/** A client-side failure with a stable code. Never carries a key, a secret or a plaintext. */
export class ClientError extends Error {
  readonly code: ClientErrorCode;

  constructor(code: ClientErrorCode, message: string) {
    super(message);
    this.name = 'ClientError';
    this.code = code;
  }
}
