// Zones of provider size through the real CLI: a generated 200,000-record master file is served and answered at its
// first, middle and last names, a missing name and a wildcard; large malformed files (a bad line near the end, a
// line of 1 MB, deeply nested parentheses, an $INCLUDE loop) each get one clear error with file and line, no crash.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnWaymark, runWaymark, freePort, tempDir, query, addresses, udpExchange, buildQuery } from '../harness.js';

const RECORDS = 200_000;
const dir = tempDir('waymark-large-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const HEAD = (origin: string): string => `$ORIGIN ${origin}.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 604800 60\n@ IN NS ns1\nns1 IN A 127.0.0.53\n`;
const address = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

/** A master file of `n` A records h0 … h(n-1) (and a wildcard), written in chunks; `tail` is appended. */
function writeZone(file: string, origin: string, n: number, tail = ''): void {
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, `${HEAD(origin)}*.wild IN A 127.0.9.9\n`);
  let chunk = '';
  for (let i = 0; i < n; i++) {
    chunk += `h${i} IN A ${address(i)}\n`;
    if (chunk.length > 1 << 20) { fs.writeSync(fd, chunk); chunk = ''; }
  }
  fs.writeSync(fd, chunk + tail);
  fs.closeSync(fd);
}

test(`D2: a ${RECORDS.toLocaleString()}-record zone is served: first, middle and last names, a missing name, a wildcard`, async () => {
  const zone = path.join(dir, 'big.zone');
  writeZone(zone, 'big.test', RECORDS);
  const port = await freePort();
  const w = await spawnWaymark(['serve', '--zone', zone, '--listen', `127.0.0.1:${port}`, '--workers', '1'], { timeoutMs: 120_000 });
  try {
    for (const i of [0, RECORDS >> 1, RECORDS - 1]) assert.deepEqual(addresses(await query(port, `h${i}.big.test`)), [address(i)], `h${i}`);
    const missing = await query(port, 'nothere.big.test');
    assert.equal(missing.rcode, 'NXDOMAIN');
    assert.equal(missing.authorities?.[0]?.type, 'SOA');
    assert.deepEqual(addresses(await query(port, 'any.thing.wild.big.test')), ['127.0.9.9']);
  } finally {
    await w.stop();
  }
});

/** Image files of at least `min` bytes in `dir`: a large zone's image is one of them. */
function bigImages(dir: string, min = 1 << 20): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.wmi') && fs.statSync(path.join(dir, f)).size >= min).sort();
}

/** Ask `name` until every one of `streak` queries in a row gives `want` (every worker has the change), within 30 s. */
async function answeredEverywhere(port: number, name: string, want: (r: Awaited<ReturnType<typeof query>>) => boolean, streak = 24): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (let run = 0; run < streak;) {
    assert.ok(Date.now() < deadline, `${name} not answered as expected by every worker within 30 s`);
    run = want(await query(port, name)) ? run + 1 : 0;
  }
}

test('C1/D1 (issue 10): records added to and removed from a 200,000-record zone through the API reach every worker under load, laid over its image', async () => {
  const zone = path.join(dir, 'edit.zone');
  writeZone(zone, 'edit.test', RECORDS);
  const port = await freePort();
  const apiPort = await freePort();
  const boot = 'bootstrap-token-for-large-zone-tests-01';
  const cfg = path.join(dir, 'edit.yaml');
  fs.writeFileSync(cfg, `server: { listen: ["127.0.0.1:${port}"], workers: 2, rrl: { enabled: false } }\nstore: { path: ./edit-state }\napi: { listen: "127.0.0.1:${apiPort}" }\nzones:\n  - file: edit.zone\n  - { origin: small.test, ns: [ns1], records: [{ name: ns1, type: A, value: 127.0.0.53 }] }\n`);
  const w = await spawnWaymark(['serve', '--config', cfg], { env: { WAYMARK_BOOTSTRAP_TOKEN: boot }, timeoutMs: 120_000 });
  const api = (method: string, url: string, body?: unknown): Promise<Response> => fetch(`http://127.0.0.1:${apiPort}${url}`, {
    method, headers: { authorization: `Bearer ${boot}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const images = path.join(dir, 'edit-state', 'images');
  // Queries flow the whole time (one every 2 ms); every one must be answered on its first try.
  let stop = false;
  let sent = 0;
  let unanswered = 0;
  const load = (async () => {
    while (!stop && sent < 20_000) {
      const i = sent++;
      void udpExchange(port, buildQuery(`h${i % RECORDS}.edit.test`, { id: i & 0xffff }), { timeoutMs: 1500 }).then((r) => { if (!r) unanswered++; });
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  // The load runs before, during and after the changes (they take milliseconds: it would barely have started).
  const queriesSent = async (n: number): Promise<void> => { while (sent < n) await new Promise((r) => setTimeout(r, 20)); };
  try {
    await queriesSent(200);
    const before = bigImages(images);
    assert.equal(before.length, 1, 'the zone has one image file');
    // Changes to another zone first: the large zone is reused as it is, and stays what later changes lay over.
    for (const name of ['www', 'www2']) {
      const other = await api('POST', '/v1/zones/small.test/records', { name, type: 'A', value: '192.0.2.80' });
      assert.equal(other.status, 201, await other.text());
      await answeredEverywhere(port, `${name}.small.test`, (r) => addresses(r)[0] === '192.0.2.80');
    }
    const added = await api('POST', '/v1/zones/edit.test/records', { name: 'new', type: 'A', value: '192.0.2.77' });
    assert.equal(added.status, 201, await added.text());
    await answeredEverywhere(port, 'new.edit.test', (r) => addresses(r)[0] === '192.0.2.77');
    const wild = await api('POST', '/v1/zones/edit.test/records', { name: '*.w', type: 'TXT', value: '"laid over"' });
    assert.equal(wild.status, 201, await wild.text());
    await answeredEverywhere(port, 'x.y.w.edit.test', (r) => r.rcode === 'NOERROR' && (r.answers ?? []).length === 0 && r.authorities?.[0]?.type === 'SOA');
    const removed = await api('DELETE', '/v1/zones/edit.test/records?name=new&type=A');
    assert.equal(removed.status, 200, await removed.text());
    await answeredEverywhere(port, 'new.edit.test', (r) => r.rcode === 'NXDOMAIN');
    // The file's records still answer, and the zone's image was not compiled and written again.
    for (const i of [0, RECORDS >> 1, RECORDS - 1]) assert.deepEqual(addresses(await query(port, `h${i}.edit.test`)), [address(i)], `h${i}`);
    assert.deepEqual(bigImages(images), before, 'the changes were overlays: no new image of the whole zone');
    await queriesSent(sent + 200);
  } finally {
    stop = true;
    await load;
    await new Promise((r) => setTimeout(r, 1600));
    await w.stop();
  }
  assert.ok(sent >= 400, `the load ran (${sent} queries)`);
  assert.equal(unanswered, 0, `${unanswered} of ${sent} queries went unanswered while the zone changed`);
});

/** `waymark check --zone FILE`: exit 1 and exactly the expected error lines (each FILE:LINE: …). */
async function rejects(file: string, expected: RegExp[]): Promise<void> {
  const r = await runWaymark(['check', '--zone', file]);
  assert.equal(r.code, 1, r.stdout);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, expected.length, r.stderr.slice(0, 2000));
  expected.forEach((re, i) => assert.match(lines[i]!, re));
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+|RangeError|Maximum call stack/, 'an error, not a crash');
}

test('D2/C1: a bad line at the end of a 200,000-record file is reported with its file and line', async () => {
  const zone = path.join(dir, 'bad-end.zone');
  writeZone(zone, 'bad.test', RECORDS, 'last IN A 10.0.0.300\n');
  await rejects(zone, [new RegExp(`bad-end\\.zone:${RECORDS + 7}: "10\\.0\\.0\\.300" is not an IPv4 address$`)]);
});

test('D2/C1: a line of 1 MB (a TXT record too long for any message) is one clear error', async () => {
  const zone = path.join(dir, 'long-line.zone');
  fs.writeFileSync(zone, `${HEAD('long.test')}t IN TXT ${`"${'a'.repeat(200)}" `.repeat(5000)}\n`);
  await rejects(zone, [/long-line\.zone:6: TXT rdata would be 1005000 bytes; a record holds at most 65535$/]);
});

test('D2/C1: deeply nested parentheses are one error at the line they open, no stack overflow', async () => {
  const zone = path.join(dir, 'nested.zone');
  fs.writeFileSync(zone, `${HEAD('nest.test')}t IN TXT ${'('.repeat(100_000)}"x"${')'.repeat(100_000)}\n`);
  await rejects(zone, [/nested\.zone:6: nested "\(" inside the group opened at line 6: parentheses do not nest$/]);
});

test('D2/C1: an $INCLUDE loop is one error naming the loop, not a repeat of the including file', async () => {
  const a = path.join(dir, 'loop-a.zone');
  const b = path.join(dir, 'loop-b.zone');
  fs.writeFileSync(a, `${HEAD('loop.test')}$INCLUDE loop-b.zone\n`);
  fs.writeFileSync(b, 'x IN A 10.0.0.1\n$INCLUDE loop-a.zone\n');
  await rejects(a, [/loop-b\.zone:2: \$INCLUDE loop: "loop-a\.zone" is already being read \(.*loop-a\.zone → .*loop-b\.zone → .*loop-a\.zone\)$/]);
  const self = path.join(dir, 'self.zone');
  fs.writeFileSync(self, `${HEAD('self.test')}$INCLUDE self.zone\n`);
  await rejects(self, [/self\.zone:6: \$INCLUDE loop: "self\.zone" is this file/]);
});
