// A DNS server in this process: UDP and TCP listeners on every listen address, sharing one Responder.
// Owns: starting/stopping listeners and swapping the snapshot they read (one assignment: atomic for the event loop).
// In a cluster worker the sockets are shared with the other workers by Node's cluster module.
import type net from 'node:net';
import { Responder } from './responder.js';
import { listenUdp, type UdpListener, type UdpTransportMode } from './udp.js';
import { listenTcp, type TcpLimits } from './tcp.js';
import { ResponseRateLimiter, type RrlOptions } from './rrl.js';
import type { Snapshot } from '../answer/snapshot.js';
import type { BatchStats } from './udp-batch.js';

export interface ListenAddress { host: string; port: number }

export interface DnsServerOptions {
  listen: ListenAddress[];
  udpPayload: number;
  tcp: TcpLimits;
  rrl: RrlOptions;
  /** Bound on in-memory persistence records (LRU beyond it). */
  maxPersistenceRecords?: number;
  /** UDP I/O: batched recvmmsg/sendmmsg when the addon is built (auto), or node:dgram. */
  udpTransport?: UdpTransportMode;
  /** Own the sockets exclusively (tests, single-process); false lets cluster workers share them. */
  exclusive?: boolean;
}

export class DnsServer {
  readonly responder: Responder;
  readonly rrl: ResponseRateLimiter | null;
  readonly udp: UdpListener[] = [];
  private readonly tcp: net.Server[] = [];
  /** The addresses actually bound (port 0 in the options becomes a real port). */
  readonly bound: ListenAddress[] = [];

  private constructor(snapshot: Snapshot, readonly options: DnsServerOptions) {
    this.responder = new Responder(snapshot, options.udpPayload, options.maxPersistenceRecords);
    this.rrl = options.rrl.enabled ? new ResponseRateLimiter(options.rrl) : null;
  }

  static async start(snapshot: Snapshot, options: DnsServerOptions): Promise<DnsServer> {
    const server = new DnsServer(snapshot, options);
    try {
      for (const l of options.listen) {
        const exclusive = options.exclusive ?? true;
        // Port 0: TCP takes the port UDP was given, so one address serves both transports. That port may already be
        // taken for TCP; then try another (a fixed port is the operator's choice and fails at once).
        for (let attempt = 0; ; attempt++) {
          const sock = await listenUdp({ host: l.host, port: l.port, exclusive, transport: options.udpTransport, udpPayload: options.udpPayload }, server.responder, server.rrl);
          const port = sock.port;
          try {
            const tcp = await listenTcp({ host: l.host, port, exclusive, ...options.tcp }, server.responder);
            server.udp.push(sock);
            server.tcp.push(tcp);
            server.bound.push({ host: l.host, port });
            break;
          } catch (e) {
            sock.close();
            if (l.port !== 0 || attempt >= 20 || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
          }
        }
      }
    } catch (e) {
      await server.close();
      throw e;
    }
    return server;
  }

  /** Batched UDP counters summed over this server's listeners (zero for node:dgram listeners). */
  udpStats(): BatchStats {
    const total: BatchStats = { batches: 0, packets: 0, truncated: 0, sendErrors: 0 };
    for (const l of this.udp) {
      const s = l.stats();
      if (s === null) continue;
      total.batches += s.batches;
      total.packets += s.packets;
      total.truncated += s.truncated;
      total.sendErrors += s.sendErrors;
    }
    return total;
  }

  get snapshot(): Snapshot {
    return this.responder.snapshot;
  }

  /** Swap in a new snapshot: queries already being answered finish on the old one, the next one reads the new. */
  swap(snapshot: Snapshot): void {
    this.responder.setSnapshot(snapshot);
  }

  async close(): Promise<void> {
    for (const s of this.udp) s.close();
    await Promise.all(this.tcp.map((t) => new Promise<void>((r) => {
      t.close(() => r());
      // Existing connections would keep close() pending until their idle timeout.
      (t as net.Server & { closeAllConnections?: () => void }).closeAllConnections?.();
    })));
  }
}
