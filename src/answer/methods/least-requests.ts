// Least requests (SPEC G2, seed 000 "the server that received the fewest requests"): the available candidate with the
// fewest recent answers (decayed counts from LiveState), ties → lowest index. Never allocates on the query path.
import type { Candidates } from '../candidates.js';
import type { DecisionContext } from '../context.js';
import type { Method } from '../method.js';

export const leastRequests: Method = {
  id: 'least-requests',
  level: 'both',
  pick(ctx: DecisionContext, c: Candidates): number {
    let best = -1;
    let bestValue = 0;
    for (let i = 0; i < c.count; i++) {
      if (!c.available(i)) continue;
      const r = c.recentRequests(i);
      if (best < 0 || r < bestValue) { best = i; bestValue = r; }
    }
    if (ctx.trace !== null) {
      ctx.trace.add('least-requests', best < 0
        ? `none of ${c.count} candidates available`
        : `${c.label(best)}: fewest recent requests (${bestValue.toFixed(2)})`);
    }
    return best;
  },
};
