// The worker side of metrics (SPEC C3): plain counters in flat typed arrays that the query path bumps, and the
// plain-JSON delta a worker ships to the supervisor once a second (registry.ts turns deltas into Prometheus metrics).
// Owns: the label buckets (qtype, rcode, latency) and the tables sized from the snapshot. The count methods never
// allocate and never call prom-client; label strings are made only in snapshotAndReset() and on snapshot change.
import type { BatchStats } from '../dns/udp-batch.js';
import { TYPE, RCODE } from '../wire/types.js';
import { memberKey } from '../answer/compile.js';
import type { CompiledMember, CompiledName } from '../answer/policy.js';
import { DECISION_LABELS, DECISION_LEVELS, type EngineTally } from '../answer/engine.js';
import type { Snapshot } from '../answer/snapshot.js';
import type { Zone } from '../dns/zone.js';
import type { ResponderCounters } from '../dns/responder.js';

/** Question types with a series of their own; everything else is "other". */
export const QTYPE_LABELS = ['A', 'AAAA', 'NS', 'SOA', 'MX', 'TXT', 'SRV', 'CNAME', 'PTR', 'CAA', 'ANY', 'other'] as const;
/** Response codes with a series of their own (16 = BADVERS, RFC 6891); everything else is "other". */
export const RCODE_LABELS = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'BADVERS', 'other'] as const;
/** Upper bounds of the answer latency buckets, in microseconds; a last bucket (+Inf) follows. */
export const LATENCY_BUCKETS_US: readonly number[] = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500];
/** The zone label of messages outside every served zone (REFUSED) or without a usable question (FORMERR…). */
export const NO_ZONE = '(none)';

const QTYPES = QTYPE_LABELS.length;
const RCODES = RCODE_LABELS.length;
const QTYPE_OTHER = QTYPES - 1;
const RCODE_BADVERS = 6;
const RCODE_OTHER = RCODES - 1;
const LATENCY_SLOTS = LATENCY_BUCKETS_US.length + 1;
/** Bucket bounds in milliseconds (performance.now() units). */
const LATENCY_BOUNDS_MS = new Float64Array(LATENCY_BUCKETS_US.map((us) => us / 1000));

/** qtype → QTYPE_LABELS index, for every 16-bit type. */
const QTYPE_BUCKET = (() => {
  const t = new Uint8Array(65536).fill(QTYPE_OTHER);
  QTYPE_LABELS.forEach((label, i) => {
    const code = (TYPE as Record<string, number>)[label];
    if (code !== undefined) t[code] = i;
  });
  return t;
})();

function rcodeBucket(rcode: number): number {
  if (rcode >= 0 && rcode <= RCODE.REFUSED) return rcode;
  return rcode === RCODE.BADVERS ? RCODE_BADVERS : RCODE_OTHER;
}

/**
 * What one worker counted since its last delta, keyed by label values (only non-zero cells). Plain JSON: it crosses
 * the cluster IPC channel. Latency buckets are per bucket (not cumulative), in LATENCY_BUCKETS_US order, then +Inf.
 */
export interface CounterDelta {
  queries: Array<[zone: string, qtype: string, rcode: string, n: number]>;
  names: Array<[name: string, rcode: string, n: number]>;
  decisions: Array<[level: string, method: string, n: number]>;
  persistence: { hit: number; miss: number };
  answers: Array<[pool: string, member: string, n: number]>;
  latency: { buckets: number[]; sumSeconds: number };
  rrl: { passed: number; dropped: number; slipped: number };
  /** Batched UDP transport (zero with node:dgram). */
  udp: { batches: number; datagrams: number; oversize: number; sendErrors: number };
  messages: { fast: number; general: number; dropped: number; errors: number };
}

export function emptyDelta(): CounterDelta {
  return {
    queries: [], names: [], decisions: [], persistence: { hit: 0, miss: 0 }, answers: [],
    latency: { buckets: new Array<number>(LATENCY_SLOTS).fill(0), sumSeconds: 0 },
    rrl: { passed: 0, dropped: 0, slipped: 0 }, udp: { batches: 0, datagrams: 0, oversize: 0, sendErrors: 0 }, messages: { fast: 0, general: 0, dropped: 0, errors: 0 },
  };
}

/** The cumulative statistics of a ResponseRateLimiter (its `stats`). */
export interface RrlStats { readonly passed: number; readonly dropped: number; readonly slipped: number }

/** Counts of one worker's query path. Owned by the Responder; one per worker. */
export class QueryCounters {
  /** Zone × qtype bucket × rcode bucket; the last zone row is NO_ZONE. */
  private zoneTable = new Uint32Array(QTYPES * RCODES);
  /** Policy name × rcode bucket. */
  private nameTable = new Uint32Array(0);
  private readonly latency = new Float64Array(LATENCY_SLOTS);
  private latencySumMs = 0;
  /** Filled by the answer engine (decisions, persistence, answers per member): see AnswerEngine.tally. */
  readonly tally: EngineTally = {
    decisions: new Uint32Array(DECISION_LABELS.length * DECISION_LEVELS.length),
    persistence: new Uint32Array(2),
    answers: new Uint32Array(0),
  };
  /** The worker's rate limiter statistics, when it has one (read as deltas in snapshotAndReset). */
  rrl: RrlStats | null = null;
  /** Reads the worker's batched UDP counters (native, so read when a delta is made, not per query). */
  udp: (() => BatchStats) | null = null;

  private zoneIndex = new Map<Zone, number>();
  private zoneLabels: string[] = [NO_ZONE];
  /** The policy names counted (their names are the labels). */
  private names: readonly CompiledName[] = [];
  /** The members answers are counted for (labelled only when a delta names them: a label pair per member was ~130 bytes a name). */
  private members: readonly CompiledMember[] = [];
  private lastZone: Zone | null = null;
  private lastZoneRow = 0;
  /** Counts of a previous snapshot's tables, kept by label until the next delta. */
  private carry: CounterDelta | null = null;
  private readonly seen = { fast: 0, general: 0, dropped: 0, errors: 0, passed: 0, rrlDropped: 0, slipped: 0, batches: 0, packets: 0, truncated: 0, sendErrors: 0 };

  constructor(private readonly messages: ResponderCounters) {}

  /** Size the tables for a new snapshot; counts made under the old one are kept by label. */
  setSnapshot(snapshot: Snapshot): void {
    if (this.sameLabels(snapshot)) {
      // The same zones (some over new layers) and the same policy: the tables stay, only the zone objects change.
      this.zoneIndex = new Map(snapshot.zones.map((z, i) => [z, i]));
      this.lastZone = null;
      return;
    }
    if (this.zoneLabels.length > 1 || this.names.length > 0 || this.members.length > 0) {
      this.carry = this.collect(this.carry ?? emptyDelta(), false);
    }
    const zones = snapshot.zones;
    this.zoneIndex = new Map(zones.map((z, i) => [z, i]));
    this.zoneLabels = [...zones.map((z) => z.origin), NO_ZONE];
    this.zoneTable = new Uint32Array(this.zoneLabels.length * QTYPES * RCODES);
    this.lastZone = null;
    this.lastZoneRow = zones.length;
    const policy = snapshot.policy;
    this.names = policy ? policy.names : [];
    this.nameTable = new Uint32Array(this.names.length * RCODES);
    this.members = policy ? policy.members : [];
    this.tally.answers = new Uint32Array(this.members.length);
  }

  /** True when `snapshot` counts under the labels the tables have: its zones' origins in order, the same policy. */
  private sameLabels(snapshot: Snapshot): boolean {
    const zones = snapshot.zones;
    if (zones.length !== this.zoneLabels.length - 1) return false;
    if ((snapshot.policy?.names ?? []) !== this.names || (snapshot.policy?.members ?? []) !== this.members) return false;
    for (let i = 0; i < zones.length; i++) if (zones[i]!.origin !== this.zoneLabels[i]) return false;
    return zones.length > 0 || this.names.length > 0;
  }

  /**
   * Count one response: the zone that answered (null: none), question type, response code, the policy name whose
   * engine answered (-1: none) and the time it took in milliseconds. Allocation-free.
   */
  count(zone: Zone | null, qtype: number, rcode: number, name: number, ms: number): void {
    let row: number;
    if (zone === this.lastZone) row = this.lastZoneRow;
    else {
      row = zone === null ? this.zoneLabels.length - 1 : this.zoneIndex.get(zone) ?? this.zoneLabels.length - 1;
      this.lastZone = zone;
      this.lastZoneRow = row;
    }
    const r = rcodeBucket(rcode);
    this.zoneTable[(row * QTYPES + QTYPE_BUCKET[qtype & 0xffff]!) * RCODES + r]!++;
    if (name >= 0 && name < this.names.length) this.nameTable[name * RCODES + r]!++;
    const bounds = LATENCY_BOUNDS_MS;
    let b = 0;
    while (b < bounds.length && ms > bounds[b]!) b++;
    this.latency[b]!++;
    this.latencySumMs += ms;
  }

  /** Everything counted since the last call (only non-zero cells), as plain JSON; the counters restart from zero. */
  snapshotAndReset(): CounterDelta {
    const d = this.collect(this.carry ?? emptyDelta(), true);
    this.carry = null;
    const m = this.messages;
    const s = this.seen;
    d.messages.fast += m.fast - s.fast;
    d.messages.general += m.general - s.general;
    d.messages.dropped += m.dropped - s.dropped;
    d.messages.errors += m.errors - s.errors;
    s.fast = m.fast; s.general = m.general; s.dropped = m.dropped; s.errors = m.errors;
    const rrl = this.rrl;
    if (rrl !== null) {
      d.rrl.passed += rrl.passed - s.passed;
      d.rrl.dropped += rrl.dropped - s.rrlDropped;
      d.rrl.slipped += rrl.slipped - s.slipped;
      s.passed = rrl.passed; s.rrlDropped = rrl.dropped; s.slipped = rrl.slipped;
    }
    if (this.udp !== null) {
      const u = this.udp();
      d.udp.batches += u.batches - s.batches;
      d.udp.datagrams += u.packets - s.packets;
      d.udp.oversize += u.truncated - s.truncated;
      d.udp.sendErrors += u.sendErrors - s.sendErrors;
      s.batches = u.batches; s.packets = u.packets; s.truncated = u.truncated; s.sendErrors = u.sendErrors;
    }
    return d;
  }

  /** Add the tables into `d` by label and zero them (latency too when `latency`; it has no snapshot-sized table). */
  private collect(d: CounterDelta, latency: boolean): CounterDelta {
    const zt = this.zoneTable;
    for (let i = 0; i < zt.length; i++) {
      const n = zt[i]!;
      if (n === 0) continue;
      const r = i % RCODES;
      const q = ((i - r) / RCODES) % QTYPES;
      const z = Math.floor(i / (RCODES * QTYPES));
      d.queries.push([this.zoneLabels[z]!, QTYPE_LABELS[q]!, RCODE_LABELS[r]!, n]);
    }
    zt.fill(0);
    const nt = this.nameTable;
    for (let i = 0; i < nt.length; i++) {
      if (nt[i] !== 0) d.names.push([this.names[Math.floor(i / RCODES)]!.name, RCODE_LABELS[i % RCODES]!, nt[i]!]);
    }
    nt.fill(0);
    const t = this.tally;
    const levels = DECISION_LEVELS.length;
    for (let i = 0; i < t.decisions.length; i++) {
      const n = t.decisions[i]!;
      if (n !== 0) d.decisions.push([DECISION_LEVELS[i % levels]!, DECISION_LABELS[Math.floor(i / levels)]!, n]);
    }
    t.decisions.fill(0);
    d.persistence.hit += t.persistence[0]!;
    d.persistence.miss += t.persistence[1]!;
    t.persistence.fill(0);
    for (let i = 0; i < t.answers.length; i++) {
      const n = t.answers[i]!;
      if (n !== 0) d.answers.push([this.members[i]!.pool.name, memberKey(this.members[i]!), n]);
    }
    t.answers.fill(0);
    if (latency) {
      for (let b = 0; b < LATENCY_SLOTS; b++) d.latency.buckets[b]! += this.latency[b]!;
      d.latency.sumSeconds += this.latencySumMs / 1000;
      this.latency.fill(0);
      this.latencySumMs = 0;
    }
    return d;
  }
}
