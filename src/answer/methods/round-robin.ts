// Round robin (SPEC G2): the first available candidate after a rotating counter, so that with every candidate
// available the answers cycle evenly. Owns only the choice; the counter lives in LiveState (one per candidate list).
// Never allocates on the query path and never awaits.
import type { Candidates } from '../candidates.js';
import type { DecisionContext } from '../context.js';
import type { Method } from '../method.js';

export const roundRobin: Method = {
  id: 'round-robin',
  level: 'both',
  pick(ctx: DecisionContext, c: Candidates): number {
    const i = c.rotate(false);
    if (ctx.trace !== null) {
      ctx.trace.add('round-robin', i >= 0 ? `counter ${c.lastCounter}: first available from ${c.lastCounter % c.count} is ${c.label(i)}` : `none of ${c.count} candidates available`);
    }
    return i;
  },
};
