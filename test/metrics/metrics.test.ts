// C3: Prometheus metrics — worker counters on the query path, the delta shipped to the supervisor, and the
// aggregated exposition; plus the sampled per-name query log. Real servers and real DNS messages throughout.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { assertAllocatesNothing } from '../allocation.js';
import { startServer, query, udpExchange, header, decode, buildQuery, ROOT, type InProcessServer } from '../harness.js';
import { parseConfigText, loadZones, compileSnapshot } from '../../src/config/load.js';
import { QueryCounters, emptyDelta, LATENCY_BUCKETS_US, NO_ZONE, type CounterDelta } from '../../src/metrics/counters.js';
import { MetricsAggregator, type HealthSource } from '../../src/metrics/registry.js';
import type { QueryLogLine } from '../../src/metrics/query-log.js';
import type { ResponderCounters } from '../../src/dns/responder.js';
import { TYPE, RCODE } from '../../src/wire/types.js';

const CONFIG = `
server: { rrl: { enabled: false } }
zones:
  - origin: metrics.test
    ns: [ns1]
    records:
      - { name: ns1, type: A, value: 127.0.0.53 }
      - { name: static, type: A, value: 192.0.2.1 }
names:
  - name: www.metrics.test
    pools: [eu, us]
    select: [global-availability]
    persistence: { ttl: 300s }
  - name: api.metrics.test
    pools: [us]
    select: [global-availability]
pools:
  - { name: eu, select: [ratio], members: [ { address: 198.51.100.1 } ] }
  - { name: us, select: [round-robin], members: [ { address: 203.0.113.1 }, { address: 203.0.113.2 } ] }
`;

const servers: InProcessServer[] = [];
after(async () => { for (const s of servers) await s.close(); });

async function serve(yaml = CONFIG): Promise<InProcessServer> {
  const s = await startServer(yaml);
  servers.push(s);
  // Start from zero: the harness may have sent nothing, but make the test independent of that.
  s.server.responder.metrics.snapshotAndReset();
  return s;
}

/** Prometheus text → samples keyed `name{a="x",b="y"}` with labels sorted by name. */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels = [...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!] as const);
    samples.set(key(m[1]!, Object.fromEntries(labels)), Number(m[3]));
  }
  return samples;
}

function key(name: string, labels: Record<string, string> = {}): string {
  const parts = Object.keys(labels).sort().map((k) => `${k}="${labels[k]}"`);
  return parts.length > 0 ? `${name}{${parts.join(',')}}` : name;
}

async function exposition(agg: MetricsAggregator): Promise<Map<string, number>> {
  return parseExposition(await agg.metrics());
}

function sumOf(samples: Map<string, number>, name: string): number {
  let n = 0;
  for (const [k, v] of samples) if (k === name || k.startsWith(`${name}{`)) n += v;
  return n;
}

/** The mix of responses the first tests count: 9 responses, one of each interesting kind. */
async function sendMix(port: number): Promise<void> {
  for (let i = 0; i < 3; i++) assert.equal((await query(port, 'www.metrics.test')).rcode, 'NOERROR');
  assert.equal((await query(port, 'www.metrics.test', { type: 'AAAA' })).rcode, 'NOERROR'); // NODATA: no IPv6 member
  assert.equal((await query(port, 'static.metrics.test')).rcode, 'NOERROR');
  assert.equal((await query(port, 'static.metrics.test', { type: 'MX' })).rcode, 'NOERROR');
  assert.equal((await query(port, 'nope.metrics.test')).rcode, 'NXDOMAIN');
  assert.equal((await query(port, 'www.elsewhere.test')).rcode, 'REFUSED');
  // A header announcing a question that is not there.
  const formerr = await udpExchange(port, header(0x4242, 0, 1));
  assert.ok(formerr);
  assert.equal(decode(formerr).rcode, 'FORMERR');
}

test('C3: queries by zone, qtype and rcode, counted in the worker and exposed exactly', async () => {
  const s = await serve();
  await sendMix(s.port);
  const delta = s.server.responder.metrics.snapshotAndReset();
  const agg = new MetricsAggregator({ defaultMetrics: false });
  agg.add(delta);
  const m = await exposition(agg);
  const q = (zone: string, qtype: string, rcode: string): number | undefined => m.get(key('waymark_queries_total', { zone, qtype, rcode }));
  assert.equal(q('metrics.test', 'A', 'NOERROR'), 4);
  assert.equal(q('metrics.test', 'AAAA', 'NOERROR'), 1);
  assert.equal(q('metrics.test', 'MX', 'NOERROR'), 1);
  assert.equal(q('metrics.test', 'A', 'NXDOMAIN'), 1);
  assert.equal(q(NO_ZONE, 'A', 'REFUSED'), 1);
  assert.equal(q(NO_ZONE, 'other', 'FORMERR'), 1);
  assert.equal(sumOf(m, 'waymark_queries_total'), 9);
  // Per policy name: the three A and the AAAA (NODATA) of www.
  assert.equal(m.get(key('waymark_name_queries_total', { name: 'www.metrics.test', rcode: 'NOERROR' })), 4);
  assert.equal(sumOf(m, 'waymark_name_queries_total'), 4);
  // Every message took one of the two parser paths; none was dropped or failed.
  assert.equal(m.get(key('waymark_responder_messages_total', { path: 'fast' }))! + m.get(key('waymark_responder_messages_total', { path: 'general' }))!, 9);
  assert.equal(m.get(key('waymark_responder_messages_total', { path: 'dropped' })), 0);
  assert.equal(m.get(key('waymark_responder_messages_total', { path: 'error' })), 0);
  // The delta itself is plain JSON with only non-zero cells.
  assert.deepEqual(JSON.parse(JSON.stringify(delta)), delta);
  assert.ok(delta.queries.every(([, , , n]) => n > 0));
});

test('C3: the latency histogram is cumulative, and _count equals the number of responses', async () => {
  const s = await serve();
  await sendMix(s.port);
  const delta = s.server.responder.metrics.snapshotAndReset();
  const agg = new MetricsAggregator({ defaultMetrics: false });
  agg.add(delta);
  const text = await agg.metrics();
  assert.match(text, /# TYPE waymark_answer_latency_seconds histogram/);
  const m = parseExposition(text);
  const les = [...LATENCY_BUCKETS_US.map((us) => String(us / 1e6)), '+Inf'];
  const buckets = les.map((le) => m.get(key('waymark_answer_latency_seconds_bucket', { le })));
  assert.ok(buckets.every((b) => b !== undefined), JSON.stringify(buckets));
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]! >= buckets[i - 1]!, `bucket ${les[i]} < ${les[i - 1]}: ${buckets.join(' ')}`);
  assert.equal(buckets.at(-1), 9);
  assert.equal(m.get('waymark_answer_latency_seconds_count'), 9);
  const sum = m.get('waymark_answer_latency_seconds_sum')!;
  assert.ok(sum > 0 && sum < 9 * 0.1, `sum ${sum}`);
  // The delta's buckets are per bucket: they add up to the count.
  assert.equal(delta.latency.buckets.reduce((a, b) => a + b, 0), 9);
  assert.equal(delta.latency.buckets.length, LATENCY_BUCKETS_US.length + 1);
});

test('C3/G5: decisions by method and persistence hits and misses', async () => {
  const s = await serve();
  // www: persistence. The first query misses and balances (global-availability picks pool eu, ratio its member);
  // the next two hit the record.
  for (let i = 0; i < 3; i++) await query(s.port, 'www.metrics.test');
  // api: no persistence; global-availability picks pool us, round robin its member, twice.
  for (let i = 0; i < 2; i++) await query(s.port, 'api.metrics.test');
  const agg = new MetricsAggregator({ defaultMetrics: false });
  agg.add(s.server.responder.metrics.snapshotAndReset());
  const m = await exposition(agg);
  const d = (level: string, method: string): number | undefined => m.get(key('waymark_decisions_total', { level, method }));
  assert.equal(d('name', 'persistence'), 2);
  assert.equal(d('pool', 'global-availability'), 3);
  assert.equal(d('member', 'ratio'), 1);
  assert.equal(d('member', 'round-robin'), 2);
  assert.equal(sumOf(m, 'waymark_decisions_total'), 8);
  assert.equal(m.get(key('waymark_persistence_total', { result: 'hit' })), 2);
  assert.equal(m.get(key('waymark_persistence_total', { result: 'miss' })), 1);
  assert.equal(m.get(key('waymark_member_answers_total', { pool: 'eu', member: '198.51.100.1' })), 3);
  assert.equal(sumOf(m, 'waymark_member_answers_total'), 5);
});

test('C3: a name with every member down is decided by the fallback', async () => {
  const s = await serve(`${CONFIG.replace('select: [global-availability]\n    persistence: { ttl: 300s }', 'select: [global-availability]\n    fallback: { address: 192.0.2.99 }')}`);
  for (const member of ['198.51.100.1']) s.server.responder.engine!.applyHealth([{ pool: 'eu', member, up: false, drain: false, weightScale: 1, metrics: {}, detail: 'test', since: 0 }]);
  for (const member of ['203.0.113.1', '203.0.113.2']) s.server.responder.engine!.applyHealth([{ pool: 'us', member, up: false, drain: false, weightScale: 1, metrics: {}, detail: 'test', since: 0 }]);
  assert.deepEqual((await query(s.port, 'www.metrics.test')).answers.map((a) => a.data), ['192.0.2.99']);
  const agg = new MetricsAggregator({ defaultMetrics: false });
  agg.add(s.server.responder.metrics.snapshotAndReset());
  const m = await exposition(agg);
  assert.equal(m.get(key('waymark_decisions_total', { level: 'name', method: 'fallback' })), 1);
  assert.equal(sumOf(m, 'waymark_decisions_total'), 1);
  assert.equal(sumOf(m, 'waymark_member_answers_total'), 0);
});

test('C3: deltas from two workers add up, and each worker\'s responses are counted under its number', async () => {
  const s = await serve();
  await sendMix(s.port);
  const first = s.server.responder.metrics.snapshotAndReset();
  await sendMix(s.port);
  const second = s.server.responder.metrics.snapshotAndReset();
  const one = new MetricsAggregator({ defaultMetrics: false });
  one.add(first);
  const single = await exposition(one);
  const both = new MetricsAggregator({ defaultMetrics: false });
  both.add(first, 1);
  both.add(JSON.parse(JSON.stringify(second)) as CounterDelta, 2); // as it arrives over IPC
  const m = await exposition(both);
  const perWorker = sumOf(single, 'waymark_queries_total');
  assert.deepEqual([m.get(key('waymark_worker_responses_total', { worker: '1' })), m.get(key('waymark_worker_responses_total', { worker: '2' }))], [perWorker, perWorker], 'each worker\'s responses under its own number');
  assert.equal(single.get(key('waymark_worker_responses_total', { worker: '1' })), undefined, 'a delta of no known worker is counted in the totals only');
  assert.equal(m.get(key('waymark_queries_total', { zone: 'metrics.test', qtype: 'A', rcode: 'NOERROR' })), 8);
  assert.equal(m.get(key('waymark_name_queries_total', { name: 'www.metrics.test', rcode: 'NOERROR' })), 8);
  assert.equal(m.get('waymark_answer_latency_seconds_count'), 18);
  assert.equal(m.get(key('waymark_answer_latency_seconds_bucket', { le: '+Inf' })), 18);
  assert.equal(sumOf(m, 'waymark_queries_total'), 2 * sumOf(single, 'waymark_queries_total'));
  // The second worker's sequence hit persistence three times (the record from the first run is timely).
  assert.equal(m.get(key('waymark_persistence_total', { result: 'hit' })), 2 + 3);
  assert.equal(m.get(key('waymark_persistence_total', { result: 'miss' })), 1);
  // Nothing counted twice: after a delta the worker's counters start from zero.
  assert.deepEqual(s.server.responder.metrics.snapshotAndReset().queries, []);
});

test('C3: counts made before a snapshot swap keep their labels', async () => {
  const s = await serve();
  await query(s.port, 'www.metrics.test');
  await query(s.port, 'static.metrics.test');
  // A reload: a new snapshot (new zone objects, new indexes) with one name fewer.
  const parsed = parseConfigText(CONFIG.replace(/  - name: api\.metrics\.test\n.*\n.*\n/, ''));
  assert.ok(parsed.ok);
  const loaded = loadZones(parsed.value, ROOT, null);
  assert.ok(loaded.ok);
  const snap = compileSnapshot(loaded.value, 2);
  assert.ok(snap.ok);
  s.server.swap(snap.value);
  await query(s.port, 'www.metrics.test');
  const agg = new MetricsAggregator({ defaultMetrics: false });
  agg.add(s.server.responder.metrics.snapshotAndReset());
  const m = await exposition(agg);
  assert.equal(m.get(key('waymark_queries_total', { zone: 'metrics.test', qtype: 'A', rcode: 'NOERROR' })), 3);
  assert.equal(m.get(key('waymark_name_queries_total', { name: 'www.metrics.test', rcode: 'NOERROR' })), 2);
  assert.equal(m.get(key('waymark_member_answers_total', { pool: 'eu', member: '198.51.100.1' })), 2);
});

test('C3: RRL and responder message counts are shipped as deltas of their running totals', () => {
  const messages: ResponderCounters = { queries: 0, fast: 10, general: 2, dropped: 1, early: 0, errors: 0, rcodes: new Uint32Array(32) };
  const c = new QueryCounters(messages);
  const stats = { passed: 5, dropped: 2, slipped: 1 };
  c.rrl = stats;
  let d = c.snapshotAndReset();
  assert.deepEqual(d.rrl, { passed: 5, dropped: 2, slipped: 1 });
  assert.deepEqual(d.messages, { fast: 10, general: 2, dropped: 1, errors: 0 });
  stats.passed = 9;
  messages.fast = 11;
  d = c.snapshotAndReset();
  assert.deepEqual(d.rrl, { passed: 4, dropped: 0, slipped: 0 });
  assert.deepEqual(d.messages, { fast: 1, general: 0, dropped: 0, errors: 0 });
  const agg = new MetricsAggregator({ defaultMetrics: false });
  agg.add(d);
  agg.add(d);
  return exposition(agg).then((m) => {
    assert.equal(m.get(key('waymark_rrl_responses_total', { action: 'passed' })), 8);
    assert.equal(m.get(key('waymark_rrl_responses_total', { action: 'dropped' })), 0);
    assert.equal(m.get(key('waymark_responder_messages_total', { path: 'fast' })), 2);
  });
});

test('C3: counting a response allocates nothing', async () => {
  const s = await serve();
  const counters = s.server.responder.metrics;
  const zone = s.server.snapshot.zones[0]!;
  const run = (n: number): void => {
    for (let i = 0; i < n; i++) {
      counters.count((i & 7) === 0 ? null : zone, (i & 3) === 0 ? TYPE.AAAA : TYPE.A, (i & 15) === 0 ? RCODE.NXDOMAIN : RCODE.NOERROR, (i & 1) === 0 ? 0 : -1, (i & 255) * 0.0001);
    }
  };
  const calls = assertAllocatesNothing(run, 1_000_000);
  const d = counters.snapshotAndReset();
  assert.equal(d.latency.buckets.reduce((a, b) => a + b, 0), calls);
});

test('C3: member health, verdict changes, probers and workers come from their sources at scrape time', async () => {
  const history: Array<{ at: number; pool: string; member: string; up: boolean; detail: string }> = [
    { at: 1, pool: 'eu', member: '198.51.100.1', up: false, detail: 'timeout' },
    { at: 2, pool: 'eu', member: '198.51.100.1', up: true, detail: 'ok' },
  ];
  const source: HealthSource = {
    health: () => [
      { pool: 'eu', member: '198.51.100.1', up: true, drain: false, weightScale: 1, metrics: {}, detail: 'ok', since: 2 },
      { pool: 'us', member: '203.0.113.1', up: false, drain: false, weightScale: 1, metrics: {}, detail: 'refused', since: 3 },
    ],
    history: () => history,
    probers: () => [
      { name: 'local', capacity: 100, assigned: 3, primaryFor: 3, state: 'active', lastSeen: 0 },
      { name: 'p2', capacity: 100, assigned: 0, primaryFor: 0, state: 'draining', lastSeen: 0 },
      { name: 'p3', capacity: 1, assigned: 1, primaryFor: 1, state: 'active', lastSeen: 0 },
    ],
  };
  const agg = new MetricsAggregator({ defaultMetrics: false });
  agg.setSources({ health: () => source, workers: () => 2 });
  let m = await exposition(agg);
  assert.equal(m.get(key('waymark_member_up', { pool: 'eu', member: '198.51.100.1' })), 1);
  assert.equal(m.get(key('waymark_member_up', { pool: 'us', member: '203.0.113.1' })), 0);
  assert.equal(m.get(key('waymark_health_verdict_changes_total', { pool: 'eu', member: '198.51.100.1', to: 'down' })), 1);
  assert.equal(m.get(key('waymark_health_verdict_changes_total', { pool: 'eu', member: '198.51.100.1', to: 'up' })), 1);
  assert.equal(m.get(key('waymark_probers', { state: 'active' })), 2);
  assert.equal(m.get(key('waymark_probers', { state: 'draining' })), 1);
  assert.equal(m.get(key('waymark_probers', { state: 'dead' })), 0);
  assert.equal(m.get('waymark_workers'), 2);
  // Only changes appended since the last scrape are added, also when the book has dropped its oldest entries.
  history.push({ at: 3, pool: 'us', member: '203.0.113.1', up: false, detail: 'refused' });
  history.shift();
  m = await exposition(agg);
  assert.equal(m.get(key('waymark_health_verdict_changes_total', { pool: 'eu', member: '198.51.100.1', to: 'up' })), 1);
  assert.equal(m.get(key('waymark_health_verdict_changes_total', { pool: 'us', member: '203.0.113.1', to: 'down' })), 1);
  assert.equal(sumOf(m, 'waymark_health_verdict_changes_total'), 3);
});

test('C3: default process metrics of the supervisor are exposed', async () => {
  const agg = new MetricsAggregator();
  const text = await agg.metrics();
  assert.match(text, /^process_cpu_user_seconds_total \d/m);
  assert.match(text, /^nodejs_heap_size_used_bytes \d/m);
  assert.equal(agg.contentType.split(';')[0], 'text/plain');
});

test('C3: an hour of per-name queries/s and per-member answers/s at 10 s steps', () => {
  let now = 1_000_000_000_000; // a step boundary
  const agg = new MetricsAggregator({ defaultMetrics: false, clock: () => now });
  const delta = (names: number, answers: number): CounterDelta => ({
    ...emptyDelta(),
    names: [['www.metrics.test', 'NOERROR', names]],
    answers: [['eu', '198.51.100.1', answers]],
  });
  assert.deepEqual(agg.series(), { names: {}, members: {}, step: 10 });
  agg.add(delta(50, 40));
  now += 5_000;
  agg.add(delta(50, 40));
  now += 5_000; // the first step ends
  agg.add(delta(20, 0));
  now += 20_000; // the second ends, and a third with nothing
  let s = agg.series();
  assert.deepEqual(s.names['www.metrics.test'], [10, 2, 0]);
  assert.deepEqual(s.members['eu/198.51.100.1'], [8, 0, 0]);
  // After an hour and more of silence the keys are gone, and at most an hour of steps is kept.
  now += 2 * 3600_000;
  s = agg.series();
  assert.deepEqual(s.names, {});
  agg.add(delta(10, 10));
  now += 10_000;
  s = agg.series();
  assert.equal(s.names['www.metrics.test']!.length, 360);
  assert.equal(s.names['www.metrics.test']!.at(-1), 1);
  assert.equal(s.names['www.metrics.test']!.at(-2), 0);
});

test('C3: the query log writes sampled JSON lines for listed policy names only', async () => {
  const s = await serve();
  const lines: QueryLogLine[] = [];
  const log = s.server.responder.queryLog;
  log.configure({ names: ['WWW.metrics.test.'], sample: 1 }, (line) => lines.push(line));
  await query(s.port, 'www.metrics.test');
  await query(s.port, 'www.metrics.test');
  await query(s.port, 'api.metrics.test'); // not listed
  await query(s.port, 'static.metrics.test'); // not a policy name
  assert.equal(lines.length, 2);
  assert.deepEqual(lines[0], { client: '127.0.0.1', name: 'www.metrics.test', qtype: 'A', rcode: 'NOERROR', answers: ['198.51.100.1'], method: 'ratio', poolMethod: 'global-availability' });
  assert.deepEqual(lines[1], { client: '127.0.0.1', name: 'www.metrics.test', qtype: 'A', rcode: 'NOERROR', answers: ['198.51.100.1'], method: 'persistence' });
  // Sampling: about a tenth of the queries.
  lines.length = 0;
  log.configure({ names: ['www.metrics.test'], sample: 0.1 }, (line) => lines.push(line));
  const responder = s.server.responder;
  const msg = buildQuery('www.metrics.test');
  for (let i = 0; i < 5000; i++) responder.respond(msg, 0, '127.0.0.9');
  assert.ok(lines.length > 350 && lines.length < 650, `${lines.length} of 5000 logged at 0.1`);
  // Switched off: nothing, and the query path does not even look.
  lines.length = 0;
  log.configure(undefined, (line) => lines.push(line));
  assert.equal(log.enabled, false);
  await query(s.port, 'www.metrics.test');
  assert.equal(lines.length, 0);
  // Names that are not policy names are reported, so the worker can warn.
  log.configure({ names: ['static.metrics.test', 'www.metrics.test'], sample: 1 }, () => {});
  assert.deepEqual(log.unmatched(), ['static.metrics.test']);
});

test('C3: queryLog in the configuration is validated with the path of the bad field', () => {
  const ok = parseConfigText('queryLog: { names: [www.example.test], sample: 0.1 }\n');
  assert.ok(ok.ok);
  assert.deepEqual(ok.value.queryLog, { names: ['www.example.test'], sample: 0.1 });
  const bad = parseConfigText('queryLog: { names: [www.example.test], sample: 2 }\n');
  assert.ok(!bad.ok);
  assert.equal(bad.errors[0]!.path, 'queryLog.sample');
  const defaults = parseConfigText('queryLog: { names: [www.example.test] }\n');
  assert.ok(defaults.ok);
  assert.equal(defaults.value.queryLog!.sample, 1);
});
