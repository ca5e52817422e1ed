// The WAL checkpointer of a serving store: a thread of its own with its own connection to the database, which moves
// committed pages from the WAL into the database file every interval (PRAGMA wal_checkpoint(PASSIVE)). Owns: that
// thread's loop. The serving connection turns SQLite's automatic checkpoint off (SqliteStore.checkpointInBackground),
// so no commit pays for a checkpoint: that one commit in a few hundred took 5-8 ms more than the others, the largest
// part of an API change's p99. PASSIVE never waits for a lock and never blocks a writer; the data is durable in the
// WAL before any of this runs (synchronous = FULL).
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

interface Db {
  pragma(source: string, options?: { simple?: boolean }): unknown;
  close(): void;
}
type DbConstructor = new (file: string, options?: { timeout?: number }) => Db;

const { file, intervalMs } = workerData as { file: string; intervalMs: number };
const Database = createRequire(import.meta.url)('better-sqlite3') as DbConstructor;
const db = new Database(file, { timeout: 0 });
// The checkpoint's own writes (the database file) are synced like the serving connection's.
db.pragma('synchronous = FULL');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (e) {
    // A failing checkpoint is reported once and the thread ends: the serving connection checkpoints by itself again.
    parentPort?.postMessage({ error: e instanceof Error ? e.message : String(e) });
    stop();
  }
}, intervalMs);

function stop(): void {
  clearInterval(timer);
  db.close();
  parentPort?.close();
}
parentPort?.on('message', (m) => { if (m === 'stop') stop(); });
