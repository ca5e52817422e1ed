// Topology rules (SPEC G3): longest prefix first, then weight, then order; regions; defaults; errors with paths;
// and a property test comparing match() with an obvious BigInt reference over random rules and addresses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseAddress } from '../../src/net/address.js';
import { compileTopology, TopologyTable, type TopologyConfig } from '../../src/answer/topology.js';
import { parsePrefix, formatIPv6 } from '../../src/net/prefix.js';

const POOLS = new Map([['eu', 0], ['us', 1], ['asia', 2], ['default', 3]]);

function compile(cfg: Partial<TopologyConfig>): TopologyTable {
  const r = compileTopology({ regions: cfg.regions ?? [], rules: cfg.rules ?? [] }, POOLS);
  if (!r.ok) assert.fail(`unexpected errors: ${JSON.stringify(r.errors)}`);
  return r.table;
}

function errorsOf(cfg: Partial<TopologyConfig>): Array<{ path: string; message: string }> {
  const r = compileTopology({ regions: cfg.regions ?? [], rules: cfg.rules ?? [] }, POOLS);
  assert.equal(r.ok, false);
  return r.ok ? [] : r.errors;
}

/** Rule indices and their matched prefix lengths for an address, best first. */
function matchOf(t: TopologyTable, address: string, max = 16): Array<[number, number]> {
  const words = new Uint32Array(4);
  const family = parseAddress(address, words);
  assert.ok(family !== 0, `bad test address ${address}`);
  const out = new Int32Array(max);
  const n = t.match(family, words, out);
  const res: Array<[number, number]> = [];
  for (let k = 0; k < n; k++) res.push([out[k]!, t.matchedPrefix(k)]);
  return res;
}

test('G3: the longest prefix wins over rule order', () => {
  const t = compile({
    rules: [
      { from: '10.0.0.0/8', to: 'pool:us' },
      { from: '10.1.0.0/16', to: 'pool:eu' },
      { from: '10.1.2.0/24', to: 'pool:asia' },
    ],
  });
  assert.equal(t.ruleCount, 3);
  assert.deepEqual(matchOf(t, '10.1.2.3'), [[2, 24], [1, 16], [0, 8]]);
  assert.deepEqual(matchOf(t, '10.1.3.3'), [[1, 16], [0, 8]]);
  assert.deepEqual(matchOf(t, '10.2.0.1'), [[0, 8]]);
  assert.equal(t.rulePool(2), 2);
  assert.equal(t.rulePool(1), 0);
});

test('G3: equal prefixes rank by higher weight, then by config order', () => {
  const t = compile({
    rules: [
      { from: '10.1.0.0/16', to: 'pool:us' },
      { from: '10.1.0.0/16', to: 'pool:eu', weight: 100 },
      { from: '10.1.0.0/16', to: 'pool:asia' },
      { from: '10.1.0.0/16', to: 'pool:default', weight: 0.5 },
      { from: '10.0.0.0/8', to: 'pool:default', weight: 1000 },
    ],
  });
  assert.deepEqual(matchOf(t, '10.1.9.9').map(([r]) => r), [1, 0, 2, 3, 4]);
  assert.equal(t.ruleWeight(0), 1);
  assert.equal(t.ruleWeight(1), 100);
});

test('G3: a region matches with the longest of its CIDRs containing the address (IPv4 and IPv6)', () => {
  const t = compile({
    regions: [
      { name: 'europe', cidrs: ['10.0.0.0/8', '10.1.0.0/16', '2001:db8::/32', '2001:db8:1::/48'] },
      { name: 'asia', cidrs: ['192.0.2.0/24', '2001:db8:2::/48'] },
    ],
    rules: [
      { from: 'region:europe', to: 'pool:eu' },
      { from: '10.0.0.0/12', to: 'pool:us' },
      { from: '2001:db8::/40', to: 'pool:us' },
      { from: 'region:asia', to: 'pool:asia' },
    ],
  });
  // Inside the /16: the region outranks the /12 rule, and appears once.
  assert.deepEqual(matchOf(t, '10.1.2.3'), [[0, 16], [1, 12]]);
  // Only inside the region's /8: the /12 rule is more specific.
  assert.deepEqual(matchOf(t, '10.2.0.1'), [[1, 12], [0, 8]]);
  assert.deepEqual(matchOf(t, '10.200.0.1'), [[0, 8]]);
  assert.deepEqual(matchOf(t, '2001:db8:1::53'), [[0, 48], [2, 40]]);
  assert.deepEqual(matchOf(t, '2001:db8:ff00::1'), [[0, 32]]);
  assert.deepEqual(matchOf(t, '2001:db8:2::1'), [[3, 48], [2, 40], [0, 32]]);
  assert.deepEqual(matchOf(t, '192.0.2.200'), [[3, 24]]);
});

test('G3: 0.0.0.0/0 is a default rule for every IPv4 asker and never for IPv6 ones', () => {
  const t = compile({
    rules: [
      { from: '0.0.0.0/0', to: 'pool:default' },
      { from: '198.51.100.0/24', to: 'pool:eu' },
    ],
  });
  assert.deepEqual(matchOf(t, '198.51.100.7'), [[1, 24], [0, 0]]);
  assert.deepEqual(matchOf(t, '0.0.0.0'), [[0, 0]]);
  assert.deepEqual(matchOf(t, '255.255.255.255'), [[0, 0]]);
  assert.deepEqual(matchOf(t, '2001:db8::1'), []);
});

test('G3: ::/0 is a default rule for every IPv6 asker and never for IPv4 ones', () => {
  const t = compile({
    rules: [
      { from: '2001:db8::/32', to: 'pool:eu' },
      { from: '::/0', to: 'pool:default' },
    ],
  });
  assert.deepEqual(matchOf(t, '2001:db8::1'), [[0, 32], [1, 0]]);
  assert.deepEqual(matchOf(t, 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), [[1, 0]]);
  assert.deepEqual(matchOf(t, '::'), [[1, 0]]);
  assert.deepEqual(matchOf(t, '192.0.2.1'), []);
  // IPv4-mapped askers arrive as IPv4 (parseAddress folds them), so ::/0 does not catch them.
  assert.deepEqual(matchOf(t, '::ffff:192.0.2.1'), []);
});

test('G3: a /32 and a single address are the same prefix (and /128 for IPv6)', () => {
  const t = compile({
    rules: [
      { from: '192.0.2.7/32', to: 'pool:eu' },
      { from: '192.0.2.7', to: 'pool:us', weight: 2 },
      { from: '2001:db8::7', to: 'pool:asia' },
      { from: '2001:db8::7/128', to: 'pool:eu' },
    ],
  });
  assert.deepEqual(matchOf(t, '192.0.2.7'), [[1, 32], [0, 32]]);
  assert.deepEqual(matchOf(t, '192.0.2.8'), []);
  assert.deepEqual(matchOf(t, '2001:db8::7'), [[2, 128], [3, 128]]);
  assert.deepEqual(matchOf(t, '2001:db8::6'), []);
});

test('G3: no matching rule gives 0, as does the empty table', () => {
  const t = compile({ rules: [{ from: '10.0.0.0/8', to: 'pool:eu' }] });
  assert.deepEqual(matchOf(t, '11.0.0.1'), []);
  const empty = TopologyTable.empty();
  assert.equal(empty.ruleCount, 0);
  assert.deepEqual(matchOf(empty, '10.0.0.1'), []);
  assert.deepEqual(matchOf(empty, '2001:db8::1'), []);
  assert.equal(empty.matchedPrefix(0), -1);
});

test('G3: match() fills at most out.length results, the best ones, and matchedPrefix follows the last call', () => {
  const t = compile({
    rules: [
      { from: '0.0.0.0/0', to: 'pool:default' },
      { from: '10.0.0.0/8', to: 'pool:us' },
      { from: '10.1.0.0/16', to: 'pool:eu' },
    ],
  });
  assert.deepEqual(matchOf(t, '10.1.0.1', 2), [[2, 16], [1, 8]]);
  assert.equal(t.matchedPrefix(2), -1);
  assert.deepEqual(matchOf(t, '10.1.0.1', 0), []);
  assert.equal(t.matchedPrefix(0), -1);
  matchOf(t, '11.0.0.1');
  assert.equal(t.matchedPrefix(0), 0);
  assert.equal(t.matchedPrefix(1), -1);
});

test('G3: an IPv4-mapped IPv6 CIDR in config applies to IPv4 askers', () => {
  const t = compile({ rules: [{ from: '::ffff:10.1.0.0/112', to: 'pool:eu' }] });
  assert.deepEqual(matchOf(t, '10.1.200.1'), [[0, 16]]);
  assert.deepEqual(matchOf(t, '::ffff:10.1.200.1'), [[0, 16]]);
  assert.equal(t.describe(0), '10.1.0.0/16 → pool:eu weight 1');
});

test('G3: describe() names the source, the pool and the weight', () => {
  const many = ['10.1.0.0/16', '10.2.0.0/16', '10.3.0.0/16', '10.4.0.0/16', '10.5.0.0/16', '10.6.0.0/16'];
  const t = compile({
    regions: [
      { name: 'europe', cidrs: ['10.1.0.0/16'] },
      { name: 'mixed', cidrs: ['192.0.2.0/24', '2001:DB8:0:0::/48'] },
      { name: 'big', cidrs: many },
    ],
    rules: [
      { from: 'region:europe', to: 'pool:eu', weight: 100 },
      { from: 'region:mixed', to: 'pool:us' },
      { from: 'region:big', to: 'pool:asia' },
      { from: '2001:0db8:0000:0000:0000:0000:0000:0001', to: 'pool:default' },
      { from: '0.0.0.0/0', to: 'pool:default', weight: 0 },
    ],
  });
  assert.equal(t.describe(0), 'region:europe (10.1.0.0/16) → pool:eu weight 100');
  assert.equal(t.describe(1), 'region:mixed (192.0.2.0/24, 2001:db8::/48) → pool:us weight 1');
  assert.equal(t.describe(2), 'region:big (10.1.0.0/16, 10.2.0.0/16, 10.3.0.0/16, 10.4.0.0/16, … 2 more) → pool:asia weight 1');
  assert.equal(t.describe(3), '2001:db8::1/128 → pool:default weight 1');
  assert.equal(t.describe(4), '0.0.0.0/0 → pool:default weight 0');
});

test('G3: parsePrefix and formatIPv6 follow RFC 4291 / RFC 5952', () => {
  assert.equal(parsePrefix('10.0.0.0/33'), null);
  assert.equal(parsePrefix('10.0.0.0/08'), null);
  assert.equal(parsePrefix('10.0.0.0/'), null);
  assert.equal(parsePrefix('fe80::1%eth0'), null);
  assert.equal(parsePrefix('2001:db8::/129'), null);
  assert.equal(parsePrefix(' 10.0.0.0/8'), null);
  assert.deepEqual(parsePrefix('10.1.2.3/16')?.hostBits, true);
  assert.deepEqual(parsePrefix('10.1.0.0/16')?.hostBits, false);
  const w = (...x: number[]) => Uint32Array.from(x);
  assert.equal(formatIPv6(w(0, 0, 0, 0)), '::');
  assert.equal(formatIPv6(w(0, 0, 0, 1)), '::1');
  assert.equal(formatIPv6(w(0x20010db8, 0, 0, 1)), '2001:db8::1');
  assert.equal(formatIPv6(w(0x20010db8, 0x00000001, 0x00010001, 0x00010001)), '2001:db8:0:1:1:1:1:1');
  assert.equal(formatIPv6(w(0x20010000, 0, 0x00010000, 0)), '2001::1:0:0:0'); // first of two equal runs
  assert.equal(formatIPv6(w(0x20010db8, 0, 0x00010000, 0x00000001)), '2001:db8::1:0:0:1');
});

test('G3: configuration errors name the field path', () => {
  assert.deepEqual(
    errorsOf({ rules: [{ from: '10.0.0.0/8', to: 'pool:eu' }, { from: '10.0.0.0/8', to: 'pool:xx' }] }),
    [{ path: 'topology.rules[1].to', message: 'unknown pool "xx"' }],
  );
  assert.deepEqual(errorsOf({ rules: [{ from: 'region:asia', to: 'pool:eu' }] }), [
    { path: 'topology.rules[0].from', message: '"region:asia" is not a defined region' },
  ]);
  assert.deepEqual(errorsOf({ regions: [{ name: 'eu', cidrs: ['10.0.0.0/8', '11.0.0.0/8', '10.0.0.0/33'] }] }), [
    { path: 'topology.regions[0].cidrs[2]', message: '"10.0.0.0/33" is not a CIDR' },
  ]);
  assert.deepEqual(errorsOf({ regions: [{ name: 'eu', cidrs: ['10.1.2.3/16'] }] }), [
    { path: 'topology.regions[0].cidrs[0]', message: '"10.1.2.3/16" has host bits set; did you mean 10.1.0.0/16?' },
  ]);
  assert.deepEqual(errorsOf({ rules: [{ from: '2001:db8::1/32', to: 'pool:eu' }] }), [
    { path: 'topology.rules[0].from', message: '"2001:db8::1/32" has host bits set; did you mean 2001:db8::/32?' },
  ]);
  assert.deepEqual(errorsOf({ rules: [{ from: 'europe', to: 'pool:eu' }] }), [
    { path: 'topology.rules[0].from', message: '"europe" is not a CIDR, an address or region:NAME' },
  ]);
  assert.deepEqual(
    errorsOf({ regions: [{ name: 'eu', cidrs: ['10.0.0.0/8'] }, { name: 'us', cidrs: ['11.0.0.0/8'] }, { name: 'eu', cidrs: ['12.0.0.0/8'] }] }),
    [{ path: 'topology.regions[2].name', message: 'duplicate region "eu" (first defined at topology.regions[0])' }],
  );
  assert.deepEqual(errorsOf({ rules: [{ from: '10.0.0.0/8', to: 'eu' }] }), [
    { path: 'topology.rules[0].to', message: '"eu" must be pool:NAME' },
  ]);
  assert.deepEqual(errorsOf({ regions: [{ name: 'void', cidrs: [] }] }), [
    { path: 'topology.regions[0].cidrs', message: 'region "void" has no CIDRs' },
  ]);
  assert.deepEqual(errorsOf({ regions: [{ name: '', cidrs: ['10.0.0.0/8'] }] }), [
    { path: 'topology.regions[0].name', message: 'a region needs a name' },
  ]);
  assert.deepEqual(errorsOf({ rules: [{ from: '10.0.0.0/8', to: 'pool:eu', weight: -1 }] }), [
    { path: 'topology.rules[0].weight', message: '-1 is not a weight (a number ≥ 0)' },
  ]);
  // Every problem is reported at once, in config order.
  assert.deepEqual(
    errorsOf({
      regions: [{ name: 'eu', cidrs: ['x'] }],
      rules: [{ from: 'region:eu', to: 'pool:nope' }, { from: 'region:us', to: 'us' }],
    }).map((e) => e.path),
    ['topology.regions[0].cidrs[0]', 'topology.rules[0].to', 'topology.rules[1].from', 'topology.rules[1].to'],
  );
});

// ---- property test against a reference: BigInt containment, a full sort ----

interface Net { family: 4 | 6; bits: bigint; len: number }

const toBig = (family: 4 | 6, words: Uint32Array): bigint =>
  family === 4 ? BigInt(words[0]!) : words.reduce((acc, w) => (acc << 32n) | BigInt(w), 0n);

function maskBig(family: 4 | 6, bits: bigint, len: number): bigint {
  const width = family === 4 ? 32 : 128;
  const all = (1n << BigInt(width)) - 1n;
  return bits & (all ^ ((1n << BigInt(width - len)) - 1n));
}

/** Plain text for a network: a dotted quad, or all eight IPv6 groups spelled out. */
function netText(n: Net): string {
  if (n.family === 4) return `${[24n, 16n, 8n, 0n].map((s) => (n.bits >> s) & 255n).join('.')}/${n.len}`;
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((n.bits >> BigInt(16 * i)) & 0xffffn).toString(16));
  return `${groups.join(':')}/${n.len}`;
}

// Addresses and networks are drawn near a few bases so that they overlap often.
const arbV4 = fc
  .tuple(fc.constantFrom(0x0a00, 0x0a01, 0x0b00), fc.integer({ min: 0, max: 0xffff }))
  .map(([hi, lo]) => BigInt(hi * 0x10000 + lo));
const arbV6 = fc
  .tuple(fc.constantFrom(0x20010db8n, 0x20010db9n), fc.constantFrom(0n, 1n), fc.constantFrom(0n, 0xffff0000n), fc.integer({ min: 0, max: 0xffff }))
  .map(([a, b, c, d]) => (a << 96n) | (b << 64n) | (c << 32n) | BigInt(d));
const arbAddress = fc.oneof(
  arbV4.map((bits) => ({ family: 4 as const, bits })),
  arbV6.map((bits) => ({ family: 6 as const, bits })),
);
const arbNet: fc.Arbitrary<Net> = fc.oneof(
  fc.tuple(arbV4, fc.integer({ min: 0, max: 32 })).map(([b, len]) => ({ family: 4 as const, bits: maskBig(4, b, len), len })),
  fc.tuple(arbV6, fc.integer({ min: 0, max: 128 })).map(([b, len]) => ({ family: 6 as const, bits: maskBig(6, b, len), len })),
);
const arbWeight = fc.constantFrom(undefined, 1, 2, 5);
const arbScenario = fc.record({
  regions: fc.array(fc.array(arbNet, { minLength: 1, maxLength: 4 }), { maxLength: 3 }),
  rules: fc.array(
    fc.record({ source: fc.oneof(fc.nat(2).map((r) => ({ region: r })), arbNet.map((net) => ({ net }))), weight: arbWeight }),
    { minLength: 1, maxLength: 12 },
  ),
  addresses: fc.array(arbAddress, { minLength: 1, maxLength: 10 }),
  outLength: fc.integer({ min: 0, max: 14 }),
});

test('G3: match() agrees with a brute-force reference over random rules and addresses', () => {
  fc.assert(
    fc.property(arbScenario, (s) => {
      const ruleNets: Net[][] = [];
      const cfg: TopologyConfig = {
        regions: s.regions.map((nets, i) => ({ name: `r${i}`, cidrs: nets.map(netText) })),
        rules: s.rules.map((r, i) => {
          const region = 'region' in r.source && r.source.region < s.regions.length ? r.source.region : -1;
          const nets = region >= 0 ? s.regions[region]! : 'net' in r.source ? [r.source.net] : [{ family: 4 as const, bits: 0n, len: 0 }];
          ruleNets.push(nets);
          const from = region >= 0 ? `region:r${region}` : netText(nets[0]!);
          return { from, to: `pool:${['eu', 'us', 'asia', 'default'][i % 4]}`, ...(r.weight === undefined ? {} : { weight: r.weight }) };
        }),
      };
      const compiled = compileTopology(cfg, POOLS);
      assert.ok(compiled.ok);
      const t = compiled.table;
      const out = new Int32Array(s.outLength);
      for (const a of s.addresses) {
        const words = new Uint32Array(4);
        for (let i = 0; i < (a.family === 4 ? 1 : 4); i++) {
          words[i] = Number((a.bits >> BigInt(a.family === 4 ? 0 : 32 * (3 - i))) & 0xffffffffn);
        }
        assert.equal(toBig(a.family, words), a.bits);
        // Reference: every rule with its longest containing prefix, fully sorted.
        const expected: Array<[number, number]> = [];
        ruleNets.forEach((nets, rule) => {
          let best = -1;
          for (const n of nets) if (n.family === a.family && maskBig(a.family, a.bits, n.len) === n.bits) best = Math.max(best, n.len);
          if (best >= 0) expected.push([rule, best]);
        });
        const weight = (rule: number) => s.rules[rule]!.weight ?? 1;
        expected.sort((x, y) => y[1] - x[1] || weight(y[0]) - weight(x[0]) || x[0] - y[0]);
        const n = t.match(a.family, words, out);
        const actual: Array<[number, number]> = [];
        for (let k = 0; k < n; k++) actual.push([out[k]!, t.matchedPrefix(k)]);
        assert.deepEqual(actual, expected.slice(0, s.outLength));
        for (let k = 0; k < n; k++) assert.equal(t.rulePool(out[k]!), POOLS.get(cfg.rules[out[k]!]!.to.slice('pool:'.length)));
      }
    }),
    { numRuns: 500 },
  );
});
