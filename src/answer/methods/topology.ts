// Topology (SPEC G3): the topology table's rules matching the asker, best first (longest prefix, then weight, then
// configuration order); the first rule sending to a pool that is an available candidate decides. The asker is the
// client subnet when the query carried EDNS Client Subnet (then ctx.usedSubnet is set so the ECS scope is the source
// prefix), else the resolver address. Owns only the choice; the table and its matching live in ../topology.ts.
// Never allocates on the query path: matches are written into one preallocated buffer (the query path is single-threaded).
import type { Candidates } from '../candidates.js';
import type { DecisionContext } from '../context.js';
import type { Method } from '../method.js';

/** Matching rule indices of the current pick, best first. */
const matches = new Int32Array(256);

export const topology: Method = {
  id: 'topology',
  level: 'pool',
  pick(ctx: DecisionContext, c: Candidates): number {
    const client = ctx.client;
    const table = ctx.policy.topology;
    let found: number;
    if (client.ecs) {
      found = table.match(client.ecsFamily, client.ecsWords, matches);
    } else {
      if (client.family === 0) {
        if (ctx.trace !== null) ctx.trace.add('topology', 'resolver address unknown: no rule can match');
        return -1;
      }
      found = table.match(client.family, client.words, matches);
    }
    if (found > matches.length) found = matches.length;
    for (let k = 0; k < found; k++) {
      const rule = matches[k]!;
      // A rule more specific than the client subnet covers only part of it: it cannot decide for the whole subnet.
      if (client.ecs && table.matchedPrefix(k) > client.ecsPrefix) {
        if (ctx.trace !== null) ctx.trace.add('topology', `${table.describe(rule)} is narrower than /${client.ecsPrefix}: ignored`);
        continue;
      }
      const target = table.rulePool(rule);
      for (let i = 0; i < c.count; i++) {
        if (c.pool(i).index !== target) continue;
        if (c.available(i)) {
          if (client.ecs) ctx.usedSubnet = true;
          if (ctx.trace !== null) {
            ctx.trace.add('topology', `${client.ecs ? 'client subnet' : 'resolver'} matches ${table.describe(rule)} (/${table.matchedPrefix(k)}) → ${c.label(i)}`);
          }
          return i;
        }
        if (ctx.trace !== null) ctx.trace.add('topology', `${table.describe(rule)} (/${table.matchedPrefix(k)}) → ${c.label(i)}: not available`);
      }
    }
    if (ctx.trace !== null) ctx.trace.add('topology', found === 0 ? 'no rule matches' : `${found} rule(s) match, none sends to an available pool`);
    return -1;
  },
};
