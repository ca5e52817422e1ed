// Revisions stored as content-addressed parts (C2 at provider scale): real SQLite files in temp directories. A
// configuration reads back exactly as it was committed; twenty small changes of a large configuration store it
// about once; an edit changes one chunk of a large array; a store written by the previous schema is migrated with
// every revision intact; the API's reader pages a large array without reading all of it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { openStore, SCHEMA_VERSION, STORE_FILE, type SqliteStore } from '../../src/state/store.js';
import { ContentReader, Lazy, TextMemo, decodeRoot, encodeRoot, encodeValue, decodeValue, inlineValue, type ChunkList } from '../../src/state/content.js';

const made: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'waymark-content-'));
  made.push(dir);
  return dir;
}
after(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

type Db = { prepare(sql: string): { all(...p: unknown[]): unknown[]; get(...p: unknown[]): unknown; run(...p: unknown[]): unknown }; exec(sql: string): void; close(): void };
function raw(dir: string): Db {
  const Database = createRequire(import.meta.url)('better-sqlite3') as new (file: string) => Db;
  return new Database(path.join(dir, STORE_FILE));
}

/** A declarative configuration with one zone of `records` inline records and `names` names, each with a pool. */
function large(records: number, names: number): Record<string, unknown> {
  const recs = Array.from({ length: records }, (_, i) => ({ name: `h${i}`, type: 'A', value: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }));
  return {
    zones: [{ origin: 'big.test', ttl: 300, ns: ['ns1'], records: recs }, { origin: 'small.test', records: [{ name: 'www', type: 'A', value: '192.0.2.1' }] }],
    names: Array.from({ length: names }, (_, i) => ({ name: `n${i}.big.test`, pools: [`p${i % 50}`], ttl: 30 })),
    pools: Array.from({ length: 50 }, (_, i) => ({ name: `p${i}`, members: [{ address: `192.0.2.${i + 1}` }] })),
    topology: { regions: [], rules: [] },
  };
}

function memoryBlobs(): { put: (h: string, j: string) => void; load: (h: string) => string; blobs: Map<string, string>; loads: string[] } {
  const blobs = new Map<string, string>();
  const loads: string[] = [];
  return { blobs, loads, put: (h, j) => { blobs.set(h, j); }, load: (h) => { loads.push(h); const j = blobs.get(h); if (j === undefined) throw new Error(`no blob ${h}`); return j; } };
}

const META = { at: 1, author: 't', source: 'api' as const, comment: 'c', hash: 'h', file: null };
const AUDIT = { at: 1, actor: 't', origin: 'test', action: 'test', target: 'config', before: null };

test('C2: a configuration reads back from its parts exactly: key order, "$" keys, __proto__, long texts, large nested arrays', () => {
  const text = (n: number, end: string): string => Array.from({ length: n }, (_, i) => `h${i} 300 IN A 10.0.${(i >> 8) & 255}.${i & 255}`).join('\n') + end;
  const proto = JSON.parse('{"__proto__": {"x": 1}, "b": 2}') as Record<string, unknown>;
  const values: unknown[] = [
    { b: 1, a: 2, c: [3, 2, 1] },
    { $ref: 'not a reference', $chunks: 1, nested: { $obj: true } },
    proto,
    { text: text(20_000, '\n') }, { text: text(20_000, '') }, { text: text(20_000, '\n\n\n') }, { text: `\n ${text(9000, '\n')}` },
    { arr: [1, null, 'x', undefined, Number.NaN, { y: undefined, z: 0 }] },
    { zones: Array.from({ length: 3 }, (_, z) => ({ origin: `z${z}.test`, records: Array.from({ length: 2000 + z }, (_, i) => ({ name: `r${i}`, type: 'TXT', value: `ü ${i} "q" \\ ${'x'.repeat(i % 7)}` })) })) },
    Array.from({ length: 5000 }, (_, i) => (i % 3 === 0 ? [i, [i]] : { i })),
  ];
  for (const v of values) {
    const m = memoryBlobs();
    const e = encodeValue(v, m.put);
    assert.equal(JSON.stringify(decodeValue(e, m.load)), JSON.stringify(v));
    assert.equal(JSON.stringify(decodeValue(e, m.load)), JSON.stringify(v), 'decoding does not change the encoded form');
  }
  const m = memoryBlobs();
  const d = large(3000, 1000);
  const root = encodeRoot(d, m.put);
  assert.ok(root.length < 500, `the root is small (${root.length} bytes)`);
  assert.equal(JSON.stringify(decodeRoot(root, m.load)), JSON.stringify(d));
  assert.ok(Object.getPrototypeOf(decodeValue(encodeValue(proto, m.put), m.load)) === Object.prototype, '__proto__ stays a key, not a prototype');
});

test('C2: a large zone entry is a part of its own: a revision changing another zone stores a small section and skips that entry', () => {
  const m = memoryBlobs();
  const memo = new TextMemo();
  const puts: string[] = [];
  const put = (h: string, j: string): void => { puts.push(h); m.put(h, j); };
  // A master file of 150,000 lines inlined: its chunk list alone is over 16 KB.
  const text = Array.from({ length: 150_000 }, (_, i) => `h${i} 300 IN A 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}\n`).join('');
  const d1 = { ...large(10, 10), zones: [{ origin: 'big.test', text }, { origin: 'small.test', records: [{ name: 'www', type: 'A', value: '192.0.2.1' }] }] };
  const zones1 = d1.zones as unknown[];
  const root1 = encodeRoot(d1, put, memo);
  memo.commit();
  const zonesBlob = (root: string): string => m.blobs.get((JSON.parse(root) as { zones: { $ref: string } }).zones.$ref)!;
  const ref = (JSON.parse(zonesBlob(root1)) as Array<{ $ref?: string }>)[0]!.$ref;
  assert.ok(ref !== undefined, 'the large zone entry is referenced, not inline');
  assert.ok(zonesBlob(root1).length < 2000, `the zones section holds ${zonesBlob(root1).length} characters`);
  // The next revision shares the large entry (as API edits do) and changes the small zone.
  const d2 = { ...d1, zones: [zones1[0], { origin: 'small.test', records: [{ name: 'www', type: 'A', value: '192.0.2.2' }] }] };
  puts.length = 0;
  const root2 = encodeRoot(d2, put, memo);
  memo.commit();
  assert.ok(!puts.includes(ref), 'the large entry is not stored again');
  assert.ok(puts.length <= 8, `${puts.length} parts stored for a change of the small zone`);
  assert.equal(JSON.stringify(decodeRoot(root2, m.load)), JSON.stringify(d2));
  assert.equal(JSON.stringify(decodeRoot(root1, m.load)), JSON.stringify(d1));
  // A rolled-back encoding remembers nothing: the entry is encoded (and stored) again next time.
  const fresh = new TextMemo();
  encodeRoot(d1, () => {}, fresh);
  fresh.rollback();
  puts.length = 0;
  encodeRoot(d1, put, fresh);
  assert.ok(puts.includes(ref), 'after a rollback the entry is stored again');
  // A value kept inline (bootstrap sections, redacted views) keeps a large element inline.
  const inline = inlineValue([{ text: 'x'.repeat(20_000) }]) as Array<{ text?: string }>;
  assert.equal(inline[0]!.text!.length, 20_000);
});

test('C2: an edit in the middle of a large array changes about one chunk; the chunks around it keep their hashes', () => {
  const m = memoryBlobs();
  const arr = Array.from({ length: 50_000 }, (_, i) => ({ name: `h${i}`, type: 'A', value: `10.0.${(i >> 8) & 255}.${i & 255}` }));
  const before = (encodeValue(arr, m.put) as { $chunks: ChunkList }).$chunks.map(([h]) => h);
  const edited = [...arr.slice(0, 25_000), { name: 'inserted', type: 'A', value: '192.0.2.1' }, ...arr.slice(25_001)];
  edited[40_000] = { ...edited[40_000]!, value: '192.0.2.2' };
  const after = (encodeValue(edited, m.put) as { $chunks: ChunkList }).$chunks.map(([h]) => h);
  const kept = new Set(before);
  const fresh = after.filter((h) => !kept.has(h));
  assert.ok(before.length > 20, `${before.length} chunks`);
  assert.ok(fresh.length <= 4, `two edits made ${fresh.length} new chunks of ${after.length}`);
});

test('C2: twenty small changes of a large configuration store it about once, and every revision reads back as committed', (t) => {
  const dir = tempDir();
  const store = openStore(dir);
  try {
    let d = large(20_000, 5_000);
    const json = JSON.stringify(d).length;
    const committed: string[] = [];
    for (let i = 0; i < 20; i++) {
      if (i > 0) {
        d = structuredClone(d);
        if (i % 3 === 0) ((d.zones as Array<{ records: unknown[] }>)[0]!.records).push({ name: `added${i}`, type: 'A', value: '192.0.2.9' });
        else if (i % 3 === 1) (d.names as Array<{ ttl: number }>)[i * 100]!.ttl = 60 + i;
        else (d.pools as Array<{ members: Array<{ weight?: number }> }>)[i]!.members[0]!.weight = i;
      }
      store.addRevision({ ...META, config: d }, AUDIT);
      committed.push(JSON.stringify(d));
    }
    const db = raw(dir);
    const stored = (db.prepare('SELECT sum(length(data)) AS n FROM blob').get() as { n: number }).n;
    const roots = (db.prepare('SELECT sum(length(root)) AS n FROM revision').get() as { n: number }).n;
    db.close();
    t.diagnostic(`20 revisions of ${(json / 1e6).toFixed(2)} MB of JSON: ${(stored / 1e6).toFixed(2)} MB of parts, ${roots} bytes of roots`);
    assert.ok(stored < 1.5 * json, `parts hold ${stored} bytes for a ${json}-byte configuration committed 20 times`);
    const ids = store.listRevisions(100).map((r) => r.id).reverse();
    assert.equal(ids.length, 20);
    ids.forEach((id, i) => assert.equal(JSON.stringify(store.revision(id)!.config), committed[i], `revision ${id} reads back as committed`));
  } finally {
    store.close();
  }
});

/** The schema Waymark wrote before revisions were stored as parts (user_version 4), as its migrations left it. */
const SCHEMA_4 = `
  CREATE TABLE persistence (name TEXT NOT NULL, key INTEGER NOT NULL, key_text TEXT NOT NULL, pool TEXT NOT NULL, member TEXT NOT NULL,
    ts INTEGER NOT NULL, ttl_ms INTEGER NOT NULL, expires INTEGER NOT NULL, hits INTEGER NOT NULL, PRIMARY KEY (name, key)) WITHOUT ROWID;
  CREATE INDEX persistence_expires ON persistence (expires);
  CREATE TABLE member_admin (pool TEXT NOT NULL, member TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN ('up', 'down', 'drain')), by TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (pool, member)) WITHOUT ROWID;
  CREATE TABLE revision (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, author TEXT NOT NULL, source TEXT NOT NULL, comment TEXT NOT NULL, hash TEXT NOT NULL, config TEXT NOT NULL);
  CREATE TABLE token (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, role TEXT NOT NULL CHECK (role IN ('read', 'operator', 'admin')), hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL, created_by TEXT NOT NULL, revoked_at INTEGER);
  CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, before TEXT, after TEXT);
  CREATE INDEX audit_target ON audit (target, id);
  ALTER TABLE revision ADD COLUMN file TEXT;
  ALTER TABLE audit ADD COLUMN origin TEXT NOT NULL DEFAULT '';
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  PRAGMA user_version = 4;`;

test('C2: a store of the previous schema is migrated: every revision keeps its configuration, metadata and file', () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, STORE_FILE), '');
  const db = raw(dir);
  db.exec(SCHEMA_4);
  const configs = [large(3000, 700), { zones: [{ origin: 'a.test', text: 'www 60 IN A 192.0.2.1\n' }] }, large(3001, 700)];
  const insert = db.prepare('INSERT INTO revision (at, author, source, comment, hash, config, file) VALUES (?, ?, ?, ?, ?, ?, ?)');
  configs.forEach((c, i) => insert.run(1000 + i, `author${i}`, i === 1 ? 'api' : 'file', `comment ${i}`, `hash${i}`, JSON.stringify(c), i === 1 ? null : 'waymark.yaml'));
  db.close();

  let store: SqliteStore | null = openStore(dir);
  try {
    const revs = store.listRevisions(10).reverse();
    assert.deepEqual(revs.map((r) => [r.id, r.author, r.source, r.comment, r.hash, r.file]), configs.map((_, i) => [i + 1, `author${i}`, i === 1 ? 'api' : 'file', `comment ${i}`, `hash${i}`, i === 1 ? null : path.join(dir, 'waymark.yaml')]));
    revs.forEach((r, i) => assert.equal(JSON.stringify(store!.revision(r.id)!.config), JSON.stringify(configs[i])));
    assert.equal(store.lastRevisionFromFile(path.join(dir, 'waymark.yaml'))?.id, 3);
    store.close();
    store = null;
    const check = raw(dir);
    assert.deepEqual(check.prepare('PRAGMA user_version').get(), { user_version: SCHEMA_VERSION });
    const columns = (check.prepare('PRAGMA table_info(revision)').all() as Array<{ name: string }>).map((c) => c.name);
    check.close();
    assert.ok(!columns.includes('config') && columns.includes('root'), `revision columns: ${columns.join(', ')}`);
  } finally {
    store?.close();
  }
});

test('C2: the API reader gives a section with large nested arrays left lazy, and pages them reading only their chunks', () => {
  const m = memoryBlobs();
  const d = large(30_000, 10);
  const root = JSON.parse(encodeRoot(d, m.put)) as Record<string, unknown>;
  const reader = new ContentReader(m.load);
  m.loads.length = 0;
  const zones = reader.section(root.zones) as Array<{ origin: string; records: unknown }>;
  assert.equal(zones[0]!.origin, 'big.test');
  assert.ok(zones[0]!.records instanceof Lazy);
  assert.equal(reader.length(zones[0]!.records), 30_000);
  assert.deepEqual(zones[1]!.records, [{ name: 'www', type: 'A', value: '192.0.2.1' }], 'small arrays stay as they are');
  assert.equal(m.loads.length, 1, 'the zone list read one blob, not the records');
  assert.equal(reader.section(root.zones), zones, 'a section is read once and then cached by its hash');
  m.loads.length = 0;
  const page = reader.slice(zones[0]!.records, 20_000, 20_100);
  assert.deepEqual(page, (d.zones as Array<{ records: unknown[] }>)[0]!.records.slice(20_000, 20_100));
  assert.ok(m.loads.length <= 2, `a page of 100 records read ${m.loads.length} chunks`);
  assert.equal(JSON.stringify(reader.materialize(zones)), JSON.stringify(d.zones));
});
