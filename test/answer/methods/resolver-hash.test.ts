// Resolver hash (weighted rendezvous hashing, issue 11 §3): the same resolver gets the same candidate from any
// worker or node that holds the same candidates, with no state shared; a candidate that leaves moves only its own
// resolvers; shares follow weights; IPv6 resolvers hash on all 128 bits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolverHashMethod } from '../../../src/answer/methods/resolver-hash.js';
import { makeFixture, ipv4Members } from '../fixtures.js';

const resolvers = Array.from({ length: 2000 }, (_, i) => `198.51.${(i >> 8) & 255}.${i & 255}`);

/** The member each resolver gets from a fresh fixture (another worker or node: nothing carried over). */
function assignment(members = ipv4Members(5), down: number[] = []): string[] {
  const f = makeFixture([{ name: 'web', members }]);
  const c = f.members();
  for (const i of down) f.live.up[f.policy.members[i]!.index] = 0;
  return resolvers.map((r) => {
    f.setResolver(r);
    const i = resolverHashMethod.pick(f.ctx, c);
    return i < 0 ? '(none)' : c.label(i);
  });
}

test('G5/G6: resolver-hash gives each resolver the same member from independent workers or nodes, and spreads resolvers over all members', () => {
  const a = assignment();
  assert.deepEqual(assignment(), a, 'a second, independent instance agrees on every resolver');
  const counts = new Map<string, number>();
  for (const m of a) counts.set(m, (counts.get(m) ?? 0) + 1);
  assert.equal(counts.size, 5);
  for (const [m, n] of counts) assert.ok(n > 300 && n < 500, `${m}: ${n} of 2000 (about 400 each)`);
  // The same members in another order (another node's configuration listing them differently): the same answers.
  const shuffled = ipv4Members(5).reverse();
  assert.deepEqual(assignment(shuffled), a, 'by identity, not by position');
});

test('G5/H2: when a member goes down only its own resolvers move, spread over the others; when it returns they come back', () => {
  const before = assignment();
  const gone = '10.0.0.3';
  const after = assignment(ipv4Members(5), [2]);
  let moved = 0;
  const to = new Map<string, number>();
  for (let k = 0; k < resolvers.length; k++) {
    if (before[k] === gone) {
      assert.notEqual(after[k], gone);
      to.set(after[k]!, (to.get(after[k]!) ?? 0) + 1);
      moved++;
    } else {
      assert.equal(after[k], before[k], `resolver ${resolvers[k]} kept its member`);
    }
  }
  assert.ok(moved > 300);
  assert.equal(to.size, 4, 'the moved resolvers spread over all four others');
  assert.deepEqual(assignment(), before, 'back up: every resolver has its member again');
});

test('G2: resolver-hash shares follow weights (3 : 1)', () => {
  const a = assignment([{ address: '10.0.0.1', weight: 3 }, { address: '10.0.0.2', weight: 1 }]);
  const heavy = a.filter((m) => m === '10.0.0.1').length;
  assert.ok(heavy > 1350 && heavy < 1650, `${heavy} of 2000 to the weight-3 member (1500 expected)`);
});

test('G5: IPv6 resolvers hash on the whole address: ones differing only in the upper or only in the lower 64 bits spread too', () => {
  const f = makeFixture([{ name: 'web', members: ipv4Members(4) }]);
  const c = f.members();
  const seen = (make: (i: number) => string): number => {
    const got = new Set<number>();
    for (let i = 0; i < 64; i++) { f.setResolver(make(i)); got.add(resolverHashMethod.pick(f.ctx, c)); }
    return got.size;
  };
  assert.equal(seen((i) => `2001:db8:${i.toString(16)}::1`), 4, 'upper bits');
  assert.equal(seen((i) => `2001:db8::${i.toString(16)}`), 4, 'lower bits');
});
