// UDP listener: one socket per listen address, answering from the worker's Responder.
// Owns: the UDP receive/send loop, RRL on outgoing responses, and the choice of I/O: batched (recvmmsg/sendmmsg
// through native/udp_batch.c, one call into JS per batch) or node:dgram (one callback per packet).
// Either way Node binds the socket, so cluster workers share it exactly as before. Never blocks: a batch or a
// message is handled to completion synchronously.
import dgram from 'node:dgram';
import { DEFERRED, Responder, TRANSPORT_UDP } from './responder.js';
import { truncateInPlace } from '../wire/response.js';
import { RCODE } from '../wire/types.js';
import { ResponseRateLimiter, RRL_PASS, RRL_SLIP, RRL_ANSWER, RRL_NXDOMAIN, RRL_ERROR } from './rrl.js';
import { batchAddon, batchUnavailable, takeOverReading, META_ADDR, META_FAMILY, META_IN_LEN, META_OUT_LEN, META_PORT, type BatchStats } from './udp-batch.js';

/** `auto`: batched when the addon is built, else dgram. `batched`: fail to start without it. */
export type UdpTransportMode = 'auto' | 'batched' | 'dgram';

export interface UdpListenerOptions {
  host: string;
  port: number;
  /** Exclusive socket (no cluster sharing): for in-process servers in tests. */
  exclusive?: boolean;
  transport?: UdpTransportMode;
  /** Largest UDP response we may send (server.udpPayload): sizes the batched transport's out-slots. */
  udpPayload?: number;
}

export interface UdpListener {
  readonly port: number;
  readonly transport: 'batched' | 'dgram';
  /** Batched transport counters; null for dgram. */
  stats(): BatchStats | null;
  close(): void;
}

/** Datagrams per recvmmsg/sendmmsg: measured, 64 gives the full gain; more only adds latency under load. */
const BATCH = 64;
/** A UDP DNS query longer than this is dropped (resolvers send a few hundred bytes; 4096 is EDNS's usual ceiling). */
const IN_SLOT = 4096;

function rrlCategory(rcode: number): 0 | 1 | 2 {
  if (rcode === RCODE.NOERROR) return RRL_ANSWER;
  if (rcode === RCODE.NXDOMAIN) return RRL_NXDOMAIN;
  return RRL_ERROR;
}

/**
 * Response rate limiting for the response of `len` bytes just written for `responder.peer`: the length to send
 * (truncated in place when slipped), or -1 to send nothing.
 */
function rateLimited(responder: Responder, rrl: ResponseRateLimiter, len: number, nowMs: number): number {
  const verdict = rrl.accountPeer(responder.peer, rrlCategory(responder.lastRcode), nowMs);
  if (verdict === RRL_PASS) return len;
  return verdict === RRL_SLIP ? truncateInPlace(responder.response, len) : -1;
}

/**
 * Whether a message answered later (an UPDATE, an IXFR) from `responder.peer` may go to the control plane: it counts
 * against the prefix's error budget, so a flood of them (spoofed, unsigned) is dropped here, not queued there.
 */
function deferralAllowed(responder: Responder, rrl: ResponseRateLimiter | null, nowMs: number): boolean {
  return rrl === null || rrl.accountPeer(responder.peer, RRL_ERROR, nowMs) === RRL_PASS;
}

function bind(opts: UdpListenerOptions): Promise<dgram.Socket> {
  const family = opts.host.includes(':') ? 'udp6' : 'udp4';
  const sock = dgram.createSocket({ type: family, ipv6Only: family === 'udp6', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
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

export async function listenUdp(opts: UdpListenerOptions, responder: Responder, rrl: ResponseRateLimiter | null): Promise<UdpListener> {
  const mode = opts.transport ?? 'auto';
  if (mode === 'batched' && batchAddon === null) throw new Error(`server.udpTransport is "batched" but the native transport is unavailable: ${batchUnavailable}`);
  const sock = await bind(opts);
  const port = sock.address().port;
  if (mode !== 'dgram' && batchAddon !== null) {
    const fd = takeOverReading(sock);
    if (fd !== null) return batched(sock, port, fd, opts.udpPayload ?? 1232, responder, rrl);
    if (mode === 'batched') {
      sock.close();
      throw new Error('server.udpTransport is "batched" but this Node does not expose the UDP socket descriptor');
    }
  }
  return viaDgram(sock, port, responder, rrl);
}

function viaDgram(sock: dgram.Socket, port: number, responder: Responder, rrl: ResponseRateLimiter | null): UdpListener {
  sock.on('message', (msg, rinfo) => {
    // A send still queued in libuv holds our response buffer: take a fresh one rather than overwrite it.
    if (sock.getSendQueueCount() > 0) responder.renewBuffer();
    let len = responder.respond(msg, TRANSPORT_UDP, rinfo.address);
    if (len === DEFERRED) {
      if (!deferralAllowed(responder, rrl, Date.now())) return responder.takeDeferred(null);
      return responder.takeDeferred((r) => { if (r !== null) sock.send(r, rinfo.port, rinfo.address); });
    }
    if (len >= 0 && rrl !== null) len = rateLimited(responder, rrl, len, Date.now());
    if (len < 0) return;
    sock.send(responder.response, 0, len, rinfo.port, rinfo.address);
  });
  return { port, transport: 'dgram', stats: () => null, close: () => { try { sock.close(); } catch { /* already closed */ } } };
}

function batched(sock: dgram.Socket, port: number, fd: number, udpPayload: number, responder: Responder, rrl: ResponseRateLimiter | null): UdpListener {
  const addon = batchAddon!;
  // Every response fits its slot when slots are as large as the largest response we send; 4096 covers the usual
  // payload settings without reserving 64 KiB per slot.
  const outSlot = Math.max(4096, Math.min(udpPayload, 65536));
  let onBatch: (n: number) => void = () => {};
  const io = addon.attach(fd, BATCH, IN_SLOT, outSlot, (n) => onBatch(n));
  // Views made once: the query path indexes them and allocates nothing per packet.
  const slots: Buffer[] = [];
  for (let i = 0; i < BATCH; i++) slots.push(Buffer.from(io.in, i * IN_SLOT, IN_SLOT));
  const out = Buffer.from(io.out);
  const meta = new Int32Array(io.meta);
  const metaWords = new Uint32Array(io.meta);
  const stride = io.stride;
  const peer = responder.peer;
  const counters = responder.counters;
  onBatch = (n: number): void => {
    const now = rrl !== null ? Date.now() : 0;
    for (let i = 0; i < n; i++) {
      const m = i * stride;
      const inLen = meta[m + META_IN_LEN]!;
      if (inLen < 0) {
        counters.queries++;
        counters.dropped++;
        continue;
      }
      const w = peer.w;
      w[0] = metaWords[m + META_ADDR]!;
      w[1] = metaWords[m + META_ADDR + 1]!;
      w[2] = metaWords[m + META_ADDR + 2]!;
      w[3] = metaWords[m + META_ADDR + 3]!;
      peer.setWords(meta[m + META_FAMILY] as 0 | 4 | 6);
      let len = responder.answer(slots[i]!, inLen, TRANSPORT_UDP);
      if (len === DEFERRED) {
        if (!deferralAllowed(responder, rrl, Date.now())) { responder.takeDeferred(null); continue; }
        const to = meta[m + META_PORT]!;
        const address = peer.toString();
        responder.takeDeferred((r) => { if (r !== null) sock.send(r, to, address); });
        continue;
      }
      if (len >= 0 && rrl !== null) len = rateLimited(responder, rrl, len, now);
      if (len < 0) continue;
      if (len <= outSlot) {
        responder.response.copy(out, i * outSlot, 0, len);
        meta[m + META_OUT_LEN] = len;
      } else {
        // Cannot happen while outSlot ≥ udpPayload; kept so that a larger response is sent rather than lost.
        sock.send(Buffer.from(responder.response.subarray(0, len)), meta[m + META_PORT]!, peer.toString());
      }
    }
  };
  let closed = false;
  return {
    port,
    transport: 'batched',
    stats: () => (closed ? null : addon.stats(io.handle)),
    close: () => {
      if (closed) return;
      closed = true;
      addon.detach(io.handle);
      try { sock.close(); } catch { /* already closed */ }
    },
  };
}
