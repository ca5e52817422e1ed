// Zones of provider size through the real CLI: a generated 200,000-record master file is served and answered at its
// first, middle and last names, a missing name and a wildcard; large malformed files (a bad line near the end, a
// line of 1 MB, deeply nested parentheses, an $INCLUDE loop) each get one clear error with file and line, no crash.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnWaymark, runWaymark, freePort, tempDir, query, addresses } from '../harness.js';

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
