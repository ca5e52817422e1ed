// Explain a decision (SPEC G7): "what would NAME return to resolver R / subnet S, and why".
// Owns: building the question and reading the answer. The decision itself runs through the real query path — a DNS
// message parsed by the fast path, looked up, decided by the answer engine and encoded — with a Trace attached.
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { Responder, TRANSPORT_TCP } from '../dns/responder.js';
import type { TraceStep } from './context.js';

export interface ExplainRequest {
  name: string;
  type: 'A' | 'AAAA';
  resolver: string;
  /** Client subnet "10.1.0.0/24" sent as EDNS Client Subnet. */
  subnet?: string;
}

export interface Explanation {
  request: ExplainRequest;
  rcode: string;
  answers: Array<{ name: string; type: string; ttl: number; data: string }>;
  /** ECS scope returned (when a subnet was sent). */
  scope: number | null;
  policy: boolean;
  steps: TraceStep[];
  /** Whose state decided: a running server's worker (live) or the configuration alone (offline). */
  state?: ExplainState;
}

/** Which state an explanation used, said plainly: live health and counters, or assumptions. */
export interface ExplainState { live: boolean; detail: string }

export class ExplainError extends Error {}

function ecsOption(subnet: string): { code: string; family: number; sourcePrefixLength: number; scopePrefixLength: number; ip: string } {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(subnet.trim());
  const family = m ? net.isIP(m[1]!) : 0;
  const prefix = m ? Number(m[2]) : -1;
  if (!m || family === 0 || prefix > (family === 4 ? 32 : 128)) throw new ExplainError(`--subnet "${subnet}" is not a CIDR like 10.1.0.0/24`);
  return { code: 'CLIENT_SUBNET', family: family === 4 ? 1 : 2, sourcePrefixLength: prefix, scopePrefixLength: 0, ip: m[1]! };
}

/** Ask `responder` as resolver `req.resolver` would, and return the answer with the engine's reasons. */
export function explain(responder: Responder, req: ExplainRequest): Explanation {
  if (net.isIP(req.resolver) === 0) throw new ExplainError(`--resolver "${req.resolver}" is not an IP address`);
  const options = req.subnet ? [ecsOption(req.subnet)] : [];
  const msg = dnsPacket.encode({
    type: 'query', id: 1, flags: 0, questions: [{ type: req.type, name: req.name }],
    additionals: [{ name: '.', type: 'OPT', udpPayloadSize: 1232, options } as unknown as dnsPacket.Answer],
  });
  let len = -1;
  const engine = responder.engine;
  const run = (): void => { len = responder.respond(msg, TRANSPORT_TCP, req.resolver); };
  const trace = engine ? engine.explain(run) : (run(), null);
  if (len < 0) throw new ExplainError('the server produced no answer');
  // dns-packet's typings omit rcode and per-type data; these are the fields we read.
  const d = dnsPacket.decode(responder.response.subarray(0, len)) as unknown as {
    rcode: string; answers: Array<{ name: string; type: string; ttl: number; data: unknown }>;
    additionals: Array<{ type: string; options?: Array<{ code: number; scopePrefixLength?: number }> }>;
  };
  const ecs = d.additionals.find((a) => a.type === 'OPT')?.options?.find((o) => o.code === 8);
  const steps = trace?.steps ?? [];
  return {
    request: req, rcode: d.rcode, scope: req.subnet ? ecs?.scopePrefixLength ?? 0 : null, policy: steps.length > 0,
    answers: d.answers.map((a) => ({ name: a.name, type: a.type, ttl: a.ttl, data: String(a.data) })),
    steps,
  };
}

/**
 * Explain as `live`'s next query would be answered: a scratch responder over the same snapshot takes a copy of its
 * engine state (health, admin states, counters, stripe marks, the name's persistence records), so the explanation
 * starts where the worker is and the worker itself changes in nothing.
 */
export function explainLive(live: Responder, req: ExplainRequest, serverPayload: number): Explanation {
  const scratch = new Responder(live.snapshot, serverPayload);
  if (scratch.engine && live.engine) scratch.engine.copyStateFrom(live.engine, req.name);
  return explain(scratch, req);
}

export function formatExplanation(e: Explanation): string {
  const r = e.request;
  const lines = [`${r.name} ${r.type} asked by resolver ${r.resolver}${r.subnet ? ` for client subnet ${r.subnet}` : ''}`];
  if (e.state) lines.push(`  state: ${e.state.detail}`);
  if (!e.policy) lines.push('  static records (not a policy name)');
  for (const s of e.steps) lines.push(`  ${s.step}: ${s.detail}`);
  const ans = e.answers.length ? e.answers.map((a) => `${a.data} (${a.type}, TTL ${a.ttl})`).join(', ') : '(no records)';
  lines.push(`answer: ${e.rcode}: ${ans}${e.scope !== null ? `; ECS scope /${e.scope}` : ''}`);
  return lines.join('\n');
}
