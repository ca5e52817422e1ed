// The dispatcher (seed 003, SPEC P1-P6): cluster addresses → ports (TCP, UDP or both) → server daemons, on the L4
// data plane of engine.ts. Owns: turning the `dispatcher:` section into services, the daemons' states (monitor
// verdicts, measured connect times, admin drain, spawned copies running) and the choice of a daemon for each new
// connection by the port's method. Monitors are the health service's, reused as they are (a HealthService of its
// own, local probes only: a node checks the daemons it forwards to). Never writes the store: the API does, and
// hands the admin states in force to setAdmin.
import type { Config, DaemonConfig, DispatchPort, MonitorSpec } from '../config/schema.js';
import type { AdminRecord } from '../state/store.js';
import { HealthService } from '../health/service.js';
import type { MemberHealth } from '../health/verdict.js';
import { hostPort } from '../net/address.js';
import { Forwarder, type DataPlane, type ForwardEvents, type ServiceSpec, type Target } from './engine.js';
import { methodOf, type Candidate, type Method, type MethodName } from './methods.js';
import { Spawner, type SpawnStatus } from './spawn.js';
import type { Connection, ConnectionFilter, Protocol } from './table.js';
import { daemonsOf } from './validate.js';

/** Admin states of daemons live in the store beside members', under pool "dispatcher/CLUSTER:PORT". */
export const ADMIN_POOL_PREFIX = 'dispatcher/';

/** One daemon of one port group, as the dispatcher keeps it. */
interface Daemon extends Candidate {
  key: string;
  target: Target;
  config: DaemonConfig;
  /** Monitor verdict (true until a monitor says otherwise, or without one). */
  up: boolean;
  detail: string;
  checkRtt: number;
  admin: 'auto' | 'drain';
  spawned: boolean;
  selections: number;
  failures: number;
  cappedLogAt: number;
}

/** A cluster address and port with its daemons (one group for protocol "both": TCP and UDP share it). */
interface Group {
  key: string;
  cluster: string;
  port: number;
  config: DispatchPort;
  daemons: Daemon[];
  methods: Map<Protocol, Method>;
}

export interface DaemonView {
  daemon: string;
  address: string;
  port: number;
  weight: number;
  state: 'up' | 'down' | 'drain' | 'quiesced' | 'stopped' | 'full';
  up: boolean;
  detail: string;
  admin: 'auto' | 'drain';
  connections: number;
  maxConnections: number | null;
  /** Recent connect time (ms) through the data plane, and the monitor's last round trip. */
  connectMs: number | null;
  checkMs: number | null;
  selections: number;
  connectFailures: number;
  spawn: SpawnStatus | null;
}

export interface GroupView {
  group: string;
  cluster: string;
  port: number;
  protocol: DispatchPort['protocol'];
  method: MethodName;
  monitor: string | null;
  connections: number;
  daemons: DaemonView[];
}

export interface DispatcherEvents {
  log: (level: 'info' | 'warn' | 'error', fields: object, msg: string) => void;
  /** The data plane's events, for metrics (the dispatcher adds its own daemon bookkeeping). */
  forward?: Partial<ForwardEvents>;
  selected?: (method: MethodName, group: string, daemon: string) => void;
  /** A daemon at its maxConnections was passed over for a new connection. */
  capped?: (group: string, daemon: string) => void;
}

/** A spawned daemon without a monitor of its port is checked by connecting to it. */
const SPAWN_CHECK: MonitorSpec = { name: 'dispatcher-spawn-tcp', type: 'tcp', interval: 2000, timeout: 1000, rise: 1, fall: 2 };

export class Dispatcher {
  readonly forwarder: DataPlane;
  private groups = new Map<string, Group>();
  private readonly spawner: Spawner;
  private health: HealthService | null = null;
  private admin: AdminRecord[] = [];
  private readonly deadlines = new Map<string, NodeJS.Timeout>();
  private lastFull = 0;

  constructor(maxConnections: number, private readonly events: DispatcherEvents) {
    const f = events.forward ?? {};
    this.forwarder = new Forwarder(maxConnections, {
      opened: (spec, target, conn) => f.opened?.(spec, target, conn),
      closed: (spec, conn, how) => f.closed?.(spec, conn, how),
      bytes: (spec, target, i, o) => f.bytes?.(spec, target, i, o),
      refused: (spec, reason) => { this.refused(spec, reason); f.refused?.(spec, reason); },
      connected: (spec, target, ms, error) => { this.connected(spec, target, ms, error); f.connected?.(spec, target, ms, error); },
    });
    this.spawner = new Spawner((key, running) => this.spawnRunning(key, running), (level, fields, msg) => events.log(level, fields, msg));
  }

  /** Serve `config.dispatcher` (none: stop). Daemons that stay keep their state; open connections stay. */
  async apply(config: Config): Promise<string[]> {
    const section = config.dispatcher;
    const next = new Map<string, Group>();
    for (const c of section?.clusters ?? []) {
      for (const p of c.ports) {
        const key = hostPort(c.address, p.port);
        next.set(key, this.groupOf(key, c.address, p, this.groups.get(key)));
      }
    }
    this.groups = next;
    this.forwarder.table.limit = section?.maxConnections ?? 100_000;
    this.setAdmin(this.admin);
    await this.spawner.apply([...next.values()].flatMap((g) => spawnSpecs(g.config)));
    this.configureHealth(config);
    const failed = await this.forwarder.apply([...next.values()].flatMap((g) => this.specsOf(g)));
    for (const f of failed) this.events.log('error', { service: f.id }, f.error);
    return failed.map((f) => f.error);
  }

  private groupOf(key: string, cluster: string, p: DispatchPort, old: Group | undefined): Group {
    const before = new Map((old?.daemons ?? []).map((d) => [d.key, d]));
    const daemons = daemonsOf(p).map(({ config, spawned }) => {
      const k = hostPort(config.address, config.port);
      const o = before.get(k);
      const target: Target = { key: k, address: config.address, port: config.port, ...(config.proxyProtocol ? { proxyProtocol: config.proxyProtocol } : {}) };
      return o ? { ...o, config, target, weight: config.weight, spawned, current: 0 }
        : { key: k, target, config, weight: config.weight, active: 0, rtt: NaN, current: 0, up: true, detail: p.monitor !== undefined || p.spawn !== undefined ? 'not checked yet' : 'no monitor', checkRtt: NaN, admin: 'auto' as const, spawned, selections: 0, failures: 0, cappedLogAt: 0 };
    });
    const methods = old && old.config.method === p.method ? old.methods : new Map<Protocol, Method>();
    return { key, cluster, port: p.port, config: p, daemons, methods };
  }

  private specsOf(g: Group): ServiceSpec[] {
    const protocols: Protocol[] = g.config.protocol === 'both' ? ['tcp', 'udp'] : [g.config.protocol];
    return protocols.map((protocol) => {
      if (!g.methods.has(protocol)) g.methods.set(protocol, methodOf(g.config.method));
      return {
        id: `${g.key}/${protocol}`, name: g.key, protocol, address: g.cluster, port: g.port,
        idleMs: protocol === 'tcp' ? g.config.timeouts.tcp : g.config.timeouts.udp,
        oneReply: protocol === 'udp' && g.config.oneReply,
        choose: () => this.choose(g.key, protocol),
      };
    });
  }

  /** P2: a daemon for a new connection of group `key`, or null when none may take one. */
  private choose(key: string, protocol: Protocol): Target | null {
    const g = this.groups.get(key);
    if (!g) return null;
    const table = this.forwarder.table;
    const eligible: Daemon[] = [];
    for (const d of g.daemons) {
      d.active = table.countOf(d.key);
      if (this.eligible(d, g)) eligible.push(d);
    }
    if (eligible.length === 0) return null;
    const method = g.methods.get(protocol)!;
    const d = eligible[method.pick(eligible)]!;
    d.selections++;
    this.events.selected?.(method.name, g.key, d.key);
    return d.target;
  }

  private eligible(d: Daemon, g: Group): boolean {
    if (!d.up || d.admin !== 'auto' || d.weight === 0) return false;
    if (d.spawned && !this.spawner.running(d.key)) return false;
    if (d.config.maxConnections === undefined || d.active < d.config.maxConnections) return true;
    this.atCap(g, d);
    return false;
  }

  /** A daemon at its own cap was passed over: counted, and logged at most once per 10 s per daemon. */
  private atCap(g: Group, d: Daemon): void {
    this.events.capped?.(g.key, d.key);
    const now = Date.now();
    if (now - d.cappedLogAt < 10_000) return;
    d.cappedLogAt = now;
    this.events.log('warn', { group: g.key, daemon: d.key, maxConnections: d.config.maxConnections }, 'dispatcher daemon at its connection cap: new connections go to others');
  }

  private configureHealth(config: Config): void {
    const pools: Config['pools'] = [];
    const monitors = [...config.monitors];
    for (const g of this.groups.values()) {
      const monitor = g.config.monitor ?? (g.config.spawn ? SPAWN_CHECK.name : undefined);
      if (monitor === undefined) continue;
      pools.push({ name: ADMIN_POOL_PREFIX + g.key, select: ['round-robin'], monitor, rule: 'all', dynamic: false, members: g.daemons.map((d) => ({ address: d.config.address, port: d.config.port, weight: d.weight, enabled: true })) } as Config['pools'][number]);
    }
    if (!monitors.some((m) => m.name === SPAWN_CHECK.name)) monitors.push(SPAWN_CHECK);
    const view: Config = { ...config, pools, monitors, health: { ...config.health, distributor: undefined, localProber: true } };
    if (this.health) { this.health.reload(view); return; }
    if (pools.length === 0) return;
    this.health = new HealthService(view, {
      onHealth: (updates) => this.applyHealth(updates),
      onAdmin: () => {},
      log: (level, fields, msg) => this.events.log(level, { ...fields, dispatcher: true }, msg),
    });
    void this.health.start();
  }

  private applyHealth(updates: readonly MemberHealth[]): void {
    for (const u of updates) {
      const g = this.groups.get(u.pool.slice(ADMIN_POOL_PREFIX.length));
      const d = g?.daemons.find((x) => x.key === u.member);
      if (!g || !d) continue;
      const wasUp = d.up;
      d.up = u.up && !u.drain;
      d.detail = u.detail;
      if (u.metrics.rtt !== undefined) d.checkRtt = u.metrics.rtt;
      if (wasUp && !d.up && g.config.onDown === 'close') this.closeWhere({ service: g.key, target: d.key });
    }
  }

  /** Admin states in the store: those of daemons (pool "dispatcher/…") drain or undrain them (P6). */
  setAdmin(records: readonly AdminRecord[]): void {
    this.admin = records.filter((r) => r.pool.startsWith(ADMIN_POOL_PREFIX));
    const drained = new Set(this.admin.filter((r) => r.state === 'drain' || r.state === 'down').map((r) => `${r.pool.slice(ADMIN_POOL_PREFIX.length)}|${r.member}`));
    for (const g of this.groups.values()) {
      for (const d of g.daemons) {
        const admin = drained.has(`${g.key}|${d.key}`) ? 'drain' : 'auto';
        if (admin === 'auto') this.clearDeadline(g.key, d.key);
        d.admin = admin;
      }
    }
  }

  /** After `ms`, close what daemon `daemon` of group `group` still has open (a drain's deadline). */
  closeAfter(group: string, daemon: string, ms: number): void {
    this.clearDeadline(group, daemon);
    const t = setTimeout(() => {
      this.deadlines.delete(`${group}|${daemon}`);
      const n = this.closeWhere({ service: group, target: daemon });
      this.events.log('info', { group, daemon, closed: n }, 'drain deadline: remaining connections closed');
    }, ms);
    t.unref();
    this.deadlines.set(`${group}|${daemon}`, t);
  }

  private clearDeadline(group: string, daemon: string): void {
    const t = this.deadlines.get(`${group}|${daemon}`);
    if (t) clearTimeout(t);
    this.deadlines.delete(`${group}|${daemon}`);
  }

  /** Whether group `group` has daemon `daemon`. */
  has(group: string, daemon?: string): boolean {
    const g = this.groups.get(group);
    return g !== undefined && (daemon === undefined || g.daemons.some((d) => d.key === daemon));
  }

  /** Close (reset) the connections matching `f`; returns how many. */
  closeWhere(f: ConnectionFilter): number {
    const ids = this.forwarder.table.ids(f);
    for (const id of ids) this.forwarder.table.close(id, true);
    return ids.length;
  }

  connections(f: ConnectionFilter, limit: number): { total: number; connections: Connection[] } {
    const table = this.forwarder.table;
    return { total: table.count(f), connections: table.list(f, limit) };
  }

  status(): GroupView[] {
    const table = this.forwarder.table;
    const spawns = new Map(this.spawner.status().map((s) => [s.key, s]));
    return [...this.groups.values()].map((g) => ({
      group: g.key, cluster: g.cluster, port: g.port, protocol: g.config.protocol, method: g.config.method,
      monitor: g.config.monitor ?? (g.config.spawn ? SPAWN_CHECK.name : null),
      connections: table.count({ service: g.key }),
      daemons: g.daemons.map((d) => this.daemonView(d, table.countOf(d.key), spawns.get(d.key) ?? null)),
    }));
  }

  private daemonView(d: Daemon, connections: number, spawn: SpawnStatus | null): DaemonView {
    const max = d.config.maxConnections ?? null;
    const state: DaemonView['state'] = spawn !== null && spawn.state !== 'running' ? 'stopped' : !d.up ? 'down' : d.admin === 'drain' ? 'drain' : d.weight === 0 ? 'quiesced' : max !== null && connections >= max ? 'full' : 'up';
    const ms = (x: number): number | null => (Number.isNaN(x) ? null : Math.round(x * 1000) / 1000);
    return {
      daemon: d.key, address: d.config.address, port: d.config.port, weight: d.weight, state, up: d.up, detail: d.detail, admin: d.admin,
      connections, maxConnections: max, connectMs: ms(d.rtt), checkMs: ms(d.checkRtt), selections: d.selections, connectFailures: d.failures, spawn,
    };
  }

  private daemonOf(spec: ServiceSpec, target: Target): Daemon | undefined {
    return this.groups.get(spec.name)?.daemons.find((d) => d.key === target.key);
  }

  private connected(spec: ServiceSpec, target: Target, ms: number, error?: Error): void {
    const d = this.daemonOf(spec, target);
    if (!d) return;
    if (error) { d.failures++; return; }
    d.rtt = Number.isNaN(d.rtt) ? ms : d.rtt * 0.8 + ms * 0.2;
  }

  private refused(spec: ServiceSpec, reason: 'table-full' | 'no-target'): void {
    // Once per 10 s at most: a flood must not become a flood of log lines.
    const now = Date.now();
    if (now - this.lastFull < 10_000) return;
    this.lastFull = now;
    const why = reason === 'table-full' ? `the connection table is full (${this.forwarder.table.limit} entries)` : 'no daemon may take a new connection (down, drained, quiesced or at its cap)';
    this.events.log('warn', { service: spec.id, reason }, `dispatcher refused a connection: ${why}`);
  }

  private spawnRunning(key: string, running: boolean): void {
    if (running) return;
    // Its open connections are gone with it; nothing to do but let the table see them close.
    this.events.log('warn', { daemon: key }, 'spawned daemon not running: no new connections until it is back');
  }

  async close(): Promise<void> {
    for (const t of this.deadlines.values()) clearTimeout(t);
    this.deadlines.clear();
    await this.health?.close();
    await this.forwarder.close();
    await this.spawner.close();
  }
}

function spawnSpecs(p: DispatchPort): Array<{ key: string; command: string }> {
  const s = p.spawn;
  if (!s) return [];
  return Array.from({ length: s.count }, (_, i) => {
    const port = s.basePort + i;
    return { key: hostPort(s.address, port), command: s.command.replaceAll('{address}', s.address).replaceAll('{port}', String(port)) };
  });
}
