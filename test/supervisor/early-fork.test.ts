// D1: workers are forked as soon as the configuration is parsed, before the supervisor has validated it (they boot
// meanwhile). A configuration that does not compile still stops `waymark serve` before anything serves, and takes the
// workers forked early with it; a valid one is served by all of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { CLI, ROOT, tempDir, freePort, spawnWaymark, query, addresses } from '../harness.js';

/** Run `waymark serve`; resolves when the supervisor has exited and every process holding its output has too. */
function serveToTheEnd(cfg: string): Promise<{ code: number | null; stderr: string; closed: boolean }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [CLI, 'serve', '--config', cfg], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let code: number | null = null;
    proc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    proc.on('exit', (c) => {
      code = c;
      // Workers share the supervisor's output: it closes once they are gone too.
      const late = setTimeout(() => resolve({ code, stderr, closed: false }), 5000);
      proc.on('close', () => { clearTimeout(late); resolve({ code, stderr, closed: true }); });
    });
  });
}

test('D1: a configuration that does not compile stops serve before it serves, and the workers forked early with it', async () => {
  const dir = tempDir();
  const cfg = path.join(dir, 'bad.yaml');
  const port = await freePort();
  // Parses (so workers are forked) but does not compile: the pool is unknown.
  fs.writeFileSync(cfg, `server: { listen: ["127.0.0.1:${port}"], workers: 2 }\nzones: [ { origin: early.test } ]\nnames: [ { name: www.early.test, pools: [nowhere] } ]\n`);
  try {
    const r = await serveToTheEnd(cfg);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /names\[0\]\.pools\[0\]: unknown pool "nowhere"/);
    assert.ok(r.closed, 'no worker is left running');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('D1: workers forked before validation get the validated configuration and all serve it', async () => {
  const dir = tempDir();
  const cfg = path.join(dir, 'ok.yaml');
  const port = await freePort();
  fs.writeFileSync(cfg, `server: { listen: ["127.0.0.1:${port}"], workers: 2, rrl: { enabled: false } }
zones: [ { origin: early.test } ]
names: [ { name: www.early.test, pools: [eu] } ]
pools: [ { name: eu, members: [ { address: 192.0.2.10 } ] } ]
`);
  const w = await spawnWaymark(['serve', '--config', cfg]);
  try {
    for (let i = 0; i < 10; i++) assert.deepEqual(addresses(await query(port, 'www.early.test')), ['192.0.2.10']);
  } finally {
    await w.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
