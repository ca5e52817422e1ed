// The dispatcher section as configuration sees it: the daemons a port has (configured and spawned) and the checks
// the schema alone cannot make. Owns: those rules. Imports only the schema's types (config/load.ts calls it).
import type { Config, DaemonConfig, DispatchPort } from '../config/schema.js';
import { hostPort } from '../net/address.js';

/** A port's daemons: the configured ones, then the spawned copies. */
export function daemonsOf(p: DispatchPort): Array<{ config: DaemonConfig; spawned: boolean }> {
  const out = p.daemons.map((config) => ({ config, spawned: false }));
  const s = p.spawn;
  if (s) for (let i = 0; i < s.count; i++) out.push({ config: { address: s.address, port: s.basePort + i, weight: 1 }, spawned: true });
  return out;
}

/** Path-named errors of the dispatcher section that the schema alone cannot see. */
export function validateDispatcher(config: Config): Array<{ path: string; message: string }> {
  const errors: Array<{ path: string; message: string }> = [];
  const monitors = new Set(config.monitors.map((m) => m.name));
  const seen = new Map<string, string>();
  config.dispatcher?.clusters.forEach((c, i) => c.ports.forEach((p, j) => {
    const at = `dispatcher.clusters[${i}].ports[${j}]`;
    for (const proto of p.protocol === 'both' ? ['tcp', 'udp'] : [p.protocol]) {
      const id = `${hostPort(c.address, p.port)}/${proto}`;
      const other = seen.get(id);
      if (other !== undefined) errors.push({ path: `${at}.port`, message: `${id} is served twice (also ${other})` });
      else seen.set(id, at);
    }
    if (p.monitor !== undefined && !monitors.has(p.monitor)) errors.push({ path: `${at}.monitor`, message: `unknown monitor "${p.monitor}"` });
    const daemons = new Set<string>();
    daemonsOf(p).forEach(({ config: d, spawned }, k) => {
      const key = hostPort(d.address, d.port);
      const where = spawned ? `${at}.spawn` : `${at}.daemons[${k}]`;
      if (daemons.has(key)) errors.push({ path: where, message: `daemon ${key} is listed twice` });
      daemons.add(key);
      if (d.address === c.address && d.port === p.port) errors.push({ path: where, message: `daemon ${key} is the cluster address and port itself` });
      if (d.proxyProtocol === 1 && p.protocol !== 'tcp') errors.push({ path: `${where}.proxyProtocol`, message: 'PROXY protocol v1 is for TCP only; use 2 for UDP' });
    });
    if (p.spawn && p.spawn.basePort + p.spawn.count - 1 > 65535) errors.push({ path: `${at}.spawn.count`, message: `ports ${p.spawn.basePort}-${p.spawn.basePort + p.spawn.count - 1} go past 65535` });
  }));
  return errors;
}
