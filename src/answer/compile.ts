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
import { METRICS, memberKey, type CompiledMember, type CompiledName, type CompiledPolicy, type CompiledPool, type Fallback, type PersistencePolicy } from './policy.js';

export type PolicyResult = { ok: true; policy: CompiledPolicy } | { ok: false; errors: ConfigError[] };

export { memberKey };

// Shared, never written: most of a large policy is default values, and one object per name or member for each of
// them (metrics, fallback, family flags, method chains) was most of a name's compiled size.
/** The metrics of a member configured without any: every value unknown. */
const NO_METRICS = new Float64Array(METRICS.length).fill(NaN);
const NO_MEMBERS: readonly CompiledMember[] = [];
/** The poolRRsets of a name compiled without answers. */
const NO_ANSWERS: ReadonlyArray<readonly RRset[]> = [];
const FAIL_OPEN: Fallback = { kind: 'round-robin-ignore-health' };
const HAS_FAMILY = [
  { 4: false, 6: false }, { 4: true, 6: false }, { 4: false, 6: true }, { 4: true, 6: true },
] as const;

/** What a compilation builds besides the decision data. */
export interface PolicyOptions {
  /**
   * The answer RRsets of members and sorry addresses (default true). Without them (the supervisor's mirror, which
   * never answers) a name's poolRRsets are empty and its address fallback has no RRsets: such a policy must not answer.
   */
  answers?: boolean;
}

/** Per-compilation caches: equal method chains and equal answer RRsets are built once and shared. */
class Interned {
  private readonly chains = new Map<string, readonly Method[]>();
  /** By pool index: the answer RRsets of its members at the TTL of the first name that used it. */
  private answers: Array<{ ttl: number; rrsets: readonly RRset[] } | null> = [];

  /**
   * The methods of `ids` at `level`; errors (unknown id, wrong level) are reported at the path `at()` gives (made only
   * then: most chains are the default one) and never cached.
   */
  chain(ids: readonly string[], level: 'pool' | 'member', at: () => string, errors: ConfigError[]): readonly Method[] {
    const key = ids.length === 1 ? `${level} ${ids[0]!}` : `${level} ${ids.join(' ')}`;
    const known = this.chains.get(key);
    if (known) return known;
    const before = errors.length;
    const out = compileChain(ids, level, at(), errors);
    if (errors.length === before) this.chains.set(key, out);
    return out;
  }

  /** Make room for the answers of `count` pools (a packed array: pools are looked up by index). */
  pools(count: number): void {
    this.answers = Array.from({ length: count }, () => null);
  }

  /**
   * The answer RRsets of `pool`'s members (in slot order) with TTL `ttl`, for policy name `name`. An answer RRset
   * carries no owner on the wire (it points at the question name), so the names that use one pool with one TTL
   * share them.
   */
  poolAnswers(pool: CompiledPool, name: string, ttl: number): readonly RRset[] {
    const held = this.answers[pool.index];
    if (held && held.ttl === ttl) return held.rrsets;
    const rrsets = pool.members.map((m) => addressRRset(name, ttl, m.address));
    if (!held) this.answers[pool.index] = { ttl, rrsets };
    return rrsets;
  }
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

type MemberConfig = Config['pools'][number]['members'][number];

/** A member's configured metrics in METRICS order (the shared NO_METRICS when it configures none). */
function memberMetrics(mc: MemberConfig): Float64Array {
  if (mc.metrics === undefined) return NO_METRICS;
  const metrics = new Float64Array(METRICS.length).fill(NaN);
  METRICS.forEach((name, k) => {
    const v = mc.metrics?.[name];
    if (v !== undefined) metrics[k] = v;
  });
  return metrics;
}

/** Members of `family` in configured order: the members array itself when all are of that family. */
function ofFamily(members: readonly CompiledMember[], family: 4 | 6): readonly CompiledMember[] {
  let n = 0;
  for (const m of members) if (m.family === family) n++;
  if (n === members.length) return members;
  return n === 0 ? NO_MEMBERS : members.filter((m) => m.family === family);
}

/** Compile one pool (its members appended to `members`); null when it is a duplicate. */
function compilePool(pc: Config['pools'][number], i: number, index: number, members: CompiledMember[], interned: Interned, errors: ConfigError[]): CompiledPool | null {
  const own: CompiledMember[] = [];
  const keys: string[] = [];
  // The pool object is made first: members point at it. Its member lists are filled in below (built, then frozen).
  const pool = { index, name: pc.name, members: own as readonly CompiledMember[], select: interned.chain(pc.select, 'member', () => `pools[${i}].select`, errors), ipv4: NO_MEMBERS, ipv6: NO_MEMBERS };
  pc.members.forEach((mc, j) => {
    const key = memberKey(mc);
    // Pools are small: a scan, not a Set per pool (a hundred thousand pools made as many Sets).
    const dup = keys.indexOf(key);
    if (dup >= 0) {
      errors.push({ path: `pools[${i}].members[${j}].address`, message: `duplicate member ${key} in pool "${pc.name}"` });
      return;
    }
    keys.push(key);
    const member: CompiledMember = {
      index: members.length, pool, slot: own.length, address: mc.address, family: net.isIP(mc.address) === 6 ? 6 : 4,
      port: mc.port, weight: mc.weight, enabled: mc.enabled, metrics: memberMetrics(mc),
    };
    members.push(member);
    own.push(member);
  });
  // Exact-size arrays: an array grown by push keeps room for 16 or more elements.
  pool.members = own.slice();
  pool.ipv4 = ofFamily(pool.members, 4);
  pool.ipv6 = ofFamily(pool.members, 6);
  return pool;
}

/** The name's fallback as compiled (shared FAIL_OPEN when it configures none or the round robin). */
function compileFallback(nc: Config['names'][number], name: string, answers: boolean): Fallback {
  const f = nc.fallback;
  if (!f || 'method' in f) return FAIL_OPEN;
  if ('address' in f || 'addresses' in f) {
    const list = 'address' in f ? [f.address] : f.addresses;
    const set = (family: 4 | 6): RRset | null => {
      const addrs = list.filter((a) => net.isIP(a) === family);
      return addrs.length === 0 || !answers ? null
        : compileRRset(addrs.map((a) => ({ name, type: family === 6 ? TYPE.AAAA : TYPE.A, ttl: nc.ttl, data: a })));
    };
    return { kind: 'address', rrsets: { 4: set(4), 6: set(6) } };
  }
  return f.rcode === 'NODATA' ? { kind: 'nodata' } : { kind: 'rcode', rcode: RCODE[f.rcode] };
}

function compilePersistence(nc: Config['names'][number]): PersistencePolicy | null {
  if (!nc.persistence) return null;
  return {
    ttlMs: nc.persistence.ttl,
    schedule: nc.persistence.schedule.map((s) => ({ fromMin: minutes(s.from), toMin: minutes(s.to), ttlMs: s.ttl })),
    key: nc.persistence.key,
  };
}

export function compilePolicy(config: Config, opts: PolicyOptions = {}): PolicyResult {
  const answers = opts.answers ?? true;
  const errors: ConfigError[] = [];
  const members: CompiledMember[] = [];
  const pools: CompiledPool[] = [];
  const poolIndex = new Map<string, number>();
  const interned = new Interned();

  config.pools.forEach((pc, i) => {
    if (poolIndex.has(pc.name)) {
      errors.push({ path: `pools[${i}].name`, message: `duplicate pool "${pc.name}" (also pools[${poolIndex.get(pc.name)}])` });
      return;
    }
    const pool = compilePool(pc, i, pools.length, members, interned, errors);
    if (!pool) return;
    poolIndex.set(pc.name, pools.length);
    pools.push(pool);
  });

  interned.pools(pools.length);
  const topology = compileTopology(config.topology, poolIndex);
  if (!topology.ok) errors.push(...topology.errors);
  const groups = compileResolverGroups({ groups: config.resolverGroups, auto: config.resolverGrouping });
  if (!groups.ok) errors.push(...groups.errors);

  const names: CompiledName[] = [];
  const nameIndex = new Map<string, number>();
  let slotBase = members.length;
  config.names.forEach((nc, i) => {
    const at = (): string => `names[${i}]`;
    let name: string;
    try {
      name = normalizeName(nc.name);
    } catch (e) {
      errors.push({ path: `${at()}.name`, message: e instanceof NameError ? e.message : String(e) });
      return;
    }
    const key = canonicalName(name);
    if (nameIndex.has(key)) {
      errors.push({ path: `${at()}.name`, message: `duplicate name ${name} (also names[${nameIndex.get(key)}])` });
      return;
    }
    const namePools: CompiledPool[] = [];
    nc.pools.forEach((p, j) => {
      const idx = poolIndex.get(p);
      if (idx === undefined) errors.push({ path: `${at()}.pools[${j}]`, message: `unknown pool "${p}"`, ...didYouMean(p, poolIndex.keys()) });
      else namePools.push(pools[idx]!);
    });
    const select = interned.chain(nc.select, 'pool', () => `${at()}.select`, errors);
    const poolRRsets = answers ? namePools.map((pool) => interned.poolAnswers(pool, name, nc.ttl)) : NO_ANSWERS;
    const v4 = namePools.some((p) => p.ipv4.length > 0);
    const v6 = namePools.some((p) => p.ipv6.length > 0);
    nameIndex.set(key, names.length);
    names.push({
      index: names.length, poolSlotBase: slotBase, name, ttl: nc.ttl, pools: namePools.slice(), select,
      fallback: compileFallback(nc, name, answers), persistence: compilePersistence(nc),
      count: nc.answer.count, poolRRsets, hasFamily: HAS_FAMILY[(v4 ? 1 : 0) + (v6 ? 2 : 0)]!,
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
      poolIndex, nameIndex,
    },
  };
}

/** `policy` as a compilation with `answers: false` makes it (the same object when it has no answer RRsets already). */
export function withoutAnswers(policy: CompiledPolicy): CompiledPolicy {
  if (policy.names.every((n) => n.poolRRsets.length === 0)) return policy;
  const names = policy.names.map((n): CompiledName => ({ ...n, poolRRsets: NO_ANSWERS }));
  return { ...policy, names };
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
