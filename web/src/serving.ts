// Which of a name's pools its answers come from now ("serving") and which wait ("standby"), read from the API's own
// decision: GET /v1/explain for one resolver runs a real query through the answer engine and traces it.
// Owns: asking and reading the explanation. The overview draws the marks.
import { api, qs } from './api.js';
import type { Explanation, NameConfig, PoolConfig } from './model.js';

/** The resolver the overview asks for. With topology or persistence, other resolvers may be answered from other pools. */
export const PROBE_RESOLVER = '127.0.0.1';

export interface PoolRoles {
  /** The pool the answer came from, or null (fallback, NODATA, an error). */
  serving: string | null;
  /**
   * How it was read: the trace's member step, a persistence hit, the answered addresses, the fallback's round robin
   * that ignores health (the pool answers although no member is usable), or nothing.
   */
  how: 'balanced' | 'persistence' | 'answers' | 'fallback' | 'none';
  /** The explanation's answer in a few words ("NOERROR 127.0.0.1", "fallback: sorry 192.0.2.9"). */
  summary: string;
}

const MEMBER_STEP = /^members of pool (.+)$/;
const PERSISTENCE_HIT = /^hit: .* in pool (.+) \(hits \d+\)$/;

/** The serving pool as the trace names it; answered addresses are the fallback when the trace's wording is not known. */
export function rolesFrom(e: Explanation, name: NameConfig, pools: Map<string, PoolConfig>): PoolRoles {
  const steps = e.steps ?? [];
  const answers = (e.answers ?? []).filter((a) => a.type === 'A' || a.type === 'AAAA').map((a) => a.data);
  const summary = `${e.rcode}${answers.length ? ` ${answers.join(', ')}` : ''}`;
  const poolOf = (): string | undefined => name.pools.find((p) => pools.get(p)?.members.some((m) => answers.includes(m.address)));
  const fallback = steps.find((s) => s.step === 'fallback');
  if (fallback) {
    // "round robin ignoring health: ADDR" still answers from a pool; a sorry address or an rcode does not.
    const pool = fallback.detail.startsWith('round robin ignoring health') ? poolOf() : undefined;
    return { serving: pool ?? null, how: pool ? 'fallback' : 'none', summary: `fallback: ${fallback.detail}` };
  }
  for (let i = steps.length - 1; i >= 0; i--) {
    const st = steps[i]!;
    const balanced = MEMBER_STEP.exec(st.step);
    if (balanced && name.pools.includes(balanced[1]!)) return { serving: balanced[1]!, how: 'balanced', summary };
    const hit = st.step === 'persistence' ? PERSISTENCE_HIT.exec(st.detail) : null;
    if (hit && name.pools.includes(hit[1]!)) return { serving: hit[1]!, how: 'persistence', summary };
  }
  // The first of the name's pools holding an answered address (a pool shared by several names is still the right one).
  const byAnswer = poolOf();
  return byAnswer ? { serving: byAnswer, how: 'answers', summary } : { serving: null, how: 'none', summary };
}

async function explainOnce(name: string, type: 'A' | 'AAAA'): Promise<Explanation> {
  return api<Explanation>(`/v1/explain${qs({ name, resolver: PROBE_RESOLVER, type })}`);
}

/** Ask for A, and for AAAA when the name has no IPv4 members (the trace then says so in a "family" step). */
export async function fetchRoles(name: NameConfig, pools: Map<string, PoolConfig>): Promise<PoolRoles> {
  let e = await explainOnce(name.name, 'A');
  if ((e.steps ?? []).some((s) => s.step === 'family')) e = await explainOnce(name.name, 'AAAA');
  return rolesFrom(e, name, pools);
}
