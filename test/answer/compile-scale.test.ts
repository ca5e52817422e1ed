// G1 at provider scale (issue 10): what the policy compilation shares instead of building per name or member, the
// supervisor's compilation without answer RRsets, the lookups by pool, member and name, and the home zone of a name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText, loadZones, compileSnapshot } from '../../src/config/load.js';
import { homeZone } from '../../src/dns/zone.js';
import { compilePolicy, withoutAnswers } from '../../src/answer/compile.js';
import { memberIndexOf, nameIndexOf, familyMembers } from '../../src/answer/policy.js';
import { formatErrors, type Config } from '../../src/config/schema.js';
import { ROOT } from '../harness.js';

function config(yaml: string): Config {
  const parsed = parseConfigText(yaml);
  assert.ok(parsed.ok, parsed.ok ? '' : formatErrors(parsed.errors));
  return parsed.value;
}

const SHARED = `
names:
  - { name: a.example.test, pools: [eu] }
  - { name: b.example.test, pools: [eu] }
  - { name: c.example.test, pools: [eu], ttl: 60 }
  - { name: d.example.test, pools: [us, eu], select: [topology, global-availability] }
pools:
  - { name: eu, members: [ { address: 192.0.2.1 }, { address: "2001:db8::1", port: 8443 } ] }
  - { name: us, select: [ratio], members: [ { address: 192.0.2.9, metrics: { rtt: 12 } } ] }
`;

test('G1: names using one pool with one TTL share its answer RRsets; another TTL gets its own', () => {
  const p = compilePolicy(config(SHARED));
  assert.ok(p.ok);
  const [a, b, c, d] = p.policy.names;
  assert.equal(a!.poolRRsets[0], b!.poolRRsets[0], 'same pool, same TTL: one RRset list');
  assert.notEqual(a!.poolRRsets[0], c!.poolRRsets[0]);
  assert.equal(c!.poolRRsets[0]![0]!.ttl, 60);
  assert.equal(a!.poolRRsets[0]![1]!.type, 28, 'AAAA for the IPv6 member');
  assert.equal(d!.poolRRsets[1], a!.poolRRsets[0], 'eu in second place still shares');
  assert.equal(a!.select, b!.select, 'equal method chains are one array');
  assert.equal(a!.fallback, b!.fallback, 'the default fallback is shared');
});

test('G1: members without configured metrics share one all-unknown array; pools list members by family', () => {
  const p = compilePolicy(config(SHARED));
  assert.ok(p.ok);
  const [m1, m2, m3] = p.policy.members;
  assert.equal(m1!.metrics, m2!.metrics);
  assert.ok(m1!.metrics.every((v) => Number.isNaN(v)));
  assert.notEqual(m3!.metrics, m1!.metrics);
  assert.equal(m3!.metrics[3], 12, 'rtt as configured');
  const eu = p.policy.pools[0]!;
  assert.deepEqual(familyMembers(eu, 4).map((m) => m.address), ['192.0.2.1']);
  assert.deepEqual(familyMembers(eu, 6).map((m) => m.address), ['2001:db8::1']);
  const us = p.policy.pools[1]!;
  assert.equal(familyMembers(us, 4), us.members, 'a one-family pool lists its members once');
  assert.equal(familyMembers(us, 6).length, 0);
  assert.deepEqual(p.policy.names[3]!.hasFamily, { 4: true, 6: true });
});

test('G1: members and names are found by pool and key, and by any spelling of the name', () => {
  const p = compilePolicy(config(SHARED));
  assert.ok(p.ok);
  assert.equal(memberIndexOf(p.policy, 'eu', '[2001:db8::1]:8443'), 1);
  assert.equal(memberIndexOf(p.policy, 'eu', '2001:db8::1'), -1, 'the key carries the port');
  assert.equal(memberIndexOf(p.policy, 'us', '192.0.2.9'), 2);
  assert.equal(memberIndexOf(p.policy, 'nowhere', '192.0.2.9'), -1);
  assert.equal(nameIndexOf(p.policy, 'D.Example.Test.'), 3);
  assert.equal(nameIndexOf(p.policy, 'e.example.test'), -1);
  assert.equal(nameIndexOf(p.policy, 'a..b'), -1, 'not a name at all');
});

test('G1: compiled without answers (the supervisor), a policy checks the same and differs only in its RRsets', () => {
  const c = config(SHARED);
  const full = compilePolicy(c);
  const light = compilePolicy(c, { answers: false });
  assert.ok(full.ok && light.ok);
  assert.ok(light.policy.names.every((n) => n.poolRRsets.length === 0));
  assert.deepEqual(light.policy.names.map((n) => [n.name, n.pools.map((p) => p.name)]), full.policy.names.map((n) => [n.name, n.pools.map((p) => p.name)]));
  const stripped = withoutAnswers(full.policy);
  assert.ok(stripped.names.every((n) => n.poolRRsets.length === 0));
  assert.equal(stripped.members, full.policy.members);
  assert.equal(withoutAnswers(light.policy), light.policy, 'nothing to strip: the same policy');
  const bad = compilePolicy(config(`names: [ { name: x.example.test, pools: [nope] } ]`), { answers: false });
  assert.ok(!bad.ok && /unknown pool "nope"/.test(formatErrors(bad.errors)));
});

test('G1: a policy name lives in the most specific served zone, found label by label', () => {
  const origins = new Map([['example.test', 0], ['sub.example.test', 1], ['.', 2], ['a\\.b.example.test', 3]]);
  assert.equal(homeZone('www.sub.example.test', origins), 1);
  assert.equal(homeZone('sub.example.test', origins), 1);
  assert.equal(homeZone('www.example.test', origins), 0);
  assert.equal(homeZone('x.a\\.b.example.test', origins), 3, 'an escaped dot is part of a label');
  assert.equal(homeZone('b.example.test', origins), 0);
  assert.equal(homeZone('elsewhere.org', origins), 2, 'the root zone holds everything else');
  assert.equal(homeZone('elsewhere.org', new Map([['example.test', 0]])), -1);
});

test('G1: names are placed in nested zones whatever order the zones are listed in', () => {
  const c = config(`
zones: [ { origin: sub.example.test }, { origin: example.test } ]
names: [ { name: www.sub.example.test, pools: [eu] }, { name: www.example.test, pools: [eu] } ]
pools: [ { name: eu, members: [ { address: 192.0.2.1 } ] } ]
`);
  const loaded = loadZones(c, ROOT, null);
  assert.ok(loaded.ok);
  const snap = compileSnapshot(loaded.value, 1);
  assert.ok(snap.ok, snap.ok ? '' : formatErrors(snap.errors));
  assert.equal(snap.value.node('www.sub.example.test')!.zone.origin, 'sub.example.test');
  assert.equal(snap.value.node('www.example.test')!.zone.origin, 'example.test');
  const placed = snap.value.node('www.sub.example.test')!;
  assert.equal(placed.zone.policies[placed.image.policySlot(placed.node)]!.name, 'www.sub.example.test');
});

test('G1: the supervisor compilation (no answer RRsets) checks zones and placement in full; defaults are shared and frozen', () => {
  const c = config(`
zones: [ { origin: example.test, records: [ { name: static, type: A, value: 192.0.2.7 } ] } ]
names: [ { name: a.example.test, pools: [eu] }, { name: b.example.test, pools: [eu] } ]
pools: [ { name: eu, members: [ { address: 192.0.2.1 } ] }, { name: us, members: [ { address: 192.0.2.2 } ] } ]
`);
  assert.equal(c.names[0]!.select, c.names[1]!.select);
  assert.ok(Object.isFrozen(c.pools[0]!.select) && c.pools[0]!.select === c.pools[1]!.select);
  assert.throws(() => { (c.names[0]!.select as string[]).push('ratio'); }, TypeError, 'a shared default cannot be changed through one entry');
  const loaded = loadZones(c, ROOT, null);
  assert.ok(loaded.ok);
  const light = compileSnapshot(loaded.value, 1, { answers: false });
  assert.ok(light.ok);
  assert.equal(light.value.zones.length, 1);
  assert.equal(light.value.policy!.names.length, 2);
  const clash = config(`
zones: [ { origin: example.test, records: [ { name: static, type: A, value: 192.0.2.7 } ] } ]
names: [ { name: static.example.test, pools: [eu] } ]
pools: [ { name: eu, members: [ { address: 192.0.2.1 } ] } ]
`);
  const l2 = loadZones(clash, ROOT, null);
  assert.ok(l2.ok);
  const bad = compileSnapshot(l2.value, 1, { answers: false });
  assert.ok(!bad.ok && /also has static A\/AAAA records/.test(formatErrors(bad.errors)), 'placement is still checked');
});
