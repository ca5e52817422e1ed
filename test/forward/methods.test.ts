// The four methods of SPEC P2 over candidate lists, as a daemon's state presents them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { methodOf, type Candidate } from '../../src/forward/methods.js';

const c = (weight: number, active = 0, rtt = NaN): Candidate => ({ weight, active, rtt, current: 0 });

test('P2: smooth weighted round robin spreads weights 5:1:1 as a a b a c a a (no burst of one target)', () => {
  const m = methodOf('weighted-round-robin');
  const list = [c(5), c(1), c(1)];
  const picks = Array.from({ length: 14 }, () => 'abc'[m.pick(list)]).join('');
  assert.equal(picks, 'aabacaaaabacaa');
});

test('P2: least connections takes the fewest open; weighted compares open per unit of weight', () => {
  assert.equal(methodOf('least-connections').pick([c(1, 3), c(1, 1), c(1, 2)]), 1);
  assert.equal(methodOf('weighted-least-connections').pick([c(4, 3), c(1, 1)]), 0, '3/4 < 1/1');
  assert.equal(methodOf('weighted-least-connections').pick([c(2, 3), c(1, 1)]), 1, '3/2 > 1/1');
});

test('P2: equal load ties go to a markedly faster daemon, else in turn', () => {
  const lc = methodOf('least-connections');
  assert.deepEqual([0, 1, 2, 3].map(() => lc.pick([c(1, 0, 1.0), c(1, 0, 5.0)])), [0, 0, 0, 0], 'five times slower loses ties');
  const turn = methodOf('least-connections');
  assert.deepEqual([0, 1, 2, 3].map(() => turn.pick([c(1, 0, 1.0), c(1, 0, 1.1)])), [0, 1, 0, 1], 'jitter does not decide');
  const rr = methodOf('round-robin');
  assert.deepEqual([0, 1, 2, 3, 4].map(() => rr.pick([c(1), c(1), c(1)])), [0, 1, 2, 0, 1]);
});
