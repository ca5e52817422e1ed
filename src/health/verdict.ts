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
}

interface MemberState {
  health: MemberHealth;
  checks: CheckState[];
  rule: 'all' | { atLeast: number };
  rtt: number;
  /** Verdict, drain or weight changed: workers must hear at once. */
  changed: boolean;
  /** Only metrics moved: workers hear with the next batch. */
  metricsChanged: boolean;
}

const LOSS_WINDOW = 20;
const RTT_ALPHA = 0.3;
/** A prober's view counts toward the quorum while its last result is younger than this many intervals. */
const FRESH_INTERVALS = 3;

export class HealthBook {
  private checks = new Map<string, CheckState>();
  private members = new Map<string, MemberState>();
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
      checks.set(t.id, old ? { ...old, target: t } : { target: t, views: new Map(), up: true, recent: [] });
    }
    const members = new Map<string, MemberState>();
    for (const pool of config.pools) {
      const monitored = poolMonitorNames(pool).length > 0;
      for (const m of pool.members) {
        const key = `${pool.name}/${memberKey(m)}`;
        const old = this.members.get(key);
        const own = monitored ? [...checks.values()].filter((c) => c.target.pool === pool.name && c.target.member === memberKey(m)) : [];
        members.set(key, {
          health: old?.health ?? { pool: pool.name, member: memberKey(m), up: true, drain: false, weightScale: 1, metrics: {}, detail: monitored ? 'not checked yet' : 'no monitor', since: now },
          checks: own, rule: pool.rule, rtt: old?.rtt ?? NaN, changed: true, metricsChanged: false,
        });
      }
    }
    this.checks = checks;
    this.members = members;
    for (const m of members.values()) this.evaluate(m, now);
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
    const member = this.members.get(`${check.target.pool}/${check.target.member}`);
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
    if (drain !== h.drain || scale !== h.weightScale) member.changed = true;
    h.drain = drain;
    h.weightScale = scale;
    this.setMetric(member, 'connections', a.conns);
    this.setMetric(member, 'cpu', a.cpu);
    this.setMetric(member, 'reported-load', a.load);
  }

  private setMetric(member: MemberState, name: keyof MemberHealth['metrics'], v: number | undefined): void {
    if (v === undefined || member.health.metrics[name] === v) return;
    member.health.metrics[name] = v;
    member.metricsChanged = true;
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
      member.changed = true;
      this.history.push({ at: now, pool: h.pool, member: h.member, up, detail });
      if (this.history.length > 1000) this.history.shift();
    }
    h.detail = detail;
  }

  /** Re-merge every check at `now` (probers that stopped reporting drop out of the quorum). */
  expire(now: number): void {
    for (const c of this.checks.values()) this.mergeCheck(c, now);
    for (const m of this.members.values()) this.evaluate(m, now);
  }

  /** True when some verdict, drain or weight changed (callers send those at once, metrics in batches). */
  get urgent(): boolean {
    for (const m of this.members.values()) if (m.changed) return true;
    return false;
  }

  /** Members whose verdict, drain, weight or metrics changed since the last call. */
  drainChanges(): MemberHealth[] {
    const out: MemberHealth[] = [];
    for (const m of this.members.values()) {
      if (!m.changed && !m.metricsChanged) continue;
      m.changed = false;
      m.metricsChanged = false;
      out.push({ ...m.health, metrics: { ...m.health.metrics } });
    }
    return out;
  }

  /** Every member, with its latest metrics: sent to a worker that starts or reloads, and shown by status. */
  all(): MemberHealth[] {
    return [...this.members.values()].map((m) => ({ ...m.health, metrics: { ...m.health.metrics } }));
  }
}
