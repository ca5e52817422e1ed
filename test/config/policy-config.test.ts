// C1 for G1–G5: policy configuration errors name the path of the bad field; the documented examples are accepted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { parseConfigText, loadZones, compileSnapshot, loadConfigFile } from '../../src/config/load.js';
import { formatErrors } from '../../src/config/schema.js';
import { ROOT } from '../harness.js';

const ZONE = `zones: [ { origin: example.test, ns: [ns1], records: [ { name: ns1, type: A, value: 127.0.0.53 }, { name: static, type: A, value: 192.0.2.1 }, { name: alias, type: CNAME, value: ns1 }, { name: sub, type: NS, value: ns.elsewhere.test. } ] } ]`;

function errorsOf(yaml: string): string {
  const parsed = parseConfigText(`${ZONE}\n${yaml}`);
  if (!parsed.ok) return formatErrors(parsed.errors);
  const loaded = loadZones(parsed.value, ROOT, null);
  if (!loaded.ok) return formatErrors(loaded.errors);
  const snap = compileSnapshot(loaded.value, 1);
  return snap.ok ? '' : formatErrors(snap.errors);
}

test('C1: the examples in examples/ are accepted as written', () => {
  for (const f of ['examples/gslb.yaml', 'examples/demo.yaml']) {
    const loaded = loadConfigFile(path.join(ROOT, f));
    assert.ok(loaded.ok, loaded.ok ? '' : formatErrors(loaded.errors));
    const snap = compileSnapshot(loaded.value, 1);
    assert.ok(snap.ok, snap.ok ? '' : formatErrors(snap.errors));
  }
});

test('C1: unknown pools, methods and misplaced methods are named by path', () => {
  const e = errorsOf(`
names: [ { name: www.example.test, pools: [eu, nowhere], select: [round-robin, least-cpu] } ]
pools: [ { name: eu, select: [topology], members: [ { address: 127.0.1.1 } ] } ]
`);
  assert.match(e, /^names\[0\]\.pools\[1\]: unknown pool "nowhere"$/m);
  assert.match(e, /^names\[0\]\.select\[1\]: unknown method "least-cpu" \(known: .*static-stripe.*\)$/m);
  assert.match(e, /^pools\[0\]\.select\[0\]: "topology" chooses pools; use it in names\[\]\.select$/m);
});

test('C1: member fields, fallbacks and persistence schedules are validated with paths', () => {
  const e = errorsOf(`
names:
  - { name: www.example.test, pools: [eu], fallback: { address: 10.0.0.300 }, persistence: { ttl: soon, schedule: [ { from: "25:00", to: "20:00", ttl: 1m } ] } }
pools:
  - { name: eu, members: [ { address: 127.0.1.300, weight: -1 }, { address: 127.0.1.1, port: 70000 } ] }
`);
  assert.match(e, /^pools\[0\]\.members\[0\]\.address: "127\.0\.1\.300" is not an IPv4 or IPv6 address$/m);
  assert.match(e, /^pools\[0\]\.members\[0\]\.weight: /m);
  assert.match(e, /^pools\[0\]\.members\[1\]\.port: /m);
  assert.match(e, /^names\[0\]\.fallback\.address: "10\.0\.0\.300" is not an IPv4 or IPv6 address$/m);
  assert.match(e, /^names\[0\]\.persistence\.ttl: "soon" is not a duration/m);
  assert.match(e, /^names\[0\]\.persistence\.schedule\[0\]\.from: "25:00" is not a time of day HH:MM$/m);
});

test('C1: topology and resolver-group mistakes are named by path', () => {
  const e = errorsOf(`
names: [ { name: www.example.test, pools: [eu] } ]
pools: [ { name: eu, members: [ { address: 127.0.1.1 } ] } ]
topology:
  regions: [ { name: europe, cidrs: [10.1.0.0/33] } ]
  rules: [ { from: "region:asia", to: "pool:eu" }, { from: 10.0.0.0/8, to: "pool:mars" } ]
resolverGroups: [ { name: isp, members: [not-an-address] } ]
`);
  assert.match(e, /^topology\.regions\[0\]\.cidrs\[0\]: /m);
  assert.match(e, /^topology\.rules\[0\]\.from: .*region:asia/m);
  assert.match(e, /^topology\.rules\[1\]\.to: unknown pool "mars"$/m);
  assert.match(e, /^resolverGroups\[0\]\.members\[0\]: /m);
});

test('C1: policy names must be inside a served zone and not clash with static A/AAAA, CNAMEs or delegations', () => {
  const e = errorsOf(`
names:
  - { name: www.example.org, pools: [eu] }
  - { name: static.example.test, pools: [eu] }
  - { name: alias.example.test, pools: [eu] }
  - { name: host.sub.example.test, pools: [eu] }
  - { name: www.example.test, pools: [eu] }
  - { name: WWW.example.test., pools: [eu] }
pools: [ { name: eu, members: [ { address: 127.0.1.1 } ] }, { name: eu, members: [ { address: 127.0.1.2 } ] } ]
`);
  assert.match(e, /^pools\[1\]\.name: duplicate pool "eu"/m);
  assert.match(e, /^names\[5\]\.name: duplicate name WWW\.example\.test/m);
  const e2 = errorsOf(`
names:
  - { name: www.example.org, pools: [eu] }
  - { name: static.example.test, pools: [eu] }
  - { name: alias.example.test, pools: [eu] }
  - { name: host.sub.example.test, pools: [eu] }
pools: [ { name: eu, members: [ { address: 127.0.1.1 } ] } ]
`);
  assert.match(e2, /^names\[0\]\.name: www\.example\.org is not inside any zone served here \(zones: example\.test\)$/m);
  assert.match(e2, /^names\[1\]\.name: static\.example\.test also has static A\/AAAA records/m);
  assert.match(e2, /^names\[2\]\.name: alias\.example\.test is a CNAME/m);
  assert.match(e2, /^names\[3\]\.name: host\.sub\.example\.test is at or below the delegation sub\.example\.test$/m);
});

test('C1/H1: the monitor configuration from the design issue is accepted as written', () => {
  const e = errorsOf(`
monitors:
  - { name: web, type: http, path: /health, expect: { status: [200], body: "ok" }, interval: 1s, timeout: 500ms, rise: 2, fall: 2 }
  - { name: port, type: tcp, port: 8080, interval: 1s, timeout: 300ms }
names: [ { name: www.example.test, pools: [eu, us] } ]
pools:
  - name: eu
    monitor: web                  # or: monitors: [web, port], rule: all | { atLeast: 1 }
    members: [{ address: 127.0.1.1, port: 8080 }]
  - name: us
    monitors: [web, port]
    rule: { atLeast: 1 }
    members: [{ address: 127.0.2.1, port: 8080, probe: { address: 127.0.9.1, port: 9000 } }]
`);
  assert.equal(e, '');
});

test('C1/H1: monitor mistakes are named by path', () => {
  const e = errorsOf(`
monitors:
  - { name: web, type: http, interval: 500ms }
  - { name: slow, type: tcp, interval: 1s, timeout: 2s }
  - { name: web, type: tcp }
  - { name: banner, type: tcp-send-expect, expect: "(unclosed" }
  - { name: odd, type: ftp }
names: [ { name: www.example.test, pools: [eu] } ]
pools: [ { name: eu, monitors: [slow, nothere], rule: { atLeast: 3 }, members: [ { address: 127.0.1.1 } ] } ]
`);
  assert.match(e, /^monitors\[0\]\.interval: "500ms" is too short; use at least 1s$/m);
  assert.match(e, /^monitors\[4\]\.type: /m);
  const e2 = errorsOf(`
monitors:
  - { name: slow, type: tcp, interval: 1s, timeout: 2s }
  - { name: slow, type: tcp }
  - { name: banner, type: tcp-send-expect, expect: "(unclosed" }
names: [ { name: www.example.test, pools: [eu] } ]
pools: [ { name: eu, monitors: [slow, nothere], rule: { atLeast: 3 }, members: [ { address: 127.0.1.1 } ] } ]
health: { replicas: 2, quorum: 3 }
`);
  assert.match(e2, /^monitors\[0\]\.timeout: must be shorter than interval \(1000 ms\)$/m);
  assert.match(e2, /^monitors\[1\]\.name: duplicate monitor "slow" \(also monitors\[0\]\)$/m);
  assert.match(e2, /^monitors\[2\]\.expect: not a regular expression/m);
  assert.match(e2, /^pools\[0\]\.monitors\[1\]: unknown monitor "nothere"$/m);
  assert.match(e2, /^pools\[0\]\.rule\.atLeast: 3 is more than the 2 monitor\(s\) of this pool$/m);
  assert.match(e2, /^health\.quorum: 3 is more than health\.replicas \(2\)$/m);
});
