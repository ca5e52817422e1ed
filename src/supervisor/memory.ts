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
 * leaves the resident set. A load of a small change allocates little and costs no collection.
 */
export function releaseAfterLoad(): void {
  const used = process.memoryUsage().heapUsed;
  if (used - liveAfterLast < SLACK_BYTES || used < 2 * liveAfterLast) return;
  const collect = collector();
  if (!collect) return;
  collect();
  if (fragmented(process.memoryUsage())) compacting(collect);
  liveAfterLast = process.memoryUsage().heapUsed;
}

/**
 * True when the collection left much free space inside the heap's pages: the live objects of a load sit among its
 * garbage (the supervisor, after parsing a large configuration, held 120 MB of such holes beside 240 MB live). Only
 * compaction gives those pages back; a heap that is mostly live (a worker's snapshot) is not worth its pause.
 */
function fragmented(m: NodeJS.MemoryUsage): boolean {
  const free = m.heapTotal - m.heapUsed;
  return free > SLACK_BYTES && free > m.heapUsed / 4;
}

/** One full collection that evacuates every fragmented page (V8 compacts only some by default). */
function compacting(collect: () => void): void {
  try {
    v8.setFlagsFromString('--compact-on-every-full-gc');
    collect();
  } finally {
    v8.setFlagsFromString('--no-compact-on-every-full-gc');
  }
}
