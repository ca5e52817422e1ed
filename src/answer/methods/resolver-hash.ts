// Resolver hash (issue 11, SPEC G5/G6): weighted rendezvous ("highest random weight") hashing of the resolver's
// address over the available candidates. Every candidate gets the score weight / -ln(u), u a uniform number in
// (0, 1) hashed from the resolver and the candidate's identity (its address and port, or its pool's name), and the
// highest score wins. Owns that choice; allocates nothing.
// Why: the answer is a pure function of the resolver, the candidates and their weights, so every worker and every
// node gives a resolver the same candidate without sharing any state: a repeat query agrees even before a
// persistence record has reached the node it lands on. When a candidate leaves (down, drained, removed), only the
// resolvers it had move, spread over the others in proportion to their weights; the rest keep theirs. Each candidate
// takes a share of resolvers equal to its share of the total weight.
// The resolver key is the resolver's address (all 128 bits for IPv6), not the ECS client subnet.
import type { Candidates } from '../candidates.js';
import type { ClientInfo, DecisionContext } from '../context.js';
import type { Method } from '../method.js';

const TWO_POW_32 = 4294967296;

/** MurmurHash3's 32-bit finaliser: every input bit reaches every output bit. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The resolver's address folded to 32 bits (the family in it: 10.0.0.1 and ::a00:1 differ). */
export function resolverHash(client: ClientInfo): number {
  const w = client.words;
  if (client.family === 4) return mix(w[0]! ^ 0x9e3779b9);
  return mix(mix(mix(mix(w[0]!) ^ w[1]!) ^ w[2]!) ^ w[3]!);
}

/** The candidate's score for resolver hash `r`: weight / -ln(u), u = (hash + 0.5) / 2^32 in (0, 1). */
export function rendezvousScore(r: number, identity: number, weight: number): number {
  const u = (mix(r ^ identity) + 0.5) / TWO_POW_32;
  return weight / -Math.log(u);
}

export const resolverHashMethod: Method = {
  id: 'resolver-hash',
  level: 'both',
  pick(ctx: DecisionContext, c: Candidates): number {
    const r = resolverHash(ctx.client);
    let best = -1;
    let bestScore = -1;
    for (let i = 0; i < c.count; i++) {
      if (!c.available(i)) continue;
      const w = c.weight(i);
      if (!(w > 0)) continue;
      const score = rendezvousScore(r, c.identity(i), w);
      if (score > bestScore) { bestScore = score; best = i; }
    }
    if (ctx.trace !== null) ctx.trace.add('resolver-hash', best >= 0 ? `highest rendezvous score for this resolver: ${c.label(best)} (${bestScore.toFixed(3)})` : 'no available candidate with a weight');
    return best;
  },
};
