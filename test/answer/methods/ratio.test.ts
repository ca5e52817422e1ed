import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ratio } from '../../../src/answer/methods/ratio.js';
import { methodById } from '../../../src/answer/methods/index.js';
import { ipv4Members, makeFixture, picks, tally } from '../fixtures.js';

test('G2: ratio 3:1 gives exactly 3 and 1 in every window of 4 consecutive picks', () => {
  const f = makeFixture([{ name: 'web', members: ipv4Members(2, [3, 1]) }]);
  const seq = picks(ratio, f.ctx, f.members(), 400);
  assert.deepEqual(seq.slice(0, 4), [0, 0, 1, 0]); // smooth: the light member is not left to the end
  for (let start = 0; start + 4 <= seq.length; start++) {
    const w = seq.slice(start, start + 4);
    assert.equal(w.filter((i) => i === 0).length, 3, `window at ${start}: ${w.join(',')}`);
    assert.equal(w.filter((i) => i === 1).length, 1, `window at ${start}: ${w.join(',')}`);
  }
});

test('G2: ratio 5:3:2 is exactly proportional over 10k picks', () => {
  const f = makeFixture([{ name: 'web', members: ipv4Members(3, [5, 3, 2]) }]);
  const c = f.members();
  const seq = picks(ratio, f.ctx, c, 10_000);
  const count = (from: number, to: number, i: number): number => seq.slice(from, to).filter((x) => x === i).length;
  assert.deepEqual([count(0, 10_000, 0), count(0, 10_000, 1), count(0, 10_000, 2)], [5000, 3000, 2000]);
  for (let start = 0; start < 10_000; start += 10) {
    assert.deepEqual([count(start, start + 10, 0), count(start, start + 10, 1), count(start, start + 10, 2)], [5, 3, 2]);
  }
});

test('G2: ratio never picks a weight-0 member', () => {
  const f = makeFixture([{ name: 'web', members: ipv4Members(3, [2, 0, 1]) }]);
  const counts = tally(ratio, f.ctx, f.members(), 300);
  assert.equal(counts.get(1), undefined);
  assert.deepEqual([counts.get(0), counts.get(2)], [200, 100]);
  assert.equal(f.live.current[f.member('10.0.0.2').index], 0);
});

test('G2: ratio skips unavailable members and they do not accumulate', () => {
  const f = makeFixture([{ name: 'web', members: ipv4Members(3, [1, 1, 1]) }]);
  const c = f.members();
  const slot = f.member('10.0.0.2').index;
  ratio.pick(f.ctx, c);
  const before = f.live.current[slot];
  f.setUp('10.0.0.2', false);
  const counts = tally(ratio, f.ctx, c, 100);
  assert.equal(counts.get(1), undefined);
  assert.equal(counts.get(0)! + counts.get(2)!, 100);
  assert.ok(Math.abs(counts.get(0)! - counts.get(2)!) <= 2, `${counts.get(0)} vs ${counts.get(2)}`);
  assert.equal(f.live.current[slot], before);
  f.live.excluded[f.member('10.0.0.1').index] = 1;
  assert.deepEqual(picks(ratio, f.ctx, c, 3), [2, 2, 2]);
});

test('G2: ratio over pools weighs each pool by its available members', () => {
  const f = makeFixture([
    { name: 'big', members: [{ address: '10.0.1.1', weight: 2 }, { address: '10.0.1.2', weight: 1 }] },
    { name: 'small', members: [{ address: '10.0.2.1', weight: 1 }] },
  ]);
  const c = f.pools();
  const counts = tally(ratio, f.ctx, c, 400);
  assert.deepEqual([counts.get(0), counts.get(1)], [300, 100]);
  f.setUp('10.0.1.1', false); // big now weighs 1: 1:1
  const after = tally(ratio, f.ctx, c, 400);
  assert.ok(Math.abs(after.get(0)! - after.get(1)!) <= 2, `${after.get(0)} vs ${after.get(1)}`);
});

test('G2: ratio returns -1 when nothing is available or every weight is 0', () => {
  const f = makeFixture([{ name: 'web', members: ipv4Members(2, [1, 1]) }]);
  f.setUp('10.0.0.1', false);
  f.setUp('10.0.0.2', false);
  assert.equal(ratio.pick(f.ctx, f.members()), -1);
  assert.equal(ratio.pick(f.ctx, f.pools()), -1);
  const z = makeFixture([{ name: 'web', members: ipv4Members(2, [0, 0]) }]);
  assert.equal(ratio.pick(z.ctx, z.members()), -1);
});

test('G2: weighted is the same method as ratio', () => {
  assert.equal(methodById('weighted'), ratio);
  assert.equal(methodById('ratio'), ratio);
});
