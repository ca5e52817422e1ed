// The query log (SPEC C3): one JSON line per sampled query of the policy names an operator switched it on for
// (`queryLog: { names: [...], sample: 0.1 }`). Owns: which names are logged (a flag per policy name index, computed
// once per snapshot, so the query path's check is one typed-array read), the sampling, and the line's fields.
// Building a line allocates; that happens only for a listed name and a sampled query. Never writes files itself.
import { canonicalName } from '../wire/name.js';
import { decodeBody } from '../wire/rdata.js';
import { TYPE, RCODE, typeName } from '../wire/types.js';
import { DECISION_LABELS } from '../answer/engine.js';
import type { Snapshot } from '../answer/snapshot.js';
import type { Resolution } from '../dns/lookup.js';

export interface QueryLogConfig {
  /** Policy names whose queries are logged (case and trailing dot do not matter). */
  names: readonly string[];
  /** Fraction of their queries logged, 0..1. */
  sample: number;
}

/** One logged query. */
export interface QueryLogLine {
  client: string;
  name: string;
  qtype: string;
  rcode: string;
  answers: string[];
  /** What chose the answer: a member method, or "persistence" / "fallback"; absent when nothing was chosen. */
  method?: string;
  /** What chose the pool (absent for persistence and fallback answers). */
  poolMethod?: string;
}

export type QueryLogSink = (line: QueryLogLine) => void;

const RCODE_NAMES = new Map<number, string>(Object.entries(RCODE).map(([k, v]) => [v, k]));

export class QueryLog {
  /** Per policy name index of the current snapshot: 1 when its queries may be logged. Read on the query path. */
  flags = new Uint8Array(0);
  /** True when any name is flagged: the query path looks at `flags` only then. */
  enabled = false;
  private names = new Set<string>();
  private sample = 0;
  private sink: QueryLogSink | null = null;
  private snapshot: Snapshot | null = null;

  /** Switch the log on (or off: no config or no sink) for the listed names. */
  configure(config: QueryLogConfig | undefined, sink: QueryLogSink | null): void {
    this.names = new Set((config?.names ?? []).map((n) => canonicalName(n)));
    this.sample = Math.min(1, Math.max(0, config?.sample ?? 0));
    this.sink = sink;
    if (this.snapshot !== null) this.flag(this.snapshot);
  }

  /** Recompute the flags for a new snapshot (policy name indexes change). */
  setSnapshot(snapshot: Snapshot): void {
    const samePolicy = this.snapshot !== null && this.snapshot.policy === snapshot.policy;
    this.snapshot = snapshot;
    if (!samePolicy) this.flag(snapshot); // only zone images changed: the flags are the names' as they were
  }

  private flag(snapshot: Snapshot): void {
    const names = snapshot.policy?.names ?? [];
    const flags = new Uint8Array(names.length);
    const on = this.sink !== null && this.sample > 0;
    if (on) for (const n of names) if (this.names.has(canonicalName(n.name))) flags[n.index] = 1;
    this.flags = flags;
    this.enabled = on && flags.includes(1);
  }

  /** The listed names that are not policy names of the current snapshot (never logged: worth a warning). */
  unmatched(): string[] {
    const policy = new Set((this.snapshot?.policy?.names ?? []).map((n) => canonicalName(n.name)));
    return [...this.names].filter((n) => !policy.has(n));
  }

  /**
   * A flagged name was answered: with probability `sample`, write its line. `poolDecision`/`memberDecision` are
   * DECISION_LABELS indexes (-1: none).
   */
  maybeLog(client: string, name: number, qtype: number, rcode: number, res: Resolution, poolDecision: number, memberDecision: number): void {
    if (this.sink === null || (this.sample < 1 && Math.random() >= this.sample)) return;
    const policyName = this.snapshot?.policy?.names[name];
    if (policyName === undefined) return;
    const answers: string[] = [];
    const section = res.answer;
    for (let i = 0; i < section.count; i++) {
      const data = section.data(i);
      const offs = section.offsets(i);
      const base = section.base(i);
      for (let k = 0; k < section.records(i); k++) {
        const r = decodeBody('', data, offs[base + k]!);
        if (r.type === TYPE.A || r.type === TYPE.AAAA) answers.push(String(r.data));
      }
    }
    const line: QueryLogLine = { client, name: policyName.name, qtype: qtype === TYPE.ANY ? 'ANY' : typeName(qtype), rcode: RCODE_NAMES.get(rcode) ?? String(rcode), answers };
    if (memberDecision >= 0) line.method = DECISION_LABELS[memberDecision];
    if (poolDecision >= 0) line.poolMethod = DECISION_LABELS[poolDecision];
    this.sink(line);
  }
}
