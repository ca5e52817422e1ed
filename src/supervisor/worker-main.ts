// The program of a `waymark serve` worker process (the supervisor forks it: workers.ts). It loads only what a worker
// runs — not the command line, the health service, the metrics registry or the API hooks — so a worker is up sooner
// and holds less. Owns: the worker's logger and exit code.
import { pino } from 'pino';
import { runWorker } from './worker.js';

const log = pino({ base: { pid: process.pid, role: 'worker' } });
runWorker(log).then((code) => process.exit(code), (e: unknown) => {
  process.stderr.write(`waymark worker: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
