/**
 * Every live connection of a node, and the one timer that looks after all of them. Each heartbeat
 * interval, one sweep pings every socket and cuts those that did not answer the last ping (one
 * timer for the node instead of one per connection).
 *
 * The same sweep is the slow backstop of authorisation. What must take effect at once does not
 * wait for it: a revoked device token, an ended session, a roster change or a reset toy is
 * published on the principal's account topic, which every node's connections of that principal
 * follow, and each re-checks when it hears it (within a second). The backstop only catches an
 * announcement that never came (a publish that failed after the change was committed, a change
 * made behind the server's back): each sweep re-checks the principals of one `BACKSTOP_SWEEPS`-th
 * slot, so such a change takes effect within `BACKSTOP_SWEEPS × heartbeatMs` (20 minutes by
 * default). A principal's slot comes from its id, so all of its connections on the node are
 * re-checked in the same sweep and share its lookups (one token check per principal and token,
 * one list of families per principal: a `RecheckRound`), and the database sees a steady trickle.
 */
import { RecheckRound, type LiveConnection } from './connection.js';

/** A principal's connections are re-checked on every this many-th sweep (when its slot comes round). */
export const BACKSTOP_SWEEPS = 40;

/** The backstop slot of a principal: FNV-1a of its id, so every connection of one principal gets the same. */
export function backstopSlotOf(principalId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < principalId.length; i++) hash = Math.imul(hash ^ principalId.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % BACKSTOP_SWEEPS;
}

export class LiveHub {
  readonly #connections = new Set<LiveConnection>();
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
    connection.backstopSlot = backstopSlotOf(connection.principalId);
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
    let round: RecheckRound | undefined;
    for (const connection of this.#connections) {
      connection.heartbeat();
      if (connection.backstopSlot === slot) connection.recheck((round ??= new RecheckRound()));
    }
  }

  /** Re-checks every connection now (what a sweep does for one slot, for all of them), sharing lookups per principal. */
  recheckAll(): void {
    const round = new RecheckRound();
    for (const connection of this.#connections) connection.recheck(round);
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
