// Interop, dynamic pools (issue 12, SPEC D5 with G1/H1): nsupdate registers addresses into a GSLB name whose pool is
// `dynamic: true`; they become members, health-checked like any (a registered address with nothing listening is not
// answered), survive a restart and a reload of the edited file, and are deleted by UPDATE; configured members stay.
// A policy name without a dynamic pool refuses UPDATE, saying why. Never skips; all on 127.0.0.0/8.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawnWaymark, runWaymark, freePort, tempDir, query, udpExchange, decode, type SpawnedWaymark } from '../harness.js';
import { encodeName } from '../../src/wire/name.js';
import { runTool } from './run-tool.js';
import { signRequest, TsigKeyring } from '../../src/wire/tsig.js';

const SECRET = crypto.randomBytes(32).toString('base64');

function nsupdate(port: number, keyFile: string, script: string): Promise<{ code: number; out: string }> {
  return runTool('nsupdate', ['-k', keyFile], { input: `server 127.0.0.1 ${port}\nzone gslb.test\n${script}\nsend\n` });
}

describe('interop: addresses registered by nsupdate into a dynamic pool', () => {
  let dir = '';
  let port = 0;
  let checkPort = 0;
  let waymark: SpawnedWaymark | undefined;
  const extra: net.Server[] = [];
  const config = (): string => path.join(dir, 'waymark.yaml');
  const keyFile = (): string => path.join(dir, 'ddns.key');
  const write = (extra = ''): void => fs.writeFileSync(config(), `server: { listen: ["127.0.0.1:${port}"], workers: 2, rrl: { enabled: false } }
store: { path: data }
keys: [{ name: ddns, algorithm: hmac-sha256, secret: "${SECRET}" }]
monitors: [{ name: port, type: tcp, port: ${checkPort}, interval: 1s, timeout: 300ms, rise: 1, fall: 1 }]
pools:
  - { name: sites, dynamic: true, monitor: port, members: [{ address: 127.0.0.1 }] }
  - { name: fixed, members: [{ address: 192.0.2.9 }] }
names:
  - { name: app.gslb.test, pools: [sites], select: [round-robin], answer: { count: 8 }, ttl: 20 }
  - { name: static.gslb.test, pools: [fixed] }
zones:
  - origin: gslb.test
    records: [{ name: www, type: A, value: 192.0.2.1 }${extra}]
    update: [{ key: ddns, types: [A, AAAA, TXT] }]
`);
  /** Every address app.gslb.test answers over 12 queries on fresh sockets (both workers). */
  const answered = async (): Promise<string[]> => {
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) for (const a of (await query(port, 'app.gslb.test')).answers) seen.add(String(a.data));
    return [...seen].sort();
  };
  const until = async (want: string[]): Promise<void> => {
    const deadline = Date.now() + 8000;
    let got: string[] = [];
    while (Date.now() < deadline) {
      got = await answered();
      if (JSON.stringify(got) === JSON.stringify(want)) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(got, want);
  };

  before(async () => {
    dir = tempDir('waymark-dynpool-');
    port = await freePort();
    checkPort = await freePort();
    // Health: 127.0.0.1 and 127.0.0.5 listen on the monitored port; 127.0.0.6 does not (yet).
    for (const host of ['127.0.0.1', '127.0.0.5']) {
      const l = net.createServer((s) => s.end());
      await new Promise<void>((r) => l.listen(checkPort, host, () => r()));
      extra.push(l);
    }
    fs.writeFileSync(keyFile(), `key "ddns" {\n\talgorithm hmac-sha256;\n\tsecret "${SECRET}";\n};\n`);
    write();
    waymark = await spawnWaymark(['serve', '--config', config()]);
  });

  after(async () => {
    if (waymark) await waymark.stop();
    for (const l of extra) l.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('D5/G1: A records added by nsupdate at the pool\'s name become health-checked members, answered by every worker', async () => {
    await until(['127.0.0.1']);
    const r = await nsupdate(port, keyFile(), 'update add app.gslb.test 60 A 127.0.0.5\nupdate add app.gslb.test 60 A 127.0.0.6');
    assert.equal(r.code, 0, r.out);
    assert.ok((await answered()).includes('127.0.0.5'), 'registered at once');
    // 127.0.0.6 has nothing listening on the monitored port: the monitor takes it down (fall: 1)…
    await until(['127.0.0.1', '127.0.0.5']);
    // …and up once something listens there (rise: 1).
    const six = net.createServer((s) => s.end());
    await new Promise<void>((res) => six.listen(checkPort, '127.0.0.6', () => res()));
    extra.push(six);
    await until(['127.0.0.1', '127.0.0.5', '127.0.0.6']);
  });

  test('D5: registrations survive a restart and a reload of the edited file; `waymark export` shows who registered them', async () => {
    await waymark!.stop();
    waymark = await spawnWaymark(['serve', '--config', config()]);
    await until(['127.0.0.1', '127.0.0.5', '127.0.0.6']);
    write(', { name: extra, type: A, value: 192.0.2.2 }');
    const r = await runWaymark(['reload', '--config', config()]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((await query(port, 'extra.gslb.test')).answers.map((a) => a.data), ['192.0.2.2']);
    await until(['127.0.0.1', '127.0.0.5', '127.0.0.6']);
    const e = await runWaymark(['export', '--config', config()]);
    assert.match(e.stdout, /address: 127\.0\.0\.5\n\s+registered: key ddns/);
  });

  test('D5: UPDATE deletes registered members; a configured member is not deleted by it', async () => {
    const r = await nsupdate(port, keyFile(), 'update delete app.gslb.test A 127.0.0.6\nupdate delete app.gslb.test A 127.0.0.1');
    assert.equal(r.code, 0, r.out);
    await until(['127.0.0.1', '127.0.0.5']);
    const all = await nsupdate(port, keyFile(), 'update delete app.gslb.test A');
    assert.equal(all.code, 0, all.out);
    await until(['127.0.0.1']);
  });

  test('D5: a policy name without a dynamic pool, and other types at a dynamic pool\'s name, are refused with the reason', async () => {
    const fixed = await nsupdate(port, keyFile(), 'update add static.gslb.test 60 A 198.51.100.1');
    assert.match(fixed.out, /REFUSED/, fixed.out);
    const txt = await nsupdate(port, keyFile(), 'update add app.gslb.test 60 TXT "x"');
    assert.match(txt.out, /REFUSED/, txt.out);
    // The reason, as an extended error (EDNS) on a signed UPDATE sent by hand.
    const key = new TsigKeyring([{ name: 'ddns', algorithm: 'hmac-sha256', secret: SECRET }]).find(Buffer.from(encodeName('ddns')))!;
    const head = Buffer.from([0x31, 0x31, 0x28, 0x00, 0, 1, 0, 0, 0, 1, 0, 1]);
    const add = Buffer.concat([encodeName('static.gslb.test'), Buffer.from([0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 51, 100, 1])]);
    const msg = Buffer.concat([head, encodeName('gslb.test'), Buffer.from([0, 6, 0, 1]), add, Buffer.from([0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0])]);
    const res = decode((await udpExchange(port, signRequest(msg, key, Math.floor(Date.now() / 1000)).message))!);
    assert.equal(res.rcode, 'REFUSED');
    const ede = res.additionals.find((a) => a.type === 'OPT')?.options?.find((o) => o.code === 15)?.data;
    assert.match(ede!.subarray(2).toString(), /static\.gslb\.test is a policy name \(pool fixed answers it\)/);
  });
});
