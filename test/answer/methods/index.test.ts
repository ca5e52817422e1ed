import { test } from 'node:test';
import assert from 'node:assert/strict';
import { METHODS, methodById } from '../../../src/answer/methods/index.js';
import { METRICS } from '../../../src/answer/policy.js';
import { makeFixture } from '../fixtures.js';
import type { Method } from '../../../src/answer/method.js';

/** A topology table whose every rule matches: rule k sends to pool k. */
const everyPool = {
  match(_family: 4 | 6, _words: Uint32Array, out: Int32Array): number { for (let k = 0; k < 3; k++) out[k] = k; return 3; },
  rulePool: (rule: number) => rule,
  rulePrefix: () => 0,
  matchedPrefix: () => 0,
  describe: (rule: number) => `rule ${rule}`,
};

const allMetrics = Object.fromEntries(METRICS.map((m) => [m, 1]));

function fixture() {
  return makeFixture([
    { name: 'a', members: [{ address: '10.0.1.1', metrics: allMetrics }, { address: '10.0.1.2', metrics: allMetrics }, { address: '10.0.1.3', metrics: allMetrics }] },
    { name: 'b', members: [{ address: '10.0.2.1', metrics: allMetrics }] },
    { name: 'c', members: [{ address: '10.0.3.1', metrics: allMetrics }] },
  ], { resolver: '10.0.0.7', topology: everyPool });
}

function levels(m: Method): Array<'pool' | 'member'> {
  return m.level === 'both' ? ['pool', 'member'] : [m.level];
}

test('G2: the registry holds every method by id', () => {
  const ids = ['round-robin', 'ratio', 'weighted', 'global-availability', 'least-requests', 'least-connections',
    'static-stripe', 'topology', 'resolver-hash', ...METRICS];
  assert.deepEqual([...METHODS.keys()].sort(), [...ids].sort());
  for (const [id, m] of METHODS) {
    assert.equal(methodById(id), m);
    if (id !== 'weighted') assert.equal(m.id, id);
  }
  assert.equal(methodById('weighted'), methodById('ratio'));
  assert.equal(methodById('fastest-guess'), undefined);
  assert.equal(methodById('topology')!.level, 'pool');
});

for (const [id, method] of METHODS) {
  for (const level of levels(method)) {
    test(`G2: ${id} (${level}) returns -1 when nothing is available`, () => {
      const f = fixture();
      for (const m of f.policy.members) f.live.up[m.index] = 0;
      const c = level === 'pool' ? f.pools() : f.members();
      const got = method.pick(f.ctx, c);
      if (id === 'static-stripe') {
        assert.notEqual(got, -1); // seed 004: N = 0 → round robin regardless of health
        assert.equal(c.available(got), false);
      } else {
        assert.equal(got, -1);
      }
    });

    test(`G2: ${id} (${level}) never picks an excluded candidate`, () => {
      const f = fixture();
      const c = level === 'pool' ? f.pools() : f.members();
      for (let round = 0; round < 5; round++) {
        for (let keep = 0; keep < c.count; keep++) {
          for (let i = 0; i < c.count; i++) f.live.excluded[c.slot(i)] = i === keep ? 0 : 1;
          assert.equal(method.pick(f.ctx, c), keep);
        }
      }
      for (let i = 0; i < c.count; i++) f.live.excluded[c.slot(i)] = 1;
      assert.equal(method.pick(f.ctx, c), -1);
    });

    test(`G2: ${id} (${level}) returns an available candidate`, () => {
      const f = fixture();
      const c = level === 'pool' ? f.pools() : f.members();
      for (let k = 0; k < 20; k++) {
        const i = method.pick(f.ctx, c);
        assert.ok(i >= 0 && i < c.count && c.available(i), `got ${i}`);
      }
    });
  }
}
