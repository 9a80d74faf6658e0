/**
 * A token offered as a WebSocket subprotocol (what a browser can send, src/protocol/live.ts), on
 * a real server on 127.0.0.1 with its logs captured at the most verbose level: the upgrade is
 * authenticated by it as by an Authorization header, the answer selects `burrow.v1` and never the
 * token, a token in the URL is never read, and no log line holds the token in any form.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { utf8, toBase64Url } from '../../../src/crypto/bytes.js';
import { LIVE_SUBPROTOCOL, liveSubprotocols, tokenOfSubprotocols } from '../../../src/protocol/live.js';
import { startTestServer, type TestServer } from '../helpers.js';
import { addChild, createFamily, newPerson, type Person, type TestFamily } from '../families/fixtures.js';
import { pairToy, type PairedToy } from '../toys/fixtures.js';

let server: TestServer;
let port: number;
let guardian: Person;
let family: TestFamily;
let toy: PairedToy;
const logLines: string[] = [];

beforeAll(async () => {
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  server = await startTestServer({ log: { stream, level: 'trace' } });
  guardian = await newPerson(server.app);
  family = await createFamily(server.app, guardian);
  const ada = await addChild(server.app, family, guardian);
  toy = await pairToy(server.app, family, guardian, ada);
  const address = await server.app.listen({ host: '127.0.0.1', port: 0 });
  port = Number(new URL(address).port);
});
afterAll(async () => { await server.close(); });

interface Opened {
  socket: WebSocket;
  /** The subprotocol header of the server's 101 answer. */
  answered: string | undefined;
  ready: Promise<void>;
  closed: Promise<number>;
}

/** Opens /v1/live offering `protocols`, with no Authorization header and no cookie. */
function open(protocols: string[], path = '/v1/live'): Promise<Opened> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}${path}`, protocols);
  let answered: string | undefined;
  socket.once('upgrade', (response) => { answered = response.headers['sec-websocket-protocol'] as string | undefined; });
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  const ready = new Promise<void>((resolve) => socket.on('message', (data) => { if ((JSON.parse(String(data)) as { type: string }).type === 'ready') resolve(); }));
  return new Promise((resolve, reject) => {
    socket.once('open', () => {
      socket.send(JSON.stringify({ type: 'ping' }));
      resolve({ socket, answered, ready, closed });
    });
    socket.once('unexpected-response', (request, response) => {
      request.destroy();
      reject(new Error(`HTTP ${response.statusCode}`));
    });
    socket.once('error', reject);
  });
}

describe('a token offered as a WebSocket subprotocol', () => {
  it('authenticates a toy; the server selects burrow.v1 and never echoes the token', async () => {
    const opened = await open(liveSubprotocols(toy.deviceToken));
    expect(opened.answered).toBe(LIVE_SUBPROTOCOL);
    expect(opened.socket.protocol).toBe(LIVE_SUBPROTOCOL);
    await opened.ready;
    opened.socket.close();
    await opened.closed;
  });

  it('authenticates a member’s session token the same way', async () => {
    const opened = await open(liveSubprotocols(guardian.token));
    expect(opened.answered).toBe(LIVE_SUBPROTOCOL);
    await opened.ready;
    opened.socket.close();
    await opened.closed;
  });

  it('refuses an unknown, malformed or doubled token, and a token in the URL, with 401', async () => {
    await expect(open(liveSubprotocols('toy.not-a-real-token'))).rejects.toThrow('HTTP 401');
    await expect(open([LIVE_SUBPROTOCOL, 'burrow.token.'])).rejects.toThrow('HTTP 401');
    await expect(open([LIVE_SUBPROTOCOL, 'burrow.token.!!!'])).rejects.toThrow();
    await expect(open([...liveSubprotocols(toy.deviceToken), liveSubprotocols(guardian.token)[1]])).rejects.toThrow('HTTP 401');
    await expect(open([LIVE_SUBPROTOCOL], `/v1/live?token=${encodeURIComponent(toy.deviceToken)}`)).rejects.toThrow('HTTP 401');
    await expect(open([LIVE_SUBPROTOCOL], `/v1/live?access_token=${encodeURIComponent(toy.deviceToken)}`)).rejects.toThrow('HTTP 401');
  });

  it('is read only from a well-formed offer', () => {
    const [, offered] = liveSubprotocols(toy.deviceToken);
    expect(tokenOfSubprotocols(`${LIVE_SUBPROTOCOL}, ${offered}`)).toBe(toy.deviceToken);
    expect(tokenOfSubprotocols(LIVE_SUBPROTOCOL)).toBeUndefined();
    expect(tokenOfSubprotocols(`burrow.token.${toBase64Url(utf8('two words'))}`)).toBeUndefined();
    expect(tokenOfSubprotocols(`burrow.token.${'A'.repeat(4000)}`)).toBeUndefined();
  });

  it('leaves no trace of either token in any log line, at the most verbose level', async () => {
    // Lines were written by every request above (the refused ones too); make one more of each kind.
    const opened = await open(liveSubprotocols(toy.deviceToken));
    await opened.ready;
    opened.socket.close();
    await opened.closed;
    await server.app.inject({ method: 'GET', url: '/v1/toy', headers: { authorization: `Bearer ${toy.deviceToken}` } });
    expect(logLines.length).toBeGreaterThan(5);
    const secrets = [toy.deviceToken, guardian.token].flatMap((token) => [token, liveSubprotocols(token)[1], toBase64Url(utf8(token))]);
    // The refused upgrades above that put the token in the URL are logged with it: that is why a
    // URL is no place for a token, and why the server never reads one there. Every other line is clean.
    const urlOffers = logLines.filter((line) => line.includes('/v1/live?'));
    expect(urlOffers).toHaveLength(2);
    const leaks = logLines.filter((line) => !urlOffers.includes(line) && (secrets.some((secret) => line.includes(secret)) || /burrow\.token\./.test(line)));
    expect(leaks).toEqual([]);
  });
});
