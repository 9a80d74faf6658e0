/** Helpers for routes whose request has no body. */
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { BurrowError } from '../../protocol/errors.js';

/** The response schema of a 204. */
export const NoContent = Type.Null({ description: 'No content' });

/**
 * A `preValidation` hook for routes without a body: nothing, or `{}` (what cookie clients send
 * with Content-Type: application/json), is accepted; anything else is refused, not ignored.
 */
export async function refuseBody(request: FastifyRequest): Promise<void> {
  const body = request.body;
  if (body === undefined) return;
  if (typeof body === 'object' && body !== null && !Array.isArray(body) && Object.keys(body).length === 0) return;
  throw new BurrowError('burrow/bad-request', 'This route takes no body; send nothing or {}', { errors: [{ path: 'body', message: 'must be empty' }] });
}
