// The HTTPS monitor: the HTTP check over TLS, with SNI from `sni` or `host` and an opt-in `insecure` mode.
// Owns: choosing the TLS server name (never an IP address) and certificate policy; the exchange itself is http.ts's.
// Must never throw or reject; a certificate problem is a failed probe with the verification code in its detail.
import net from 'node:net';
import type { MonitorSpec } from '../../config/schema.js';
import type { MonitorType } from '../monitor.js';
import { exchangeHttp, hostHeader, judgeHttp } from './http.js';
import { errorWord } from './tcp.js';

type HttpsSpec = Extract<MonitorSpec, { type: 'https' }>;

/** The TLS server name for a spec: `sni`, else `host` without a port; '' (no SNI) when that is empty or an IP. */
export function serverName(spec: { sni?: string | undefined; host?: string | undefined }): string {
  let name = spec.sni ?? spec.host ?? '';
  if (spec.sni === undefined) {
    // A Host header may carry a port ("www.example.com:8443", "[::1]:8443"); the server name never does.
    const m = /^(\[[^\]]*\]|[^:]*)(?::\d+)?$/.exec(name);
    if (m) name = m[1]!;
  }
  name = name.replace(/^\[|\]$/g, '').replace(/\.$/, '');
  return net.isIP(name) !== 0 ? '' : name;
}

export const httpsMonitor: MonitorType<HttpsSpec> = {
  type: 'https',
  defaultPort: 443,
  probe(spec, target, timeoutMs) {
    return judgeHttp(spec.expect, (wantBody) => exchangeHttp(target, timeoutMs, {
      method: spec.method,
      path: spec.path,
      host: hostHeader(spec.host, target, 443),
      tls: { servername: serverName(spec), insecure: spec.insecure },
      wantBody,
    })).catch((err: unknown) => ({ ok: false, rttMs: 0, detail: `probe error: ${errorWord(err)}` }));
  },
};
