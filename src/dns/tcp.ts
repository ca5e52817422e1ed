// TCP listener (RFC 1035 §4.2.2 framing, RFC 7766): pipelined queries, idle timeout, connection and per-connection
// query caps, and back-pressure so a client that does not read cannot make us buffer without bound.
// Owns: connection lifecycle only; answers come from the worker's Responder.
import net from 'node:net';
import { DEFERRED, Responder, TRANSPORT_TCP } from './responder.js';

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
  // Chunks are kept as received and joined only once a whole frame is there: a frame trickled in byte by byte
  // costs linear copying, not quadratic.
  const chunks: Buffer[] = [];
  let buffered = 0;
  let answered = 0;
  let closing = false;
  /** Answers still to come (deferred messages): the connection ends once they are written. */
  let owed = 0;
  const client = socket.remoteAddress ?? '';
  const write = (response: Buffer, len: number): void => {
    const frame = Buffer.allocUnsafe(len + 2);
    frame.writeUInt16BE(len, 0);
    response.copy(frame, 2, 0, len);
    if (!socket.write(frame)) socket.pause();
  };
  socket.setTimeout(limits.idleTimeoutMs, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('drain', () => socket.resume());
  const frameLength = (): number => {
    const first = chunks[0]!;
    return first.length >= 2 ? first.readUInt16BE(0) : (first[0]! << 8) | chunks[1]![0]!;
  };
  socket.on('data', (chunk: Buffer) => {
    if (closing) return;
    chunks.push(chunk);
    buffered += chunk.length;
    while (buffered >= 2) {
      const len = frameLength();
      if (buffered < 2 + len) return;
      const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, buffered);
      chunks.length = 0;
      let off = 0;
      while (all.length - off >= 2 && all.length - off - 2 >= all.readUInt16BE(off)) {
        const flen = all.readUInt16BE(off);
        const msg = all.subarray(off + 2, off + 2 + flen);
        off += 2 + flen;
        const rlen = responder.respond(msg, TRANSPORT_TCP, client);
        if (rlen >= 0) write(responder.response, rlen);
        else if (rlen === DEFERRED) {
          owed++;
          responder.takeDeferred((r) => {
            owed--;
            if (r !== null && !socket.destroyed && socket.writable) write(r, r.length);
            if (closing && owed === 0) socket.end();
          });
        }
        if (++answered >= limits.maxQueriesPerConnection) {
          closing = true;
          if (owed === 0) socket.end();
          return;
        }
      }
      buffered = all.length - off;
      if (buffered > 0) chunks.push(all.subarray(off));
    }
  });
}
