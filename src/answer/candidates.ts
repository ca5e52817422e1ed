// Candidate lists the methods pick from: a name's pools, or one pool's members of one address family.
// Owns: what "available", "weight", "metric" and "recent requests" mean at each level, so every method is written
// once for both levels. Two reusable instances per engine; set() re-targets them without allocating.
import { METRICS, familyMembers, nameCounter, type CompiledMember, type CompiledName, type CompiledPool } from './policy.js';
import type { DecisionContext } from './context.js';
import { fnv1a } from '../net/hash.js';

/** lowest() by recent requests rather than by a metric. */
export const LOWEST_REQUESTS = -1;

export abstract class Candidates {
  abstract readonly level: 'pool' | 'member';
  count = 0;
  ctx!: DecisionContext;
  /** Slot of this list's rotating counter in LiveState.counter. */
  abstract counterSlot(): number;
  /** Slot of candidate i in LiveState's per-candidate arrays (marked, current, excluded). */
  abstract slot(i: number): number;
  /** Usable now: enabled, healthy, of the asked family, not already chosen for this answer. */
  abstract available(i: number): boolean;
  /** Like available(), but for the health-ignoring fallback: enabled and right family only. */
  abstract enabled(i: number): boolean;
  abstract weight(i: number): number;
  /** Metric value (index into METRICS) or NaN when unknown. */
  abstract metric(i: number, m: number): number;
  abstract recentRequests(i: number): number;
  /** The pool candidate i is or belongs to. */
  abstract pool(i: number): CompiledPool;
  /** Human label for explain. */
  abstract label(i: number): string;
  /**
   * A 32-bit hash of what candidate i is (a member's address and port, a pool's name), the same in every worker and
   * on every node: resolver-hash ranks by it. Computed from the strings, allocating nothing.
   */
  abstract identity(i: number): number;
  /** The counter value the last rotate() started from (for explain). */
  lastCounter = 0;
  /** The value lowest() chose by (for explain). */
  lastValue = 0;

  /**
   * The available candidate with the lowest value — of metric `metric` (index into METRICS; unknown/NaN values are
   * skipped), or of recent requests when `metric` is LOWEST_REQUESTS — ties to the lowest index; -1 when none has a
   * value. The one "least X" scan of the engine (least-requests and every dynamic-metric method).
   */
  lowest(metric: number): number {
    let best = -1;
    let bestValue = 0;
    for (let i = 0; i < this.count; i++) {
      if (!this.available(i)) continue;
      const v = metric === LOWEST_REQUESTS ? this.recentRequests(i) : this.metric(i, metric);
      if (v !== v) continue; // NaN: unknown
      if (best < 0 || v < bestValue) { best = i; bestValue = v; }
    }
    this.lastValue = bestValue;
    return best;
  }

  /**
   * Return the first candidate from this list's rotating counter that is available — or, with `ignoreHealth`,
   * enabled and not already chosen for this answer — and advance the counter; -1 when none is, and the counter
   * stays (a turn that answers nothing, a fallback's, takes no turn from the rotation). The one rotating scan of the
   * engine (round robin, static stripe's N = 0 rule, the end of every member chain).
   */
  rotate(ignoreHealth: boolean): number {
    const n = this.count;
    if (n === 0) return -1;
    const live = this.ctx.live;
    const slot = this.counterSlot();
    // LiveState.counter is a Uint32Array: the increment wraps at 2^32 by itself; >>> 0 keeps the read unsigned.
    const start = live.counter[slot]! >>> 0;
    this.lastCounter = start;
    const first = start % n;
    for (let k = 0; k < n; k++) {
      const i = first + k < n ? first + k : first + k - n;
      if (ignoreHealth ? this.enabled(i) && live.excluded[this.slot(i)] === 0 : this.available(i)) {
        live.counter[slot] = (start + 1) >>> 0;
        return i;
      }
    }
    return -1;
  }
}

export class MemberCandidates extends Candidates {
  readonly level = 'member' as const;
  members: readonly CompiledMember[] = [];
  private poolRef!: CompiledPool;

  set(ctx: DecisionContext, pool: CompiledPool): this {
    this.ctx = ctx;
    this.poolRef = pool;
    this.members = familyMembers(pool, ctx.family);
    this.count = this.members.length;
    return this;
  }
  counterSlot(): number { return this.poolRef.index; }
  slot(i: number): number { return this.members[i]!.index; }
  available(i: number): boolean {
    const m = this.members[i]!;
    const live = this.ctx.live;
    return m.enabled && live.up[m.index] === 1 && live.excluded[m.index] === 0;
  }
  enabled(i: number): boolean { return this.members[i]!.enabled; }
  weight(i: number): number {
    const m = this.members[i]!;
    return m.weight * this.ctx.live.weightScale[m.index]!;
  }
  metric(i: number, m: number): number { return this.ctx.live.metric(this.members[i]!.index, m); }
  recentRequests(i: number): number { return this.ctx.live.recentRequests(this.members[i]!.index, this.ctx.now); }
  pool(): CompiledPool { return this.poolRef; }
  label(i: number): string {
    const m = this.members[i]!;
    return m.port !== undefined ? `${m.address}:${m.port}` : m.address;
  }
  identity(i: number): number {
    const m = this.members[i]!;
    return fnv1a(m.address, m.port ?? 0);
  }
}

export class PoolCandidates extends Candidates {
  readonly level = 'pool' as const;
  private name!: CompiledName;
  /** Offset of this name's pool slots in LiveState per-candidate arrays. */
  private base = 0;

  set(ctx: DecisionContext, name: CompiledName): this {
    this.ctx = ctx;
    this.name = name;
    this.base = name.poolSlotBase;
    this.count = name.pools.length;
    return this;
  }
  counterSlot(): number { return nameCounter(this.ctx.policy, this.name.index); }
  slot(i: number): number { return this.base + i; }
  /** A pool is available when it has at least one available member of the asked family. */
  available(i: number): boolean {
    if (this.ctx.live.excluded[this.base + i] === 1) return false;
    const members = familyMembers(this.name.pools[i]!, this.ctx.family);
    const live = this.ctx.live;
    for (let k = 0; k < members.length; k++) {
      const m = members[k]!;
      if (m.enabled && live.up[m.index] === 1) return true;
    }
    return false;
  }
  enabled(i: number): boolean {
    const members = familyMembers(this.name.pools[i]!, this.ctx.family);
    for (let k = 0; k < members.length; k++) if (members[k]!.enabled) return true;
    return false;
  }
  /** Pool weight: the sum of its available members' weights (a bigger site takes a bigger share). */
  weight(i: number): number {
    const members = familyMembers(this.name.pools[i]!, this.ctx.family);
    const live = this.ctx.live;
    let w = 0;
    for (let k = 0; k < members.length; k++) {
      const m = members[k]!;
      if (m.enabled && live.up[m.index] === 1) w += m.weight * live.weightScale[m.index]!;
    }
    return w;
  }
  /** Pool metric: the mean over available members that report it (NaN when none does). */
  metric(i: number, metric: number): number {
    const members = familyMembers(this.name.pools[i]!, this.ctx.family);
    const live = this.ctx.live;
    let sum = 0;
    let n = 0;
    for (let k = 0; k < members.length; k++) {
      const m = members[k]!;
      const v = live.metric(m.index, metric);
      if (m.enabled && live.up[m.index] === 1 && v === v) { sum += v; n++; }
    }
    return n === 0 ? NaN : sum / n;
  }
  /** Pool requests: the sum over its members. */
  recentRequests(i: number): number {
    const members = familyMembers(this.name.pools[i]!, this.ctx.family);
    let r = 0;
    for (let k = 0; k < members.length; k++) r += this.ctx.live.recentRequests(members[k]!.index, this.ctx.now);
    return r;
  }
  pool(i: number): CompiledPool { return this.name.pools[i]!; }
  label(i: number): string { return `pool ${this.name.pools[i]!.name}`; }
  identity(i: number): number { return fnv1a(this.name.pools[i]!.name, 0); }
}

export { METRICS };
