import { test } from 'node:test';
import assert from 'node:assert/strict';
import { leastConnections } from '../../../src/answer/methods/dynamic-metric.js';
import { methodById } from '../../../src/answer/methods/index.js';
import { makeFixture } from '../fixtures.js';

test('G2: least connections is registered under its own id', () => {
  assert.equal(methodById('least-connections'), leastConnections);
  assert.equal(leastConnections.id, 'least-connections');
  assert.notEqual(methodById('connections'), leastConnections);
});

test('G2: least connections picks the member with the fewest open connections', () => {
  const f = makeFixture([{
    name: 'web',
    members: [
      { address: '10.0.0.1', metrics: { connections: 12, cpu: 0 } },
      { address: '10.0.0.2', metrics: { connections: 3, cpu: 90 } },
      { address: '10.0.0.3' },
    ],
  }]);
  assert.equal(leastConnections.pick(f.ctx, f.members()), 1);
  f.setUp('10.0.0.2', false);
  assert.equal(leastConnections.pick(f.ctx, f.members()), 0);
  f.setUp('10.0.0.1', false);
  assert.equal(leastConnections.pick(f.ctx, f.members()), -1); // 10.0.0.3 reports no connection count
});
