// H1/H2/H4: answers follow reality. Real HTTP backends on 127.0.x.y, the real `waymark serve`, real DNS queries.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { spawnWaymark, runWaymark, freePort, tempDir, query, addresses, type SpawnedWaymark } from '../harness.js';

/** An HTTP backend whose health answer the test controls; `stop()` closes its port (connection refused). */
class Backend {
  mode: 'ok' | 'fail' | 'flap' = 'ok';
  agent = 'up';
  /** Health probes received (the agent path not counted): proof that monitoring runs, not just that members start up. */
  probes = 0;
  private flip = false;
  private server: http.Server | null = null;
  constructor(readonly address: string, readonly port: number) {}
  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      if (req.url === '/agent') return void res.end(this.agent);
      this.probes++;
      let ok = this.mode === 'ok';
      if (this.mode === 'flap') ok = this.flip = !this.flip;
      res.statusCode = ok ? 200 : 503;
      res.end(ok ? 'ok' : 'sick');
    });
    await new Promise<void>((r) => this.server!.listen(this.port, this.address, () => r()));
  }
  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((r) => { s.close(() => r()); s.closeAllConnections(); });
  }
}

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

async function backends(list: Array<[string, number]>): Promise<Backend[]> {
  const out = list.map(([a, p]) => new Backend(a, p));
  for (const b of out) {
    await b.start();
    cleanups.push(() => b.stop());
  }
  return out;
}

async function serveConfig(yaml: (port: number) => string, workers = 1): Promise<{ port: number; dir: string; cfg: string; w: SpawnedWaymark }> {
  const dir = tempDir();
  const port = await freePort();
  const cfg = path.join(dir, 'waymark.yaml');
  fs.writeFileSync(cfg, yaml(port));
  const w = await spawnWaymark(['serve', '--config', cfg, '--workers', String(workers)]);
  cleanups.push(async () => { await w.stop(); fs.rmSync(dir, { recursive: true, force: true }); });
  return { port, dir, cfg, w };
}

/** Wait until every backend has been probed `n` times (members start up, so an answer alone proves no probe ran). */
async function probed(list: Backend[], n: number, limitMs = 10_000): Promise<void> {
  const start = Date.now();
  while (list.some((b) => b.probes < n)) {
    if (Date.now() - start > limitMs) throw new Error(`probes so far: ${list.map((b) => `${b.address} ${b.probes}`).join(', ')}; wanted ${n} each`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Poll the answer until `pred` holds; returns ms waited, or throws after `limitMs`. */
async function waitFor(port: number, name: string, pred: (a: string[]) => boolean, limitMs = 10_000): Promise<number> {
  const start = Date.now();
  for (;;) {
    const a = addresses(await query(port, name));
    if (pred(a)) return Date.now() - start;
    if (Date.now() - start > limitMs) throw new Error(`answer for ${name} still ${JSON.stringify(a)} after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const zone = `zones: [ { origin: health.test, ns: [ns1], records: [ { name: ns1, type: A, value: 127.0.0.53 } ] } ]`;

test('H1/H2: a killed backend leaves the answers within about one interval; it returns after `rise` successes', async () => {
  const [a, b] = await backends([['127.0.3.1', 18080], ['127.0.3.2', 18080]]);
  const { port } = await serveConfig((p) => `
server: { listen: ["127.0.0.1:${p}"], rrl: { enabled: false } }
${zone}
monitors: [ { name: web, type: http, path: /health, expect: { status: [200], body: "ok" }, interval: 1s, timeout: 300ms, rise: 2, fall: 1 } ]
names: [ { name: www.health.test, ttl: 1, pools: [p], select: [global-availability] } ]
pools: [ { name: p, select: [global-availability], monitor: web, members: [ { address: 127.0.3.1, port: 18080 }, { address: 127.0.3.2, port: 18080 } ] } ]
`);
  await probed([a!, b!], 2); // rise 2: both verdicts are "up" from probes now, not from the start
  await waitFor(port, 'www.health.test', (x) => x[0] === '127.0.3.1');
  await a!.stop();
  const down = await waitFor(port, 'www.health.test', (x) => x[0] === '127.0.3.2');
  // fall 1, interval 1 s: the next probe (≤ 1 s) fails at once (connection refused) and the verdict reaches the
  // workers immediately. Bounded loosely here: the precise figure belongs in the benchmark notes, not a test.
  assert.ok(down <= 3000, `took ${down} ms`);
  await a!.start();
  const back = await waitFor(port, 'www.health.test', (x) => x[0] === '127.0.3.1');
  assert.ok(back >= 900, `came back after ${back} ms: rise 2 needs two successful probes one interval apart`);
});

test('H1: a flapping backend does not flap the answers (rise/fall damping)', async () => {
  const [a, b] = await backends([['127.0.3.11', 18081], ['127.0.3.12', 18081]]);
  const { port } = await serveConfig((p) => `
server: { listen: ["127.0.0.1:${p}"], rrl: { enabled: false } }
${zone}
monitors: [ { name: web, type: http, path: /health, interval: 1s, timeout: 300ms, rise: 3, fall: 3 } ]
names: [ { name: www.health.test, ttl: 1, pools: [p] } ]
pools: [ { name: p, select: [global-availability], monitor: web, members: [ { address: 127.0.3.11, port: 18081 }, { address: 127.0.3.12, port: 18081 } ] } ]
`);
  await probed([a!, b!], 1);
  await waitFor(port, 'www.health.test', (x) => x[0] === '127.0.3.11');
  a!.mode = 'flap'; // ok, fail, ok, fail…: never 3 failures in a row
  const before = a!.probes;
  const seen = new Set<string>();
  const end = Date.now() + 5000;
  while (Date.now() < end) {
    seen.add(addresses(await query(port, 'www.health.test'))[0]!);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(a!.probes - before >= 3, `probed ${a!.probes - before} times while flapping: damping, not an idle monitor, kept the answer`);
  assert.deepEqual([...seen], ['127.0.3.11']);
  // Steady failure does take it out after `fall` probes.
  a!.mode = 'fail';
  await waitFor(port, 'www.health.test', (x) => x[0] === '127.0.3.12');
});

test('H2: with every member down the name fails closed (SERVFAIL) or answers the sorry address', async () => {
  const [a] = await backends([['127.0.3.21', 18082]]);
  const { port } = await serveConfig((p) => `
server: { listen: ["127.0.0.1:${p}"], rrl: { enabled: false } }
${zone}
monitors: [ { name: port, type: tcp, port: 18082, interval: 1s, timeout: 300ms, rise: 1, fall: 1 } ]
names:
  - { name: closed.health.test, ttl: 1, pools: [p], fallback: { rcode: SERVFAIL } }
  - { name: sorry.health.test, ttl: 1, pools: [p], fallback: { address: 192.0.2.99 } }
pools: [ { name: p, monitor: port, members: [ { address: 127.0.3.21 } ] } ]
`);
  await waitFor(port, 'closed.health.test', (x) => x[0] === '127.0.3.21');
  await a!.stop();
  const start = Date.now();
  for (;;) {
    const r = await query(port, 'closed.health.test');
    if (r.rcode === 'SERVFAIL') break;
    assert.ok(Date.now() - start < 5000, 'fail-closed SERVFAIL within 5 s');
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.deepEqual(addresses(await query(port, 'sorry.health.test')), ['192.0.2.99']);
});

test('H1: a monitor can check one address while the answer returns another; several monitors with a rule', async () => {
  const [health] = await backends([['127.0.3.31', 18083]]);
  const { port } = await serveConfig((p) => `
server: { listen: ["127.0.0.1:${p}"], rrl: { enabled: false } }
${zone}
monitors:
  - { name: web, type: http, interval: 1s, timeout: 300ms, rise: 1, fall: 1 }
  - { name: port, type: tcp, interval: 1s, timeout: 300ms, rise: 1, fall: 1 }
names: [ { name: www.health.test, ttl: 1, pools: [p, q], select: [global-availability] } ]
pools:
  - { name: p, monitors: [web, port], rule: { atLeast: 1 }, members: [ { address: 192.0.2.10, probe: { address: 127.0.3.31, port: 18083 } } ] }
  - { name: q, members: [ { address: 192.0.2.20 } ] }
`);
  await waitFor(port, 'www.health.test', (x) => x[0] === '192.0.2.10');
  health!.mode = 'fail'; // HTTP fails, TCP connect still works: at least 1 of 2 passes → still up
  await new Promise((r) => setTimeout(r, 2500));
  assert.deepEqual(addresses(await query(port, 'www.health.test')), ['192.0.2.10']);
  await health!.stop(); // both fail → down → the next pool answers
  await waitFor(port, 'www.health.test', (x) => x[0] === '192.0.2.20');
});

test('H4: an agent monitor feeds load metrics and drain into the answers', async () => {
  const [a, b] = await backends([['127.0.3.41', 18084], ['127.0.3.42', 18084]]);
  a!.agent = 'up cpu:80';
  b!.agent = 'up cpu:20';
  const { port } = await serveConfig((p) => `
server: { listen: ["127.0.0.1:${p}"], rrl: { enabled: false } }
${zone}
monitors: [ { name: agent, type: agent, path: /agent, interval: 1s, timeout: 300ms, rise: 1, fall: 1 } ]
names: [ { name: www.health.test, ttl: 1, pools: [p] } ]
pools: [ { name: p, select: [cpu, global-availability], monitor: agent, members: [ { address: 127.0.3.41, port: 18084 }, { address: 127.0.3.42, port: 18084 } ] } ]
`);
  await waitFor(port, 'www.health.test', (x) => x[0] === '127.0.3.42');
  a!.agent = 'up cpu:5';
  await waitFor(port, 'www.health.test', (x) => x[0] === '127.0.3.41');
  a!.agent = 'drain cpu:5';
  await waitFor(port, 'www.health.test', (x) => x[0] === '127.0.3.42');
});

test('H2: an operator forces a member down from the CLI; it persists across restart; auto gives it back', async () => {
  await backends([['127.0.3.51', 18085], ['127.0.3.52', 18085]]);
  const yaml = (p: number): string => `
server: { listen: ["127.0.0.1:${p}"], rrl: { enabled: false } }
store: { path: ./state }
${zone}
monitors: [ { name: port, type: tcp, interval: 1s, timeout: 300ms, rise: 1, fall: 1 } ]
names: [ { name: www.health.test, ttl: 1, pools: [p] } ]
pools: [ { name: p, select: [global-availability], monitor: port, members: [ { address: 127.0.3.51, port: 18085 }, { address: 127.0.3.52, port: 18085 } ] } ]
`;
  const s = await serveConfig(yaml);
  await waitFor(s.port, 'www.health.test', (x) => x[0] === '127.0.3.51');
  const r = await runWaymark(['member', 'down', 'p', '127.0.3.51:18085', '--config', s.cfg]);
  assert.equal(r.code, 0, r.stderr);
  await waitFor(s.port, 'www.health.test', (x) => x[0] === '127.0.3.52', 3000);
  const bad = await runWaymark(['member', 'down', 'p', '127.0.9.9', '--config', s.cfg]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /pool "p" has no member "127\.0\.9\.9" \(members: 127\.0\.3\.51:18085, 127\.0\.3\.52:18085\)/);
  await s.w.stop();
  const again = await spawnWaymark(['serve', '--config', s.cfg, '--workers', '1']);
  cleanups.push(() => again.stop());
  // Still forced down after the restart, although its health check passes.
  await new Promise((res) => setTimeout(res, 1500));
  assert.deepEqual(addresses(await query(s.port, 'www.health.test')), ['127.0.3.52']);
  assert.equal((await runWaymark(['member', 'auto', 'p', '127.0.3.51:18085', '--config', s.cfg])).code, 0);
  await waitFor(s.port, 'www.health.test', (x) => x[0] === '127.0.3.51', 3000);
});
