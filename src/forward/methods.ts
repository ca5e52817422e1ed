// How the L4 data plane chooses a target for a new connection or flow (SPEC P2): round robin, weighted round robin,
// least connections and weighted least connections, as IPVS names them. Owns: the choice among targets already
// found eligible (up, not drained, weight > 0, under their cap); "who is eligible" is the caller's (gdnsd's rule:
// how to choose never mixes with how to check). Ties between equally loaded targets go to one that connects markedly
// faster lately (measured response time), else in turn.
import type { DISPATCH_METHODS } from '../config/schema.js';

export type MethodName = (typeof DISPATCH_METHODS)[number];

/** What a method reads of a target. */
export interface Candidate {
  weight: number;
  /** Open connections (and flows) now. */
  active: number;
  /** Recent connect time in ms (an EWMA); NaN before the first. */
  rtt: number;
  /** Smooth weighted round robin's running score (the method's own; starts at 0). */
  current: number;
}

export interface Method {
  readonly name: MethodName;
  /** One of `eligible` (never empty), or its index. */
  pick(eligible: readonly Candidate[]): number;
}

/** A new method instance (each service keeps its own turn). */
export function methodOf(name: MethodName): Method {
  switch (name) {
    case 'round-robin': return new RoundRobin();
    case 'weighted-round-robin': return new WeightedRoundRobin();
    case 'least-connections': return new LeastConnections(false);
    case 'weighted-least-connections': return new LeastConnections(true);
  }
}

class RoundRobin implements Method {
  readonly name = 'round-robin';
  private turn = 0;
  pick(eligible: readonly Candidate[]): number {
    return this.turn++ % eligible.length;
  }
}

/** nginx's smooth weighted round robin: weights 5,1,1 give a a b a c a a, never a burst of one target. */
class WeightedRoundRobin implements Method {
  readonly name = 'weighted-round-robin';
  pick(eligible: readonly Candidate[]): number {
    let total = 0;
    let best = 0;
    for (let i = 0; i < eligible.length; i++) {
      const c = eligible[i]!;
      c.current += c.weight;
      total += c.weight;
      if (c.current > eligible[best]!.current) best = i;
    }
    eligible[best]!.current -= total;
    return best;
  }
}

/** Fewest open connections (weighted: per unit of weight); ties by measured connect time, then in turn. */
class LeastConnections implements Method {
  readonly name: MethodName;
  private turn = 0;
  constructor(private readonly weighted: boolean) {
    this.name = weighted ? 'weighted-least-connections' : 'least-connections';
  }

  pick(eligible: readonly Candidate[]): number {
    const n = eligible.length;
    const start = this.turn++ % n;
    let best = start;
    for (let k = 1; k < n; k++) {
      const i = (start + k) % n;
      if (this.better(eligible[i]!, eligible[best]!)) best = i;
    }
    return best;
  }

  private better(a: Candidate, b: Candidate): boolean {
    // a.active / a.weight < b.active / b.weight, without dividing.
    const la = this.weighted ? a.active * b.weight : a.active;
    const lb = this.weighted ? b.active * a.weight : b.active;
    if (la !== lb) return la < lb;
    // Markedly faster (half as slow again) wins a tie; loopback jitter does not. NaN (not measured) wins none.
    return a.rtt * 1.5 < b.rtt;
  }
}
