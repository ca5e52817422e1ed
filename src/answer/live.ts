// Live, per-worker state the answer engine reads and updates between snapshot swaps: health as last reported,
// static-stripe marks, rotating counters, smooth-weight accumulators and recent-request counts.
// Owns: fixed-size typed arrays sized from a CompiledPolicy. Never allocates per query; never touches a database.
import type { CompiledPolicy } from './policy.js';

/** Recent requests decay with this time constant (least-requests: "fewest answers given recently", seed 000). */
export const REQUEST_DECAY_MS = 10_000;

export class LiveState {
  /** Health per member: 1 up, 0 down. Starts up; health monitoring (H2) flips it. */
  readonly up: Uint8Array;
  /** Static-stripe "marked up" per candidate slot (members, then name/pool slots). */
  readonly marked: Uint8Array;
  /** Smooth weighted round robin accumulators per candidate slot. */
  readonly current: Float64Array;
  /** Rotating counters per candidate list (pools' member lists, then names' pool lists). */
  readonly counter: Uint32Array;
  /** Decayed answer counts per member, and when each was last decayed. */
  readonly requests: Float64Array;
  readonly requestsAt: Float64Array;
  /** Per-query exclusion of already chosen candidates (multi-value answers). */
  readonly excluded: Uint8Array;
  readonly memberCount: number;
  readonly slotCount: number;

  constructor(policy: CompiledPolicy) {
    const m = policy.members.length;
    const poolSlots = policy.names.reduce((n, name) => n + name.pools.length, 0);
    this.memberCount = m;
    this.slotCount = m + poolSlots;
    this.up = new Uint8Array(m).fill(1);
    this.marked = new Uint8Array(this.slotCount).fill(1);
    this.current = new Float64Array(this.slotCount);
    this.counter = new Uint32Array(policy.pools.length + policy.names.length);
    this.requests = new Float64Array(m);
    this.requestsAt = new Float64Array(m);
    this.excluded = new Uint8Array(this.slotCount);
  }

  /** Count one answer given with member `i` at time `now` (ms). */
  countRequest(i: number, now: number): void {
    this.requests[i] = this.recentRequests(i, now) + 1;
    this.requestsAt[i] = now;
  }

  /** Exponentially decayed answer count of member `i` at `now`. */
  recentRequests(i: number, now: number): number {
    const dt = now - this.requestsAt[i]!;
    const r = this.requests[i]!;
    return dt <= 0 || r === 0 ? r : r * Math.exp(-dt / REQUEST_DECAY_MS);
  }

  /** Carry health over from the state a previous snapshot's LiveState had (members matched by key). */
  inheritHealth(prev: LiveState, map: Int32Array): void {
    for (let i = 0; i < map.length; i++) {
      const j = map[i]!;
      if (j >= 0) {
        this.up[i] = prev.up[j]!;
        this.requests[i] = prev.requests[j]!;
        this.requestsAt[i] = prev.requestsAt[j]!;
      }
    }
  }
}
