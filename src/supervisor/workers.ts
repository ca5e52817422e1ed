// The worker processes of `waymark serve`, forked as soon as the supervisor knows how many it needs: they boot (start
// node, load their modules) while the supervisor still validates the configuration, and reach its message handler
// once it has one. Owns: forking, the cluster settings, and holding the workers' first "hello" until then. Never
// gives a worker a configuration itself (the supervisor does, once validated).
import cluster, { type Worker } from 'node:cluster';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkerMessage } from './ipc.js';

/** The program a worker runs: worker-main.ts, which loads only what a worker needs (not the command line). */
const WORKER_MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker-main.js');

/**
 * A worker's young generation: 2 MB semi-spaces instead of V8's 16. A worker allocates little once it serves (the
 * query path is allocation-light), so the larger young generation only stayed resident: 27 MB per worker at 100,000
 * names, and no change in q/s (measured with dnsperf, same run). Given first, so a flag the operator passes to node
 * wins.
 */
const WORKER_FLAGS = ['--max-semi-space-size=2'];

export type WorkerHandler = (w: Worker, m: WorkerMessage) => void;

export class WorkerForks {
  private handler: WorkerHandler | null = null;
  /** Workers that said hello before there was a handler: they wait for their configuration. */
  private readonly waiting: Worker[] = [];
  private configured = false;

  /** Fork until `n` workers are alive. */
  ensure(n: number): void {
    for (let i = this.count(); i < n; i++) this.fork();
  }

  count(): number {
    return Object.keys(cluster.workers ?? {}).length;
  }

  fork(): Worker {
    this.setup();
    const w = cluster.fork();
    w.on('message', (m: WorkerMessage) => {
      if (this.handler) this.handler(w, m);
      else if (m.type === 'hello') this.waiting.push(w);
    });
    return w;
  }

  /** From now on every message goes to `handler`; the hellos that came before it are given to it now. */
  handOver(handler: WorkerHandler): void {
    this.handler = handler;
    for (const w of this.waiting.splice(0)) if (w.isConnected()) handler(w, { type: 'hello', generation: 0 });
  }

  /** Stop every worker: the supervisor gives up before serving (or stops). */
  killAll(): void {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
  }

  private setup(): void {
    if (this.configured) return;
    this.configured = true;
    // Every worker accepts on the shared sockets itself, rather than the supervisor handing out connections.
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ exec: WORKER_MAIN, serialization: 'json', execArgv: [...WORKER_FLAGS, ...process.execArgv] });
  }
}
