// Static stripe (SPEC G4, seed 004 FIG. 3): a resolver is mapped by modulus arithmetic onto the candidates marked up,
// so the same resolver keeps getting the same candidate while the set of up candidates does not change (persistence
// without any stored record). Owns the walk and the "marked up/down" bookkeeping in LiveState.marked; never allocates
// on the query path (trace text only when explaining).
//
// The rule, block by block (FIG. 3):
//   315  N = number of candidates marked up (LiveState.marked[slot] === 1 and enabled). X = (resolver integer mod N) + 1.
//        Walk the circular list from its head (index 0): every marked-up candidate decrements X, marked-down (and
//        disabled) ones are skipped; the candidate where X reaches 0 is chosen. Because 1 ≤ X ≤ N, the walk always
//        ends within its first lap.
//   320  Is the candidate actually up (Candidates.available)? Yes → answer it (330).
//   325  No → mark it down, N = N − 1, and compute again from 315 with the new N (walking from the head again).
//        If N reaches 0: round robin regardless of health (see the exception below).
// "A virtual server is assumed up until it is marked down": marks start at 1, and at the start of every pick a
// candidate that is available again but still marked down is marked up again, so a recovered member rejoins the stripe.
//
// Resolver integer: the resolver's (socket) address, not the client subnet.
//   IPv4: ctx.client.words[0] as an unsigned 32-bit integer (10.0.0.7 → 167772167).
//   IPv6 analogue (Waymark's definition): the low 64 bits of the address, words[2]·2^32 + words[3], taken mod N
//   without BigInt as ((words[2] mod N)·(2^32 mod N) + words[3] mod N) mod N. The low 64 bits are the interface
//   identifier, which tells resolvers in one /64 apart; the product stays exact in a double for any N < 2^26.
//   Unknown family (0): the integer is 0, so X = 1 (the first marked-up candidate).
//
// EXCEPTION to the Method contract: when N reaches 0 this method does not return -1. Per seed 004 it falls back to
// round robin regardless of health: the list's rotating counter (LiveState.counter, shared with round-robin) picks the
// first enabled candidate after it, ignoring available() — so the returned index may be a candidate that is down.
// Only candidates already chosen for this answer (LiveState.excluded) are skipped, so a multi-value answer never repeats
// an address; -1 is returned only when no enabled, unexcluded candidate exists at all.
import type { Candidates } from '../candidates.js';
import type { ClientInfo, DecisionContext } from '../context.js';
import type { Method } from '../method.js';

const TWO_POW_32 = 4294967296;

/** The resolver integer mod n (n ≥ 1), as defined in the header. */
export function resolverModulo(client: ClientInfo, n: number): number {
  const w = client.words;
  if (client.family === 4) return w[0]! % n;
  if (client.family === 6) return ((w[2]! % n) * (TWO_POW_32 % n) + (w[3]! % n)) % n;
  return 0;
}

function markedUp(c: Candidates, marked: Uint8Array, i: number): boolean {
  return marked[c.slot(i)] === 1 && c.enabled(i);
}

/** FIG. 3 block 325's fallback: round robin over enabled candidates, health ignored (see the header's exception). */
function roundRobinIgnoringHealth(ctx: DecisionContext, c: Candidates): number {
  const i = c.rotate(true);
  if (ctx.trace !== null) {
    ctx.trace.add('static-stripe', i >= 0 ? `N = 0: round robin regardless of health (counter ${c.lastCounter}) → ${c.label(i)}` : 'N = 0 and no enabled candidate left');
  }
  return i;
}

export const staticStripe: Method = {
  id: 'static-stripe',
  level: 'both',
  pick(ctx: DecisionContext, c: Candidates): number {
    const n = c.count;
    if (n === 0) return -1;
    const marked = ctx.live.marked;
    let up = 0;
    for (let i = 0; i < n; i++) {
      const s = c.slot(i);
      if (marked[s] === 0 && c.available(i)) marked[s] = 1; // recovered: marked up again
      if (marked[s] === 1 && c.enabled(i)) up++;
    }
    while (up > 0) {
      const x = resolverModulo(ctx.client, up) + 1;
      let left = x;
      let i = 0;
      for (; i < n; i++) {
        if (markedUp(c, marked, i) && --left === 0) break;
      }
      // 1 ≤ x ≤ up = number of marked-up candidates, so the walk found one (i < n).
      if (c.available(i)) {
        if (ctx.trace !== null) ctx.trace.add('static-stripe', `N = ${up}, X = ${x} → ${c.label(i)} (position ${i}), up`);
        return i;
      }
      marked[c.slot(i)] = 0;
      up--;
      if (ctx.trace !== null) ctx.trace.add('static-stripe', `N = ${up + 1}, X = ${x} → ${c.label(i)} (position ${i}) is not up: marked down, N = ${up}`);
    }
    return roundRobinIgnoringHealth(ctx, c);
  },
};
