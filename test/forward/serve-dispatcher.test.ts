// The dispatcher in `waymark serve` (issue 13, SPEC P1-P6): run from the configuration's dispatcher: section, operated
// through the API and the CLI, drain kept in the store across a restart, a reload that keeps open connections,
// Waymark's own DNS listener as a UDP daemon, and the metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { addresses, buildQuery, decode, freePort, runWaymark, udpExchange, spawnWaymark, tempDir, type SpawnedWaymark } from '../harness.js';
import { connect, tcpDaemon, waitFor, type TcpDaemon } from './daemons.js';

const BOOT = 'bootstrap-token-for-tests-0123456789';
const CLUSTER = '127.0.14.1';
let dir = '';
let cfg = '';
let base = '';
let server: SpawnedWaymark | null = null;
let ports = { dns: 0, api: 0, tcp: 0, udp: 0, daemon: 0 };
const daemons: TcpDaemon[] = [];

function config(method = 'round-robin', extraPort?: number): string {
  return `
server: { listen: ["127.0.0.1:${ports.dns}"], workers: 1 }
api: { listen: "127.0.0.1:${ports.api}" }
store: { path: ./state }
zones:
  - origin: disp.test
    ns: [ns1]
    records: [ { name: ns1, type: A, value: 127.0.0.53 }, { name: www, type: A, value: 192.0.2.80 } ]
dispatcher:
  clusters:
    - address: ${CLUSTER}
      ports:
        - port: ${ports.tcp}
          method: ${method}
          daemons: [ { address: 127.0.14.2, port: ${ports.daemon} }, { address: 127.0.14.3, port: ${ports.daemon} } ]
        - port: ${ports.udp}
          protocol: udp
          oneReply: true
          daemons: [ { address: 127.0.0.1, port: ${ports.dns} } ]
${extraPort === undefined ? '' : `        - port: ${extraPort}
          daemons: [ { address: 127.0.14.2, port: ${ports.daemon} } ]
`}`;
}

async function start(): Promise<void> {
  server = await spawnWaymark(['serve', '--config', cfg], { env: { WAYMARK_BOOTSTRAP_TOKEN: BOOT } });
}

function cli(args: string[]): ReturnType<typeof runWaymark> {
  return runWaymark(args, { env: { WAYMARK_API: base, WAYMARK_TOKEN: BOOT } });
}

async function api<T>(p: string): Promise<T> {
  const r = await fetch(`${base}${p}`, { headers: { authorization: `Bearer ${BOOT}` } });
  assert.equal(r.status, 200, await r.clone().text());
  return (await r.json()) as T;
}

before(async () => {
  dir = tempDir('waymark-dispatch-');
  ports = { dns: await freePort(), api: await freePort(), tcp: await freePort(), udp: await freePort(), daemon: await freePort() };
  base = `http://127.0.0.1:${ports.api}`;
  daemons.push(await tcpDaemon('A', '127.0.14.2', ports.daemon), await tcpDaemon('B', '127.0.14.3', ports.daemon));
  cfg = path.join(dir, 'waymark.yaml');
  fs.writeFileSync(cfg, config());
  await start();
});

after(async () => {
  await server?.stop();
  for (const d of daemons) await d.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('P1/P3: serve forwards TCP to the daemons, and a DNS query through the dispatcher reaches Waymark\'s own DNS', async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 4; i++) {
    const c = await connect(CLUSTER, ports.tcp);
    seen.add(c.greeting);
    c.socket.destroy();
  }
  assert.deepEqual([...seen].sort(), ['A', 'B']);
  const reply = await udpExchange(ports.udp, buildQuery('www.disp.test', { type: 'A' }), { host: CLUSTER });
  assert.ok(reply, 'an answer through the dispatcher');
  assert.deepEqual(addresses(decode(reply)), ['192.0.2.80']);
});

test('P2/P6: the CLI lists the table, drains a daemon (kept across a restart), undrains it and kills a connection', async () => {
  const held = await connect(CLUSTER, ports.tcp, '127.0.14.50');
  const list = await cli(['dispatcher', 'connections', '--client', '127.0.14.50', '--json']);
  assert.equal(list.code, 0, list.stderr);
  const conns = JSON.parse(list.stdout) as { total: number; connections: Array<{ id: number; target: string; clientPort: number }> };
  assert.equal(conns.total, 1);
  assert.equal(conns.connections[0]!.clientPort, held.socket.localPort);
  const group = `${CLUSTER}:${ports.tcp}`;
  const drain = await cli(['dispatcher', 'drain', group, `127.0.14.2:${ports.daemon}`]);
  assert.equal(drain.code, 0, drain.stderr);
  assert.match(drain.stdout, /auto -> drain/);
  for (let i = 0; i < 4; i++) {
    const c = await connect(CLUSTER, ports.tcp);
    assert.equal(c.greeting, 'B', 'a drained daemon gets no new connection');
    c.socket.destroy();
  }
  const kill = await cli(['dispatcher', 'kill', String(conns.connections[0]!.id)]);
  assert.equal(kill.code, 0, kill.stderr);
  assert.equal(await held.closed, 'reset');
  // Restart: the drain is in the store.
  await server!.stop();
  await start();
  const status = await cli(['dispatcher', 'status', '--json']);
  const groups = (JSON.parse(status.stdout) as { groups: Array<{ group: string; daemons: Array<{ daemon: string; state: string }> }> }).groups;
  assert.equal(groups.find((g) => g.group === group)!.daemons[0]!.state, 'drain');
  const human = await cli(['dispatcher', 'status']);
  assert.match(human.stdout, new RegExp(`${group.replaceAll('.', '\\.')}\\s+tcp\\s+round-robin\\s+127\\.0\\.14\\.2:${ports.daemon}\\s+1\\s+drain`));
  assert.equal((await cli(['dispatcher', 'undrain', group, `127.0.14.2:${ports.daemon}`])).code, 0);
  const after = new Set<string>();
  for (let i = 0; i < 4; i++) { const c = await connect(CLUSTER, ports.tcp); after.add(c.greeting); c.socket.destroy(); }
  assert.deepEqual([...after].sort(), ['A', 'B']);
  const audit = await api<{ entries: Array<{ action: string }> }>('/v1/audit?limit=10');
  assert.ok(audit.entries.some((e) => e.action === 'dispatcher.daemon.state'));
  assert.ok(audit.entries.some((e) => e.action === 'dispatcher.kill'));
});

test('reload with a changed method keeps open connections and the table; /metrics counts connections and bytes', async () => {
  const c = await connect(CLUSTER, ports.tcp);
  const before = await api<{ connections: Array<{ id: number }> }>('/v1/dispatcher/connections');
  fs.writeFileSync(cfg, config('least-connections'));
  const r = await runWaymark(['reload', '--config', cfg]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  await waitFor('the new method', async () => (await api<{ groups: Array<{ method: string }> }>('/v1/dispatcher')).groups[0]!.method === 'least-connections');
  assert.equal(await c.send('x'), `${c.greeting}:x`);
  const now = await api<{ connections: Array<{ id: number }> }>('/v1/dispatcher/connections');
  assert.deepEqual(now.connections.map((x) => x.id), before.connections.map((x) => x.id));
  c.socket.destroy();
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, new RegExp(`waymark_dispatcher_connections_opened_total\\{group="${CLUSTER}:${ports.tcp}",daemon="127.0.14.3:${ports.daemon}",protocol="tcp"\\} \\d+`));
  assert.match(metrics, /waymark_dispatcher_bytes_total\{[^}]*direction="in"\} [1-9]/);
  assert.match(metrics, /waymark_dispatcher_selections_total\{method="round-robin"/);
  assert.match(metrics, /waymark_dispatcher_connect_seconds_count\{group=/);
  assert.match(metrics, /waymark_dispatcher_table_entries\{kind="limit"\} 100000/);
});

test('P1: a reload whose new port cannot listen is in force for the rest, and waymark reload warns naming the port', async () => {
  const net = await import('node:net');
  const taken = await freePort();
  const squatter = net.createServer();
  await new Promise<void>((r) => squatter.listen(taken, CLUSTER, () => r()));
  try {
    fs.writeFileSync(cfg, config('round-robin', taken));
    const r = await runWaymark(['reload', '--config', cfg]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`warning: cannot listen on ${CLUSTER.replaceAll('.', '\\.')}:${taken}/tcp: .*EADDRINUSE`));
    await waitFor('the method back to round robin', async () => (await api<{ groups: Array<{ method: string }> }>('/v1/dispatcher')).groups[0]!.method === 'round-robin');
    const c = await connect(CLUSTER, ports.tcp);
    c.socket.destroy();
  } finally {
    await new Promise<void>((r) => squatter.close(() => r()));
    fs.writeFileSync(cfg, config());
  }
});
