// Following the store's change feed (issue 11, SPEC C2): every node applies every committed change in feed order,
// from the last position it applied, so a node that was stopped or cut off catches up exactly (no gap, no change
// applied twice as far as the position goes; applying a change is idempotent besides). Owns: the polling loop, the
// position, and the store's health as the node sees it (degraded while the database cannot be read). What a change
// does is the supervisor's (serve.ts), through `apply`.
import type { StateStore } from '../state/async.js';
import type { Change } from '../state/store.js';

export interface FollowerOptions {
  /** Poll interval (a change is in force on every node within about this, plus its own apply). */
  intervalMs: number;
  /** Changes read per round trip. */
  batch?: number;
  /**
   * Applies changes in order. A change that cannot apply (a revision that does not compile) is logged by it, not
   * retried; a store error thrown (what the change refers to could not be read) retries the same changes later.
   */
  apply: (changes: Change[]) => Promise<void> | void;
  /** The store became unreachable (error) or reachable again (null). */
  onState?: (error: Error | null) => void;
}

export class FeedFollower {
  /** The newest position applied. */
  position: number;
  /** The newest position the feed had when last read. */
  head: number;
  /** The error that made the store unreachable, and since when; null while it answers. */
  error: Error | null = null;
  since: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(private readonly store: StateStore, start: number, private readonly opts: FollowerOptions) {
    this.position = start;
    this.head = start;
  }

  start(): void {
    this.timer = setInterval(() => { void this.poll(); }, this.opts.intervalMs);
    this.timer.unref();
  }

  /** Read the feed now (after a change this node committed, so its own changes do not wait for the timer). */
  poll(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.drain().finally(() => {
      this.running = null;
      if (this.again && !this.stopped) {
        this.again = false;
        void this.poll();
      }
    });
    return this.running;
  }

  private async drain(): Promise<void> {
    const limit = this.opts.batch ?? 500;
    for (;;) {
      let changes: Change[];
      try {
        changes = await this.store.changesSince(this.position, limit);
        this.head = Math.max(this.head, changes.at(-1)?.position ?? this.position);
        this.healthy();
      } catch (e) {
        this.failed(e as Error);
        return;
      }
      if (changes.length === 0 || this.stopped) return;
      try {
        await this.opts.apply(changes);
      } catch (e) {
        // Reading what a change refers to failed (the database went away): the same changes again next time.
        this.failed(e as Error);
        return;
      }
      this.position = changes.at(-1)!.position;
      if (changes.length < limit) return;
    }
  }

  /** Note that the store answered (also for writes elsewhere in the node). */
  healthy(): void {
    if (this.error === null) return;
    this.error = null;
    this.since = null;
    this.opts.onState?.(null);
  }

  /** Note that the store did not answer. */
  failed(e: Error): void {
    if (this.error === null) {
      this.since = Date.now();
      this.error = e;
      this.opts.onState?.(e);
    } else {
      this.error = e;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
