// UDP listener: one socket per listen address, answering from the worker's Responder.
// Owns: the UDP receive/send loop, RRL on outgoing responses, and reuse of the response buffer.
// Never blocks: a message handler runs to completion synchronously.
import dgram from 'node:dgram';
import { Responder, TRANSPORT_UDP } from './responder.js';
import { truncateInPlace } from '../wire/response.js';
import { RCODE } from '../wire/types.js';
import { ResponseRateLimiter, RRL_PASS, RRL_SLIP, RRL_ANSWER, RRL_NXDOMAIN, RRL_ERROR } from './rrl.js';

export interface UdpListenerOptions {
  host: string;
  port: number;
  /** Exclusive socket (no cluster sharing): for in-process servers in tests. */
  exclusive?: boolean;
}

function rrlCategory(rcode: number): 0 | 1 | 2 {
  if (rcode === RCODE.NOERROR) return RRL_ANSWER;
  if (rcode === RCODE.NXDOMAIN) return RRL_NXDOMAIN;
  return RRL_ERROR;
}

export function listenUdp(opts: UdpListenerOptions, responder: Responder, rrl: ResponseRateLimiter | null): Promise<dgram.Socket> {
  const family = opts.host.includes(':') ? 'udp6' : 'udp4';
  const sock = dgram.createSocket({ type: family, ipv6Only: family === 'udp6', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
  sock.on('message', (msg, rinfo) => {
    // A send still queued in libuv holds our response buffer: take a fresh one rather than overwrite it.
    if (sock.getSendQueueCount() > 0) responder.renewBuffer();
    let len = responder.respond(msg, TRANSPORT_UDP, rinfo.address);
    if (len < 0) return;
    if (rrl !== null) {
      const verdict = rrl.account(rinfo.address, rrlCategory(responder.lastRcode), Date.now());
      if (verdict !== RRL_PASS) {
        if (verdict !== RRL_SLIP) return;
        len = truncateInPlace(responder.response, len);
      }
    }
    sock.send(responder.response, 0, len, rinfo.port, rinfo.address);
  });
  // Errors on a UDP socket (ICMP unreachable surfacing as ECONNREFUSED, etc.) must not end the process.
  sock.on('error', () => {});
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind({ address: opts.host, port: opts.port, exclusive: opts.exclusive ?? false }, () => {
      sock.off('error', reject);
      resolve(sock);
    });
  });
}
