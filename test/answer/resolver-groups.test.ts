// Resolver groups (SPEC G5): listed groups (longest prefix wins), automatic prefix grouping, subnet keys, key ranges,
// describe() texts and configuration errors with their paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseAddress } from '../../src/net/address.js';
import { compileResolverGroups, ResolverGroups, type ResolverGroupsConfig } from '../../src/answer/resolver-groups.js';

function compile(cfg: Partial<ResolverGroupsConfig>): ResolverGroups {
  const r = compileResolverGroups({ groups: cfg.groups ?? [], ...(cfg.auto ? { auto: cfg.auto } : {}) });
  if (!r.ok) assert.fail(`unexpected errors: ${JSON.stringify(r.errors)}`);
  return r.groups;
}

function errorsOf(cfg: Partial<ResolverGroupsConfig>): Array<{ path: string; message: string }> {
  const r = compileResolverGroups({ groups: cfg.groups ?? [], ...(cfg.auto ? { auto: cfg.auto } : {}) });
  assert.equal(r.ok, false);
  return r.ok ? [] : r.errors;
}

function addr(text: string): [4 | 6, Uint32Array] {
  const words = new Uint32Array(4);
  const family = parseAddress(text, words);
  assert.ok(family !== 0, `bad test address ${text}`);
  return [family, words];
}
const key = (g: ResolverGroups, a: string) => g.key(...addr(a));
const subnetKey = (g: ResolverGroups, a: string, prefix: number) => g.subnetKey(...addr(a), prefix);
const describe = (g: ResolverGroups, a: string, prefix?: number) => g.describe(...addr(a), prefix);
const groupOf = (g: ResolverGroups, a: string) => g.groupOf(...addr(a));

const LISTED: Partial<ResolverGroupsConfig> = {
  groups: [
    { name: 'isp-a', members: ['198.51.100.7', '198.51.100.8', '203.0.113.0/24', '2001:db8:a::/48'] },
    { name: 'isp-b', members: ['192.0.2.0/24', '2001:db8:b::53'] },
    { name: 'isp-c', members: ['192.0.2.77/32', '10.0.0.0/8'] },
  ],
};

test('G5: members of one listed group share a key (addresses, CIDRs, IPv4 and IPv6)', () => {
  const g = compile(LISTED);
  const k = key(g, '198.51.100.7');
  for (const a of ['198.51.100.8', '203.0.113.1', '203.0.113.254', '2001:db8:a::1', '2001:db8:a:ffff::53']) {
    assert.equal(key(g, a), k, a);
    assert.equal(groupOf(g, a), 'isp-a', a);
  }
  assert.equal(key(g, '2001:db8:b::53'), key(g, '192.0.2.1'));
});

test('G5: different listed groups have different keys, and outsiders are keyed by their address', () => {
  const g = compile(LISTED);
  const keys = new Set([key(g, '198.51.100.7'), key(g, '192.0.2.1'), key(g, '10.9.9.9')]);
  assert.equal(keys.size, 3);
  assert.notEqual(key(g, '198.51.100.9'), key(g, '198.51.100.7'));
  assert.equal(key(g, '198.51.100.9'), 0xc6336409); // the IPv4 address itself
  assert.notEqual(key(g, '2001:db8:b::54'), key(g, '2001:db8:b::53'));
  assert.notEqual(key(g, '2001:db8:b::54'), key(g, '2001:db8:b::55'));
  assert.equal(groupOf(g, '198.51.100.9'), null);
  assert.equal(groupOf(g, '2001:db8:b::54'), null);
});

test('G5: the longest listed prefix decides (a /32 of group C inside a /24 of group B → C)', () => {
  const g = compile(LISTED);
  assert.equal(groupOf(g, '192.0.2.77'), 'isp-c');
  assert.equal(groupOf(g, '192.0.2.78'), 'isp-b');
  assert.equal(key(g, '192.0.2.77'), key(g, '10.1.2.3'));
  assert.notEqual(key(g, '192.0.2.77'), key(g, '192.0.2.78'));
});

test('G5: automatic grouping puts resolvers sharing the configured prefix under one key', () => {
  const g = compile({ auto: { ipv4PrefixLength: 24, ipv6PrefixLength: 48 } });
  assert.equal(key(g, '198.51.100.7'), key(g, '198.51.100.200'));
  assert.notEqual(key(g, '198.51.100.7'), key(g, '198.51.101.7'));
  assert.equal(key(g, '2001:db8:1::1'), key(g, '2001:db8:1:ffff::2'));
  assert.notEqual(key(g, '2001:db8:1::1'), key(g, '2001:db8:2::1'));
  // A prefix key never equals the address key of the network address itself.
  const plain = compile({});
  assert.notEqual(key(g, '198.51.100.0'), key(plain, '198.51.100.0'));
  assert.notEqual(key(g, '2001:db8:1::'), key(plain, '2001:db8:1::'));
  // Only the configured family is grouped.
  const v4only = compile({ auto: { ipv4PrefixLength: 16 } });
  assert.equal(key(v4only, '10.1.2.3'), key(v4only, '10.1.200.3'));
  assert.notEqual(key(v4only, '2001:db8::1'), key(v4only, '2001:db8::2'));
});

test('G5: a listed group wins over automatic grouping', () => {
  const g = compile({ ...LISTED, auto: { ipv4PrefixLength: 16, ipv6PrefixLength: 32 } });
  assert.notEqual(key(g, '192.0.2.77'), key(g, '192.0.2.78')); // isp-c vs isp-b, though both in 192.0/16
  assert.equal(key(g, '192.0.2.78'), key(g, '2001:db8:b::53'));
  assert.notEqual(key(g, '192.0.3.1'), key(g, '192.0.2.1')); // 192.0.3.1 is auto-grouped, 192.0.2.1 is isp-b
  assert.equal(key(g, '192.0.3.1'), key(g, '192.0.200.1'));
  assert.equal(describe(g, '192.0.3.1'), 'prefix:192.0.0.0/16');
  assert.equal(describe(g, '192.0.2.1'), 'group:isp-b');
});

test('G5: subnetKey differs from key for the same address, and by prefix length', () => {
  for (const g of [compile({}), compile(LISTED), compile({ auto: { ipv4PrefixLength: 32, ipv6PrefixLength: 128 } })]) {
    assert.notEqual(subnetKey(g, '198.51.100.7', 32), key(g, '198.51.100.7'));
    assert.notEqual(subnetKey(g, '2001:db8:a::1', 128), key(g, '2001:db8:a::1'));
    assert.notEqual(subnetKey(g, '10.1.0.0', 24), key(g, '10.1.0.0'));
  }
  const g = compile(LISTED);
  assert.equal(subnetKey(g, '10.1.0.0', 24), subnetKey(g, '10.1.0.99', 24)); // host bits are ignored
  assert.notEqual(subnetKey(g, '10.1.0.0', 24), subnetKey(g, '10.1.0.0', 25));
  assert.notEqual(subnetKey(g, '10.1.0.0', 24), subnetKey(g, '10.1.1.0', 24));
  assert.equal(subnetKey(g, '2001:db8::', 56), subnetKey(g, '2001:db8:0:ff::1', 56));
  assert.notEqual(subnetKey(g, '2001:db8::', 56), subnetKey(g, '2001:db8::', 48));
  assert.notEqual(subnetKey(g, '0.0.0.0', 0), subnetKey(g, '::', 0));
});

test('G5: describe() names the address, group, prefix or subnet a key stands for', () => {
  const listed = compile(LISTED);
  const auto = compile({ auto: { ipv4PrefixLength: 24, ipv6PrefixLength: 56 } });
  assert.equal(describe(compile({}), '198.51.100.7'), '198.51.100.7');
  assert.equal(describe(compile({}), '2001:DB8:0:0::7'), '2001:db8::7');
  assert.equal(describe(listed, '203.0.113.9'), 'group:isp-a');
  assert.equal(describe(listed, '2001:db8:a::9'), 'group:isp-a');
  assert.equal(describe(auto, '198.51.100.7'), 'prefix:198.51.100.0/24');
  assert.equal(describe(auto, '2001:db8:1:2ff::1'), 'prefix:2001:db8:1:200::/56');
  assert.equal(describe(listed, '10.1.0.77', 24), 'subnet:10.1.0.0/24');
  assert.equal(describe(listed, '2001:db8:1:2ff::1', 56), 'subnet:2001:db8:1:200::/56');
  assert.equal(describe(listed, '10.1.0.77', 0), 'subnet:0.0.0.0/0');
});

test('G5: the empty groups key every resolver by its own address', () => {
  const g = ResolverGroups.empty();
  assert.equal(key(g, '0.0.0.1'), 1);
  assert.equal(groupOf(g, '10.0.0.1'), null);
  assert.equal(describe(g, '10.0.0.1'), '10.0.0.1');
  assert.notEqual(key(g, '::1'), key(g, '::2'));
});

test('G5: keys are integers in [0, 2^53) in disjoint ranges per kind', () => {
  const g = compile({ ...LISTED, auto: { ipv4PrefixLength: 24 } });
  const plain = compile({});
  const inRange = (k: number) => Number.isSafeInteger(k) && k >= 0 && k < 2 ** 53;
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), (a, b) => {
      const wa = Uint32Array.of(a, 0, 0, 0);
      const wb = Uint32Array.of(b, 0, 0, 0);
      // No listed group: same key exactly when the /24 is the same.
      if (plain.groupOf(4, wa) === null && plain.groupOf(4, wb) === null) {
        const ga = g.groupOf(4, wa);
        const gb = g.groupOf(4, wb);
        if (ga === null && gb === null) assert.equal(g.key(4, wa) === g.key(4, wb), a >>> 8 === b >>> 8);
      }
      assert.equal(plain.key(4, wa), a);
      for (const k of [g.key(4, wa), g.subnetKey(4, wa, b % 33), plain.key(4, wa)]) assert.ok(inRange(k), String(k));
      const v6 = Uint32Array.of(a, b, b ^ a, a);
      for (const k of [g.key(6, v6), g.subnetKey(6, v6, b % 129)]) {
        assert.ok(inRange(k), String(k));
        assert.ok(k >= 2 ** 52, 'IPv6 keys live in [2^52, 2^53)');
      }
    }),
    { numRuns: 2000 },
  );
});

test('G5: configuration errors name the field path', () => {
  assert.deepEqual(errorsOf({ groups: [{ name: 'a', members: ['10.0.0.1', '10.0.0.0/33'] }] }), [
    { path: 'resolverGroups[0].members[1]', message: '"10.0.0.0/33" is not an address or a CIDR' },
  ]);
  assert.deepEqual(errorsOf({ groups: [{ name: 'a', members: ['10.1.2.3/16'] }] }), [
    { path: 'resolverGroups[0].members[0]', message: '"10.1.2.3/16" has host bits set; did you mean 10.1.0.0/16?' },
  ]);
  assert.deepEqual(
    errorsOf({ groups: [{ name: 'a', members: ['10.0.0.0/8'] }, { name: 'b', members: ['192.0.2.1', '10.0.0.0/8'] }] }),
    [{ path: 'resolverGroups[1].members[1]', message: '10.0.0.0/8 is already listed in resolver group "a" (resolverGroups[0].members[0])' }],
  );
  assert.deepEqual(errorsOf({ groups: [{ name: 'a', members: ['2001:db8::/32', '2001:DB8:0::/32'] }] }), [
    { path: 'resolverGroups[0].members[1]', message: '2001:db8::/32 is already listed in resolver group "a" (resolverGroups[0].members[0])' },
  ]);
  assert.deepEqual(errorsOf({ groups: [{ name: 'a', members: ['192.0.2.1'] }, { name: 'a', members: ['192.0.2.2'] }] }), [
    { path: 'resolverGroups[1].name', message: 'duplicate resolver group "a" (first defined at resolverGroups[0])' },
  ]);
  assert.deepEqual(errorsOf({ groups: [{ name: '', members: ['192.0.2.1'] }, { name: 'x', members: [] }] }), [
    { path: 'resolverGroups[0].name', message: 'a resolver group needs a name' },
    { path: 'resolverGroups[1].members', message: 'resolver group "x" has no members' },
  ]);
  assert.deepEqual(errorsOf({ auto: { ipv4PrefixLength: 33, ipv6PrefixLength: 12.5 } }), [
    { path: 'resolverGrouping.ipv4PrefixLength', message: '33 is not a prefix length (an integer from 0 to 32)' },
    { path: 'resolverGrouping.ipv6PrefixLength', message: '12.5 is not a prefix length (an integer from 0 to 128)' },
  ]);
});
