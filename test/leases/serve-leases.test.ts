// Leases through `waymark serve` (SPEC L1-L4): real DNS queries lease public addresses 127.0.5.x to servers on
// 127.0.11.x, the TTL is the lease's remaining time, traffic through the public address reaches the server, an
// exhausted pool answers SERVFAIL saying why, `waymark leases` lists them, and a restart keeps every lease.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { addresses, freePort, query, runWaymark, spawnWaymark, tempDir, type SpawnedWaymark } from '../harness.js';
import { connect, tcpDaemon, type TcpDaemon } from '../forward/daemons.js';

const BOOT = 'bootstrap-token-for-lease-tests-0123';
let dir = '';
let cfg = '';
let server: SpawnedWaymark | null = null;
let ports = { dns: 0, api: 0, fwd: 0 };
const daemons: TcpDaemon[] = [];

const start = async (): Promise<void> => { server = await spawnWaymark(['serve', '--config', cfg], { env: { WAYMARK_BOOTSTRAP_TOKEN: BOOT } }); };

before(async () => {
  dir = tempDir('waymark-lease-serve-');
  ports = { dns: await freePort(), api: await freePort(), fwd: await freePort() };
  daemons.push(await tcpDaemon('s1', '127.0.11.11', ports.fwd), await tcpDaemon('s2', '127.0.11.12', ports.fwd));
  cfg = path.join(dir, 'waymark.yaml');
  fs.writeFileSync(cfg, `
server: { listen: ["127.0.0.1:${ports.dns}"], workers: 2, rrl: { enabled: false } }
api: { listen: "127.0.0.1:${ports.api}" }
store: { path: ./state }
zones:
  - origin: lease.test
    ns: [ns1]
    records: [ { name: ns1, type: A, value: 127.0.0.53 } ]
addressPools:
  - { name: public, addresses: [127.0.5.0/30], forward: [{ port: ${ports.fwd}, protocol: tcp }] }
  - { name: tiny, addresses: [127.0.5.9], forward: [{ port: ${ports.fwd}, protocol: tcp }] }
leasedServers:
  - { name: s1, address: 127.0.11.11 }
  - { name: s2, address: 127.0.11.12 }
leasedNames:
  - { name: d1.lease.test, pool: public, servers: [s1] }
  - { name: t1.lease.test, pool: tiny, servers: [s1] }
  - { name: t2.lease.test, pool: tiny, servers: [s2] }
`);
  await start();
});

after(async () => {
  await server?.stop();
  for (const d of daemons) await d.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('L2/L4: a query leases an address for 200 s; traffic to it reaches the server; the next query answers the remaining time, extended', async () => {
  const r = await query(ports.dns, 'd1.lease.test');
  assert.equal(r.rcode, 'NOERROR');
  assert.deepEqual(addresses(r), ['127.0.5.0']);
  assert.equal(r.answers[0]!.ttl, 200);
  assert.ok((r.flags & 0x0400) !== 0, 'authoritative');
  const c = await connect('127.0.5.0', ports.fwd);
  assert.equal(c.greeting, 's1');
  assert.equal(await c.send('x'), 's1:x');
  c.socket.destroy();
  // Both workers send it to the one lease book: the same address, 200 + 60 less the time since.
  for (let i = 0; i < 4; i++) {
    const again = await query(ports.dns, 'D1.Lease.Test');
    assert.deepEqual(addresses(again), ['127.0.5.0']);
    assert.ok(again.answers[0]!.ttl! <= 260 && again.answers[0]!.ttl! >= 200, `TTL ${again.answers[0]!.ttl}`);
  }
  const aaaa = await query(ports.dns, 'd1.lease.test', { type: 'AAAA' });
  assert.equal(aaaa.rcode, 'NOERROR');
  assert.deepEqual(aaaa.answers, [], 'no IPv6 in the pool: NODATA');
});

test('L3: an exhausted pool answers SERVFAIL with the reason; waymark leases lists the table; a restart keeps every lease', async () => {
  assert.deepEqual(addresses(await query(ports.dns, 't1.lease.test')), ['127.0.5.9']);
  const full = await query(ports.dns, 't2.lease.test', { edns: true });
  assert.equal(full.rcode, 'SERVFAIL');
  const ede = full.additionals.find((a) => a.type === 'OPT')?.options?.find((o) => o.code === 15);
  assert.match(ede?.data?.subarray(2).toString() ?? '', /address pool tiny is exhausted/);
  const list = await runWaymark(['leases', '--api', `http://127.0.0.1:${ports.api}`, '--token', BOOT]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /127\.0\.5\.0\s+public\s+d1\.lease\.test\s+s1\s+127\.0\.11\.11\s+\d+\s+1\b/);
  assert.match(list.stdout, /pool tiny: 0 free, 1 leased, 0 cooling/);
  await server!.stop();
  await start();
  assert.deepEqual(addresses(await query(ports.dns, 'd1.lease.test')), ['127.0.5.0']);
  assert.deepEqual(addresses(await query(ports.dns, 't1.lease.test')), ['127.0.5.9']);
  assert.equal((await query(ports.dns, 't2.lease.test')).rcode, 'SERVFAIL', 'still exhausted after the restart');
  assert.equal((await connect('127.0.5.0', ports.fwd)).greeting, 's1', 'and the forwarder bound again');
});
