// Check targets: one (member, monitor) pair to probe, with the address and port actually checked.
// Owns: deriving the targets from configuration (pool monitors, member probe overrides, default ports) and their
// stable ids, which probers, the distributor and verdicts all key on.
import type { Config, ConfigError, MonitorSpec } from '../config/schema.js';
import { didYouMean } from '../config/errors.js';
import { memberKey } from '../answer/compile.js';

export interface CheckTarget {
  /** "pool/member/monitor", stable across reloads while the three names stay. */
  id: string;
  pool: string;
  /** Member identity as in persistence records: "address" or "address:port". */
  member: string;
  monitor: MonitorSpec;
  address: string;
  port: number;
}

/** Usual ports when neither the monitor nor the member names one. */
export const DEFAULT_PORTS: Record<MonitorSpec['type'], number> = {
  tcp: 80, 'tcp-send-expect': 80, http: 80, https: 443, dns: 53, agent: 80,
};

/** The monitors a pool uses, by name, in configured order. */
export function poolMonitorNames(pool: Config['pools'][number]): string[] {
  return pool.monitors ?? (pool.monitor !== undefined ? [pool.monitor] : []);
}

/** Every check the configuration asks for. Unknown monitor names are reported by validateHealth, not here. */
export function checkTargets(config: Config): CheckTarget[] {
  const monitors = new Map(config.monitors.map((m) => [m.name, m]));
  const out: CheckTarget[] = [];
  for (const pool of config.pools) {
    for (const name of poolMonitorNames(pool)) {
      const monitor = monitors.get(name);
      if (!monitor) continue;
      for (const m of pool.members) {
        const member = memberKey(m);
        const address = m.probe?.address ?? m.address;
        const port = m.probe?.port ?? monitor.port ?? m.port ?? DEFAULT_PORTS[monitor.type];
        out.push({ id: `${pool.name}/${member}/${monitor.name}`, pool: pool.name, member, monitor, address, port });
      }
    }
  }
  return out;
}

/** Path-named errors for health configuration that the schema alone cannot see. */
export function validateHealth(config: Config): ConfigError[] {
  const errors: ConfigError[] = [];
  const names = new Map<string, number>();
  config.monitors.forEach((m, i) => {
    if (names.has(m.name)) errors.push({ path: `monitors[${i}].name`, message: `duplicate monitor "${m.name}" (also monitors[${names.get(m.name)}])` });
    else names.set(m.name, i);
    if (m.timeout >= m.interval) errors.push({ path: `monitors[${i}].timeout`, message: `must be shorter than interval (${m.interval} ms)` });
    for (const re of [('expect' in m && typeof m.expect === 'string') ? m.expect : undefined, ('expect' in m && typeof m.expect === 'object' && 'body' in m.expect) ? m.expect.body : undefined]) {
      if (re === undefined) continue;
      try { new RegExp(re); } catch (e) { errors.push({ path: `monitors[${i}].expect`, message: `not a regular expression: ${(e as Error).message}` }); }
    }
  });
  config.pools.forEach((p, i) => { for (const e of poolHealthErrors(p, i, names)) errors.push(e); });
  const h = config.health;
  if (h.quorum !== undefined && h.quorum > h.replicas) errors.push({ path: 'health.quorum', message: `${h.quorum} is more than health.replicas (${h.replicas})` });
  return errors;
}

/** Problems of pools[i]'s monitors and rule (`monitors`: the configured monitors' names). */
export function poolHealthErrors(p: Config['pools'][number], i: number, monitors: ReadonlyMap<string, unknown>): ConfigError[] {
  const errors: ConfigError[] = [];
  const list = poolMonitorNames(p);
  list.forEach((name, j) => {
    if (!monitors.has(name)) errors.push({ path: p.monitors ? `pools[${i}].monitors[${j}]` : `pools[${i}].monitor`, message: `unknown monitor "${name}"`, ...didYouMean(name, monitors.keys()) });
  });
  if (typeof p.rule === 'object' && p.rule.atLeast > list.length) {
    errors.push({ path: `pools[${i}].rule.atLeast`, message: `${p.rule.atLeast} is more than the ${list.length} monitor(s) of this pool` });
  }
  return errors;
}
