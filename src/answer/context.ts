// Per-query decision context: who asks (resolver, client subnet), for what, and the live state to read.
// Owns: the reusable context object and the explain trace. One context per Responder, reset per query.
import type { CompiledName, CompiledPolicy } from './policy.js';
import type { LiveState } from './live.js';

/** The asker: resolver address from the socket, and the EDNS Client Subnet when the query carried one. */
export class ClientInfo {
  /** 4 or 6 (0 when the address could not be parsed). */
  family: 0 | 4 | 6 = 0;
  /** Resolver address as big-endian 32-bit words (IPv4 in words[0]). */
  readonly words = new Uint32Array(4);
  ecs = false;
  ecsFamily: 4 | 6 = 4;
  /** Client subnet address words, host bits zero. */
  readonly ecsWords = new Uint32Array(4);
  ecsPrefix = 0;
}

/** One line of an explanation: which step, what it saw, what it decided. */
export interface TraceStep { step: string; detail: string }

export class Trace {
  readonly steps: TraceStep[] = [];
  add(step: string, detail: string): void {
    this.steps.push({ step, detail });
  }
}

export class DecisionContext {
  now = 0;
  readonly client = new ClientInfo();
  live!: LiveState;
  policy!: CompiledPolicy;
  name!: CompiledName;
  /** Address family the question asks for (A → 4, AAAA → 6). */
  family: 4 | 6 = 4;
  /** Non-null only for explain: methods add steps; the query path leaves it null and pays nothing. */
  trace: Trace | null = null;
  /** Set when the answer depended on the client subnet (ECS scope must then be the source prefix). */
  usedSubnet = false;
}
