import { test } from 'node:test';
import assert from 'node:assert/strict';
import { roundRobin } from '../../../src/answer/methods/round-robin.js';
import { ipv4Members, makeFixture, picks, tally } from '../fixtures.js';

test('G2: round robin cycles evenly over available members', () => {
  const f = makeFixture([{ name: 'web', members: ipv4Members(3) }]);
  const c = f.members();
  assert.deepEqual(picks(roundRobin, f.ctx, c, 7), [0, 1, 2, 0, 1, 2, 0]);
  const counts = tally(roundRobin, f.ctx, c, 2 + 300); // counter 7 → member 1 first: 302 = 3·100 + 2 → 1 and 2 once more
  assert.deepEqual([counts.get(0), counts.get(1), counts.get(2)], [100, 101, 101]);
});

test('G2: round robin takes the first available after the rotating counter', () => {
  const f = makeFixture([{ name: 'web', members: ipv4Members(3) }]);
  f.setUp('10.0.0.2', false);
  // counter 0 → 0; counter 1 → member 1 is down, next is 2; counter 2 → 2; counter 3 → 0 …
  assert.deepEqual(picks(roundRobin, f.ctx, f.members(), 6), [0, 2, 2, 0, 2, 2]);
});

test('G2: round robin skips disabled and excluded members', () => {
  const f = makeFixture([{ name: 'web', members: [{ address: '10.0.0.1', enabled: false }, ...ipv4Members(3).slice(1)] }]);
  const c = f.members();
  f.live.excluded[f.member('10.0.0.3').index] = 1;
  assert.deepEqual(picks(roundRobin, f.ctx, c, 4), [1, 1, 1, 1]);
});

test('G2: round robin counter wraps at 2^32', () => {
  const f = makeFixture([{ name: 'web', members: ipv4Members(3) }]);
  const c = f.members();
  f.live.counter[c.counterSlot()] = 0xffffffff;
  assert.equal(roundRobin.pick(f.ctx, c), 0xffffffff % 3);
  assert.equal(f.live.counter[c.counterSlot()], 0);
  assert.equal(roundRobin.pick(f.ctx, c), 0);
});

test('G2: round robin over pools skips pools with no available member', () => {
  const f = makeFixture([
    { name: 'a', members: [{ address: '10.0.1.1' }] },
    { name: 'b', members: [{ address: '10.0.2.1' }] },
    { name: 'c', members: [{ address: '10.0.3.1' }] },
  ]);
  const c = f.pools();
  assert.deepEqual(picks(roundRobin, f.ctx, c, 3), [0, 1, 2]);
  f.setUp('10.0.2.1', false);
  assert.deepEqual(picks(roundRobin, f.ctx, c, 3), [0, 2, 2]);
});

test('G2: round robin returns -1 when nothing is available', () => {
  const f = makeFixture([{ name: 'web', members: ipv4Members(2) }]);
  f.setUp('10.0.0.1', false);
  f.setUp('10.0.0.2', false);
  assert.equal(roundRobin.pick(f.ctx, f.members()), -1);
  assert.equal(roundRobin.pick(f.ctx, f.pools()), -1);
  const empty = makeFixture([{ name: 'v6only', members: [{ address: '2001:db8::1' }] }]);
  assert.equal(roundRobin.pick(empty.ctx, empty.members()), -1); // an A question: no IPv4 member at all
});

test('G7: round robin explains its choice', () => {
  const f = makeFixture([{ name: 'web', members: ipv4Members(2) }]);
  const trace = f.trace();
  roundRobin.pick(f.ctx, f.members());
  assert.equal(trace.steps.length, 1);
  assert.match(trace.steps[0]!.detail, /10\.0\.0\.1/);
});
