/**
 * Turns every error into an RFC 9457 problem (`application/problem+json`): domain errors from the
 * catalogue, Fastify's validation, parsing, media-type and size errors, 404 and 405. Bad input is
 * always a 4xx; anything unexpected is a 500 that carries only the request id.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BurrowError, type ErrorCode, type Problem } from '../../protocol/errors.js';
import { isBlobStoreUnavailable } from '../../storage/blobs/blob-store.js';
import { isStoreUnavailable } from '../../storage/errors.js';
import { methodsForPath, type RouteInfo } from './route-registry.js';

export const problemContentType = 'application/problem+json; charset=utf-8';

/** The challenge of every 401 (RFC 9110 §11.6.1 requires one; RFC 6750 §3 gives the Bearer form). */
export const AUTHENTICATE_CHALLENGE = 'Bearer realm="burrow"';

/** Sends `error` as a problem, with Retry-After when it says how long to wait and the challenge on a 401. */
export function sendProblem(reply: FastifyReply, error: BurrowError): FastifyReply {
  const problem = error.toProblem();
  if (problem.retryAfter !== undefined) reply.header('retry-after', String(problem.retryAfter));
  if (problem.status === 401) reply.header('www-authenticate', AUTHENTICATE_CHALLENGE);
  return reply.code(problem.status).type(problemContentType).send(problem);
}

interface AjvIssue {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

function validationProblem(error: FastifyError): BurrowError {
  const context = (error as FastifyError & { validationContext?: string }).validationContext ?? 'body';
  const issues = (error.validation ?? []) as AjvIssue[];
  const errors = issues.map((issue) => {
    let path = `${context}${issue.instancePath ?? ''}`;
    if (issue.keyword === 'additionalProperties' && typeof issue.params?.additionalProperty === 'string') {
      path += `/${issue.params.additionalProperty}`;
    }
    return { path, message: issue.message ?? 'is not valid' };
  });
  return new BurrowError('burrow/bad-request', 'The request does not match the schema', { errors });
}

const statusCodes: Record<number, ErrorCode> = {
  400: 'burrow/bad-request',
  404: 'burrow/not-found',
  405: 'burrow/method-not-allowed',
  413: 'burrow/payload-too-large',
  415: 'burrow/unsupported-media-type',
  429: 'burrow/rate-limited',
};

/** Maps Fastify's own errors by code to a problem with a fixed detail that never echoes the input. */
function fastifyProblem(error: FastifyError): BurrowError | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new BurrowError('burrow/unsupported-media-type', 'Send the body as application/json');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new BurrowError('burrow/payload-too-large', 'The request body is larger than this route accepts');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new BurrowError('burrow/bad-request', 'A body sent as application/json must not be empty; send {}');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new BurrowError('burrow/bad-request', 'The Content-Length does not match the body');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new BurrowError('burrow/bad-request', 'The request body is not valid JSON');
    default:
      break;
  }
  if (error instanceof SyntaxError || error.name === 'SyntaxError') return new BurrowError('burrow/bad-request', 'The request body is not valid JSON');
  const status = error.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    const code = statusCodes[status] ?? 'burrow/bad-request';
    return new BurrowError(code, code === 'burrow/bad-request' ? 'The request is not valid' : undefined);
  }
  return undefined;
}

/**
 * An object store or database that is down or restarting: a 503 the client may retry, not a
 * server bug; the detail says which, so an operator reading a client's report knows where to look.
 * Undefined for any other error.
 */
export function unavailableProblemOf(error: unknown): { what: 'object store unavailable' | 'database unavailable'; problem: BurrowError } | undefined {
  if (isBlobStoreUnavailable(error)) return { what: 'object store unavailable', problem: new BurrowError('burrow/unavailable', 'The object store (blob storage) is unreachable; try again shortly', { retryAfter: 1 }) };
  if (isStoreUnavailable(error)) return { what: 'database unavailable', problem: new BurrowError('burrow/unavailable', 'The database is unreachable; try again shortly', { retryAfter: 1 }) };
  return undefined;
}

/** The problem of a server fault: the request id, for the operator's logs, and nothing else. */
export function internalProblem(requestId: string): Problem {
  return new BurrowError('burrow/internal', 'The server failed; quote the request id to the operator', { requestId }).toProblem();
}

/** What the handlers tell the metrics. */
export interface ProblemEvents {
  /** A request failed because the object store could not be reached or used. */
  objectStoreUnavailable?(): void;
}

/** Installs the error and not-found handlers. `routes` is the registry, for telling 404 from 405. */
export function installProblemHandlers(app: FastifyInstance, routes: readonly RouteInfo[], events: ProblemEvents = {}): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof BurrowError) return sendProblem(reply, error);
    if (error.validation !== undefined) return sendProblem(reply, validationProblem(error));
    const mapped = fastifyProblem(error);
    if (mapped !== undefined) return sendProblem(reply, mapped);
    const unavailable = unavailableProblemOf(error);
    if (unavailable !== undefined) {
      request.log.warn({ err: error }, unavailable.what);
      if (unavailable.what === 'object store unavailable') events.objectStoreUnavailable?.();
      return sendProblem(reply, unavailable.problem);
    }
    request.log.error({ err: error }, 'unexpected error');
    const problem: Problem = internalProblem(request.id);
    return reply.code(500).type(problemContentType).send(problem);
  });

  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    const allowed = methodsForPath(routes, request.url);
    if (allowed.length > 0) {
      if (allowed.includes('GET') && !allowed.includes('HEAD')) allowed.push('HEAD');
      reply.header('allow', allowed.join(', '));
      return sendProblem(reply, new BurrowError('burrow/method-not-allowed', `This path accepts ${allowed.join(', ')}`));
    }
    return sendProblem(reply, new BurrowError('burrow/not-found', 'There is nothing at this path'));
  });
}
