/** `/v1/families/:familyId/children[/:childId]`: the HTTP face of the children service. */
import { ChildList, ChildParams, ChildView, CreateChildRequest, FamilyParams, UpdateChildRequest } from '../../protocol/families.js';
import { NoContent, refuseBody } from '../http/bodies.js';
import type { BurrowApp } from '../http/types.js';
import { requireAuth } from '../sessions/authenticate.js';
import type { ChildrenService } from './service.js';

export function registerChildRoutes(app: BurrowApp, options: { children: ChildrenService }): void {
  const { children } = options;

  app.get('/v1/families/:familyId/children', {
    schema: { params: FamilyParams, response: { 200: ChildList } },
    config: { authenticated: true, summary: 'The children the caller may see', problems: ['burrow/not-found'] },
  }, async (request) => children.list(requireAuth(request).accountId, request.params.familyId));

  app.post('/v1/families/:familyId/children', {
    schema: { params: FamilyParams, body: CreateChildRequest, response: { 201: ChildView } },
    config: { authenticated: true, summary: 'Add a child with a sealed profile (a guardian)', problems: ['burrow/not-found', 'burrow/forbidden', 'burrow/conflict'] },
  }, async (request, reply) => {
    const child = await children.add(requireAuth(request).accountId, request.params.familyId, request.body.childId, request.body.sealedProfile);
    return reply.code(201).send(child);
  });

  app.put('/v1/families/:familyId/children/:childId', {
    schema: { params: ChildParams, body: UpdateChildRequest, response: { 200: ChildView } },
    config: { authenticated: true, summary: "Replace a child's sealed profile (a guardian)", problems: ['burrow/not-found', 'burrow/forbidden'] },
  }, async (request) => children.update(requireAuth(request).accountId, request.params.familyId, request.params.childId, request.body.sealedProfile));

  app.delete('/v1/families/:familyId/children/:childId', {
    schema: { params: ChildParams, response: { 204: NoContent } },
    config: { authenticated: true, summary: 'Delete a child no relative or toy in the roster refers to (a guardian)', problems: ['burrow/not-found', 'burrow/forbidden', 'burrow/conflict'] },
    preValidation: refuseBody,
  }, async (request, reply) => {
    await children.remove(requireAuth(request).accountId, request.params.familyId, request.params.childId);
    return reply.code(204).send(null);
  });
}
