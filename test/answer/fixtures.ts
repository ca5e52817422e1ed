// Hand-built answer-engine fixtures: a CompiledPolicy with one name over the given pools, its LiveState, a
// DecisionContext asked by a given resolver, and the two candidate lists set up on them.
// Owns: test scaffolding only; it builds compiled shapes directly (no config parsing) so method tests stay small.
import { parseAddress } from '../../src/net/address.js';
import { MemberCandidates, PoolCandidates } from '../../src/answer/candidates.js';
import { DecisionContext, Trace } from '../../src/answer/context.js';
import { LiveState } from '../../src/answer/live.js';
import { METRICS, type CompiledMember, type CompiledName, type CompiledPolicy, type CompiledPool, type MetricName } from '../../src/answer/policy.js';
import type { Candidates } from '../../src/answer/candidates.js';
import type { Method } from '../../src/answer/method.js';

export interface MemberSpec {
  address: string;
  weight?: number;
  enabled?: boolean;
  port?: number;
  metrics?: Partial<Record<MetricName, number>>;
}
export interface PoolSpec {
  name: string;
  members: MemberSpec[];
}
export interface FixtureOptions {
  /** Resolver address the context asks from (default 192.0.2.1). */
  resolver?: string;
  /** Address family of the question (default 4). */
  family?: 4 | 6;
  /** Topology table placed in the policy (tests of the topology method pass a fake). */
  topology?: unknown;
}

export interface Fixture {
  policy: CompiledPolicy;
  name: CompiledName;
  live: LiveState;
  ctx: DecisionContext;
  /** The members of pool `p` (default 0) of the question's family. */
  members(p?: number): MemberCandidates;
  /** The name's pools. */
  pools(): PoolCandidates;
  /** The member with this address (first match). */
  member(address: string): CompiledMember;
  setResolver(address: string): void;
  setSubnet(address: string, prefix: number): void;
  setUp(address: string, up: boolean): void;
  /** Start collecting explain steps. */
  trace(): Trace;
}

function familyOf(address: string): 4 | 6 {
  const words = new Uint32Array(4);
  const f = parseAddress(address, words);
  if (f === 0) throw new Error(`fixture: not an address: ${address}`);
  return f;
}

export function makeFixture(specs: PoolSpec[], opts: FixtureOptions = {}): Fixture {
  const members: CompiledMember[] = [];
  const pools: CompiledPool[] = [];
  specs.forEach((spec, p) => {
    const own: CompiledMember[] = [];
    const byFamily = { 4: [] as CompiledMember[], 6: [] as CompiledMember[] };
    const pool: CompiledPool = { index: p, name: spec.name, members: own, select: [], ipv4: byFamily[4], ipv6: byFamily[6] };
    spec.members.forEach((m, slot) => {
      const metrics = new Float64Array(METRICS.length).fill(NaN);
      for (const [k, v] of Object.entries(m.metrics ?? {})) metrics[METRICS.indexOf(k as MetricName)] = v;
      const member: CompiledMember = {
        index: members.length,
        pool,
        slot,
        address: m.address,
        family: familyOf(m.address),
        port: m.port,
        weight: m.weight ?? 1,
        enabled: m.enabled ?? true,
        metrics,
      };
      members.push(member);
      own.push(member);
      byFamily[member.family].push(member);
    });
    pools.push(pool);
  });
  const name: CompiledName = {
    index: 0,
    poolSlotBase: members.length,
    name: 'www.example.com.',
    ttl: 30,
    pools,
    select: [],
    fallback: { kind: 'nodata' },
    persistence: null,
    count: 1,
    poolRRsets: [],
    hasFamily: { 4: pools.some((p) => p.ipv4.length > 0), 6: pools.some((p) => p.ipv6.length > 0) },
  };
  const policy: CompiledPolicy = {
    names: [name],
    pools,
    members,
    topology: (opts.topology ?? {}) as CompiledPolicy['topology'],
    groups: {} as CompiledPolicy['groups'],
    poolIndex: new Map(pools.map((p, i) => [p.name, i])),
    nameIndex: new Map([['www.example.com', 0]]),
    ordered: { names: [name], pools },
    memberRoom: members.length, nameSlots: pools.length, poolRoom: pools.length, layout: {}, touched: null,
  };
  const live = new LiveState(policy);
  const ctx = new DecisionContext();
  ctx.live = live;
  ctx.policy = policy;
  ctx.name = name;
  ctx.family = opts.family ?? 4;
  ctx.now = 1_000_000;
  const memberList = new MemberCandidates();
  const poolList = new PoolCandidates();

  const fixture: Fixture = {
    policy,
    name,
    live,
    ctx,
    members: (p = 0) => memberList.set(ctx, pools[p]!),
    pools: () => poolList.set(ctx, name),
    member(address) {
      const m = members.find((x) => x.address === address);
      if (!m) throw new Error(`fixture: no member ${address}`);
      return m;
    },
    setResolver(address) {
      ctx.client.family = parseAddress(address, ctx.client.words);
      ctx.client.ecs = false;
    },
    setSubnet(address, prefix) {
      const f = parseAddress(address, ctx.client.ecsWords);
      if (f === 0) throw new Error(`fixture: not an address: ${address}`);
      ctx.client.ecs = true;
      ctx.client.ecsFamily = f;
      ctx.client.ecsPrefix = prefix;
    },
    setUp(address, up) {
      live.up[fixture.member(address).index] = up ? 1 : 0;
    },
    trace() {
      ctx.trace = new Trace();
      return ctx.trace;
    },
  };
  fixture.setResolver(opts.resolver ?? '192.0.2.1');
  return fixture;
}

/** Members "10.0.0.1" … "10.0.0.n" (weights given, or 1). */
export function ipv4Members(n: number, weights?: number[]): MemberSpec[] {
  return Array.from({ length: n }, (_, i) => ({ address: `10.0.0.${i + 1}`, weight: weights?.[i] ?? 1 }));
}

/** Pick `times` times and count how often each index (and -1, under key -1) came back. */
export function tally(method: Method, ctx: DecisionContext, c: Candidates, times: number): Map<number, number> {
  const counts = new Map<number, number>();
  for (let k = 0; k < times; k++) {
    const i = method.pick(ctx, c);
    counts.set(i, (counts.get(i) ?? 0) + 1);
  }
  return counts;
}

/** The sequence of `times` picks. */
export function picks(method: Method, ctx: DecisionContext, c: Candidates, times: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < times; k++) out.push(method.pick(ctx, c));
  return out;
}
