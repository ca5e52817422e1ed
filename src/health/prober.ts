// The probe scheduler (SPEC H1/H3): runs each assigned check target every `monitor.interval` with `monitor.timeout`.
// Owns: per-target timers, the in-flight limit and the never-overlap rule. It does not judge up/down (damping and
// quorum live with the verdicts) and never decides which targets it has: the caller (distributor or a prober process)
// assigns them.
import type { CheckTarget } from './targets.js';
import type { AgentReport, ProbeResult, ProbeTarget } from './monitor.js';
import type { MonitorSpec } from '../config/schema.js';
import { runProbe } from './monitors/index.js';

export interface ProbeReport {
  targetId: string;
  ok: boolean;
  rttMs: number;
  detail: string;
  agent?: AgentReport;
  /** When the probe started (epoch ms). */
  at: number;
}

export type ProbeFn = (spec: MonitorSpec, target: ProbeTarget, timeoutMs: number) => Promise<ProbeResult>;

export interface ProberOptions {
  onResult: (r: ProbeReport) => void;
  /** Most probes in flight at once (default 256); further due probes wait their turn, oldest first. */
  concurrency?: number;
  /** The probe to run (default: the monitor registry's runProbe). */
  probe?: ProbeFn;
}

/** Added to a monitor's timeout before a probe that has not settled is abandoned and reported as failed. */
const SETTLE_GRACE_MS = 1000;
/** Largest delay before a newly assigned target's first probe. */
const FIRST_PROBE_MAX_DELAY_MS = 250;

interface Slot {
  target: CheckTarget;
  timer: NodeJS.Timeout | null;
  /** Set while a probe of this target is queued or in flight: the next one is scheduled only when it ends. */
  busy: boolean;
  removed: boolean;
}

export class Prober {
  readonly #onResult: (r: ProbeReport) => void;
  readonly #concurrency: number;
  readonly #probe: ProbeFn;
  readonly #slots = new Map<string, Slot>();
  /** Removed slots whose probe is still queued or in flight; re-assigning the id revives the slot (no overlap). */
  readonly #retiring = new Map<string, Slot>();
  /** Slots due while `concurrency` probes were in flight; each slot appears at most once (it is busy meanwhile). */
  readonly #waiting: Slot[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #stopped = false;

  constructor(opts: ProberOptions) {
    this.#onResult = opts.onResult;
    this.#concurrency = Math.max(1, opts.concurrency ?? 256);
    this.#probe = opts.probe ?? runProbe;
  }

  get assigned(): number {
    return this.#slots.size;
  }

  /** Replace the assigned set: unchanged ids keep their timers; new ones start after a small random delay; removed ones stop. */
  assign(targets: readonly CheckTarget[]): void {
    if (this.#stopped) return;
    const next = new Map<string, CheckTarget>();
    for (const t of targets) next.set(t.id, t);
    for (const [id, slot] of this.#slots) {
      if (next.has(id)) continue;
      this.#drop(slot);
      this.#slots.delete(id);
      if (slot.busy) this.#retiring.set(id, slot);
    }
    for (const [id, target] of next) {
      const slot = this.#slots.get(id);
      if (slot) {
        // Same id, possibly a reloaded spec: the running timer stays; the next probe uses the new spec and interval.
        slot.target = target;
        continue;
      }
      const old = this.#retiring.get(id);
      if (old) {
        this.#retiring.delete(id);
        old.removed = false;
        old.target = target;
        this.#slots.set(id, old);
        continue;
      }
      const fresh: Slot = { target, timer: null, busy: false, removed: false };
      this.#slots.set(id, fresh);
      const delay = Math.floor(Math.random() * Math.min(target.monitor.interval, FIRST_PROBE_MAX_DELAY_MS));
      this.#schedule(fresh, delay);
    }
  }

  /** Stop all timers and wait for the probes in flight (each bounded by its timeout plus a grace). */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const slot of this.#slots.values()) this.#drop(slot);
    this.#slots.clear();
    this.#retiring.clear();
    this.#waiting.length = 0;
    await Promise.all([...this.#inFlight]);
  }

  #drop(slot: Slot): void {
    slot.removed = true;
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
  }

  #schedule(slot: Slot, delayMs: number): void {
    if (slot.removed || this.#stopped) return;
    slot.timer = setTimeout(() => {
      slot.timer = null;
      this.#due(slot);
    }, Math.max(0, delayMs));
  }

  #due(slot: Slot): void {
    if (slot.removed || this.#stopped || slot.busy) return;
    slot.busy = true;
    if (this.#inFlight.size >= this.#concurrency) this.#waiting.push(slot);
    else this.#start(slot);
  }

  #start(slot: Slot): void {
    const target = slot.target;
    const timeoutMs = target.monitor.timeout;
    const at = Date.now();
    const run = this.#settled(target, timeoutMs).then((result) => {
      if (!slot.removed && !this.#stopped) {
        const report: ProbeReport = { targetId: target.id, ok: result.ok, rttMs: result.rttMs, detail: result.detail, at };
        if (result.agent) report.agent = result.agent;
        try { this.#onResult(report); } catch { /* a consumer's failure must not stop probing */ }
      }
    });
    const tracked = run.finally(() => {
      this.#inFlight.delete(tracked);
      slot.busy = false;
      if (slot.removed && this.#retiring.get(target.id) === slot) this.#retiring.delete(target.id);
      // Fixed rate from the start of this probe, never overlapping it.
      this.#schedule(slot, at + slot.target.monitor.interval - Date.now());
      this.#next();
    });
    this.#inFlight.add(tracked);
  }

  #next(): void {
    while (this.#inFlight.size < this.#concurrency && this.#waiting.length > 0) {
      const slot = this.#waiting.shift()!;
      if (slot.removed || this.#stopped) {
        slot.busy = false;
        if (this.#retiring.get(slot.target.id) === slot) this.#retiring.delete(slot.target.id);
        continue;
      }
      this.#start(slot);
    }
  }

  /** The probe, or a failure if it has not settled shortly after its timeout (a misbehaving monitor cannot stall us). */
  #settled(target: CheckTarget, timeoutMs: number): Promise<ProbeResult> {
    return new Promise<ProbeResult>((resolve) => {
      const guard = setTimeout(() => resolve({ ok: false, rttMs: 0, detail: `probe did not finish within ${timeoutMs + SETTLE_GRACE_MS} ms` }), timeoutMs + SETTLE_GRACE_MS);
      let p: Promise<ProbeResult>;
      try {
        p = this.#probe(target.monitor, { address: target.address, port: target.port }, timeoutMs);
      } catch (e) {
        p = Promise.resolve({ ok: false, rttMs: 0, detail: `probe failed: ${(e as Error).message}` });
      }
      p.then(resolve, (e: unknown) => resolve({ ok: false, rttMs: 0, detail: `probe failed: ${(e as Error)?.message ?? String(e)}` }))
        .finally(() => clearTimeout(guard));
    });
  }
}
