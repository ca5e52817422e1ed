// least-requests over a whole node (issue 11 §5): the supervisor's totals of every worker's answers, decayed as a
// worker's own counts are, and a real `waymark serve` with two workers whose least-requests counts are the node's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { RequestTotals, REMOTE_STALE_MS } from '../../src/supervisor/requests.js';
import { REQUEST_DECAY_MS } from '../../src/answer/live.js';
import { spawnWaymark, freePort, tempDir, query } from '../harness.js';

test('G2 (issue 11): request totals add every worker\'s answers, decay like a worker\'s counts, and are handed out only when they changed', () => {
  const t = new RequestTotals();
  const t0 = 1_700_000_000_000;
  assert.equal(t.take(t0), null, 'nothing yet');
  t.add([['p', '192.0.2.1', 30], ['p', '192.0.2.2', 5]], t0); // worker 1
  t.add([['p', '192.0.2.1', 20]], t0); // worker 2
  assert.deepEqual(t.take(t0), [['p', '192.0.2.1', 50, t0], ['p', '192.0.2.2', 5, t0]]);
  assert.equal(t.take(t0 + 1000), null, 'unchanged since: nothing to send');
  t.add([['p', '192.0.2.2', 1]], t0 + REQUEST_DECAY_MS);
  const later = t.take(t0 + REQUEST_DECAY_MS)!;
  assert.ok(Math.abs(later[0]![2] - 50 / Math.E) < 1e-9, 'one time constant later: 1/e of it');
  assert.ok(Math.abs(later[1]![2] - (5 / Math.E + 1)) < 1e-9);
  // Long idle: totals that no longer tell members apart are dropped.
  t.add([['q', '192.0.2.9', 1]], t0 + 100 * REQUEST_DECAY_MS);
  assert.deepEqual(t.take(t0 + 100 * REQUEST_DECAY_MS)!.map((x) => x[1]), ['192.0.2.9']);
});

test('G2 (issue 11): other nodes\' published totals are added to this node\'s, decayed from their arrival, and dropped once a node is silent; own() is this node\'s alone', () => {
  const t = new RequestTotals();
  const t0 = 1_700_000_000_000;
  t.add([['p', '192.0.2.1', 10]], t0);
  // dns-b's clock is an hour off: its totals decay from when they arrived here.
  t.addRemote('dns-b', [['p', '192.0.2.1', 30, t0 - 3_600_000], ['p', '192.0.2.2', 7, t0 - 3_600_000]], t0);
  assert.deepEqual(t.take(t0), [['p', '192.0.2.1', 40, t0], ['p', '192.0.2.2', 7, t0]]);
  assert.deepEqual(t.own(t0), [['p', '192.0.2.1', 10, t0]], 'what this node publishes: its own answers only');
  t.add([['p', '192.0.2.2', 1]], t0 + REMOTE_STALE_MS + 1);
  const later = t.take(t0 + REMOTE_STALE_MS + 1)!;
  assert.equal(later.length, 2);
  assert.ok(later[0]![2] < 10 && later[1]![2] === 1, `dns-b fell silent: its totals no longer count (${JSON.stringify(later)})`);
});

test('G2 (issue 11): with two workers, least-requests counts what the whole node answered (explain shows the node\'s count, not one worker\'s share)', async () => {
  const dir = tempDir();
  const port = await freePort();
  const api = await freePort();
  const token = 'requests-test-token-0123456789abcdef';
  const cfg = path.join(dir, 'waymark.yaml');
  fs.writeFileSync(cfg, `
server: { listen: ["127.0.0.1:${port}"], rrl: { enabled: false } }
api: { listen: "127.0.0.1:${api}" }
store: { path: ./data }
zones: [ { origin: lr.test, ns: [ns1], records: [ { name: ns1, type: A, value: 127.0.0.53 } ] } ]
names: [ { name: www.lr.test, pools: [p], ttl: 1 } ]
pools: [ { name: p, select: [least-requests], members: [ { address: 127.0.1.1 }, { address: 127.0.1.2 } ] } ]
`);
  const w = await spawnWaymark(['serve', '--config', cfg, '--workers', '2'], { env: { WAYMARK_BOOTSTRAP_TOKEN: token } });
  try {
    // 400 answers over both workers: about 200 per member for the node, about 100 per member in each worker.
    for (let i = 0; i < 400; i++) await query(port, 'www.lr.test', { from: `127.0.3.${1 + (i % 200)}` });
    const fewest = async (): Promise<number> => {
      const res = await fetch(`http://127.0.0.1:${api}/v1/explain?name=www.lr.test&resolver=127.0.3.250`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { steps: Array<{ step: string; detail: string }> };
      const step = body.steps.find((s) => s.step === 'least-requests');
      assert.ok(step, JSON.stringify(body.steps));
      return Number(/fewest recent requests \(([\d.]+)\)/.exec(step.detail)![1]);
    };
    // Workers ship their counts each second and the totals come back a second later at most; decay over ~3 s
    // leaves about 0.75 of 200. One worker's own count would be about 100.
    const deadline = Date.now() + 8000;
    let n = await fewest();
    while (n < 140 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      n = await fewest();
    }
    assert.ok(n >= 140 && n <= 205, `the member with fewest recent requests has ${n}: the node's count (about 150-200), not one worker's (about 100)`);
  } finally {
    await w.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('G2 (issue 11): round robin and ratio stay per worker, and a node of two workers keeps their proportions (3 : 1 and 1 : 1)', async () => {
  const dir = tempDir();
  const port = await freePort();
  const cfg = path.join(dir, 'waymark.yaml');
  fs.writeFileSync(cfg, `
server: { listen: ["127.0.0.1:${port}"], rrl: { enabled: false } }
zones: [ { origin: rr.test, ns: [ns1], records: [ { name: ns1, type: A, value: 127.0.0.53 } ] } ]
names:
  - { name: ratio.rr.test, pools: [w], ttl: 1 }
  - { name: plain.rr.test, pools: [r], ttl: 1 }
pools:
  - { name: w, select: [ratio], members: [ { address: 127.0.1.1, weight: 3 }, { address: 127.0.1.2, weight: 1 } ] }
  - { name: r, select: [round-robin], members: [ { address: 127.0.2.1 }, { address: 127.0.2.2 } ] }
`);
  const w = await spawnWaymark(['serve', '--config', cfg, '--workers', '2']);
  try {
    const count = async (name: string): Promise<Map<string, number>> => {
      const c = new Map<string, number>();
      for (let i = 0; i < 800; i++) {
        const a = (await query(port, name)).answers.map((x) => String(x.data))[0] ?? '(none)';
        c.set(a, (c.get(a) ?? 0) + 1);
      }
      return c;
    };
    const ratio = await count('ratio.rr.test');
    const heavy = ratio.get('127.0.1.1') ?? 0;
    // Each worker is exact over every window of 4 answers; whatever share each worker takes, the sum is within a
    // window per worker of 600 : 200.
    assert.ok(Math.abs(heavy - 600) <= 8 && heavy + (ratio.get('127.0.1.2') ?? 0) === 800, `3 : 1 over the node: ${JSON.stringify([...ratio])}`);
    const plain = await count('plain.rr.test');
    assert.ok(Math.abs((plain.get('127.0.2.1') ?? 0) - 400) <= 4, `1 : 1 over the node: ${JSON.stringify([...plain])}`);
  } finally {
    await w.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
