// The agent monitor: an HTTP GET to a member's agent, whose body is HAProxy agent-check text ("up, weight:50%, cpu:20").
// Owns: parsing that text into an AgentReport (SPEC H4 metrics) and the verdict: ok unless the agent says down/maint.
// Must never throw or reject; unknown words are ignored, never an error.
import type { MonitorSpec } from '../../config/schema.js';
import type { AgentReport, MonitorType, ProbeResult } from '../monitor.js';
import { exchangeHttp, hostHeader } from './http.js';
import { errorWord, since } from './tcp.js';

type AgentSpec = Extract<MonitorSpec, { type: 'agent' }>;

/** Bytes of an agent reply read; its words fit in a line. */
export const AGENT_REPLY_CAP = 4096;

/** State words and the state they mean; when several appear the most severe wins (down > drain > up). */
const STATE_WORDS: Readonly<Record<string, NonNullable<AgentReport['state']>>> = {
  up: 'up',
  ready: 'up',
  drain: 'drain',
  down: 'down',
  maint: 'down',
  fail: 'down',
  failed: 'down',
  stopped: 'down',
};
const SEVERITY = { up: 1, drain: 2, down: 3 } as const;

/** "50", "50%", "12.5%" → the number; `percent` says whether "%" is allowed. */
function number(text: string, percent: boolean): number | undefined {
  const m = /^(\d{1,9}(?:\.\d{1,6})?)(%?)$/.exec(text);
  if (!m || (m[2] === '%' && !percent)) return undefined;
  return Number(m[1]);
}

/**
 * Parse HAProxy agent-check text: words separated by commas or spaces, on one or more lines, where "#" starts a
 * free-text description to the end of its line. Words: up/ready, drain, down/maint/fail/stopped, weight:NN% or NN%,
 * load:NN[%], cpu:NN[%], conns:NN. Case does not matter; unknown or malformed words are ignored; for numbers the
 * last word wins.
 */
export function parseAgentReply(text: string): AgentReport {
  const report: AgentReport = {};
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.split('#', 1)[0]!;
    for (const raw of line.split(/[\s,]+/)) {
      const word = raw.toLowerCase();
      if (word === '') continue;
      const state = STATE_WORDS[word];
      if (state !== undefined) {
        if (report.state === undefined || SEVERITY[state] > SEVERITY[report.state]) report.state = state;
        continue;
      }
      const colon = word.indexOf(':');
      const key = colon < 0 ? '' : word.slice(0, colon);
      const value = colon < 0 ? word : word.slice(colon + 1);
      let n: number | undefined;
      switch (key) {
        case '':
          if (value.endsWith('%') && (n = number(value, true)) !== undefined) report.weightPercent = n;
          break;
        case 'weight':
          if ((n = number(value, true)) !== undefined) report.weightPercent = n;
          break;
        case 'load':
          if ((n = number(value, true)) !== undefined) report.load = n;
          break;
        case 'cpu':
          if ((n = number(value, true)) !== undefined) report.cpu = n;
          break;
        case 'conns':
          if ((n = number(value, false)) !== undefined && Number.isInteger(n)) report.conns = n;
          break;
        default:
          break; // unknown word
      }
    }
  }
  return report;
}

/** "agent: drain, weight 50%, load 30, conns 12, cpu 20". */
export function describeAgentReport(report: AgentReport): string {
  const parts = [report.state ?? 'no state'];
  if (report.weightPercent !== undefined) parts.push(`weight ${report.weightPercent}%`);
  if (report.load !== undefined) parts.push(`load ${report.load}`);
  if (report.conns !== undefined) parts.push(`conns ${report.conns}`);
  if (report.cpu !== undefined) parts.push(`cpu ${report.cpu}`);
  return `agent: ${parts.join(', ')}`;
}

const is2xx = (status: number): boolean => status >= 200 && status <= 299;

export const agentMonitor: MonitorType<AgentSpec> = {
  type: 'agent',
  defaultPort: 80,
  async probe(spec, target, timeoutMs): Promise<ProbeResult> {
    const start = performance.now();
    try {
      const outcome = await exchangeHttp(target, timeoutMs, {
        method: 'GET',
        path: spec.path,
        host: hostHeader(undefined, target, 80),
        wantBody: is2xx,
        bodyCap: AGENT_REPLY_CAP,
      });
      if (!outcome.ok) return outcome.result;
      const { status, rttMs } = outcome;
      if (!is2xx(status)) return { ok: false, rttMs, detail: `HTTP ${status} (expected 2xx)` };
      const agent = parseAgentReply((outcome.body ?? Buffer.alloc(0)).toString('utf8'));
      return { ok: agent.state !== 'down', rttMs, detail: describeAgentReport(agent), agent };
    } catch (err) {
      return { ok: false, rttMs: since(start), detail: `probe error: ${errorWord(err)}` };
    }
  },
};
