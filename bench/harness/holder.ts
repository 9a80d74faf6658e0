/**
 * A connection holder: a client process (started by the bench as `--role holder`) that opens
 * WebSocket connections on command over IPC, spread over several loopback source addresses, and
 * keeps them open (answering pings, as `ws` does) until told to close. Several holders share the
 * work so no single client process runs out of descriptors or CPU.
 */
import { WebSocket } from 'ws';

interface OpenCommand {
  type: 'open';
  id: number;
  url: string;
  /** Device tokens, one per connection; absent: `count` unauthenticated connections. */
  tokens?: string[];
  count?: number;
  localAddresses: string[];
  concurrency: number;
}

export function runHolder(): void {
  const sockets = new Set<WebSocket>();
  let unexpectedCloses = 0;

  function openOne(url: string, token: string | undefined, localAddress: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { ...(token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }), localAddress, perMessageDeflate: false });
      let settled = false;
      const timer = setTimeout(() => fail(new Error('no ready frame within 30 s')), 30_000);
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.terminate();
        reject(error);
      };
      socket.on('open', () => socket.send('{"type":"resume","cursors":{}}'));
      socket.on('message', (data) => {
        if (settled) return;
        if (String(data).includes('"ready"')) {
          settled = true;
          clearTimeout(timer);
          sockets.add(socket);
          resolve();
        }
      });
      socket.on('unexpected-response', (_req, res) => fail(new Error(`upgrade refused: ${res.statusCode}`)));
      socket.on('error', (error) => fail(error));
      socket.on('close', () => {
        if (sockets.delete(socket)) unexpectedCloses += 1;
        fail(new Error('closed before ready'));
      });
    });
  }

  async function open(command: OpenCommand): Promise<void> {
    const started = performance.now();
    const total = command.tokens?.length ?? command.count ?? 0;
    let next = 0;
    let ok = 0;
    let failed = 0;
    let firstError: string | undefined;
    await Promise.all(Array.from({ length: Math.max(1, command.concurrency) }, async () => {
      for (let i = next++; i < total; i = next++) {
        try {
          await openOne(command.url, command.tokens?.[i], command.localAddresses[i % command.localAddresses.length]!);
          ok += 1;
        } catch (error) {
          failed += 1;
          firstError ??= error instanceof Error ? error.message : String(error);
        }
      }
    }));
    process.send?.({ type: 'opened', id: command.id, ok, failed, firstError, ms: performance.now() - started });
  }

  process.on('message', (message: { type?: string; id?: number }) => {
    if (message?.type === 'open') void open(message as OpenCommand);
    else if (message?.type === 'status') process.send?.({ type: 'status', id: message.id, open: sockets.size, unexpectedCloses });
    else if (message?.type === 'close') {
      for (const socket of sockets) socket.terminate();
      sockets.clear();
      process.send?.({ type: 'close', id: message.id });
    }
  });
  // The probe unrefs the IPC channel; a holder must stay up until it is stopped.
  setInterval(() => undefined, 60_000);
  console.log('listening on http://holder');
  process.once('SIGTERM', () => process.exit(0));
}
