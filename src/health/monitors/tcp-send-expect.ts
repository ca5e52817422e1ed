// The TCP send/expect monitor: connect, write the configured request, read until the reply matches a regex.
// Owns: turning `send` into bytes and matching the accumulated reply (latin1) against `expect`.
// Must never throw, and never accumulate more than REPLY_CAP bytes of a reply.
import type { MonitorSpec } from '../../config/schema.js';
import type { MonitorType, ProbeResult } from '../monitor.js';
import { compileRegex, excerpt, runTcpDialog, since } from './tcp.js';

type SendExpectSpec = Extract<MonitorSpec, { type: 'tcp-send-expect' }>;

/** Bytes of a reply kept for matching; a reply still unmatched at this size fails. */
export const REPLY_CAP = 64 * 1024;

/**
 * The bytes to send for a configured string: one byte per character when every character is below 256
 * (so "\x00\x01" escapes in YAML send exactly those bytes), otherwise UTF-8.
 */
export function sendBytes(send: string): Buffer {
  for (let i = 0; i < send.length; i++) {
    if (send.charCodeAt(i) > 0xff) return Buffer.from(send, 'utf8');
  }
  return Buffer.from(send, 'latin1');
}

export const tcpSendExpectMonitor: MonitorType<SendExpectSpec> = {
  type: 'tcp-send-expect',
  defaultPort: 80,
  async probe(spec, target, timeoutMs) {
    const start = performance.now();
    const expect = compileRegex(spec.expect);
    if (typeof expect === 'string') return { ok: false, rttMs: since(start), detail: expect };
    const request = sendBytes(spec.send ?? '');
    let reply = ''; // latin1: one character per byte, so chunks decode independently
    const mismatch = (): string => `reply did not match /${spec.expect}/, got ${excerpt(reply)}`;
    return runTcpDialog(target, timeoutMs, {
      connected(socket) {
        if (request.length > 0) socket.write(request);
        return undefined;
      },
      data(chunk, rttMs): ProbeResult | undefined {
        const room = REPLY_CAP - reply.length;
        reply += (chunk.length > room ? chunk.subarray(0, room) : chunk).toString('latin1');
        if (expect.test(reply)) return { ok: true, rttMs, detail: `reply matched /${spec.expect}/` };
        if (reply.length >= REPLY_CAP) return { ok: false, rttMs, detail: `reply did not match /${spec.expect}/ in the first ${REPLY_CAP} bytes` };
        return undefined;
      },
      ended(rttMs) {
        return { ok: false, rttMs, detail: reply === '' ? 'connection closed without a reply' : `connection closed: ${mismatch()}` };
      },
      waiting: () => (reply === '' ? 'waiting for reply' : mismatch()),
    });
  },
};
