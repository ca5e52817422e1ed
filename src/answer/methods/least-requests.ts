// Least requests (SPEC G2, seed 000 "the server that received the fewest requests"): the available candidate with the
// fewest recent answers (decayed counts from LiveState), ties → lowest index. Never allocates on the query path.
import { LOWEST_REQUESTS, type Candidates } from '../candidates.js';
import type { DecisionContext } from '../context.js';
import type { Method } from '../method.js';

export const leastRequests: Method = {
  id: 'least-requests',
  level: 'both',
  pick(ctx: DecisionContext, c: Candidates): number {
    const best = c.lowest(LOWEST_REQUESTS);
    if (ctx.trace !== null) {
      ctx.trace.add('least-requests', best < 0
        ? `none of ${c.count} candidates available`
        : `${c.label(best)}: fewest recent requests (${c.lastValue.toFixed(2)})`);
    }
    return best;
  },
};
