/**
 * `/v1/accounts/me/vault`: the signed-in account's sealed vault of trust anchors. The server stores
 * and returns ciphertext it cannot open; the only thing it decides is whether a write follows the
 * stored revision (optimistic concurrency: the loser re-reads, merges and writes the next one).
 * The routes name no account: each reads and writes the caller's own vault, so no other account's
 * vault can be reached through them.
 */
import { fromBase64Url } from '../../crypto/bytes.js';
import { VaultView, VaultWrite } from '../../protocol/accounts.js';
import { BurrowError } from '../../protocol/errors.js';
import type { Clock } from '../deps.js';
import { NoContent } from '../http/bodies.js';
import type { BurrowApp } from '../http/types.js';
import { requireAuth } from '../sessions/authenticate.js';
import type { VaultRepository } from './repository.js';

/** The largest sealed vault (256 KiB of base64url) plus room for the JSON around it. */
const VAULT_BODY_LIMIT = 256 * 1024 + 1024;
const SEALED_BOX_VERSION = 0x01;

export interface VaultRoutesOptions {
  vaults: VaultRepository;
  clock: Clock;
}

export function registerVaultRoutes(app: BurrowApp, options: VaultRoutesOptions): void {
  const { vaults, clock } = options;

  app.get('/v1/accounts/me/vault', {
    schema: { response: { 200: VaultView } },
    config: { authenticated: true, summary: 'The account\'s sealed vault of trust anchors and its revision', problems: ['burrow/not-found'] },
  }, async (request) => {
    const stored = await vaults.find(requireAuth(request).accountId);
    if (stored === undefined) throw new BurrowError('burrow/not-found', 'This account has stored no vault yet');
    return stored;
  });

  app.put('/v1/accounts/me/vault', {
    schema: { body: VaultWrite, response: { 204: NoContent } },
    bodyLimit: VAULT_BODY_LIMIT,
    config: {
      authenticated: true,
      summary: 'Store the next revision of the account\'s sealed vault (the stored revision + 1, or 1 for the first)',
      problems: ['burrow/conflict', 'burrow/bad-request', 'burrow/payload-too-large'],
    },
  }, async (request, reply) => {
    const accountId = requireAuth(request).accountId;
    // The one thing the server can see of a sealed box: its version byte (aead.ts layout). Anything else is not a vault.
    if (fromBase64Url(request.body.sealed)[0] !== SEALED_BOX_VERSION) throw new BurrowError('burrow/bad-request', 'sealed is not a version 1 sealed box');
    const written = await vaults.writeNext(accountId, request.body, clock.now());
    if (!written) throw new BurrowError('burrow/conflict', 'The vault is at another revision: read it again, merge and write the revision after it');
    return reply.code(204).send(null);
  });
}
