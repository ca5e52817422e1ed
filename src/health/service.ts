// The health service of the supervisor: the distributor (with the in-process prober for a single node), the
// verdict book, and operator admin states (read from the store by the supervisor, which follows its change feed). It tells the workers what changed; they never probe.
// Owns: wiring and timers. Verdict rules live in verdict.ts, scheduling in prober.ts, assignment in distributor.ts.
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
  onAdmin: (states: AdminRecord[]) => void;
  log: (level: 'info' | 'warn' | 'error', fields: object, msg: string) => void;
}

/** How often stale prober views are dropped from quorums. */
const EXPIRE_MS = 250;

export class HealthService {
  private readonly book: HealthBook;
  private readonly distributor: Distributor;
  private readonly timers: NodeJS.Timeout[] = [];
  private adminStates: AdminRecord[];
  private readonly logged = new Map<string, string>();

  constructor(private config: Config, private readonly opts: HealthServiceOptions) {
    this.adminStates = opts.admin ?? [];
    const targets = checkTargets(config);
    this.book = new HealthBook(config, targets, Date.now());
    const d = config.health.distributor;
    this.distributor = new Distributor({
      // Without external probers there is no listener; the token then only signs nothing.
      token: d?.token ?? crypto.randomBytes(24).toString('hex'),
      replicas: config.health.replicas,
      local: config.health.localProber,
      onReport: (prober, r) => {
        this.book.record(prober, r);
        // A verdict change reaches the workers at once; metric updates wait for the next tick (≤ 250 ms).
        if (this.book.urgent) this.flush();
      },
      onChange: (event) => opts.log('info', { event }, 'prober change'),
    });
    this.distributor.setTargets(targets);
  }

  async start(): Promise<void> {
    const d = this.config.health.distributor;
    if (d) await this.distributor.listen(d.listen.host, d.listen.port);
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
    this.distributor.setTargets(targets);
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
    return this.distributor.status();
  }

  drainProber(name: string): boolean {
    return this.distributor.drain(name);
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.distributor.close();
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
  }

  /** The admin states in the store now (the supervisor read them after a change in the feed or an API write). */
  setAdmin(states: AdminRecord[]): void {
    if (JSON.stringify(states) === JSON.stringify(this.adminStates)) return;
    this.adminStates = states;
    this.opts.log('info', { states: states.map((s) => `${s.pool}/${s.member}=${s.state}`) }, 'admin states');
    this.opts.onAdmin(states);
  }
}
