// Interop, a real secondary (issue 12, SPEC D3): Knot DNS (`knotd`, package knot) started by this test on loopback as
// the secondary of a Waymark zone, with TSIG. It pulls the zone by AXFR, gets a NOTIFY (signed) after a dynamic
// update, pulls the change by IXFR, and answers the new data, checked with dig against knotd itself. `waymark notify`
// sends NOTIFY on demand. Never skips; everything on 127.0.0.1; knotd is stopped and its files removed after.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawnWaymark, runWaymark, freePort, tempDir, query, type SpawnedWaymark } from '../harness.js';
import { runTool, INSTALL_HINT } from './run-tool.js';

const XFR = crypto.randomBytes(32).toString('base64');
const DDNS = crypto.randomBytes(32).toString('base64');


async function until<T>(what: string, fn: () => Promise<T | null>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('interop: knotd as the secondary of a Waymark zone', () => {
  let dir = '';
  let port = 0;
  let knotPort = 0;
  let waymark: SpawnedWaymark | undefined;
  let knot: ChildProcess | undefined;
  const knotLog: string[] = [];

  before(async () => {
    dir = tempDir('waymark-secondary-');
    port = await freePort();
    knotPort = await freePort();
    fs.writeFileSync(path.join(dir, 'sec.zone'), '$ORIGIN sec.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 7 60 30 604800 60\n@ IN NS ns1\nns1 IN A 127.0.0.1\nwww IN A 192.0.2.1\n');
    fs.writeFileSync(path.join(dir, 'waymark.yaml'), `server: { listen: ["127.0.0.1:${port}"], workers: 1, rrl: { enabled: false } }
store: { path: data }
keys:
  - { name: xfr, algorithm: hmac-sha256, secret: "${XFR}" }
  - { name: ddns, algorithm: hmac-sha256, secret: "${DDNS}" }
zones:
  - file: sec.zone
    origin: sec.test
    update: [{ key: ddns, types: [A, TXT] }]
    transfer: [{ key: xfr }]
    notify: [{ address: "127.0.0.1:${knotPort}", key: xfr }]
`);
    waymark = await spawnWaymark(['serve', '--config', path.join(dir, 'waymark.yaml')]);
    const k = path.join(dir, 'knot');
    fs.mkdirSync(path.join(k, 'zones'), { recursive: true });
    fs.writeFileSync(path.join(k, 'knot.conf'), `server:
    rundir: "${k}"
    listen: 127.0.0.1@${knotPort}
log:
  - target: stdout
    any: info
database:
    storage: "${k}/db"
key:
  - id: xfr
    algorithm: hmac-sha256
    secret: ${XFR}
remote:
  - id: waymark
    address: 127.0.0.1@${port}
    key: xfr
acl:
  - id: from_waymark
    address: 127.0.0.1
    key: xfr
    action: notify
  - id: xfr_out
    address: 127.0.0.1
    key: xfr
    action: transfer
template:
  - id: default
    storage: "${k}/zones"
zone:
  - domain: sec.test
    master: waymark
    acl: [from_waymark, xfr_out]
`);
    knot = spawn('knotd', ['-c', path.join(k, 'knot.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    knot.on('error', (e) => knotLog.push(`knotd did not start: ${e.message} (${INSTALL_HINT})`));
    knot.stdout!.on('data', (d: Buffer) => knotLog.push(d.toString()));
    knot.stderr!.on('data', (d: Buffer) => knotLog.push(d.toString()));
  });

  after(async () => {
    if (knot && knot.exitCode === null) {
      const gone = new Promise((r) => knot!.once('exit', r));
      knot.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
      knot.kill('SIGKILL');
    }
    if (waymark) await waymark.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const atKnot = async (name: string, type = 'A'): Promise<string[]> => {
    const r = await runTool('dig', ['@127.0.0.1', '-p', String(knotPort), '+short', '+time=1', '+tries=1', name, type]);
    return r.out.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith(';'));
  };
  const serialAt = async (name: string): Promise<number | null> => {
    const soa = (await atKnot(name, 'SOA'))[0];
    return soa === undefined ? null : Number(soa.split(/\s+/)[2]);
  };

  test('D3: knotd pulls the zone by AXFR with TSIG and answers it', async () => {
    const s = await until('knotd to answer the zone', async () => ((await serialAt('sec.test')) === 7 ? 7 : null));
    assert.equal(s, 7);
    assert.deepEqual(await atKnot('www.sec.test'), ['192.0.2.1']);
    assert.match(knotLog.join(''), /AXFR, incoming|finished/i, knotLog.join(''));
  });

  test('D3: after a dynamic update Waymark sends NOTIFY; knotd pulls IXFR and answers the new record', async () => {
    const r = await runTool('knsupdate', ['-y', `hmac-sha256:ddns:${DDNS}`], { input: `server 127.0.0.1 ${port}\nzone sec.test\nadd new.sec.test 60 A 198.51.100.42\nsend\n` });
    assert.equal(r.code, 0, r.out);
    const served = ((await query(port, 'sec.test', { type: 'SOA' })).answers[0]!.data as { serial: number }).serial;
    assert.equal(served, 8);
    await until('knotd to serve serial 8', async () => ((await serialAt('sec.test')) === 8 ? true : null));
    assert.deepEqual(await atKnot('new.sec.test'), ['198.51.100.42']);
    const log = knotLog.join('');
    assert.match(log, /notify|NOTIFY/, log);
    assert.match(log, /IXFR, incoming/, log);
    assert.match(waymark!.stdout.join(''), /"incremental":true[^\n]*"msg":"IXFR"/, 'Waymark answered from its journal');
  });

  test('D3: a reload that changes the zone file advances the serial and notifies; knotd takes the whole zone (the journal cannot step across it)', async () => {
    fs.appendFileSync(path.join(dir, 'sec.zone'), 'edited IN A 192.0.2.77\n');
    const r = await runWaymark(['reload', '--config', path.join(dir, 'waymark.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    await until('knotd to serve serial 9', async () => ((await serialAt('sec.test')) === 9 ? true : null));
    assert.deepEqual(await atKnot('edited.sec.test'), ['192.0.2.77']);
    assert.deepEqual(await atKnot('new.sec.test'), ['198.51.100.42'], 'the dynamic record stays');
  });

  test('D3: `waymark zone import --axfr` fetches the zone back from knotd with TSIG (knotd signs, we verify) as a master file that loads', async () => {
    const out = path.join(dir, 'imported.zone');
    const r = await runWaymark(['zone', 'import', 'sec.test', '--axfr', `127.0.0.1:${knotPort}`, '--key', `hmac-sha256:xfr:${XFR}`, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const text = fs.readFileSync(out, 'utf8');
    assert.match(text, /new\.sec\.test\.?\s+60\s+IN\s+A\s+198\.51\.100\.42/);
    assert.match(text, /edited\.sec\.test\.?\s+\d+\s+IN\s+A\s+192\.0\.2\.77/);
    const check = await runWaymark(['check', '--zone', out]);
    assert.equal(check.code, 0, check.stderr);
    const wrong = await runWaymark(['zone', 'import', 'sec.test', '--axfr', `127.0.0.1:${knotPort}`, '--key', `hmac-sha256:xfr:${DDNS}`]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /NOTAUTH|BADSIG|TSIG error/);
  });

  test('D3: `waymark notify sec.test` tells knotd now and reports its answer', async () => {
    const r = await runWaymark(['notify', 'sec.test', '--config', path.join(dir, 'waymark.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`127\\.0\\.0\\.1:${knotPort}: answered \\(rcode 0\\)`));
    const missing = await runWaymark(['notify', 'nothere.test', '--config', path.join(dir, 'waymark.yaml')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /not served here|no secondaries/);
  });
});
