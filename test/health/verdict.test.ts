// H1/H2 at provider scale (issue 10): the verdict book reports what workers cannot assume — monitored members and
// members that are not up, undrained and at full weight — and not every member of every pool at each (re)load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/config/load.js';
import { formatErrors, type Config } from '../../src/config/schema.js';
import { HealthBook, isDefaultHealth } from '../../src/health/verdict.js';
import { checkTargets } from '../../src/health/targets.js';

function config(yaml: string): Config {
  const parsed = parseConfigText(yaml);
  assert.ok(parsed.ok, parsed.ok ? '' : formatErrors(parsed.errors));
  return parsed.value;
}

const MONITORED = `
monitors: [ { name: web, type: tcp, interval: 1s, timeout: 500ms, fall: 1, rise: 1 } ]
pools:
  - { name: plain, members: [ { address: 192.0.2.1 }, { address: 192.0.2.2 } ] }
  - { name: watched, monitor: web, members: [ { address: 192.0.2.3 } ] }
`;
const UNMONITORED = `
pools:
  - { name: plain, members: [ { address: 192.0.2.1 }, { address: 192.0.2.2 } ] }
  - { name: watched, members: [ { address: 192.0.2.3 } ] }
`;

function book(yaml: string, now = 1000): { book: HealthBook; config: Config } {
  const c = config(yaml);
  return { book: new HealthBook(c, checkTargets(c), now), config: c };
}

test('H2: at load, only monitored members are reported; every member is still listed with its health', () => {
  const { book: b } = book(MONITORED);
  assert.deepEqual(b.drainChanges().map((h) => `${h.pool}/${h.member} ${h.detail}`), ['watched/192.0.2.3 not checked yet']);
  assert.equal(b.urgent, false);
  assert.deepEqual(b.all().map((h) => `${h.pool}/${h.member} ${h.up} ${h.detail}`), ['plain/192.0.2.1 true no monitor', 'plain/192.0.2.2 true no monitor', 'watched/192.0.2.3 true not checked yet']);
  assert.deepEqual(b.notDefault(), [], 'a new LiveState agrees with every member');
});

test('H2: a member that goes down is reported at once and sent to every new LiveState; it comes back when its monitor goes', () => {
  const { book: b } = book(MONITORED);
  b.drainChanges();
  b.record('p1', { targetId: 'watched/192.0.2.3/web', ok: false, rttMs: 0, detail: 'refused', at: 2000 });
  assert.equal(b.urgent, true);
  assert.deepEqual(b.drainChanges().map((h) => `${h.member} ${h.up}`), ['192.0.2.3 false']);
  assert.deepEqual(b.notDefault().map((h) => `${h.member} ${h.up}`), ['192.0.2.3 false']);
  const c = config(UNMONITORED);
  b.configure(c, checkTargets(c), 3000);
  assert.deepEqual(b.drainChanges().map((h) => `${h.member} ${h.up}`), ['192.0.2.3 true'], 'no monitor: up again, and workers hear it');
  assert.deepEqual(b.notDefault().map((h) => `${h.member} ${h.up} ${JSON.stringify(h.metrics)}`), ['192.0.2.3 true {"packet-loss":100}'], 'what was measured stays');
});

test('H2: a change not yet reported when the configuration reloads is reported after it', () => {
  const { book: b, config: c } = book(MONITORED);
  b.drainChanges();
  b.record('p1', { targetId: 'watched/192.0.2.3/web', ok: false, rttMs: 0, detail: 'refused', at: 2000 });
  b.record('p1', { targetId: 'watched/192.0.2.3/web', ok: true, rttMs: 3, detail: 'connected', at: 2100 });
  const u = config(UNMONITORED);
  b.configure(u, checkTargets(u), 3000);
  assert.deepEqual(b.drainChanges().map((h) => `${h.member} ${h.up}`), ['192.0.2.3 true']);
  b.configure(c, checkTargets(c), 4000);
  assert.deepEqual(b.drainChanges().map((h) => h.member), ['192.0.2.3'], 'monitored again: reported');
});

test('H4: measured metrics make a member worth telling a new LiveState; the shared empty metrics are never written', () => {
  const { book: b } = book(MONITORED);
  b.record('p1', { targetId: 'watched/192.0.2.3/web', ok: true, rttMs: 7, detail: 'connected', at: 2000 });
  const [h] = b.notDefault();
  assert.equal(h!.metrics.rtt, 7);
  assert.deepEqual(b.all().filter((x) => x.pool === 'plain').map((x) => x.metrics), [{}, {}]);
  assert.ok(isDefaultHealth({ pool: 'p', member: 'm', up: true, drain: false, weightScale: 1, metrics: {}, detail: '', since: 0 }));
  assert.ok(!isDefaultHealth({ pool: 'p', member: 'm', up: true, drain: true, weightScale: 1, metrics: {}, detail: '', since: 0 }));
});
