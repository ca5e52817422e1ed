// Global availability (SPEC G2): ordered primary → backup failover; the first available candidate in configured order.
// Owns only the choice; keeps no state. Never allocates on the query path.
import type { Candidates } from '../candidates.js';
import type { DecisionContext } from '../context.js';
import type { Method } from '../method.js';

export const globalAvailability: Method = {
  id: 'global-availability',
  level: 'both',
  pick(ctx: DecisionContext, c: Candidates): number {
    for (let i = 0; i < c.count; i++) {
      if (c.available(i)) {
        if (ctx.trace !== null) ctx.trace.add('global-availability', `first available in order: ${c.label(i)} (position ${i})`);
        return i;
      }
    }
    if (ctx.trace !== null) ctx.trace.add('global-availability', `none of ${c.count} candidates available`);
    return -1;
  },
};
