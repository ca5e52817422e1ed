// Which generation each worker serves. A worker reports every snapshot it swaps in ('loaded'); a change through the
// API is answered once every serving worker has reported its generation, so a client that got its reply reads its
// own write from whichever worker answers its next query. Owns: the per-worker generation and the waits on it.
// Never sends anything to a worker.

/** How a wait for a generation ended. */
export interface Reached {
  /** Every worker waited for reported the generation (or a later one), or left. */
  ok: boolean;
  /** Workers (ids) that had not reported it when the wait gave up. */
  behind: number[];
  /** Workers (ids) that could not apply it and kept their previous snapshot, with what they said. */
  failed: Array<{ worker: number; errors: string }>;
}

interface Wait {
  generation: number;
  workers: Set<number>;
  failed: Reached['failed'];
  done: (r: Reached) => void;
  timer: NodeJS.Timeout;
}

export class WorkerGenerations {
  private readonly serving = new Map<number, number>();
  private readonly waits = new Set<Wait>();

  /** Worker `id` serves `generation` now (a whole load, an edit or a zones-only swap). */
  loaded(id: number, generation: number): void {
    if ((this.serving.get(id) ?? 0) >= generation) return;
    this.serving.set(id, generation);
    for (const w of this.waits) if (w.workers.has(id) && generation >= w.generation) this.settle(w, id);
  }

  /** Worker `id` could not apply `generation` and serves its previous snapshot: the waits for it end, failed. */
  failedAt(id: number, generation: number, errors: string): void {
    for (const w of this.waits) {
      if (!w.workers.has(id) || generation < w.generation) continue;
      w.failed.push({ worker: id, errors });
      this.settle(w, id);
    }
  }

  /** Worker `id` is gone: nothing waits for it (its replacement starts from a whole load of the newest generation). */
  left(id: number): void {
    this.serving.delete(id);
    for (const w of this.waits) if (w.workers.has(id)) this.settle(w, id);
  }

  /** Resolves once each of `workers` serves `generation` or later, or has left; after `timeoutMs`, with who is behind. */
  reached(generation: number, workers: Iterable<number>, timeoutMs: number): Promise<Reached> {
    const pending = new Set<number>();
    for (const id of workers) if ((this.serving.get(id) ?? 0) < generation) pending.add(id);
    if (pending.size === 0) return Promise.resolve({ ok: true, behind: [], failed: [] });
    return new Promise((resolve) => {
      const wait: Wait = {
        generation, workers: pending, failed: [], done: resolve,
        timer: setTimeout(() => { this.waits.delete(wait); resolve({ ok: false, behind: [...wait.workers], failed: wait.failed }); }, timeoutMs),
      };
      wait.timer.unref();
      this.waits.add(wait);
    });
  }

  private settle(w: Wait, id: number): void {
    w.workers.delete(id);
    if (w.workers.size > 0) return;
    clearTimeout(w.timer);
    this.waits.delete(w);
    w.done({ ok: w.failed.length === 0, behind: [], failed: w.failed });
  }
}
