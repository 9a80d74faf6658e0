/**
 * Push subscriptions and the pushes themselves. A signed-in device registers its browser's
 * subscription (one per session, so it ends with the session); the notifier sends a push when a
 * child's toy replies (to the adults who may talk with that child), when someone asks to join (to
 * the guardians) and when a message waits for approval (to the guardians). Each push carries the
 * kind and ids only (src/protocol/push.ts); sending never delays or fails the request behind it.
 */
import { ECDH } from 'node:crypto';
import { fromBase64Url } from '../../crypto/bytes.js';
import { BurrowError } from '../../protocol/errors.js';
import type { PushPayload, PushSubscriptionWrite } from '../../protocol/push.js';
import type { Clock, Random } from '../deps.js';
import { newId } from '../deps.js';
import type { PrincipalKind } from '../principal.js';
import type { PushRepository } from './repository.js';
import type { PushSender } from './sender.js';

export interface PushServiceDeps {
  repository: PushRepository;
  sender: PushSender;
  clock: Clock;
  random: Random;
  maxSubscriptionsPerAccount: number;
  /** Accept http:// endpoints on loopback addresses (tests with a local push endpoint only). */
  allowLoopbackEndpoints: boolean;
  /** Where a push that failed is reported: the subscription id and the status, never the endpoint. */
  warn(message: string, details: Record<string, unknown>): void;
}

/** The caller: an account on one of its sessions (a device). */
export interface DeviceAuth {
  accountId: string;
  sessionId: string;
}

/** At most this many pushes in flight; beyond it a push is dropped (and reported), not queued. */
const MAX_IN_FLIGHT = 256;

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** Whether `key` is an uncompressed point on P-256 (RFC 8291 §3.1: 0x04 ‖ x ‖ y), what the browser's key must be. */
function isUncompressedP256Point(key: Uint8Array): boolean {
  if (key.length !== 65 || key[0] !== 0x04) return false;
  try {
    ECDH.convertKey(key, 'prime256v1');
    return true;
  } catch {
    return false;
  }
}

/**
 * Why an endpoint is refused, or undefined when it is acceptable: an https URL on a DNS name (push
 * services have one), with no credentials and no fragment. IP literals and local names are refused
 * so that a member cannot point the server's requests at the operator's own network.
 */
export function endpointProblem(endpoint: string, options: { allowLoopback: boolean }): string | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return 'is not a URL';
  }
  if (url.username !== '' || url.password !== '') return 'must not carry credentials';
  if (url.hash !== '') return 'must not have a fragment';
  if (options.allowLoopback && isLoopbackHost(url.hostname) && (url.protocol === 'http:' || url.protocol === 'https:')) return undefined;
  if (url.protocol !== 'https:') return 'must be an https URL';
  const host = url.hostname.toLowerCase();
  if (host.startsWith('[') || /^[\d.]+$/.test(host)) return 'must name its host, not an IP address';
  if (!host.includes('.') || /(^|\.)(localhost|local|internal|home\.arpa|lan)$/.test(host)) return 'must be a public host name';
  return undefined;
}

export function createPushService(deps: PushServiceDeps) {
  const { repository, sender, clock } = deps;
  const inFlight = new Set<Promise<void>>();

  async function subscribe(auth: DeviceAuth, body: PushSubscriptionWrite): Promise<{ subscriptionId: string }> {
    const problem = endpointProblem(body.endpoint, { allowLoopback: deps.allowLoopbackEndpoints });
    if (problem !== undefined) throw new BurrowError('burrow/bad-request', `endpoint ${problem}`, { errors: [{ path: 'body/endpoint', message: problem }] });
    if (!isUncompressedP256Point(fromBase64Url(body.keys.p256dh))) {
      throw new BurrowError('burrow/bad-request', 'keys.p256dh must be an uncompressed P-256 public key', { errors: [{ path: 'body/keys/p256dh', message: 'is not an uncompressed point' }] });
    }
    if ((await repository.countOtherSessions(auth.accountId, auth.sessionId)) >= deps.maxSubscriptionsPerAccount) {
      throw new BurrowError('burrow/conflict', `An account may have notifications on ${deps.maxSubscriptionsPerAccount} devices; turn them off on one first`);
    }
    const subscriptionId = newId(deps.random);
    await repository.replaceForSession({ id: subscriptionId, accountId: auth.accountId, sessionId: auth.sessionId, endpoint: body.endpoint, p256dh: body.keys.p256dh, auth: body.keys.auth, createdAt: clock.now() });
    return { subscriptionId };
  }

  async function list(auth: DeviceAuth) {
    const rows = await repository.listOfAccount(auth.accountId);
    return rows.map((row) => ({ subscriptionId: row.id, service: new URL(row.endpoint).origin, createdAt: row.createdAt, current: row.sessionId === auth.sessionId }));
  }

  async function unsubscribe(auth: DeviceAuth, subscriptionId: string): Promise<void> {
    if (!(await repository.deleteOfAccount(auth.accountId, subscriptionId))) throw new BurrowError('burrow/not-found', 'No such push subscription of yours');
  }

  async function deliver(accountIds: readonly string[], payload: PushPayload): Promise<void> {
    const targets = await repository.liveSubscriptionsOf([...new Set(accountIds)], clock.now());
    const text = JSON.stringify(payload);
    await Promise.all(targets.map(async (target) => {
      const { outcome, status } = await sender.send(target, text);
      if (outcome === 'gone') await repository.delete(target.id);
      else if (outcome === 'failed') deps.warn('a push was not accepted by its push service', { subscriptionId: target.id, ...(status === undefined ? {} : { status }) });
    }));
  }

  /** Starts sending in the background; the caller never waits for a push service. */
  function dispatch(recipients: () => Promise<string[]>, payload: PushPayload): void {
    if (inFlight.size >= MAX_IN_FLIGHT) {
      deps.warn('a push was dropped: too many in flight', { kind: payload.kind });
      return;
    }
    const job = (async () => deliver(await recipients(), payload))()
      .catch((error: unknown) => deps.warn('a push could not be sent', { kind: payload.kind, error: error instanceof Error ? error.name : 'unknown' }))
      .finally(() => inFlight.delete(job));
    inFlight.add(job);
  }

  return {
    subscribe,
    list,
    unsubscribe,
    /** A message was stored: a toy's reply goes to the adults of its child, one waiting for approval to the guardians. */
    messageStored(familyId: string, message: { messageId: string; senderId: string; senderKind: PrincipalKind; needsApproval: boolean }): void {
      if (message.senderKind === 'toy') {
        dispatch(() => repository.adultsOfToy(familyId, message.senderId), { v: 1, kind: 'message', familyId, messageId: message.messageId });
      } else if (message.needsApproval) {
        dispatch(async () => (await repository.guardiansOf(familyId)).filter((id) => id !== message.senderId), { v: 1, kind: 'approval', familyId, messageId: message.messageId });
      }
    },
    /** Someone accepted an invite and waits for a guardian to let them in. */
    joinRequested(familyId: string): void {
      dispatch(() => repository.guardiansOf(familyId), { v: 1, kind: 'join-request', familyId });
    },
    /** Resolves once every push started so far has been handed over (or given up on). */
    async settled(): Promise<void> {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}

export type PushService = ReturnType<typeof createPushService>;
/** What the messages and invites features call. */
export type PushNotifier = Pick<PushService, 'messageStored' | 'joinRequested'>;
