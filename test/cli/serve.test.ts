// C1/D1 operations: the real `waymark` CLI with several workers, reload under load, and `waymark check`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { spawnWaymark, runWaymark, freePort, tempDir, query, addresses, udpExchange, buildQuery, decode } from '../harness.js';

function configYaml(port: number, wwwAddress: string, extra = ''): string {
  return `
server:
  listen: ["127.0.0.1:${port}"]
  rrl: { enabled: false }
zones:
  - origin: ops.test
    ns: [ns1]
    records:
      - { name: ns1, type: A, value: 127.0.0.53 }
      - { name: www, type: A, value: ${wwwAddress} }
${extra}`;
}

/** Send `count` queries at a steady pace; each must be answered on its first try. Returns [answered, replies]. */
async function steadyLoad(port: number, count: number, gapMs: number, onEach?: (i: number) => void): Promise<{ answered: number; seen: Set<string> }> {
  let answered = 0;
  const seen = new Set<string>();
  const inflight: Array<Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    onEach?.(i);
    inflight.push(udpExchange(port, buildQuery('www.ops.test', { id: i }), { timeoutMs: 1500 }).then((r) => {
      if (r) {
        answered++;
        for (const a of decode(r).answers) seen.add(String(a.data));
      }
    }));
    await new Promise((r) => setTimeout(r, gapMs));
  }
  await Promise.all(inflight);
  return { answered, seen };
}

test('D1: two workers share the sockets; a killed worker is replaced and no query is lost', async () => {
  const dir = tempDir();
  const port = await freePort();
  const cfg = path.join(dir, 'waymark.yaml');
  fs.writeFileSync(cfg, configYaml(port, '192.0.2.1'));
  const w = await spawnWaymark(['serve', '--config', cfg, '--workers', '2']);
  try {
    const workerPids = (): number[] => execFileSync('pgrep', ['-P', String(w.proc.pid)]).toString().trim().split('\n').map(Number);
    const before = workerPids();
    assert.equal(before.length, 2);
    const load = await steadyLoad(port, 400, 2, (i) => { if (i === 100) process.kill(before[0]!, 'SIGKILL'); });
    assert.equal(load.answered, 400, 'every query answered on its first try while a worker died');
    // The supervisor replaced the dead worker.
    let after: number[] = [];
    for (let i = 0; i < 50 && (after.length < 2 || after.includes(before[0]!)); i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = workerPids();
    }
    assert.equal(after.length, 2);
    assert.ok(!after.includes(before[0]!));
    assert.ok(w.stdout.join('').includes('worker died; starting a replacement'));
  } finally {
    await w.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('C1: SIGHUP and `waymark reload` swap the configuration with zero lost queries; a bad config is rejected', async () => {
  const dir = tempDir();
  const port = await freePort();
  const cfg = path.join(dir, 'waymark.yaml');
  const pidFile = path.join(dir, 'waymark.pid');
  fs.writeFileSync(cfg, configYaml(port, '192.0.2.1'));
  const w = await spawnWaymark(['serve', '--config', cfg, '--workers', '2', '--pid-file', pidFile]);
  try {
    assert.deepEqual(addresses(await query(port, 'www.ops.test')), ['192.0.2.1']);
    // Reload while queries flow: all answered, and the answer changes.
    const load = await steadyLoad(port, 300, 2, (i) => {
      if (i === 100) {
        fs.writeFileSync(cfg, configYaml(port, '192.0.2.2'));
        process.kill(w.proc.pid!, 'SIGHUP');
      }
    });
    assert.equal(load.answered, 300);
    assert.deepEqual([...load.seen].sort(), ['192.0.2.1', '192.0.2.2']);
    assert.deepEqual(addresses(await query(port, 'www.ops.test')), ['192.0.2.2']);

    // A bad config: `waymark reload` waits for the outcome, exits 1 with the path of the bad field; the old one serves.
    fs.writeFileSync(cfg, configYaml(port, '10.0.0.300'));
    const r = await runWaymark(['reload', '--pid-file', pidFile]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /reload rejected/);
    assert.match(r.stderr, /zones\[0\]\.records\[1\]\.value: "10\.0\.0\.300" is not an IPv4 address/);
    assert.match(w.stdout.join(''), /reload rejected/);
    assert.deepEqual(addresses(await query(port, 'www.ops.test')), ['192.0.2.2']);

    // `waymark reload` with a good config: in force on every worker when it returns 0.
    fs.writeFileSync(cfg, configYaml(port, '192.0.2.3'));
    const ok = await runWaymark(['reload', '--pid-file', pidFile]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^reloaded: generation \d+/);
    for (let i = 0; i < 8; i++) assert.deepEqual(addresses(await query(port, 'www.ops.test')), ['192.0.2.3']);
  } finally {
    await w.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('C1: `waymark check` names the path of every bad field and exits 1', async () => {
  const dir = tempDir();
  const cfg = path.join(dir, 'bad.yaml');
  fs.writeFileSync(path.join(dir, 'broken.zone'), '$ORIGIN broken.test.\n@ IN SOA ns1 hm 1 2 3 4 5\nwww IN A 1.2.3\n');
  fs.writeFileSync(cfg, `
server: { listen: ["127.0.0.1:99999"], workres: 2 }
zones:
  - origin: ok.test
    records:
      - { name: www, type: A, value: 192.0.2.1 }
      - { name: www, type: AAAA, value: "not-an-address" }
      - { name: x, type: FOO, value: "1" }
      - { name: c, type: CNAME, value: www }
      - { name: c, type: A, value: 192.0.2.9 }
  - file: broken.zone
`);
  try {
    const r = await runWaymark(['check', '--config', cfg]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /server\.listen\[0\]: "127\.0\.0\.1:99999" is not ADDRESS:PORT/);
    assert.match(r.stderr, /server\.workres: unknown key/);
    fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace('server: { listen: ["127.0.0.1:99999"], workres: 2 }', ''));
    const r2 = await runWaymark(['check', '--config', cfg]);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /zones\[0\]\.records\[1\]\.value: .*not-an-address/);
    assert.match(r2.stderr, /zones\[0\]\.records\[2\]\.type: "FOO" is not a supported record type/);
    assert.match(r2.stderr, /broken\.zone:3: .*1\.2\.3/);
    fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace(/\n {6}- \{ name: www, type: AAAA.*\n.*FOO.*\n/, '\n').replace('  - file: broken.zone\n', ''));
    const r3 = await runWaymark(['check', '--config', cfg]);
    assert.equal(r3.code, 1);
    assert.match(r3.stderr, /zones\[0\]: c\.ok\.test has a CNAME and other data/);
    fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace(/\n.*name: c, type: A.*\n/, '\n'));
    const ok = await runWaymark(['check', '--config', cfg]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^ok: 1 zone/);
    // A serve with a bad config refuses to start, with the same errors.
    fs.writeFileSync(cfg, configYaml(5300, '10.0.0.300'));
    const s = await runWaymark(['serve', '--config', cfg]);
    assert.equal(s.code, 1);
    assert.match(s.stderr, /zones\[0\]\.records\[1\]\.value: "10\.0\.0\.300" is not an IPv4 address/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('D2: quick start serves master files with no YAML, origin from $ORIGIN', async () => {
  const dir = tempDir();
  const port = await freePort();
  const zone = path.join(dir, 'q.zone');
  fs.writeFileSync(zone, '$ORIGIN quick.test.\n$TTL 60\n@ IN SOA ns1 hostmaster 1 3600 600 86400 30\n IN NS ns1\nns1 IN A 127.0.0.53\nwww IN A 192.0.2.77\n');
  const w = await spawnWaymark(['serve', '--zone', zone, '--listen', `127.0.0.1:${port}`, '--listen', `[::1]:${port}`, '--workers', '1']);
  try {
    assert.deepEqual(addresses(await query(port, 'www.quick.test')), ['192.0.2.77']);
    assert.deepEqual(addresses(await query(port, 'www.quick.test', { host: '::1' })), ['192.0.2.77']);
  } finally {
    await w.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('C1/D1: a reload recompiles only the zone whose file changed; an unchanged file recompiles nothing', async () => {
  const dir = tempDir();
  const port = await freePort();
  const cfg = path.join(dir, 'waymark.yaml');
  const pidFile = path.join(dir, 'waymark.pid');
  const zone = (origin: string, extra: string): string => `$ORIGIN ${origin}.\n$TTL 60\n@ IN SOA ns1 hostmaster 1 3600 600 604800 60\n@ IN NS ns1\nns1 IN A 127.0.0.53\nwww IN A 192.0.2.10\n${extra}`;
  fs.writeFileSync(path.join(dir, 'a.zone'), zone('a.test', ''));
  fs.writeFileSync(path.join(dir, 'b.zone'), zone('b.test', ''));
  fs.writeFileSync(cfg, `server: { listen: ["127.0.0.1:${port}"], rrl: { enabled: false } }\nstore: { path: ./state }\nzones:\n  - file: a.zone\n  - file: b.zone\n`);
  const w = await spawnWaymark(['serve', '--config', cfg, '--workers', '2', '--pid-file', pidFile]);
  try {
    const same = await runWaymark(['reload', '--pid-file', pidFile]);
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /the file is unchanged.*zones: 0 compiled, 2 unchanged/);
    // One zone file gains a record: only that zone is compiled, and every worker answers it.
    fs.writeFileSync(path.join(dir, 'b.zone'), zone('b.test', 'new IN A 192.0.2.77\n'));
    const one = await runWaymark(['reload', '--pid-file', pidFile]);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /zones: 1 compiled, 1 unchanged/);
    for (let i = 0; i < 8; i++) {
      assert.deepEqual(addresses(await query(port, 'new.b.test')), ['192.0.2.77']);
      assert.deepEqual(addresses(await query(port, 'www.a.test')), ['192.0.2.10']);
    }
  } finally {
    await w.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
