// The registry of monitor types (SPEC H1): the one place that lists them, and the dispatch of a probe by spec type.
// Owns: which monitor types exist. Adding a type is one file beside this one and one line below.
// Must never throw: an unknown type or a probe that misbehaves is a failed ProbeResult.
import type { MonitorSpec } from '../../config/schema.js';
import type { MonitorType, ProbeResult, ProbeTarget } from '../monitor.js';
import { agentMonitor } from './agent.js';
import { dnsMonitor } from './dns.js';
import { httpMonitor } from './http.js';
import { httpsMonitor } from './https.js';
import { tcpSendExpectMonitor } from './tcp-send-expect.js';
import { errorWord, tcpMonitor } from './tcp.js';

export const MONITOR_TYPES: ReadonlyMap<string, MonitorType> = new Map<string, MonitorType>(
  ([tcpMonitor, tcpSendExpectMonitor, httpMonitor, httpsMonitor, dnsMonitor, agentMonitor] as MonitorType[])
    .map((m) => [m.type, m]),
);

/** Probe `target` once with the monitor type `spec.type` names; never rejects. */
export async function runProbe(spec: MonitorSpec, target: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  const monitor = MONITOR_TYPES.get(spec.type);
  if (!monitor) return { ok: false, rttMs: 0, detail: `unknown monitor type "${String(spec.type)}"` };
  try {
    return await monitor.probe(spec, target, timeoutMs);
  } catch (err) {
    return { ok: false, rttMs: 0, detail: `probe error: ${errorWord(err)}` };
  }
}
