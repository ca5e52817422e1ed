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
    const n = c.count;
    if (n === 0) return -1;
    const counters = ctx.live.counter;
    const slot = c.counterSlot();
    // LiveState.counter is a Uint32Array: the increment wraps at 2^32 by itself; >>> 0 keeps the read unsigned.
    const start = counters[slot]! >>> 0;
    counters[slot] = (start + 1) >>> 0;
    const first = start % n;
    for (let k = 0; k < n; k++) {
      const i = first + k < n ? first + k : first + k - n;
      if (c.available(i)) {
        if (ctx.trace !== null) ctx.trace.add('round-robin', `counter ${start} → start at ${first}; first available: ${c.label(i)}`);
        return i;
      }
    }
    if (ctx.trace !== null) ctx.trace.add('round-robin', `counter ${start}: none of ${n} candidates available`);
    return -1;
  },
};
