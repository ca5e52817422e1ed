// H3 distributed probers: signing, the assignment function, the probe scheduler, and the distributor with real
// prober processes probing real TCP/HTTP backends on 127.0.0.x. Nothing here mocks the network.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT } from '../harness.js';
import { monitorSchema, type MonitorSpec } from '../../src/config/schema.js';
import type { CheckTarget } from '../../src/health/targets.js';
import { Prober, type ProbeReport } from '../../src/health/prober.js';
import { Distributor, assignTargets, API_PREFIX } from '../../src/health/distributor.js';
import { NONCE_HEADER, RESPONSE_METHOD, SIGNATURE_HEADER, TIMESTAMP_HEADER, Verifier, responsePath, sign } from '../../src/health/signing.js';
import { runProberProcess } from '../../src/cli/prober.js';

const TOKEN = 'h3-test-token-0123456789abcdef';
/** The real CLI: `waymark prober`. */
const ENTRY = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');

async function waitFor(what: string, cond: () => boolean, timeoutMs: number, stepMs = 20, detail?: () => string): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (cond()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting for: ${what}${detail ? `; ${detail()}` : ''}`);
}
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** A delay that does not keep the process alive (for races against an exit). */
const deadline = (ms: number): Promise<'timeout'> => new Promise((r) => setTimeout(() => r('timeout'), ms).unref());

/** A monitor spec as configuration would produce it, with a test-sized interval and timeout. */
function monitor(raw: Record<string, unknown>, intervalMs: number, timeoutMs: number): MonitorSpec {
  return { ...monitorSchema.parse(raw), interval: intervalMs, timeout: timeoutMs };
}

interface TcpBackend { server: net.Server; address: string; port: number; connections: number; close(): Promise<void> }
async function tcpBackend(address: string): Promise<TcpBackend> {
  const b = { connections: 0 } as TcpBackend;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    b.connections++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    s.end();
  });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  b.server = server;
  b.address = address;
  b.port = (server.address() as net.AddressInfo).port;
  b.close = () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); });
  return b;
}

interface HttpBackend { address: string; port: number; requests: number; close(): Promise<void> }
async function httpBackend(address: string): Promise<HttpBackend> {
  const b = { requests: 0 } as HttpBackend;
  const server = http.createServer((req, res) => {
    b.requests++;
    res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
    res.end('ok\n');
  });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  b.address = address;
  b.port = (server.address() as net.AddressInfo).port;
  b.close = () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  return b;
}

function target(pool: string, member: string, spec: MonitorSpec, address: string, port: number): CheckTarget {
  return { id: `${pool}/${member}/${spec.name}`, pool, member, monitor: spec, address, port };
}

// ---------------------------------------------------------------------------------------------------------------

describe('H3 signing', () => {
  const body = JSON.stringify({ name: 'p1', capacity: 10 });

  test('H3: a signed request verifies once; the same nonce again is a replay', () => {
    const v = new Verifier(TOKEN);
    const h = sign(TOKEN, 'POST', '/v1/probers/join', body, 1_000_000);
    assert.match(h[NONCE_HEADER]!, /^[0-9a-f]{32}$/);
    assert.match(h[SIGNATURE_HEADER]!, /^[0-9a-f]{64}$/);
    assert.equal(h[TIMESTAMP_HEADER], '1000000');
    assert.deepEqual(v.verify('POST', '/v1/probers/join', body, h, 1_000_500), { ok: true });
    assert.deepEqual(v.verify('POST', '/v1/probers/join', body, h, 1_000_600), { ok: false, reason: 'replayed nonce' });
  });

  test('H3: wrong token, changed method, path or body, and missing headers are refused', () => {
    const v = new Verifier(TOKEN);
    const now = 5_000_000;
    const bad = (h: Record<string, string>, method = 'POST', p = '/v1/probers/join', b = body) => v.verify(method, p, b, h, now);
    assert.deepEqual(bad(sign('another-token-0123456789', 'POST', '/v1/probers/join', body, now)), { ok: false, reason: 'bad signature' });
    assert.equal(bad(sign(TOKEN, 'POST', '/v1/probers/join', body, now), 'PUT').ok, false);
    assert.equal(bad(sign(TOKEN, 'POST', '/v1/probers/join', body, now), 'POST', '/v1/probers/leave').ok, false);
    assert.equal(bad(sign(TOKEN, 'POST', '/v1/probers/join', body, now), 'POST', '/v1/probers/join', body.replace('10', '11')).ok, false);
    const h = sign(TOKEN, 'POST', '/v1/probers/join', body, now);
    assert.deepEqual(bad({ [TIMESTAMP_HEADER]: h[TIMESTAMP_HEADER]!, [NONCE_HEADER]: h[NONCE_HEADER]! }), { ok: false, reason: 'missing signature headers' });
    assert.deepEqual(bad({ ...h, [SIGNATURE_HEADER]: 'zz' }), { ok: false, reason: 'malformed signature' });
    // Refusals remember nothing: the genuine message still verifies afterwards.
    assert.deepEqual(bad(h), { ok: true });
    assert.equal(v.remembered, 1);
  });

  test('H3: timestamps more than 30 s off are refused, both ways', () => {
    const v = new Verifier(TOKEN);
    const now = 10_000_000;
    assert.deepEqual(v.verify('POST', '/p', body, sign(TOKEN, 'POST', '/p', body, now - 30_001), now), { ok: false, reason: 'timestamp outside the accepted window' });
    assert.deepEqual(v.verify('POST', '/p', body, sign(TOKEN, 'POST', '/p', body, now + 30_001), now), { ok: false, reason: 'timestamp outside the accepted window' });
    assert.deepEqual(v.verify('POST', '/p', body, sign(TOKEN, 'POST', '/p', body, now - 29_000), now), { ok: true });
  });

  test('H3: the nonce memory is bounded: full means refused, and old nonces are forgotten', () => {
    const v = new Verifier(TOKEN, { maxNonces: 3 });
    const t0 = 20_000_000;
    for (let i = 0; i < 3; i++) assert.deepEqual(v.verify('POST', '/p', body, sign(TOKEN, 'POST', '/p', body, t0), t0 + i), { ok: true });
    assert.deepEqual(v.verify('POST', '/p', body, sign(TOKEN, 'POST', '/p', body, t0), t0 + 10), { ok: false, reason: 'too many recent messages; retry later' });
    assert.equal(v.remembered, 3);
    const later = t0 + 61_100;
    assert.deepEqual(v.verify('POST', '/p', body, sign(TOKEN, 'POST', '/p', body, later), later), { ok: true });
    assert.equal(v.remembered, 1);
  });

  test('H3: a response is bound to its request nonce', () => {
    const v = new Verifier(TOKEN);
    const req = sign(TOKEN, 'POST', '/v1/probers/report', '{}');
    const resBody = '{"version":1}';
    const res = sign(TOKEN, RESPONSE_METHOD, responsePath('/v1/probers/report', req[NONCE_HEADER]!), resBody);
    const other = sign(TOKEN, 'POST', '/v1/probers/report', '{}');
    assert.equal(v.verify(RESPONSE_METHOD, responsePath('/v1/probers/report', other[NONCE_HEADER]!), resBody, res).ok, false);
    assert.equal(v.verify(RESPONSE_METHOD, responsePath('/v1/probers/report', req[NONCE_HEADER]!), resBody, res).ok, true);
  });
});

describe('H3 assignment (rendezvous hashing within capacity)', () => {
  const ids = Array.from({ length: 1000 }, (_, i) => `pool${i % 7}/10.0.${i >> 8}.${i & 255}/mon`);
  const probers = (names: string[], capacity = Infinity) => names.map((name) => ({ name, capacity }));

  test('H3: every target gets `replicas` distinct probers, independent of input order', () => {
    const a = assignTargets(ids, probers(['a', 'b', 'c', 'd']), 2);
    const b = assignTargets([...ids].reverse(), probers(['d', 'c', 'b', 'a']), 2);
    assert.deepEqual([...a.entries()], [...b.entries()]);
    for (const owners of a.values()) {
      assert.equal(owners.length, 2);
      assert.equal(new Set(owners).size, 2);
    }
    // Load is spread: each prober holds about 2/4 of the targets.
    const load = new Map<string, number>();
    for (const owners of a.values()) for (const o of owners) load.set(o, (load.get(o) ?? 0) + 1);
    for (const n of load.values()) assert.ok(n > 400 && n < 600, `load ${n}`);
  });

  test('H3: adding a prober moves only about 1/n of the targets, all to the newcomer', () => {
    const before = assignTargets(ids, probers(['a', 'b', 'c', 'd']), 2);
    const after = assignTargets(ids, probers(['a', 'b', 'c', 'd', 'e']), 2);
    let primaryMoved = 0;
    for (const id of ids) {
      const was = before.get(id)!;
      const now = after.get(id)!;
      if (was[0] !== now[0]) {
        primaryMoved++;
        assert.equal(now[0], 'e');
      }
      if (!now.includes('e')) assert.deepEqual(now, was);
      else assert.ok(now.filter((o) => o !== 'e').every((o) => was.includes(o)), 'at most one owner replaced');
    }
    assert.ok(primaryMoved > 130 && primaryMoved < 270, `primary moved for ${primaryMoved} of 1000 (expected ~200)`);
  });

  test('H3: removing a prober moves only its targets', () => {
    const before = assignTargets(ids, probers(['a', 'b', 'c', 'd']), 2);
    const after = assignTargets(ids, probers(['a', 'b', 'd']), 2);
    for (const id of ids) {
      const was = before.get(id)!;
      if (!was.includes('c')) assert.deepEqual(after.get(id), was);
      else assert.ok(was.filter((o) => o !== 'c').every((o) => after.get(id)!.includes(o)));
    }
  });

  test('H3: capacity is respected; with too few probers targets get what there is', () => {
    const a = assignTargets(ids, [{ name: 'small', capacity: 2 }, ...probers(['a', 'b'])], 2);
    let small = 0;
    for (const owners of a.values()) {
      assert.equal(owners.length, 2);
      if (owners.includes('small')) small++;
    }
    assert.equal(small, 2);
    const one = assignTargets(ids.slice(0, 5), probers(['a']), 3);
    for (const owners of one.values()) assert.deepEqual(owners, ['a']);
    const none = assignTargets(ids.slice(0, 5), [], 2);
    for (const owners of none.values()) assert.deepEqual(owners, []);
  });
});

describe('H1/H3 probe scheduler', () => {
  test('H1: probes each target every interval against a real backend; re-assigning keeps timers; removing stops', async () => {
    const backend = await tcpBackend('127.0.0.6');
    const reports: ProbeReport[] = [];
    const prober = new Prober({ onResult: (r) => reports.push(r) });
    try {
      const spec = monitor({ name: 'tcp', type: 'tcp' }, 100, 80);
      const t1 = target('p', '127.0.0.6:a', spec, backend.address, backend.port);
      const t2 = target('p', '127.0.0.6:b', spec, backend.address, backend.port);
      prober.assign([t1, t2]);
      assert.equal(prober.assigned, 2);
      // Re-assigning the same set often must not cause extra probes.
      const start = Date.now();
      while (Date.now() - start < 560) { prober.assign([t2, t1]); await delay(15); }
      const count = (id: string) => reports.filter((r) => r.targetId === id).length;
      for (const t of [t1, t2]) assert.ok(count(t.id) >= 4 && count(t.id) <= 7, `${t.id}: ${count(t.id)} probes in 560 ms at 100 ms`);
      assert.ok(reports.every((r) => r.ok), JSON.stringify(reports.find((r) => !r.ok)));
      prober.assign([t1]);
      const n2 = count(t2.id);
      await delay(250);
      assert.equal(count(t2.id), n2, 'removed target is no longer probed');
      assert.ok(count(t1.id) > 6);
    } finally {
      await prober.stop();
      await backend.close();
    }
  });

  test('H1: a probe never overlaps the previous one of the same target; stop() waits for it', async () => {
    let running = 0;
    let maxRunning = 0;
    const starts: number[] = [];
    const prober = new Prober({
      onResult: () => {},
      probe: async () => {
        running++; maxRunning = Math.max(maxRunning, running); starts.push(Date.now());
        await delay(150);
        running--;
        return { ok: true, rttMs: 150, detail: 'slow' };
      },
    });
    const spec = monitor({ name: 'tcp', type: 'tcp' }, 50, 400);
    prober.assign([target('p', 'm', spec, '127.0.0.1', 9)]);
    await delay(500);
    await prober.stop();
    assert.equal(running, 0, 'stop() waited for the probe in flight');
    assert.equal(maxRunning, 1);
    for (let i = 1; i < starts.length; i++) assert.ok(starts[i]! - starts[i - 1]! >= 145, 'next probe starts after the previous ends');
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('H3 distributor with real prober processes', () => {
  const HEARTBEAT = 200;
  const DEAD_AFTER = 600;
  const INTERVAL = 400;
  const REPLICAS = 2;
  const GAP_LIMIT = 2 * INTERVAL + 150;

  let tcpA: TcpBackend;
  let tcpB: TcpBackend;
  let web: HttpBackend;
  let targets: CheckTarget[];
  let dist: Distributor;
  let url: string;
  const events: string[] = [];
  const reports: Array<{ prober: string; r: ProbeReport; received: number }> = [];
  const procs = new Map<string, { child: ChildProcess; lines: Array<Record<string, unknown>>; exit: Promise<number | null> }>();
  let coverageFrom = 0;

  function spawnProber(name: string, capacity: number): void {
    const child = spawn(process.execPath, [ENTRY, 'prober', '--join', url, '--token', TOKEN, '--name', name, '--capacity', String(capacity)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Array<Record<string, unknown>> = [];
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try { lines.push(JSON.parse(line) as Record<string, unknown>); } catch { lines.push({ raw: line }); }
      }
    });
    child.stderr!.on('data', (d: Buffer) => process.stderr.write(`[${name}] ${d.toString()}`));
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    procs.set(name, { child, lines, exit });
  }

  /** Current owners of each target, primary first, from the distributor's view. */
  function owners(): Map<string, string[]> {
    const out = new Map<string, string[]>(targets.map((t) => [t.id, []]));
    for (const s of dist.status()) {
      if (s.state === 'dead') continue;
      for (const a of dist.assignmentsOf(s.name)) {
        const list = out.get(a.targetId)!;
        if (a.role === 'primary') list.unshift(s.name); else list.push(s.name);
      }
    }
    return out;
  }
  const state = (name: string) => dist.status().find((s) => s.name === name)?.state;
  const reportedSince = (prober: string, targetId: string, since: number) =>
    reports.some((x) => x.prober === prober && x.r.targetId === targetId && x.received >= since);
  const allOwnersReportedSince = (since: number) => [...owners()].every(([id, os]) => os.length > 0 && os.every((o) => reportedSince(o, id, since)));

  /** Largest gap between consecutive ok probes (by probe time, any prober) per target since coverage began. */
  function maxGap(): { gap: number; targetId: string } {
    const cutoff = Date.now() - HEARTBEAT - 150; // results probed before this have all been reported
    let worst = { gap: 0, targetId: '' };
    for (const t of targets) {
      const times = reports.filter((x) => x.r.targetId === t.id && x.r.ok && x.r.at >= coverageFrom && x.r.at <= cutoff).map((x) => x.r.at).sort((a, b) => a - b);
      times.push(cutoff);
      let prev = coverageFrom;
      for (const at of times) { if (at - prev > worst.gap) worst = { gap: at - prev, targetId: t.id }; prev = at; }
    }
    return worst;
  }
  function assertNoGapNoFalseDown(t?: { diagnostic(m: string): void }): void {
    const g = maxGap();
    t?.diagnostic(`largest gap between ok probes of one target: ${g.gap} ms (limit ${GAP_LIMIT}); reports so far: ${reports.length}`);
    assert.ok(g.gap <= GAP_LIMIT, `largest gap ${g.gap} ms for ${g.targetId} (limit ${GAP_LIMIT})`);
    const bad = reports.find((x) => !x.r.ok);
    assert.equal(bad, undefined, `false down: ${JSON.stringify(bad)}`);
  }

  before(async () => {
    tcpA = await tcpBackend('127.0.0.2');
    tcpB = await tcpBackend('127.0.0.3');
    web = await httpBackend('127.0.0.4');
    // Member names leave the kernel-chosen ports out: target ids, and so the rendezvous assignment, are then the same
    // on every run (with the ports in them, about 1 run in 14 gave "small" fewer than 2 targets and it never got full).
    targets = [];
    for (const [i, b] of [tcpA, tcpB].entries()) {
      for (const n of ['a', 'b', 'c']) targets.push(target(`tcp${i}`, b.address, monitor({ name: `tcp-${n}`, type: 'tcp' }, INTERVAL, 200), b.address, b.port));
    }
    for (const n of ['a', 'b', 'c']) targets.push(target('web', web.address, monitor({ name: `http-${n}`, type: 'http', path: '/health', expect: { status: [200], body: 'ok' } }, INTERVAL, 200), web.address, web.port));
    dist = new Distributor({
      token: TOKEN, replicas: REPLICAS, heartbeatMs: HEARTBEAT, deadAfterMs: DEAD_AFTER, local: false,
      onReport: (prober, r) => reports.push({ prober, r, received: Date.now() }),
      onChange: (e) => events.push(e),
    });
    dist.setTargets(targets);
    await dist.listen('127.0.0.1', 0);
    url = `http://127.0.0.1:${dist.address!.port}`;
  });

  after(async () => {
    for (const p of procs.values()) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all([...procs.values()].map((p) => Promise.race([p.exit, deadline(2000)])));
    await dist?.close();
    await Promise.all([tcpA?.close(), tcpB?.close(), web?.close()]);
  });

  test('H3: two probers join; each target gets `replicas` distinct probers and their reports arrive', async (t) => {
    const t0 = Date.now();
    spawnProber('p1', 100);
    spawnProber('p2', 100);
    await waitFor('p1 and p2 active with every target covered by both and reported', () =>
      state('p1') === 'active' && state('p2') === 'active' && [...owners().values()].every((o) => o.length === REPLICAS) && allOwnersReportedSince(t0), 8000);
    for (const [id, os] of owners()) {
      assert.equal(new Set(os).size, REPLICAS, id);
      assert.equal(dist.assignmentsOf(os[0]!).find((a) => a.targetId === id)?.role, 'primary');
    }
    // Reports only come from assigned probers, with real monitor results.
    assert.ok(reports.every((x) => x.prober === 'p1' || x.prober === 'p2'));
    assert.ok(reports.some((x) => x.r.targetId.startsWith('web/') && x.r.ok));
    assert.ok(web.requests > 0 && tcpA.connections > 0 && tcpB.connections > 0);
    coverageFrom = Math.max(...targets.map((t) => Math.min(...reports.filter((x) => x.r.targetId === t.id).map((x) => x.r.at))));
    assertNoGapNoFalseDown(t);
  });

  test('H3: more probers join; a prober with capacity 2 never holds more than 2 and shows as full', async (t) => {
    const joining = [['p3', 100], ['small', 2], ['p4', 100]] as const;
    const everyone = [{ name: 'p1', capacity: 100 }, { name: 'p2', capacity: 100 }, ...joining.map(([name, capacity]) => ({ name, capacity }))];
    // The fixture must make the limit bind: without it, rendezvous hashing would give "small" more than 2 targets.
    const unlimited = assignTargets(targets.map((x) => x.id), everyone.map((p) => ({ ...p, capacity: 100 })), REPLICAS);
    assert.ok([...unlimited.values()].filter((os) => os.includes('small')).length > 2, 'the fixture does not test the capacity limit');
    let maxSmall = 0;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        maxSmall = Math.max(maxSmall, dist.status().find((s) => s.name === 'small')?.assigned ?? 0);
        await delay(5);
      }
    })();
    const statusLine = () => `status ${JSON.stringify(dist.status().map((s) => [s.name, s.state, s.assigned]))}`;
    try {
      for (const [name, cap] of joining) {
        const since = Date.now();
        spawnProber(name, cap);
        await waitFor(`${name} joined, holds targets and reports on them`, () =>
          dist.assignmentsOf(name).length > 0 && dist.assignmentsOf(name).every((a) => reportedSince(name, a.targetId, since)) && allOwnersReportedSince(since), 15000, 20, statusLine);
        t.diagnostic(`${name} (capacity ${cap}) holds ${dist.assignmentsOf(name).length} targets and reported on them`);
      }
      // Under load a prober can miss heartbeats, go dead for a moment and rejoin; what is checked is the settled state.
      const small = () => dist.status().find((s) => s.name === 'small');
      await waitFor('all five probers live, "small" full with 2 targets, every target with `replicas` distinct owners', () =>
        everyone.every((p) => { const st = state(p.name); return st === 'active' || st === 'full'; }) &&
        small()?.state === 'full' && small()?.assigned === 2 &&
        [...owners().values()].every((os) => new Set(os).size === REPLICAS), 15000, 20, statusLine);
      assert.ok(events.some((e) => e.startsWith('joined small (capacity 2)')));
    } finally {
      watching = false;
      await watch;
    }
    assert.ok(maxSmall <= 2, `small held ${maxSmall}`);
    // Coverage while probers join is a matter of time, not of this test: the next tests' gap checks cover this stretch too.
    t.diagnostic(`largest gap between ok probes of one target so far: ${maxGap().gap} ms`);
  });

  test('H3: a prober killed with SIGKILL is declared dead and its targets reassigned within deadAfter + a heartbeat, without a gap', async (t) => {
    const held = dist.assignmentsOf('p1').map((a) => a.targetId);
    assert.ok(held.length > 0);
    const killedAt = Date.now();
    procs.get('p1')!.child.kill('SIGKILL');
    const took = await waitFor('p1 dead and its targets owned by live probers', () =>
      state('p1') === 'dead' && dist.assignmentsOf('p1').length === 0 && [...owners().values()].every((o) => o.length === REPLICAS && !o.includes('p1')), 3000, 5);
    t.diagnostic(`p1 killed: dead and reassigned after ${took} ms (limit ${DEAD_AFTER + HEARTBEAT})`);
    assert.ok(took <= DEAD_AFTER + HEARTBEAT, `reassigned after ${took} ms`);
    assert.ok(events.some((e) => e.startsWith('dead p1')));
    // The new owners report on every target p1 held.
    await waitFor('new owners report on the moved targets', () => allOwnersReportedSince(killedAt + took), 3000);
    assertNoGapNoFalseDown(t);
  });

  test('H3: operator drain keeps the old list until the new owners report, then empties it, without a gap', async (t) => {
    const held = dist.assignmentsOf('p2').map((a) => a.targetId);
    assert.ok(held.length > 0);
    const since = Date.now();
    assert.equal(dist.drain('p2'), true);
    assert.equal(dist.drain('nobody'), false);
    assert.equal(state('p2'), 'draining');
    assert.deepEqual(dist.assignmentsOf('p2').map((a) => a.targetId).sort(), [...held].sort(), 'keeps its targets during the hand-off');
    const took = await waitFor('p2 drained', () => dist.assignmentsOf('p2').length === 0 && events.includes('drained p2'), 5000);
    t.diagnostic(`p2 drained ${held.length} targets in ${took} ms`);
    // Every moved target was reported by its new owners before p2 let go.
    for (const id of held) for (const o of owners().get(id)!) assert.ok(reportedSince(o, id, since), `${o} reported ${id}`);
    for (const os of owners().values()) { assert.equal(os.length, REPLICAS); assert.ok(!os.includes('p2')); }
    assertNoGapNoFalseDown(t);
  });

  test('H3: SIGTERM drains a prober process: hand-off, empty list, leave, exit 0', async (t) => {
    const p3 = procs.get('p3')!;
    assert.ok(dist.assignmentsOf('p3').length > 0);
    p3.child.kill('SIGTERM');
    const code = await Promise.race([p3.exit, deadline(8000)]);
    assert.equal(code, 0);
    const evs = p3.lines.map((l) => l.event);
    assert.ok(evs.includes('draining') && evs.includes('drained') && evs.includes('left'), JSON.stringify(evs));
    assert.ok(evs.indexOf('drained') < evs.indexOf('left'));
    assert.equal(state('p3'), undefined, 'p3 left');
    assert.ok(events.some((e) => e.startsWith('draining p3 (prober asked)')) && events.includes('left p3'));
    for (const os of owners().values()) assert.ok(os.length >= 1 && !os.includes('p3'));
    await delay(INTERVAL);
    assertNoGapNoFalseDown(t);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('H3 forged messages', () => {
  let dist: Distributor;
  let url: string;
  const reports: ProbeReport[] = [];
  const spec = monitor({ name: 'tcp', type: 'tcp' }, 1000, 200);
  const t1 = target('p', '127.0.0.7:1', spec, '127.0.0.7', 1);

  before(async () => {
    dist = new Distributor({ token: TOKEN, replicas: 1, heartbeatMs: 1000, local: false, onReport: (_p, r) => reports.push(r) });
    dist.setTargets([t1]);
    await dist.listen('127.0.0.1', 0);
    url = `http://127.0.0.1:${dist.address!.port}`;
  });
  after(async () => { await dist.close(); });

  async function post(p: string, body: string, headers: Record<string, string>): Promise<{ status: number; json: Record<string, unknown>; headers: Headers; text: string }> {
    const res = await fetch(`${url}${API_PREFIX}${p}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers }, signal: AbortSignal.timeout(3000) });
    const text = await res.text();
    return { status: res.status, json: JSON.parse(text) as Record<string, unknown>, headers: res.headers, text };
  }
  const signed = (p: string, body: string, token = TOKEN, now = Date.now()) => sign(token, 'POST', `${API_PREFIX}${p}`, body, now);
  const names = () => dist.status().map((s) => s.name);

  test('H3: a join signed with the wrong token is refused and nobody joins', async () => {
    const body = JSON.stringify({ name: 'intruder', capacity: 5 });
    const r = await post('/join', body, signed('/join', body, 'not-the-token-0123456789'));
    assert.equal(r.status, 401);
    assert.equal(r.json.reason, 'bad signature');
    assert.ok(!r.text.includes(TOKEN));
    assert.deepEqual(names(), []);
    const unsigned = await post('/join', body, {});
    assert.equal(unsigned.status, 401);
    assert.deepEqual(names(), []);
  });

  test('H3: a genuine join is answered with a signed response; replaying it is refused', async () => {
    const body = JSON.stringify({ name: 'honest', capacity: 5 });
    const h = signed('/join', body);
    const r = await post('/join', body, h);
    assert.equal(r.status, 200);
    assert.equal(r.json.heartbeatMs, 1000);
    const v = new Verifier(TOKEN);
    assert.deepEqual(v.verify(RESPONSE_METHOD, responsePath(`${API_PREFIX}/join`, h[NONCE_HEADER]!), r.text, r.headers), { ok: true });
    assert.deepEqual(names(), ['honest']);
    const leaveBody = JSON.stringify({ name: 'honest' });
    assert.equal((await post('/leave', leaveBody, signed('/leave', leaveBody))).status, 200);
    assert.deepEqual(names(), []);
    const replay = await post('/join', body, h);
    assert.equal(replay.status, 401);
    assert.equal(replay.json.reason, 'replayed nonce');
    assert.deepEqual(names(), []);
  });

  test('H3: forged, stale, future-dated and tampered reports change nothing and their results never arrive', async () => {
    const joinBody = JSON.stringify({ name: 'p', capacity: 5 });
    assert.equal((await post('/join', joinBody, signed('/join', joinBody))).status, 200);
    const before = JSON.stringify([dist.status().map((s) => ({ ...s, lastSeen: 0 })), dist.assignmentsOf('p')]);
    const report = JSON.stringify({ name: 'p', draining: true, results: [{ targetId: t1.id, ok: false, rttMs: 1, detail: 'FORGED', at: Date.now() }] });
    const attempts: Array<[string, Record<string, string>, string]> = [
      ['wrong token', signed('/report', report, 'not-the-token-0123456789'), 'bad signature'],
      ['stale', signed('/report', report, TOKEN, Date.now() - 60_000), 'timestamp outside the accepted window'],
      ['future', signed('/report', report, TOKEN, Date.now() + 60_000), 'timestamp outside the accepted window'],
      ['tampered', signed('/report', report.replace('FORGED', 'forged')), 'bad signature'],
    ];
    for (const [what, headers, reason] of attempts) {
      const r = await post('/report', report, headers);
      assert.equal(r.status, 401, what);
      assert.equal(r.json.reason, reason, what);
    }
    assert.equal(reports.length, 0);
    assert.equal(JSON.stringify([dist.status().map((s) => ({ ...s, lastSeen: 0 })), dist.assignmentsOf('p')]), before);
    assert.equal(dist.status()[0]!.state, 'active');
    // The genuine report is accepted once, and only once.
    const h = signed('/report', report);
    const ok = await post('/report', report, h);
    assert.equal(ok.status, 200);
    assert.equal(reports.length, 1);
    assert.equal((await post('/report', report, h)).status, 401);
    assert.equal(reports.length, 1);
  });

  test('H3: the prober ignores forged responses and keeps probing while the distributor is unreachable', async () => {
    const backend = await tcpBackend('127.0.0.5');
    const monitorSpec = monitor({ name: 'tcp', type: 'tcp' }, 100, 80);
    const assignment = [{ ...target('x', 'm', monitorSpec, backend.address, backend.port), role: 'primary' }];
    // A stand-in distributor: join is genuine; reports are answered with a forged signature until `genuine` is set.
    let genuine = false;
    let reportsSeen = 0;
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => {
        const nonce = String(req.headers[NONCE_HEADER] ?? '');
        if (req.url === `${API_PREFIX}/report`) reportsSeen++;
        const draining = req.url === `${API_PREFIX}/report` && (JSON.parse(body) as { draining?: boolean }).draining === true;
        const out = req.url === `${API_PREFIX}/join` ? { heartbeatMs: 100 } : draining ? { version: 2, assignments: [] } : { version: 1, assignments: assignment };
        const text = JSON.stringify(out);
        const key = req.url === `${API_PREFIX}/report` && !genuine && !draining ? 'forger-token-0123456789' : TOKEN;
        res.writeHead(200, { 'content-type': 'application/json', ...sign(key, RESPONSE_METHOD, responsePath(req.url ?? '', nonce), text) });
        res.end(text);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const lines: Array<Record<string, unknown>> = [];
    const stop = new AbortController();
    const run = runProberProcess({ join: `http://127.0.0.1:${port}`, token: TOKEN, name: 'px', capacity: 10, log: (l) => lines.push(l as Record<string, unknown>), signal: stop.signal, drainMaxMs: 1500 });
    try {
      await waitFor('forged report responses', () => lines.filter((l) => l.event === 'forged response ignored').length >= 3, 5000);
      assert.equal(backend.connections, 0, 'a forged assignment is never probed');
      genuine = true;
      await waitFor('the genuine assignment is probed', () => backend.connections >= 2, 3000);
      // The distributor goes away: probing of the current assignment continues.
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const n = backend.connections;
      await waitFor('unreachable logged', () => lines.some((l) => l.event === 'unreachable'), 3000);
      await delay(600);
      assert.ok(backend.connections >= n + 3, `kept probing: ${backend.connections - n} probes`);
    } finally {
      stop.abort();
      assert.equal(await run, 0);
      await backend.close();
    }
    assert.ok(reportsSeen >= 3);
    assert.ok(lines.some((l) => l.event === 'drain timed out'));
  });
});

describe('H3 distributor protocol', () => {
  test('H3: a silent prober goes dead and its targets move; when it reports again it rejoins; unchanged lists are not resent', async () => {
    const events: string[] = [];
    const dist = new Distributor({ token: TOKEN, replicas: 1, heartbeatMs: 50, deadAfterMs: 150, local: false, onReport: () => {}, onChange: (e) => events.push(e) });
    const spec = monitor({ name: 'tcp', type: 'tcp' }, 1000, 200);
    dist.setTargets(Array.from({ length: 20 }, (_, i) => target('p', `127.0.0.9:${i + 1}`, spec, '127.0.0.9', i + 1)));
    await dist.listen('127.0.0.1', 0);
    const verifier = new Verifier(TOKEN);
    const call = async (p: string, payload: object): Promise<Record<string, unknown>> => {
      const body = JSON.stringify(payload);
      const h = sign(TOKEN, 'POST', `${API_PREFIX}${p}`, body);
      const res = await fetch(`http://127.0.0.1:${dist.address!.port}${API_PREFIX}${p}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...h }, signal: AbortSignal.timeout(3000) });
      const text = await res.text();
      assert.deepEqual(verifier.verify(RESPONSE_METHOD, responsePath(`${API_PREFIX}${p}`, h[NONCE_HEADER]!), text, res.headers), { ok: true });
      assert.equal(res.status, 200, text);
      return JSON.parse(text) as Record<string, unknown>;
    };
    try {
      await call('/join', { name: 'a', capacity: 100 });
      await call('/join', { name: 'b', capacity: 100 });
      const first = await call('/report', { name: 'a', results: [] });
      const held = (first.assignments as Array<{ id: string; role: string }>);
      assert.ok(held.length > 0 && held.length < 20 && held.every((x) => x.role === 'primary'));
      const again = await call('/report', { name: 'a', results: [], version: first.version });
      assert.equal(again.version, first.version);
      assert.equal(again.assignments, undefined, 'an unchanged list is not sent again');
      // Only "a" keeps reporting: "b" goes dead and "a" takes everything.
      await waitFor('b dead', () => {
        void call('/report', { name: 'a', results: [], version: first.version }).catch(() => {});
        return dist.status().find((s) => s.name === 'b')?.state === 'dead';
      }, 2000, 40);
      assert.equal(dist.assignmentsOf('a').length, 20);
      const moved = await call('/report', { name: 'a', results: [], version: first.version });
      assert.equal((moved.assignments as unknown[]).length, 20);
      // "b" reports again: it is back, and takes its share again.
      const back = await call('/report', { name: 'b', results: [] });
      assert.equal(dist.status().find((s) => s.name === 'b')?.state, 'active');
      assert.deepEqual((back.assignments as Array<{ id: string }>).map((x) => x.id).sort(), dist.assignmentsOf('b').map((x) => x.targetId).sort());
      assert.equal(dist.assignmentsOf('a').length + dist.assignmentsOf('b').length, 20);
      assert.ok(events.some((e) => e.startsWith('dead b')) && events.includes('rejoined b'));
      // An unknown prober is told to join first.
      const body = JSON.stringify({ name: 'stranger', results: [] });
      const res = await fetch(`http://127.0.0.1:${dist.address!.port}${API_PREFIX}/report`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...sign(TOKEN, 'POST', `${API_PREFIX}/report`, body) } });
      assert.equal(res.status, 404);
      assert.equal(((await res.json()) as { rejoin?: boolean }).rejoin, true);
    } finally {
      await dist.close();
    }
  });
});
