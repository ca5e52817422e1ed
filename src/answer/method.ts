// The load-balancing method contract. A method looks at one candidate list (the pools of a name, or the members of a
// pool) and picks one, or says it has nothing usable (-1) so the next method in the chain decides (F5-style
// preferred → alternate → fallback; STYLE.md: methods compose over candidate lists).
// Owns: the interface and the registry of method ids. Each method lives in methods/<id>.ts. Methods are synchronous,
// never allocate per call, and never await.
import type { Candidates } from './candidates.js';
import type { DecisionContext } from './context.js';

export type MethodLevel = 'pool' | 'member' | 'both';

export interface Method {
  /** The id used in configuration (`select: [topology, round-robin]`). */
  readonly id: string;
  /** Where the method makes sense: choosing a name's pool, a pool's member, or both. */
  readonly level: MethodLevel;
  /** Pick one available candidate: its index in `c`, or -1 when this method has nothing usable to say. */
  pick(ctx: DecisionContext, c: Candidates): number;
}
