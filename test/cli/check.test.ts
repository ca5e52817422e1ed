// C1/D2 configuration errors through the real CLI: `waymark check --config FILE` spawned as a process, run from the
// directory holding the files so they are named as the operator wrote them. One error format everywhere:
// LOCATION: ["VALUE" ]PROBLEM[; EXPECTED] (src/config/errors.ts); every error at once; no cascades from one cause.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { runWaymark, tempDir } from '../harness.js';

const SOA_ZONE = '$ORIGIN z.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 604800 60\n@ IN NS ns1\nns1 IN A 192.0.2.53\n';

/** Write `files` into a fresh directory, run `waymark check --config waymark.yaml` there; its stderr lines. */
async function check(files: Record<string, string>): Promise<{ code: number | null; lines: string[]; stdout: string }> {
  const dir = tempDir();
  try {
    for (const [name, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), text);
    }
    const r = await runWaymark(['check', '--config', 'waymark.yaml'], { cwd: dir });
    return { code: r.code, lines: r.stderr.split('\n').filter((l) => l !== ''), stdout: r.stdout };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('C1: a bad field is reported as FILE: FIELD: "VALUE" problem, the value shown as written', async () => {
  const r = await check({
    'waymark.yaml': 'pools:\n  - name: a\n    members: [ { address: 192.0.2.1 } ]\n  - name: b\n    members: [ { address: 127.0.0.300 } ]\n',
  });
  assert.equal(r.code, 1);
  assert.deepEqual(r.lines, ['waymark.yaml: pools[1].members[0].address: "127.0.0.300" is not an IPv4 or IPv6 address']);
});

test('C1: built-in checks say the value and what would be valid (ranges, choices)', async () => {
  const r = await check({ 'waymark.yaml': 'server: { workers: 0, udpTransport: dgarm, listen: ["127.0.0.1:99999"] }\n' });
  assert.equal(r.code, 1);
  assert.deepEqual(r.lines.sort(), [
    'waymark.yaml: server.listen[0]: "127.0.0.1:99999" is not ADDRESS:PORT (e.g. 127.0.0.1:5300 or [::1]:5300)',
    'waymark.yaml: server.udpTransport: "dgarm" is not one of "auto", "batched", "dgram"; did you mean "dgram"?',
    'waymark.yaml: server.workers: 0 is too small; use at least 1',
  ]);
});

test('C1: an unknown key gets "did you mean" from the keys allowed in that object', async () => {
  const r = await check({
    'waymark.yaml': [
      'server: { workres: 2 }',
      'monitors: [ { name: web, type: http, pth: /health } ]',
      'pools: [ { name: a, members: [ { address: 192.0.2.1, wieght: 2 } ] } ]',
      'zonez: []',
      '',
    ].join('\n'),
  });
  assert.equal(r.code, 1);
  assert.deepEqual(r.lines.sort(), [
    'waymark.yaml: monitors[0].pth: unknown key; did you mean "path"?',
    'waymark.yaml: pools[0].members[0].wieght: unknown key; did you mean "weight"?',
    'waymark.yaml: server.workres: unknown key; did you mean "workers"?',
    'waymark.yaml: zonez: unknown key; did you mean "zones"?',
  ]);
});

test('C1: a missing zone file is named by its field and the path as written, not "line 0"', async () => {
  const r = await check({ 'waymark.yaml': 'zones:\n  - file: zones/missing.zone\n' });
  assert.equal(r.code, 1);
  assert.deepEqual(r.lines, ['waymark.yaml: zones[0].file: cannot read "zones/missing.zone": no such file']);
});

test('C1/D2: a zone-file error is FILE:LINE with the value, in the file that has the line ($INCLUDE too)', async () => {
  const r = await check({
    'waymark.yaml': 'zones:\n  - file: zones/z.zone\n',
    'zones/z.zone': `${SOA_ZONE}www IN A 1.2.3\n$INCLUDE hosts.zone\n`,
    'zones/hosts.zone': 'ok IN A 192.0.2.7\nmail IN A 10.0.0.300\n',
  });
  assert.equal(r.code, 1);
  assert.deepEqual(r.lines, ['zones/z.zone:6: "1.2.3" is not an IPv4 address', 'zones/hosts.zone:2: "10.0.0.300" is not an IPv4 address']);
});

test('C1/D2: an unclosed parenthesis is one error at the line it opened, with no "zone has no SOA record" after it', async () => {
  const r = await check({
    'waymark.yaml': 'zones:\n  - file: paren.zone\n',
    'paren.zone': '$ORIGIN p.test.\n$TTL 300\n@ IN SOA ns1 hostmaster ( 1 3600 600 604800 60\n@ IN NS ns1\nns1 IN A 192.0.2.53\n',
  });
  assert.equal(r.code, 1);
  assert.deepEqual(r.lines, ['paren.zone:3: "(" is never closed by a matching ")"']);
});

test('C1: a YAML syntax error is printed once, at FILE:LINE:COLUMN, with no dangling colon', async () => {
  const r = await check({ 'waymark.yaml': 'server:\n  listen: [127.0.0.1:5300\nzones: []\n' });
  assert.equal(r.code, 1);
  assert.equal(r.lines.length, 1, r.lines.join('\n'));
  assert.match(r.lines[0]!, /^waymark\.yaml:3:1: YAML syntax error: flow sequence .*\]$/);
  // Several parser complaints about one spot are one error too.
  const r2 = await check({ 'waymark.yaml': 'a:\n  - x\n - y\n' });
  assert.equal(r2.lines.length, 1, r2.lines.join('\n'));
  assert.match(r2.lines[0]!, /^waymark\.yaml:3:1: YAML syntax error: [^\n]*[^:]$/);
});

test('C1: every error at once: schema errors, a bad inline record and zone-file errors in one run', async () => {
  const r = await check({
    'waymark.yaml': [
      'server: { workers: 0 }',
      'zones:',
      '  - file: zones/missing.zone',
      '  - file: zones/z.zone',
      '  - origin: r.test',
      '    records:',
      '      - { name: www, type: A, ttl: -1, value: "1.2.3" }',
      'pools: [ { name: b, members: [ { address: 127.0.0.300 } ] } ]',
      '',
    ].join('\n'),
    'zones/z.zone': `${SOA_ZONE}www IN A 10.0.0.300\n`,
  });
  assert.equal(r.code, 1);
  assert.deepEqual(r.lines.sort(), [
    'waymark.yaml: pools[0].members[0].address: "127.0.0.300" is not an IPv4 or IPv6 address',
    'waymark.yaml: server.workers: 0 is too small; use at least 1',
    'waymark.yaml: zones[0].file: cannot read "zones/missing.zone": no such file',
    'waymark.yaml: zones[2].records[0].ttl: -1 is too small; use at least 0',
    'waymark.yaml: zones[2].records[0].value: "1.2.3" is not an IPv4 address',
    'zones/z.zone:6: "10.0.0.300" is not an IPv4 address',
  ]);
});

test('C1/D2: quick start (`check --zone FILE`): a missing zone file is named as given, with no YAML path', async () => {
  const dir = tempDir();
  try {
    const r = await runWaymark(['check', '--zone', 'missing.zone'], { cwd: dir });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'missing.zone: cannot read the zone file: no such file\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('C1: a configuration file that cannot be read is named with the reason', async () => {
  const dir = tempDir();
  try {
    const r = await runWaymark(['check', '--config', 'no-such.yaml'], { cwd: dir });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'no-such.yaml: cannot read the configuration: no such file\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('C1: a reference to an undefined pool, monitor or method suggests the nearest defined one', async () => {
  const r = await check({
    'waymark.yaml': [
      'zones: [ { origin: t.test } ]',
      'monitors: [ { name: web, type: tcp } ]',
      'pools: [ { name: europe, monitor: wbe, select: [round-robbin], members: [ { address: 192.0.2.1 } ] } ]',
      'names: [ { name: www.t.test, pools: [eruope] } ]',
      '',
    ].join('\n'),
  });
  assert.equal(r.code, 1);
  assert.deepEqual(r.lines.sort(), [
    'waymark.yaml: names[0].pools[0]: unknown pool "eruope"; did you mean "europe"?',
    'waymark.yaml: pools[0].monitor: unknown monitor "wbe"; did you mean "web"?',
    'waymark.yaml: pools[0].select[0]: unknown method "round-robbin"; did you mean "round-robin"?',
  ]);
});
