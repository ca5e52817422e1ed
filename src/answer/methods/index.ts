// The registry of load-balancing methods: configuration ids → Method objects (SPEC G2). Adding a method means adding
// one file in this folder and one line here. Owns only the id → method map; never holds per-query state.
import type { Method } from '../method.js';
import { roundRobin } from './round-robin.js';
import { ratio } from './ratio.js';
import { globalAvailability } from './global-availability.js';
import { leastRequests } from './least-requests.js';
import { METRIC_METHODS, leastConnections } from './dynamic-metric.js';
import { staticStripe } from './static-stripe.js';
import { topology } from './topology.js';
import { resolverHashMethod } from './resolver-hash.js';

function registry(): ReadonlyMap<string, Method> {
  const map = new Map<string, Method>();
  const add = (id: string, m: Method): void => {
    if (map.has(id)) throw new Error(`method id ${id} registered twice`);
    map.set(id, m);
  };
  for (const m of [roundRobin, ratio, globalAvailability, leastRequests, leastConnections, staticStripe, topology, resolverHashMethod, ...METRIC_METHODS]) {
    add(m.id, m);
  }
  add('weighted', ratio); // alias: "weighted" and "ratio" are the same smooth weighted round robin
  return map;
}

/** Every method by configuration id (`weighted` is an alias of `ratio`). */
export const METHODS: ReadonlyMap<string, Method> = registry();

export function methodById(id: string): Method | undefined {
  return METHODS.get(id);
}

export { roundRobin, ratio, globalAvailability, leastRequests, leastConnections, METRIC_METHODS, staticStripe, topology, resolverHashMethod };
