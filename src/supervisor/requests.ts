// Recent answers per member, combined over every worker of this node (issue 11 §5: the counts that decide
// least-requests are combined at least every second). Workers ship their answer counts with their metrics each
// second; the supervisor keeps one decayed count per member (the same decay as LiveState's) and hands the totals back
// to every worker, which adopts them: least-requests then compares what the whole node answered, not one worker's
// share. Owns those totals. A worker's own answers since its last shipment are the only part a total can lack.
import { REQUEST_DECAY_MS } from '../answer/live.js';

/** [pool, member key, decayed count, at (ms)] */
export type RequestTotal = [pool: string, member: string, count: number, at: number];

/** Below this a total is dropped: it no longer tells members apart. */
const NEGLIGIBLE = 0.01;

export class RequestTotals {
  private readonly totals = new Map<string, RequestTotal>();
  private changed = false;

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

  /** The totals at `now`, if any changed since the last call (else null); negligible ones are dropped. */
  take(now: number): RequestTotal[] | null {
    if (!this.changed) return null;
    this.changed = false;
    const out: RequestTotal[] = [];
    for (const [k, t] of this.totals) {
      const v = decayed(t[2], now - t[3]);
      if (v < NEGLIGIBLE) { this.totals.delete(k); continue; }
      out.push([t[0], t[1], v, now]);
    }
    return out;
  }
}

function decayed(count: number, dt: number): number {
  return dt <= 0 ? count : count * Math.exp(-dt / REQUEST_DECAY_MS);
}
