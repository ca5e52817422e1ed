// Issue 10 point 5, provider scale: the API's lists page and filter, through the real CLI (`waymark serve` with api:
// and store: on a real SQLite file), real HTTP (fetch) and real DNS. The configuration is generated here: 5,000
// names, 500 pools, a pool of 700 members and a zone of 20,000 inline records. One server runs for the whole file;
// tests build on each other's state in order.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnWaymark, freePort, tempDir, query, type SpawnedWaymark } from '../harness.js';

const BOOT = 'bootstrap-token-for-paging-tests-0123';
const NAMES = 5000;
const POOLS = 500;
const RECORDS = 20_000;
const WIDE = 700;

let dir = '';
let dnsPort = 0;
let base = '';
let server: SpawnedWaymark | null = null;

function config(apiPort: number): Record<string, unknown> {
  return {
    server: { listen: [`127.0.0.1:${dnsPort}`], workers: 1, rrl: { enabled: false } },
    api: { listen: `127.0.0.1:${apiPort}` },
    store: { path: './state' },
    zones: [
      { origin: 'big.test', ttl: 60, ns: ['ns1'], records: [{ name: 'ns1', type: 'A', value: '127.0.0.53' }, ...Array.from({ length: RECORDS - 1 }, (_, i) => ({ name: `h${i + 1}`, type: 'A', value: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }))] },
      { origin: 'gslb.test', ns: ['ns1'], records: [{ name: 'ns1', type: 'A', value: '127.0.0.53' }] },
    ],
    names: [
      ...Array.from({ length: NAMES }, (_, i) => ({ name: `n${i}.gslb.test`, pools: [`p${i % POOLS}`], ttl: 30 })),
      { name: 'sticky.gslb.test', pools: ['p0'], persistence: { ttl: '600s' } },
    ],
    pools: [
      ...Array.from({ length: POOLS }, (_, i) => ({ name: `p${i}`, members: [{ address: `10.1.${i >> 8}.${i & 255}` }, { address: `10.2.${i >> 8}.${i & 255}` }] })),
      { name: 'spare', members: [{ address: '192.0.2.200' }] },
      { name: 'wide', members: Array.from({ length: WIDE }, (_, i) => ({ address: `10.3.${i >> 8}.${i & 255}` })) },
    ],
  };
}

interface Res<T> { status: number; body: T; etag: string | null }

// any: tests read JSON bodies loosely.
async function api<T = any>(method: string, p: string, o: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Res<T>> {
  const res = await fetch(`${base}${p}`, {
    method, headers: { authorization: `Bearer ${BOOT}`, ...(o.body === undefined ? {} : { 'content-type': 'application/json' }), ...o.headers },
    body: o.body === undefined ? undefined : JSON.stringify(o.body),
  });
  const text = await res.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* text */ }
  return { status: res.status, body: body as T, etag: res.headers.get('etag') };
}

/** Every item of a list, following `next`; fails on a page that repeats an item. */
async function walk<T>(p: string, key: string, id: (t: T) => string): Promise<T[]> {
  const out: T[] = [];
  const seen = new Set<string>();
  let cursor: string | null = null;
  for (let pages = 0; ; pages++) {
    assert.ok(pages < 1000, 'the pages end');
    const r: Res<Record<string, unknown>> = await api('GET', `${p}${p.includes('?') ? '&' : '?'}${cursor ? `cursor=${encodeURIComponent(cursor)}` : ''}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    for (const x of r.body[key] as T[]) {
      assert.ok(!seen.has(id(x)), `${id(x)} is on two pages`);
      seen.add(id(x));
      out.push(x);
    }
    cursor = r.body.next as string | null;
    if (cursor === null) return out;
  }
}

before(async () => {
  dir = tempDir('waymark-paging-');
  dnsPort = await freePort();
  const apiPort = await freePort();
  base = `http://127.0.0.1:${apiPort}`;
  const cfg = path.join(dir, 'waymark.yaml');
  // JSON is YAML: the generated configuration is written as it is built.
  fs.writeFileSync(cfg, JSON.stringify(config(apiPort)));
  server = await spawnWaymark(['serve', '--config', cfg], { env: { WAYMARK_BOOTSTRAP_TOKEN: BOOT }, timeoutMs: 60_000 });
  for (let i = 0; (await fetch(`${base}/openapi.json`).catch(() => null))?.status !== 200; i++) {
    assert.ok(i < 200, 'the API answers');
    await new Promise((r) => setTimeout(r, 50));
  }
});

after(async () => {
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('C1: names come 100 to a page (at most 1000); following next visits every name once, in configuration order', async () => {
  const first = await api('GET', '/v1/names');
  assert.equal(first.status, 200);
  assert.equal(first.body.names.length, 100);
  assert.equal(first.body.total, NAMES + 1);
  assert.equal(first.body.names[0].name, 'n0.gslb.test');
  assert.equal(typeof first.body.next, 'string');
  assert.match(first.etag ?? '', /^"rev-\d+"$/);
  assert.equal(first.body.revision, Number(/\d+/.exec(first.etag!)![0]));
  const all = await walk<{ name: string }>('/v1/names?limit=1000', 'names', (n) => n.name);
  assert.deepEqual(all.map((n) => n.name), [...Array.from({ length: NAMES }, (_, i) => `n${i}.gslb.test`), 'sticky.gslb.test']);
  const tooMany = await api('GET', '/v1/names?limit=1001');
  assert.equal(tooMany.status, 400);
  assert.ok(tooMany.body.errors.some((e: { path: string }) => /limit/.test(e.path)), JSON.stringify(tooMany.body));
  const bad = await api('GET', '/v1/names?cursor=not-a-cursor');
  assert.equal(bad.status, 400);
  assert.match(bad.body.message, /cursor/);
  assert.equal((await api('GET', '/v1/names?limt=5')).status, 400, 'a misspelt parameter is an error, not ignored');
});

test('C1: a cursor survives writes between pages: nothing is skipped or repeated when names are added and removed', async () => {
  const page1 = await api('GET', '/v1/names?limit=100');
  assert.equal(page1.body.names[99].name, 'n99.gslb.test');
  // Meanwhile another operator removes a name of page 1 and adds one (new names go at the end).
  assert.equal((await api('DELETE', '/v1/names/n10.gslb.test')).status, 200);
  assert.equal((await api('POST', '/v1/names', { body: { name: 'late.gslb.test', pools: ['p1'] } })).status, 201);
  const page2 = await api('GET', `/v1/names?limit=100&cursor=${encodeURIComponent(page1.body.next)}`);
  assert.equal(page2.status, 200);
  assert.equal(page2.body.names[0].name, 'n100.gslb.test', 'the next page starts after the last name seen, not 100 positions in');
  // The name a cursor ends on is removed: the next page starts where it was.
  assert.equal((await api('DELETE', '/v1/names/n199.gslb.test')).status, 200);
  const page3 = await api('GET', `/v1/names?limit=100&cursor=${encodeURIComponent(page2.body.next)}`);
  assert.equal(page3.body.names[0].name, 'n200.gslb.test');
  const all = (await walk<{ name: string }>('/v1/names?limit=1000', 'names', (n) => n.name)).map((n) => n.name);
  assert.equal(all.length, NAMES + 1 - 2 + 1);
  assert.equal(all[all.length - 1], 'late.gslb.test');
  assert.ok(!all.includes('n10.gslb.test') && !all.includes('n199.gslb.test'));
});

test('C1: q and name= filter a list and total counts what matches; pools?unused=true lists the pools no name uses', async () => {
  const q = await api('GET', '/v1/names?q=N12&limit=1000');
  // n12, n120–n129, n1200–n1299.
  assert.equal(q.body.total, 111);
  assert.ok(q.body.names.every((n: { name: string }) => n.name.includes('n12')));
  const exact = await api('GET', '/v1/names?name=n1.gslb.test&name=N2.GSLB.test.');
  assert.deepEqual(exact.body.names.map((n: { name: string }) => n.name), ['n1.gslb.test', 'n2.gslb.test']);
  assert.equal(exact.body.next, null);
  const unused = await api('GET', '/v1/pools?unused=true');
  assert.deepEqual(unused.body.pools.map((p: { name: string }) => p.name), ['spare', 'wide']);
  const poolQ = await api('GET', '/v1/pools?q=p49&limit=5');
  assert.deepEqual(poolQ.body.pools.map((p: { name: string }) => p.name), ['p49', 'p490', 'p491', 'p492', 'p493']);
  assert.equal(poolQ.body.total, 11);
});

test('C1: a 20,000-record zone: listed with its count (view=summary) without its records, its records 100 to a page with their indexes, filtered by name and type', async () => {
  const zones = await fetch(`${base}/v1/zones?view=summary`, { headers: { authorization: `Bearer ${BOOT}` } });
  const text = await zones.text();
  assert.ok(text.length < 2000, `the summary of two zones is small (${text.length} bytes)`);
  const big = (JSON.parse(text) as { zones: Array<Record<string, unknown>> }).zones.find((z) => z.origin === 'big.test')!;
  assert.equal(big.recordCount, RECORDS);
  assert.ok(!('records' in big));
  assert.equal((await api('GET', '/v1/zones?view=summary&q=gslb')).body.zones.length, 1);

  const page = await api('GET', '/v1/zones/big.test/records');
  assert.equal(page.body.records.length, 100);
  assert.equal(page.body.total, RECORDS);
  assert.deepEqual(page.body.indexes, Array.from({ length: 100 }, (_, i) => i));
  const records = await walk<{ name: string }>('/v1/zones/big.test/records?limit=1000', 'records', (r) => r.name);
  assert.equal(records.length, RECORDS);
  assert.deepEqual(records.slice(0, 3).map((r) => r.name), ['ns1', 'h1', 'h2']);
  assert.equal(records[RECORDS - 1]!.name, `h${RECORDS - 1}`);

  const one = await api('GET', '/v1/zones/big.test/records?name=H12345.big.test.&type=a');
  assert.deepEqual(one.body.records, [{ name: 'h12345', type: 'A', value: `10.0.${(12344 >> 8) & 255}.${12344 & 255}` }]);
  assert.deepEqual(one.body.indexes, [12345]);
  assert.equal(one.body.next, null);
  const q = await api('GET', '/v1/zones/big.test/records?q=h1999.&limit=5');
  assert.deepEqual(q.body.records.map((r: { name: string }) => r.name), ['h1999']);
  const several = await walk<{ name: string }>('/v1/zones/big.test/records?q=h1999&limit=4', 'records', (r) => r.name);
  assert.deepEqual(several.map((r) => r.name), ['h1999', ...Array.from({ length: 10 }, (_, i) => `h1999${i}`)]);
});

let deletedRevision = 0;
test('C1/C2: deleting by an index from a page removes that record from DNS; the diff of that revision is a few lines', async () => {
  assert.equal((await query(dnsPort, 'h12345.big.test')).rcode, 'NOERROR');
  const one = await api('GET', '/v1/zones/big.test/records?name=h12345&type=A');
  const del = await api('DELETE', `/v1/zones/big.test/records/${one.body.indexes[0]}`, { headers: { 'if-match': one.etag! } });
  assert.equal(del.status, 200, JSON.stringify(del.body));
  assert.deepEqual(del.body.deleted.map((r: { name: string }) => r.name), ['h12345']);
  for (let i = 0; (await query(dnsPort, 'h12345.big.test')).rcode !== 'NXDOMAIN'; i++) {
    assert.ok(i < 100, 'the record leaves DNS');
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal((await query(dnsPort, 'h12346.big.test')).rcode, 'NOERROR');
  deletedRevision = Number(/\d+/.exec(del.etag!)![0]);
  const diff = await fetch(`${base}/v1/revisions/${deletedRevision}/diff`, { headers: { authorization: `Bearer ${BOOT}` } });
  const lines = (await diff.text()).split('\n');
  assert.ok(lines.length < 80, `${lines.length} lines:\n${lines.join('\n')}`);
  assert.deepEqual(lines.filter((l) => l.startsWith('+ ')), []);
  assert.deepEqual(lines.filter((l) => l.startsWith('- ')).map((l) => l.replace(/\s+/g, ' ')), ['- - name: h12345', '- type: A', '- value: 10.0.48.56']);
  assert.ok(lines.some((l) => /^@@ [\d,]+ unchanged items @@$/.test(l)), 'the unchanged records are left out');
});

test('C1: the members of a pool, health, persistence, revisions and the audit log page by cursor too', async () => {
  const members = await walk<{ address: string }>('/v1/pools/wide/members?limit=300', 'members', (m) => m.address);
  assert.equal(members.length, WIDE);
  assert.equal(members[WIDE - 1]!.address, `10.3.${(WIDE - 1) >> 8}.${(WIDE - 1) & 255}`);
  assert.equal((await api('GET', '/v1/pools/wide')).body.members.length, WIDE, 'one pool is read whole');
  assert.equal((await api('GET', '/v1/pools/wide/members?q=10.3.2.')).body.total, WIDE - 512);

  const health = await api('GET', '/v1/health?pool=wide&pool=p7&limit=10');
  assert.equal(health.body.total, WIDE + 2);
  assert.equal(health.body.members.length, 10);
  const allHealth = await walk<{ pool: string; member: string }>('/v1/health?pool=wide&pool=p7&limit=250', 'members', (h) => `${h.pool}/${h.member}`);
  assert.equal(allHealth.length, WIDE + 2);

  for (let i = 1; i <= 5; i++) await query(dnsPort, 'sticky.gslb.test', { from: `127.0.0.${60 + i}` });
  let records: Array<{ keyText: string }> = [];
  for (let i = 0; records.length < 5; i++) {
    assert.ok(i < 100, 'the persistence records reach the supervisor');
    await new Promise((r) => setTimeout(r, 50));
    records = await walk<{ keyText: string; name: string }>('/v1/persistence?name=sticky.gslb.test&limit=2', 'records', (r) => `${r.name}/${r.keyText}`);
  }
  assert.deepEqual(records.map((r) => r.keyText).sort(), ['127.0.0.61', '127.0.0.62', '127.0.0.63', '127.0.0.64', '127.0.0.65']);

  const revisions = await walk<{ id: number }>('/v1/revisions?limit=2', 'revisions', (r) => String(r.id));
  const listed = await api('GET', '/v1/revisions?limit=1000');
  assert.deepEqual(revisions.map((r) => r.id), listed.body.revisions.map((r: { id: number }) => r.id));
  assert.equal(listed.body.total, revisions.length);
  assert.ok(revisions.every((r, i) => i === 0 || r.id < revisions[i - 1]!.id), 'newest first');
  assert.equal((await api('GET', '/v1/revisions?q=name.delete')).body.total, 2, 'q finds revisions by their comment');

  const audit = await walk<{ id: number }>('/v1/audit?limit=2', 'entries', (e) => String(e.id));
  assert.deepEqual(audit.map((e) => e.id), (await api('GET', '/v1/audit?limit=1000')).body.entries.map((e: { id: number }) => e.id));
  const deletes = await api('GET', '/v1/audit?action=name.delete');
  assert.equal(deletes.body.total, 2);
  assert.deepEqual(deletes.body.entries.map((e: { target: string }) => e.target), ['names/n199.gslb.test', 'names/n10.gslb.test']);
  assert.equal((await api('GET', '/v1/audit?q=n199')).body.entries.length, 1);
});

test('C1: the OpenAPI document declares limit and cursor on every list', async () => {
  const doc = await (await fetch(`${base}/openapi.json`)).json() as { paths: Record<string, { get?: { parameters?: Array<{ name: string; in: string }> } }> };
  for (const p of ['/v1/names', '/v1/pools', '/v1/zones', '/v1/monitors', '/v1/resolver-groups', '/v1/pools/{pool}/members', '/v1/zones/{origin}/records', '/v1/revisions', '/v1/audit', '/v1/persistence', '/v1/health']) {
    const params = (doc.paths[p]?.get?.parameters ?? []).filter((x) => x.in === 'query').map((x) => x.name);
    for (const want of ['limit', 'cursor']) assert.ok(params.includes(want), `${p} declares ${want} (has ${params.join(', ')})`);
  }
  const names = (doc.paths['/v1/names']!.get!.parameters ?? []).map((x) => x.name);
  assert.ok(names.includes('q') && names.includes('name'));
});
