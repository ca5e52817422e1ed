// H3 end to end: `waymark serve` with no in-process prober and three `waymark prober` processes; one prober is killed,
// nothing is falsely marked down; a backend is killed, its member leaves the answers.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { spawnWaymark, freePort, tempDir, query, addresses, CLI } from '../harness.js';

const TOKEN = 'test-prober-token-0123456789';
const procs: ChildProcess[] = [];
const servers: http.Server[] = [];
after(async () => {
  for (const p of procs) p.kill('SIGKILL');
  for (const s of servers) { s.closeAllConnections(); s.close(); }
});

function backend(address: string, port: number): Promise<http.Server> {
  const s = http.createServer((_req, res) => res.end('ok'));
  servers.push(s);
  return new Promise((r) => s.listen(port, address, () => r(s)));
}

test('H3: verdicts come from the probers; killing one moves its targets without a false down; a dead backend leaves the answers', async () => {
  // 127.0.4.1 is not listening yet: members start up, so only a prober's verdict can move the answer off it.
  await backend('127.0.4.2', 18090);
  const dir = tempDir();
  const port = await freePort();
  const dport = await freePort();
  const cfg = path.join(dir, 'waymark.yaml');
  fs.writeFileSync(cfg, `
server: { listen: ["127.0.0.1:${port}"], rrl: { enabled: false } }
zones: [ { origin: probe.test, ns: [ns1], records: [ { name: ns1, type: A, value: 127.0.0.53 } ] } ]
health: { localProber: false, replicas: 2, distributor: { listen: "127.0.0.1:${dport}", token: "${TOKEN}" } }
monitors: [ { name: web, type: http, interval: 1s, timeout: 300ms, rise: 1, fall: 1 } ]
names: [ { name: www.probe.test, ttl: 1, pools: [p] } ]
pools: [ { name: p, select: [global-availability], monitor: web, members: [ { address: 127.0.4.1, port: 18090 }, { address: 127.0.4.2, port: 18090 } ] } ]
`);
  const w = await spawnWaymark(['serve', '--config', cfg, '--workers', '1']);
  try {
    const probers = ['p1', 'p2', 'p3'].map((name) => {
      const p = spawn(process.execPath, [CLI, 'prober', '--join', `http://127.0.0.1:${dport}`, '--token', TOKEN, '--name', name], { stdio: 'ignore' });
      procs.push(p);
      return p;
    });
    // Verdicts arrive from the probers (no in-process prober): the first member, not listening, leaves the answers;
    // once it listens, it comes back.
    const settle = async (want: string, what: string): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (addresses(await query(port, 'www.probe.test'))[0] !== want) {
        assert.ok(Date.now() < deadline, what);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await settle('127.0.4.2', 'no prober verdict took the dead first member out of the answers');
    const a = await backend('127.0.4.1', 18090);
    await settle('127.0.4.1', 'no prober verdict brought the first member back');
    // Kill a prober: for the next 5 s (past its dead-after and reassignment) the answer never changes.
    probers[0]!.kill('SIGKILL');
    const until = Date.now() + 5000;
    while (Date.now() < until) {
      assert.deepEqual(addresses(await query(port, 'www.probe.test')), ['127.0.4.1']);
      await new Promise((r) => setTimeout(r, 50));
    }
    // A backend dies: the remaining probers see it and the answer moves.
    a.closeAllConnections();
    await new Promise<void>((r) => a.close(() => r()));
    const moved = Date.now() + 10_000;
    while (addresses(await query(port, 'www.probe.test'))[0] !== '127.0.4.2') {
      assert.ok(Date.now() < moved, 'answer did not move off the dead backend');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(w.stdout.join(''), /"member":"127\.0\.4\.1:18090".*"up":false/);
  } finally {
    await w.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
