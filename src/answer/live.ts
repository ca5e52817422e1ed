// Live, per-worker state the answer engine reads and updates between snapshot swaps: health as last reported,
// static-stripe marks, rotating counters, smooth-weight accumulators and recent-request counts.
// Owns: fixed-size typed arrays sized from a CompiledPolicy. Never allocates per query; never touches a database.
import { METRICS, type CompiledPolicy } from './policy.js';

/** Operator admin state per member (persisted in the store, SPEC H2): automatic, forced up, forced down, drain. */
export const ADMIN_AUTO = 0;
export const ADMIN_UP = 1;
export const ADMIN_DOWN = 2;
export const ADMIN_DRAIN = 3;
export type AdminState = 'auto' | 'up' | 'down' | 'drain';
export const ADMIN_CODES: Record<AdminState, number> = { auto: ADMIN_AUTO, up: ADMIN_UP, down: ADMIN_DOWN, drain: ADMIN_DRAIN };

/** Recent requests decay with this time constant (least-requests: "fewest answers given recently", seed 000). */
export const REQUEST_DECAY_MS = 10_000;

export class LiveState {
  /**
   * Usable for new answers, per member: derived from health, admin state and agent drain by refresh(). Methods and
   * candidate lists read only this.
   */
  readonly up: Uint8Array;
  /** Usable for an existing persistence record: like `up`, but a drained member keeps the clients it has. */
  readonly sticky: Uint8Array;
  /** Monitor verdict per member (1 up). Members without monitors stay up. */
  readonly health: Uint8Array;
  /** Operator admin state per member (ADMIN_*). */
  readonly admin: Uint8Array;
  /** The member's own agent asked for drain. */
  readonly agentDrain: Uint8Array;
  /** Agent weight:NN% as a factor of the configured weight. */
  readonly weightScale: Float64Array;
  /** Metric values per member, METRICS.length per member: configured values, overwritten by probes and agents. */
  readonly metrics: Float64Array;
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

  constructor(policy: CompiledPolicy, configured = true) {
    const m = policy.members.length;
    this.memberCount = m;
    this.slotCount = policy.memberRoom + policy.nameSlots;
    this.up = new Uint8Array(m).fill(1);
    this.sticky = new Uint8Array(m).fill(1);
    this.health = new Uint8Array(m).fill(1);
    this.admin = new Uint8Array(m);
    this.agentDrain = new Uint8Array(m);
    this.weightScale = new Float64Array(m).fill(1);
    this.metrics = new Float64Array(m * METRICS.length);
    if (configured) policy.members.forEach((member) => this.metrics.set(member.metrics, member.index * METRICS.length));
    this.marked = new Uint8Array(this.slotCount).fill(1);
    this.current = new Float64Array(this.slotCount);
    this.counter = new Uint32Array(policy.poolRoom + policy.names.length);
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

  /** Recompute `up` and `sticky` of member i from health, admin state and drain. */
  refresh(i: number): void {
    const admin = this.admin[i]!;
    const healthy = this.health[i]!;
    const drained = admin === ADMIN_DRAIN || this.agentDrain[i] === 1;
    const up = admin === ADMIN_UP ? 1 : admin === ADMIN_DOWN || drained ? 0 : healthy;
    this.up[i] = up;
    this.sticky[i] = admin === ADMIN_UP ? 1 : admin === ADMIN_DOWN ? 0 : drained ? healthy : up;
  }

  /**
   * Become a copy of `src` (same policy, so same sizes): what explain reads to answer as this worker's next query
   * would, without moving any of the worker's own counters.
   */
  copyFrom(src: LiveState): void {
    if (src.memberCount !== this.memberCount || src.slotCount !== this.slotCount || src.counter.length !== this.counter.length) {
      throw new RangeError('live state copy: the two states belong to different policies');
    }
    const arrays = ['up', 'sticky', 'health', 'admin', 'agentDrain', 'weightScale', 'metrics', 'marked', 'current', 'counter', 'requests', 'requestsAt'] as const;
    for (const k of arrays) (this[k] as Uint8Array).set(src[k] as Uint8Array);
  }

  /**
   * The live state of `policy`, made by a change from the policy `prev` belongs to (same layout: an index means the
   * same member, pool or name): everything carries over by index, except that the members the change compiled
   * again or added (policy.touched) start with their configured metrics and fresh rotation marks. Costs copying
   * the arrays, not a lookup per member.
   */
  static derive(prev: LiveState, policy: CompiledPolicy): LiveState {
    const live = new LiveState(policy, false);
    const arrays = ['up', 'sticky', 'health', 'admin', 'agentDrain', 'weightScale', 'metrics', 'marked', 'current', 'counter', 'requests', 'requestsAt'] as const;
    for (const k of arrays) {
      const from = prev[k] as Uint8Array;
      const to = live[k] as Uint8Array;
      to.set(from.length <= to.length ? from : from.subarray(0, to.length));
    }
    const fresh = (i: number): void => {
      const member = policy.members[i]!;
      live.metrics.set(member.metrics, i * METRICS.length);
      live.marked[i] = 1;
      live.current[i] = 0;
    };
    for (let i = prev.memberCount; i < live.memberCount; i++) fresh(i);
    for (const i of policy.touched ?? []) fresh(i);
    return live;
  }

  /** Carry health, admin state and measured values over from a previous snapshot's LiveState (members matched by key). */
  inheritHealth(prev: LiveState, map: Int32Array): void {
    for (let i = 0; i < map.length; i++) {
      const j = map[i]!;
      if (j < 0) continue;
      this.health[i] = prev.health[j]!;
      this.admin[i] = prev.admin[j]!;
      this.agentDrain[i] = prev.agentDrain[j]!;
      this.weightScale[i] = prev.weightScale[j]!;
      this.requests[i] = prev.requests[j]!;
      this.requestsAt[i] = prev.requestsAt[j]!;
      this.refresh(i);
    }
  }
}
