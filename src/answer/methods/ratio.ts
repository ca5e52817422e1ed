// Ratio / weighted (SPEC G2): smooth weighted round robin (nginx-style). Each pick adds every available candidate's
// weight to its accumulator, takes the largest (ties → lowest index) and subtracts the total of the available weights
// from it; over any window of `total weight` consecutive picks each candidate is chosen exactly `weight` times.
// Owns only the choice; accumulators live in LiveState.current. Never allocates on the query path.
import type { Candidates } from '../candidates.js';
import type { DecisionContext } from '../context.js';
import type { Method } from '../method.js';

export const ratio: Method = {
  id: 'ratio',
  level: 'both',
  pick(ctx: DecisionContext, c: Candidates): number {
    const current = ctx.live.current;
    let total = 0;
    let best = -1;
    let bestValue = 0;
    for (let i = 0; i < c.count; i++) {
      // Unavailable and zero-weight candidates neither accumulate nor count towards the total.
      if (!c.available(i)) continue;
      const w = c.weight(i);
      if (!(w > 0)) continue;
      const s = c.slot(i);
      const v = current[s]! + w;
      current[s] = v;
      total += w;
      if (best < 0 || v > bestValue) { best = i; bestValue = v; }
    }
    if (best < 0) {
      if (ctx.trace !== null) ctx.trace.add('ratio', 'no available candidate with a positive weight');
      return -1;
    }
    current[c.slot(best)] = bestValue - total;
    if (ctx.trace !== null) {
      ctx.trace.add('ratio', `${c.label(best)}: weight ${c.weight(best)} of ${total}, accumulator ${bestValue} → ${bestValue - total}`);
    }
    return best;
  },
};
