// The monitor contract (SPEC H1): one probe of one target, connecting AND exchanging data (seed 002).
// Owns: the shapes every monitor type shares. Each type lives in monitors/<type>.ts; "how to check" never mixes
// with "how to choose" (answer/). A probe never throws: every failure is a ProbeResult with ok = false.
import type { MonitorSpec } from '../config/schema.js';

export interface ProbeTarget {
  address: string;
  port: number;
}

/** What a member's agent reports (HAProxy agent-check words). */
export interface AgentReport {
  state?: 'up' | 'down' | 'drain';
  /** weight:NN% — percentage of the configured weight. */
  weightPercent?: number;
  load?: number;
  conns?: number;
  cpu?: number;
}

export interface ProbeResult {
  ok: boolean;
  /** Round-trip time of the exchange in ms (also reported for failures that got a reply). */
  rttMs: number;
  /** One line for operators: "HTTP 503", "connect ECONNREFUSED", "timeout after 500 ms", "body did not match /ok/". */
  detail: string;
  agent?: AgentReport;
}

export interface MonitorType<S extends MonitorSpec = MonitorSpec> {
  readonly type: S['type'];
  /** Port used when neither the monitor nor the member names one. */
  readonly defaultPort: number;
  probe(spec: S, target: ProbeTarget, timeoutMs: number): Promise<ProbeResult>;
}
