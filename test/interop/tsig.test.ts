// Interop, TSIG (RFC 8945, issue 12): dig and kdig sign their queries with keys as tsig-keygen makes them, and
// verify the signatures on our answers themselves. Owns: proof that the MAC, the error answers (BADKEY, BADSIG
// unsigned; BADTIME signed, with our time) and signed truncated and TCP answers are what real clients accept.
// A clock skewed past the fudge comes from faketime (package faketime). Never skips; traffic stays on 127.0.0.1.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawnWaymark, freePort, tempDir, type SpawnedWaymark } from '../harness.js';
import { runTool } from './run-tool.js';

const secret = (): string => crypto.randomBytes(32).toString('base64');
const SHA256 = secret();
const MD5 = secret();
const SHA512 = secret();


describe('interop: TSIG with dig and kdig against `waymark serve`', () => {
  let dir = '';
  let port = 0;
  let waymark: SpawnedWaymark | undefined;

  before(async () => {
    dir = tempDir('waymark-tsig-');
    port = await freePort();
    const big = Array.from({ length: 40 }, (_, i) => `      - { name: big, type: TXT, value: '"record ${i} padded so that the rrset outgrows a udp answer"' }`).join('\n');
    fs.writeFileSync(path.join(dir, 'waymark.yaml'), `server: { listen: ["127.0.0.1:${port}"], workers: 1, rrl: { enabled: false } }
keys:
  - { name: ddns, algorithm: hmac-sha256, secret: "${SHA256}" }
  - { name: Old.Key., algorithm: hmac-md5, secret: "${MD5}" }
  - { name: wide, algorithm: hmac-sha512, secret: "${SHA512}" }
zones:
  - origin: tsig.test
    records:
      - { name: www, type: A, value: 192.0.2.1 }
${big}
`);
    waymark = await spawnWaymark(['serve', '--config', path.join(dir, 'waymark.yaml')]);
  });

  after(async () => {
    if (waymark) await waymark.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const dig = (key: string, ...args: string[]) => runTool('dig', [`@127.0.0.1`, '-p', String(port), '+time=2', '+tries=1', '-y', key, ...args]);
  const kdig = (key: string, ...args: string[]) => runTool('kdig', [`@127.0.0.1`, '-p', String(port), '+time=2', '+retry=0', '-y', key, ...args]);

  test('D5 (TSIG): dig and kdig verify our signed answer with hmac-sha256, hmac-md5 (a key named in capitals) and hmac-sha512', async () => {
    for (const key of [`hmac-sha256:ddns:${SHA256}`, `hmac-md5:old.key:${MD5}`, `hmac-sha512:wide:${SHA512}`]) {
      const d = await dig(key, 'www.tsig.test', 'A');
      assert.match(d.out, /status: NOERROR/, d.out);
      assert.match(d.out, /192\.0\.2\.1/, d.out);
      assert.match(d.out, /TSIG PSEUDOSECTION/, d.out);
      assert.doesNotMatch(d.out, /could not be validated|Couldn't verify|tsig indicates error/i, d.out);
      const k = await kdig(key, 'www.tsig.test', 'A');
      assert.match(k.out, /status: NOERROR/, k.out);
      assert.doesNotMatch(k.out, /WARNING: reply verification/, k.out);
    }
  });

  test('D5 (TSIG): a signed NXDOMAIN over TCP and a signed truncated UDP answer, then its TCP retry, all verify', async () => {
    const nx = await kdig(`hmac-sha256:ddns:${SHA256}`, '+tcp', 'missing.tsig.test', 'A');
    assert.match(nx.out, /status: NXDOMAIN/, nx.out);
    assert.doesNotMatch(nx.out, /WARNING: reply verification/, nx.out);
    const tc = await kdig(`hmac-sha256:ddns:${SHA256}`, '+notcp', '+ignore', 'big.tsig.test', 'TXT');
    assert.match(tc.out, /Flags: qr aa tc/, tc.out);
    assert.doesNotMatch(tc.out, /WARNING: reply verification/, tc.out);
    const full = await dig(`hmac-sha256:ddns:${SHA256}`, 'big.tsig.test', 'TXT');
    assert.match(full.out, /Truncated, retrying in TCP mode/, full.out);
    assert.equal((full.out.match(/padded so that/g) ?? []).length, 40, full.out);
    assert.doesNotMatch(full.out, /could not be validated|Couldn't verify/i, full.out);
  });

  test('D5 (TSIG): an unknown key gets BADKEY, a wrong secret BADSIG, both unsigned; a query without TSIG is answered as before', async () => {
    const unknown = await kdig(`hmac-sha256:nobody:${SHA256}`, 'www.tsig.test', 'A');
    assert.match(unknown.out, /status: BADKEY/, unknown.out);
    assert.match(unknown.out, /nobody\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\. \d+ 300 0 \d+ BADKEY 0/, unknown.out);
    const wrong = await kdig(`hmac-sha256:ddns:${secret()}`, 'www.tsig.test', 'A');
    assert.match(wrong.out, /status: BADSIG/, wrong.out);
    assert.match(wrong.out, /ddns\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\. \d+ 300 0 \d+ BADSIG 0/, wrong.out);
    assert.doesNotMatch(wrong.out, /192\.0\.2\.1/, 'no answer data with a bad signature');
    const algo = await kdig(`hmac-sha512:ddns:${SHA256}`, 'www.tsig.test', 'A');
    assert.match(algo.out, /status: BADKEY/, `a known name with another algorithm is not that key:\n${algo.out}`);
    const plain = await runTool('kdig', [`@127.0.0.1`, '-p', String(port), '+time=2', '+retry=0', '+short', 'www.tsig.test', 'A']);
    assert.equal(plain.out.trim(), '192.0.2.1');
  });

  test('D5 (TSIG): a client clock an hour behind gets BADTIME, signed (kdig verifies it), with our time in Other Data', async () => {
    const r = await runTool('faketime', ['-f', '-1h', 'kdig', `@127.0.0.1`, '-p', String(port), '+time=2', '+retry=0', '-y', `hmac-sha256:ddns:${SHA256}`, 'www.tsig.test', 'A']);
    assert.match(r.out, /status: BADTIME/, r.out);
    // kdig checked the MAC; it only objects that our time is outside its (skewed) window.
    assert.match(r.out, /TSIG out of time window/, r.out);
    const m = /ddns\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\. (\d+) 300 32 \S+ \d+ BADTIME 6 (\d+)/.exec(r.out);
    assert.ok(m, r.out);
    const now = Date.now() / 1000;
    assert.ok(Math.abs(Number(m[2]) - now) < 30, `Other Data ${m[2]} is our time (now ${now.toFixed(0)})`);
    assert.ok(Math.abs(Number(m[1]) - (now - 3600)) < 30, `Time Signed ${m[1]} is the request's`);
  });

  test('D5 (TSIG): a reload with a new secret puts it in force: the old one gets BADSIG, the new one its signed answer', async () => {
    const file = path.join(dir, 'waymark.yaml');
    const fresh = secret();
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(SHA256, fresh));
    waymark!.proc.kill('SIGHUP');
    let r = await kdig(`hmac-sha256:ddns:${fresh}`, 'www.tsig.test', 'A');
    for (const until = Date.now() + 5000; !/status: NOERROR/.test(r.out) && Date.now() < until;) {
      await new Promise((res) => setTimeout(res, 100));
      r = await kdig(`hmac-sha256:ddns:${fresh}`, 'www.tsig.test', 'A');
    }
    assert.match(r.out, /status: NOERROR/, r.out);
    assert.doesNotMatch(r.out, /WARNING: reply verification/, r.out);
    const old = await kdig(`hmac-sha256:ddns:${SHA256}`, 'www.tsig.test', 'A');
    assert.match(old.out, /status: BADSIG/, old.out);
    assert.ok(!waymark!.stdout.join('').includes(fresh) && !waymark!.stderr.join('').includes(fresh), 'the secret is not logged');
  });
});
