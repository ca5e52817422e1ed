// The HTTP monitor, and the one bounded HTTP(S) exchange that the https and agent monitors share.
// Owns: one request (no keep-alive, no redirects followed) under a hard deadline, its status and capped body.
// Must never throw, reject, follow a redirect, or leave a socket behind the deadline.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { MonitorSpec } from '../../config/schema.js';
import type { MonitorType, ProbeResult, ProbeTarget } from '../monitor.js';
import { boundTimeout, compileRegex, errorWord, excerpt, since, timeoutDetail } from './tcp.js';

/** Bytes of a body kept for matching. */
export const BODY_CAP = 64 * 1024;

export interface HttpRequestPlan {
  method: string;
  path: string;
  /** The Host header. */
  host: string;
  /** Present for HTTPS: the TLS server name ('' sends none) and whether any certificate is accepted. */
  tls?: { servername: string; insecure: boolean };
  /** Whether the body is needed to decide, given the status (it is then read up to `bodyCap`). */
  wantBody(status: number): boolean;
  bodyCap?: number;
}

export type HttpOutcome =
  | { ok: true; status: number; body: Buffer | undefined; truncated: boolean; rttMs: number }
  | { ok: false; result: ProbeResult };

/** OpenSSL's certificate verification codes and Node's name check. */
const CERT_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY|HOSTNAME/;

/** The Host header for a target: `host` as configured, else the address (bracketed IPv6) with a non-default port. */
export function hostHeader(host: string | undefined, target: ProbeTarget, defaultPort: number): string {
  if (host !== undefined && host !== '') return host;
  const addr = net.isIPv6(target.address) ? `[${target.address}]` : target.address;
  return target.port === defaultPort ? addr : `${addr}:${target.port}`;
}

/**
 * Send one request to `target` and wait for the status line (and, when `wantBody` says so, the body up to the cap).
 * rttMs runs from connect start to the response head. After the verdict the response is drained up to the cap so
 * the connection closes normally; it is destroyed at the deadline at the latest.
 */
export function exchangeHttp(target: ProbeTarget, timeoutMs: number, plan: HttpRequestPlan): Promise<HttpOutcome> {
  const limit = boundTimeout(timeoutMs);
  const cap = plan.bodyCap ?? BODY_CAP;
  return new Promise<HttpOutcome>((resolve) => {
    const start = performance.now();
    let settled = false;
    let phase = 'connecting';
    let req: http.ClientRequest | undefined;

    const fail = (detail: string, rttMs = since(start)): void => settle({ ok: false, result: { ok: false, rttMs, detail } });
    const settle = (outcome: HttpOutcome): void => {
      if (settled) return;
      settled = true;
      resolve(outcome);
      if (!outcome.ok) req?.destroy();
    };
    const timer = setTimeout(() => {
      fail(timeoutDetail(limit, phase));
      req?.destroy();
    }, limit);

    const headers = { Host: plan.host, Connection: 'close', 'User-Agent': 'waymark-monitor', Accept: '*/*' };
    const common = {
      host: target.address,
      port: target.port,
      method: plan.method,
      path: plan.path,
      headers,
      agent: false as const,
      setHost: false,
    };
    try {
      req = plan.tls
        ? https.request({
          ...common,
          servername: plan.tls.servername,
          rejectUnauthorized: !plan.tls.insecure,
        })
        : http.request(common);
    } catch (err) {
      clearTimeout(timer);
      fail(`request not sent: ${errorWord(err)}`);
      return;
    }
    const r = req;
    r.on('socket', (socket) => {
      socket.once(plan.tls ? 'secureConnect' : 'connect', () => { phase = 'waiting for response'; });
      if (plan.tls) socket.once('connect', () => { phase = 'TLS handshake'; });
    });
    r.on('close', () => clearTimeout(timer));
    r.on('error', (err) => {
      const word = errorWord(err);
      if (CERT_ERROR.test(word)) fail(`certificate rejected: ${word} (${String((err as Error).message).slice(0, 120)})`);
      else if (word.startsWith('HPE_')) fail(`bad HTTP reply: ${word}`);
      else if (phase === 'connecting') fail(`connect ${word}`);
      else if (phase === 'TLS handshake') fail(`TLS handshake ${word}`);
      else fail(`${word} while ${phase}`);
    });
    r.on('response', (res) => {
      const rttMs = since(start);
      const status = res.statusCode ?? 0;
      res.on('error', () => { /* the request's error handler or the deadline decides */ });
      let size = 0;
      const chunks: Buffer[] = [];
      const needBody = !settled && plan.wantBody(status);
      if (!needBody) settle({ ok: true, status, body: undefined, truncated: false, rttMs });
      else phase = 'reading body';
      res.on('data', (chunk: Buffer) => {
        const room = cap - size;
        if (needBody && !settled) chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
        size += chunk.length;
        if (size >= cap) {
          settle({ ok: true, status, body: Buffer.concat(chunks), truncated: size > cap, rttMs });
          res.destroy(); // not read past the cap
          r.destroy();
        }
      });
      res.on('end', () => settle({ ok: true, status, body: Buffer.concat(chunks), truncated: false, rttMs }));
      res.on('close', () => { if (!res.complete) fail(`connection closed while ${phase}`, rttMs); });
    });
    r.end();
  });
}

/** "HTTP 503 (expected 200)" / "(expected 200, 204)". */
export function statusDetail(status: number, expected: readonly number[]): string {
  return `HTTP ${status} (expected ${expected.join(', ')})`;
}

/** Decide an http/https probe from its outcome: status in `expect.status` and, if set, the body matching. */
export async function judgeHttp(
  expect: { status: number[]; body?: string | undefined },
  run: (wantBody: (status: number) => boolean) => Promise<HttpOutcome>,
): Promise<ProbeResult> {
  const start = performance.now();
  const bodyRe = expect.body === undefined ? undefined : compileRegex(expect.body);
  if (typeof bodyRe === 'string') return { ok: false, rttMs: since(start), detail: bodyRe };
  const outcome = await run((status) => bodyRe !== undefined && expect.status.includes(status));
  if (!outcome.ok) return outcome.result;
  const { status, rttMs } = outcome;
  if (!expect.status.includes(status)) return { ok: false, rttMs, detail: statusDetail(status, expect.status) };
  if (bodyRe) {
    const text = (outcome.body ?? Buffer.alloc(0)).toString('utf8');
    if (!bodyRe.test(text)) {
      const within = outcome.truncated ? ` in the first ${BODY_CAP} bytes` : '';
      return { ok: false, rttMs, detail: `body did not match /${expect.body}/${within}, got ${excerpt(text)}` };
    }
    return { ok: true, rttMs, detail: `HTTP ${status}, body matched /${expect.body}/` };
  }
  return { ok: true, rttMs, detail: `HTTP ${status}` };
}

type HttpSpec = Extract<MonitorSpec, { type: 'http' }>;

export const httpMonitor: MonitorType<HttpSpec> = {
  type: 'http',
  defaultPort: 80,
  probe(spec, target, timeoutMs) {
    return judgeHttp(spec.expect, (wantBody) => exchangeHttp(target, timeoutMs, {
      method: spec.method,
      path: spec.path,
      host: hostHeader(spec.host, target, 80),
      wantBody,
    })).catch((err: unknown) => ({ ok: false, rttMs: 0, detail: `probe error: ${errorWord(err)}` }));
  },
};
