// Interop, zone transfer (AXFR RFC 5936, IXFR RFC 1995, issue 12, SPEC D3): dig and kdig transfer a Waymark zone of
// more than 64 KB over TCP, signed with TSIG on every message (they verify each one); unsigned requests are refused
// unless an address rule lets them in; IXFR after dynamic updates gives the differences from the journal, a serial
// the journal does not reach gives the whole zone, and IXFR over UDP answers per RFC 1995. Never skips; 127.0.0.1 only.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawnWaymark, runWaymark, freePort, tempDir, query, type SpawnedWaymark } from '../harness.js';
import { runTool } from './run-tool.js';

const XFR = crypto.randomBytes(32).toString('base64');
const DDNS = crypto.randomBytes(32).toString('base64');
const HOSTS = 3000;


/** The answer lines of a dig/kdig transfer: owner, type and data, comments left out. */
function records(out: string): string[][] {
  return out.split('\n').filter((l) => l.trim() !== '' && !l.startsWith(';')).map((l) => l.trim().split(/\s+/)).filter((f) => f.length >= 5 && f[2] === 'IN');
}

describe('interop: AXFR and IXFR with dig and kdig against `waymark serve`', () => {
  let dir = '';
  let port = 0;
  let waymark: SpawnedWaymark | undefined;

  before(async () => {
    dir = tempDir('waymark-xfr-');
    port = await freePort();
    const hosts = Array.from({ length: HOSTS }, (_, i) => `host-${String(i).padStart(5, '0')}-with-a-longer-name IN A 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`).join('\n');
    fs.writeFileSync(path.join(dir, 'xfr.zone'), `$ORIGIN xfr.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 10 3600 600 604800 60\n@ IN NS ns1\nns1 IN A 127.0.0.1\n${hosts}\n`);
    fs.writeFileSync(path.join(dir, 'waymark.yaml'), `server: { listen: ["127.0.0.1:${port}"], workers: 2, rrl: { enabled: false } }
store: { path: data }
keys:
  - { name: xfr, algorithm: hmac-sha256, secret: "${XFR}" }
  - { name: ddns, algorithm: hmac-sha512, secret: "${DDNS}" }
pools:
  - name: web
    members: [{ address: 192.0.2.10 }, { address: 192.0.2.11, enabled: false }, { address: "2001:db8::10" }]
names:
  - { name: gslb.xfr.test, pools: [web], ttl: 20 }
zones:
  - file: xfr.zone
    origin: xfr.test
    transfer: [{ key: xfr }, { from: 127.0.0.2 }]
    update: [{ key: ddns, types: [A, TXT] }]
    journal: 3
`);
    waymark = await spawnWaymark(['serve', '--config', path.join(dir, 'waymark.yaml')]);
  });

  after(async () => {
    if (waymark) await waymark.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const dig = (...args: string[]) => runTool('dig', ['@127.0.0.1', '-p', String(port), '+time=5', '+tries=1', ...args]);
  const kdig = (...args: string[]) => runTool('kdig', ['@127.0.0.1', '-p', String(port), '+time=5', '+retry=0', ...args]);
  const update = (script: string) => runTool('knsupdate', ['-y', `hmac-sha512:ddns:${DDNS}`], { input: `server 127.0.0.1 ${port}\nzone xfr.test\n${script}\nsend\n` });
  const serial = async (): Promise<number> => ((await query(port, 'xfr.test', { type: 'SOA' })).answers[0]!.data as { serial: number }).serial;

  test('D3: dig and kdig AXFR a zone of over 64 KB with TSIG, every message signed and verified; policy names go out as plain A/AAAA of enabled members', async () => {
    const d = await dig('-y', `hmac-sha256:xfr:${XFR}`, 'xfr.test', 'AXFR');
    assert.doesNotMatch(d.out, /Transfer failed|tsig verify failure|failed/i, d.out.slice(-1500));
    const rs = records(d.out);
    assert.equal(rs.filter((r) => r[3] === 'SOA').length, 2, 'SOA first and last');
    assert.equal(rs[0]![3], 'SOA');
    assert.equal(rs.at(-1)![3], 'SOA');
    assert.equal(rs.filter((r) => r[0]!.startsWith('host-')).length, HOSTS);
    const size = Number(/XFR size: \d+ records \(messages (\d+), bytes (\d+)\)/.exec(d.out)?.[2] ?? 0);
    const messages = Number(/messages (\d+)/.exec(d.out)?.[1] ?? 0);
    assert.ok(size > 65_536 && messages > 4, `${size} bytes in ${messages} messages`);
    assert.deepEqual(rs.filter((r) => r[0] === 'gslb.xfr.test.').map((r) => `${r[1]} ${r[3]} ${r[4]}`).sort(), ['20 A 192.0.2.10', '20 AAAA 2001:db8::10']);
    const k = await kdig('-y', `hmac-sha256:xfr:${XFR}`, 'xfr.test', 'AXFR');
    assert.doesNotMatch(k.out, /WARNING|failed|BADSIG|BADTIME/, k.out.slice(0, 2000));
    assert.equal(records(k.out).filter((r) => r[0]!.startsWith('host-')).length, HOSTS);
  });

  test('D3: unsigned AXFR is refused, a wrong key is refused, an address rule (127.0.0.2) lets one in unsigned', async () => {
    const plain = await dig('xfr.test', 'AXFR');
    assert.match(plain.out, /Transfer failed|REFUSED/, plain.out);
    const wrong = await kdig('-y', `hmac-sha256:xfr:${DDNS}`, 'xfr.test', 'AXFR');
    assert.match(wrong.out, /BADSIG|NOTAUTH|failed/i, wrong.out);
    assert.equal(records(wrong.out).length, 0);
    const byAddress = await dig('-b', '127.0.0.2', 'xfr.test', 'AXFR');
    assert.equal(records(byAddress.out).filter((r) => r[0]!.startsWith('host-')).length, HOSTS, byAddress.out.slice(0, 500));
    const notOurs = await dig('-y', `hmac-sha256:xfr:${XFR}`, 'other.test', 'AXFR');
    assert.match(notOurs.out, /Transfer failed|NOTAUTH/, notOurs.out);
  });

  test('D3: `waymark zone import --axfr` takes the 64 KB+ zone, every message verified; unsigned it is refused', async () => {
    const r = await runWaymark(['zone', 'import', 'xfr.test', '--axfr', `127.0.0.1:${port}`, '--key', `hmac-sha256:xfr:${XFR}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split('\n').filter((l) => l.startsWith('host-')).length, HOSTS);
    assert.match(r.stdout, /^; xfr\.test as 127\.0\.0\.1:\d+ sent it by AXFR .*signed with key xfr/);
    const refused = await runWaymark(['zone', 'import', 'xfr.test', '--axfr', `127.0.0.1:${port}`]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /answered REFUSED/);
  });

  test('D3: IXFR after updates gives the differences (old SOA, removed, new SOA, added) from the journal, over TCP and UDP; an old serial gets the whole zone', async () => {
    const s0 = await serial();
    assert.equal((await update('add new1.xfr.test 60 A 198.51.100.1')).code, 0);
    assert.equal((await update('del host-00001-with-a-longer-name.xfr.test A\nadd new2.xfr.test 60 TXT "two"')).code, 0);
    const s2 = await serial();
    assert.equal(s2, s0 + 2);
    const ixfr = await dig('-y', `hmac-sha256:xfr:${XFR}`, 'xfr.test', `IXFR=${s0}`);
    assert.doesNotMatch(ixfr.out, /Transfer failed|failed/i, ixfr.out);
    const rs = records(ixfr.out);
    assert.deepEqual(rs.filter((r) => r[3] === 'SOA').map((r) => Number(r[6])), [s2, s0, s0 + 1, s0 + 1, s2, s2], 'current, then each step\'s old and new SOA, then current');
    assert.ok(rs.some((r) => r[0] === 'new1.xfr.test.' && r[4] === '198.51.100.1'));
    assert.ok(rs.some((r) => r[0] === 'host-00001-with-a-longer-name.xfr.test.'), 'the deleted record, in the removed part');
    assert.ok(rs.length < 20, `incremental, not the whole zone (${rs.length} records)`);
    const udp = await dig('-y', `hmac-sha256:xfr:${XFR}`, '+notcp', 'xfr.test', `IXFR=${s0 + 1}`);
    assert.ok(records(udp.out).some((r) => r[0] === 'new2.xfr.test.'), udp.out);
    const current = await kdig('-y', `hmac-sha256:xfr:${XFR}`, 'xfr.test', `IXFR=${s2}`);
    assert.equal(records(current.out).length, 1, 'up to date: the SOA alone');
    for (let i = 0; i < 3; i++) assert.equal((await update(`add more${i}.xfr.test 60 A 198.51.100.${10 + i}`)).code, 0);
    const old = await dig('-y', `hmac-sha256:xfr:${XFR}`, 'xfr.test', `IXFR=${s0}`);
    assert.ok(records(old.out).filter((r) => r[0]!.startsWith('host-')).length >= HOSTS - 1, 'journal: 3 keeps three steps; older serials get the whole zone');
  });
});
