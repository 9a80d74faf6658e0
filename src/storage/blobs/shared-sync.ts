/**
 * Coalesces requests for one fsync: at most one runs at a time; a request made while one runs
 * waits for the next, which starts when the running one ends and serves every request made
 * meanwhile. So each caller's earlier writes are covered by an fsync that began after them.
 */
export class SharedSync {
  #running: Promise<void> | undefined;
  #next: Promise<void> | undefined;
  readonly #sync: () => Promise<void>;
  readonly #idle: () => void;

  constructor(sync: () => Promise<void>, idle: () => void) {
    this.#sync = sync;
    this.#idle = idle;
  }

  request(): Promise<void> {
    if (this.#running === undefined) return this.#start();
    this.#next ??= this.#running.then(
      () => this.#start(),
      () => this.#start(),
    );
    return this.#next;
  }

  #start(): Promise<void> {
    this.#next = undefined;
    const running = this.#sync();
    this.#running = running;
    const settled = (): void => {
      if (this.#running !== running) return;
      this.#running = undefined;
      if (this.#next === undefined) this.#idle();
    };
    running.then(settled, settled);
    return running;
  }
}
