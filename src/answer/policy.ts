// Compiled policy: names → pools → members as the answer engine reads them (part of the immutable snapshot).
// Owns: the shapes only. Compilation from config lives in compile.ts; choosing lives in engine.ts and methods/.
import type { RRset } from '../dns/zone.js';
import { canonicalName } from '../wire/name.js';
import type { Method } from './method.js';
import type { TopologyTable } from './topology.js';
import type { ResolverGroups } from './resolver-groups.js';
import { hostPort } from '../net/address.js';

/** Dynamic metrics a member can carry (SPEC G2, H4). Unknown values are NaN. */
export const METRICS = ['packet-rate', 'cpu', 'connections', 'rtt', 'packet-loss', 'hops', 'reported-load'] as const;
export type MetricName = (typeof METRICS)[number];
export const METRIC_INDEX: Record<MetricName, number> = Object.fromEntries(METRICS.map((m, i) => [m, i])) as Record<MetricName, number>;

export interface CompiledMember {
  /** Index into the snapshot-wide member table (and every LiveState array). */
  readonly index: number;
  readonly pool: CompiledPool;
  /** Position inside its pool. */
  readonly slot: number;
  readonly address: string;
  readonly family: 4 | 6;
  readonly port: number | undefined;
  readonly weight: number;
  /** Administrative flag from config: a disabled member is never answered (except by fallbacks ignoring health). */
  readonly enabled: boolean;
  /** Metric values in METRICS order (NaN when unknown). */
  readonly metrics: Float64Array;
}

export interface CompiledPool {
  readonly index: number;
  readonly name: string;
  readonly members: readonly CompiledMember[];
  /** Member-selection chain (preferred → alternate → …); an implicit round robin ends every chain. */
  readonly select: readonly Method[];
  /**
   * Members of each family, in configured order (read through familyMembers). Named fields, not an object keyed 4
   * and 6: integer keys made each pool carry a 200-byte elements store.
   */
  readonly ipv4: readonly CompiledMember[];
  readonly ipv6: readonly CompiledMember[];
}

export type Fallback =
  | { kind: 'address'; rrsets: { readonly 4: RRset | null; readonly 6: RRset | null } }
  | { kind: 'round-robin-ignore-health' }
  | { kind: 'rcode'; rcode: number }
  | { kind: 'nodata' };

export interface PersistencePolicy {
  /** Default record TTL in ms. */
  readonly ttlMs: number;
  /** Time-of-day overrides (minutes since local midnight; `to` may be < `from` to wrap midnight). */
  readonly schedule: ReadonlyArray<{ readonly fromMin: number; readonly toMin: number; readonly ttlMs: number }>;
  /** What identifies "the same resolver": its address (or group), or the client subnet from ECS. */
  readonly key: 'resolver' | 'subnet';
}

export interface CompiledName {
  readonly index: number;
  /** Where this name's pool candidates start in LiveState per-candidate arrays (after all members). */
  readonly poolSlotBase: number;
  /** Canonical presentation name. */
  readonly name: string;
  readonly ttl: number;
  readonly pools: readonly CompiledPool[];
  /** Pool-selection chain. */
  readonly select: readonly Method[];
  readonly fallback: Fallback;
  readonly persistence: PersistencePolicy | null;
  /** How many addresses per answer. */
  readonly count: number;
  /** Whether any pool has members of each family (a family with none answers NODATA whatever health says). */
  readonly hasFamily: { readonly 4: boolean; readonly 6: boolean };
  /**
   * The answer RRset of each member with this name's TTL: poolRRsets[k][slot] for the member in slot `slot` of
   * pools[k]. Dense, per pool (an array indexed by snapshot-wide member index would be sparse: slow, 2 KB a name).
   */
  readonly poolRRsets: ReadonlyArray<ReadonlyArray<RRset>>;
}

/**
 * Everything policy-related in a snapshot. `names`, `pools` and `members` are indexed by slot (a compiled object's
 * `index`); a change (updatePolicy) replaces what it changes and may leave entries behind that nothing reaches any
 * more (a removed member, pool or name), so they are slot tables, not the configuration's lists: `ordered` has those.
 */
export interface CompiledPolicy {
  readonly names: readonly CompiledName[];
  readonly pools: readonly CompiledPool[];
  readonly members: readonly CompiledMember[];
  /** The names and pools in configuration order (names[i] of the configuration is ordered.names[i]). */
  readonly ordered: { readonly names: readonly CompiledName[]; readonly pools: readonly CompiledPool[] };
  /**
   * Per-candidate slots (LiveState.marked, current, excluded): members take [0, memberRoom), names' pool slots
   * [memberRoom, memberRoom + nameSlots). Rotating counters: pools take [0, poolRoom), then two per name (nameCounter:
   * its pool rotation; fallbackCounter: its fail-open rotation), so neither moves the other.
   */
  readonly memberRoom: number;
  readonly nameSlots: number;
  readonly poolRoom: number;
  /**
   * Shared by the policies made from one fresh compilation by changes (updatePolicy): within it an index means the
   * same member, pool or name, so live state carries over by index.
   */
  readonly layout: object;
  /** Made by a change: the indexes of the members it compiled again or added (their live state starts afresh). */
  readonly touched: readonly number[] | null;
  readonly topology: TopologyTable;
  readonly groups: ResolverGroups;
  /** Pool name → index into `pools` (health, admin states and persistence records name pools). */
  readonly poolIndex: ReadonlyMap<string, number>;
  /** Canonical name (canonicalName) → index into `names`. */
  readonly nameIndex: ReadonlyMap<string, number>;
}

/** The members of `pool` of address family `family`, in configured order. */
export function familyMembers(pool: CompiledPool, family: 4 | 6): readonly CompiledMember[] {
  return family === 4 ? pool.ipv4 : pool.ipv6;
}

/** Stable identity of a member across snapshots (persistence records, health and admin states refer to it). */
export function memberKey(m: { address: string; port?: number | undefined }): string {
  return m.port !== undefined ? hostPort(m.address, m.port) : m.address;
}

/** The rotating counter of name `index`'s pool list (LiveState.counter). */
export function nameCounter(policy: CompiledPolicy, index: number): number {
  return policy.poolRoom + 2 * index;
}

/** The rotating counter of name `index`'s round-robin-ignore-health fallback: its own, not the pools' rotation. */
export function fallbackCounter(policy: CompiledPolicy, index: number): number {
  return policy.poolRoom + 2 * index + 1;
}

/** How many rotating counters a policy uses: its pools', then two per name. */
export function counterCount(policy: CompiledPolicy): number {
  return policy.poolRoom + 2 * policy.names.length;
}

/** Index of the member `member` (its memberKey) of pool `pool`, or -1. Pools are small: one pool is scanned. */
export function memberIndexOf(policy: CompiledPolicy, pool: string, member: string): number {
  const p = policy.pools[policy.poolIndex.get(pool) ?? -1];
  if (p === undefined) return -1;
  for (const m of p.members) if (memberKey(m) === member) return m.index;
  return -1;
}

/** Index of the policy name `name` (any spelling: compared canonically), or -1 (also for a text that is no name). */
export function nameIndexOf(policy: CompiledPolicy, name: string): number {
  try {
    return policy.nameIndex.get(canonicalName(name)) ?? -1;
  } catch {
    return -1;
  }
}
