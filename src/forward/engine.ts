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

export class Forwarder {
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

/** A TCP service: each accepted connection is relayed to a target connection of its own (allowHalfOpen both ways). */
async function tcpListener(spec0: ServiceSpec, table: ConnectionTable, events: ForwardEvents): Promise<Listener> {
  const self: Listener = { spec: spec0, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (client) => relayTcp(self.spec, client, table, events));
  server.on('error', () => {}); // accept errors (EMFILE) are transient: the next connection is tried again
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: spec0.address, port: spec0.port, backlog: 4096 }, () => { server.off('error', reject); resolve(); });
  });
  return self;
}

function relayTcp(spec: ServiceSpec, client: net.Socket, table: ConnectionTable, events: ForwardEvents): void {
  const address = client.remoteAddress;
  const port = client.remotePort;
  if (address === undefined || port === undefined) { client.destroy(); return; }
  client.on('error', () => {});
  if (table.full) { events.refused(spec, 'table-full'); client.resetAndDestroy(); return; }
  const target = spec.choose(address, port);
  if (target === null) { events.refused(spec, 'no-target'); client.resetAndDestroy(); return; }
  const started = performance.now();
  const up = net.connect({ host: target.address, port: target.port, allowHalfOpen: true, noDelay: true });
  up.setTimeout(CONNECT_TIMEOUT_MS);
  let open = 2;
  let how: 'closed' | 'reset' | 'idle' | 'error' = 'closed';
  let seenIn = 0;
  let seenOut = 0;
  const now = Date.now();
  const conn = table.add({
    protocol: 'tcp', service: spec.name, client: address, clientPort: port, cluster: spec.address, clusterPort: spec.port,
    target: target.key, openedAt: now, lastAt: now, bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0,
  }, (reset) => {
    how = reset ? 'reset' : 'closed';
    if (reset) { client.resetAndDestroy(); up.resetAndDestroy(); } else { client.end(); up.end(); }
  }, () => refresh());
  const refresh = (): void => {
    const i = client.bytesRead;
    const o = client.bytesWritten;
    if (i !== conn.bytesIn || o !== conn.bytesOut) {
      conn.lastAt = Date.now();
      conn.bytesIn = i;
      conn.bytesOut = o;
    }
    if (i !== seenIn || o !== seenOut) {
      events.bytes(spec, target, i - seenIn, o - seenOut);
      seenIn = i;
      seenOut = o;
    }
  };
  events.opened(spec, target, conn);
  const ended = (): void => {
    if (--open > 0) return;
    refresh();
    if (table.remove(conn)) events.closed(spec, conn, how);
  };
  client.on('close', ended);
  up.on('close', ended);
  let connected = false;
  up.once('connect', () => {
    connected = true;
    up.setTimeout(0);
    events.connected(spec, target, performance.now() - started);
    if (target.proxyProtocol !== undefined) up.write(proxyHeader(target.proxyProtocol, { protocol: 'tcp', source: address, sourcePort: port, destination: spec.address, destinationPort: spec.port }));
    client.pipe(up);
    up.pipe(client);
    client.setTimeout(spec.idleMs, () => { how = 'idle'; client.resetAndDestroy(); up.resetAndDestroy(); });
    client.resume();
  });
  up.on('timeout', () => up.destroy(new Error(`no connection within ${CONNECT_TIMEOUT_MS} ms`)));
  up.on('error', (e: NodeJS.ErrnoException) => {
    if (!connected) events.connected(spec, target, NaN, e);
    // The client sees what the target did: a reset for a reset or a failed connect, never a hang.
    how = connected && e.code !== 'ECONNRESET' ? 'error' : 'reset';
    client.resetAndDestroy();
  });
  client.on('error', () => { how = 'reset'; up.resetAndDestroy(); });
  client.on('end', () => { if (!connected) up.destroy(); });
}

interface Flow {
  conn: Connection;
  target: Target;
  up: dgram.Socket;
  header: Buffer | null;
}

/**
 * A UDP service: each flow (client address and port) gets a socket of its own towards its target, so replies are
 * told apart by flow; they go back through the service's socket, from its address and port.
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
  const end = (key: string, f: Flow, how: 'closed' | 'reset' | 'idle' | 'error'): void => {
    if (flows.get(key) !== f) return;
    flows.delete(key);
    f.up.close();
    if (table.remove(f.conn)) events.closed(self.spec, f.conn, how);
  };
  const open = (msg: Buffer, client: dgram.RemoteInfo, key: string): Flow | null => {
    const spec = self.spec;
    if (table.full) { events.refused(spec, 'table-full'); return null; }
    const target = spec.choose(client.address, client.port);
    if (target === null) { events.refused(spec, 'no-target'); return null; }
    const up = dgram.createSocket(net.isIPv6(target.address) ? 'udp6' : 'udp4');
    const now = Date.now();
    const header = target.proxyProtocol === 2 ? proxyHeader(2, { protocol: 'udp', source: client.address, sourcePort: client.port, destination: spec.address, destinationPort: spec.port }) : null;
    const f: Flow = { target, up, header, conn: undefined as unknown as Connection };
    f.conn = table.add({
      protocol: 'udp', service: spec.name, client: client.address, clientPort: client.port, cluster: spec.address, clusterPort: spec.port,
      target: target.key, openedAt: now, lastAt: now, bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0,
    }, () => end(key, f, 'reset'));
    up.on('error', () => end(key, f, 'error'));
    up.on('message', (reply, from) => {
      if (from.port !== target.port || from.address !== target.address) return; // not its target's
      sock.send(reply, client.port, client.address);
      f.conn.packetsOut++;
      f.conn.bytesOut += reply.length;
      f.conn.lastAt = Date.now();
      events.bytes(self.spec, target, 0, reply.length);
      if (self.spec.oneReply) end(key, f, 'closed');
    });
    flows.set(key, f);
    events.opened(spec, target, f.conn);
    return f;
  };
  sock.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}|${rinfo.port}`;
    const f = flows.get(key) ?? open(msg, rinfo, key);
    if (f === null) return;
    f.conn.packetsIn++;
    f.conn.bytesIn += msg.length;
    f.conn.lastAt = Date.now();
    events.bytes(self.spec, f.target, msg.length, 0);
    f.up.send(f.header === null ? msg : Buffer.concat([f.header, msg]), f.target.port, f.target.address);
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
