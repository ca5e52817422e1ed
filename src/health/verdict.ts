// Verdicts (SPEC H1–H4): probe results from every prober → damped per-prober states → a quorum per check →
// a member verdict by the pool's rule (all / at least N), plus the member metrics probes measure (RTT, loss) and
// agents report (connections, CPU, load, weight, drain).
// Owns: the health truth of the supervisor. Pure bookkeeping: no timers, no I/O (callers pass `now`).
import type { Config } from '../config/schema.js';
import type { ProbeReport } from './prober.js';
import type { CheckTarget } from './targets.js';
import { poolMonitorNames } from './targets.js';
import { memberKey } from '../answer/compile.js';

/** What the workers need to know about one member. */
export interface MemberHealth {
  pool: string;
  member: string;
  /** Monitor verdict (true when the member has no monitors). */
  up: boolean;
  /** The member's agent asked to be drained: no new answers, existing persistence kept. */
  drain: boolean;
  /** Agent weight:NN% as a factor (1 = configured weight). */
  weightScale: number;
  /** Measured or reported metrics (absent = keep the configured value). */
  metrics: { rtt?: number; 'packet-loss'?: number; connections?: number; cpu?: number; 'reported-load'?: number };
  /** Why, for operators: the last decisive probe detail. */
  detail: string;
  /** When the verdict last changed (epoch ms). */
  since: number;
}

/** A probe result seen by one prober for one check, damped by rise/fall (like HAProxy and gdnsd). */
interface ProberView {
  up: boolean;
  /** Consecutive results disagreeing with `up`. */
  streak: number;
  lastAt: number;
  detail: string;
}

interface CheckState {
  target: CheckTarget;
  views: Map<string, ProberView>;
  up: boolean;
  /** Last results of any prober, newest last (for packet loss). */
  recent: boolean[];
  /** The member this check is of (set by configure). */
  member: MemberState | null;
}

interface MemberState {
  health: MemberHealth;
  checks: readonly CheckState[];
  rule: 'all' | { atLeast: number };
  rtt: number;
  /** Verdict, drain or weight changed: workers must hear at once. */
  changed: boolean;
  /** Only metrics moved: workers hear with the next batch. */
  metricsChanged: boolean;
  /** In HealthBook's list of members to report (so each is listed once). */
  listed: boolean;
}

/**
 * A pool's members as the last configure() left them: the states of a monitored pool's members, null for a pool
 * without monitors (see unmonitored()); `since`: when its configuration last changed.
 */
interface PoolEntry { config: Config['pools'][number]; states: MemberState[] | null; kept: number; since: number }

/** The health of a member of a pool without monitors: always this (nothing measures or judges it). */
function unmonitored(pool: string, member: string, since: number): MemberHealth {
  return { pool, member, up: true, drain: false, weightScale: 1, metrics: NO_MEASUREMENTS, detail: 'no monitor', since };
}

/** The checks of a member without monitors: shared, never written. */
const NO_CHECKS: readonly CheckState[] = [];
/** The metrics of a member nothing measured yet: shared, replaced by its own object on the first value (setMetric). */
const NO_MEASUREMENTS: MemberHealth['metrics'] = Object.freeze({});

/**
 * True when `h` is what a worker assumes of a member it has heard nothing about (a new LiveState): up, not drained,
 * full weight, configured metrics. Members without monitors stay so: at a hundred thousand names, reporting (and
 * logging) each of them at every start was seconds of work and hundreds of thousands of log lines.
 */
export function isDefaultHealth(h: MemberHealth): boolean {
  if (!h.up || h.drain || h.weightScale !== 1) return false;
  if (h.metrics === NO_MEASUREMENTS) return true; // the common case, without a for-in (a fifth of a configure)
  for (const _ in h.metrics) return false;
  return true;
}

const LOSS_WINDOW = 20;
const RTT_ALPHA = 0.3;
/** A prober's view counts toward the quorum while its last result is younger than this many intervals. */
const FRESH_INTERVALS = 3;

export class HealthBook {
  private checks = new Map<string, CheckState>();
  /** The members with checks: the only ones whose verdict time can change (expire). */
  private monitored: MemberState[] = [];
  /** Members with something to report (changed or metricsChanged), each once; `urgent` counts the changed ones. */
  private pending: MemberState[] = [];
  private changedCount = 0;
  private quorum: number | undefined;
  /** Verdict transitions, for logs and `status` (bounded). */
  readonly history: Array<{ at: number; pool: string; member: string; up: boolean; detail: string }> = [];

  constructor(config: Config, targets: readonly CheckTarget[], now: number) {
    this.configure(config, targets, now);
  }

  /** (Re)load configuration: state of checks and members that still exist is kept. */
  configure(config: Config, targets: readonly CheckTarget[], now: number): void {
    this.quorum = config.health.quorum;
    const checks = new Map<string, CheckState>();
    for (const t of targets) {
      const old = this.checks.get(t.id);
      checks.set(t.id, old ? { ...old, target: t, member: null } : { target: t, views: new Map(), up: true, recent: [], member: null });
    }
    // A member's checks, by member (one pass: scanning every check for every member was quadratic).
    const byMember = new Map<string, CheckState[]>();
    for (const c of checks.values()) {
      const key = `${c.target.pool}/${c.target.member}`;
      const list = byMember.get(key);
      if (list) list.push(c);
      else byMember.set(key, [c]);
    }
    const monitoredMembers: MemberState[] = [];
    const evaluated: MemberState[] = [];
    const before = this.pending;
    const epoch = ++this.epoch;
    this.pending = [];
    this.changedCount = 0;
    for (const pool of config.pools) {
      const monitored = poolMonitorNames(pool).length > 0;
      const prev = this.byPool.get(pool.name);
      if (!monitored && prev !== undefined && prev.config === pool) {
        // The same pool without monitors (most pools of a large configuration, on an edit of one): kept as it is.
        prev.kept = epoch;
        continue;
      }
      if (!monitored && !(prev?.states ?? []).some((st) => !isDefaultHealth(st.health) || st.changed || st.metricsChanged)) {
        // A pool without monitors keeps no state per member: they are up, undrained, at full weight and unmeasured
        // (most pools of a large configuration: 40 MB at 200,000 members). Members that had monitors and were not
        // so (down, or measured) keep their states instead, below.
        this.byPool.set(pool.name, { config: pool, states: null, kept: 0, since: now });
        continue;
      }
      const olds = new Map((prev?.states ?? []).map((st) => [st.health.member, st]));
      const states: MemberState[] = [];
      for (const m of pool.members) {
        const member = memberKey(m);
        const old = olds.get(member);
        const own = monitored ? byMember.get(`${pool.name}/${member}`) ?? NO_CHECKS : NO_CHECKS;
        const health = old?.health ?? { pool: pool.name, member, up: true, drain: false, weightScale: 1, metrics: NO_MEASUREMENTS, detail: monitored ? 'not checked yet' : 'no monitor', since: now };
        const state: MemberState = { health, checks: own, rule: pool.rule, rtt: old?.rtt ?? NaN, changed: false, metricsChanged: false, listed: false };
        states.push(state);
        evaluated.push(state);
        for (const c of own) c.member = state;
        if (own.length > 0) monitoredMembers.push(state);
        // Reported after a (re)load: every monitored member (its verdict starts or goes on), any other member
        // workers may not assume (it was down, drained, weighted or measured), and any change not yet reported.
        if (monitored || !isDefaultHealth(health) || old?.changed || old?.metricsChanged) this.markChanged(state);
      }
      this.byPool.set(pool.name, { config: pool, states, kept: 0, since: prev?.since ?? now });
    }
    // What a kept pool had still to report is reported still.
    for (const st of before) {
      if (this.byPool.get(st.health.pool)?.kept !== epoch) continue;
      st.listed = false;
      if (st.changed) { st.changed = false; this.markChanged(st); } else if (st.metricsChanged) this.list(st);
    }
    // Pools taken out (or named twice) leave entries behind.
    if (this.byPool.size !== config.pools.length) {
      const names = new Set(config.pools.map((pool) => pool.name));
      for (const name of this.byPool.keys()) if (!names.has(name)) this.byPool.delete(name);
    }
    this.order = config.pools;
    this.checks = checks;
    this.monitored = monitoredMembers;
    for (const m of evaluated) this.evaluate(m, now);
  }

  /** Each pool's member states, by pool name, as the last configure() left them (reused while its config is). */
  private byPool = new Map<string, PoolEntry>();
  /** Counts configure() calls: a pool's entry is stamped with the call that kept it. */
  private epoch = 0;
  /** The pools in configuration order (members are listed in it). */
  private order: ReadonlyArray<Config['pools'][number]> = [];

  /** Every member's health, in configuration order (members without monitors as they are: unmonitored()). */
  private *everyMember(): Generator<MemberHealth> {
    for (const pool of this.order) {
      const e = this.byPool.get(pool.name);
      if (e === undefined) continue;
      if (e.states !== null) for (const st of e.states) yield st.health;
      else for (const m of pool.members) yield unmonitored(pool.name, memberKey(m), e.since);
    }
  }

  private markChanged(member: MemberState): void {
    if (!member.changed) this.changedCount++;
    member.changed = true;
    this.list(member);
  }

  private markMetricsChanged(member: MemberState): void {
    member.metricsChanged = true;
    this.list(member);
  }

  private list(member: MemberState): void {
    if (member.listed) return;
    member.listed = true;
    this.pending.push(member);
  }

  /** One probe result from one prober. */
  record(prober: string, r: ProbeReport): void {
    const check = this.checks.get(r.targetId);
    if (!check) return;
    const mon = check.target.monitor;
    let view = check.views.get(prober);
    if (!view) {
      // The first result of a prober decides at once: damping applies to changes, not to the initial state.
      view = { up: r.ok, streak: 0, lastAt: r.at, detail: r.detail };
      check.views.set(prober, view);
    } else if (r.ok === view.up) {
      view.streak = 0;
    } else if (++view.streak >= (r.ok ? mon.rise : mon.fall)) {
      view.up = r.ok;
      view.streak = 0;
    }
    view.lastAt = r.at;
    view.detail = r.detail;
    check.recent.push(r.ok);
    if (check.recent.length > LOSS_WINDOW) check.recent.shift();
    const member = check.member;
    if (!member) return;
    if (r.ok) member.rtt = Number.isNaN(member.rtt) ? r.rttMs : member.rtt + RTT_ALPHA * (r.rttMs - member.rtt);
    if (r.agent) this.applyAgent(member, r.agent);
    this.mergeCheck(check, r.at);
    this.evaluate(member, r.at);
  }

  private applyAgent(member: MemberState, a: NonNullable<ProbeReport['agent']>): void {
    const h = member.health;
    const drain = a.state === 'drain';
    const scale = a.weightPercent !== undefined ? a.weightPercent / 100 : h.weightScale;
    if (drain !== h.drain || scale !== h.weightScale) this.markChanged(member);
    h.drain = drain;
    h.weightScale = scale;
    this.setMetric(member, 'connections', a.conns);
    this.setMetric(member, 'cpu', a.cpu);
    this.setMetric(member, 'reported-load', a.load);
  }

  private setMetric(member: MemberState, name: keyof MemberHealth['metrics'], v: number | undefined): void {
    if (v === undefined || member.health.metrics[name] === v) return;
    if (member.health.metrics === NO_MEASUREMENTS) member.health.metrics = {};
    member.health.metrics[name] = v;
    this.markMetricsChanged(member);
  }

  /** Quorum over the probers whose view is fresh; with none fresh the check keeps its verdict (no false down). */
  private mergeCheck(check: CheckState, now: number): void {
    const freshAfter = now - FRESH_INTERVALS * check.target.monitor.interval;
    let fresh = 0;
    let down = 0;
    for (const v of check.views.values()) {
      if (v.lastAt < freshAfter) continue;
      fresh++;
      if (!v.up) down++;
    }
    if (fresh === 0) return;
    const quorum = Math.min(this.quorum ?? Math.floor(fresh / 2) + 1, fresh);
    check.up = down < quorum;
  }

  private evaluate(member: MemberState, now: number): void {
    const h = member.health;
    let up = true;
    let detail = h.detail;
    if (member.checks.length > 0) {
      const passing = member.checks.filter((c) => c.up).length;
      up = member.rule === 'all' ? passing === member.checks.length : passing >= member.rule.atLeast;
      const failing = member.checks.find((c) => !c.up);
      const decisive = up ? member.checks[0] : failing;
      const view = decisive ? [...decisive.views.values()].sort((a, b) => b.lastAt - a.lastAt)[0] : undefined;
      if (view) detail = `${decisive!.target.monitor.name}: ${view.detail}`;
      const results = member.checks.flatMap((c) => c.recent);
      if (results.length > 0) this.setMetric(member, 'packet-loss', (100 * results.filter((ok) => !ok).length) / results.length);
      if (!Number.isNaN(member.rtt)) this.setMetric(member, 'rtt', Math.round(member.rtt * 100) / 100);
    }
    if (up !== h.up) {
      h.up = up;
      h.since = now;
      this.markChanged(member);
      this.history.push({ at: now, pool: h.pool, member: h.member, up, detail });
      if (this.history.length > 1000) this.history.shift();
    }
    h.detail = detail;
  }

  /**
   * Verdicts another node's book reached (the cluster's leader, through the store's feed), taken as this book's: its
   * checks agree with them until probers of its own report, so a follower that becomes the leader starts from the
   * verdicts in force, not from "all up". Members it does not know (another revision) are skipped.
   */
  adopt(verdicts: readonly MemberHealth[], now: number): void {
    for (const v of verdicts) {
      const st = this.byPool.get(v.pool)?.states?.find((x) => x.health.member === v.member);
      if (st === undefined) continue;
      for (const c of st.checks) c.up = v.up;
      const h = st.health;
      const changed = h.up !== v.up || h.drain !== v.drain || h.weightScale !== v.weightScale;
      if (h.up !== v.up) {
        this.history.push({ at: now, pool: h.pool, member: h.member, up: v.up, detail: v.detail });
        if (this.history.length > 1000) this.history.shift();
      }
      const metricsChanged = JSON.stringify(h.metrics) !== JSON.stringify(v.metrics);
      Object.assign(h, { up: v.up, drain: v.drain, weightScale: v.weightScale, since: v.since, detail: v.detail, metrics: { ...v.metrics } });
      if (changed) this.markChanged(st);
      else if (metricsChanged) this.markMetricsChanged(st);
    }
  }

  /** Re-merge every check at `now` (probers that stopped reporting drop out of the quorum). */
  expire(now: number): void {
    for (const c of this.checks.values()) this.mergeCheck(c, now);
    // A member without checks has nothing to expire: its verdict stays "up" from configure on.
    for (const m of this.monitored) this.evaluate(m, now);
  }

  /** True when some verdict, drain or weight changed (callers send those at once, metrics in batches). */
  get urgent(): boolean {
    return this.changedCount > 0;
  }

  /** Members whose verdict, drain, weight or metrics changed since the last call, in the order they changed first. */
  drainChanges(): MemberHealth[] {
    const out: MemberHealth[] = [];
    for (const m of this.pending) {
      m.listed = false;
      if (!m.changed && !m.metricsChanged) continue;
      m.changed = false;
      m.metricsChanged = false;
      out.push({ ...m.health, metrics: { ...m.health.metrics } });
    }
    this.pending = [];
    this.changedCount = 0;
    return out;
  }

  /** Every member, with its latest metrics: shown by status and the metrics. */
  all(): MemberHealth[] {
    return [...this.everyMember()].map((h) => ({ ...h, metrics: { ...h.metrics } }));
  }

  /**
   * The members a worker with a new LiveState does not already agree with (see isDefaultHealth): what a worker that
   * starts or has just swapped snapshots is sent, instead of every member.
   */
  notDefault(): MemberHealth[] {
    const out: MemberHealth[] = [];
    for (const pool of this.order) {
      for (const st of this.byPool.get(pool.name)?.states ?? []) if (!isDefaultHealth(st.health)) out.push({ ...st.health, metrics: { ...st.health.metrics } });
    }
    return out;
  }
}
