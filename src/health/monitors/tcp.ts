// The TCP connect monitor, and the bounded TCP dialog the other stream monitors (send/expect, DNS over TCP) run on.
// Owns: one connection to a target under a hard deadline, with an exchange script deciding the verdict.
// Must never throw, reject or leave a socket open past the deadline.
// Also home of the small pieces every probe shares (deadline bounds, detail wording, regex compilation).
import net from 'node:net';
import type { MonitorSpec } from '../../config/schema.js';
import type { MonitorType, ProbeResult, ProbeTarget } from '../monitor.js';

/** What a probe may wait for at most (setTimeout's ceiling), and at least 1 ms. */
export function boundTimeout(timeoutMs: number): number {
  if (!Number.isFinite(timeoutMs) || timeoutMs < 1) return 1;
  return Math.min(Math.round(timeoutMs), 2_147_483_647);
}

/** "timeout after 300 ms (waiting for reply)". */
export function timeoutDetail(timeoutMs: number, waiting: string): string {
  return `timeout after ${timeoutMs} ms (${waiting})`;
}

/** An error's code ("ECONNREFUSED") or, without one, its message. */
export function errorWord(err: unknown): string {
  if (err && typeof err === 'object') {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    const message = (err as { message?: unknown }).message;
    if (typeof message === 'string' && message !== '') return message;
  }
  return String(err);
}

/** Milliseconds since `start`, rounded to microseconds. */
export function since(start: number): number {
  return Math.round((performance.now() - start) * 1000) / 1000;
}

/** A short, printable excerpt of a reply for operators: `"500 nope\r\n"` (at most `max` characters). */
export function excerpt(text: string, max = 40): string {
  const cut = text.length > max ? text.slice(0, max) : text;
  const shown = JSON.stringify(cut).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return text.length > max ? `${shown}…` : shown;
}

/** Compile a configured regex, or say why it cannot be used. */
export function compileRegex(source: string): RegExp | string {
  try {
    return new RegExp(source);
  } catch (err) {
    return `invalid regular expression /${source}/: ${(err as Error).message}`;
  }
}

/** The script of one TCP exchange: each step may return the verdict; returning undefined keeps waiting. */
export interface TcpDialog {
  /** Connected: write the request here. `rttMs` is the connect time. */
  connected(socket: net.Socket, rttMs: number): ProbeResult | undefined;
  /** A chunk of the reply arrived; `rttMs` is the time since connect started. */
  data?(chunk: Buffer, rttMs: number): ProbeResult | undefined;
  /** The peer closed its side before a verdict. */
  ended(rttMs: number): ProbeResult;
  /** What a timeout after connecting was waiting for ("waiting for reply"), shown in parentheses. */
  waiting(): string;
}

/**
 * Connect to `target` and run `dialog` until it returns a verdict, the peer closes or `timeoutMs` passes.
 * After a verdict the socket is ended cleanly (FIN); it is destroyed at the deadline at the latest.
 */
export function runTcpDialog(target: ProbeTarget, timeoutMs: number, dialog: TcpDialog): Promise<ProbeResult> {
  const limit = boundTimeout(timeoutMs);
  return new Promise<ProbeResult>((resolve) => {
    const start = performance.now();
    let settled = false;
    let connected = false;
    let socket: net.Socket | undefined;

    const finish = (result: ProbeResult, graceful: boolean): void => {
      if (settled) return;
      settled = true;
      resolve(result);
      if (!socket) return;
      if (graceful && connected && !socket.destroyed) {
        socket.removeAllListeners('data');
        socket.resume(); // drain whatever the peer still sends so its FIN is seen
        socket.end();
      } else {
        socket.destroy();
      }
    };
    // Decides a timeout before the verdict, and bounds the graceful close after it.
    const timer = setTimeout(() => {
      if (!settled) {
        finish({ ok: false, rttMs: since(start), detail: timeoutDetail(limit, connected ? dialog.waiting() : 'connecting') }, false);
      }
      socket?.destroy();
    }, limit);
    const step = (verdict: () => ProbeResult | undefined): void => {
      if (settled) return;
      let result: ProbeResult | undefined;
      try {
        result = verdict();
      } catch (err) {
        result = { ok: false, rttMs: since(start), detail: `probe error: ${errorWord(err)}` };
      }
      if (result) finish(result, true);
    };

    try {
      socket = net.connect({ host: target.address, port: target.port, allowHalfOpen: false });
    } catch (err) {
      clearTimeout(timer);
      finish({ ok: false, rttMs: since(start), detail: `connect ${errorWord(err)}` }, false);
      return;
    }
    const s = socket;
    s.setNoDelay(true);
    s.on('error', (err) => {
      finish({ ok: false, rttMs: since(start), detail: connected ? `connection ${errorWord(err)}` : `connect ${errorWord(err)}` }, false);
    });
    s.on('close', () => {
      clearTimeout(timer);
      if (!settled) finish({ ok: false, rttMs: since(start), detail: connected ? 'connection closed' : 'connect failed' }, false);
    });
    s.once('connect', () => {
      connected = true;
      const rtt = since(start);
      step(() => dialog.connected(s, rtt));
    });
    s.on('data', (chunk: Buffer) => {
      step(() => (dialog.data ? dialog.data(chunk, since(start)) : undefined));
    });
    s.on('end', () => {
      step(() => dialog.ended(since(start)));
    });
  });
}

type TcpSpec = Extract<MonitorSpec, { type: 'tcp' }>;

/** Connect, then close cleanly; ok when the connection was accepted. */
export const tcpMonitor: MonitorType<TcpSpec> = {
  type: 'tcp',
  defaultPort: 80,
  probe(_spec, target, timeoutMs) {
    return runTcpDialog(target, timeoutMs, {
      connected: (_socket, rttMs) => ({ ok: true, rttMs, detail: `connected in ${rttMs.toFixed(1)} ms` }),
      ended: (rttMs) => ({ ok: false, rttMs, detail: 'connection closed' }),
      waiting: () => 'connecting',
    });
  },
};
