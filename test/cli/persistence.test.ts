// G5/C2: persistence records through the real CLI: shared by the workers of one node, and kept across a restart
// in the SQLite store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnWaymark, freePort, tempDir, query, addresses, runWaymark } from '../harness.js';

function config(port: number): string {
  return `
server: { listen: ["127.0.0.1:${port}"], rrl: { enabled: false } }
store: { path: ./state }
zones: [ { origin: sticky.test, ns: [ns1], records: [ { name: ns1, type: A, value: 127.0.0.53 } ] } ]
names: [ { name: www.sticky.test, pools: [p], persistence: { ttl: 600s } } ]
pools: [ { name: p, select: [round-robin], members: [ { address: 127.0.1.1 }, { address: 127.0.1.2 }, { address: 127.0.1.3 } ] } ]
`;
}

const resolvers = Array.from({ length: 10 }, (_, i) => `127.0.0.${41 + i}`);

test('G5: the two workers of one node share persistence records: every resolver gets its first member from both', async () => {
  const dir = tempDir();
  const port = await freePort();
  const api = await freePort();
  const cfg = path.join(dir, 'waymark.yaml');
  fs.writeFileSync(cfg, config(port) + `api: { listen: "127.0.0.1:${api}" }\n`);
  const w = await spawnWaymark(['serve', '--config', cfg, '--workers', '2']);
  try {
    const first = new Map<string, string>();
    for (const r of resolvers) first.set(r, addresses(await query(port, 'www.sticky.test', { from: r }))[0]!);
    assert.ok(new Set(first.values()).size > 1, 'round robin spread the resolvers');
    // Records reach the other worker within ~100 ms. Then query until both workers have answered (the kernel picks
    // which one reads each query; bounded), every answer the resolver's first member.
    await new Promise((r) => setTimeout(r, 400));
    const deadline = Date.now() + 10_000;
    let workers: number[] = [];
    for (let round = 0; workers.length < 2 || round < 4; round++) {
      assert.ok(Date.now() < deadline, `only worker(s) ${workers.join(', ')} answered in ${round} rounds`);
      for (const r of resolvers) assert.equal(addresses(await query(port, 'www.sticky.test', { from: r }))[0], first.get(r), `resolver ${r} round ${round}`);
      workers = await answeringWorkers(api);
    }
    assert.equal(workers.length, 2);
  } finally {
    await w.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** The workers that have given responses, from the supervisor's per-worker counter (deltas arrive in batches). */
async function answeringWorkers(apiPort: number): Promise<number[]> {
  const text = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
  const out: number[] = [];
  for (const m of text.matchAll(/^waymark_worker_responses_total\{worker="(\d+)"\} (\d+)/gm)) if (Number(m[2]) > 0) out.push(Number(m[1]));
  return out;
}

test('G5/C2: persistence records survive a restart (SQLite store), and explain reads them', async () => {
  const dir = tempDir();
  const port = await freePort();
  const cfg = path.join(dir, 'waymark.yaml');
  fs.writeFileSync(cfg, config(port));
  let w = await spawnWaymark(['serve', '--config', cfg, '--workers', '1']);
  const first = new Map<string, string>();
  try {
    for (const r of resolvers) first.set(r, addresses(await query(port, 'www.sticky.test', { from: r }))[0]!);
    assert.ok(new Set(first.values()).size > 1, 'round robin spread the resolvers');
  } finally {
    assert.equal(await w.stop(), 0);
  }
  assert.ok(fs.existsSync(path.join(dir, 'state', 'waymark.db')));
  // A fresh process starts its round robin at the first member; persistence must override that for every resolver.
  w = await spawnWaymark(['serve', '--config', cfg, '--workers', '1']);
  try {
    for (const r of [...resolvers].reverse()) assert.equal(addresses(await query(port, 'www.sticky.test', { from: r }))[0], first.get(r), r);
  } finally {
    await w.stop();
  }
  const e = await runWaymark(['explain', '--config', cfg, 'www.sticky.test', '--resolver', resolvers[3]!, '--json']);
  assert.equal(e.code, 0, e.stderr);
  const ex = JSON.parse(e.stdout) as { answers: Array<{ data: string }>; steps: Array<{ step: string; detail: string }> };
  assert.equal(ex.answers[0]!.data, first.get(resolvers[3]!));
  assert.match(ex.steps.find((s) => s.step === 'persistence')!.detail, /^hit: 127\.0\.0\.44 → /);
  fs.rmSync(dir, { recursive: true, force: true });
});
