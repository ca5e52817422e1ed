// TCP listener (RFC 1035 §4.2.2 framing, RFC 7766): pipelined queries, idle timeout, connection and per-connection
// query caps, and back-pressure so a client that does not read cannot make us buffer without bound.
// Owns: connection lifecycle only; answers come from the worker's Responder.
import net from 'node:net';
import { Responder, TRANSPORT_TCP } from './responder.js';

export interface TcpLimits {
  /** Close a connection idle this long (RFC 7766 §6.2.3). */
  idleTimeoutMs: number;
  /** Concurrent connections per worker; more are refused at accept. */
  maxConnections: number;
  /** Queries answered on one connection before we close it. */
  maxQueriesPerConnection: number;
}

export interface TcpListenerOptions extends TcpLimits {
  host: string;
  port: number;
  exclusive?: boolean;
}

export function listenTcp(opts: TcpListenerOptions, responder: Responder): Promise<net.Server> {
  const server = net.createServer({ noDelay: true, pauseOnConnect: false });
  server.maxConnections = opts.maxConnections;
  server.on('connection', (socket) => serveConnection(socket, responder, opts));
  server.on('error', () => {});
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.host, port: opts.port, exclusive: opts.exclusive ?? false, ipv6Only: opts.host.includes(':') }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function serveConnection(socket: net.Socket, responder: Responder, limits: TcpLimits): void {
  let pending: Buffer = Buffer.alloc(0);
  let answered = 0;
  let closing = false;
  const client = socket.remoteAddress ?? '';
  socket.setTimeout(limits.idleTimeoutMs, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('drain', () => socket.resume());
  socket.on('data', (chunk: Buffer) => {
    if (closing) return;
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let off = 0;
    while (pending.length - off >= 2) {
      const len = pending.readUInt16BE(off);
      if (pending.length - off - 2 < len) break;
      const msg = pending.subarray(off + 2, off + 2 + len);
      off += 2 + len;
      const rlen = responder.respond(msg, TRANSPORT_TCP, client);
      if (rlen >= 0) {
        const frame = Buffer.allocUnsafe(rlen + 2);
        frame.writeUInt16BE(rlen, 0);
        responder.response.copy(frame, 2, 0, rlen);
        if (!socket.write(frame)) socket.pause();
      }
      if (++answered >= limits.maxQueriesPerConnection) {
        closing = true;
        socket.end();
        return;
      }
    }
    pending = off === pending.length ? Buffer.alloc(0) : pending.subarray(off);
  });
}
