/**
 * The one catalogue of Burrow's errors. Every error the API returns is an RFC 9457 problem whose
 * `type` is `urn:burrow:problem:<name>` for the code `burrow/<name>`; the code, title and status
 * of an entry never change once released. Services throw `BurrowError`; one handler in the server
 * turns it into a problem, one mapper into a live event. Add new entries at the end of their group.
 */

export const errorCatalogue = {
  // Requests that are malformed or too large.
  'burrow/bad-request': { status: 400, title: 'The request is not valid' },
  'burrow/unsupported-media-type': { status: 415, title: 'The request body has the wrong content type' },
  'burrow/payload-too-large': { status: 413, title: 'The request body is too large' },
  'burrow/not-found': { status: 404, title: 'Not found' },
  'burrow/method-not-allowed': { status: 405, title: 'Method not allowed' },
  'burrow/conflict': { status: 409, title: 'The request conflicts with the current state' },
  /** A roster entry that does not decode, verify, or match what the server checks (see docs/protocol.md, "Families"). */
  'burrow/invalid-roster': { status: 400, title: 'The roster entry is not acceptable' },
  /** The roster's head moved on: re-read it and sign the entry again. */
  'burrow/stale-roster': { status: 409, title: 'The roster changed; read it again and retry' },
  /** An invite that was used, revoked, accepted already or has expired (an unknown id is 404). */
  'burrow/invite-unavailable': { status: 410, title: 'The invite can no longer be used' },
  /** Deleting the account would leave a family others belong to without a guardian; `familyIds` names them. */
  'burrow/sole-guardian': { status: 409, title: 'You are the only guardian of a family others belong to' },
  /** A pairing attempt that used its runs (code guesses), expired or was cancelled: the toy must show a new code. */
  'burrow/pairing-ended': { status: 410, title: 'This pairing code can no longer be used; ask the toy for a new one' },

  // Authentication and sessions.
  'burrow/unauthenticated': { status: 401, title: 'Sign in first' },
  'burrow/login-failed': { status: 401, title: 'The email or password is wrong' },
  'burrow/recovery-failed': { status: 401, title: 'The email or recovery code is wrong' },
  'burrow/account-exists': { status: 409, title: 'An account with this email already exists' },
  'burrow/registration-closed': { status: 403, title: 'This server creates accounts only for people invited to a family or given a registration code by its operator' },
  'burrow/account-disabled': { status: 403, title: 'The operator of this server has disabled this account' },
  'burrow/login-expired': { status: 401, title: 'The login attempt expired; start again' },
  'burrow/forbidden': { status: 403, title: 'You may not do this' },

  // Voice messages.
  'burrow/invalid-envelope': { status: 400, title: 'The envelope is malformed or does not match the route or the sender' },
  'burrow/stale-epoch': { status: 409, title: 'The message was sealed for an epoch that is no longer current; re-read the family and seal again' },
  'burrow/invalid-approval': { status: 400, title: 'The approval signature is not valid for this message and guardian' },
  'burrow/invalid-decline': { status: 400, title: 'The decline signature is not valid for this message and guardian' },
  'burrow/invalid-receipt': { status: 400, title: 'The receipt signature is not valid for this message and sender' },

  // Limits.
  'burrow/rate-limited': { status: 429, title: 'Too many requests; wait and try again' },

  // Server conditions.
  'burrow/unavailable': { status: 503, title: 'The service is unavailable; try again shortly' },
  'burrow/storage-full': { status: 507, title: 'The server has no room to store this' },
  'burrow/internal': { status: 500, title: 'Something went wrong on the server' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

/** The RFC 9457 problem `type` URI of a code. */
export function problemType(code: ErrorCode): string {
  return `urn:burrow:problem:${code.slice('burrow/'.length)}`;
}

/** The code of a problem `type` URI, or undefined when it is not one of ours. */
export function codeOfProblemType(type: string): ErrorCode | undefined {
  const prefix = 'urn:burrow:problem:';
  if (!type.startsWith(prefix)) return undefined;
  const code = `burrow/${type.slice(prefix.length)}`;
  return code in errorCatalogue ? (code as ErrorCode) : undefined;
}

/** An RFC 9457 problem as Burrow sends it. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  /** Seconds to wait, on `burrow/rate-limited`. */
  retryAfter?: number;
  /** The request id, on `burrow/internal`, for the operator's logs. */
  requestId?: string;
  /** Which fields were wrong, on `burrow/bad-request`. */
  errors?: Array<{ path: string; message: string }>;
  /** The families concerned, on `burrow/sole-guardian`. */
  familyIds?: string[];
  /** Which dependencies are down (`database`, `object-store`), on `burrow/unavailable` from `/readyz`. */
  unavailable?: string[];
}

/** A domain error with a stable code. Never carries a secret, a key or a plaintext in its detail. */
export class BurrowError extends Error {
  readonly code: ErrorCode;
  readonly detail: string;
  readonly extra: Readonly<Partial<Problem>>;

  constructor(code: ErrorCode, detail?: string, extra: Partial<Problem> = {}) {
    const entry = errorCatalogue[code];
    super(detail ?? entry.title);
    this.name = 'BurrowError';
    this.code = code;
    this.detail = detail ?? entry.title;
    this.extra = extra;
  }

  get status(): number {
    return errorCatalogue[this.code].status;
  }

  /** The RFC 9457 body for this error. */
  toProblem(): Problem {
    const entry = errorCatalogue[this.code];
    return { type: problemType(this.code), title: entry.title, status: entry.status, detail: this.detail, ...this.extra };
  }
}
