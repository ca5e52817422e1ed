// The supervisor side of metrics (SPEC C3): adds every worker's counter deltas into one prom-client registry,
// reads health, probers and worker count when scraped, and keeps an hour of per-name and per-member rates for the
// dashboard. Owns: the metric names and the Prometheus exposition. Never runs in a worker or on the query path.
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { LATENCY_BUCKETS_US, type CounterDelta } from './counters.js';
import type { MemberHealth } from '../health/verdict.js';
import type { ProberStatus } from '../health/distributor.js';

/** What the aggregator reads from the health service at scrape time (HealthService has these). */
export interface HealthSource {
  health(): MemberHealth[];
  history(): ReadonlyArray<{ at: number; pool: string; member: string; up: boolean; detail: string }>;
  probers(): ProberStatus[];
}

export interface MetricsSources {
  health?: () => HealthSource | null;
  workers?: () => number;
  /** The store as this node sees it (null without a store). */
  store?: () => { state: 'ok' | 'degraded'; queued: number; lag: number } | null;
}

/** Rates for the dashboard: one value per STEP seconds, oldest first, the last completed step last. */
export interface Series {
  names: Record<string, number[]>;
  members: Record<string, number[]>;
  step: number;
}

const STEP_MS = 10_000;
/** One hour of steps. */
const STEPS = 360;
const PROBER_STATES = ['active', 'full', 'draining', 'dead'] as const;

/**
 * An hour of per-key rates at STEP_MS resolution: counts added during a step become count/step seconds when the step
 * ends. A key with nothing for a whole hour is forgotten.
 */
class RateRings {
  private readonly rings = new Map<string, { values: Float64Array; lastStep: number }>();
  private readonly pending = new Map<string, number>();

  add(key: string, n: number): void {
    this.pending.set(key, (this.pending.get(key) ?? 0) + n);
  }

  /** Close step number `step` (written at slot step % STEPS). */
  close(step: number): void {
    const slot = step % STEPS;
    for (const [key, ring] of this.rings) {
      ring.values[slot] = 0;
      if (step - ring.lastStep >= STEPS) this.rings.delete(key);
    }
    for (const [key, n] of this.pending) {
      let ring = this.rings.get(key);
      if (!ring) {
        ring = { values: new Float64Array(STEPS), lastStep: step };
        this.rings.set(key, ring);
      }
      ring.values[slot] = n / (STEP_MS / 1000);
      ring.lastStep = step;
    }
    this.pending.clear();
  }

  /** Oldest to newest over the `count` steps ending with `last`. */
  read(last: number, count: number): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const [key, ring] of this.rings) {
      const a = new Array<number>(count);
      for (let i = 0; i < count; i++) a[i] = ring.values[(last - count + 1 + i) % STEPS]!;
      out[key] = a;
    }
    return out;
  }
}

/** Prometheus "le" text of a bucket bound in seconds. */
function le(us: number): string {
  return String(us / 1e6);
}

/**
 * A histogram exposed from bucket counts added up elsewhere (the workers): prom-client's Histogram only takes
 * observations, and observing bucket midpoints would misstate _sum. Shaped like prom-client's own metric objects,
 * so the registry writes the standard `_bucket{le}`, `_sum`, `_count` lines under one `# TYPE … histogram`.
 */
class AggregatedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly counts: number[];
  private sum = 0;

  constructor(readonly name: string, readonly help: string, private readonly boundsUs: readonly number[]) {
    this.counts = new Array<number>(boundsUs.length + 1).fill(0);
  }

  /** Per-bucket (not cumulative) counts in bound order, then the +Inf bucket; sum in seconds. */
  add(buckets: readonly number[], sumSeconds: number): void {
    for (let b = 0; b < this.counts.length; b++) {
      const n = buckets[b];
      if (typeof n === 'number' && Number.isFinite(n) && n > 0) this.counts[b]! += n;
    }
    if (Number.isFinite(sumSeconds) && sumSeconds > 0) this.sum += sumSeconds;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: Array<{ metricName: string; labels: Record<string, string>; value: number }> } {
    const values: Array<{ metricName: string; labels: Record<string, string>; value: number }> = [];
    let cumulative = 0;
    for (let b = 0; b < this.counts.length; b++) {
      cumulative += this.counts[b]!;
      values.push({ metricName: `${this.name}_bucket`, labels: { le: b < this.boundsUs.length ? le(this.boundsUs[b]!) : '+Inf' }, value: cumulative });
    }
    values.push({ metricName: `${this.name}_sum`, labels: {}, value: this.sum });
    values.push({ metricName: `${this.name}_count`, labels: {}, value: cumulative });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
  }
}

function count(n: unknown): number {
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0;
}

/** Add a delta's named counts to a counter with one label: { labelValue: count }. */
function incEach<L extends string>(counter: Counter<L>, label: L, counts: Record<string, unknown>): void {
  for (const [value, n] of Object.entries(counts)) counter.inc({ [label]: value } as Partial<Record<L, string>>, count(n));
}

export class MetricsAggregator {
  readonly registry = new Registry();
  readonly contentType: string = this.registry.contentType;
  private sources: MetricsSources = {};
  private readonly clock: () => number;

  private readonly queries: Counter<'zone' | 'qtype' | 'rcode'>;
  private readonly nameQueries: Counter<'name' | 'rcode'>;
  private readonly decisions: Counter<'level' | 'method'>;
  private readonly persistence: Counter<'result'>;
  private readonly memberAnswers: Counter<'pool' | 'member'>;
  private readonly latency: AggregatedHistogram;
  private readonly rrl: Counter<'action'>;
  private readonly messages: Counter<'path'>;
  private readonly workerResponses: Counter<'worker'>;
  private readonly udp: Counter<'event'>;
  private readonly verdictChanges: Counter<'pool' | 'member' | 'to'>;

  /** The last history entry counted into verdictChanges (entries are appended objects; the book keeps 1000). */
  private lastChange: object | null = null;
  private readonly nameRates = new RateRings();
  private readonly memberRates = new RateRings();
  /** Number of the step in progress (time / STEP_MS) and of completed steps so far (at most STEPS are kept). */
  private step: number;
  private completed = 0;

  constructor(opts: { defaultMetrics?: boolean; clock?: () => number } = {}) {
    this.clock = opts.clock ?? Date.now;
    this.step = Math.floor(this.clock() / STEP_MS);
    const registers = [this.registry];
    this.queries = new Counter({ name: 'waymark_queries_total', help: 'DNS responses (before rate limiting) by zone, question type and response code, from all workers.', labelNames: ['zone', 'qtype', 'rcode'], registers });
    this.nameQueries = new Counter({ name: 'waymark_name_queries_total', help: 'Responses for policy names, by name and response code.', labelNames: ['name', 'rcode'], registers });
    this.decisions = new Counter({ name: 'waymark_decisions_total', help: 'Load-balancing decisions by what decided (method, persistence, fallback) and what it chose (name, pool, member).', labelNames: ['level', 'method'], registers });
    this.persistence = new Counter({ name: 'waymark_persistence_total', help: 'Persistence lookups: a timely usable record (hit) or not (miss).', labelNames: ['result'], registers });
    this.memberAnswers = new Counter({ name: 'waymark_member_answers_total', help: 'Answers given with each member.', labelNames: ['pool', 'member'], registers });
    this.latency = new AggregatedHistogram('waymark_answer_latency_seconds', 'Time from receiving a DNS message to its response being ready, in seconds.', LATENCY_BUCKETS_US);
    // prom-client's Registry accepts any object shaped like its metrics; its typings list only its own classes.
    this.registry.registerMetric(this.latency as unknown as Metric);
    this.rrl = new Counter({ name: 'waymark_rrl_responses_total', help: 'UDP responses seen by response rate limiting, by action (passed, dropped, slipped).', labelNames: ['action'], registers });
    this.messages = new Counter({ name: 'waymark_responder_messages_total', help: 'DNS messages by responder path: fast parser, general codec, dropped without answer, internal error.', labelNames: ['path'], registers });
    this.workerResponses = new Counter({ name: 'waymark_worker_responses_total', help: 'DNS responses by the worker that gave them (the supervisor\'s number for it; a replaced worker gets a new one): how the kernel spreads queries over workers.', labelNames: ['worker'], registers });
    this.udp = new Counter({ name: 'waymark_udp_io_total', help: 'Batched UDP transport: recvmmsg batches, datagrams received, datagrams dropped for exceeding 4096 bytes, responses the kernel refused to send (send_error).', labelNames: ['event'], registers });
    this.verdictChanges = new Counter({ name: 'waymark_health_verdict_changes_total', help: 'Member health verdict changes (flaps), by the verdict changed to.', labelNames: ['pool', 'member', 'to'], registers });
    const self = this;
    new Gauge({
      name: 'waymark_member_up', help: 'Member health verdict: 1 up, 0 down.', labelNames: ['pool', 'member'], registers,
      collect(): void {
        this.reset();
        for (const h of self.health()?.health() ?? []) this.set({ pool: h.pool, member: h.member }, h.up ? 1 : 0);
      },
    });
    new Gauge({
      name: 'waymark_probers', help: 'Probers by state.', labelNames: ['state'], registers,
      collect(): void {
        const source = self.health();
        this.reset();
        if (source === null) return;
        const counts = new Map<string, number>(PROBER_STATES.map((s) => [s, 0]));
        for (const p of source.probers()) counts.set(p.state, (counts.get(p.state) ?? 0) + 1);
        for (const [state, n] of counts) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'waymark_workers', help: 'DNS worker processes ready.', registers,
      collect(): void {
        this.set(self.sources.workers?.() ?? 0);
      },
    });
    // The store as this node sees it: one gauge per field, absent without a store.
    const storeGauge = (name: string, help: string, value: (st: NonNullable<ReturnType<NonNullable<MetricsSources['store']>>>) => number): void => {
      new Gauge({
        name, help, registers,
        collect(): void {
          this.reset();
          const st = self.sources.store?.();
          if (st) this.set(value(st));
        },
      });
    };
    storeGauge('waymark_store_up', 'The store answers (1), or this node serves from memory while it cannot be reached (0, degraded).', (st) => (st.state === 'ok' ? 1 : 0));
    storeGauge('waymark_store_queued_records', 'Persistence records waiting to be written to the store.', (st) => st.queued);
    storeGauge('waymark_feed_lag', 'Changes in the store\'s feed this node has not applied yet (as of its last read).', (st) => st.lag);
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  setSources(sources: MetricsSources): void {
    this.sources = sources;
  }

  /** Add one worker's delta (from its QueryCounters.snapshotAndReset()); `worker`: the supervisor's number for it. */
  add(delta: CounterDelta, worker?: number): void {
    this.advance();
    let responses = 0;
    for (const [zone, qtype, rcode, n] of delta.queries ?? []) {
      if (count(n) === 0) continue;
      this.queries.inc({ zone, qtype, rcode }, n);
      responses += n;
    }
    if (worker !== undefined && responses > 0) this.workerResponses.inc({ worker: String(worker) }, responses);
    for (const [name, rcode, n] of delta.names ?? []) {
      if (count(n) === 0) continue;
      this.nameQueries.inc({ name, rcode }, n);
      this.nameRates.add(name, n);
    }
    for (const [level, method, n] of delta.decisions ?? []) if (count(n) > 0) this.decisions.inc({ level, method }, n);
    const p = delta.persistence;
    if (p) {
      this.persistence.inc({ result: 'hit' }, count(p.hit));
      this.persistence.inc({ result: 'miss' }, count(p.miss));
    }
    for (const [pool, member, n] of delta.answers ?? []) {
      if (count(n) === 0) continue;
      this.memberAnswers.inc({ pool, member }, n);
      this.memberRates.add(`${pool}/${member}`, n);
    }
    if (delta.latency) this.latency.add(delta.latency.buckets ?? [], delta.latency.sumSeconds);
    const r = delta.rrl;
    if (r) incEach(this.rrl, 'action', { passed: r.passed, dropped: r.dropped, slipped: r.slipped });
    const u = delta.udp;
    if (u) incEach(this.udp, 'event', { batch: u.batches, datagram: u.datagrams, oversize: u.oversize, send_error: u.sendErrors });
    const m = delta.messages;
    if (m) incEach(this.messages, 'path', { fast: m.fast, general: m.general, dropped: m.dropped, error: m.errors });
  }

  /** The Prometheus text exposition (content type `contentType`). */
  async metrics(): Promise<string> {
    this.countVerdictChanges();
    return this.registry.metrics();
  }

  /** Per-name queries/s and per-member ("pool/member") answers/s over the last hour, for the dashboard. */
  series(): Series {
    this.advance();
    const last = this.step - 1;
    return { names: this.nameRates.read(last, this.completed), members: this.memberRates.read(last, this.completed), step: STEP_MS / 1000 };
  }

  private health(): HealthSource | null {
    return this.sources.health?.() ?? null;
  }

  /** Close the steps that have ended (a long gap closes at most an hour of empty steps). */
  private advance(): void {
    const now = Math.floor(this.clock() / STEP_MS);
    if (now - this.step > STEPS) {
      this.nameRates.close(this.step);
      this.memberRates.close(this.step);
      this.step = now - STEPS;
    }
    while (this.step < now) {
      this.nameRates.close(this.step);
      this.memberRates.close(this.step);
      this.step++;
      if (this.completed < STEPS) this.completed++;
    }
  }

  /** Count history entries appended since the last call. */
  private countVerdictChanges(): void {
    const history = this.health()?.history();
    if (!history || history.length === 0) return;
    let start = 0;
    if (this.lastChange !== null) {
      const i = history.lastIndexOf(this.lastChange as (typeof history)[number]);
      // Not found: more than the book keeps changed since; count what is there.
      start = i >= 0 ? i + 1 : 0;
    }
    for (let i = start; i < history.length; i++) {
      const h = history[i]!;
      this.verdictChanges.inc({ pool: h.pool, member: h.member, to: h.up ? 'up' : 'down' });
    }
    this.lastChange = history[history.length - 1]!;
  }
}
