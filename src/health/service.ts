// The health service of the supervisor: the distributor (with the in-process prober), the verdict book, and operator
// admin states (read from the store by the supervisor, which follows its change feed). It tells the workers what
// changed; they never probe. In a cluster only the leader runs the distributor (lead/follow, decided by the
// supervisor through a lease in the store); the others adopt the verdicts it publishes. Owns: wiring and timers. Verdict rules live in verdict.ts, scheduling in prober.ts, assignment in distributor.ts.
import crypto from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { AdminRecord } from '../state/store.js';
import { Distributor } from './distributor.js';
import { HealthBook, type MemberHealth } from './verdict.js';
import { checkTargets } from './targets.js';

export interface HealthServiceOptions {
  /** The admin states stored when the service starts. */
  admin?: AdminRecord[];
  onHealth: (updates: MemberHealth[]) => void;
  /** Cluster mode: the service starts as a follower, and the verdicts it reaches while leading are published here. */
  publish?: (updates: MemberHealth[]) => void;
  onAdmin: (states: AdminRecord[]) => void;
  log: (level: 'info' | 'warn' | 'error', fields: object, msg: string) => void;
}

/** How often stale prober views are dropped from quorums. */
const EXPIRE_MS = 250;

export class HealthService {
  private readonly book: HealthBook;
  /** Running while this node decides health: always on a single node, while it leads in a cluster. */
  private distributor: Distributor | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  private adminStates: AdminRecord[];
  private readonly logged = new Map<string, string>();

  constructor(private config: Config, private readonly opts: HealthServiceOptions) {
    this.adminStates = opts.admin ?? [];
    this.book = new HealthBook(config, checkTargets(config), Date.now());
    if (!opts.publish) this.distributor = this.makeDistributor();
  }

  private makeDistributor(): Distributor {
    const d = this.config.health.distributor;
    const distributor = new Distributor({
      // Without external probers there is no listener; the token then only signs nothing.
      token: d?.token ?? crypto.randomBytes(24).toString('hex'),
      replicas: this.config.health.replicas,
      local: this.config.health.localProber,
      onReport: (prober, r) => {
        this.book.record(prober, r);
        // A verdict change reaches the workers at once; metric updates wait for the next tick (≤ 250 ms).
        if (this.book.urgent) this.flush();
      },
      onChange: (event) => this.opts.log('info', { event }, 'prober change'),
    });
    distributor.setTargets(checkTargets(this.config));
    return distributor;
  }

  /** Whether this node decides health now. */
  get leading(): boolean {
    return this.distributor !== null;
  }

  /** Cluster: this node became the leader. Its distributor listens (probers join it) and its local prober probes. */
  async lead(): Promise<void> {
    if (this.distributor) return;
    const distributor = this.makeDistributor();
    this.distributor = distributor;
    const d = this.config.health.distributor;
    try {
      if (d) await distributor.listen(d.listen.host, d.listen.port);
    } catch (e) {
      this.distributor = null;
      await distributor.close();
      throw e;
    }
    // Everything it knows, once: a follower that missed a delta (the store was away) gets the whole picture.
    this.opts.publish?.(this.book.all());
  }

  /** Cluster: another node leads (or this one lost its lease). Stop probing; verdicts come from the leader. */
  async follow(): Promise<void> {
    const distributor = this.distributor;
    this.distributor = null;
    await distributor?.close();
  }

  /** Verdicts the leader published: this node's book takes them (and tells the workers what changed). */
  adopt(verdicts: MemberHealth[]): void {
    if (this.distributor) return; // the leader's own, back through the feed
    this.book.adopt(verdicts, Date.now());
    this.flush();
  }

  async start(): Promise<void> {
    const d = this.config.health.distributor;
    if (d && this.distributor) await this.distributor.listen(d.listen.host, d.listen.port);
    this.timers.push(setInterval(() => {
      this.book.expire(Date.now());
      this.flush();
    }, EXPIRE_MS));
    for (const t of this.timers) t.unref();
  }

  /** New configuration: targets and rules change, verdicts of checks that remain are kept. */
  reload(config: Config): void {
    this.config = config;
    const targets = checkTargets(config);
    this.book.configure(config, targets, Date.now());
    this.distributor?.setTargets(targets);
    this.flush();
  }

  /** Every member's health (status, metrics). */
  health(): MemberHealth[] {
    return this.book.all();
  }

  /**
   * What a worker that starts or has just swapped snapshots must be told: the members whose health is not what a
   * new LiveState assumes (up, undrained, full weight, configured metrics). Usually a few, not every member.
   */
  healthForNewState(): MemberHealth[] {
    return this.book.notDefault();
  }

  admin(): AdminRecord[] {
    return this.adminStates;
  }

  history(): HealthBook['history'] {
    return this.book.history;
  }

  probers(): ReturnType<Distributor['status']> {
    return this.distributor?.status() ?? [];
  }

  drainProber(name: string): boolean {
    return this.distributor?.drain(name) ?? false;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.distributor?.close();
  }

  private flush(): void {
    const changes = this.book.drainChanges();
    if (changes.length === 0) return;
    for (const c of changes) {
      const key = `${c.pool}/${c.member}`;
      const state = `${c.up}/${c.drain}/${c.weightScale}`;
      if (this.logged.get(key) === state) continue; // metrics only: not worth a log line
      this.logged.set(key, state);
      this.opts.log(c.up ? 'info' : 'warn', { pool: c.pool, member: c.member, up: c.up, drain: c.drain, weightScale: c.weightScale, detail: c.detail }, 'member health');
    }
    this.opts.onHealth(changes);
    if (this.distributor) this.opts.publish?.(changes);
  }

  /** The admin states in the store now (the supervisor read them after a change in the feed or an API write). */
  setAdmin(states: AdminRecord[]): void {
    if (JSON.stringify(states) === JSON.stringify(this.adminStates)) return;
    this.adminStates = states;
    this.opts.log('info', { states: states.map((s) => `${s.pool}/${s.member}=${s.state}`) }, 'admin states');
    this.opts.onAdmin(states);
  }
}
