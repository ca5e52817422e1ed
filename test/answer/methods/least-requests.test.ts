import { test } from 'node:test';
import assert from 'node:assert/strict';
import { leastRequests } from '../../../src/answer/methods/least-requests.js';
import { REQUEST_DECAY_MS } from '../../../src/answer/live.js';
import { ipv4Members, makeFixture } from '../fixtures.js';

test('G2: least requests picks the member that received the fewest requests', () => {
  const f = makeFixture([{ name: 'web', members: ipv4Members(3) }]);
  const { live, ctx } = f;
  for (let k = 0; k < 5; k++) live.countRequest(f.member('10.0.0.1').index, ctx.now);
  for (let k = 0; k < 2; k++) live.countRequest(f.member('10.0.0.2').index, ctx.now);
  for (let k = 0; k < 3; k++) live.countRequest(f.member('10.0.0.3').index, ctx.now);
  assert.equal(leastRequests.pick(ctx, f.members()), 1);
});

test('G2: least requests breaks ties by configured order', () => {
  const f = makeFixture([{ name: 'web', members: ipv4Members(3) }]);
  assert.equal(leastRequests.pick(f.ctx, f.members()), 0);
  f.live.countRequest(f.member('10.0.0.1').index, f.ctx.now);
  assert.equal(leastRequests.pick(f.ctx, f.members()), 1);
});

test('G2: least requests spreads answers when each answer is counted', () => {
  const f = makeFixture([{ name: 'web', members: ipv4Members(3) }]);
  const c = f.members();
  const seen: number[] = [];
  for (let k = 0; k < 6; k++) {
    const i = leastRequests.pick(f.ctx, c);
    seen.push(i);
    f.live.countRequest(c.slot(i), f.ctx.now);
  }
  assert.deepEqual(seen, [0, 1, 2, 0, 1, 2]);
});

test('G2: least requests counts recent requests: old ones decay', () => {
  const f = makeFixture([{ name: 'web', members: ipv4Members(2) }]);
  const old = f.ctx.now - 10 * REQUEST_DECAY_MS;
  for (let k = 0; k < 100; k++) f.live.countRequest(f.member('10.0.0.1').index, old);
  f.live.countRequest(f.member('10.0.0.2').index, f.ctx.now);
  assert.equal(leastRequests.pick(f.ctx, f.members()), 0); // 100·e^-10 ≈ 0.005 < 1
});

test('G2: least requests skips unavailable members even when they are least loaded', () => {
  const f = makeFixture([{ name: 'web', members: ipv4Members(3) }]);
  f.live.countRequest(f.member('10.0.0.2').index, f.ctx.now);
  f.live.countRequest(f.member('10.0.0.3').index, f.ctx.now);
  f.live.countRequest(f.member('10.0.0.3').index, f.ctx.now);
  f.setUp('10.0.0.1', false);
  assert.equal(leastRequests.pick(f.ctx, f.members()), 1);
  f.live.excluded[f.member('10.0.0.2').index] = 1;
  assert.equal(leastRequests.pick(f.ctx, f.members()), 2);
});

test('G2: least requests over pools sums their members', () => {
  const f = makeFixture([
    { name: 'a', members: [{ address: '10.0.1.1' }, { address: '10.0.1.2' }] },
    { name: 'b', members: [{ address: '10.0.2.1' }] },
  ]);
  f.live.countRequest(f.member('10.0.1.1').index, f.ctx.now);
  f.live.countRequest(f.member('10.0.1.2').index, f.ctx.now);
  for (let k = 0; k < 3; k++) f.live.countRequest(f.member('10.0.2.1').index, f.ctx.now);
  assert.equal(leastRequests.pick(f.ctx, f.pools()), 0); // 2 < 3
});

test('G2: least requests returns -1 when nothing is available', () => {
  const f = makeFixture([{ name: 'web', members: ipv4Members(2) }]);
  f.setUp('10.0.0.1', false);
  f.setUp('10.0.0.2', false);
  assert.equal(leastRequests.pick(f.ctx, f.members()), -1);
  assert.equal(leastRequests.pick(f.ctx, f.pools()), -1);
});
