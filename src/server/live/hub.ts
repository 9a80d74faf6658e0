/**
 * Every live connection of a node, and the one timer that looks after all of them. Each heartbeat
 * interval, one sweep pings every socket and cuts those that did not answer the last ping (one
 * timer for the node instead of one per connection). The same sweep is the slow backstop of
 * authorisation: each sweep re-checks the session or device token and the families of one
 * `BACKSTOP_SWEEPS`-th of the connections, so each is re-checked about every
 * `BACKSTOP_SWEEPS × heartbeatMs` (10 minutes by default) and the database sees a steady trickle
 * rather than a burst. What must take effect at once does not wait for it: a revoked device token,
 * an ended session, a roster change or a reset toy is published on the principal's account topic,
 * which every node's connections of that principal follow, and each re-checks when it hears it.
 */
import type { LiveConnection } from './connection.js';

/** A connection is re-checked on every this many-th sweep (its slot comes round). */
export const BACKSTOP_SWEEPS = 20;

export class LiveHub {
  readonly #connections = new Set<LiveConnection>();
  /** The next backstop slot, handed out round-robin so every sweep re-checks a similar share. */
  #nextSlot = 0;
  #sweeps = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly heartbeatMs: number) {}

  get size(): number {
    return this.#connections.size;
  }

  /** The sockets of every connection, for closing them all at shutdown. */
  *sockets(): Iterable<LiveConnection['socket']> {
    for (const connection of this.#connections) yield connection.socket;
  }

  add(connection: LiveConnection): void {
    this.#connections.add(connection);
    connection.backstopSlot = this.#nextSlot;
    this.#nextSlot = (this.#nextSlot + 1) % BACKSTOP_SWEEPS;
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.sweep(), this.heartbeatMs);
      this.#timer.unref();
    }
  }

  remove(connection: LiveConnection): void {
    this.#connections.delete(connection);
  }

  /** One heartbeat of every connection, and the backstop re-check of this sweep's slot. */
  sweep(): void {
    const slot = this.#sweeps++ % BACKSTOP_SWEEPS;
    for (const connection of this.#connections) {
      connection.heartbeat();
      if (connection.backstopSlot === slot) connection.recheck();
    }
  }

  /** Re-checks every connection now (what a sweep does for one slot, for all of them). */
  recheckAll(): void {
    for (const connection of this.#connections) connection.recheck();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
