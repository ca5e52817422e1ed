// C1–C4: the REST API, its auth and audit, and the CLI that talks to it — through the real CLI (`waymark serve` with
// api: and store:), real HTTP (fetch) and real DNS queries. One server runs for the whole file; tests build on each
// other's state in order.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import YAML from 'yaml';
import { spawnWaymark, runWaymark, freePort, tempDir, query, addresses, ROOT, type SpawnedWaymark } from '../harness.js';
import { splitConfig } from '../../src/config/declarative.js';

const BOOT = 'bootstrap-token-for-tests-0123456789';
const ENV = { WAYMARK_BOOTSTRAP_TOKEN: BOOT };

let dir = '';
let cfg = '';
let dnsPort = 0;
let apiPort = 0;
let base = '';
let server: SpawnedWaymark | null = null;
/** Tokens created through the API during the run. */
const tokens: Record<string, { id: number; token: string }> = {};

function config(): string {
  return `
server: { listen: ["127.0.0.1:${dnsPort}"], workers: 2, rrl: { enabled: false } }
api: { listen: "127.0.0.1:${apiPort}" }
store: { path: ./state }
zones:
  - origin: api.test
    ttl: 60
    ns: [ns1]
    records:
      - { name: ns1, type: A, value: 127.0.0.53 }
      - { name: static, type: A, value: 192.0.2.99 }
names:
  - { name: www.api.test, pools: [a], ttl: 1 }
  - { name: cmp.api.test, pools: [c], ttl: 5 }
  - { name: sticky.api.test, pools: [s], persistence: { ttl: 600s } }
pools:
  - { name: a, select: [global-availability], members: [ { address: 192.0.2.1 }, { address: 192.0.2.2 } ] }
  - { name: c, select: [ratio], members: [ { address: 192.0.2.31, weight: 3 }, { address: 192.0.2.32 } ] }
  - { name: s, select: [round-robin], members: [ { address: 192.0.2.41 }, { address: 192.0.2.42 } ] }
`;
}

interface Res<T = any> { status: number; body: T; etag: string | null; headers: Headers }

/** One API call; `token: null` sends none. */
async function api<T = any>(method: string, p: string, o: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {}): Promise<Res<T>> {
  const headers: Record<string, string> = { ...o.headers };
  const token = o.token === undefined ? BOOT : o.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${p}`, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
  const text = await res.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* text */ }
  return { status: res.status, body: body as T, etag: res.headers.get('etag'), headers: res.headers };
}

async function waitFor(what: string, fn: () => Promise<boolean>, ms = 5000): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await fn()) return Date.now() - start;
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Several queries (they spread over both workers): true when every one answers `want`. */
async function answersAre(name: string, want: string[]): Promise<boolean> {
  for (let i = 0; i < 4; i++) {
    const got = addresses(await query(dnsPort, name, { timeoutMs: 1000 }));
    if (JSON.stringify(got) !== JSON.stringify(want)) return false;
  }
  return true;
}

async function startServer(): Promise<SpawnedWaymark> {
  const w = await spawnWaymark(['serve', '--config', cfg], { env: ENV });
  await waitFor('the API', async () => (await fetch(`${base}/openapi.json`).catch(() => null))?.status === 200);
  return w;
}

function cli(args: string[], env: Record<string, string> = {}): ReturnType<typeof runWaymark> {
  return runWaymark(args, { env: { WAYMARK_API: base, WAYMARK_TOKEN: BOOT, ...env } });
}

before(async () => {
  dir = tempDir('waymark-api-');
  dnsPort = await freePort();
  apiPort = await freePort();
  base = `http://127.0.0.1:${apiPort}`;
  cfg = path.join(dir, 'waymark.yaml');
  fs.writeFileSync(cfg, config());
  server = await startServer();
});

after(async () => {
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('C1/G7: explain through the API equals `waymark explain`', async () => {
  const viaApi = await api('GET', '/v1/explain?name=cmp.api.test&resolver=127.0.0.9');
  assert.equal(viaApi.status, 200);
  const local = await runWaymark(['explain', '--config', cfg, 'cmp.api.test', '--resolver', '127.0.0.9', '--json']);
  assert.equal(local.code, 0, local.stderr);
  const e = JSON.parse(local.stdout);
  assert.deepEqual({ rcode: viaApi.body.rcode, answers: viaApi.body.answers, steps: viaApi.body.steps, policy: viaApi.body.policy },
    { rcode: e.rcode, answers: e.answers, steps: e.steps, policy: e.policy });
  assert.ok(viaApi.body.steps.length > 0);
  // Explaining changes nothing: asked again, the same answer (no counter moved, no record made).
  assert.deepEqual((await api('GET', '/v1/explain?name=cmp.api.test&resolver=127.0.0.9')).body.answers, viaApi.body.answers);
  const bad = await api('GET', '/v1/explain?name=cmp.api.test&resolver=not-an-ip');
  assert.equal(bad.status, 400);
  assert.match(bad.body.message, /not an IP address/);
});

test('C4: no token → 401, unknown token → 401, with JSON error bodies', async () => {
  const none = await api('GET', '/v1/status', { token: null });
  assert.equal(none.status, 401);
  assert.match(none.body.message, /Bearer/);
  assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
  const wrong = await api('GET', '/v1/status', { token: 'wm_not-a-real-token' });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.message, 'unknown token');
  const ok = await api('GET', '/v1/status');
  assert.equal(ok.status, 200);
  assert.equal(ok.body.workers, 2);
  assert.equal(ok.body.names, 3);
  assert.equal(ok.body.revision.source, 'file');
});

test('C4: tokens with roles — created once, listed without secrets, read < operator < admin, revoked → 401', async () => {
  for (const [name, role] of [['reader', 'read'], ['ops', 'operator'], ['boss', 'admin']] as const) {
    const r = await api('POST', '/v1/tokens', { body: { name, role } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.match(r.body.token, /^wm_[A-Za-z0-9_-]{43}$/);
    assert.equal(r.body.role, role);
    tokens[name] = { id: r.body.id, token: r.body.token };
  }
  const list = await api('GET', '/v1/tokens');
  assert.equal(list.status, 200);
  assert.ok(list.body.tokens.length >= 3);
  for (const t of list.body.tokens) assert.ok(!('hash' in t) && !('token' in t), 'no secrets in the list');

  const reader = tokens.reader!.token;
  assert.equal((await api('GET', '/v1/pools', { token: reader })).status, 200);
  // The status names the caller and its role (the dashboard greys out what a read token may not do).
  assert.deepEqual((await api<{ caller: unknown }>('GET', '/v1/status', { token: reader })).body.caller, { name: 'reader', role: 'read' });
  const denied = await api('POST', '/v1/pools', { token: reader, body: { name: 'x', members: [{ address: '192.0.2.1' }] } });
  assert.equal(denied.status, 403);
  assert.match(denied.body.message, /admin role/);
  assert.equal((await api('PUT', '/v1/pools/a/members/192.0.2.1/state', { token: reader, body: { state: 'down' } })).status, 403);
  assert.equal((await api('GET', '/v1/tokens', { token: tokens.ops!.token })).status, 403, 'tokens are for admins');
  assert.equal((await api('GET', '/v1/tokens', { token: tokens.boss!.token })).status, 200);

  const bad = await api('POST', '/v1/tokens', { body: { name: 'x', role: 'superuser', extra: 1 } });
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body.errors.map((e: { path: string }) => e.path).sort(), ['extra', 'role']);

  const revoked = await api('DELETE', `/v1/tokens/${tokens.reader!.id}`);
  assert.equal(revoked.status, 200);
  assert.ok(revoked.body.revokedAt > 0);
  const afterRevoke = await api('GET', '/v1/pools', { token: reader });
  assert.equal(afterRevoke.status, 401);
  assert.match(afterRevoke.body.message, /revoked/);
  assert.equal((await api('DELETE', `/v1/tokens/${tokens.reader!.id}`)).status, 404, 'already revoked');
});

test('C1/C2: a pool and a name created through the API are answered by real DNS within 1 s', async () => {
  const pool = await api('POST', '/v1/pools', { body: { name: 'b', members: [{ address: '192.0.2.20' }] } });
  assert.equal(pool.status, 201, JSON.stringify(pool.body));
  assert.match(pool.etag ?? '', /^"rev-\d+"$/);
  const name = await api('POST', '/v1/names', { body: { name: 'new.api.test', pools: ['b'], ttl: 1 } });
  assert.equal(name.status, 201, JSON.stringify(name.body));
  assert.notEqual(name.etag, pool.etag);
  const ms = await waitFor('new.api.test to answer', () => answersAre('new.api.test', ['192.0.2.20']), 1000);
  assert.ok(ms <= 1000, `${ms} ms`);
  assert.deepEqual((await api('GET', '/v1/names/NEW.api.test.')).body, { name: 'new.api.test', pools: ['b'], ttl: 1 }, 'names match without case or final dot');
  assert.equal((await api('POST', '/v1/pools', { body: { name: 'b', members: [{ address: '192.0.2.21' }] } })).status, 409, 'exists already');
});

test('C1/C2: a write is answered once every worker serves it: the next queries, over both workers, all see it', async () => {
  // Fresh sockets have fresh source ports, which the kernel spreads over both workers' sockets (SO_REUSEPORT).
  const everyQuerySees = async (name: string, want: string[] | 'NXDOMAIN'): Promise<void> => {
    const got = await Promise.all(Array.from({ length: 16 }, () => query(dnsPort, name, { timeoutMs: 1000 })));
    for (const r of got) assert.deepEqual(want === 'NXDOMAIN' ? r.rcode : addresses(r), want, `${name}: right after the reply`);
  };
  for (let i = 0; i < 10; i++) {
    const add = await api('POST', '/v1/zones/api.test/records', { body: { name: `ack${i}`, type: 'A', value: `192.0.2.${100 + i}` } });
    assert.equal(add.status, 201, JSON.stringify(add.body));
    await everyQuerySees(`ack${i}.api.test`, [`192.0.2.${100 + i}`]);
    const del = await api('DELETE', `/v1/zones/api.test/records?name=ack${i}&type=A`);
    assert.equal(del.status, 200, JSON.stringify(del.body));
    await everyQuerySees(`ack${i}.api.test`, 'NXDOMAIN');
  }
  // An edit of names and pools travels as an edit, not a load: it is waited for the same way.
  const pool = await api('POST', '/v1/pools', { body: { name: 'ack', members: [{ address: '192.0.2.150' }] } });
  assert.equal(pool.status, 201, JSON.stringify(pool.body));
  const name = await api('POST', '/v1/names', { body: { name: 'ack.api.test', pools: ['ack'], ttl: 1 } });
  assert.equal(name.status, 201, JSON.stringify(name.body));
  await everyQuerySees('ack.api.test', ['192.0.2.150']);
  assert.equal((await api('DELETE', '/v1/names/ack.api.test')).status, 200);
  assert.equal((await api('DELETE', '/v1/pools/ack')).status, 200);
  await everyQuerySees('ack.api.test', 'NXDOMAIN');
});

test('C1: invalid fields → 400 naming every bad field, and nothing changes', async () => {
  const before = await api('GET', '/v1/revisions');
  const r = await api('POST', '/v1/pools', { body: { name: 'bad', members: [{ address: '192.0.2.7' }, { address: 'not-an-ip' }, { address: '192.0.2.8', port: 70000, colour: 'red' }] } });
  assert.equal(r.status, 400);
  const byField = new Map<string, { path: string; message: string }>(r.body.errors.map((e: { field: string; path: string; message: string }) => [e.field, e]));
  assert.match(byField.get('members[1].address')?.path ?? '', /^pools\[\d+\]\.members\[1\]\.address$/);
  assert.match(byField.get('members[1].address')?.message ?? '', /not an IPv4 or IPv6 address/);
  assert.ok(byField.has('members[2].port'), JSON.stringify(r.body.errors));
  assert.ok(byField.has('members[2].colour'), JSON.stringify(r.body.errors));
  // A member added to an existing pool: the path inside the pool and inside the member.
  const m = await api('POST', '/v1/pools/a/members', { body: { address: '300.1.1.1' } });
  assert.equal(m.status, 400);
  assert.deepEqual(m.body.errors.map((e: { path: string; field: string }) => [e.path, e.field]), [['pools[0].members[2].address', 'address']]);
  // A reference to a pool that does not exist is found by the full compile.
  const n = await api('POST', '/v1/names', { body: { name: 'dangling.api.test', pools: ['nope'] } });
  assert.equal(n.status, 400);
  assert.ok(n.body.errors.some((e: { path: string }) => /^names\[\d+\]\.pools\[0\]/.test(e.path)), JSON.stringify(n.body.errors));
  assert.equal((await api('GET', '/v1/revisions')).body.current, before.body.current, 'no revision was made');
});

test('C1: a record with two bad fields → 400 listing both, each with its path, the value and what is valid', async () => {
  const before = await api('GET', '/v1/revisions');
  type E = { path: string; field: string; message: string };
  const fields = (r: Res): Array<[string, string]> => (r.body.errors as E[]).map((e) => [e.field, e.message]);
  // Bad TTL and bad value: the schema rejects the TTL; the value is still checked.
  const ttl = await api('POST', '/v1/zones/api.test/records', { body: { name: 'two', type: 'A', ttl: -5, value: '1.2.3' } });
  assert.equal(ttl.status, 400);
  assert.deepEqual(fields(ttl), [['ttl', '-5 is too small; use at least 0'], ['value', '"1.2.3" is not an IPv4 address']]);
  for (const e of ttl.body.errors as E[]) assert.match(e.path, new RegExp(`^zones\\[0\\]\\.records\\[\\d+\\]\\.${e.field}$`));
  assert.match(ttl.body.message, /ttl: -5 is too small.*; value: "1\.2\.3" is not an IPv4 address/);
  // Bad owner name and bad value: both, the value judged even though the owner is wrong.
  const name = await api('POST', '/v1/zones/api.test/records', { body: { name: 'a..b', type: 'AAAA', value: '2001:db8::zz' } });
  assert.equal(name.status, 400);
  assert.deepEqual(fields(name).map(([f]) => f), ['name', 'value']);
  // A misspelt key next to a bad type: both, the key with the nearest allowed one.
  const key = await api('POST', '/v1/zones/api.test/records', { body: { name: 'k', type: 'BOGUS', vlaue: '1' } });
  assert.equal(key.status, 400);
  assert.deepEqual(fields(key).find(([f]) => f === 'vlaue'), ['vlaue', 'unknown key; did you mean "value"?']);
  assert.equal((await api('GET', '/v1/revisions')).body.current, before.body.current, 'no revision was made');
});

test('C1: zone records and pool members can be added and removed one by one', async () => {
  const rec = await api('POST', '/v1/zones/api.test/records', { body: { name: 'rec', type: 'A', value: '192.0.2.77' } });
  assert.equal(rec.status, 201, JSON.stringify(rec.body));
  await waitFor('rec.api.test', () => answersAre('rec.api.test', ['192.0.2.77']), 1000);
  const list = await api('GET', '/v1/zones/api.test/records');
  assert.equal(list.body.records.length, 3);
  const del = await api('DELETE', '/v1/zones/api.test/records?name=rec.api.test.&type=a');
  assert.equal(del.status, 200, JSON.stringify(del.body));
  assert.equal(del.body.deleted.length, 1);
  await waitFor('rec.api.test gone', async () => (await query(dnsPort, 'rec.api.test')).rcode === 'NXDOMAIN', 1000);

  const add = await api('POST', '/v1/pools/b/members', { body: { address: '192.0.2.21', port: 8080 } });
  assert.equal(add.status, 201);
  assert.deepEqual((await api('GET', '/v1/pools/b/members')).body.members.map((x: { address: string }) => x.address), ['192.0.2.20', '192.0.2.21']);
  assert.equal((await api('DELETE', '/v1/pools/b/members/192.0.2.21:8080')).status, 200);
  assert.equal((await api('DELETE', '/v1/pools/b/members/192.0.2.21:8080')).status, 404);
  const zone = await api('POST', '/v1/zones', { body: { file: '/etc/passwd' } });
  assert.equal(zone.status, 400);
  assert.ok(zone.body.errors.some((e: { field: string }) => e.field === 'file'));
});

test('C1: monitors, topology and resolver groups through the API, with field paths on errors', async () => {
  const mon = await api('POST', '/v1/monitors', { body: { name: 'port', type: 'tcp', port: 9, interval: '5s' } });
  assert.equal(mon.status, 201, JSON.stringify(mon.body));
  assert.equal((await api('GET', '/v1/monitors/port')).body.type, 'tcp');
  const badMon = await api('PUT', '/v1/monitors/port', { body: { type: 'tcp', interval: '200ms' } });
  assert.equal(badMon.status, 400);
  assert.ok(badMon.body.errors.some((e: { field: string }) => e.field === 'interval'), JSON.stringify(badMon.body.errors));
  assert.equal((await api('DELETE', '/v1/monitors/port')).status, 200);

  const topo = await api('PUT', '/v1/topology', { body: { regions: [{ name: 'lab', cidrs: ['10.9.0.0/16'] }], rules: [{ from: 'region:lab', to: 'pool:a' }] } });
  assert.equal(topo.status, 200, JSON.stringify(topo.body));
  assert.deepEqual((await api('GET', '/v1/topology')).body.rules, [{ from: 'region:lab', to: 'pool:a' }]);
  const badTopo = await api('PUT', '/v1/topology', { body: { regions: [], rules: [{ from: '10.0.0.0/99', to: 'pool:a' }] } });
  assert.equal(badTopo.status, 400);
  assert.ok(badTopo.body.errors.every((e: { path: string; field: string }) => e.path.startsWith('topology.rules[0]') && e.field.startsWith('rules[0]')), JSON.stringify(badTopo.body.errors));

  const group = await api('POST', '/v1/resolver-groups', { body: { name: 'isp-a', members: ['198.51.100.0/24'] } });
  assert.equal(group.status, 201, JSON.stringify(group.body));
  assert.equal((await api('GET', '/v1/resolver-groups')).body.resolverGroups.length, 1);
  assert.equal((await api('DELETE', '/v1/resolver-groups/isp-a')).status, 200);
  assert.equal((await api('GET', '/v1/resolver-groups/isp-a')).status, 404);
});

test('C1: ETag/If-Match — a writer with a stale ETag gets 412 and nothing changes', async () => {
  const read = await api('GET', '/v1/pools/a');
  assert.equal(read.status, 200);
  const etag = read.etag!;
  const first = await api('PUT', '/v1/pools/a', { headers: { 'if-match': etag }, body: { ...read.body, members: [...read.body.members, { address: '192.0.2.3' }] } });
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.notEqual(first.etag, etag);
  const second = await api('PUT', '/v1/pools/a', { headers: { 'if-match': etag }, body: { ...read.body, members: [{ address: '192.0.2.9' }] } });
  assert.equal(second.status, 412);
  assert.equal(second.etag, first.etag, 'the 412 tells the current ETag');
  const now = await api('GET', '/v1/pools/a');
  assert.deepEqual(now.body.members.map((m: { address: string }) => m.address), ['192.0.2.1', '192.0.2.2', '192.0.2.3']);
  assert.equal(now.etag, first.etag);
  assert.equal((await api('PUT', '/v1/pools/a', { headers: { 'if-match': 'yesterday' }, body: read.body })).status, 400);
  // The whole configuration: the same one sent back with its ETag is accepted and makes no new revision.
  const whole = await api('GET', '/v1/config');
  const same = await api('PUT', '/v1/config', { headers: { 'if-match': whole.etag! }, body: whole.body.config });
  assert.equal(same.status, 200);
  assert.equal(same.etag, whole.etag);
  const boot = await api('PUT', '/v1/config', { body: { ...whole.body.config, server: { workers: 1 } } });
  assert.equal(boot.status, 400);
  assert.equal(boot.body.errors[0].path, 'server');
});

test('H2/C1: an operator disables a member → the DNS answer changes; auto brings it back', async () => {
  assert.ok(await answersAre('www.api.test', ['192.0.2.1']));
  const ops = tokens.ops!.token;
  const down = await api('PUT', '/v1/pools/a/members/192.0.2.1/state', { token: ops, body: { state: 'down' } });
  assert.equal(down.status, 200, JSON.stringify(down.body));
  assert.equal(down.body.previous, 'auto');
  const ms = await waitFor('the answer to move to 192.0.2.2', () => answersAre('www.api.test', ['192.0.2.2']), 1000);
  assert.ok(ms <= 1000);
  const health = await api('GET', '/v1/health', { token: ops });
  const h = health.body.members.find((m: { pool: string; member: string }) => m.pool === 'a' && m.member === '192.0.2.1');
  assert.equal(h.admin, 'down');
  assert.equal(h.adminBy, 'ops');
  assert.equal(h.up, true, 'its monitors still say up');
  assert.equal((await api('PUT', '/v1/pools/a/members/192.0.2.1/state', { token: ops, body: { state: 'sideways' } })).status, 400);
  assert.equal((await api('PUT', '/v1/pools/a/members/192.0.2.77/state', { token: ops, body: { state: 'down' } })).status, 404);
  assert.equal((await api('PUT', '/v1/pools/a/members/192.0.2.1/state', { token: ops, body: { state: 'auto' } })).status, 200);
  await waitFor('the answer to come back', () => answersAre('www.api.test', ['192.0.2.1']), 1000);
});

let changedRevision = 0;
test('C2: revisions — list, diff and rollback put the old answer back', async () => {
  const beforeChange = (await api('GET', '/v1/revisions')).body.current as number;
  const put = await api('PUT', '/v1/names/www.api.test', { body: { name: 'www.api.test', pools: ['b'], ttl: 1 } });
  assert.equal(put.status, 200);
  await waitFor('www to answer from pool b', () => answersAre('www.api.test', ['192.0.2.20']), 1000);
  const list = await api('GET', '/v1/revisions');
  changedRevision = list.body.current;
  assert.equal(changedRevision, beforeChange + 1);
  assert.equal(list.body.revisions[0].source, 'api');
  assert.equal(list.body.revisions[0].author, 'bootstrap');
  assert.equal(list.body.revisions[0].current, true);
  const one = await api('GET', `/v1/revisions/${changedRevision}`);
  assert.equal(one.body.config.names[0].pools[0], 'b');
  const diff = await fetch(`${base}/v1/revisions/${changedRevision}/diff`, { headers: { authorization: `Bearer ${BOOT}` } });
  assert.equal(diff.status, 200);
  assert.match(diff.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await diff.text();
  assert.match(text, /^- +- a$/m);
  assert.match(text, /^\+ +- b$/m);

  const stale = await api('POST', `/v1/revisions/${beforeChange}/rollback`, { headers: { 'if-match': `"rev-${beforeChange}"` } });
  assert.equal(stale.status, 412);
  const rb = await api('POST', `/v1/revisions/${beforeChange}/rollback`, { headers: { 'if-match': `"rev-${changedRevision}"` } });
  assert.equal(rb.status, 200, JSON.stringify(rb.body));
  assert.equal(rb.body.changed, true);
  assert.equal(rb.body.revision.source, 'rollback');
  assert.equal(rb.etag, `"rev-${changedRevision + 1}"`);
  await waitFor('www back on pool a', () => answersAre('www.api.test', ['192.0.2.1']), 1000);
  assert.equal((await api('POST', '/v1/revisions/9999/rollback')).status, 404);
});

test('C3: every change is in the audit log with who, what, before and after', async () => {
  const names = await api('GET', '/v1/audit?target=names/www.api.test');
  const update = names.body.entries.find((e: { action: string }) => e.action === 'name.update');
  assert.ok(update, JSON.stringify(names.body));
  assert.equal(update.actor, 'bootstrap');
  assert.deepEqual(update.before.value.pools, ['a']);
  assert.deepEqual(update.after.value.pools, ['b']);
  assert.equal(update.after.revision, changedRevision);
  const member = await api('GET', '/v1/audit?target=pools/a/members/192.0.2.1&limit=10');
  const down = member.body.entries.find((e: { after: { state: string } }) => e.after?.state === 'down');
  assert.equal(down.actor, 'ops');
  assert.deepEqual(down.before, { state: 'auto' });
  const all = await api('GET', '/v1/audit?limit=200');
  const actions = new Set(all.body.entries.map((e: { action: string }) => e.action));
  for (const a of ['token.create', 'token.revoke', 'pool.create', 'name.create', 'pool.update', 'member.state', 'config.rollback', 'zone.record.create', 'pool.member.create']) assert.ok(actions.has(a), a);
  assert.equal((await api('GET', '/v1/audit?limit=2')).body.entries.length, 2);
});

test('C1: /openapi.json is an OpenAPI 3 document of our paths; /metrics is public; unknown routes are JSON 404', async () => {
  const res = await fetch(`${base}/openapi.json`);
  assert.equal(res.status, 200);
  const doc = await res.json() as { openapi: string; info: { title: string }; paths: Record<string, Record<string, { responses?: object; security?: unknown[] }>>; components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> } };
  assert.match(doc.openapi, /^3\.\d+\.\d+$/);
  assert.equal(doc.info.title, 'Waymark API');
  for (const p of ['/v1/config', '/v1/zones', '/v1/zones/{origin}/records', '/v1/names/{name}', '/v1/pools', '/v1/pools/{pool}/members/{member}', '/v1/pools/{pool}/members/{member}/state',
    '/v1/monitors', '/v1/topology', '/v1/resolver-groups', '/v1/health', '/v1/health/history', '/v1/probers', '/v1/persistence', '/v1/explain',
    '/v1/revisions', '/v1/revisions/{id}/diff', '/v1/revisions/{id}/rollback', '/v1/status', '/v1/tokens', '/v1/audit', '/metrics']) {
    assert.ok(doc.paths[p], `missing ${p}`);
  }
  assert.ok(doc.components.securitySchemes.bearer);
  for (const [p, ops] of Object.entries(doc.paths)) for (const [m, op] of Object.entries(ops)) assert.ok(op.responses, `${m} ${p} documents its responses`);
  assert.deepEqual(doc.paths['/metrics']!.get!.security, []);
  const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
  assert.ok(refs.length > 10);
  for (const r of refs) assert.ok(r.startsWith('#/components/schemas/') && doc.components.schemas[r.slice('#/components/schemas/'.length)], `dangling ${r}`);

  const metrics = await fetch(`${base}/metrics`);
  assert.equal(metrics.status, 200, 'public: no token sent');
  assert.match(await metrics.text(), /^# TYPE waymark_queries_total counter$/m);
  const nope = await api('GET', '/v1/nope');
  assert.equal(nope.status, 404);
  assert.match(nope.body.message, /no route/);
});

test('C1: the dashboard is served at / when built, and nothing outside it', async () => {
  const built = fs.existsSync(path.join(ROOT, 'dist', 'web', 'index.html'));
  const res = await fetch(`${base}/`);
  assert.equal(res.status, built ? 200 : 404);
  if (built) assert.match(res.headers.get('content-type') ?? '', /text\/html/);
  const raw = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: apiPort, path: '/%2e%2e/%2e%2e/package.json' }, (r) => {
      let body = '';
      r.on('data', (d: Buffer) => { body += d.toString(); });
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
    }).on('error', reject);
  });
  assert.ok(!raw.body.includes('"name": "waymark"'), 'no file outside dist/web');
});

test('G5: persistence records are listed by name and resolver, and deleted', async () => {
  const first = addresses(await query(dnsPort, 'sticky.api.test', { from: '127.0.0.41' }))[0]!;
  let rec: { keyText: string; member: string; hits: number } | undefined;
  await waitFor('the record to reach the supervisor', async () => {
    const r = await api('GET', '/v1/persistence?name=sticky.api.test&resolver=127.0.0.41');
    rec = r.body.records[0];
    return r.body.total === 1;
  }, 2000);
  assert.equal(rec!.keyText, '127.0.0.41');
  assert.equal(rec!.member, first);
  assert.equal((await api('GET', '/v1/persistence?name=sticky.api.test&resolver=127.0.0.42')).body.total, 0);
  const reader = (await api('POST', '/v1/tokens', { body: { name: 'reader2', role: 'read' } })).body.token as string;
  assert.equal((await api('DELETE', '/v1/persistence?name=sticky.api.test&resolver=127.0.0.41', { token: reader })).status, 403);
  const del = await api('DELETE', '/v1/persistence?name=sticky.api.test&resolver=127.0.0.41', { token: tokens.ops!.token });
  assert.equal(del.status, 200, JSON.stringify(del.body));
  assert.equal(del.body.deleted, 1);
  assert.equal((await api('GET', '/v1/persistence?name=sticky.api.test')).body.total, 0);
  const audit = await api('GET', '/v1/audit?target=persistence/sticky.api.test');
  assert.equal(audit.body.entries[0].action, 'persistence.delete');
  assert.equal(audit.body.entries[0].actor, 'ops');
  assert.equal(audit.body.entries[0].before[0].member, first);
  assert.equal((await api('DELETE', '/v1/persistence?name=sticky.api.test&resolver=127.0.0.41')).status, 404);
});

test('C2: export → apply is a round trip (no new revision), and apply of a change is in force within a second', async () => {
  const exported = await runWaymark(['export', '--config', cfg]);
  assert.equal(exported.code, 0, exported.stderr);
  const current = await api('GET', '/v1/config');
  assert.deepEqual(splitConfig(YAML.parse(exported.stdout)).declarative, current.body.config, 'export re-parses to the configuration in force');
  const file = path.join(dir, 'exported.yaml');
  fs.writeFileSync(file, exported.stdout);
  // A store belongs to one configuration file: applying another file names the store's owner with --config.
  const refused = await runWaymark(['apply', file]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /belongs to .*waymark\.yaml/);
  const again = await runWaymark(['apply', file, '--config', cfg, '--json']);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(JSON.parse(again.stdout), { changed: false, revision: current.body.revision });
  assert.equal((await api('GET', '/v1/revisions')).body.current, current.body.revision);

  const changed = YAML.parse(exported.stdout);
  changed.pools.find((p: { name: string }) => p.name === 'a').members = [{ address: '192.0.2.5' }];
  fs.writeFileSync(file, YAML.stringify(changed));
  const applied = await runWaymark(['apply', file, '--config', cfg]);
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(applied.stdout, /revision \d+ applied/);
  const ms = await waitFor('the applied revision in force', () => answersAre('www.api.test', ['192.0.2.5']), 1500);
  assert.ok(ms <= 1000, `${ms} ms`);
  const revs = await api('GET', '/v1/revisions?limit=1');
  assert.equal(revs.body.revisions[0].source, 'apply');
  assert.equal(revs.body.revisions[0].file, file, 'C3: a revision records the file it was made from');
  const broken = await runWaymark(['apply', file.replace('exported', 'missing')]);
  assert.equal(broken.code, 1);
  // Back to what it was (through the CLI client).
  const rb = await cli(['rollback', String(current.body.revision), '--json']);
  assert.equal(rb.code, 0, rb.stderr);
  assert.equal(JSON.parse(rb.stdout).changed, true);
  await waitFor('rolled back', () => answersAre('www.api.test', ['192.0.2.1']), 1000);
});

test('C1: CLI client commands against the running server, --json and tables', async () => {
  const status = await cli(['status', '--json']);
  assert.equal(status.code, 0, status.stderr);
  const s = JSON.parse(status.stdout);
  assert.equal(s.revision.id, (await api('GET', '/v1/revisions')).body.current);
  assert.equal(s.workers, 2);

  const names = JSON.parse((await cli(['names', '--json'])).stdout);
  assert.ok(names.names.some((n: { name: string }) => n.name === 'www.api.test'));
  const pools = JSON.parse((await cli(['pools', '--json'])).stdout);
  const a = pools.pools.find((p: { name: string }) => p.name === 'a');
  assert.equal(a.members[0].health.up, true);
  const table = await cli(['pools']);
  assert.match(table.stdout, /^POOL +MEMBER +WEIGHT/);

  const dis = await cli(['members', 'a', 'disable', '192.0.2.1', '--json'], { WAYMARK_TOKEN: tokens.ops!.token });
  assert.equal(dis.code, 0, dis.stderr);
  assert.equal(JSON.parse(dis.stdout).state, 'down');
  await waitFor('disable through the CLI', () => answersAre('www.api.test', ['192.0.2.2']), 1000);
  const en = await cli(['members', 'a', 'auto', '192.0.2.1'], { WAYMARK_TOKEN: tokens.ops!.token });
  assert.match(en.stdout, /a\/192\.0\.2\.1: auto \(was down\)/);
  await waitFor('auto through the CLI', () => answersAre('www.api.test', ['192.0.2.1']), 1000);

  const revs = JSON.parse((await cli(['revisions', '--json', '--limit', '3'])).stdout);
  assert.equal(revs.revisions.length, 3);
  assert.ok(revs.revisions[0].current);
  const audit = JSON.parse((await cli(['audit', '--json', '--limit', '5'])).stdout);
  assert.equal(audit.entries.length, 5);
  assert.ok(audit.entries.every((e: { actor: string }) => e.actor.length > 0));
  const explained = JSON.parse((await cli(['api-explain', 'www.api.test', '--resolver', '127.0.0.9', '--json'])).stdout);
  assert.equal(explained.rcode, 'NOERROR');
  assert.deepEqual(explained.answers.map((x: { data: string }) => x.data), ['192.0.2.1']);
  const human = await cli(['api-explain', 'www.api.test', '--resolver', '127.0.0.9']);
  assert.match(human.stdout, /^answer: NOERROR: 192\.0\.2\.1/m);

  const denied = await cli(['status'], { WAYMARK_TOKEN: 'wm_wrong' });
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /401/);
  const unreachable = await cli(['status', '--api', 'http://127.0.0.1:1']);
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.stderr, /cannot reach the API/);
});

test('C4: local token commands (store-direct): create prints the token once, list, revoke', async () => {
  const created = await runWaymark(['token', 'create', '--config', cfg, '--role', 'read', '--name', 'cli-reader', '--json']);
  assert.equal(created.code, 0, created.stderr);
  const t = JSON.parse(created.stdout);
  assert.match(t.token, /^wm_/);
  assert.equal((await api('GET', '/v1/status', { token: t.token })).status, 200);
  assert.equal((await api('POST', '/v1/pools', { token: t.token, body: { name: 'z', members: [{ address: '192.0.2.1' }] } })).status, 403);
  const list = await runWaymark(['token', 'list', '--config', cfg, '--json']);
  const listed = JSON.parse(list.stdout).tokens.find((x: { id: number }) => x.id === t.id);
  assert.equal(listed.name, 'cli-reader');
  assert.ok(!('hash' in listed));
  const plain = await runWaymark(['token', 'create', '--config', cfg, '--role', 'admin']);
  assert.match(plain.stdout, /^wm_[A-Za-z0-9_-]{43}\n$/, 'only the token on stdout');
  const revoked = await runWaymark(['token', 'revoke', String(t.id), '--config', cfg]);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.equal((await api('GET', '/v1/status', { token: t.token })).status, 401);
  assert.equal((await runWaymark(['token', 'create', '--config', cfg, '--role', 'root'])).code, 1);
});

test('C2: nothing acknowledged is lost — SIGKILL right after a 200, restart, the change is there', async () => {
  const r = await api('POST', '/v1/names', { body: { name: 'durable.api.test', pools: ['a'], ttl: 1 } });
  assert.equal(r.status, 201);
  server!.proc.kill('SIGKILL');
  await new Promise<void>((resolve) => { if (server!.proc.exitCode !== null || server!.proc.signalCode !== null) resolve(); else server!.proc.once('exit', () => resolve()); });
  // The orphaned workers leave when they notice their supervisor is gone; then the ports are free.
  await waitFor('the old workers to stop answering', async () => {
    try { await query(dnsPort, 'www.api.test', { timeoutMs: 200 }); return false; } catch { return true; }
  }, 5000);
  server = await startServer();
  const got = await api('GET', '/v1/names/durable.api.test');
  assert.equal(got.status, 200);
  assert.equal(got.etag, r.etag, 'the same revision is current');
  await waitFor('durable.api.test answers', () => answersAre('durable.api.test', ['192.0.2.1']), 2000);
});

test('C4: api: without store: fails clearly at start', async () => {
  const d = tempDir('waymark-api-nostore-');
  try {
    const file = path.join(d, 'w.yaml');
    fs.writeFileSync(file, `server: { listen: ["127.0.0.1:${await freePort()}"], workers: 1 }\napi: { listen: "127.0.0.1:${await freePort()}" }\nzones: [ { origin: x.test, ns: [ns1], records: [ { name: ns1, type: A, value: 127.0.0.1 } ] } ]\n`);
    const r = await runWaymark(['serve', '--config', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /store/);
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});
