// Loader and types for the batched UDP I/O addon (native/udp_batch.c, built by `npm ci` with node-gyp).
// Owns: finding the compiled addon and reading a bound dgram socket's descriptor. When either is impossible the
// reason is kept, and udp.ts answers through node:dgram instead.
import fs from 'node:fs';
import type dgram from 'node:dgram';
import { loadAddon } from '../net/addon.js';

/** Per-slot layout of `meta` (Int32 words); mirrors the comment at the top of native/udp_batch.c. */
export const META_IN_LEN = 0;
export const META_OUT_LEN = 1;
export const META_FAMILY = 2;
export const META_PORT = 3;
export const META_ADDR = 4;

export interface BatchIo {
  handle: object;
  /** batch × inSlot bytes: datagram i at i × inSlot. */
  in: ArrayBuffer;
  /** batch × outSlot bytes: response i at i × outSlot. */
  out: ArrayBuffer;
  meta: ArrayBuffer;
  stride: number;
}

export interface BatchStats {
  batches: number;
  packets: number;
  /** Datagrams longer than a slot: dropped. */
  truncated: number;
  /** Responses the kernel refused (full send buffer, unreachable peer). */
  sendErrors: number;
}

interface Addon {
  attach(fd: number, batch: number, inSlot: number, outSlot: number, onBatch: (n: number) => void): BatchIo;
  detach(handle: object): void;
  stats(handle: object): BatchStats;
}

const loaded = loadAddon<Addon>('waymark_udp', 'recvmmsg/sendmmsg are Linux-only');
/** The addon, or null; `batchUnavailable` then says why. */
export const batchAddon: Addon | null = loaded.addon;
export const batchUnavailable: string = loaded.reason;

interface UdpHandle { fd?: unknown; recvStop?: () => number }

/**
 * The descriptor of a bound dgram socket, with Node's own reading stopped, or null when this Node does not expose
 * them. Node keeps the socket (bind, cluster sharing between workers, close); the addon reads and writes a duplicate.
 * The handle sits behind dgram's internal state symbol: public API has no way to hand a socket to native code.
 */
export function takeOverReading(sock: dgram.Socket): number | null {
  const sym = Object.getOwnPropertySymbols(sock).find((s) => s.description === 'state symbol');
  if (sym === undefined) return null;
  const state = (sock as unknown as Record<symbol, { handle?: UdpHandle } | undefined>)[sym];
  const handle = state?.handle;
  if (handle === undefined || typeof handle.fd !== 'number' || handle.fd < 0 || typeof handle.recvStop !== 'function') return null;
  handle.recvStop();
  return handle.fd;
}
