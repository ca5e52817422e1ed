// Static stripe vectors, computed by hand (seed 004 FIG. 3, SPEC G4). Members are 10.0.0.1 … 10.0.0.n at indices 0 … n−1.
//
// Resolver integers used below:
//   10.0.0.7    = 10·2^24 + 7 = 167772167          10.0.0.5  = 167772165
//   192.0.2.1   = 192·2^24 + 2·2^8 + 1 = 3221225985  192.0.2.3 = 3221225987
//
// V1  4 up, 10.0.0.7: 2^24 ≡ 0 (mod 4) so 167772167 ≡ 7 ≡ 3; X = 4 → 4th marked-up member → index 3.
// V2  3 up, 10.0.0.7: 2^24 ≡ 1 (mod 3), so 10 + 7 = 17 ≡ 2; X = 3 → index 2.
// V3  5 up, 192.0.2.1: 3221225985 ends in 5 → ≡ 0; X = 1 → index 0.
//     5 up, 192.0.2.3: 3221225987 ≡ 2; X = 3 → index 2.
//     4 up, 10.0.0.5: 167772165 ≡ 5 ≡ 1 (mod 4); X = 2 → index 1.
// V4  marked-down member skipped: 4 members, index 1 marked down (and really down), 10.0.0.7: N = 3, X = 3;
//     walk: index 0 (X 3→2), index 1 skipped, index 2 (X 2→1), index 3 (X 1→0) → index 3 (not index 2).
// V5  disabled member skipped: 4 members, index 0 disabled, 10.0.0.7: N = 3, X = 3 → indices 1, 2, 3 → index 3.
// V6  candidate found actually down, then N − 1: 4 members all marked up, index 3 down, 10.0.0.7:
//     N = 4, X = 4 → index 3, not up → marked down, N = 3; X = (167772167 mod 3) + 1 = 3 → index 2 (up) → 2.
//     Next query: index 3 is already marked down: N = 3 at once → index 2. Index 3 recovers → re-marked up, N = 4 → 3.
// V7  two found down in a row: 4 members, indices 3 and 2 down, 10.0.0.7:
//     N = 4, X = 4 → index 3 down, N = 3; X = 3 → index 2 down, N = 2; 167772167 is odd → X = 2 → index 1 (up) → 1.
// V8  N reaches 0: 3 members all down, 10.0.0.7: N = 3, X = 3 → index 2 down, N = 2, X = 2 → index 1 down, N = 1,
//     X = 1 → index 0 down, N = 0 → round robin regardless of health: counter 0 → index 0. Later queries start with
//     N = 0 (all marked down, none recovered): counter 1 → 1, counter 2 → 2, counter 3 → 0.
// V9  IPv6 resolver 2001:db8::5:0:7 → words[2] = 5, words[3] = 7, low 64 bits = 5·2^32 + 7 = 21474836487.
//     N = 3: 2^32 ≡ 1, (5 mod 3 = 2)·1 + (7 mod 3 = 1) = 3 ≡ 0 (digit sum of 21474836487 is 54) → X = 1 → index 0.
//     N = 4: 2^32 ≡ 0 → 7 mod 4 = 3 → X = 4 → index 3.
//     N = 5: 2^32 ≡ 1 (2^4 = 16 ≡ 1), 5 ≡ 0, 7 ≡ 2 → 2 → X = 3 → index 2 (21474836487 ends in 7: ≡ 2 ✓).
// V10 IPv6 resolver 2001:db8::ffff:ffff:ffff:fffe → low 64 bits = 2^64 − 2.
//     N = 7: 2^3 ≡ 1 so 2^64 = 2^63·2 ≡ 2 → 2^64 − 2 ≡ 0 → X = 1 → index 0.
//       (formula: words[2] = 2^32 − 1 ≡ 4 − 1 = 3, 2^32 ≡ 4, words[3] = 2^32 − 2 ≡ 2 → 3·4 + 2 = 14 ≡ 0 ✓)
//     N = 6: 2^64 ≡ 4 (even powers of 2 are ≡ 4 mod 6) → 2^64 − 2 ≡ 2 → X = 3 → index 2.
//       (formula: words[2] ≡ 3, 2^32 ≡ 4, words[3] ≡ 2 → 14 ≡ 2 ✓)
// V11 unknown resolver family: integer 0 → X = 1 → first marked-up member.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { staticStripe, resolverModulo } from '../../../src/answer/methods/static-stripe.js';
import { ClientInfo } from '../../../src/answer/context.js';
import { parseAddress } from '../../../src/net/address.js';
import { ipv4Members, makeFixture, picks } from '../fixtures.js';

function stripe(n: number, resolver: string, members = ipv4Members(n)) {
  const f = makeFixture([{ name: 'web', members }], { resolver });
  return { f, c: f.members() };
}

test('G4: static stripe V1: 4 members up, resolver 10.0.0.7 → the 4th member', () => {
  const { f, c } = stripe(4, '10.0.0.7');
  assert.equal(167772167 % 4, 3);
  assert.equal(staticStripe.pick(f.ctx, c), 3);
});

test('G4: static stripe V2/V3: the resolver integer mod N picks the member', () => {
  const cases: Array<[number, string, number]> = [
    [3, '10.0.0.7', 2],
    [5, '192.0.2.1', 0],
    [5, '192.0.2.3', 2],
    [4, '10.0.0.5', 1],
  ];
  for (const [n, resolver, expected] of cases) {
    const { f, c } = stripe(n, resolver);
    assert.equal(staticStripe.pick(f.ctx, c), expected, `${n} members, resolver ${resolver}`);
  }
});

test('G4: static stripe gives one resolver the same member every time', () => {
  const { f, c } = stripe(4, '10.0.0.7');
  assert.deepEqual(picks(staticStripe, f.ctx, c, 5), [3, 3, 3, 3, 3]);
});

test('G4: static stripe skips members marked down (V4)', () => {
  const { f, c } = stripe(4, '10.0.0.7');
  f.setUp('10.0.0.2', false);
  f.live.marked[f.member('10.0.0.2').index] = 0;
  assert.equal(staticStripe.pick(f.ctx, c), 3);
});

test('G4: static stripe skips disabled members (V5)', () => {
  const { f, c } = stripe(4, '10.0.0.7', [{ address: '10.0.0.1', enabled: false }, ...ipv4Members(4).slice(1)]);
  assert.equal(staticStripe.pick(f.ctx, c), 3);
});

test('G4: static stripe marks a candidate found down and recomputes with N − 1 (V6)', () => {
  const { f, c } = stripe(4, '10.0.0.7');
  const fourth = f.member('10.0.0.4').index;
  f.setUp('10.0.0.4', false);
  assert.equal(f.live.marked[fourth], 1); // assumed up until found down
  assert.equal(staticStripe.pick(f.ctx, c), 2);
  assert.equal(f.live.marked[fourth], 0);
  assert.equal(staticStripe.pick(f.ctx, c), 2);
  f.setUp('10.0.0.4', true);
  assert.equal(staticStripe.pick(f.ctx, c), 3); // recovered: marked up again, N = 4
  assert.equal(f.live.marked[fourth], 1);
});

test('G4: static stripe recomputes repeatedly when several candidates are down (V7)', () => {
  const { f, c } = stripe(4, '10.0.0.7');
  f.setUp('10.0.0.4', false);
  f.setUp('10.0.0.3', false);
  const trace = f.trace();
  assert.equal(staticStripe.pick(f.ctx, c), 1);
  assert.deepEqual(trace.steps.map((s) => s.detail), [
    'N = 4, X = 4 → 10.0.0.4 (position 3) is not up: marked down, N = 3',
    'N = 3, X = 3 → 10.0.0.3 (position 2) is not up: marked down, N = 2',
    'N = 2, X = 2 → 10.0.0.2 (position 1), up',
  ]);
});

test('G4: static stripe falls back to round robin regardless of health when N reaches 0 (V8)', () => {
  const { f, c } = stripe(3, '10.0.0.7');
  for (const a of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) f.setUp(a, false);
  assert.deepEqual(picks(staticStripe, f.ctx, c, 4), [0, 1, 2, 0]);
  for (let i = 0; i < 3; i++) assert.equal(f.live.marked[c.slot(i)], 0);
  f.setUp('10.0.0.2', true); // one recovers: the stripe resumes over N = 1
  assert.deepEqual(picks(staticStripe, f.ctx, c, 3), [1, 1, 1]);
});

test('G4: static stripe round robin fallback skips disabled and already chosen members', () => {
  const { f, c } = stripe(3, '10.0.0.7', [{ address: '10.0.0.1', enabled: false }, ...ipv4Members(3).slice(1)]);
  f.setUp('10.0.0.2', false);
  f.setUp('10.0.0.3', false);
  assert.deepEqual(picks(staticStripe, f.ctx, c, 4), [1, 1, 2, 1]); // counter 0 → 0 disabled → 1; 1 → 1; 2 → 2; 3 → 0 → 1
  f.live.excluded[f.member('10.0.0.2').index] = 1;
  assert.equal(staticStripe.pick(f.ctx, c), 2);
  f.live.excluded[f.member('10.0.0.3').index] = 1;
  assert.equal(staticStripe.pick(f.ctx, c), -1);
});

test('G4: static stripe IPv6 resolver uses the low 64 bits mod N (V9, V10)', () => {
  const cases: Array<[number, string, number]> = [
    [3, '2001:db8::5:0:7', 0],
    [4, '2001:db8::5:0:7', 3],
    [5, '2001:db8::5:0:7', 2],
    [7, '2001:db8::ffff:ffff:ffff:fffe', 0],
    [6, '2001:db8::ffff:ffff:ffff:fffe', 2],
  ];
  for (const [n, resolver, expected] of cases) {
    const { f, c } = stripe(n, resolver);
    assert.equal(f.ctx.client.family, 6);
    assert.equal(staticStripe.pick(f.ctx, c), expected, `${n} members, resolver ${resolver}`);
  }
});

test('G4: static stripe IPv6 modulo equals BigInt arithmetic on the low 64 bits', () => {
  const client = new ClientInfo();
  client.family = 6;
  fc.assert(fc.property(fc.array(fc.nat({ max: 0xffffffff }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 1, max: 100_000 }), (words, n) => {
    client.words.set(words);
    const low = (BigInt(words[2]!) << 32n) | BigInt(words[3]!);
    return resolverModulo(client, n) === Number(low % BigInt(n));
  }));
  client.family = 4;
  fc.assert(fc.property(fc.nat({ max: 0xffffffff }), fc.integer({ min: 1, max: 1000 }), (w, n) => {
    client.words[0] = w;
    return resolverModulo(client, n) === w % n;
  }));
  assert.equal(parseAddress('2001:db8::5:0:7', client.words), 6);
  assert.deepEqual([client.words[2], client.words[3]], [5, 7]);
});

test('G4: static stripe with an unknown resolver family takes the first marked-up member (V11)', () => {
  const { f, c } = stripe(4, '10.0.0.7');
  f.ctx.client.family = 0;
  assert.equal(staticStripe.pick(f.ctx, c), 0);
  f.setUp('10.0.0.1', false);
  assert.equal(staticStripe.pick(f.ctx, c), 1);
});

test('G4: static stripe spreads resolvers evenly over the members', () => {
  const { f, c } = stripe(4, '10.0.0.0');
  const counts = [0, 0, 0, 0];
  for (let k = 0; k < 400; k++) {
    f.ctx.client.words[0] = 0x0a000000 + k;
    counts[staticStripe.pick(f.ctx, c)]!++;
  }
  assert.deepEqual(counts, [100, 100, 100, 100]);
});

test('G4: static stripe over pools', () => {
  const f = makeFixture([
    { name: 'a', members: [{ address: '10.0.1.1' }] },
    { name: 'b', members: [{ address: '10.0.2.1' }] },
    { name: 'c', members: [{ address: '10.0.3.1' }] },
  ], { resolver: '10.0.0.7' });
  const c = f.pools();
  assert.equal(staticStripe.pick(f.ctx, c), 2); // V2 at pool level
  f.setUp('10.0.3.1', false);
  assert.equal(staticStripe.pick(f.ctx, c), 1); // N = 2, 167772167 odd → X = 2 → pool b
  assert.equal(f.live.marked[c.slot(2)], 0);
});

test('G4: static stripe returns -1 only for an empty list', () => {
  const f = makeFixture([{ name: 'v6', members: [{ address: '2001:db8::1' }] }]);
  assert.equal(staticStripe.pick(f.ctx, f.members()), -1); // A question, no IPv4 member
});
