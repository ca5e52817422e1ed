// The dispatcher's metrics (issue 13): connections opened and closed, open now, bytes each way, selections by
// method and daemon, connect latency, table size and refusals. Owns: those metric names. Counted in plain maps as
// the data plane works (no label lookup per datagram) and handed to prom-client when scraped.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ForwardEvents } from './engine.js';
import type { Dispatcher, DispatcherEvents } from './dispatcher.js';

/** Connect latency buckets, in seconds (loopback connects take tens of microseconds; remote ones milliseconds). */
const CONNECT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

class Tally {
  readonly counts = new Map<string, number>();
  add(key: string, n: number): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
  }
}

export class DispatcherMetrics {
  private readonly opened = new Tally();
  private readonly closed = new Tally();
  private readonly bytes = new Tally();
  private readonly selections = new Tally();
  private readonly refused = new Tally();
  private readonly capped = new Tally();
  private readonly connect: Histogram<'group'>;
  private dispatcher: Dispatcher | null = null;
  /** The histogram's child per group (labels looked up once, not per connection). */
  private readonly connectByGroup = new Map<string, ReturnType<Histogram<'group'>['labels']>>();

  constructor(registry: Registry) {
    const registers = [registry];
    const self = this;
    const counter = (name: string, help: string, labelNames: string[], tally: Tally): void => {
      new Counter({
        name, help, labelNames, registers,
        collect(): void {
          if (tally === self.bytes) self.dispatcher?.forwarder.table.refreshAll();
          this.reset();
          for (const [key, n] of tally.counts) this.inc(Object.fromEntries(key.split('\u0000').map((v, i) => [labelNames[i]!, v])), n);
        },
      });
    };
    counter('waymark_dispatcher_connections_opened_total', 'Connections (TCP) and flows (UDP) the dispatcher opened, by group (cluster:port), daemon and protocol.', ['group', 'daemon', 'protocol'], this.opened);
    counter('waymark_dispatcher_connections_closed_total', 'Connections and flows that ended, by how: closed, reset, idle (collected), error.', ['group', 'daemon', 'protocol', 'how'], this.closed);
    counter('waymark_dispatcher_bytes_total', 'Bytes relayed, by direction: in (client to daemon) and out (daemon to client).', ['group', 'daemon', 'direction'], this.bytes);
    counter('waymark_dispatcher_selections_total', 'Daemons chosen for new connections, by method.', ['method', 'group', 'daemon'], this.selections);
    counter('waymark_dispatcher_refused_total', 'New connections refused: table-full (the table is at its cap) or no-target (no daemon may take one).', ['group', 'reason'], this.refused);
    counter('waymark_dispatcher_daemon_at_cap_total', 'New connections a daemon at its maxConnections was passed over for.', ['group', 'daemon'], this.capped);
    this.connect = new Histogram({ name: 'waymark_dispatcher_connect_seconds', help: 'Time for a daemon to accept a TCP connection from the dispatcher.', labelNames: ['group'], buckets: CONNECT_BUCKETS, registers });
    new Gauge({
      name: 'waymark_dispatcher_connections_open', help: 'Open connections and flows per daemon.', labelNames: ['group', 'daemon'], registers,
      collect(): void {
        this.reset();
        for (const g of self.dispatcher?.status() ?? []) for (const d of g.daemons) this.set({ group: g.group, daemon: d.daemon }, d.connections);
      },
    });
    new Gauge({
      name: 'waymark_dispatcher_table_entries', help: 'Entries in the connection table, and its cap (limit).', labelNames: ['kind'], registers,
      collect(): void {
        this.reset();
        const t = self.dispatcher?.forwarder.table;
        if (!t) return;
        this.set({ kind: 'entries' }, t.size);
        this.set({ kind: 'limit' }, t.limit);
      },
    });
  }

  /** The dispatcher whose table and states the gauges read. */
  watch(d: Dispatcher): void {
    this.dispatcher = d;
  }

  /** The hooks to give the dispatcher. */
  events(): Pick<DispatcherEvents, 'forward' | 'selected' | 'capped'> {
    const k = (...parts: string[]): string => parts.join('\u0000');
    const forward: Partial<ForwardEvents> = {
      opened: (spec, target) => this.opened.add(k(spec.name, target.key, spec.protocol), 1),
      closed: (spec, conn, how) => this.closed.add(k(spec.name, conn.target, spec.protocol, how), 1),
      bytes: (spec, target, i, o) => {
        if (i > 0) this.bytes.add(k(spec.name, target.key, 'in'), i);
        if (o > 0) this.bytes.add(k(spec.name, target.key, 'out'), o);
      },
      refused: (spec, reason) => this.refused.add(k(spec.name, reason), 1),
      connected: (spec, _target, ms) => {
        if (Number.isNaN(ms)) return;
        let h = this.connectByGroup.get(spec.name);
        if (h === undefined) { h = this.connect.labels({ group: spec.name }); this.connectByGroup.set(spec.name, h); }
        h.observe(ms / 1000);
      },
    };
    return {
      forward,
      selected: (method, group, daemon) => this.selections.add(k(method, group, daemon), 1),
      capped: (group, daemon) => this.capped.add(k(group, daemon), 1),
    };
  }
}
