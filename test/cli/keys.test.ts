// TSIG keys in the configuration (issue 12): checked like any field, and their secrets never shown, in errors or
// in `waymark export`, through the real CLI.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { runWaymark, tempDir } from '../harness.js';

const dir = tempDir('waymark-keys-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const ZONE = 'zones:\n  - origin: keys.test\n    records: [{ name: www, type: A, value: 192.0.2.1 }]\n';

function write(name: string, keys: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `keys:\n${keys}${ZONE}`);
  return file;
}

test('D5 (TSIG): `waymark export` shows keys by name and algorithm, never their secret', async () => {
  const secret = crypto.randomBytes(32).toString('base64');
  const file = write('ok.yaml', `  - { name: ddns, algorithm: hmac-sha256, secret: "${secret}" }\n`);
  const r = await runWaymark(['export', '--config', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /name: ddns/);
  assert.match(r.stdout, /algorithm: hmac-sha256/);
  assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), 'the secret is not in the export');
  assert.match(r.stdout, /secret not shown/);
});

test('D5 (TSIG): a bad key is refused naming the field, without echoing the secret; two keys of one name are refused', async () => {
  const bad = 'not base64 at all!!';
  const r = await runWaymark(['check', '--config', write('bad.yaml', `  - { name: ddns, algorithm: hmac-sha256, secret: "${bad}" }\n  - { name: x, algorithm: hmac-sha3, secret: "AAAA" }\n`)]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /keys\[0\]\.secret/);
  assert.match(r.stderr, /base64/);
  assert.ok(!r.stderr.includes(bad), `the secret is not echoed:\n${r.stderr}`);
  assert.match(r.stderr, /keys\[1\]\.algorithm/);
  assert.match(r.stderr, /hmac-sha256/, 'the algorithms there are are listed');
  const twice = await runWaymark(['check', '--config', write('twice.yaml', '  - { name: ddns, algorithm: hmac-sha256, secret: "AAAA" }\n  - { name: DDNS., algorithm: hmac-sha1, secret: "AAAA" }\n')]);
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /keys\[1\]\.name.*a second key named DDNS\./);
});

test('D3/D5: update and transfer rules are checked by field: a key keys: does not list, a rule for nobody, a bad type, a bad address', async () => {
  const file = path.join(dir, 'rules.yaml');
  fs.writeFileSync(file, `keys:\n  - { name: ddns, algorithm: hmac-sha256, secret: "AAAA" }\nzones:\n  - origin: keys.test\n    records: [{ name: www, type: A, value: 192.0.2.1 }]\n    update:\n      - { key: ddns, types: [A] }\n      - { key: [ddns, missing], types: [A] }\n    transfer: [{ key: xfr }]\n`);
  const r = await runWaymark(['check', '--config', file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /zones\[0\]\.update\[1\]\.key\[1\].*missing.*names no key of keys:/);
  assert.match(r.stderr, /zones\[0\]\.transfer\[0\]\.key.*xfr/);
  assert.doesNotMatch(r.stderr, /update\[0\]/, 'the good rule is not blamed');
  fs.writeFileSync(file, `zones:\n  - origin: keys.test\n    records: [{ name: www, type: A, value: 192.0.2.1 }]\n    update:\n      - { types: [A] }\n      - { from: 10.0.0.0/33, types: [AAAA] }\n      - { from: 10.0.0.0/8, types: [BOGUS] }\n    serial: weekly\n`);
  const s = await runWaymark(['check', '--config', file]);
  assert.equal(s.code, 1);
  assert.match(s.stderr, /zones\[0\]\.update\[0\].*no key, no update/);
  assert.match(s.stderr, /zones\[0\]\.update\[1\]\.from.*CIDR/);
  assert.match(s.stderr, /zones\[0\]\.update\[2\]\.types\[0\].*record type/);
  assert.match(s.stderr, /zones\[0\]\.serial/);
});
