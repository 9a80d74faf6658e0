/**
 * The toys' HTTP face: the pairing relay (`/v1/pairings*` for the toy, authenticated by its pairing
 * token; `/v1/families/:familyId/pairings*` for a guardian), the toys of a family, and the toy's
 * own routes (`/v1/toy*`, device token only).
 */
import { clientKeyOf } from '../http/addresses.js';
import type { FastifyRequest } from 'fastify';
import { FamilyParams } from '../../protocol/families.js';
import {
  ConfirmRunRequest,
  GuardianRunView,
  PairingParams,
  PairingStarted,
  RunParams,
  RunStarted,
  StartRunRequest,
  ToyList,
  ToyPairingView,
  ToyParams,
  ToyProfileRequest,
  ToyRunAnswer,
  ToyRunParams,
  ToySelf,
} from '../../protocol/toys.js';
import { NoContent, refuseBody } from '../http/bodies.js';
import type { BurrowApp } from '../http/types.js';
import { presentedToken, requireAuth, requireToy } from '../sessions/authenticate.js';
import type { ToysService } from './service.js';

/** The bearer token of a request (the pairing token on the toy's pairing routes); never a cookie. */
function bearerOf(request: FastifyRequest): string | undefined {
  const presented = presentedToken(request);
  return presented?.via === 'bearer' ? presented.token : undefined;
}

export function registerToyRoutes(app: BurrowApp, options: { toys: ToysService }): void {
  const { toys } = options;

  // ─── The toy, before it has a device token ─────────────────────────────────────────────────

  app.post('/v1/pairings', {
    schema: { response: { 201: PairingStarted } },
    config: { anonymous: true, summary: 'Start a pairing attempt (a toy): a slot for the first 3 digits of its code, and a pairing token', problems: ['burrow/unavailable'] },
    preValidation: refuseBody,
  }, async (request, reply) => reply.code(201).send(await toys.startAttempt(clientKeyOf(request.ip))));

  app.get('/v1/pairings/:pairingId', {
    schema: { params: PairingParams, response: { 200: ToyPairingView } },
    config: { pairingToken: true, summary: 'The attempt as the toy sees it (pairing token): waiting, a run to answer, paired (with a fresh device token) or ended', problems: ['burrow/unauthenticated'] },
  }, async (request, reply) => {
    const view = await toys.toyView(request.params.pairingId, bearerOf(request));
    return reply.header('cache-control', 'no-store').send(view);
  });

  app.post('/v1/pairings/:pairingId/runs/:runId', {
    schema: { params: ToyRunParams, body: ToyRunAnswer, response: { 204: NoContent } },
    config: { anonymous: true, pairingToken: true, summary: "The toy's share and confirmation for a run, once (pairing token)", problems: ['burrow/unauthenticated', 'burrow/not-found', 'burrow/conflict', 'burrow/pairing-ended'] },
  }, async (request, reply) => {
    await toys.answerRun(request.params.pairingId, bearerOf(request), request.params.runId, request.body);
    return reply.code(204).send(null);
  });

  app.delete('/v1/pairings/:pairingId', {
    schema: { params: PairingParams, response: { 204: NoContent } },
    config: { anonymous: true, pairingToken: true, summary: 'The toy gives up the attempt (pairing token)', problems: ['burrow/unauthenticated'] },
    preValidation: refuseBody,
  }, async (request, reply) => {
    await toys.cancel(request.params.pairingId, bearerOf(request));
    return reply.code(204).send(null);
  });

  // ─── The guardian ──────────────────────────────────────────────────────────────────────────

  app.post('/v1/families/:familyId/pairings', {
    schema: { params: FamilyParams, body: StartRunRequest, response: { 201: RunStarted } },
    config: {
      authenticated: true,
      summary: 'Start a run against the attempt in a slot (a guardian): one code guess; an attempt allows 3',
      problems: ['burrow/not-found', 'burrow/forbidden', 'burrow/conflict', 'burrow/pairing-ended'],
    },
  }, async (request, reply) => {
    const started = await toys.startRun(requireAuth(request).accountId, clientKeyOf(request.ip), request.params.familyId, request.body);
    return reply.code(201).send(started);
  });

  app.get('/v1/families/:familyId/pairings/:runId', {
    schema: { params: RunParams, response: { 200: GuardianRunView } },
    config: { authenticated: true, summary: 'A run the caller started: its state and the toy’s messages', problems: ['burrow/not-found', 'burrow/forbidden'] },
  }, async (request, reply) => {
    const view = await toys.runView(requireAuth(request).accountId, request.params.familyId, request.params.runId);
    return reply.header('cache-control', 'no-store').send(view);
  });

  app.post('/v1/families/:familyId/pairings/:runId/confirm', {
    schema: { params: RunParams, body: ConfirmRunRequest, response: { 204: NoContent } },
    config: { authenticated: true, summary: "The guardian's confirmation, after the toy's verified", problems: ['burrow/not-found', 'burrow/forbidden', 'burrow/conflict'] },
  }, async (request, reply) => {
    await toys.confirmRun(requireAuth(request).accountId, request.params.familyId, request.params.runId, request.body.guardianConfirm);
    return reply.code(204).send(null);
  });

  app.post('/v1/families/:familyId/pairings/:runId/fail', {
    schema: { params: RunParams, response: { 204: NoContent } },
    config: { authenticated: true, summary: "The toy's confirmation did not verify (a wrong code): the run fails and still counts", problems: ['burrow/not-found', 'burrow/forbidden'] },
    preValidation: refuseBody,
  }, async (request, reply) => {
    await toys.failRun(requireAuth(request).accountId, request.params.familyId, request.params.runId);
    return reply.code(204).send(null);
  });

  // ─── Toys in a family ──────────────────────────────────────────────────────────────────────

  app.get('/v1/families/:familyId/toys', {
    schema: { params: FamilyParams, response: { 200: ToyList } },
    config: { authenticated: true, summary: 'The toys the caller may see (relatives: those of their children), names sealed', problems: ['burrow/not-found'] },
  }, async (request) => toys.list(requireAuth(request).accountId, request.params.familyId));

  app.put('/v1/families/:familyId/toys/:toyId/profile', {
    schema: { params: ToyParams, body: ToyProfileRequest, response: { 204: NoContent } },
    config: { authenticated: true, summary: "Replace a toy's sealed name (a guardian)", problems: ['burrow/not-found', 'burrow/forbidden'] },
  }, async (request, reply) => {
    await toys.setProfile(requireAuth(request).accountId, request.params.familyId, request.params.toyId, request.body.sealedProfile);
    return reply.code(204).send(null);
  });

  // ─── The toy, with its device token ────────────────────────────────────────────────────────

  app.get('/v1/toy', {
    schema: { response: { 200: ToySelf } },
    config: { authenticated: true, toys: 'only', summary: 'Who the device token belongs to (a toy)' },
  }, async (request) => toys.self(requireToy(request)));

  app.post('/v1/toy/reset', {
    schema: { response: { 204: NoContent } },
    config: { authenticated: true, toys: 'only', summary: 'The toy forgets itself: its device token stops working at once (a toy)' },
    preValidation: refuseBody,
  }, async (request, reply) => {
    await toys.reset(requireToy(request));
    return reply.code(204).send(null);
  });
}
