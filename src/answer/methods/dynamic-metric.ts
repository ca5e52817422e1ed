// Dynamic metrics (SPEC G2, H4): one method per metric in METRICS (packet rate, CPU, connections, RTT, packet loss,
// hops, reported load) plus `least-connections`: the lowest known value among available candidates wins, ties →
// lowest index; candidates whose value is unknown (NaN) are skipped; -1 when no available candidate has a value.
// Owns the factory and the resulting methods; never allocates on the query path.
import { METRICS } from '../policy.js';
import type { Candidates } from '../candidates.js';
import type { DecisionContext } from '../context.js';
import type { Method } from '../method.js';

/** A method choosing the available candidate with the lowest value of METRICS[metric]. */
export function dynamicMetricMethod(id: string, metric: number): Method {
  const metricName = METRICS[metric];
  if (metricName === undefined) throw new Error(`dynamic metric method ${id}: no metric with index ${metric}`);
  return {
    id,
    level: 'both',
    pick(ctx: DecisionContext, c: Candidates): number {
      const best = c.lowest(metric);
      if (ctx.trace !== null) {
        ctx.trace.add(id, best < 0
          ? `no available candidate reports ${metricName}`
          : `${c.label(best)}: lowest ${metricName} (${c.lastValue})`);
      }
      return best;
    },
  };
}

/** One method per metric, with the metric's name as id, in METRICS order. */
export const METRIC_METHODS: readonly Method[] = METRICS.map((name, i) => dynamicMetricMethod(name, i));

/** Least connections: the `connections` metric under its conventional name. */
export const leastConnections: Method = dynamicMetricMethod('least-connections', METRICS.indexOf('connections'));
