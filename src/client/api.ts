/**
 * A small typed HTTP client for Burrow's `/v1` API over the global `fetch`, so it runs unchanged
 * in Node and in browsers. Every answer is checked against its TypeBox schema before use: a
 * hostile or broken server cannot hand the caller a value of the wrong shape.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import {
  AccountView,
  type DeleteAccountRequest,
  type LoginFinishRequest,
  LoginStartResponse,
  type LoginStartRequest,
  type RecoverFinishRequest,
  type RecoverStartRequest,
  RecoverStartResponse,
  type RegisterFinishRequest,
  type RegisterStartRequest,
  RegisterStartResponse,
  SessionGranted,
  SessionList,
} from '../protocol/accounts.js';
import { codeOfProblemType, type ErrorCode, type Problem } from '../protocol/errors.js';
import { assertTransportAllowed } from './transport.js';

/** The HTTP methods the API uses. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** How requests authenticate: a bearer token (CLI, toy, tests) or the browser's session cookie. */
export type AuthMode = 'bearer' | 'cookie';

/** Options of {@link BurrowApi}. */
export interface BurrowApiOptions {
  /** The server's base URL, such as `https://burrow.example` (no `/v1`). */
  baseUrl: string;
  /** `cookie` sends the browser's `burrow_session` cookie (`credentials: 'same-origin'`); default `bearer`. */
  auth?: AuthMode;
  /** The session token, in bearer mode. */
  token?: string;
  /** A `fetch` implementation; defaults to the global one. */
  fetch?: typeof globalThis.fetch;
  /** Allow plain http to a host beyond loopback (refused by default: tokens would cross in clear). */
  allowInsecureHttp?: boolean;
}

/** An error answer from the server, carrying its RFC 9457 problem. Never carries a secret. */
export class ApiError extends Error {
  /** The catalogue code, or undefined when the answer was not one of Burrow's problems. */
  readonly code: ErrorCode | undefined;
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  readonly status: number;
  /** Seconds to wait before retrying, on `burrow/rate-limited`. */
  readonly retryAfter: number | undefined;
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(problem.detail || problem.title);
    this.name = 'ApiError';
    this.problem = problem;
    this.code = codeOfProblemType(problem.type);
    this.type = problem.type;
    this.title = problem.title;
    this.detail = problem.detail;
    this.status = problem.status;
    this.retryAfter = problem.retryAfter;
  }
}

/** The server could not be reached, or answered with something that is not Burrow's API. */
export class NetworkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NetworkError';
  }
}

function isProblem(value: unknown): value is Problem {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.type === 'string' && typeof v.title === 'string' && typeof v.status === 'number';
}

function retryAfterHeader(response: Response): number | undefined {
  const header = response.headers.get('retry-after');
  if (header === null || !/^\d+$/.test(header.trim())) return undefined;
  return Number(header.trim());
}

/** Typed calls to the accounts and sessions routes. One instance per server and session. */
export class BurrowApi {
  readonly baseUrl: string;
  readonly auth: AuthMode;
  #token: string | undefined;
  readonly #fetch: typeof globalThis.fetch;
  readonly #allowInsecureHttp: boolean;

  constructor(options: BurrowApiOptions) {
    if (typeof options.baseUrl !== 'string') throw new TypeError('baseUrl must be a string');
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new TypeError(`baseUrl is not a valid URL: ${options.baseUrl}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('baseUrl must be an http(s) URL');
    assertTransportAllowed(url, options);
    this.#allowInsecureHttp = options.allowInsecureHttp === true;
    this.baseUrl = url.origin + url.pathname.replace(/\/+$/, '');
    this.auth = options.auth ?? 'bearer';
    this.#token = options.token;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** The current bearer token, if any. */
  get token(): string | undefined {
    return this.#token;
  }

  /** Sets or clears the bearer token used by later calls. */
  setToken(token: string | undefined): void {
    this.#token = token;
  }

  /** A copy of this client for the same server with another token. */
  withToken(token: string | undefined): BurrowApi {
    return new BurrowApi({ baseUrl: this.baseUrl, auth: this.auth, token, fetch: this.#fetch, allowInsecureHttp: this.#allowInsecureHttp });
  }

  registerStart(body: Static<typeof RegisterStartRequest>): Promise<Static<typeof RegisterStartResponse>> {
    return this.#call('POST', '/v1/accounts/register/start', RegisterStartResponse, body);
  }

  registerFinish(body: Static<typeof RegisterFinishRequest>): Promise<SessionGranted> {
    return this.#call('POST', '/v1/accounts/register/finish', SessionGranted, body);
  }

  loginStart(body: Static<typeof LoginStartRequest>): Promise<Static<typeof LoginStartResponse>> {
    return this.#call('POST', '/v1/accounts/login/start', LoginStartResponse, body);
  }

  loginFinish(body: Static<typeof LoginFinishRequest>): Promise<SessionGranted> {
    return this.#call('POST', '/v1/accounts/login/finish', SessionGranted, body);
  }

  recoverStart(body: Static<typeof RecoverStartRequest>): Promise<Static<typeof RecoverStartResponse>> {
    return this.#call('POST', '/v1/accounts/recover/start', RecoverStartResponse, body);
  }

  recoverFinish(body: Static<typeof RecoverFinishRequest>): Promise<SessionGranted> {
    return this.#call('POST', '/v1/accounts/recover/finish', SessionGranted, body);
  }

  logout(): Promise<void> {
    return this.#call('POST', '/v1/accounts/logout', undefined, {});
  }

  me(): Promise<Static<typeof AccountView>> {
    return this.#call('GET', '/v1/accounts/me', AccountView);
  }

  deleteAccount(body: Static<typeof DeleteAccountRequest>): Promise<void> {
    return this.#call('DELETE', '/v1/accounts/me', undefined, body);
  }

  listSessions(): Promise<Static<typeof SessionList>> {
    return this.#call('GET', '/v1/sessions', SessionList);
  }

  revokeSession(sessionId: string): Promise<void> {
    if (!/^[A-Za-z0-9_-]{22}$/.test(sessionId)) throw new TypeError('sessionId must be a 22-character id');
    return this.#call('DELETE', `/v1/sessions/${sessionId}`, undefined);
  }

  revokeAllSessions(): Promise<void> {
    return this.#call('POST', '/v1/sessions/revoke-all', undefined, {});
  }

  /**
   * Calls any JSON route of `/v1` and checks the answer against `schema` (no schema: no body
   * expected). Used by the feature modules of the client library (families, messages…).
   */
  call<S extends TSchema | undefined>(method: HttpMethod, path: string, schema: S, body?: unknown): Promise<S extends TSchema ? Static<S> : void> {
    return this.#call(method, path, schema, body);
  }

  /** POSTs raw bytes as `application/octet-stream` (an envelope upload) and checks the JSON answer. */
  async upload<S extends TSchema>(path: string, bytes: Uint8Array, schema: S): Promise<Static<S>> {
    const response = await this.#send('POST', path, { bytes });
    const parsed = await this.#parse(response, 'POST', path);
    if (!Value.Check(schema, parsed)) throw new NetworkError(`the server at ${this.baseUrl} sent an unexpected answer to POST ${path}`);
    return parsed as Static<S>;
  }

  /** GETs raw bytes (an envelope download); `maxBytes` bounds what is read. */
  async download(path: string, maxBytes: number): Promise<Uint8Array> {
    const response = await this.#send('GET', path, { accept: 'application/octet-stream, application/problem+json' });
    if (!response.ok) {
      await this.#parse(response, 'GET', path);
    }
    const declared = Number(response.headers.get('content-length') ?? '0');
    if (declared > maxBytes) throw new NetworkError(`the server at ${this.baseUrl} sent more than ${maxBytes} bytes for GET ${path}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length > maxBytes) throw new NetworkError(`the server at ${this.baseUrl} sent more than ${maxBytes} bytes for GET ${path}`);
    return bytes;
  }

  /**
   * GETs raw bytes as they arrive (an envelope a toy plays while it downloads): the body's pieces,
   * failing once more than `maxBytes` came. The caller reads them in order, holding what it keeps.
   */
  async downloadStream(path: string, maxBytes: number): Promise<AsyncIterable<Uint8Array>> {
    const response = await this.#send('GET', path, { accept: 'application/octet-stream, application/problem+json' });
    if (!response.ok) {
      await this.#parse(response, 'GET', path);
    }
    const declared = Number(response.headers.get('content-length') ?? '0');
    const tooMuch = () => new NetworkError(`the server at ${this.baseUrl} sent more than ${maxBytes} bytes for GET ${path}`);
    if (declared > maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw tooMuch();
    }
    const body = response.body;
    return {
      async *[Symbol.asyncIterator]() {
        if (body === null) return;
        const reader = body.getReader();
        let received = 0;
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) return;
            received += value.length;
            if (received > maxBytes) throw tooMuch();
            yield value;
          }
        } finally {
          await reader.cancel().catch(() => undefined);
        }
      },
    };
  }

  async #send(method: HttpMethod, path: string, options: { json?: unknown; bytes?: Uint8Array; accept?: string }): Promise<Response> {
    const headers: Record<string, string> = { accept: options.accept ?? 'application/json, application/problem+json' };
    let body: BodyInit | undefined;
    if (options.bytes !== undefined) {
      headers['content-type'] = 'application/octet-stream';
      body = new Uint8Array(options.bytes);
    } else if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    }
    if (this.auth === 'bearer' && this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    const init: RequestInit = {
      method,
      headers,
      credentials: this.auth === 'cookie' ? 'same-origin' : 'omit',
      ...(body === undefined ? {} : { body }),
    };
    try {
      return await this.#fetch(this.baseUrl + path, init);
    } catch (error) {
      const reason = error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error);
      throw new NetworkError(`cannot reach the server at ${this.baseUrl}: ${reason}`, { cause: error });
    }
  }

  /** Reads a JSON answer; throws `ApiError` for an error answer. */
  async #parse(response: Response, method: HttpMethod, path: string): Promise<unknown> {
    const text = await response.text().catch(() => '');
    let parsed: unknown = undefined;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    if (!response.ok) {
      if (isProblem(parsed)) {
        const retryAfter = parsed.retryAfter ?? retryAfterHeader(response);
        throw new ApiError({ ...parsed, detail: typeof parsed.detail === 'string' ? parsed.detail : '', ...(retryAfter === undefined ? {} : { retryAfter }) });
      }
      const retryAfter = retryAfterHeader(response);
      throw new ApiError({
        type: 'about:blank',
        title: response.statusText || `HTTP ${response.status}`,
        status: response.status,
        detail: `the server at ${this.baseUrl} answered ${method} ${path} with HTTP ${response.status}`,
        ...(retryAfter === undefined ? {} : { retryAfter }),
      });
    }
    return parsed;
  }

  async #call<S extends TSchema | undefined>(method: HttpMethod, path: string, schema: S, body?: unknown): Promise<S extends TSchema ? Static<S> : void> {
    // A state-changing request always carries a JSON body ({} when it has nothing to say): the
    // server refuses cookie-authenticated changes sent as anything else (its CSRF defence).
    const json = body === undefined && method !== 'GET' ? {} : body;
    const response = await this.#send(method, path, json === undefined ? {} : { json });
    const parsed = await this.#parse(response, method, path);
    if (schema === undefined) return undefined as S extends TSchema ? Static<S> : void;
    if (!Value.Check(schema, parsed)) {
      throw new NetworkError(`the server at ${this.baseUrl} sent an unexpected answer to ${method} ${path}`);
    }
    return parsed as S extends TSchema ? Static<S> : void;
  }
}
