// The control socket of a running server, through the real CLI: `waymark reload` reports the outcome of its reload
// (exit 1 with the errors when rejected), and `waymark explain` asks the running server, whose workers explain over
// a copy of their live state (health, counters), while offline explain says plainly what it assumes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawnWaymark, runWaymark, freePort, tempDir, query, addresses, type SpawnedWaymark } from '../harness.js';

const BOOT = 'bootstrap-token-for-control-tests-0123';
let dir = '';
let cfg = '';
let dnsPort = 0;
let apiPort = 0;
let server: SpawnedWaymark | null = null;
let healthy: net.Server | null = null;

/** Pool `gone` is monitored on a port where nothing listens (down); pool `here` on a port that accepts (up). */
function config(deadPort: number, livePort: number, rrAddress = '192.0.2.52'): string {
  return `
server: { listen: ["127.0.0.1:${dnsPort}"], workers: 1, rrl: { enabled: false } }
api: { listen: "127.0.0.1:${apiPort}" }
store: { path: ./state }
zones:
  - origin: ctl.test
    records: [{ name: www, type: A, value: 192.0.2.1 }]
monitors:
  - { name: port, type: tcp, interval: 1s, timeout: 300ms, rise: 1, fall: 1 }
names:
  - { name: app.ctl.test, pools: [gone, here], select: [global-availability], ttl: 1 }
  - { name: rr.ctl.test, pools: [rr], ttl: 1 }
pools:
  - { name: gone, monitor: port, members: [{ address: 192.0.2.11, probe: { address: 127.0.0.1, port: ${deadPort} } }] }
  - { name: here, monitor: port, members: [{ address: 192.0.2.21, probe: { address: 127.0.0.1, port: ${livePort} } }] }
  - { name: rr, select: [round-robin], members: [{ address: 192.0.2.51 }, { address: ${rrAddress} }] }
`;
}

async function waitFor(what: string, fn: () => Promise<boolean>, ms = 8000): Promise<void> {
  const start = Date.now();
  while (!(await fn())) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let deadPort = 0;
let livePort = 0;
before(async () => {
  dir = tempDir('waymark-control-');
  dnsPort = await freePort();
  apiPort = await freePort();
  deadPort = await freePort();
  healthy = net.createServer((s) => s.end());
  await new Promise<void>((r) => healthy!.listen(0, '127.0.0.1', () => r()));
  livePort = (healthy.address() as net.AddressInfo).port;
  cfg = path.join(dir, 'waymark.yaml');
  fs.writeFileSync(cfg, config(deadPort, livePort));
  server = await spawnWaymark(['serve', '--config', cfg], { env: { WAYMARK_BOOTSTRAP_TOKEN: BOOT } });
  await waitFor('pool gone judged down', async () => addresses(await query(dnsPort, 'app.ctl.test'))[0] === '192.0.2.21');
});

after(async () => {
  await server?.stop();
  healthy?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('G7: `waymark explain` against a running server uses its live health and says so', async () => {
  const live = await runWaymark(['explain', '--config', cfg, 'app.ctl.test', '--resolver', '10.0.0.1', '--json']);
  assert.equal(live.code, 0, live.stderr);
  const e = JSON.parse(live.stdout);
  assert.deepEqual(e.answers.map((a: { data: string }) => a.data), ['192.0.2.21'], 'what the server answers');
  assert.equal(e.state.live, true);
  assert.match(e.state.detail, /live: worker pid \d+/);
  assert.ok(e.steps.some((s: { detail: string }) => /pool gone \[down/.test(s.detail)), JSON.stringify(e.steps));
  const human = await runWaymark(['explain', '--config', cfg, 'app.ctl.test', '--resolver', '10.0.0.1']);
  assert.match(human.stdout, /state: live: worker pid/);
});

test('G7: offline explain says health is assumed and how to ask the live server', async () => {
  const off = await runWaymark(['explain', '--config', cfg, 'app.ctl.test', '--resolver', '10.0.0.1', '--offline']);
  assert.equal(off.code, 0, off.stderr);
  assert.match(off.stdout, /state: OFFLINE \(--offline\): every monitored member is ASSUMED UP/);
  assert.match(off.stdout, /waymark serve --config .*waymark\.yaml/);
  assert.match(off.stdout, /answer: NOERROR: 192\.0\.2\.11/, 'offline, the down pool is assumed up');
});

test('G7: API explain starts where the worker is (round-robin counter) and moves nothing', async () => {
  const ask = async (): Promise<string[]> => {
    const res = await fetch(`http://127.0.0.1:${apiPort}/v1/explain?name=rr.ctl.test&resolver=10.0.0.2`, { headers: { authorization: `Bearer ${BOOT}` } });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { answers: Array<{ data: string }>; state: { live: boolean } };
    assert.equal(body.state.live, true);
    return body.answers.map((a) => a.data);
  };
  const first = addresses(await query(dnsPort, 'rr.ctl.test'));
  const next = first[0] === '192.0.2.51' ? ['192.0.2.52'] : ['192.0.2.51'];
  assert.deepEqual(await ask(), next, 'the member the next query gets, not the one a fresh counter gives');
  assert.deepEqual(await ask(), next, 'explaining twice moved no counter');
  assert.deepEqual(addresses(await query(dnsPort, 'rr.ctl.test')), next, 'the next real query gets what explain said');
});

test('C1: `waymark reload --config` waits for the outcome: exit 1 with every error when rejected, exit 0 when in force', async () => {
  fs.writeFileSync(cfg, config(deadPort, livePort, '192.0.2.300'));
  const bad = await runWaymark(['reload', '--config', cfg]);
  assert.equal(bad.code, 1, bad.stdout);
  assert.match(bad.stderr, /reload rejected: configuration has errors; still serving the previous one/);
  assert.match(bad.stderr, /"192\.0\.2\.300"/);
  const still = new Set<string>();
  for (let i = 0; i < 4; i++) for (const a of addresses(await query(dnsPort, 'rr.ctl.test'))) still.add(a);
  assert.deepEqual([...still].sort(), ['192.0.2.51', '192.0.2.52'], 'the previous configuration serves');

  fs.writeFileSync(cfg, `${config(deadPort, livePort, '192.0.2.53')}\n: [unclosed`);
  const broken = await runWaymark(['reload', '--config', cfg]);
  assert.equal(broken.code, 1, 'a YAML syntax error is a rejected reload too');

  fs.writeFileSync(cfg, config(deadPort, livePort, '192.0.2.53'));
  const ok = await runWaymark(['reload', '--config', cfg, '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  const r = JSON.parse(ok.stdout);
  assert.equal(r.ok, true);
  assert.equal(r.changed, true, 'the file changed, so it became a new revision');
  const now = new Set<string>();
  for (let i = 0; i < 4; i++) for (const a of addresses(await query(dnsPort, 'rr.ctl.test'))) now.add(a);
  assert.deepEqual([...now].sort(), ['192.0.2.51', '192.0.2.53'], 'in force when reload returned');
});

test('C1: `waymark reload` with no server running says so and exits 1', async () => {
  const other = path.join(dir, 'other.yaml');
  fs.writeFileSync(other, 'store: { path: ./nowhere }\nzones: []\n');
  const r = await runWaymark(['reload', '--config', other]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no running server found/);
  // A configuration without store: or server.pidFile has no socket at all: the message says why and what to do.
  const bare = path.join(dir, 'bare.yaml');
  fs.writeFileSync(bare, 'zones: []\n');
  const b = await runWaymark(['reload', '--config', bare]);
  assert.equal(b.code, 1);
  assert.match(b.stderr, /bare\.yaml has neither store: nor server\.pidFile, so its server has no control socket/);
  assert.match(b.stderr, /SIGHUP/);
});

/** One raw exchange with the control socket: what it answers to `bytes` (null if it closed without a reply). */
function raw(sockPath: string, bytes: Buffer | string): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect(sockPath);
    let buf = '';
    c.on('data', (d) => { buf += d.toString(); });
    c.on('close', () => resolve(buf));
    c.on('error', () => resolve(buf));
    c.on('connect', () => { c.write(bytes); setTimeout(() => c.end(), 50); });
  });
}

test('C1: the control socket is owner-only and survives garbage, oversized and unknown requests', async () => {
  const sock = path.join(dir, 'state', 'control.sock');
  assert.equal(fs.statSync(sock).mode & 0o777, 0o600);
  assert.match(await raw(sock, 'not json\n'), /"ok":false,"error":"not a control request"/);
  assert.match(await raw(sock, '{"op":"format-disk"}\n'), /not a control request/);
  assert.match(await raw(sock, `${'x'.repeat(70_000)}\n`), /request too long/);
  let seed = 7;
  const rnd = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
  for (let i = 0; i < 200; i++) {
    const b = Buffer.alloc(1 + (rnd() % 200));
    for (let k = 0; k < b.length; k++) b[k] = rnd() & 0xff;
    await raw(sock, b);
  }
  assert.match(await raw(sock, '{"op":"explain","request":{"name":"rr.ctl.test","type":"A","resolver":"not-an-ip"}}\n'), /"ok":false.*not an IP address/);
  const status = JSON.parse(await raw(sock, '{"op":"status"}\n')) as { ok: boolean; pid: number; workers: number };
  assert.equal(status.ok, true);
  assert.equal(status.pid, server!.proc.pid);
  assert.equal(status.workers, 1);
  assert.deepEqual(addresses(await query(dnsPort, 'www.ctl.test')), ['192.0.2.1'], 'and DNS still answers');
});
