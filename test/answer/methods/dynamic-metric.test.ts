import { test } from 'node:test';
import assert from 'node:assert/strict';
import { METRICS, type MetricName } from '../../../src/answer/policy.js';
import { METRIC_METHODS, dynamicMetricMethod } from '../../../src/answer/methods/dynamic-metric.js';
import { methodById } from '../../../src/answer/methods/index.js';
import { makeFixture, type MemberSpec } from '../fixtures.js';

function withMetric(metric: MetricName, values: number[]): MemberSpec[] {
  return values.map((v, i) => ({ address: `10.0.0.${i + 1}`, metrics: { [metric]: v } }));
}

test('G2: one dynamic metric method per metric, named after it', () => {
  assert.deepEqual(METRIC_METHODS.map((m) => m.id), ['packet-rate', 'cpu', 'connections', 'rtt', 'packet-loss', 'hops', 'reported-load']);
  for (const id of METRICS) assert.equal(methodById(id)?.id, id);
  assert.throws(() => dynamicMetricMethod('nope', METRICS.length), /no metric/);
});

for (const metric of METRICS) {
  const method = methodById(metric)!;

  test(`G2: ${metric} picks the member with the lowest ${metric}`, () => {
    const f = makeFixture([{ name: 'web', members: withMetric(metric, [30, 10, 20]) }]);
    assert.equal(method.pick(f.ctx, f.members()), 1);
  });

  test(`G2: ${metric} ignores the other metrics`, () => {
    const other = METRICS.find((m) => m !== metric)!;
    const f = makeFixture([{
      name: 'web',
      members: [
        { address: '10.0.0.1', metrics: { [metric]: 5, [other]: 0 } },
        { address: '10.0.0.2', metrics: { [metric]: 4, [other]: 100 } },
      ],
    }]);
    assert.equal(method.pick(f.ctx, f.members()), 1);
  });

  test(`G2: ${metric} skips unknown (NaN) values and returns -1 when all are unknown`, () => {
    const f = makeFixture([{ name: 'web', members: withMetric(metric, [NaN, 7, NaN, 9]) }]);
    assert.equal(method.pick(f.ctx, f.members()), 1);
    const none = makeFixture([{ name: 'web', members: withMetric(metric, [NaN, NaN]) }]);
    assert.equal(method.pick(none.ctx, none.members()), -1);
    assert.equal(method.pick(none.ctx, none.pools()), -1);
  });
}

test('G2: dynamic metric ties go to the lowest index; zero is a known value', () => {
  const f = makeFixture([{ name: 'web', members: withMetric('rtt', [3, 0, 0]) }]);
  assert.equal(methodById('rtt')!.pick(f.ctx, f.members()), 1);
});

test('G2: dynamic metric skips unavailable members even with the best value', () => {
  const f = makeFixture([{ name: 'web', members: withMetric('cpu', [1, 2, 3]) }]);
  const cpu = methodById('cpu')!;
  f.setUp('10.0.0.1', false);
  assert.equal(cpu.pick(f.ctx, f.members()), 1);
  f.live.excluded[f.member('10.0.0.2').index] = 1;
  assert.equal(cpu.pick(f.ctx, f.members()), 2);
  f.setUp('10.0.0.3', false);
  assert.equal(cpu.pick(f.ctx, f.members()), -1);
});

test('G2: dynamic metric over pools compares the mean of their available members', () => {
  const f = makeFixture([
    { name: 'a', members: [{ address: '10.0.1.1', metrics: { rtt: 10 } }, { address: '10.0.1.2', metrics: { rtt: 50 } }] },
    { name: 'b', members: [{ address: '10.0.2.1', metrics: { rtt: 20 } }] },
    { name: 'c', members: [{ address: '10.0.3.1' }] },
  ]);
  const rtt = methodById('rtt')!;
  assert.equal(rtt.pick(f.ctx, f.pools()), 1); // a: 30, b: 20, c: unknown
  f.setUp('10.0.1.2', false);
  assert.equal(rtt.pick(f.ctx, f.pools()), 0); // a: 10
});

test('G7: dynamic metric explains the value it compared', () => {
  const f = makeFixture([{ name: 'web', members: withMetric('hops', [4, 2]) }]);
  const trace = f.trace();
  methodById('hops')!.pick(f.ctx, f.members());
  assert.match(trace.steps[0]!.detail, /10\.0\.0\.2.*hops.*2/);
});
