// Interop, dynamic update (RFC 2136 with TSIG, issue 12, SPEC D5): nsupdate (bind9-dnsutils) and knsupdate
// (knot-dnsutils) change a zone of `waymark serve` with keys tsig-keygen (bind9) made: add, replace, delete,
// prerequisites that fail; a bad key, a bad MAC and a clock skewed past the fudge (faketime) are refused and change
// nothing. Acknowledged means durable (SIGKILL right after the reply) and served by every worker; a reload of the
// file keeps what UPDATE set. Never skips; all traffic on 127.0.0.1.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnWaymark, runWaymark, freePort, tempDir, query, udpExchange, decode, type SpawnedWaymark } from '../harness.js';
import { runTool } from './run-tool.js';
import { encodeName } from '../../src/wire/name.js';



/** A key as tsig-keygen prints it (a BIND key file), and the secret in it. */
async function keygen(name: string, algorithm = 'hmac-sha256'): Promise<{ file: string; text: string; secret: string }> {
  const r = await runTool('tsig-keygen', ['-a', algorithm, name]);
  assert.equal(r.code, 0, r.out);
  const secret = /secret "([^"]+)"/.exec(r.out)?.[1];
  assert.ok(secret, r.out);
  return { file: '', text: r.out.trim(), secret };
}

const ZONE = `$ORIGIN dyn.example.test.
$TTL 300
@ IN SOA ns1 hostmaster 2026120100 3600 600 604800 60
@ IN NS ns1
ns1 IN A 127.0.0.1
www IN A 192.0.2.1
`;

describe('interop: nsupdate and knsupdate against `waymark serve`', () => {
  let dir = '';
  let port = 0;
  let waymark: SpawnedWaymark | undefined;
  let ddns = { file: '', text: '', secret: '' };
  const config = (): string => path.join(dir, 'waymark.yaml');
  const start = async (): Promise<void> => { waymark = await spawnWaymark(['serve', '--config', config()]); };

  before(async () => {
    dir = tempDir('waymark-update-');
    port = await freePort();
    ddns = await keygen('ddns');
    ddns.file = path.join(dir, 'ddns.key');
    fs.writeFileSync(ddns.file, `${ddns.text}\n`);
    fs.writeFileSync(path.join(dir, 'dyn.zone'), ZONE);
    fs.writeFileSync(config(), `server: { listen: ["127.0.0.1:${port}"], workers: 2, rrl: { enabled: false } }
store: { path: data }
keys:
  - { name: ddns, algorithm: hmac-sha256, secret: "${ddns.secret}" }
zones:
  - file: dyn.zone
    origin: dyn.example.test
    update:
      - { key: ddns, owners: { subtree: dyn.example.test }, types: [A, AAAA, TXT], maxRecords: 16 }
`);
    await start();
  });

  after(async () => {
    if (waymark) await waymark.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const nsupdate = (script: string, ...args: string[]) => runTool('nsupdate', args, { input: `server 127.0.0.1 ${port}\nzone dyn.example.test\n${script}\nsend\n` });
  const knsupdate = (script: string, key = `hmac-sha256:ddns:${ddns.secret}`) => runTool('knsupdate', ['-y', key], { input: `server 127.0.0.1 ${port}\nzone dyn.example.test\n${script}\nsend\n` });
  /** What 8 queries on fresh sockets answer (two workers share the socket: both are asked). */
  const answers = async (name: string, type: 'A' | 'TXT' | 'SOA' = 'A'): Promise<string[]> => {
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const r = await query(port, name, { type });
      seen.add(JSON.stringify(r.answers.map((a) => (type === 'SOA' ? (a.data as { serial: number }).serial : type === 'TXT' ? (a.data as Buffer[]).map(String).join('') : a.data)).sort()));
    }
    assert.equal(seen.size, 1, `every worker answers ${name} ${type} alike: ${[...seen].join(' | ')}`);
    return JSON.parse([...seen][0]!) as string[];
  };
  const serial = async (): Promise<number> => Number((await answers('dyn.example.test', 'SOA'))[0]);

  test('D3/D5: nsupdate -k (a tsig-keygen key file) adds records over UDP and TCP; every worker answers them at once, with the serial one up', async () => {
    const s0 = await serial();
    const r = await nsupdate('update add host1.dyn.example.test 60 A 198.51.100.7\nupdate add host1.dyn.example.test 60 TXT "hello"', '-k', ddns.file);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(await answers('host1.dyn.example.test'), ['198.51.100.7']);
    assert.deepEqual(await answers('host1.dyn.example.test', 'TXT'), ['hello']);
    assert.equal(await serial(), s0 + 1, 'serial: increment');
    const tcp = await nsupdate('update add host1.dyn.example.test 60 A 198.51.100.8', '-v', '-k', ddns.file);
    assert.equal(tcp.code, 0, tcp.out);
    assert.deepEqual(await answers('host1.dyn.example.test'), ['198.51.100.7', '198.51.100.8']);
  });

  test('D3/D5: knsupdate replaces an RRset, deletes one record, and a failing prerequisite (YXDOMAIN, NXRRSET) changes nothing', async () => {
    const rep = await knsupdate('del www.dyn.example.test A\nadd www.dyn.example.test 120 A 203.0.113.5');
    assert.equal(rep.code, 0, rep.out);
    assert.deepEqual(await answers('www.dyn.example.test'), ['203.0.113.5']);
    const one = await knsupdate('del host1.dyn.example.test A 198.51.100.7');
    assert.equal(one.code, 0, one.out);
    assert.deepEqual(await answers('host1.dyn.example.test'), ['198.51.100.8']);
    const s = await serial();
    const yx = await knsupdate('prereq nxdomain host1.dyn.example.test\nadd host2.dyn.example.test 60 A 198.51.100.9');
    assert.notEqual(yx.code, 0);
    assert.match(yx.out, /YXDOMAIN/, yx.out);
    const nx = await nsupdate('prereq yxrrset www.dyn.example.test A 192.0.2.1\nupdate add host2.dyn.example.test 60 A 198.51.100.9', '-k', ddns.file);
    assert.match(nx.out, /NXRRSET/, nx.out);
    assert.deepEqual(await answers('host2.dyn.example.test'), []);
    assert.equal(await serial(), s, 'refused updates leave the serial');
  });

  test('D3/D5: a key not configured, a wrong secret, a clock 10 minutes off and a type the policy denies are refused; nothing changes', async () => {
    const s = await serial();
    const stranger = await keygen('stranger');
    const unknown = await knsupdate('add host3.dyn.example.test 60 A 198.51.100.10', `hmac-sha256:stranger:${stranger.secret}`);
    assert.match(unknown.out, /BADKEY|NOTAUTH/, unknown.out);
    const wrong = await knsupdate('add host3.dyn.example.test 60 A 198.51.100.10', `hmac-sha256:ddns:${stranger.secret}`);
    assert.match(wrong.out, /BADSIG|NOTAUTH/, wrong.out);
    // knsupdate under faketime (BIND's nsupdate recurses into libfaketime's clock and cannot start).
    const skewed = await runTool('faketime', ['-f', '-10m', 'knsupdate', '-y', `hmac-sha256:ddns:${ddns.secret}`], { input: `server 127.0.0.1 ${port}\nzone dyn.example.test\nadd host3.dyn.example.test 60 A 198.51.100.10\nsend\n` });
    assert.notEqual(skewed.code, 0, skewed.out);
    assert.match(skewed.out, /BADTIME|clock skew|NOTAUTH/i, skewed.out);
    const unsigned = await nsupdate('update add host3.dyn.example.test 60 A 198.51.100.10');
    assert.match(unsigned.out, /REFUSED/, unsigned.out);
    const mx = await nsupdate('update add host3.dyn.example.test 60 MX 10 mail.dyn.example.test', '-k', ddns.file);
    assert.match(mx.out, /REFUSED/, mx.out);
    assert.deepEqual(await answers('host3.dyn.example.test'), []);
    assert.equal(await serial(), s);
  });

  test('D3/D5: ddclient in its nsupdate protocol, run once in the foreground, registers an address', async () => {
    const conf = path.join(dir, 'ddclient.conf');
    fs.writeFileSync(conf, `daemon=0\nssl=no\nuse=ip, ip=198.51.100.99\nprotocol=nsupdate\nserver=127.0.0.1:${port}\npassword=${ddns.file}\nzone=dyn.example.test\nttl=120\nsite.dyn.example.test\n`, { mode: 0o600 });
    const r = await runTool('ddclient', ['-daemon=0', '-foreground', '-file', conf, '-cache', path.join(dir, 'ddclient.cache'), '-verbose', '-noquiet']);
    assert.match(r.out, /SUCCESS:.*site\.dyn\.example\.test.*198\.51\.100\.99/, r.out);
    assert.deepEqual(await answers('site.dyn.example.test'), ['198.51.100.99']);
  });

  test('D3/D5: with EDNS, a refusal says why in an RFC 8914 extended error', async () => {
    const head = Buffer.from([0x42, 0x42, 0x28, 0x00, 0, 1, 0, 0, 0, 1, 0, 1]);
    const add = Buffer.concat([encodeName('x.dyn.example.test'), Buffer.from([0, 15, 0, 1, 0, 0, 0, 60, 0, 4, 0, 10, 0, 0])]);
    const msg = Buffer.concat([head, encodeName('dyn.example.test'), Buffer.from([0, 6, 0, 1]), add, Buffer.from([0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0])]);
    const res = decode((await udpExchange(port, msg))!);
    assert.equal(res.rcode, 'REFUSED');
    const ede = res.additionals.find((a) => a.type === 'OPT')?.options?.find((o) => o.code === 15)?.data;
    assert.ok(ede);
    assert.match(ede.subarray(2).toString(), /unsigned request from 127\.0\.0\.1 may not update zone dyn\.example\.test/);
  });

  test('D3/D5: acknowledged means durable: SIGKILL right after NOERROR, restart, the update and its serial are there', async () => {
    const r = await nsupdate('update add durable.dyn.example.test 60 A 198.51.100.77', '-k', ddns.file);
    assert.equal(r.code, 0, r.out);
    const s = await serial();
    waymark!.proc.kill('SIGKILL');
    await new Promise<void>((resolve) => { if (waymark!.proc.signalCode !== null || waymark!.proc.exitCode !== null) resolve(); else waymark!.proc.once('exit', () => resolve()); });
    // The orphaned workers leave once they notice their supervisor is gone; then the port is free.
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      try { await query(port, 'www.dyn.example.test', { timeoutMs: 200 }); await new Promise((x) => setTimeout(x, 100)); } catch { break; }
    }
    await start();
    assert.deepEqual(await answers('durable.dyn.example.test'), ['198.51.100.77']);
    assert.equal(await serial(), s);
  });

  test('D3/D5: a reload of an edited file keeps what UPDATE set: the file\'s new record and the updated ones are both served', async () => {
    fs.appendFileSync(path.join(dir, 'dyn.zone'), 'fromfile IN A 192.0.2.50\n');
    const r = await runWaymark(['reload', '--config', config()]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await answers('fromfile.dyn.example.test'), ['192.0.2.50']);
    assert.deepEqual(await answers('www.dyn.example.test'), ['203.0.113.5'], 'the file says 192.0.2.1; UPDATE replaced it and that stays');
    assert.deepEqual(await answers('durable.dyn.example.test'), ['198.51.100.77']);
  });
});
