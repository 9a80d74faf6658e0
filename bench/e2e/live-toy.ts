/**
 * A toy as the throughput and latency benchmarks drive it: connected to /v1/live with its device
 * token; on each `message` event it downloads the envelope and sends a `delivered` receipt over
 * the live connection (a `receipt` frame, as the toy runtime does while connected), and
 * records when it was notified and when it held the bytes. The envelope is not opened here: that
 * is the toy's CPU, not the server's, and it would share the server's cores.
 */
import { WebSocket } from 'ws';
import { signedReceiptBody } from '../../src/client/receipts.js';
import type { PairedToy } from '../../src/client/toys.js';
import type { HttpClient } from '../harness/http-client.js';

export interface Delivery {
  messageId: string;
  notifiedAt: number;
  bytesAt: number;
  ackedAt: number;
  size: number;
}

export class LiveToy {
  readonly toyId: string;
  readonly familyId: string;
  readonly #token: string;
  readonly #paired: PairedToy;
  readonly #http: HttpClient;
  #socket: WebSocket | undefined;
  /** Receipt frames waiting for their answer, by ref (the message id). */
  readonly #receipts = new Map<string, { resolve: () => void; reject: (error: Error) => void }>();
  onDelivery: ((delivery: Delivery) => void) | undefined;
  onNotified: ((messageId: string, at: number) => void) | undefined;
  /** A download or receipt that failed (counted in `failures` too). */
  onFailed: ((messageId: string) => void) | undefined;
  failures = 0;
  firstFailure: string | undefined;

  constructor(options: { paired: PairedToy; http: HttpClient }) {
    this.toyId = options.paired.toyId;
    this.familyId = options.paired.familyId;
    this.#token = options.paired.deviceToken;
    this.#paired = options.paired;
    this.#http = options.http;
  }

  /** Opens the live channel and resolves once the server says `ready`. */
  connect(baseUrl: string): Promise<void> {
    const url = `${baseUrl.replace(/^http/, 'ws')}/v1/live`;
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers: { authorization: `Bearer ${this.#token}` }, perMessageDeflate: false });
      this.#socket = socket;
      let ready = false;
      socket.on('open', () => socket.send('{"type":"resume","cursors":{}}'));
      socket.on('unexpected-response', (_req, res) => reject(new Error(`live upgrade refused: ${res.statusCode}`)));
      socket.on('error', (error) => {
        if (!ready) reject(error);
      });
      socket.on('close', () => {
        for (const waiting of this.#receipts.values()) waiting.reject(new Error('receipt: the live connection closed'));
        this.#receipts.clear();
      });
      socket.on('message', (data) => {
        const at = performance.now();
        const frame = JSON.parse(String(data)) as { type: string; ref?: string; event?: string; data?: { messageId?: string }; problem?: { status: number; detail: string } };
        if (frame.ref !== undefined) {
          const waiting = this.#receipts.get(frame.ref);
          this.#receipts.delete(frame.ref);
          if (frame.type === 'receipt-stored') waiting?.resolve();
          else waiting?.reject(new Error(`receipt: ${frame.problem?.status} ${frame.problem?.detail}`));
          return;
        }
        if (frame.type === 'ready' && !ready) {
          ready = true;
          resolve();
          return;
        }
        if (frame.type === 'event' && frame.event === 'message' && typeof frame.data?.messageId === 'string') {
          this.onNotified?.(frame.data.messageId, at);
          void this.#fetch(frame.data.messageId, at);
        }
      });
    });
  }

  async #fetch(messageId: string, notifiedAt: number): Promise<void> {
    const path = `/v1/families/${this.familyId}/messages/${messageId}`;
    const headers = { authorization: `Bearer ${this.#token}` };
    try {
      const envelope = await this.#http.request({ method: 'GET', path: `${path}/envelope`, headers });
      if (envelope.status !== 200) throw new Error(`envelope: ${envelope.status}`);
      const bytesAt = performance.now();
      // Signed by the toy's own key at the head it verified when it was paired, as a toy signs it.
      const signed = await signedReceiptBody({ signer: { id: this.toyId, identity: this.#paired.identity }, roster: this.#paired.roster, messageId, kind: 'delivered', at: Date.now() });
      await new Promise<void>((resolve, reject) => {
        this.#receipts.set(messageId, { resolve, reject });
        this.#socket!.send(JSON.stringify({ type: 'receipt', ref: messageId, familyId: this.familyId, messageId, receipt: signed }));
      });
      this.onDelivery?.({ messageId, notifiedAt, bytesAt, ackedAt: performance.now(), size: envelope.body.length });
    } catch (error) {
      this.failures += 1;
      this.firstFailure ??= error instanceof Error ? error.message : String(error);
      this.onFailed?.(messageId);
    }
  }

  close(): void {
    this.#socket?.terminate();
  }
}
