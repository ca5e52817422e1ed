// Compile the policy part of the configuration (names, pools, members, topology, resolver groups) into the
// immutable CompiledPolicy the answer engine reads. Every problem becomes a ConfigError with its YAML path.
// Control plane only: runs at start and reload, never per query.
import net from 'node:net';
import type { Config, ConfigError } from '../config/schema.js';
import { didYouMean } from '../config/errors.js';
import { compileRRset, type RRset } from '../dns/zone.js';
import { TYPE, RCODE } from '../wire/types.js';
import { canonicalName, normalizeName, NameError } from '../wire/name.js';
import { methodById, METHODS } from './methods/index.js';
import type { Method } from './method.js';
import { compileTopology, TopologyTable } from './topology.js';
import { compileResolverGroups, ResolverGroups } from './resolver-groups.js';
import { METRICS, type CompiledMember, type CompiledName, type CompiledPolicy, type CompiledPool, type Fallback, type PersistencePolicy } from './policy.js';

export type PolicyResult = { ok: true; policy: CompiledPolicy } | { ok: false; errors: ConfigError[] };

/** Stable identity of a member across snapshots (persistence records refer to it). */
export function memberKey(m: { address: string; port?: number | undefined }): string {
  return m.port !== undefined ? (m.address.includes(':') ? `[${m.address}]:${m.port}` : `${m.address}:${m.port}`) : m.address;
}

function compileChain(ids: readonly string[], level: 'pool' | 'member', at: string, errors: ConfigError[]): Method[] {
  const out: Method[] = [];
  ids.forEach((id, j) => {
    const m = methodById(id);
    if (!m) {
      const near = didYouMean(id, METHODS.keys());
      errors.push({ path: `${at}[${j}]`, message: `unknown method "${id}"${near.expected ? '' : ` (known: ${[...METHODS.keys()].sort().join(', ')})`}`, ...near });
    } else if (m.level !== 'both' && m.level !== level) {
      errors.push({ path: `${at}[${j}]`, message: level === 'member' ? `"${id}" chooses pools; use it in names[].select` : `"${id}" chooses members; use it in pools[].select` });
    } else {
      out.push(m);
    }
  });
  return out;
}

function addressRRset(name: string, ttl: number, address: string): RRset {
  const family = net.isIP(address);
  return compileRRset([{ name, type: family === 6 ? TYPE.AAAA : TYPE.A, ttl, data: address }]);
}

/** Minutes since midnight for "HH:MM". */
function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return h * 60 + m;
}

export function compilePolicy(config: Config): PolicyResult {
  const errors: ConfigError[] = [];
  const members: CompiledMember[] = [];
  const pools: CompiledPool[] = [];
  const poolIndex = new Map<string, number>();

  config.pools.forEach((pc, i) => {
    const at = `pools[${i}]`;
    if (poolIndex.has(pc.name)) {
      errors.push({ path: `${at}.name`, message: `duplicate pool "${pc.name}" (also pools[${poolIndex.get(pc.name)}])` });
      return;
    }
    const select = compileChain(pc.select, 'member', `${at}.select`, errors);
    const pool = { index: pools.length, name: pc.name, members: [] as CompiledMember[], select, byFamily: { 4: [] as CompiledMember[], 6: [] as CompiledMember[] } };
    const seen = new Set<string>();
    pc.members.forEach((mc, j) => {
      const key = memberKey(mc);
      if (seen.has(key)) {
        errors.push({ path: `${at}.members[${j}].address`, message: `duplicate member ${key} in pool "${pc.name}"` });
        return;
      }
      seen.add(key);
      const metrics = new Float64Array(METRICS.length).fill(NaN);
      METRICS.forEach((name, k) => {
        const v = mc.metrics?.[name];
        if (v !== undefined) metrics[k] = v;
      });
      const member: CompiledMember = {
        index: members.length, pool, slot: pool.members.length, address: mc.address, family: net.isIP(mc.address) === 6 ? 6 : 4,
        port: mc.port, weight: mc.weight, enabled: mc.enabled, metrics,
      };
      members.push(member);
      pool.members.push(member);
      pool.byFamily[member.family].push(member);
    });
    poolIndex.set(pc.name, pools.length);
    pools.push(pool);
  });

  const topology = compileTopology(config.topology, poolIndex);
  if (!topology.ok) errors.push(...topology.errors);
  const groups = compileResolverGroups({ groups: config.resolverGroups, auto: config.resolverGrouping });
  if (!groups.ok) errors.push(...groups.errors);

  const names: CompiledName[] = [];
  const nameIndex = new Map<string, number>();
  let slotBase = members.length;
  config.names.forEach((nc, i) => {
    const at = `names[${i}]`;
    let name: string;
    try {
      name = normalizeName(nc.name);
    } catch (e) {
      errors.push({ path: `${at}.name`, message: e instanceof NameError ? e.message : String(e) });
      return;
    }
    const key = canonicalName(name);
    if (nameIndex.has(key)) {
      errors.push({ path: `${at}.name`, message: `duplicate name ${name} (also names[${nameIndex.get(key)}])` });
      return;
    }
    const namePools: CompiledPool[] = [];
    nc.pools.forEach((p, j) => {
      const idx = poolIndex.get(p);
      if (idx === undefined) errors.push({ path: `${at}.pools[${j}]`, message: `unknown pool "${p}"`, ...didYouMean(p, poolIndex.keys()) });
      else namePools.push(pools[idx]!);
    });
    const select = compileChain(nc.select, 'pool', `${at}.select`, errors);
    const poolRRsets = namePools.map((pool) => pool.members.map((m) => addressRRset(name, nc.ttl, m.address)));
    let fallback: Fallback = { kind: 'round-robin-ignore-health' };
    const f = nc.fallback;
    if (f) {
      if ('address' in f || 'addresses' in f) {
        const list = 'address' in f ? [f.address] : f.addresses;
        const v4 = list.filter((a) => net.isIP(a) === 4);
        const v6 = list.filter((a) => net.isIP(a) === 6);
        const set = (addrs: string[]): RRset | null => (addrs.length === 0 ? null
          : compileRRset(addrs.map((a) => ({ name, type: net.isIP(a) === 6 ? TYPE.AAAA : TYPE.A, ttl: nc.ttl, data: a }))));
        fallback = { kind: 'address', rrsets: { 4: set(v4), 6: set(v6) } };
      } else if ('method' in f) {
        fallback = { kind: 'round-robin-ignore-health' };
      } else {
        fallback = f.rcode === 'NODATA' ? { kind: 'nodata' } : { kind: 'rcode', rcode: RCODE[f.rcode] };
      }
    }
    let persistence: PersistencePolicy | null = null;
    if (nc.persistence) {
      persistence = {
        ttlMs: nc.persistence.ttl,
        schedule: nc.persistence.schedule.map((s) => ({ fromMin: minutes(s.from), toMin: minutes(s.to), ttlMs: s.ttl })),
        key: nc.persistence.key,
      };
    }
    nameIndex.set(key, names.length);
    names.push({
      index: names.length, poolSlotBase: slotBase, name, ttl: nc.ttl, pools: namePools, select, fallback, persistence,
      count: nc.answer.count, poolRRsets,
      hasFamily: { 4: namePools.some((p) => p.byFamily[4].length > 0), 6: namePools.some((p) => p.byFamily[6].length > 0) },
    });
    slotBase += namePools.length;
  });

  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    policy: {
      names, pools, members,
      topology: topology.ok ? topology.table : TopologyTable.empty(),
      groups: groups.ok ? groups.groups : ResolverGroups.empty(),
    },
  };
}

/** The persistence TTL in force at `now` (local time of day), per the name's schedule (SPEC G5). */
export function persistenceTtl(p: PersistencePolicy, now: number): number {
  if (p.schedule.length === 0) return p.ttlMs;
  const d = new Date(now);
  const min = d.getHours() * 60 + d.getMinutes();
  for (const s of p.schedule) {
    const inside = s.fromMin <= s.toMin ? min >= s.fromMin && min < s.toMin : min >= s.fromMin || min < s.toMin;
    if (inside) return s.ttlMs;
  }
  return p.ttlMs;
}
