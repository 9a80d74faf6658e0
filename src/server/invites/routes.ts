/** Invites: `/v1/families/:familyId/invites[/:inviteId]` (guardians) and `/v1/invites/:inviteId[/accept]` (whoever holds the link). */
import { AcceptInviteRequest, CreateInviteRequest, FamilyInviteParams, FamilyParams, GuardianInviteList, InviteCreated, InviteParams, InviteView } from '../../protocol/families.js';
import { NoContent, refuseBody } from '../http/bodies.js';
import type { BurrowApp } from '../http/types.js';
import { requireAuth } from '../sessions/authenticate.js';
import type { InvitesService } from './service.js';

export function registerInviteRoutes(app: BurrowApp, options: { invites: InvitesService }): void {
  const { invites } = options;

  app.post('/v1/families/:familyId/invites', {
    schema: { params: FamilyParams, body: CreateInviteRequest, response: { 201: InviteCreated } },
    config: { authenticated: true, summary: 'Invite someone as guardian or relative (a guardian)', problems: ['burrow/not-found', 'burrow/forbidden', 'burrow/conflict'] },
  }, async (request, reply) => {
    const created = await invites.create(requireAuth(request).accountId, request.params.familyId, request.body);
    return reply.code(201).send(created);
  });

  app.get('/v1/families/:familyId/invites', {
    schema: { params: FamilyParams, response: { 200: GuardianInviteList } },
    config: { authenticated: true, summary: "The family's invites and their joiners (a guardian)", problems: ['burrow/not-found', 'burrow/forbidden'] },
  }, async (request) => invites.listForGuardian(requireAuth(request).accountId, request.params.familyId));

  app.delete('/v1/families/:familyId/invites/:inviteId', {
    schema: { params: FamilyInviteParams, response: { 204: NoContent } },
    config: { authenticated: true, summary: 'Revoke an open or accepted invite (a guardian)', problems: ['burrow/not-found', 'burrow/forbidden', 'burrow/invite-unavailable'] },
    preValidation: refuseBody,
  }, async (request, reply) => {
    await invites.revoke(requireAuth(request).accountId, request.params.familyId, request.params.inviteId);
    return reply.code(204).send(null);
  });

  app.get('/v1/invites/:inviteId', {
    schema: { params: InviteParams, response: { 200: InviteView } },
    config: { authenticated: true, summary: 'An invite, for its holder to check the guardian proof', problems: ['burrow/not-found', 'burrow/invite-unavailable'] },
  }, async (request) => invites.view(requireAuth(request).accountId, request.params.inviteId));

  app.post('/v1/invites/:inviteId/accept', {
    schema: { params: InviteParams, body: AcceptInviteRequest, response: { 204: NoContent } },
    config: { authenticated: true, summary: "Accept an invite with the joiner's proof; works once", problems: ['burrow/not-found', 'burrow/invite-unavailable', 'burrow/conflict'] },
  }, async (request, reply) => {
    await invites.accept(requireAuth(request).accountId, request.params.inviteId, request.body.joinerProof, request.body.sealedName);
    return reply.code(204).send(null);
  });
}
