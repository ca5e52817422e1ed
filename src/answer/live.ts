// Live, per-worker state the answer engine reads and updates between snapshot swaps: health as last reported,
// static-stripe marks, rotating counters, smooth-weight accumulators and recent-request counts.
// Owns: typed arrays sized from a CompiledPolicy, with room for an edit to grow into (adopt). Never allocates per
// query; never touches a database.
import { METRICS, counterCount, type CompiledPolicy } from './policy.js';

/** Operator admin state per member (persisted in the store, SPEC H2): automatic, forced up, forced down, drain. */
export const ADMIN_AUTO = 0;
export const ADMIN_UP = 1;
export const ADMIN_DOWN = 2;
export const ADMIN_DRAIN = 3;
export type AdminState = 'auto' | 'up' | 'down' | 'drain';
export const ADMIN_CODES: Record<AdminState, number> = { auto: ADMIN_AUTO, up: ADMIN_UP, down: ADMIN_DOWN, drain: ADMIN_DRAIN };

/** Recent requests decay with this time constant (least-requests: "fewest answers given recently", seed 000). */
export const REQUEST_DECAY_MS = 10_000;

/** The arrays a LiveState copies (excluded is per query: never copied). */
const ARRAYS = ['up', 'sticky', 'health', 'admin', 'agentDrain', 'weightScale', 'metrics', 'marked', 'current', 'counter', 'requests', 'requestsAt'] as const;

/** The metrics of a state none of whose members has any (shared: never written, setMetric replaces it). */
const NO_METRICS = new Float64Array(0);

/** Metrics for `members` members, every value unknown. */
function unknownMetrics(members: number): Float64Array {
  return new Float64Array(members * METRICS.length).fill(NaN);
}

/** Whether a member's configured metrics hold any known value. */
function hasMetrics(values: Float64Array): boolean {
  for (let k = 0; k < values.length; k++) if (values[k] === values[k]) return true;
  return false;
}

/** Room for `n` and some more: an edit that adds a few members, slots or names fits without growing the arrays. */
function withRoom(n: number): number {
  return n + (n >> 3) + 64;
}

export class LiveState {
  /**
   * Usable for new answers, per member: derived from health, admin state and agent drain by refresh(). Methods and
   * candidate lists read only this.
   */
  up: Uint8Array;
  /** Usable for an existing persistence record: like `up`, but a drained member keeps the clients it has. */
  sticky: Uint8Array;
  /** Monitor verdict per member (1 up). Members without monitors stay up. */
  health: Uint8Array;
  /** Operator admin state per member (ADMIN_*). */
  admin: Uint8Array;
  /** The member's own agent asked for drain. */
  agentDrain: Uint8Array;
  /** Agent weight:NN% as a factor of the configured weight. */
  weightScale: Float64Array;
  /**
   * Metric values per member, METRICS.length per member: configured values, overwritten by probes and agents. Empty
   * until a member has one (metric(): NaN): most large policies measure nothing, and 7 doubles per member were the
   * largest array here (12.6 MB at 200,000 members, in every process).
   */
  metrics: Float64Array;
  /** Static-stripe "marked up" per candidate slot (members, then name/pool slots). */
  marked: Uint8Array;
  /** Smooth weighted round robin accumulators per candidate slot. */
  current: Float64Array;
  /** Rotating counters per candidate list (pools' member lists, then names' pool lists). */
  counter: Uint32Array;
  /** Decayed answer counts per member, and when each was last decayed. */
  requests: Float64Array;
  requestsAt: Float64Array;
  /** Per-query exclusion of already chosen candidates (multi-value answers). */
  excluded: Uint8Array;
  /** Members, candidate slots and counters of the policy this state is of (the arrays may hold room for more). */
  memberCount: number;
  slotCount: number;
  counterCount: number;

  constructor(policy: CompiledPolicy) {
    this.memberCount = policy.members.length;
    this.slotCount = policy.memberRoom + policy.nameSlots;
    this.counterCount = counterCount(policy);
    const m = withRoom(this.memberCount);
    const slots = withRoom(this.slotCount);
    this.up = new Uint8Array(m).fill(1);
    this.sticky = new Uint8Array(m).fill(1);
    this.health = new Uint8Array(m).fill(1);
    this.admin = new Uint8Array(m);
    this.agentDrain = new Uint8Array(m);
    this.weightScale = new Float64Array(m).fill(1);
    this.metrics = NO_METRICS;
    for (const member of policy.members) if (hasMetrics(member.metrics)) this.setMetrics(member.index, member.metrics);
    this.marked = new Uint8Array(slots).fill(1);
    this.current = new Float64Array(slots);
    this.counter = new Uint32Array(withRoom(this.counterCount));
    this.requests = new Float64Array(m);
    this.requestsAt = new Float64Array(m);
    this.excluded = new Uint8Array(slots);
  }

  /** Metric `k` (index into METRICS) of member `i`: NaN when unknown. */
  metric(i: number, k: number): number {
    const v = this.metrics[i * METRICS.length + k];
    return v === undefined ? NaN : v;
  }

  /** Set metric `k` of member `i` (the array made on the first value). */
  setMetric(i: number, k: number, v: number): void {
    if (this.metrics.length === 0) this.metrics = unknownMetrics(this.up.length);
    this.metrics[i * METRICS.length + k] = v;
  }

  /** Set every metric of member `i` (configured values; unknown ones NaN). */
  private setMetrics(i: number, values: Float64Array): void {
    if (this.metrics.length === 0) {
      if (!hasMetrics(values)) return;
      this.metrics = unknownMetrics(this.up.length);
    }
    this.metrics.set(values, i * METRICS.length);
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
    if (src.memberCount !== this.memberCount || src.slotCount !== this.slotCount || src.counterCount !== this.counterCount) {
      throw new RangeError('live state copy: the two states belong to different policies');
    }
    if (src.metrics.length !== this.metrics.length) this.metrics = src.metrics.length === 0 ? NO_METRICS : new Float64Array(src.metrics.length);
    for (const k of ARRAYS) {
      const from = src[k] as Uint8Array;
      const to = this[k] as Uint8Array;
      to.set(from.length <= to.length ? from : from.subarray(0, to.length));
    }
  }

  /**
   * Become the live state of `policy`, made by a change from the policy this state is of (same layout: an index
   * means the same member, pool or name): everything stays where it is, except that the members the change compiled
   * again or added (policy.touched, and new indexes) start with their configured metrics and fresh rotation marks.
   * The arrays keep room for more (withRoom), so an edit costs what it changes, not a copy of every array.
   */
  adopt(policy: CompiledPolicy): void {
    const before = this.memberCount;
    this.memberCount = policy.members.length;
    this.slotCount = policy.memberRoom + policy.nameSlots;
    this.counterCount = counterCount(policy);
    if (this.memberCount > this.up.length || this.slotCount > this.marked.length || this.counterCount > this.counter.length) this.grow();
    const fresh = (i: number): void => {
      this.setMetrics(i, policy.members[i]!.metrics);
      this.marked[i] = 1;
      this.current[i] = 0;
    };
    for (let i = before; i < this.memberCount; i++) fresh(i);
    for (const i of policy.touched ?? []) fresh(i);
  }

  /** Arrays with room for the counts set now, holding what the old ones held (the rest in their initial state). */
  private grow(): void {
    const m = withRoom(this.memberCount);
    const slots = withRoom(this.slotCount);
    const sizes = {
      up: m, sticky: m, health: m, admin: m, agentDrain: m, weightScale: m, metrics: this.metrics.length === 0 ? 0 : m * METRICS.length, requests: m, requestsAt: m,
      marked: slots, current: slots, excluded: slots, counter: withRoom(this.counterCount),
    };
    const initial: Partial<Record<keyof typeof sizes, number>> = { up: 1, sticky: 1, health: 1, weightScale: 1, metrics: NaN, marked: 1 };
    for (const k of [...ARRAYS, 'excluded'] as const) {
      const old = this[k];
      // The same kind of typed array, larger (the union of their constructors is not callable as one).
      const next = new (old.constructor as Float64ArrayConstructor)(sizes[k]) as typeof old;
      if (initial[k] !== undefined) next.fill(initial[k]);
      next.set(old as Float64Array);
      this[k] = next as never;
    }
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
