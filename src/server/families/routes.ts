/** `/v1/families` and `/v1/families/:familyId[/roster]`: the HTTP face of the families service. */
import {
  AppendRosterRequest,
  CreateFamilyRequest,
  DeleteFamilyRequest,
  FamilyCreated,
  FamilyList,
  FamilyParams,
  FamilyView,
  MemberProfileView,
  UpdateMemberProfileRequest,
  ROSTER_BODY_LIMIT,
  RosterAppended,
  RosterChain,
  RosterQuery,
} from '../../protocol/families.js';
import { NoContent } from '../http/bodies.js';
import type { BurrowApp } from '../http/types.js';
import { principalOf, requireAuth } from '../sessions/authenticate.js';
import { parseAfterEpoch, type FamiliesService } from './service.js';

export function registerFamilyRoutes(app: BurrowApp, options: { families: FamiliesService }): void {
  const { families } = options;

  app.post('/v1/families', {
    bodyLimit: ROSTER_BODY_LIMIT,
    schema: { body: CreateFamilyRequest, response: { 201: FamilyCreated } },
    config: { authenticated: true, summary: 'Create a family: the caller signs epoch 0 as its first guardian', problems: ['burrow/invalid-roster', 'burrow/conflict'] },
  }, async (request, reply) => {
    const created = await families.create(requireAuth(request).accountId, request.body);
    return reply.code(201).send(created);
  });

  app.get('/v1/families', {
    schema: { response: { 200: FamilyList } },
    config: { authenticated: true, summary: 'The families the caller belongs to' },
  }, async (request) => families.list(requireAuth(request).accountId));

  app.get('/v1/families/:familyId', {
    schema: { params: FamilyParams, response: { 200: FamilyView } },
    config: { authenticated: true, toys: 'also', summary: "A family: its roster chain, the caller's wrapped keys, the children the caller may see (a toy: its own child)", problems: ['burrow/not-found'] },
  }, async (request) => families.view(principalOf(request), request.params.familyId));

  app.put('/v1/families/:familyId/profile', {
    bodyLimit: 160 * 1024,
    schema: { params: FamilyParams, body: UpdateMemberProfileRequest, response: { 200: MemberProfileView } },
    config: { authenticated: true, summary: "Set the caller's own sealed member profile (their display name in this family, signed by them)", problems: ['burrow/not-found'] },
  }, async (request) => families.setMemberProfile(requireAuth(request).accountId, request.params.familyId, request.body.sealedProfile));

  app.get('/v1/families/:familyId/roster', {
    schema: { params: FamilyParams, querystring: RosterQuery, response: { 200: RosterChain } },
    config: { authenticated: true, toys: 'also', summary: 'Roster entries after an epoch, oldest first', problems: ['burrow/not-found'] },
  }, async (request) => families.roster(principalOf(request), request.params.familyId, parseAfterEpoch(request.query.afterEpoch)));

  app.post('/v1/families/:familyId/roster', {
    bodyLimit: ROSTER_BODY_LIMIT,
    schema: { params: FamilyParams, body: AppendRosterRequest, response: { 201: RosterAppended } },
    config: {
      authenticated: true,
      summary: 'Append the next roster entry (a guardian): change roles, add invited joiners and paired toys, remove members and toys',
      problems: ['burrow/not-found', 'burrow/forbidden', 'burrow/invalid-roster', 'burrow/stale-roster', 'burrow/conflict'],
    },
  }, async (request, reply) => {
    const appended = await families.append(requireAuth(request).accountId, request.params.familyId, request.body);
    return reply.code(201).send(appended);
  });

  app.delete('/v1/families/:familyId', {
    schema: { params: FamilyParams, body: DeleteFamilyRequest, response: { 204: NoContent } },
    config: { authenticated: true, summary: 'Delete the family and everything in it (a guardian)', problems: ['burrow/not-found', 'burrow/forbidden'] },
  }, async (request, reply) => {
    await families.remove(requireAuth(request).accountId, request.params.familyId);
    return reply.code(204).send(null);
  });
}
