// Giving memory back after a configuration load. Compiling a large zone leaves the parse's garbage and the previous
// snapshot behind; V8 collects old-generation garbage only under allocation pressure, which an idle DNS server never
// has, so without this every process would keep the peak of its last load resident (measured: 900 MB held by the
// supervisor after loading a 300,000-record zone, 32 MB live). Owns: when to collect. Never runs per query.
import v8 from 'node:v8';
import vm from 'node:vm';

/** Collect only when the heap holds this much more than was live after the last collection. */
const SLACK_BYTES = 64 * 1024 * 1024;

let gc: (() => void) | null | undefined;
let liveAfterLast = 0;

/** The engine's collector, exposed once (the --expose-gc flag set at run time; it takes effect for new contexts). */
function collector(): (() => void) | null {
  if (gc !== undefined) return gc;
  try {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as () => void;
  } catch {
    gc = null;
  }
  return gc;
}

/**
 * After a load: if the heap grew well beyond what was live last time, collect now, once, so the garbage of the load
 * leaves the resident set. A load of a small change allocates little and costs no collection. `compact`: also move
 * the live objects together so the pages they were scattered over go back to the system at once — for the
 * supervisor, whose parse of a large file leaves its live objects among 40-90 MB of holes (RSS 675 MB → 300 MB at
 * 100,000 names) and which answers no query during the pause (0.7 s there). V8's memory reducer compacts an idle
 * process by itself some 20 s later; a worker waits for that rather than pause its answers.
 */
export function releaseAfterLoad(opts: { compact?: boolean } = {}): void {
  const used = heapUsed();
  if (used - liveAfterLast < SLACK_BYTES || used < 2 * liveAfterLast) return;
  const collect = collector();
  if (!collect) return;
  if (opts.compact) compacting(collect);
  else collect();
  liveAfterLast = heapUsed();
}

/** The heap in use, without process.memoryUsage()'s read of the resident set (this runs after every change). */
const heapUsed = (): number => v8.getHeapStatistics().used_heap_size;

/** One full collection that evacuates every page it can (V8 compacts only the most fragmented by default). */
function compacting(collect: () => void): void {
  try {
    v8.setFlagsFromString('--compact-on-every-full-gc');
    collect();
  } finally {
    v8.setFlagsFromString('--no-compact-on-every-full-gc');
  }
}
