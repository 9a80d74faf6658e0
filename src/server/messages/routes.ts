/**
 * `/v1/families/:familyId/messages*`: upload (the envelope as `application/octet-stream`, streamed
 * to the blob store, never buffered whole), list, read, download, receipts, approvals, declines, save and
 * delete. Ids the caller may not see answer 404 exactly like ids that do not exist.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { FamilyParams } from '../../protocol/families.js';
import { ApproveRequest, DeclineRequest, MessageAccepted, MessageList, MessageListQuery, MessageParams, MessageView, ReceiptRequest, SaveRequest } from '../../protocol/messages.js';
import { BurrowError } from '../../protocol/errors.js';
import { NoContent, refuseBody } from '../http/bodies.js';
import type { BurrowApp } from '../http/types.js';
import { principalOf as callerOf, requireAuth } from '../sessions/authenticate.js';
import type { Principal } from '../principal.js';
import type { MessagesService } from './service.js';

const ENVELOPE_TYPE = 'application/octet-stream';
/** Documents the raw body in the OpenAPI document (src/server/http/openapi.ts); Fastify does not validate it. */
const rawEnvelopeBody: object = { consumes: [ENVELOPE_TYPE] };

/** The caller of a route open to members and toys (`config.toys: 'also'`). */
function principalOf(request: FastifyRequest): Principal {
  return callerOf(request);
}

/** The caller of a route for members only: a device token never reaches it (deny by default), and this is the second lock. */
function memberOf(request: FastifyRequest): Principal {
  return { id: requireAuth(request).accountId, kind: 'member' };
}

/** A refused upload whose body is still arriving: answer, then close instead of reading the rest. */
function closeIfUnread(request: FastifyRequest, reply: FastifyReply): void {
  if (!request.raw.complete) reply.header('connection', 'close');
}

export function registerMessageRoutes(app: BurrowApp, options: { messages: MessagesService; maxMessageBytes: number }): void {
  const { messages } = options;

  void app.register(async (plain) => {
    const scope = plain.withTypeProvider<TypeBoxTypeProvider>();
    // Only this scope takes raw bodies: the envelope stream goes to the service untouched.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(ENVELOPE_TYPE, (_request, payload, done) => {
      done(null, payload);
    });
    scope.addContentTypeParser('*', (_request, _payload, done) => {
      done(new BurrowError('burrow/unsupported-media-type', `Send the envelope as ${ENVELOPE_TYPE}`), undefined);
    });

    scope.post('/v1/families/:familyId/messages', {
      schema: { params: FamilyParams, response: { 201: MessageAccepted }, ...rawEnvelopeBody },
      bodyLimit: options.maxMessageBytes,
      config: {
        authenticated: true,
        toys: 'also',
        summary: 'Upload a voice-message envelope (application/octet-stream); the header must match the route, the sender and the current epoch',
        problems: ['burrow/not-found', 'burrow/invalid-envelope', 'burrow/stale-epoch', 'burrow/conflict', 'burrow/storage-full', 'burrow/forbidden'],
      },
    }, async (request, reply) => {
      const principal = principalOf(request);
      const body = request.body as unknown;
      if (body === undefined || body === null || typeof (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] !== 'function') {
        throw new BurrowError('burrow/unsupported-media-type', `Send the envelope as ${ENVELOPE_TYPE}`);
      }
      const header = request.headers['content-length'];
      const contentLength = header === undefined ? undefined : Number(header);
      if (contentLength !== undefined && !Number.isSafeInteger(contentLength)) throw new BurrowError('burrow/bad-request', 'The Content-Length is not a number');
      const aborted = new AbortController();
      const onClose = () => {
        if (!request.raw.complete) aborted.abort(new BurrowError('burrow/bad-request', 'The upload was cut off'));
      };
      request.raw.once('close', onClose);
      try {
        const accepted = await messages.upload({
          principal,
          familyId: request.params.familyId,
          body: body as AsyncIterable<Uint8Array>,
          signal: aborted.signal,
          ...(contentLength === undefined ? {} : { contentLength }),
        });
        return await reply.code(201).send(accepted);
      } catch (error) {
        closeIfUnread(request, reply);
        throw error;
      } finally {
        request.raw.off('close', onClose);
      }
    });
  });

  app.get('/v1/families/:familyId/messages', {
    schema: { params: FamilyParams, querystring: MessageListQuery, response: { 200: MessageList } },
    config: { authenticated: true, toys: 'also', summary: 'Messages you may see, newest first, with a cursor', problems: ['burrow/not-found'] },
  }, async (request) => {
    const q = request.query;
    return messages.list(principalOf(request), request.params.familyId, {
      ...(q.before === undefined ? {} : { before: q.before }),
      ...(q.limit === undefined ? {} : { limit: Number(q.limit) }),
      ...(q.conversation === undefined ? {} : { conversation: q.conversation }),
      ...(q.pendingApproval === undefined ? {} : { pendingApproval: q.pendingApproval === 'true' }),
    });
  });

  app.get('/v1/families/:familyId/messages/:messageId', {
    schema: { params: MessageParams, response: { 200: MessageView } },
    config: { authenticated: true, toys: 'also', summary: 'One message: ids, sizes, times, receipts and approvals', problems: ['burrow/not-found'] },
  }, async (request) => messages.get(principalOf(request), request.params.familyId, request.params.messageId));

  app.get('/v1/families/:familyId/messages/:messageId/envelope', {
    schema: { params: MessageParams },
    config: {
      authenticated: true,
      toys: 'also',
      summary: 'The envelope as uploaded (application/octet-stream)',
      problems: ['burrow/not-found'],
      docs: { success: { status: 200, description: 'The sealed envelope, byte for byte as uploaded', contentType: ENVELOPE_TYPE, schema: { type: 'string', contentMediaType: ENVELOPE_TYPE } } },
    },
  }, async (request, reply) => {
    const read = await messages.envelope(principalOf(request), request.params.familyId, request.params.messageId);
    return reply.type(ENVELOPE_TYPE).header('content-length', String(read.size)).header('cache-control', 'no-store').send(read.bytes ?? read.body);
  });

  app.post('/v1/families/:familyId/messages/:messageId/receipts', {
    schema: { params: MessageParams, body: ReceiptRequest, response: { 200: MessageView } },
    config: { authenticated: true, toys: 'also', summary: 'Record that you received or played a message, signed (src/crypto/receipt.ts)', problems: ['burrow/not-found', 'burrow/invalid-receipt'] },
  }, async (request) => messages.addReceipt(principalOf(request), request.params.familyId, request.params.messageId, request.body));

  app.post('/v1/families/:familyId/messages/:messageId/approvals', {
    schema: { params: MessageParams, body: ApproveRequest, response: { 200: MessageView } },
    config: { authenticated: true, summary: "Approve a relative's message (guardians): the signature from approveMessage", problems: ['burrow/not-found', 'burrow/forbidden', 'burrow/invalid-approval', 'burrow/conflict'] },
  }, async (request) => messages.approve(memberOf(request), request.params.familyId, request.params.messageId, request.body));

  app.post('/v1/families/:familyId/messages/:messageId/declines', {
    schema: { params: MessageParams, body: DeclineRequest, response: { 200: MessageView } },
    config: { authenticated: true, summary: "Decline a relative's message waiting for approval (guardians): the signature from declineMessage; toys and other relatives no longer see it", problems: ['burrow/not-found', 'burrow/forbidden', 'burrow/invalid-decline', 'burrow/conflict'] },
  }, async (request) => messages.decline(memberOf(request), request.params.familyId, request.params.messageId, request.body));

  app.put('/v1/families/:familyId/messages/:messageId/saved', {
    schema: { params: MessageParams, body: SaveRequest, response: { 200: MessageView } },
    config: { authenticated: true, summary: 'Save a message (exempt from retention) or unsave it', problems: ['burrow/not-found'] },
  }, async (request) => messages.setSaved(memberOf(request), request.params.familyId, request.params.messageId, request.body.saved));

  app.delete('/v1/families/:familyId/messages/:messageId', {
    schema: { params: MessageParams, response: { 204: NoContent } },
    config: { authenticated: true, summary: 'Delete a message (its sender or a guardian)', problems: ['burrow/not-found', 'burrow/forbidden'] },
    preValidation: refuseBody,
  }, async (request, reply) => {
    await messages.delete(memberOf(request), request.params.familyId, request.params.messageId);
    return reply.code(204).send(null);
  });
}
