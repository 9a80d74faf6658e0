/**
 * What a Web Push means to the app, shared by the service worker and the tests: the payload is
 * parsed strictly (src/protocol/push.ts, version 1) and shown as a generic notification that names
 * nobody; the app opens the place it points to, then fetches and decrypts what is there. A payload
 * that is not one of ours still shows (browsers require a notification for each push), as the
 * most generic one, opening the app's start page.
 */

export type PushNoticeKind = 'message' | 'approval' | 'join-request';

export interface PushNotice {
  kind: PushNoticeKind;
  familyId: string;
  /** For 'message' and 'approval'. */
  messageId?: string;
}

const ID = /^[A-Za-z0-9_-]{22}$/;

/** The notice a push payload (its decrypted text) carries, or undefined when it is not a version 1 Burrow payload. */
export function parsePushNotice(text: string): PushNotice | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const p = value as Record<string, unknown>;
  if (p.v !== 1 || typeof p.familyId !== 'string' || !ID.test(p.familyId)) return undefined;
  const keys = Object.keys(p).sort().join(',');
  if (p.kind === 'join-request' && keys === 'familyId,kind,v') return { kind: 'join-request', familyId: p.familyId };
  if ((p.kind === 'message' || p.kind === 'approval') && keys === 'familyId,kind,messageId,v' && typeof p.messageId === 'string' && ID.test(p.messageId)) {
    return { kind: p.kind, familyId: p.familyId, messageId: p.messageId };
  }
  return undefined;
}

/** The notification's words: the same for every family and person, so a lock screen tells nobody who. */
export function pushNoticeText(notice: PushNotice | undefined): { title: string; body: string } {
  switch (notice?.kind) {
    case 'message':
      return { title: 'Burrow', body: 'New message from your family\'s toy' };
    case 'approval':
      return { title: 'Burrow', body: 'A message waits for your approval' };
    case 'join-request':
      return { title: 'Burrow', body: 'Someone asked to join' };
    default:
      return { title: 'Burrow', body: 'Something new in your family' };
  }
}

/** Where the app opens for a notice (a path of this origin). */
export function pushNoticePath(notice: PushNotice | undefined): string {
  switch (notice?.kind) {
    case 'message':
      return `/family/${notice.familyId}/message/${notice.messageId!}`;
    case 'approval':
      return `/family/${notice.familyId}/messages`;
    case 'join-request':
      return `/family/${notice.familyId}/people`;
    default:
      return '/';
  }
}
