// The L4 data plane (SPEC P2-P4): services, each an address and port (TCP or UDP) whose new connections and flows
// go to a target its user chooses, relayed both ways so that replies reach the client from the service's address and
// port. One engine, several users: the dispatcher (daemons behind a cluster address), and next the address-pool
// forwarder and site principal addresses. Owns: listeners, relays, the connection table, idle collection, caps.
// Never chooses targets itself (its users do, through ServiceSpec.choose) and never blocks: every step is an event.
// A kernel data plane (nftables/IPVS with conntrack as the table) can implement the same Forwarder interface later.
import net from 'node:net';
import dgram from 'node:dgram';
import { ConnectionTable, type Connection, type Protocol } from './table.js';
import { proxyHeader } from './proxy-protocol.js';
import { hostPort } from '../net/address.js';

/** Where a connection goes: an address and port, with what the target wants to be told of the client. */
export interface Target {
  /** "address:port", as the table records it. */
  key: string;
  address: string;
  port: number;
  proxyProtocol?: 1 | 2;
}

export interface ServiceSpec {
  /** Stable across reloads: "address:port/tcp". A reload that keeps the id keeps the listener and its connections. */
  id: string;
  /** What the table calls it (its users' name: the dispatcher's "cluster:port"). */
  name: string;
  protocol: Protocol;
  address: string;
  port: number;
  /** Idle connections (flows) are closed after this long without a byte either way. */
  idleMs: number;
  /** UDP: the first reply ends the flow (DNS-like services). */
  oneReply?: boolean;
  /** The target for a new connection from client:clientPort, or null to refuse it. */
  choose(client: string, clientPort: number): Target | null;
}

/** What the engine reports as it works (metrics and logs; the dispatcher's response times). */
export interface ForwardEvents {
  opened(spec: ServiceSpec, target: Target, conn: Connection): void;
  closed(spec: ServiceSpec, conn: Connection, how: 'closed' | 'reset' | 'idle' | 'error'): void;
  refused(spec: ServiceSpec, reason: 'table-full' | 'no-target'): void;
  /** TCP: how long the target took to accept; ms = NaN when it failed to. */
  connected(spec: ServiceSpec, target: Target, ms: number, error?: Error): void;
  /** Bytes relayed since the last report, for byte counters of long connections. */
  bytes(spec: ServiceSpec, target: Target, inBytes: number, outBytes: number): void;
}

/** How long a target has to accept a TCP connection before the client is reset. */
export const CONNECT_TIMEOUT_MS = 5000;

interface Listener {
  spec: ServiceSpec;
  close(): Promise<void>;
}

/**
 * What a data plane offers its users: serve a set of services, keep their connection table, stop. The userspace
 * Forwarder below is one; a kernel one (nftables/IPVS programmed from the same specs, conntrack as the table) can be
 * another behind the same interface.
 */
export interface DataPlane {
  readonly table: ConnectionTable;
  apply(specs: readonly ServiceSpec[]): Promise<Array<{ id: string; error: string }>>;
  services(): string[];
  close(): Promise<void>;
}

export class Forwarder implements DataPlane {
  readonly table: ConnectionTable;
  private readonly listeners = new Map<string, Listener>();

  constructor(maxConnections: number, private readonly events: ForwardEvents) {
    this.table = new ConnectionTable(maxConnections);
  }

  /**
   * Serve exactly `specs`: new services listen, kept ones take the new spec (their connections stay), removed ones
   * stop listening (their open connections finish). Returns the services that could not listen, with why.
   */
  async apply(specs: readonly ServiceSpec[]): Promise<Array<{ id: string; error: string }>> {
    const wanted = new Map(specs.map((s) => [s.id, s]));
    for (const [id, l] of this.listeners) {
      if (wanted.has(id)) continue;
      this.listeners.delete(id);
      await l.close();
    }
    const failed: Array<{ id: string; error: string }> = [];
    for (const spec of specs) {
      const l = this.listeners.get(spec.id);
      if (l) { l.spec = spec; continue; }
      try {
        this.listeners.set(spec.id, spec.protocol === 'tcp' ? await tcpListener(spec, this.table, this.events) : await udpListener(spec, this.table, this.events));
      } catch (e) {
        failed.push({ id: spec.id, error: `cannot listen on ${hostPort(spec.address, spec.port)}/${spec.protocol}: ${(e as Error).message}` });
      }
    }
    return failed;
  }

  /** Ids of the services listening now. */
  services(): string[] {
    return [...this.listeners.keys()];
  }

  /** Stop listening and close every connection (reset). */
  async close(): Promise<void> {
    const all = [...this.listeners.values()];
    this.listeners.clear();
    for (const id of this.table.ids({})) this.table.close(id, true);
    await Promise.all(all.map((l) => l.close()));
  }
}

/**
 * A TCP service: each accepted connection is relayed to a target connection of its own (half-closes passed on).
 * Idle and connect timeouts are checked by one sweep per service rather than a timer per socket.
 */
async function tcpListener(spec0: ServiceSpec, table: ConnectionTable, events: ForwardEvents): Promise<Listener> {
  const relays = new Set<TcpRelay>();
  const self: Listener = {
    spec: spec0,
    close: () => new Promise<void>((resolve) => { clearInterval(sweeper); server.close(() => resolve()); }),
  };
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (client) => {
    const r = TcpRelay.open(self.spec, client, table, events, relays);
    if (r !== null) relays.add(r);
  });
  server.on('error', () => {}); // accept errors (EMFILE) are transient: the next connection is tried again
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const r of relays) r.sweep(now);
  }, 1000);
  sweeper.unref();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: spec0.address, port: spec0.port, backlog: 4096 }, () => { server.off('error', reject); resolve(); });
  });
  return self;
}

/** One relayed TCP connection: client ⇄ target, with backpressure each way and the client's view of a reset. */
class TcpRelay {
  private open = 2;
  private connected = false;
  private how: 'closed' | 'reset' | 'idle' | 'error' = 'closed';
  private seenIn = 0;
  private seenOut = 0;
  private readonly started = performance.now();
  /** Last time bytes moved, as of the last sweep that saw them move. */
  private activeAt: number;
  private conn!: Connection;

  static open(spec: ServiceSpec, client: net.Socket, table: ConnectionTable, events: ForwardEvents, relays: Set<TcpRelay>): TcpRelay | null {
    const address = client.remoteAddress;
    const port = client.remotePort;
    client.on('error', noop);
    if (address === undefined || port === undefined) { client.destroy(); return null; }
    if (table.full) { events.refused(spec, 'table-full'); client.resetAndDestroy(); return null; }
    const target = spec.choose(address, port);
    if (target === null) { events.refused(spec, 'no-target'); client.resetAndDestroy(); return null; }
    return new TcpRelay(spec, client, address, port, target, table, events, relays);
  }

  private readonly up: net.Socket;

  private constructor(
    private readonly spec: ServiceSpec, private readonly client: net.Socket, address: string, port: number,
    private readonly target: Target, private readonly table: ConnectionTable, private readonly events: ForwardEvents,
    private readonly relays: Set<TcpRelay>,
  ) {
    const now = Date.now();
    this.activeAt = now;
    // The target's bytes (the bulk of most traffic) are read into one buffer all target sockets share (each read is
    // copied out before the next can happen): Node's 64 KB allocated per read made garbage collection a third of the
    // relay's time on bulk transfers.
    this.up = net.connect({ host: target.address, port: target.port, allowHalfOpen: true, noDelay: true, onread: { buffer: READ_BUFFER, callback: this.onUpData } });
    this.conn = table.add({
      id: 0, protocol: 'tcp', service: spec.name, client: address, clientPort: port, cluster: spec.address, clusterPort: spec.port,
      target: target.key, openedAt: now, lastAt: now, bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0,
    }, this.close, this.refresh);
    events.opened(spec, target, this.conn);
    client.on('close', this.ended);
    client.on('error', this.onClientError);
    this.up.on('close', this.ended);
    this.up.on('error', this.onUpError);
    this.up.once('connect', this.onConnect);
  }

  private readonly onConnect = (): void => {
    const { client, up, spec, target } = this;
    this.connected = true;
    this.events.connected(spec, target, performance.now() - this.started);
    if (target.proxyProtocol !== undefined) up.write(proxyHeader(target.proxyProtocol, { protocol: 'tcp', source: this.conn.client, sourcePort: this.conn.clientPort, destination: spec.address, destinationPort: spec.port }));
    forward(client, up);
    client.on('drain', this.onClientDrain);
    up.on('end', this.onUpEnd);
    client.resume();
  };

  /** Buffers written to the client, oldest first: each goes back to the pool when its write completes. */
  private readonly inFlight: Buffer[] = [];

  private readonly onUpData = (n: number, buf: Buffer): boolean => {
    // The read buffer is the socket's own and is read into again: what is written is a copy. Small reads copy into
    // Node's shared slab; large ones into a pooled buffer that comes back once written (no garbage per 64 KB).
    if (n < COPY_MAX) return this.client.write(Buffer.from(buf.subarray(0, n)));
    const copy = takeBuffer();
    buf.copy(copy, 0, 0, n);
    this.inFlight.push(copy);
    return this.client.write(n === copy.length ? copy : copy.subarray(0, n), this.onClientWritten);
  };

  private readonly onClientWritten = (): void => {
    const b = this.inFlight.shift();
    if (b !== undefined) giveBuffer(b);
  };

  private readonly onClientDrain = (): void => {
    this.up.resume();
  };

  private readonly onUpEnd = (): void => {
    this.client.end();
  };

  private readonly onUpError = (e: NodeJS.ErrnoException): void => {
    if (!this.connected) this.events.connected(this.spec, this.target, NaN, e);
    // The client sees what the target did: a reset for a reset or a failed connect, never a hang.
    this.how = this.connected && e.code !== 'ECONNRESET' ? 'error' : 'reset';
    this.client.resetAndDestroy();
  };

  private readonly onClientError = (): void => {
    this.how = 'reset';
    this.up.resetAndDestroy();
  };

  private readonly ended = (): void => {
    if (--this.open > 0) {
      // A client gone before the target answered: nothing to wait for.
      if (!this.connected) this.up.destroy();
      return;
    }
    this.relays.delete(this);
    this.refresh();
    if (this.table.remove(this.conn)) this.events.closed(this.spec, this.conn, this.how);
  };

  private readonly close = (reset: boolean): void => {
    this.how = reset ? 'reset' : 'closed';
    if (reset) { this.client.resetAndDestroy(); this.up.resetAndDestroy(); } else { this.client.end(); this.up.end(); }
  };

  /** Byte counts from the sockets into the record (and the deltas to the metrics). */
  private readonly refresh = (): void => {
    const { conn, client } = this;
    const i = client.bytesRead;
    const o = client.bytesWritten;
    if (i !== conn.bytesIn || o !== conn.bytesOut) {
      conn.lastAt = Date.now();
      conn.bytesIn = i;
      conn.bytesOut = o;
    }
    if (i !== this.seenIn || o !== this.seenOut) {
      this.events.bytes(this.spec, this.target, i - this.seenIn, o - this.seenOut);
      this.seenIn = i;
      this.seenOut = o;
    }
  };

  /** Once a second: a target that has not accepted within CONNECT_TIMEOUT_MS, or a connection idle too long, goes. */
  sweep(now: number): void {
    if (!this.connected) {
      if (now - this.conn.openedAt > CONNECT_TIMEOUT_MS) this.up.destroy(Object.assign(new Error(`no connection within ${CONNECT_TIMEOUT_MS} ms`), { code: 'ETIMEDOUT' }));
      return;
    }
    const before = this.conn.bytesIn + this.conn.bytesOut;
    this.refresh();
    if (this.conn.bytesIn + this.conn.bytesOut !== before) this.activeAt = now;
    else if (now - this.activeAt > this.spec.idleMs) {
      this.how = 'idle';
      this.client.resetAndDestroy();
      this.up.resetAndDestroy();
    }
  }
}

/** Bytes from `from` to `to`, pausing `from` while `to` cannot take more; its end half-closes `to`. */
function forward(from: net.Socket, to: net.Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.on('end', () => to.end());
}

function noop(): void {}

/** Buffers that large reads are copied into, reused once written (bounded: at most POOL_MAX kept). */
const READ_SIZE = 64 * 1024;
const POOL_MAX = 512;
const pool: Buffer[] = [];
/** Reads below this are copied into Node's slab (Buffer.from), above it into a pooled buffer. */
const COPY_MAX = 4096;
/** The read buffer of every target socket (one thread: a read's callback copies it out before the next read). */
const READ_BUFFER = Buffer.allocUnsafeSlow(READ_SIZE);
function takeBuffer(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafeSlow(READ_SIZE);
}
function giveBuffer(b: Buffer): void {
  if (pool.length < POOL_MAX && b.length === READ_SIZE) pool.push(b);
}

interface Flow {
  conn: Connection;
  target: Target;
  up: dgram.Socket;
  header: Buffer | null;
  /** Datagrams from the client before the flow's socket is connected to its target. */
  pending: Buffer[] | null;
  /** Bytes already reported to events.bytes. */
  seenIn: number;
  seenOut: number;
}

/**
 * A UDP service: each flow (client address and port) gets a socket of its own, connected to its target, so replies
 * are told apart by flow (the kernel keeps other senders' datagrams off it); they go back through the service's
 * socket, from its address and port. Byte counts reach events.bytes when read (refresh) and when a flow ends, not
 * per datagram.
 */
async function udpListener(spec0: ServiceSpec, table: ConnectionTable, events: ForwardEvents): Promise<Listener> {
  const type = net.isIPv6(spec0.address) ? 'udp6' : 'udp4';
  const sock = dgram.createSocket({ type, recvBufferSize: 4 << 20 });
  const flows = new Map<string, Flow>();
  const self: Listener = {
    spec: spec0,
    close: async () => {
      clearInterval(sweeper);
      await new Promise<void>((resolve) => sock.close(() => resolve()));
    },
  };
  const report = (f: Flow): void => {
    const { conn } = f;
    if (conn.bytesIn === f.seenIn && conn.bytesOut === f.seenOut) return;
    events.bytes(self.spec, f.target, conn.bytesIn - f.seenIn, conn.bytesOut - f.seenOut);
    f.seenIn = conn.bytesIn;
    f.seenOut = conn.bytesOut;
  };
  const end = (key: string, f: Flow, how: 'closed' | 'reset' | 'idle' | 'error'): void => {
    if (flows.get(key) !== f) return;
    flows.delete(key);
    f.up.close();
    report(f);
    if (table.remove(f.conn)) events.closed(self.spec, f.conn, how);
  };
  const open = (client: dgram.RemoteInfo, key: string): Flow | null => {
    const spec = self.spec;
    if (table.full) { events.refused(spec, 'table-full'); return null; }
    const target = spec.choose(client.address, client.port);
    if (target === null) { events.refused(spec, 'no-target'); return null; }
    const up = dgram.createSocket(net.isIPv6(target.address) ? 'udp6' : 'udp4');
    const now = Date.now();
    const header = target.proxyProtocol === 2 ? proxyHeader(2, { protocol: 'udp', source: client.address, sourcePort: client.port, destination: spec.address, destinationPort: spec.port }) : null;
    const f: Flow = { target, up, header, pending: [], seenIn: 0, seenOut: 0, conn: undefined as unknown as Connection };
    f.conn = table.add({
      id: 0, protocol: 'udp', service: spec.name, client: client.address, clientPort: client.port, cluster: spec.address, clusterPort: spec.port,
      target: target.key, openedAt: now, lastAt: now, bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0,
    }, () => end(key, f, 'reset'), () => report(f));
    up.on('error', () => end(key, f, 'error'));
    up.on('message', (reply) => {
      sock.send(reply, client.port, client.address);
      f.conn.packetsOut++;
      f.conn.bytesOut += reply.length;
      f.conn.lastAt = Date.now();
      if (self.spec.oneReply) end(key, f, 'closed');
    });
    up.connect(target.port, target.address, () => {
      const queued = f.pending ?? [];
      f.pending = null;
      for (const m of queued) up.send(m);
    });
    flows.set(key, f);
    events.opened(spec, target, f.conn);
    return f;
  };
  sock.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}|${rinfo.port}`;
    const f = flows.get(key) ?? open(rinfo, key);
    if (f === null) return;
    const c = f.conn;
    c.packetsIn++;
    c.bytesIn += msg.length;
    c.lastAt = Date.now();
    const out = f.header === null ? msg : Buffer.concat([f.header, msg]);
    if (f.pending !== null) {
      // At most a socket buffer's worth waits for the connect (it takes one turn of the event loop).
      if (f.pending.length < 64) f.pending.push(out);
    } else f.up.send(out);
  });
  sock.on('error', () => {});
  // Idle flows go after spec.idleMs: checked a few times per timeout, at most once a second.
  const sweeper = setInterval(() => {
    const before = Date.now() - self.spec.idleMs;
    for (const [key, f] of flows) if (f.conn.lastAt < before) end(key, f, 'idle');
  }, Math.min(1000, Math.max(50, spec0.idleMs / 4)));
  sweeper.unref();
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind({ address: spec0.address, port: spec0.port, exclusive: true }, () => { sock.off('error', reject); resolve(); });
  });
  return self;
}
