// The connection table of the L4 data plane (SPEC P2, P4): one entry per TCP connection or UDP flow, recording
// client address and port, the service (cluster) address and port it came to, and the target (daemon) chosen for it.
// Owns: the entries, their counts per target, the cap that protects the host, listing with filters. Never touches
// sockets itself: each entry carries the close function of whoever opened it.
import { hostPort } from '../net/address.js';

export type Protocol = 'tcp' | 'udp';

/** One connection or flow as the table shows it. */
export interface Connection {
  id: number;
  protocol: Protocol;
  /** The service it came to (the dispatcher: "cluster:port"). */
  service: string;
  client: string;
  clientPort: number;
  cluster: string;
  clusterPort: number;
  /** The target chosen for it: "address:port". */
  target: string;
  openedAt: number;
  lastAt: number;
  /** Bytes from the client to the target, and back. */
  bytesIn: number;
  bytesOut: number;
  /** UDP: datagrams each way. */
  packetsIn: number;
  packetsOut: number;
}

export interface ConnectionFilter {
  service?: string;
  cluster?: string;
  clusterPort?: number;
  target?: string;
  /** Client address, or address:port. */
  client?: string;
  protocol?: Protocol;
}

interface Entry {
  conn: Connection;
  /** Close it now; `reset`: abort (TCP RST) rather than a graceful close. */
  close: (reset: boolean) => void;
  /** Bring its byte counts up to date (TCP reads them from the sockets). */
  refresh?: () => void;
}

export class ConnectionTable {
  private readonly entries = new Map<number, Entry>();
  private readonly perTarget = new Map<string, number>();
  private nextId = 1;

  constructor(public limit: number) {}

  get size(): number {
    return this.entries.size;
  }

  get full(): boolean {
    return this.entries.size >= this.limit;
  }

  /** Open connections (and flows) a target has now. */
  countOf(target: string): number {
    return this.perTarget.get(target) ?? 0;
  }

  /** Record a new connection; its id is set here (whatever `conn.id` was). The caller checked `full` first. */
  add(conn: Connection, close: Entry['close'], refresh?: Entry['refresh']): Connection {
    const c = conn;
    c.id = this.nextId++;
    this.entries.set(c.id, { conn: c, close, refresh });
    this.perTarget.set(c.target, this.countOf(c.target) + 1);
    return c;
  }

  /** The connection ended: its record goes (P4). Removing one twice does nothing. */
  remove(conn: Connection): boolean {
    if (!this.entries.delete(conn.id)) return false;
    const n = this.countOf(conn.target) - 1;
    if (n > 0) this.perTarget.set(conn.target, n);
    else this.perTarget.delete(conn.target);
    return true;
  }

  get(id: number): Connection | undefined {
    const e = this.entries.get(id);
    e?.refresh?.();
    return e?.conn;
  }

  /** Close a connection by id (the operator's kill, a drain's deadline); false when there is none. */
  close(id: number, reset = true): boolean {
    const e = this.entries.get(id);
    if (!e) return false;
    e.close(reset);
    return true;
  }

  /** Every connection matching `f`, oldest first, at most `limit`. */
  list(f: ConnectionFilter = {}, limit = Infinity): Connection[] {
    const out: Connection[] = [];
    for (const e of this.entries.values()) {
      if (out.length >= limit) break;
      if (!matches(e.conn, f)) continue;
      e.refresh?.();
      out.push(e.conn);
    }
    return out;
  }

  /** How many match `f`. */
  count(f: ConnectionFilter = {}): number {
    let n = 0;
    for (const e of this.entries.values()) if (matches(e.conn, f)) n++;
    return n;
  }

  /** Ids of the connections matching `f` (to close them: closing changes the table). */
  ids(f: ConnectionFilter): number[] {
    const out: number[] = [];
    for (const e of this.entries.values()) if (matches(e.conn, f)) out.push(e.conn.id);
    return out;
  }

  /** Refresh every entry's counts (metrics read bytes of open connections once a second). */
  refreshAll(): void {
    for (const e of this.entries.values()) e.refresh?.();
  }

  /** Every connection, for metrics' byte totals. */
  values(): IterableIterator<Entry> {
    return this.entries.values();
  }
}

function matches(c: Connection, f: ConnectionFilter): boolean {
  if (f.service !== undefined && c.service !== f.service) return false;
  if (f.cluster !== undefined && c.cluster !== f.cluster) return false;
  if (f.clusterPort !== undefined && c.clusterPort !== f.clusterPort) return false;
  if (f.target !== undefined && c.target !== f.target) return false;
  if (f.protocol !== undefined && c.protocol !== f.protocol) return false;
  if (f.client !== undefined && c.client !== f.client && hostPort(c.client, c.clientPort) !== f.client) return false;
  return true;
}
