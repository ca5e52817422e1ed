import { test } from 'node:test';
import assert from 'node:assert/strict';
import { topology } from '../../../src/answer/methods/topology.js';
import { parseAddress } from '../../../src/net/address.js';
import { compileTopology } from '../../../src/answer/topology.js';
import { makeFixture } from '../fixtures.js';

/**
 * A stand-in for src/answer/topology.ts's TopologyTable with the same API, for testing the method only:
 * rules are (CIDR, pool, weight); match() orders by longest prefix, then higher weight, then rule order.
 */
class FakeTopologyTable {
  private readonly rules: Array<{ family: 4 | 6; words: Uint32Array; prefix: number; pool: number; weight: number; text: string }> = [];
  private readonly lastPrefix: number[] = [];

  add(cidr: string, pool: number, weight = 1): this {
    const [addr, len] = cidr.split('/');
    const words = new Uint32Array(4);
    const family = parseAddress(addr!, words);
    if (family === 0) throw new Error(`bad CIDR ${cidr}`);
    this.rules.push({ family, words, prefix: Number(len), pool, weight, text: `${cidr} → pool ${pool}` });
    return this;
  }

  match(family: 4 | 6, words: Uint32Array, out: Int32Array): number {
    const hits: number[] = [];
    this.rules.forEach((r, i) => {
      if (r.family === family && prefixMatches(r.words, words, r.prefix)) hits.push(i);
    });
    hits.sort((a, b) => this.rules[b]!.prefix - this.rules[a]!.prefix || this.rules[b]!.weight - this.rules[a]!.weight || a - b);
    const n = Math.min(hits.length, out.length);
    this.lastPrefix.length = 0;
    for (let k = 0; k < n; k++) {
      out[k] = hits[k]!;
      this.lastPrefix.push(this.rules[hits[k]!]!.prefix);
    }
    return n;
  }
  rulePool(rule: number): number { return this.rules[rule]!.pool; }
  rulePrefix(rule: number): number { return this.rules[rule]!.prefix; }
  matchedPrefix(k: number): number { return this.lastPrefix[k]!; }
  describe(rule: number): string { return this.rules[rule]!.text; }
}

function prefixMatches(net: Uint32Array, addr: Uint32Array, prefix: number): boolean {
  for (let w = 0, bits = prefix; bits > 0; w++, bits -= 32) {
    const mask = bits >= 32 ? 0xffffffff : ~(0xffffffff >>> bits) >>> 0;
    if (((net[w]! & mask) >>> 0) !== ((addr[w]! & mask) >>> 0)) return false;
  }
  return true;
}

function sites(table: unknown, resolver = '192.0.2.1') {
  return makeFixture([
    { name: 'europe', members: [{ address: '10.0.1.1' }, { address: '2001:db8:1::1' }] },
    { name: 'america', members: [{ address: '10.0.2.1' }] },
    { name: 'asia', members: [{ address: '10.0.3.1' }] },
  ], { resolver, topology: table });
}

test('G3: topology sends a resolver to the pool of its matching rule', () => {
  const table = new FakeTopologyTable().add('198.51.100.0/24', 0).add('203.0.113.0/24', 1);
  const f = sites(table, '203.0.113.9');
  assert.equal(topology.pick(f.ctx, f.pools()), 1);
  f.setResolver('198.51.100.200');
  assert.equal(topology.pick(f.ctx, f.pools()), 0);
  assert.equal(f.ctx.usedSubnet, false);
});

test('G3: topology: the longest prefix wins, then the higher weight', () => {
  const table = new FakeTopologyTable().add('10.0.0.0/8', 0).add('10.20.0.0/16', 2).add('10.20.30.0/24', 1, 1).add('10.20.30.0/24', 0, 5);
  const f = sites(table, '10.20.30.40');
  assert.equal(topology.pick(f.ctx, f.pools()), 0); // /24 weight 5
  f.setResolver('10.20.99.1');
  assert.equal(topology.pick(f.ctx, f.pools()), 2); // /16
  f.setResolver('10.99.0.1');
  assert.equal(topology.pick(f.ctx, f.pools()), 0); // /8
});

test('G3: topology uses the client subnet when the query carries ECS', () => {
  const table = new FakeTopologyTable().add('192.0.2.0/24', 0).add('198.51.100.0/24', 2);
  const f = sites(table, '192.0.2.53');
  f.setSubnet('198.51.100.0', 24);
  assert.equal(topology.pick(f.ctx, f.pools()), 2);
  assert.equal(f.ctx.usedSubnet, true);
});

test('G3: topology with ECS and no matching rule does not claim the subnet was used', () => {
  const table = new FakeTopologyTable().add('192.0.2.0/24', 0);
  const f = sites(table, '192.0.2.53');
  f.setSubnet('198.51.100.0', 24);
  assert.equal(topology.pick(f.ctx, f.pools()), -1); // the resolver's own rule is not consulted
  assert.equal(f.ctx.usedSubnet, false);
});

test('G3: topology falls through to the next matching rule when the best pool is unavailable', () => {
  const table = new FakeTopologyTable().add('10.0.0.0/8', 1).add('10.1.0.0/16', 2).add('0.0.0.0/0', 0);
  const f = sites(table, '10.1.2.3');
  assert.equal(topology.pick(f.ctx, f.pools()), 2);
  f.setUp('10.0.3.1', false);
  assert.equal(topology.pick(f.ctx, f.pools()), 1);
  f.live.excluded[f.pools().slot(1)] = 1;
  assert.equal(topology.pick(f.ctx, f.pools()), 0);
  f.setUp('10.0.1.1', false); // europe still has an IPv6 member, but the question is A
  assert.equal(topology.pick(f.ctx, f.pools()), -1);
});

test('G3: topology ignores rules sending to pools that are not candidates of this name', () => {
  const table = new FakeTopologyTable().add('10.0.0.0/8', 7).add('10.0.0.0/8', 1);
  const f = sites(table, '10.1.2.3');
  assert.equal(topology.pick(f.ctx, f.pools()), 1);
});

test('G3: topology matches IPv6 resolvers', () => {
  const table = new FakeTopologyTable().add('10.0.0.0/8', 1).add('2001:db8:abcd::/48', 2);
  const f = sites(table, '2001:db8:abcd:1::53');
  assert.equal(topology.pick(f.ctx, f.pools()), 2);
});

test('G3: topology returns -1 when no rule matches or the resolver is unknown', () => {
  const table = new FakeTopologyTable().add('10.0.0.0/8', 1);
  const f = sites(table, '192.0.2.1');
  assert.equal(topology.pick(f.ctx, f.pools()), -1);
  f.ctx.client.family = 0;
  assert.equal(topology.pick(f.ctx, f.pools()), -1);
});

test('G7: topology explains which rule decided', () => {
  const table = new FakeTopologyTable().add('10.1.0.0/16', 2).add('10.0.0.0/8', 1);
  const f = sites(table, '10.1.2.3');
  f.setUp('10.0.3.1', false);
  const trace = f.trace();
  assert.equal(topology.pick(f.ctx, f.pools()), 1);
  assert.deepEqual(trace.steps.map((s) => s.detail), [
    '10.1.0.0/16 → pool 2 (/16) → pool asia: not available',
    'resolver matches 10.0.0.0/8 → pool 1 (/8) → pool america',
  ]);
});

test('G3: topology works with the compiled TopologyTable (regions, longest prefix)', () => {
  const compiled = compileTopology({
    regions: [{ name: 'europe', cidrs: ['10.1.0.0/16', '2001:db8:1::/48'] }],
    rules: [
      { from: 'region:europe', to: 'pool:europe' },
      { from: '10.0.0.0/8', to: 'pool:america' },
      { from: '10.1.2.0/24', to: 'pool:asia' },
    ],
  }, new Map([['europe', 0], ['america', 1], ['asia', 2]]));
  assert.ok(compiled.ok);
  const f = sites(compiled.table, '10.1.9.9');
  assert.equal(topology.pick(f.ctx, f.pools()), 0);
  f.setResolver('10.1.2.3');
  assert.equal(topology.pick(f.ctx, f.pools()), 2);
  f.setUp('10.0.3.1', false);
  assert.equal(topology.pick(f.ctx, f.pools()), 0); // next best: the /16 of region europe
  f.setResolver('10.200.0.1');
  assert.equal(topology.pick(f.ctx, f.pools()), 1);
  f.setResolver('2001:db8:1::53');
  assert.equal(topology.pick(f.ctx, f.pools()), 0);
});
