// Recent answers per member, combined over every worker of this node (issue 11 §5: the counts that decide
// least-requests are combined at least every second). Workers ship their answer counts with their metrics each
// second; the supervisor keeps one decayed count per member (the same decay as LiveState's) and hands the totals back
// to every worker, which adopts them: least-requests then compares what the whole node answered, not one worker's
// share. In a cluster every node also publishes its own totals with its heartbeat (each second), and adds the other
// nodes' latest (dropped once a node is silent for REMOTE_STALE_MS): the counts are the cluster's. Owns those
// totals. A worker's own answers since its last shipment are the only part a total can lack.
import { REQUEST_DECAY_MS } from '../answer/live.js';

/** [pool, member key, decayed count, at (ms)] */
export type RequestTotal = [pool: string, member: string, count: number, at: number];

/** Below this a total is dropped: it no longer tells members apart. */
const NEGLIGIBLE = 0.01;
/** Another node's totals count while it is this fresh (it publishes each second). */
export const REMOTE_STALE_MS = 5000;

export class RequestTotals {
  private readonly totals = new Map<string, RequestTotal>();
  private readonly remote = new Map<string, { totals: readonly RequestTotal[]; at: number }>();
  private changed = false;

  /** Another node's own totals, as it published them. */
  addRemote(node: string, totals: readonly RequestTotal[], now: number): void {
    this.remote.set(node, { totals, at: now });
    this.changed = true;
  }

  /** This node's own totals at `now` (what it publishes; the other nodes' are not in them). */
  own(now: number): RequestTotal[] {
    const out: RequestTotal[] = [];
    for (const t of this.totals.values()) {
      const v = decayed(t[2], now - t[3]);
      if (v >= NEGLIGIBLE) out.push([t[0], t[1], v, now]);
    }
    return out;
  }

  /** Answers a worker gave since its last shipment. */
  add(answers: ReadonlyArray<readonly [pool: string, member: string, n: number]>, now: number): void {
    for (const [pool, member, n] of answers) {
      if (!(n > 0)) continue;
      const k = `${pool}\n${member}`;
      const t = this.totals.get(k);
      if (t === undefined) this.totals.set(k, [pool, member, n, now]);
      else {
        t[2] = decayed(t[2], now - t[3]) + n;
        t[3] = now;
      }
      this.changed = true;
    }
  }

  /**
   * The totals at `now` (this node's and the fresh ones of other nodes, added), if any changed since the last call
   * (else null); negligible ones are dropped.
   */
  take(now: number): RequestTotal[] | null {
    if (!this.changed) return null;
    this.changed = false;
    const sum = new Map<string, RequestTotal>();
    for (const [k, t] of this.totals) {
      const v = decayed(t[2], now - t[3]);
      if (v < NEGLIGIBLE) { this.totals.delete(k); continue; }
      sum.set(k, [t[0], t[1], v, now]);
    }
    for (const [node, r] of this.remote) {
      if (now - r.at > REMOTE_STALE_MS) { this.remote.delete(node); continue; }
      for (const t of r.totals) {
        // Decayed from when it arrived here: another node's clock may be off from this one's.
        const v = decayed(t[2], now - r.at);
        const k = `${t[0]}\n${t[1]}`;
        const have = sum.get(k);
        if (have) have[2] += v;
        else if (v >= NEGLIGIBLE) sum.set(k, [t[0], t[1], v, now]);
      }
    }
    return [...sum.values()];
  }
}

function decayed(count: number, dt: number): number {
  return dt <= 0 ? count : count * Math.exp(-dt / REQUEST_DECAY_MS);
}
