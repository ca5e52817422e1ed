// G5 (issue 11): resolver groups gathered from ECS: the rules (threshold, expiry, transitive groups, names that do
// not depend on order, other nodes' links) and, through a real `waymark serve`, two resolvers asking for the same
// client subnet sharing one persistence record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { EcsGrouper, EcsObservations } from '../../src/answer/ecs-groups.js';
import { spawnWaymark, freePort, tempDir, query, addresses } from '../harness.js';

const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;

test('G5 (ECS groups): resolvers asking for one subnet at least `threshold` times are one group, named by its smallest member; a link expires', () => {
  const g = new EcsGrouper('dns-a', { threshold: 3, expiryMs: HOUR });
  g.observe([['192.0.2.10', 'subnet:10.1.0.0/24', 3], ['192.0.2.2', 'subnet:10.1.0.0/24', 2]], T0);
  assert.deepEqual([...g.groups(T0).groups], [], '192.0.2.2 asked only twice: below the threshold');
  g.observe([['192.0.2.2', 'subnet:10.1.0.0/24', 1]], T0 + 1000);
  const first = g.groups(T0 + 1000);
  assert.equal(first.changed, true);
  // Names compare as text: "192.0.2.10" < "192.0.2.2".
  assert.deepEqual([...first.groups].sort(), [['192.0.2.10', 'ecs:192.0.2.10'], ['192.0.2.2', 'ecs:192.0.2.10']]);
  assert.equal(g.groups(T0 + 2000).changed, false);
  // Transitive: 192.0.2.2 and 198.51.100.1 share another subnet: all three are one group.
  g.observe([['198.51.100.1', 'subnet:10.2.0.0/24', 5], ['192.0.2.2', 'subnet:10.2.0.0/24', 5]], T0 + 3000);
  assert.deepEqual(new Set(g.groups(T0 + 3000).groups.values()), new Set(['ecs:192.0.2.10']));
  assert.equal(g.groups(T0 + 3000).groups.size, 3);
  // An hour after the first subnet's links were last seen, only the second subnet's pair is left.
  assert.deepEqual([...g.groups(T0 + 1000 + HOUR + 1).groups].sort(), [['192.0.2.2', 'ecs:192.0.2.2'], ['198.51.100.1', 'ecs:192.0.2.2']]);
});

test('G5/G6 (ECS groups): links seen on two nodes make the same groups on both, whatever order they arrive in; a node\'s counts replace what it said before', () => {
  const a = new EcsGrouper('dns-a', { threshold: 4, expiryMs: HOUR });
  const b = new EcsGrouper('dns-b', { threshold: 4, expiryMs: HOUR });
  a.observe([['192.0.2.1', 'subnet:10.9.0.0/24', 2]], T0);
  b.observe([['192.0.2.1', 'subnet:10.9.0.0/24', 2], ['192.0.2.7', 'subnet:10.9.0.0/24', 4]], T0);
  assert.equal(a.groups(T0).groups.size, 0);
  b.merge('dns-a', a.takeFresh());
  a.merge('dns-b', b.takeFresh());
  assert.deepEqual(a.takeFresh(), [], 'published once');
  // 192.0.2.1 asked twice on each node: four in all.
  assert.deepEqual([...a.groups(T0).groups].sort(), [...b.groups(T0).groups].sort());
  assert.deepEqual([...a.groups(T0).groups].sort(), [['192.0.2.1', 'ecs:192.0.2.1'], ['192.0.2.7', 'ecs:192.0.2.1']]);
  a.merge('dns-b', [['subnet:10.9.0.0/24', '192.0.2.1', 2, T0], ['subnet:10.9.0.0/24', '192.0.2.1', 2, T0]]);
  assert.equal(a.groups(T0).groups.size, 2, 'the same report twice is not counted twice');
});

test('G5 (ECS groups): a worker\'s observations count repeats of a pair, describe each new pair once, and are bounded', () => {
  const o = new EcsObservations();
  let described = 0;
  const text = (w: 'resolver' | 'subnet'): string => { described++; return w === 'resolver' ? 'r' : 's'; };
  for (let i = 0; i < 5; i++) o.see(1, 2, text);
  o.see(3, 2, text);
  assert.deepEqual(o.drain(), [['r', 's', 5], ['r', 's', 1]]);
  assert.equal(described, 4);
  for (let i = 0; i < 10_000; i++) o.see(i, 7, text);
  assert.equal(o.drain().length, 4096);
  assert.deepEqual(o.drain(), []);
});

test('G5 (ECS groups): through a real server, two resolvers seen asking for one client subnet share a persistence record; a third resolver does not', async () => {
  const dir = tempDir();
  const port = await freePort();
  const cfg = path.join(dir, 'waymark.yaml');
  fs.writeFileSync(cfg, `
server: { listen: ["127.0.0.1:${port}"], rrl: { enabled: false }, workers: 1 }
resolverGrouping: { ecs: { threshold: 2, expiry: 10m } }
zones: [ { origin: ecs.test, ns: [ns1], records: [ { name: ns1, type: A, value: 127.0.0.53 } ] } ]
names: [ { name: www.ecs.test, ttl: 5, pools: [p], persistence: { ttl: 600s } }, { name: learn.ecs.test, ttl: 5, pools: [p], persistence: { ttl: 600s } } ]
pools: [ { name: p, select: [round-robin], members: [ { address: 127.0.1.1 }, { address: 127.0.1.2 }, { address: 127.0.1.3 } ] } ]
`);
  const w = await spawnWaymark(['serve', '--config', cfg]);
  try {
    const ecs = { family: 1 as const, sourcePrefixLength: 24, ip: '10.7.7.0' };
    // Both resolvers ask for clients in 10.7.7.0/24, twice each (another persistent name: www's rotation is untouched).
    for (const from of ['127.0.0.61', '127.0.0.62']) for (let i = 0; i < 2; i++) await query(port, 'learn.ecs.test', { from, ecs });
    // The grouping is made in the supervisor each second and handed to the worker: wait for it in the logs.
    const deadline = Date.now() + 10_000;
    while (!w.stdout.join('').includes('resolver groups from ECS')) {
      assert.ok(Date.now() < deadline, 'no ECS grouping within 10 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 200));
    const first = addresses(await query(port, 'www.ecs.test', { from: '127.0.0.61' }))[0];
    const same = addresses(await query(port, 'www.ecs.test', { from: '127.0.0.62' }))[0];
    const other = addresses(await query(port, 'www.ecs.test', { from: '127.0.0.63' }))[0];
    assert.equal(same, first, 'the second resolver of the group gets the record the first one made');
    assert.notEqual(other, first, 'a resolver outside the group is balanced anew (round robin moved on)');
  } finally {
    await w.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
