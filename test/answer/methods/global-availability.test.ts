import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globalAvailability } from '../../../src/answer/methods/global-availability.js';
import { ipv4Members, makeFixture, picks } from '../fixtures.js';

test('G2: global availability answers the primary while it is up', () => {
  const f = makeFixture([{ name: 'web', members: ipv4Members(3) }]);
  assert.deepEqual(picks(globalAvailability, f.ctx, f.members(), 5), [0, 0, 0, 0, 0]);
});

test('G2: global availability fails over in configured order and back', () => {
  const f = makeFixture([{ name: 'web', members: ipv4Members(3) }]);
  const c = f.members();
  f.setUp('10.0.0.1', false);
  assert.equal(globalAvailability.pick(f.ctx, c), 1);
  f.setUp('10.0.0.2', false);
  assert.equal(globalAvailability.pick(f.ctx, c), 2);
  f.setUp('10.0.0.1', true);
  assert.equal(globalAvailability.pick(f.ctx, c), 0);
  f.live.excluded[f.member('10.0.0.1').index] = 1;
  assert.equal(globalAvailability.pick(f.ctx, c), 2);
});

test('G2: global availability over pools: primary site, then backup site', () => {
  const f = makeFixture([
    { name: 'primary', members: [{ address: '10.0.1.1' }, { address: '10.0.1.2' }] },
    { name: 'backup', members: [{ address: '10.0.2.1' }] },
  ]);
  const c = f.pools();
  assert.equal(globalAvailability.pick(f.ctx, c), 0);
  f.setUp('10.0.1.1', false);
  assert.equal(globalAvailability.pick(f.ctx, c), 0); // one member left is enough
  f.setUp('10.0.1.2', false);
  assert.equal(globalAvailability.pick(f.ctx, c), 1);
});

test('G2: global availability returns -1 when nothing is available', () => {
  const f = makeFixture([{ name: 'web', members: [{ address: '10.0.0.1', enabled: false }, { address: '10.0.0.2' }] }]);
  f.setUp('10.0.0.2', false);
  assert.equal(globalAvailability.pick(f.ctx, f.members()), -1);
  assert.equal(globalAvailability.pick(f.ctx, f.pools()), -1);
});
