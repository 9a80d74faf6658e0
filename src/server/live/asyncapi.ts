/**
 * The AsyncAPI 3.0 document of the live channel (`GET /v1/live`), generated from the TypeBox
 * schemas of src/protocol/live.ts: `ClientFrame`, which the connection validates every incoming
 * frame with, and `ServerFrame`, which types every frame it sends. Served at `/v1/asyncapi.json`;
 * test/server/api-description.test.ts validates it against the official AsyncAPI 3.0 schema, lints
 * it and checks the frames of a real connection against it.
 */
import { ClientFrame, LIVE_SUBPROTOCOL, ServerFrame } from '../../protocol/live.js';
import { SECURE_SESSION_COOKIE, SESSION_COOKIE } from '../sessions/tokens.js';

type Json = Record<string, unknown>;

function plain(schema: unknown): Json {
  return JSON.parse(JSON.stringify(schema)) as Json;
}

/** The frames of each direction, by message name, with the schema each one is (a member of the unions above). */
function clientMessages(): Record<string, { title: string; summary: string; payload: Json }> {
  const [resume, ping, receipt] = ClientFrame.anyOf;
  return {
    receipt: { title: 'Receipt', summary: 'A signed receipt, exactly the body of POST /v1/families/{familyId}/messages/{messageId}/receipts, stored as that route stores it; answered by receipt-stored or an error with the same ref', payload: plain(receipt) },
    resume: { title: 'Resume', summary: 'The first frame, optional: the last cursor the client processed per family; the server replays what came after, then sends ready', payload: plain(resume) },
    ping: { title: 'Ping', summary: 'Whenever the client likes; answered by pong (a first-frame ping means live events only, no backlog)', payload: plain(ping) },
  };
}

function serverMessages(): Record<string, { title: string; summary: string; payload: Json }> {
  const out: Record<string, { title: string; summary: string; payload: Json }> = {};
  for (const frame of ServerFrame.anyOf) {
    const schema = plain(frame);
    const properties = schema.properties as Record<string, { const?: string }>;
    const type = properties.type?.const;
    if (type === 'event') {
      const event = properties.event?.const ?? '';
      out[`event.${event}`] = { title: `Event: ${event}`, summary: `A ${event} event of one of the caller's families, with its cursor`, payload: schema };
    } else if (type === 'ready') {
      out.ready = { title: 'Ready', summary: 'The backlog after the resume cursors has been delivered; live events follow', payload: schema };
    } else if (type === 'pong') {
      out.pong = { title: 'Pong', summary: 'The answer to a ping', payload: schema };
    } else if (type === 'receipt-stored') {
      out['receipt-stored'] = { title: 'Receipt stored', summary: 'The receipt frame `ref` was stored: the message as the HTTP route\'s 200 answers it (a repeated receipt is answered the same)', payload: schema };
    } else {
      out.error = { title: 'Error', summary: 'A refused frame, as an RFC 9457 problem (for a receipt frame, the one the HTTP route would answer, with the frame\'s ref); the connection stays open', payload: schema };
    }
  }
  return out;
}

/** Builds the document. */
export function buildAsyncApiDocument(info: { version: string }): Json {
  const client = clientMessages();
  const server = serverMessages();
  const messages: Json = {};
  for (const [name, message] of Object.entries({ ...client, ...server })) {
    messages[name] = { name, contentType: 'application/json', ...message };
  }
  const ref = (name: string): Json => ({ $ref: `#/channels/live/messages/${name}` });
  const channel = { $ref: '#/channels/live' };
  const memberOrToy = ['sessionBearer', 'sessionCookie', 'secureSessionCookie', 'deviceToken', 'subprotocolToken'].map((name) => ({ $ref: `#/components/securitySchemes/${name}` }));
  const eventNames = Object.keys(server).filter((name) => name.startsWith('event.'));
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Burrow live channel',
      version: info.version,
      license: { name: 'AGPL-3.0-or-later', url: 'https://www.gnu.org/licenses/agpl-3.0.html' },
      description: [
        'The live channel of a Burrow server: a WebSocket at `/v1/live` (opened as described by the OpenAPI document at `/v1/openapi.json`) whose frames are JSON text. Events carry ids, never content; a client fetches what an event names. Delivery is at-least-once: dedupe by (familyId, cursor) and by message id.',
        'Limits: frames of at most 16 KiB and 120 frames a minute, receipts included (a flood is closed with 1008; a client keeps its receipt frames to 60 in any minute and posts the rest over HTTP); a receipt frame also takes one request from its address\'s HTTP budget (429 problem, connection kept); a client that does not read is closed with 1013; a session that ends or a toy that leaves its family is closed with 1008. The server pings every 30 seconds (WebSocket ping) and ends a connection that did not answer the previous one.',
      ].join('\n\n'),
    },
    defaultContentType: 'application/json',
    channels: {
      live: {
        address: '/v1/live',
        title: 'Live events',
        description: 'One connection per device, carrying the events of every family of the caller that the caller may see: a relative or a toy gets message events only for the messages of its conversations, and child events only for its children.',
        messages: Object.fromEntries(Object.keys(messages).map((name) => [name, { $ref: `#/components/messages/${name}` }])),
        bindings: {
          ws: {
            method: 'GET',
            headers: {
              type: 'object',
              properties: {
                Authorization: { type: 'string', description: 'Bearer and a session token or a toy\'s device token; browsers send the session cookie, or the token as a subprotocol, instead' },
                'Sec-WebSocket-Protocol': {
                  type: 'string',
                  description: `The subprotocols offered: \`${LIVE_SUBPROTOCOL}\`, which the server selects in its answer, and, from a client that cannot set an Authorization header (a browser), the token as \`burrow.token.<base64url of the token>\`, which the server never selects, echoes or logs. A token is never read from the URL.`,
                },
                Origin: { type: 'string', description: 'When present, must be the server\'s own origin (403 otherwise)' },
              },
            },
            bindingVersion: '0.1.0',
          },
        },
      },
    },
    operations: {
      sendResume: { action: 'send', channel, title: 'Resume', summary: client.resume!.summary, security: memberOrToy, messages: [ref('resume')] },
      sendPing: { action: 'send', channel, title: 'Ping', summary: client.ping!.summary, security: memberOrToy, messages: [ref('ping')], reply: { channel, messages: [ref('pong')] } },
      sendReceipt: { action: 'send', channel, title: 'Receipt', summary: client.receipt!.summary, security: memberOrToy, messages: [ref('receipt')], reply: { channel, messages: [ref('receipt-stored'), ref('error')] } },
      receiveEvent: { action: 'receive', channel, title: 'Events', summary: 'The events of the caller\'s families, oldest first per family', security: memberOrToy, messages: eventNames.map(ref) },
      receiveReady: { action: 'receive', channel, title: 'Ready', summary: server.ready!.summary, security: memberOrToy, messages: [ref('ready')] },
      receiveError: { action: 'receive', channel, title: 'Refused frames', summary: server.error!.summary, security: memberOrToy, messages: [ref('error')] },
    },
    components: {
      messages,
      securitySchemes: {
        sessionBearer: { type: 'http', scheme: 'bearer', description: 'A session token, in the upgrade request\'s Authorization header' },
        sessionCookie: { type: 'httpApiKey', in: 'cookie', name: SESSION_COOKIE, description: 'The session cookie over plain HTTP' },
        secureSessionCookie: { type: 'httpApiKey', in: 'cookie', name: SECURE_SESSION_COOKIE, description: 'The session cookie over https' },
        deviceToken: { type: 'http', scheme: 'bearer', description: 'A toy\'s device token (`toy.…`)' },
        subprotocolToken: { type: 'httpApiKey', in: 'header', name: 'Sec-WebSocket-Protocol', description: `A session token or a toy's device token offered as the subprotocol \`burrow.token.<base64url of the token>\` beside \`${LIVE_SUBPROTOCOL}\` (what a browser can send; the virtual toy does)` },
      },
    },
  };
}
