// The answer engine: for a policy name, choose the pool and member(s) for this query and put them in the answer.
// Order (seed 004 FIG. 9): a timely persistence record wins if its member is still up; otherwise the name's pool
// chain picks a pool, the pool's member chain picks members, and with nothing usable the name's fallback answers.
// Owns: the per-worker runtime (LiveState, PersistenceTable) and the decision. Synchronous; explain runs the same
// code with a Trace attached, so what `waymark explain` prints is what queries get.
import { RCODE } from '../wire/types.js';
import { PeerAddress } from '../net/peer.js';
import { DecisionContext, Trace } from './context.js';
import { LiveState } from './live.js';
import { MemberCandidates, PoolCandidates, type Candidates } from './candidates.js';
import { persistenceTtl, memberKey } from './compile.js';
import { PersistenceTable, type PersistRecord } from './persistence.js';
import type { Method } from './method.js';
import { roundRobin } from './methods/round-robin.js';
import { METHODS } from './methods/index.js';
import { METRICS, METRIC_INDEX, fallbackCounter, familyMembers, memberIndexOf, nameIndexOf, type MetricName, type CompiledMember, type CompiledName, type CompiledPolicy } from './policy.js';
import { ADMIN_AUTO, ADMIN_CODES, type AdminState } from './live.js';
import type { MemberHealth } from '../health/verdict.js';
import type { Resolution } from '../dns/lookup.js';
import { rrsetRecords, type RRset, type Zone } from '../dns/zone.js';
import { APEX, type ZoneImage } from '../wire/image.js';
import type { Query } from '../wire/query.js';
import { addressKey, type ObservedGroups } from './resolver-groups.js';
import type { EcsObservations } from './ecs-groups.js';
import { formatAddress } from '../net/prefix.js';

const ECS_FAMILY_IPV4 = 1;

// Metrics hook (SPEC C3): what decided an answer, counted into typed arrays the responder's QueryCounters owns.
/** Decision labels: every registered method (aliases once), then the deciders of the engine itself. */
const METHOD_LIST: readonly Method[] = [...new Set(METHODS.values())];
export const DECISION_LABELS: readonly string[] = [...METHOD_LIST.map((m) => m.id), 'persistence', 'round-robin (end of chain)', 'fallback'];
export const DECISION_PERSISTENCE = METHOD_LIST.length;
export const DECISION_END_OF_CHAIN = METHOD_LIST.length + 1;
export const DECISION_FALLBACK = METHOD_LIST.length + 2;
/** What a decision chose: a name's answer as a whole (persistence, fallback), a pool, or a member. */
export const DECISION_LEVELS = ['name', 'pool', 'member'] as const;
const LEVEL_NAME = 0;
const LEVEL_POOL = 1;
const LEVEL_MEMBER = 2;
const METHOD_DECISION = new Map<Method, number>(METHOD_LIST.map((m, i) => [m, i]));

/** Allocation-free tallies the engine adds to when attached (null: not counted). */
export interface EngineTally {
  /** Per decision: DECISION_LABELS index × DECISION_LEVELS.length + level. */
  readonly decisions: Uint32Array;
  /** [hits, misses] of persistence lookups. */
  readonly persistence: Uint32Array;
  /** Answers given per member index of the current policy (resized by the owner on snapshot change). */
  answers: Uint32Array;
}

export class AnswerEngine {
  readonly ctx = new DecisionContext();
  live: LiveState;
  readonly persistence: PersistenceTable;
  private policy: CompiledPolicy;
  private readonly pools = new PoolCandidates();
  private readonly members = new MemberCandidates();
  /** Set by the responder before resolve(): who is asking. Parsed only when a policy name is hit. */
  private peer = new PeerAddress();
  private query: Query | null = null;
  private clientParsed = false;
  /** The owner of the answer being written (answer() sets it; null image: the question name). */
  private ownerImg: ZoneImage | null = null;
  private ownerNode = -1;
  /** Injectable clock (tests of persistence expiry). */
  clock: () => number = Date.now;
  /** Metrics: where decisions are counted (null: nowhere). The fields below describe the current query (-1: none). */
  tally: EngineTally | null = null;
  /** Index of the policy name answered. */
  lastName = -1;
  /** DECISION_LABELS index of what chose the pool, and the (first) member or the whole answer. */
  lastPoolDecision = -1;
  lastMemberDecision = -1;
  private decided = -1;

  constructor(policy: CompiledPolicy, maxPersistenceRecords = 1_000_000) {
    this.policy = policy;
    this.live = new LiveState(policy);
    this.persistence = new PersistenceTable(maxPersistenceRecords);
    this.ctx.live = this.live;
    this.ctx.policy = policy;
  }

  /** Adopt a new snapshot's policy: health and request counts carry over by member identity; records are remapped. */
  swap(policy: CompiledPolicy): void {
    if (policy === this.policy) return; // a snapshot of changed zones: the live state is this policy's already
    const old = this.policy;
    if (policy.layout === old.layout) {
      // Made from this policy by a change: indexes mean what they meant, so state and records stay where they are
      // (a record whose member was removed points at an entry no name reaches: choose() ignores it).
      this.live.adopt(policy);
      this.policy = policy;
      this.ctx.policy = policy;
      return;
    }
    const map = new Int32Array(policy.members.length);
    for (const m of policy.members) map[m.index] = memberIndexOf(old, m.pool.name, memberKey(m));
    const live = new LiveState(policy);
    live.inheritHealth(this.live, map);
    const records = this.persistence.list((n) => old.names[n]!.name, (m) => ({ pool: old.members[m]!.pool.name, member: memberKey(old.members[m]!) }));
    this.persistence.clear();
    this.policy = policy;
    this.live = live;
    this.ctx.live = live;
    this.ctx.policy = policy;
    this.applyRecords(records);
  }

  /** Health verdicts and measured metrics from the supervisor (SPEC H2: a down member leaves the answers at once). */
  applyHealth(updates: readonly MemberHealth[]): number {
    const live = this.live;
    let applied = 0;
    for (const u of updates) {
      const i = memberIndexOf(this.policy, u.pool, u.member);
      if (i < 0) continue;
      live.health[i] = u.up ? 1 : 0;
      live.agentDrain[i] = u.drain ? 1 : 0;
      live.weightScale[i] = u.weightScale;
      for (const [name, v] of Object.entries(u.metrics)) {
        const k = METRIC_INDEX[name as MetricName];
        if (k !== undefined && v !== undefined) live.setMetric(i, k, v);
      }
      live.refresh(i);
      applied++;
    }
    return applied;
  }

  /** Operator admin states (the full list: members not in it are automatic). */
  applyAdmin(states: ReadonlyArray<{ pool: string; member: string; state: AdminState }>): void {
    const live = this.live;
    live.admin.fill(ADMIN_AUTO);
    for (const s of states) {
      const i = memberIndexOf(this.policy, s.pool, s.member);
      if (i >= 0) live.admin[i] = ADMIN_CODES[s.state];
    }
    for (let i = 0; i < live.memberCount; i++) live.refresh(i);
  }

  /**
   * Recent answers per member combined over every worker (supervisor/requests.ts): they replace this worker's own
   * counts, which its next answers add to until the next totals come.
   */
  applyRequestTotals(totals: ReadonlyArray<readonly [pool: string, member: string, count: number, at: number]>): void {
    const live = this.live;
    for (const [pool, member, count, at] of totals) {
      const i = memberIndexOf(this.policy, pool, member);
      if (i < 0) continue;
      live.requests[i] = count;
      live.requestsAt[i] = at;
    }
  }

  /** The records held (of name index `name` only, when given), described by name; with `now`, live ones only. */
  records(now?: number, name = -1): PersistRecord[] {
    const p = this.policy;
    return this.persistence.list((n) => p.names[n]!.name, (m) => ({ pool: p.members[m]!.pool.name, member: memberKey(p.members[m]!) }), now, name);
  }

  /** Records from other workers, nodes or the store. */
  applyRecords(records: readonly PersistRecord[]): number {
    const p = this.policy;
    return this.persistence.apply(records, (n) => nameIndexOf(p, n), (pool, member) => memberIndexOf(p, pool, member));
  }

  /** Persistence records changed since the last call, for the store and the other workers. */
  drainRecords(): PersistRecord[] {
    const p = this.policy;
    return this.persistence.drainDirty((n) => p.names[n]!.name, (m) => ({ pool: p.members[m]!.pool.name, member: memberKey(p.members[m]!) }));
  }

  /** Called per query before lookup; cheap (a few assignments). */
  setClient(peer: PeerAddress, q: Query | null): void {
    this.peer = peer;
    this.query = q;
    this.clientParsed = false;
    this.lastName = -1;
    this.lastPoolDecision = -1;
    this.lastMemberDecision = -1;
  }

  /** Count a decision (metrics hook; allocation-free). */
  private decide(decision: number, level: number): void {
    this.decided = decision;
    const t = this.tally;
    if (t !== null) t.decisions[decision * DECISION_LEVELS.length + level]!++;
  }

  private parseClient(): void {
    if (this.clientParsed) return;
    this.clientParsed = true;
    const c = this.ctx.client;
    const peer = this.peer;
    c.family = peer.resolve();
    const w = peer.w;
    c.words[0] = w[0]!; c.words[1] = w[1]!; c.words[2] = w[2]!; c.words[3] = w[3]!;
    const q = this.query;
    c.ecs = false;
    if (q !== null && q.ecs && q.ecsSource > 0) {
      c.ecs = true;
      c.ecsFamily = q.ecsFamily === ECS_FAMILY_IPV4 ? 4 : 6;
      c.ecsPrefix = q.ecsSource;
      const w = c.ecsWords;
      w[0] = 0; w[1] = 0; w[2] = 0; w[3] = 0;
      for (let i = 0; i < q.ecsAddrLen; i++) w[i >> 2] = (w[i >> 2]! | (q.ecsAddr[i]! << (24 - 8 * (i & 3)))) >>> 0;
    }
  }

  /**
   * Answer `name` for address family `family` into `res`, owned by node `ownerNode` of `ownerImg` (null: the
   * question name, as for names reached by a wildcard or asked directly). `zone` supplies the SOA
   * for negative answers.
   */
  answer(name: CompiledName, family: 4 | 6, ownerImg: ZoneImage | null, ownerNode: number, zone: Zone, res: Resolution): void {
    const ctx = this.ctx;
    this.ownerImg = ownerImg;
    this.ownerNode = ownerNode;
    this.parseClient();
    ctx.now = this.clock();
    ctx.name = name;
    ctx.family = family;
    ctx.usedSubnet = false;
    const trace = ctx.trace;
    res.aa = true;
    this.lastName = name.index;
    if (!name.hasFamily[family]) {
      // No member of this family at all: the name exists, the type does not (NODATA), whatever health says.
      trace?.add('family', `no IPv${family} members in pools ${name.pools.map((p) => p.name).join(', ')}: NODATA`);
      negativeSoa(res, zone);
      return;
    }
    const first = this.choose(name, family);
    if (first === null) {
      this.fallback(name, family, zone, res);
      return;
    }
    this.emit(name, first, res);
    // Multi-value answers: more members of the same pool, chosen by the same chain, each once.
    if (name.count > 1) {
      const live = this.live;
      live.excluded[first.index] = 1;
      let added = 1;
      while (added < name.count) {
        const c = this.members.set(ctx, first.pool);
        const j = this.runChain(first.pool.select, c, true);
        if (j < 0) break;
        const m = c.members[j]!;
        live.excluded[m.index] = 1;
        this.emit(name, m, res);
        added++;
      }
      // Clear the marks: the chosen members are exactly the answer entries just added.
      for (let k = res.answer.count - added; k < res.answer.count; k++) {
        const rr = res.answer.rrObj[k];
        for (const m of first.pool.members) if (memberRRset(name, m) === rr) live.excluded[m.index] = 0;
      }
    }
    if (ctx.usedSubnet) res.ecsScope = ctx.client.ecsPrefix;
  }

  private emit(name: CompiledName, m: CompiledMember, res: Resolution): void {
    res.answer.addRRset(this.ownerImg, this.ownerNode, memberRRset(name, m)!); // m is always one of the name's members here (see choose)
    this.live.countRequest(m.index, this.ctx.now);
    const t = this.tally;
    if (t !== null) t.answers[m.index]!++;
  }

  /** Persistence, then pool chain, then member chain. Null when nothing usable (the fallback decides). */
  private choose(name: CompiledName, family: 4 | 6): CompiledMember | null {
    const ctx = this.ctx;
    const trace = ctx.trace;
    const p = name.persistence;
    let key = -1;
    if (p !== null) {
      key = this.persistenceKey(p.key);
      if (key >= 0) {
        const slot = this.persistence.find(name.index, key, ctx.now);
        if (slot >= 0) {
          const m = this.policy.members[this.persistence.memberOf(slot)]!;
          // A record may outlive a configuration change that took its member's pool away from this name.
          if (m.family === family && m.enabled && this.live.sticky[m.index] === 1 && memberRRset(name, m) !== undefined) {
            this.persistence.hit(slot, ctx.now);
            if (this.tally !== null) this.tally.persistence[0]!++;
            this.decide(DECISION_PERSISTENCE, LEVEL_NAME);
            this.lastMemberDecision = DECISION_PERSISTENCE;
            trace?.add('persistence', `hit: ${this.persistence.keyTextOf(slot)} → ${memberKey(m)} in pool ${m.pool.name} (hits ${this.persistence.hitsOf(slot)})`);
            return m;
          }
          trace?.add('persistence', `record for ${this.persistence.keyTextOf(slot)} points to ${memberKey(m)}, which is not usable now: balancing anew`);
        } else {
          trace?.add('persistence', 'miss: no timely record; balancing');
        }
      }
      if (key >= 0 && this.tally !== null) this.tally.persistence[1]!++;
    }
    const pc = this.pools.set(ctx, name);
    if (trace) trace.add('pools', describe(pc));
    const i = this.runChain(name.select, pc, false);
    this.lastPoolDecision = i >= 0 ? this.decided : -1;
    if (i < 0) {
      trace?.add('pools', 'no method found a usable pool');
      return null;
    }
    const pool = name.pools[i]!;
    const mc = this.members.set(ctx, pool);
    if (trace) trace.add(`members of pool ${pool.name}`, describe(mc));
    const j = this.runChain(pool.select, mc, true);
    if (j < 0) {
      trace?.add('members', `pool ${pool.name} has no usable member`);
      return null;
    }
    this.lastMemberDecision = this.decided;
    const m = mc.members[j]!;
    if (p !== null && key >= 0) {
      const ttl = persistenceTtl(p, ctx.now);
      this.persistence.put(name.index, key, this.keyText(p.key), m.index, ctx.now, ttl);
      trace?.add('persistence', `recorded ${memberKey(m)} for ${this.keyText(p.key)} for ${ttl / 1000}s`);
    }
    return m;
  }

  /** Walk a chain; the first method with an answer decides. Member chains end with an implicit round robin. */
  private runChain(chain: readonly Method[], c: Candidates, implicitRoundRobin: boolean): number {
    const trace = this.ctx.trace;
    for (let k = 0; k < chain.length; k++) {
      const r = chain[k]!.pick(this.ctx, c);
      if (r >= 0) {
        trace?.add(chain[k]!.id, `chose ${c.label(r)}`);
        this.decide(METHOD_DECISION.get(chain[k]!) ?? DECISION_END_OF_CHAIN, implicitRoundRobin ? LEVEL_MEMBER : LEVEL_POOL);
        return r;
      }
      trace?.add(chain[k]!.id, 'nothing usable; next method');
    }
    if (!implicitRoundRobin) return -1;
    // Every member chain ends in "first available after a rotating counter", so a pool that is up always answers.
    const i = roundRobin.pick(this.ctx, c);
    if (i >= 0) {
      trace?.add('round-robin (end of chain)', `chose ${c.label(i)}`);
      this.decide(DECISION_END_OF_CHAIN, LEVEL_MEMBER);
    }
    return i;
  }

  private persistenceKey(kind: 'resolver' | 'subnet'): number {
    const c = this.ctx.client;
    const groups = this.policy.groups;
    if (kind === 'subnet' && c.ecs) return groups.subnetKey(c.ecsFamily, c.ecsWords, c.ecsPrefix);
    if (c.family === 0) return -1;
    if (c.ecs && this.ecsSeen !== null && this.ctx.trace === null) this.ecsSeen.see(addressKey(c.family, c.words), groups.subnetKey(c.ecsFamily, c.ecsWords, c.ecsPrefix), this.ecsText);
    return groups.key(c.family, c.words, this.observedGroups);
  }

  private keyText(kind: 'resolver' | 'subnet'): string {
    const c = this.ctx.client;
    if (kind === 'subnet' && c.ecs) return this.policy.groups.describe(c.ecsFamily, c.ecsWords, c.ecsPrefix);
    return this.policy.groups.describe(c.family as 4 | 6, c.words, undefined, this.observedGroups);
  }

  /** Resolvers grouped from ECS, as the supervisor last handed them out (ecs-groups.ts). */
  observedGroups: ObservedGroups = new Map();
  /** What this engine sees for that grouping, when it is on (resolverGrouping.ecs). */
  ecsSeen: EcsObservations | null = null;
  /** The texts of the pair just seen (made once, so a sighting allocates nothing). */
  private readonly ecsText = (which: 'resolver' | 'subnet'): string => {
    const c = this.ctx.client;
    return which === 'resolver' ? formatAddress(c.family as 4 | 6, c.words) : this.policy.groups.describe(c.ecsFamily, c.ecsWords, c.ecsPrefix);
  };

  private fallback(name: CompiledName, family: 4 | 6, zone: Zone, res: Resolution): void {
    const f = name.fallback;
    const trace = this.ctx.trace;
    this.decide(DECISION_FALLBACK, LEVEL_NAME);
    this.lastPoolDecision = -1;
    this.lastMemberDecision = DECISION_FALLBACK;
    switch (f.kind) {
      case 'address': {
        const rrset = f.rrsets[family];
        trace?.add('fallback', rrset ? `sorry address ${rrsetRecords(rrset, name.name).map((r) => String(r.data)).join(', ')}` : `no IPv${family} sorry address: NODATA`);
        if (rrset) res.answer.addRRset(this.ownerImg, this.ownerNode, rrset);
        else negativeSoa(res, zone);
        return;
      }
      case 'round-robin-ignore-health': {
        // Fail open: every enabled member of the family across the name's pools, in rotation, healthy or not.
        const all: CompiledMember[] = [];
        for (const p of name.pools) for (const m of familyMembers(p, family)) if (m.enabled) all.push(m);
        if (all.length === 0) {
          trace?.add('fallback', 'round robin ignoring health: no enabled member; NODATA');
          negativeSoa(res, zone);
          return;
        }
        const slot = fallbackCounter(this.policy, name.index);
        const n = this.live.counter[slot]!;
        this.live.counter[slot] = (n + 1) >>> 0;
        const m = all[n % all.length]!;
        trace?.add('fallback', `round robin ignoring health: ${memberKey(m)}`);
        this.emit(name, m, res);
        return;
      }
      case 'rcode':
        trace?.add('fallback', `answer ${Object.entries(RCODE).find(([, v]) => v === f.rcode)?.[0] ?? f.rcode}`);
        res.rcode = f.rcode;
        res.aa = f.rcode === RCODE.NXDOMAIN;
        if (f.rcode === RCODE.NXDOMAIN) negativeSoa(res, zone);
        return;
      case 'nodata':
        trace?.add('fallback', 'NODATA (fail closed)');
        negativeSoa(res, zone);
        return;
    }
  }

  /**
   * Take over `src`'s live state (health, admin states, counters, stripe marks, smooth-weight accumulators, request
   * counts) and its persistence records of policy name `name`: a scratch engine that answers as `src`'s next query
   * would, for explain. `src` must run the same policy.
   */
  copyStateFrom(src: AnswerEngine, name: string): void {
    if (src.policy !== this.policy) throw new RangeError('engine state copy: the engines run different policies');
    this.live.copyFrom(src.live);
    this.observedGroups = src.observedGroups;
    const p = src.policy;
    // Not a policy name (or no domain name at all): nothing of it to copy (explain reports the name itself).
    const n = nameIndexOf(p, name);
    if (n < 0) return;
    this.applyRecords(src.records(this.clock(), n));
  }

  /** Run a decision with a trace: what `waymark explain` and the API show. */
  explain(run: () => void): Trace {
    const trace = new Trace();
    this.ctx.trace = trace;
    try {
      run();
    } finally {
      this.ctx.trace = null;
    }
    return trace;
  }
}

/** The negative-answer SOA of `zone` in the authority section (RFC 2308 §3). */
function negativeSoa(res: Resolution, zone: Zone): void {
  const img = zone.top;
  res.authority.add(img, APEX, img, img.negativeSoa);
}

/** The answer RRset of member `m` for `name`, or undefined when m's pool is not one of the name's (few) pools. */
function memberRRset(name: CompiledName, m: CompiledMember): RRset | undefined {
  const pools = name.pools;
  for (let k = 0; k < pools.length; k++) if (pools[k] === m.pool) return name.poolRRsets[k]![m.slot];
  return undefined;
}

function describe(c: Candidates): string {
  const parts: string[] = [];
  for (let i = 0; i < c.count; i++) {
    let metrics = '';
    for (let k = 0; k < METRICS.length; k++) {
      const v = c.metric(i, k);
      if (v === v) metrics += `, ${METRICS[k]} ${v}`;
    }
    parts.push(`${c.label(i)} [${c.available(i) ? 'up' : 'down'}, weight ${c.weight(i)}${metrics}]`);
  }
  return parts.length > 0 ? parts.join('; ') : '(none of this family)';
}
