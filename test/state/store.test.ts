// The embedded store (C2) and the batching writer: real SQLite files in temp directories, no mocks of the database.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { openStore, PersistenceWriter, SCHEMA_VERSION, STORE_FILE, StoreError } from '../../src/state/store.js';
import { PersistenceTable, type PersistRecord } from '../../src/answer/persistence.js';

const T0 = 1_700_000_000_000;
const TTL = 60_000;

const made: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'waymark-store-'));
  made.push(dir);
  return dir;
}
after(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

function record(over: Partial<PersistRecord> = {}): PersistRecord {
  return { name: 'www.example.com.', key: 42, keyText: '203.0.113.0/24', pool: 'east', member: '192.0.2.10', ts: T0, ttlMs: TTL, hits: 1, ...over };
}

/** A second, raw connection to the same file, to look at what is really stored. */
function raw(dir: string): { all(sql: string): unknown[]; get(sql: string): unknown; exec(sql: string): void; close(): void } {
  const Database = createRequire(import.meta.url)('better-sqlite3') as new (file: string) => {
    prepare(sql: string): { all(): unknown[]; get(): unknown };
    exec(sql: string): void;
    close(): void;
  };
  const db = new Database(path.join(dir, STORE_FILE));
  return { all: (sql) => db.prepare(sql).all(), get: (sql) => db.prepare(sql).get(), exec: (sql) => db.exec(sql), close: () => db.close() };
}

test('C2: the store creates its data directory and one waymark.db in WAL mode with a schema version', () => {
  const dir = path.join(tempDir(), 'nested', 'data');
  const store = openStore(dir);
  try {
    assert.ok(fs.statSync(path.join(dir, STORE_FILE)).isFile());
    assert.equal(store.journalMode(), 'wal');
    store.savePersistence([record()]);
  } finally {
    store.close();
  }
  const db = raw(dir);
  assert.deepEqual(db.get('PRAGMA user_version'), { user_version: SCHEMA_VERSION });
  assert.deepEqual(db.get('PRAGMA journal_mode'), { journal_mode: 'wal' });
  db.close();
});

// What every backend must do with records, revisions, tokens and audit is in store-contract.test.ts (run against
// SQLite and PostgreSQL); what is SQLite's own (WAL, the data directory, read-only, the writer) is here.

test('C2: an unusable data directory or database gives a clear error, not a crash', () => {
  const base = tempDir();
  const file = path.join(base, 'a-file');
  fs.writeFileSync(file, 'x');
  assert.throws(() => openStore(file), (e: unknown) => e instanceof StoreError && e.code === 'STORE_DIR' && e.message.includes(file));
  assert.throws(() => openStore(path.join(file, 'sub')), (e: unknown) => e instanceof StoreError && e.code === 'STORE_DIR');
  // Not a database.
  const bad = path.join(base, 'bad');
  fs.mkdirSync(bad);
  fs.writeFileSync(path.join(bad, STORE_FILE), 'this is not an SQLite file, just some text long enough to look like a header.....');
  assert.throws(() => openStore(bad), (e: unknown) => e instanceof StoreError && e.code === 'STORE_OPEN' && e.message.includes(STORE_FILE));
  // Read-only open of a database that does not exist.
  assert.throws(() => openStore(path.join(base, 'missing'), { readonly: true }), (e: unknown) => e instanceof StoreError);
  // A database from a newer Waymark.
  const newer = path.join(base, 'newer');
  openStore(newer).close();
  const db = raw(newer);
  db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  assert.throws(() => openStore(newer), (e: unknown) => e instanceof StoreError && e.code === 'STORE_SCHEMA' && /newer/.test(e.message));
});

test('C2: a read-only store loads but refuses writes; a closed store says so', () => {
  const dir = tempDir();
  const rw = openStore(dir);
  rw.savePersistence([record()]);
  const ro = openStore(dir, { readonly: true });
  try {
    assert.equal(ro.loadPersistence(T0).length, 1);
    assert.throws(() => ro.savePersistence([record({ key: 2 })]), StoreError);
  } finally {
    ro.close();
    rw.close();
  }
  assert.throws(() => rw.loadPersistence(T0), (e: unknown) => e instanceof StoreError && e.code === 'STORE_CLOSED');
});

test('C2: the writer batches pushes into one transaction and coalesces repeats of a record', () => {
  const store = openStore(tempDir());
  const writer = new PersistenceWriter(store, { intervalMs: 60_000 });
  try {
    writer.push([record({ key: 1, ts: T0, hits: 1 }), record({ key: 2 })]);
    writer.push([record({ key: 1, ts: T0 + 10, hits: 2 })]);
    writer.push([record({ key: 1, ts: T0 + 5, hits: 9 })]); // older than what is queued: ignored
    writer.push([record({ key: 3 }), record({ key: 1, ts: T0 + 20, hits: 3 })]);
    assert.equal(writer.queued, 3);
    assert.equal(store.transactions, 0);
    assert.equal(writer.flush(), true);
    assert.equal(store.transactions, 1);
    assert.equal(writer.written, 3);
    const one = store.loadPersistence(T0).find((r) => r.key === 1)!;
    assert.equal(one.hits, 3);
    assert.equal(one.ts, T0 + 20);
    assert.equal(writer.flush(), true);
    assert.equal(store.transactions, 1, 'an empty queue writes nothing');
  } finally {
    writer.close();
    store.close();
  }
});

test('C2: the writer writes on its interval and on close; pushes after close are dropped', async () => {
  const dir = tempDir();
  const store = openStore(dir);
  const writer = new PersistenceWriter(store, { intervalMs: 20 });
  writer.push([record({ key: 1 })]);
  writer.push([record({ key: 2 })]);
  await new Promise((resolve) => setTimeout(resolve, 120));
  assert.equal(store.transactions, 1);
  assert.equal(store.loadPersistence(T0).length, 2);
  writer.push([record({ key: 3 })]);
  assert.equal(writer.close(), true);
  assert.equal(store.transactions, 2);
  writer.push([record({ key: 4 })]);
  assert.equal(writer.dropped, 1);
  store.close();
  const reopened = openStore(dir);
  assert.deepEqual(reopened.loadPersistence(T0).map((r) => r.key).sort(), [1, 2, 3]);
  reopened.close();
});

test('C2: a locked database never grows the writer queue and errors reach the callback; once unlocked, the newest records are written', () => {
  const dir = tempDir();
  const store = openStore(dir, { busyTimeoutMs: 20 });
  // Another connection holds the write lock (as a `waymark` command in the middle of a write would).
  const other = raw(dir);
  other.exec('BEGIN IMMEDIATE');
  const errors: string[] = [];
  const writer = new PersistenceWriter(store, { intervalMs: 60_000, maxQueued: 100, onError: (e) => errors.push(e.message) });
  for (let i = 0; i < 250; i++) writer.push([record({ key: i })]);
  assert.equal(writer.queued, 100);
  assert.equal(writer.dropped, 150);
  assert.equal(writer.flush(), false);
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /locked|busy/i);
  assert.equal(writer.queued, 100, 'a failed batch stays queued for the next try');
  other.exec('COMMIT');
  other.close();
  assert.equal(writer.close(), true);
  assert.deepEqual(store.loadPersistence(T0).map((r) => r.key).sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => 150 + i), 'the oldest were dropped');
  store.close();
  // A store that cannot write at all (read-only), a throwing error handler and malformed records do not escape.
  const ro = openStore(dir, { readonly: true });
  const w2 = new PersistenceWriter(ro, { intervalMs: 60_000, onError: () => { throw new Error('handler'); } });
  w2.push([record({ key: -1 }), record({ ts: Number.NaN }), record()]);
  assert.equal(w2.rejected, 2);
  assert.equal(w2.close(), false);
  ro.close();
});

test('C2: persistence survives a restart end to end: table → writer → SQLite → new table', () => {
  const names = ['www.example.com.'];
  const members = [{ pool: 'east', member: '192.0.2.10' }, { pool: 'west', member: '198.51.100.10' }];
  const nameOf = (i: number) => names[i]!;
  const memberOf = (i: number) => members[i]!;
  const dir = tempDir();
  const store = openStore(dir);
  const writer = new PersistenceWriter(store, { intervalMs: 60_000 });
  const table = new PersistenceTable(100);
  const a = table.put(0, 1, '192.0.2.0/24', 1, T0, TTL);
  table.put(0, 2, '198.51.100.0/24', 0, T0, TTL);
  writer.push(table.drainDirty(nameOf, memberOf));
  table.hit(a, T0 + 10);
  table.delete(table.find(0, 2, T0 + 10), T0 + 10);
  writer.push(table.drainDirty(nameOf, memberOf));
  writer.close();
  store.close();

  const again = openStore(dir);
  const fresh = new PersistenceTable(100);
  const applied = fresh.apply(again.loadPersistence(T0 + 20), (n) => names.indexOf(n), (p, m) => members.findIndex((x) => x.pool === p && x.member === m));
  again.close();
  assert.equal(applied, 1);
  const slot = fresh.find(0, 1, T0 + 20);
  assert.equal(fresh.memberOf(slot), 1);
  assert.equal(fresh.hitsOf(slot), 2);
  assert.equal(fresh.tsOf(slot), T0 + 10);
  assert.equal(fresh.find(0, 2, T0 + 20), -1);
  assert.deepEqual(fresh.drainDirty(nameOf, memberOf), [], 'loading does not echo back to the store');
});

test('H2: member admin states persist in the store and other connections see the change', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'waymark-admin-'));
  try {
    const a = openStore(dir);
    const b = openStore(dir);
    const v0 = b.dataVersion();
    a.setAdmin({ pool: 'eu', member: '127.0.1.1', state: 'down', by: 'cli', at: 1 });
    a.setAdmin({ pool: 'eu', member: '127.0.1.2:8080', state: 'drain', by: 'cli', at: 2 });
    assert.notEqual(b.dataVersion(), v0, 'a commit by another connection changes data_version');
    assert.deepEqual(b.loadAdmin().map((r) => `${r.pool}/${r.member}=${r.state}`), ['eu/127.0.1.1=down', 'eu/127.0.1.2:8080=drain']);
    a.setAdmin({ pool: 'eu', member: '127.0.1.1', state: 'auto', by: 'cli', at: 3 });
    a.close();
    b.close();
    const reopened = openStore(dir);
    assert.deepEqual(reopened.loadAdmin().map((r) => `${r.pool}/${r.member}=${r.state}`), ['eu/127.0.1.2:8080=drain']);
    reopened.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('C2 (issue 10): a serving store checkpoints its WAL from a thread of its own, never inside a commit; what it committed is all there after a restart', async () => {
  const background = tempDir();
  const control = tempDir();
  const a = openStore(background);
  const b = openStore(control);
  a.checkpointInBackground(50);
  assert.ok(a.checkpointsInBackground());
  const size = (dir: string): number => fs.statSync(path.join(dir, STORE_FILE)).size;
  const before = [size(background), size(control)];
  // Fewer pages than SQLite's automatic checkpoint (1,000) waits for: without the thread they stay in the WAL.
  const batch = Array.from({ length: 2000 }, (_, i) => record({ key: i, keyText: `198.51.100.${i % 256}/${i}`, member: `192.0.2.${i % 250}` }));
  for (let i = 0; i < 10; i++) {
    a.savePersistence(batch.slice(i * 200, (i + 1) * 200));
    b.savePersistence(batch.slice(i * 200, (i + 1) * 200));
  }
  const deadline = Date.now() + 5000;
  while (size(background) <= before[0]! && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(size(background) > before[0]!, 'the thread moved the committed pages into the database file');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(size(control), before[1], 'a store without the thread still holds them in its WAL (nothing checkpointed them)');
  assert.equal(a.checkpointError, null);
  a.close();
  b.close();
  const again = openStore(background);
  try {
    assert.equal(again.loadPersistence(T0).length, 2000);
  } finally {
    again.close();
  }
});
