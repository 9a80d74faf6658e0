/**
 * Any failure, described once for every front end: its catalogue code, the exit code a command
 * leaves with, the plain words a person sees (web app, virtual toy), the specific detail a command
 * prints, and the RFC 9457 problem a command prints with `--json`. The codes, exit codes and words
 * are the catalogues' (src/protocol/errors.ts for the server's, src/protocol/client-errors.ts for
 * the client's); nothing here matches on the text of an error or the suffix of a problem type.
 * Never carries a secret: only what the thrown error carried, and none carries one.
 */
import { clientErrorCatalogue, ClientError, EXIT, serverErrorWords, type ClientErrorCode } from '../protocol/client-errors.js';
import type { ErrorCode } from '../protocol/errors.js';
import { ApiError, NetworkError } from './api.js';

/** What {@link describeFailure} says about a failure. */
export interface FailureDescription {
  /** The server catalogue's code for a problem from the server, else the client catalogue's. */
  code: ErrorCode | ClientErrorCode;
  /** The exit code a command leaves with. */
  exitCode: number;
  /** A sentence a person can act on; never a code. */
  words: string;
  /** What went wrong this time, as the error said it (a command's `error: …` line). */
  detail: string;
  /** Further lines for a command to print after the detail (a password's reasons, the families concerned). */
  more: string[];
  /** The failure as one RFC 9457 problem, for `--json`. */
  problem: Record<string, unknown>;
}

/** Who reads the words: a member (default) or the person at a toy. */
export interface DescribeOptions {
  audience?: 'member' | 'toy';
}

const urn = (code: string): string => `urn:burrow:problem:${code}`;

/** A message of the client library's input checks ("name must be 1 to 64 characters") as a sentence. */
function asSentence(message: string): string {
  return message.length > 0 && message.length < 200 ? `${message.charAt(0).toUpperCase()}${message.slice(1)}.` : clientErrorCatalogue['client/bad-input'].words;
}

function fromApi(error: ApiError): FailureDescription {
  const retry = error.retryAfter;
  let words = error.code === undefined ? `The server refused this (${error.status}). Try again.` : serverErrorWords[error.code];
  if (error.code === 'burrow/rate-limited' && retry !== undefined) words = `Too many attempts. Wait ${retry} seconds and try again.`;
  const problem: Record<string, unknown> = { type: error.type, code: error.code ?? null, title: error.title, status: error.status, detail: error.detail, ...(retry === undefined ? {} : { retryAfter: retry }) };
  const more = retry === undefined ? [] : [`Try again in ${retry} seconds.`];
  let detail = error.detail || error.title;
  if (error.code === 'burrow/sole-guardian') {
    const familyIds = Array.isArray(error.problem.familyIds) ? error.problem.familyIds.filter((id): id is string => typeof id === 'string') : [];
    problem.familyIds = familyIds;
    detail = 'your account was not deleted: you are the only guardian of a family other people (or toys) belong to.';
    more.push('Make another member a guardian of it ("burrow family role"), or delete the family ("burrow family delete"), then try again.', ...familyIds.map((id) => `  - family ${id}`));
  }
  return { code: error.code ?? 'client/server-refused', exitCode: EXIT.failed, words, detail, more, problem };
}

function fromCode(code: ClientErrorCode, detail: string, options: DescribeOptions, feedback: readonly string[] = []): FailureDescription {
  const entry: { exitCode: number; words: string; toyWords?: string } = clientErrorCatalogue[code];
  let words = options.audience === 'toy' ? (entry.toyWords ?? entry.words) : entry.words;
  if (code === 'client/weak-password' && feedback.length > 0) words = `Choose a stronger password: ${feedback.join(' ')}`;
  if (code === 'client/bad-input') words = asSentence(detail);
  const problem = { type: urn(code), code, title: entry.words, detail, ...(feedback.length > 0 ? { feedback } : {}) };
  return { code, exitCode: entry.exitCode, words, detail, more: feedback.map((line) => `  - ${line}`), problem };
}

const DOM_CODES: Readonly<Record<string, ClientErrorCode>> = { NotAllowedError: 'client/not-allowed', NotFoundError: 'client/no-device', AbortError: 'client/stopped' };

/** Describes any thrown value; see {@link FailureDescription}. */
export function describeFailure(error: unknown, options: DescribeOptions = {}): FailureDescription {
  if (error instanceof ApiError) return fromApi(error);
  if (error instanceof ClientError) return fromCode(error.code, error.message, options, error.feedback);
  if (error instanceof NetworkError) return fromCode('client/network', error.message, options);
  if (typeof DOMException !== 'undefined' && error instanceof DOMException && DOM_CODES[error.name] !== undefined) return fromCode(DOM_CODES[error.name]!, error.message, options);
  if (error instanceof TypeError) {
    // A fetch that failed in a browser, else one of the client library's input checks.
    if (/failed to fetch|networkerror|load failed/i.test(error.message)) return fromCode('client/network', error.message, options);
    return fromCode('client/bad-input', error.message, options);
  }
  return fromCode('client/failed', error instanceof Error ? error.message : String(error), options);
}
