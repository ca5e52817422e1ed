// Compile the policy part of the configuration (names, pools, members, topology, resolver groups) into the
// immutable CompiledPolicy the answer engine reads, whole (compilePolicy) or as an edit of one (updatePolicy: what
// the edit replaces, indexes kept). Every problem becomes a ConfigError with its YAML path.
// Control plane only: runs at start, reload and on changes, never per query.
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
import { LayeredMap } from './layered.js';
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
   * The methods of `ids` at `level`, the select of `section[i]`; errors (unknown id, wrong level) are reported there
   * and never cached.
   */
  chain(ids: readonly string[], level: 'pool' | 'member', section: 'names' | 'pools', i: number, errors: ConfigError[]): readonly Method[] {
    const key = ids.length === 1 ? `${level} ${ids[0]!}` : `${level} ${ids.join(' ')}`;
    const known = this.chains.get(key);
    if (known) return known;
    const before = errors.length;
    const out = compileChain(ids, level, `${section}[${i}].select`, errors);
    if (errors.length === before) this.chains.set(key, out);
    return out;
  }

  /** Make room for the answers of `count` pools (a packed array: pools are looked up by index). */
  pools(count: number): void {
    this.answers = new Array<null>(count).fill(null);
  }

  /**
   * The answer RRsets of `pool`'s members (in slot order) with TTL `ttl`, for policy name `name`. An answer RRset
   * carries no owner on the wire (it points at the question name), so the names that use one pool with one TTL
   * share them.
   */
  poolAnswers(pool: CompiledPool, name: string, ttl: number): readonly RRset[] {
    const held = this.answers[pool.index];
    if (held && held.ttl === ttl) return held.rrsets;
    const rrsets = pool.members.map((m) => addressRRset(name, ttl, m.address, m.family));
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

function addressRRset(name: string, ttl: number, address: string, family: 4 | 6): RRset {
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

/** Pools up to this size are checked for duplicate members by comparing keys pairwise, bigger ones with a Set. */
const SMALL_POOL = 16;

/** The members of pool `pc` without its duplicates (reported at `pools[i]`): usually `pc.members` itself. */
function uniqueMembers(pc: Config['pools'][number], i: number, errors: ConfigError[]): readonly MemberConfig[] {
  const list = pc.members;
  const dup = new Array<boolean>(list.length).fill(false);
  let dups = 0;
  const report = (j: number, key: string): void => {
    dup[j] = true;
    dups++;
    errors.push({ path: `pools[${i}].members[${j}].address`, message: `duplicate member ${key} in pool "${pc.name}"` });
  };
  if (list.length <= SMALL_POOL) {
    // A pairwise scan: a Set per pool was as many Sets as pools (a hundred thousand).
    for (let j = 1; j < list.length; j++) {
      const key = memberKey(list[j]!);
      for (let k = 0; k < j; k++) if (!dup[k] && memberKey(list[k]!) === key) { report(j, key); break; }
    }
  } else {
    const seen = new Set<string>();
    list.forEach((mc, j) => {
      const key = memberKey(mc);
      if (seen.has(key)) report(j, key);
      else seen.add(key);
    });
  }
  return dups === 0 ? list : list.filter((_, j) => !dup[j]);
}

/**
 * Compile one pool at slot `index`, its members put in `members`: at the index `reuse` gives for a member's key (the
 * same member in the pool this one replaces), else appended.
 */
function compilePool(pc: Config['pools'][number], i: number, index: number, members: CompiledMember[], interned: Interned, errors: ConfigError[], reuse?: (key: string) => number): CompiledPool {
  // The pool object is made first: members point at it. Its member lists (exact-size arrays, made by map: an array
  // grown by push keeps room for 16 or more elements) are set right after.
  const pool = { index, name: pc.name, members: NO_MEMBERS, select: interned.chain(pc.select, 'member', 'pools', i, errors), ipv4: NO_MEMBERS, ipv6: NO_MEMBERS };
  pool.members = uniqueMembers(pc, i, errors).map((mc, slot): CompiledMember => {
    const at = reuse?.(memberKey(mc)) ?? -1;
    const m: CompiledMember = {
      index: at >= 0 ? at : members.length, pool, slot, address: mc.address, family: net.isIP(mc.address) === 6 ? 6 : 4,
      port: mc.port, weight: mc.weight, enabled: mc.enabled, metrics: memberMetrics(mc),
    };
    members[m.index] = m;
    return m;
  });
  pool.ipv4 = ofFamily(pool.members, 4);
  pool.ipv6 = ofFamily(pool.members, 6);
  return pool;
}

/** The pools of name `nc` (names[i]); unknown ones are reported and left out. */
function namePools(nc: Config['names'][number], i: number, pools: readonly CompiledPool[], poolIndex: ReadonlyMap<string, number>, errors: ConfigError[]): readonly CompiledPool[] {
  const found = nc.pools.map((p) => pools[poolIndex.get(p) ?? -1]);
  if (found.every((p) => p !== undefined)) return found as CompiledPool[];
  nc.pools.forEach((p, j) => {
    if (found[j] === undefined) errors.push({ path: `names[${i}].pools[${j}]`, message: `unknown pool "${p}"`, ...didYouMean(p, poolIndex.keys()) });
  });
  return found.filter((p): p is CompiledPool => p !== undefined);
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

type NameConfig = Config['names'][number];
type PoolConfig = Config['pools'][number];

/**
 * Compile name `nc` (names[i]) into slot `index` with its pool slots from `slotBase`; undefined when its name is no
 * name (reported). Duplicates are the caller's to find.
 */
function compileName(nc: NameConfig, i: number, index: number, slotBase: number, pools: readonly CompiledPool[], poolIndex: ReadonlyMap<string, number>, interned: Interned, answers: boolean, errors: ConfigError[]): CompiledName | undefined {
  let name: string;
  try {
    name = normalizeName(nc.name);
  } catch (e) {
    errors.push({ path: `names[${i}].name`, message: e instanceof NameError ? e.message : String(e) });
    return undefined;
  }
  const own = namePools(nc, i, pools, poolIndex, errors);
  return linkName({
    index, poolSlotBase: slotBase, name, ttl: nc.ttl, pools: own, select: interned.chain(nc.select, 'pool', 'names', i, errors),
    fallback: compileFallback(nc, name, answers), persistence: compilePersistence(nc), count: nc.answer.count,
    poolRRsets: NO_ANSWERS, hasFamily: HAS_FAMILY[0],
  }, own, interned, answers);
}

/** `n` with pools `own`: the answers and families that follow from them (n's pool slots must fit `own`). */
function linkName(n: CompiledName, own: readonly CompiledPool[], interned: Interned, answers: boolean): CompiledName {
  const v4 = own.some((p) => p.ipv4.length > 0);
  const v6 = own.some((p) => p.ipv6.length > 0);
  const poolRRsets = answers ? own.map((pool) => interned.poolAnswers(pool, n.name, n.ttl)) : NO_ANSWERS;
  return { ...n, pools: own, poolRRsets, hasFamily: HAS_FAMILY[(v4 ? 1 : 0) + (v6 ? 2 : 0)]! };
}

/**
 * Room a compilation leaves for changes: slots up to this many members (pools) may be taken by later changes
 * before the policy is compiled afresh (index spaces are fixed within a layout: see CompiledPolicy.layout).
 */
function roomFor(n: number): number {
  return Math.max(1024, n * 2);
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
    poolIndex.set(pc.name, pools.length);
    pools.push(compilePool(pc, i, pools.length, members, interned, errors));
  });

  interned.pools(pools.length);
  const topology = compileTopology(config.topology, poolIndex);
  if (!topology.ok) errors.push(...topology.errors);
  const groups = compileResolverGroups({ groups: config.resolverGroups, auto: config.resolverGrouping && { ipv4PrefixLength: config.resolverGrouping.ipv4PrefixLength, ipv6PrefixLength: config.resolverGrouping.ipv6PrefixLength } });
  if (!groups.ok) errors.push(...groups.errors);

  const names: CompiledName[] = [];
  const nameIndex = new Map<string, number>();
  const memberRoom = roomFor(members.length);
  let slotBase = memberRoom;
  config.names.forEach((nc, i) => {
    const n = compileName(nc, i, names.length, slotBase, pools, poolIndex, interned, answers, errors);
    if (n === undefined) return;
    const key = canonicalName(n.name);
    if (nameIndex.has(key)) {
      errors.push({ path: `names[${i}].name`, message: `duplicate name ${n.name} (also names[${nameIndex.get(key)}])` });
      return;
    }
    nameIndex.set(key, names.length);
    names.push(n);
    slotBase += n.pools.length;
  });

  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    policy: {
      names, pools, members,
      topology: topology.ok ? topology.table : TopologyTable.empty(),
      groups: groups.ok ? groups.groups : ResolverGroups.empty(),
      poolIndex, nameIndex,
      memberRoom, poolRoom: roomFor(pools.length), nameSlots: slotBase - memberRoom,
      ordered: { names, pools }, layout: {}, touched: null,
    },
  };
}

/** One change to a list of the configuration: `remove` entries at position `at` replaced by `insert`. */
export interface Splice<T> { at: number; remove: number; insert: readonly T[] }
/** A change to the names and pools sections only (null: that section is unchanged). */
export interface PolicyEdit { names: Splice<NameConfig> | null; pools: Splice<PoolConfig> | null }

/** `list` with `s` applied (a copy). */
export function spliced<T>(list: readonly T[], s: Splice<T> | null): T[] {
  const out = list.slice(0, s === null ? list.length : s.at);
  if (s === null) return out;
  for (const x of s.insert) out.push(x);
  for (let i = s.at + s.remove; i < list.length; i++) out.push(list[i]!);
  return out;
}

/**
 * `prev` with `edit` applied, in time proportional to the change (plus copying arrays of references): the pools and
 * names it replaces are compiled again, the names that use a replaced pool relinked; everything else is shared with
 * `prev`, indexes included, so the live state carries over by index (LiveState.derive). A replaced pool's members
 * keep their indexes (by key); removed ones stay behind as unreachable entries. `config` supplies the sections an
 * edit never changes (topology, resolver groups). Null when the layout has no room left for the change: compile
 * afresh. Errors carry the paths of the configuration after the change.
 */
export function updatePolicy(prev: CompiledPolicy, edit: PolicyEdit, config: Config, opts: PolicyOptions = {}): PolicyResult | null {
  const answers = opts.answers ?? true;
  const errors: ConfigError[] = [];
  const interned = new Interned();
  const members = prev.members.slice();
  const pools = prev.pools.slice();
  const poolIndex = new LayeredMap(prev.poolIndex);
  const touched: number[] = [];
  /** Pools taken out by the edit → the pool of the same name put in (null: none). */
  const replaced = new Map<CompiledPool, CompiledPool | null>();
  let orderedPools = prev.ordered.pools;
  let poolNamesChanged = false;
  if (edit.pools !== null) {
    const s = edit.pools;
    const gone = new Map<string, CompiledPool>();
    for (const p of prev.ordered.pools.slice(s.at, s.at + s.remove)) {
      gone.set(p.name, p);
      poolIndex.delete(p.name);
      replaced.set(p, null);
    }
    const made: CompiledPool[] = [];
    s.insert.forEach((pc, k) => {
      const i = s.at + k;
      if (poolIndex.has(pc.name)) {
        const other = otherPosition(prev.ordered.pools.map((p) => p.name), { ...s, insert: s.insert.map((x) => x.name) }, pc.name, i);
        errors.push({ path: `pools[${i}].name`, message: `duplicate pool "${pc.name}" (also pools[${other}])` });
        return;
      }
      const old = gone.get(pc.name);
      if (old === undefined) poolNamesChanged = true;
      const keys = old === undefined ? null : new Map(old.members.map((m) => [memberKey(m), m.index]));
      const pool = compilePool(pc, i, old?.index ?? pools.length, members, interned, errors, (key) => keys?.get(key) ?? -1);
      for (const m of pool.members) touched.push(m.index);
      pools[pool.index] = pool;
      poolIndex.set(pc.name, pool.index);
      if (old !== undefined) replaced.set(old, pool);
      made.push(pool);
    });
    if (pools.length > prev.poolRoom || members.length > prev.memberRoom) return null;
    for (const name of gone.keys()) if (!poolIndex.has(name)) poolNamesChanged = true;
    orderedPools = spliced(prev.ordered.pools, { ...s, insert: made });
  }
  interned.pools(pools.length);
  const names = prev.names.slice();
  const nameIndex = new LayeredMap(prev.nameIndex);
  let slotEnd = prev.memberRoom + prev.nameSlots;
  let orderedNames = prev.ordered.names.slice();
  if (edit.names !== null) {
    const s = edit.names;
    const gone = new Map<string, CompiledName>();
    for (const n of prev.ordered.names.slice(s.at, s.at + s.remove)) {
      const key = canonicalName(n.name);
      gone.set(key, n);
      nameIndex.delete(key);
    }
    const made: CompiledName[] = [];
    s.insert.forEach((nc, k) => {
      const i = s.at + k;
      const fresh = compileName(nc, i, 0, 0, pools, poolIndex, interned, answers, errors);
      if (fresh === undefined) return;
      const key = canonicalName(fresh.name);
      if (nameIndex.has(key)) {
        const other = otherPosition(prev.ordered.names.map((n) => canonicalName(n.name)), { ...s, insert: s.insert.map((x) => safeKey(x.name)) }, key, i);
        errors.push({ path: `names[${i}].name`, message: `duplicate name ${fresh.name} (also names[${other}])` });
        return;
      }
      // The same name keeps its index (its persistence records stay valid) and its pool slots while they fit.
      const old = gone.get(key);
      const reuse = old !== undefined && old.pools.length >= fresh.pools.length;
      const n: CompiledName = { ...fresh, index: old?.index ?? names.length, poolSlotBase: reuse ? old.poolSlotBase : slotEnd };
      if (!reuse) slotEnd += n.pools.length;
      names[n.index] = n;
      nameIndex.set(key, n.index);
      made.push(n);
    });
    // Names taken out stay behind (unreachable) until the next fresh compilation; not without bound.
    if (names.length > 2 * orderedNames.length + 1024) return null;
    orderedNames = spliced(prev.ordered.names, { ...s, insert: made });
  }
  if (replaced.size > 0) relink(orderedNames, names, replaced, interned, answers, errors);
  let topology = prev.topology;
  if (poolNamesChanged) {
    const t = compileTopology(config.topology, poolIndex);
    if (!t.ok) errors.push(...t.errors);
    else topology = t.table;
  }
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    policy: {
      names, pools, members, topology, groups: prev.groups, poolIndex, nameIndex,
      memberRoom: prev.memberRoom, poolRoom: prev.poolRoom, nameSlots: slotEnd - prev.memberRoom,
      ordered: { names: orderedNames, pools: orderedPools }, layout: prev.layout, touched,
    },
  };
}

/** The names using a pool the edit replaced, linked to its replacement (or reported: the pool is gone). */
function relink(ordered: CompiledName[], names: CompiledName[], replaced: ReadonlyMap<CompiledPool, CompiledPool | null>, interned: Interned, answers: boolean, errors: ConfigError[]): void {
  // Slots of replaced pools, marked: the pass over every name reads a byte per pool it uses, no map.
  let top = 0;
  for (const p of replaced.keys()) top = Math.max(top, p.index + 1);
  const marked = new Uint8Array(top);
  for (const p of replaced.keys()) marked[p.index] = 1;
  const uses = (n: CompiledName): boolean => {
    for (const p of n.pools) if (p.index < top && marked[p.index] === 1 && replaced.has(p)) return true;
    return false;
  };
  ordered.forEach((n, i) => {
    if (!uses(n)) return;
    const own = n.pools.map((p) => (replaced.has(p) ? replaced.get(p) ?? null : p));
    own.forEach((p, j) => {
      if (p === null) errors.push({ path: `names[${i}].pools[${j}]`, message: `unknown pool "${n.pools[j]!.name}"` });
    });
    if (own.includes(null)) return;
    const linked = linkName(n, own as CompiledPool[], interned, answers);
    ordered[i] = linked;
    names[n.index] = linked;
  });
}

/** Position, in `before` after splice `s`, of the entry called `key` other than the one at `self` (a duplicate's). */
function otherPosition(before: readonly string[], s: Splice<string>, key: string, self: number): number {
  return spliced(before, s).findIndex((k, j) => k === key && j !== self);
}

/** A name's canonical form, or the text itself when it is no name (it matches nothing then). */
function safeKey(name: string): string {
  try {
    return canonicalName(name);
  } catch {
    return name;
  }
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
