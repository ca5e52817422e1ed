// G1–G5, D4: policy names answered over real UDP sockets, from different resolver source addresses and with ECS.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { startServer, query, addresses, buildQuery, decode, type InProcessServer } from '../harness.js';

const ZONE = `
zones:
  - origin: gslb.test
    ns: [ns1]
    records:
      - { name: ns1, type: A, value: 127.0.0.53 }
      - { name: www, type: TXT, value: '"static data beside a policy name"' }
`;

const servers: InProcessServer[] = [];
after(async () => { for (const s of servers) await s.close(); });

/** Report a member's health as the supervisor does (SPEC H2), by pool and member address. */
function setHealth(s: InProcessServer, pool: string, member: string, up: boolean): void {
  const n = s.server.responder.engine!.applyHealth([{ pool, member, up, drain: false, weightScale: 1, metrics: {}, detail: 'test', since: 0 }]);
  assert.equal(n, 1, `no member ${pool}/${member}`);
}

async function serve(yaml: string): Promise<InProcessServer> {
  const s = await startServer(`server: { rrl: { enabled: false } }\n${ZONE}\n${yaml}`);
  servers.push(s);
  return s;
}

/** Many queries from one source socket, answers counted by first address. Sequential batches of `window`. */
async function distribution(port: number, name: string, total: number, from = '127.0.0.1', type = 'A'): Promise<Map<string, number>> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, from, () => r()));
  const counts = new Map<string, number>();
  let received = 0;
  const window = 200;
  await new Promise<void>((resolve, reject) => {
    let sent = 0;
    const timer = setTimeout(() => reject(new Error(`only ${received}/${total} answers`)), 20_000);
    const sendBatch = (): void => {
      const end = Math.min(total, sent + window);
      for (; sent < end; sent++) sock.send(buildQuery(name, { id: sent & 0xffff, type }), port, '127.0.0.1');
    };
    sock.on('message', (m) => {
      const a = addresses(decode(m))[0] ?? '(none)';
      counts.set(a, (counts.get(a) ?? 0) + 1);
      received++;
      if (received === total) { clearTimeout(timer); resolve(); } else if (received === sent) sendBatch();
    });
    sendBatch();
  });
  sock.close();
  return counts;
}

test('G1/G2: ratio gives exact weighted proportions over 10k queries', async () => {
  const s = await serve(`
names: [ { name: www.gslb.test, pools: [p] } ]
pools: [ { name: p, select: [ratio], members: [ { address: 127.0.1.1, weight: 3 }, { address: 127.0.1.2, weight: 1 } ] } ]
`);
  const c = await distribution(s.port, 'www.gslb.test', 10_000);
  // Smooth weighted round robin: exact 3:1 in every window of 4, so 7500/2500 (±1 for in-flight order).
  assert.ok(Math.abs((c.get('127.0.1.1') ?? 0) - 7500) <= 4, JSON.stringify([...c]));
  assert.ok(Math.abs((c.get('127.0.1.2') ?? 0) - 2500) <= 4, JSON.stringify([...c]));
  // Static records at the same name keep answering.
  const txt = await query(s.port, 'www.gslb.test', { type: 'TXT' });
  assert.equal(txt.answers.length, 1);
});

test('G2: round robin is first available after a rotating counter; a disabled member is never answered', async () => {
  const s = await serve(`
names: [ { name: www.gslb.test, pools: [p] } ]
pools: [ { name: p, select: [round-robin], members: [ { address: 127.0.1.1 }, { address: 127.0.1.2, enabled: false }, { address: 127.0.1.3 } ] } ]
`);
  const c = await distribution(s.port, 'www.gslb.test', 999);
  assert.deepEqual([...c.keys()].sort(), ['127.0.1.1', '127.0.1.3']);
  // "First available after a rotating counter" (SPEC G2): the counter lands on each of the 3 slots in turn, and the
  // disabled slot's turn goes to the next member, so the split is 1/3 : 2/3.
  assert.ok(Math.abs(c.get('127.0.1.1')! - 333) <= 2, JSON.stringify([...c]));
  assert.ok(Math.abs(c.get('127.0.1.3')! - 666) <= 2, JSON.stringify([...c]));
});

test('G2/H2: global availability fails over from a pool with no usable member to the next, and back', async () => {
  const s = await serve(`
names:
  - { name: www.gslb.test, pools: [primary, backup], select: [global-availability] }
  - { name: disabled.gslb.test, pools: [off, backup], select: [global-availability] }
pools:
  - { name: primary, members: [ { address: 127.0.1.1 } ] }
  - { name: backup, members: [ { address: 127.0.2.1 } ] }
  - { name: off, members: [ { address: 127.0.3.1, enabled: false } ] }
`);
  assert.deepEqual(addresses(await query(s.port, 'www.gslb.test')), ['127.0.1.1']);
  assert.deepEqual(addresses(await query(s.port, 'disabled.gslb.test')), ['127.0.2.1']);
  // Health going down at run time (as a monitor reports it) moves the answer at once, and back when it recovers.
  setHealth(s, 'primary', '127.0.1.1', false);
  assert.deepEqual(addresses(await query(s.port, 'www.gslb.test')), ['127.0.2.1']);
  setHealth(s, 'primary', '127.0.1.1', true);
  assert.deepEqual(addresses(await query(s.port, 'www.gslb.test')), ['127.0.1.1']);
});

test('G3: topology by resolver source address, longest prefix wins', async () => {
  const s = await serve(`
names: [ { name: www.gslb.test, pools: [eu, us], select: [topology, global-availability] } ]
pools:
  - { name: eu, members: [ { address: 127.0.1.1 } ] }
  - { name: us, members: [ { address: 127.0.2.1 } ] }
topology:
  regions: [ { name: europe, cidrs: [127.0.0.0/26, "2001:db8:1::/48"] } ]
  rules:
    - { from: "region:europe", to: "pool:eu", weight: 100 }
    - { from: 127.0.0.0/24, to: "pool:us" }
`);
  assert.deepEqual(addresses(await query(s.port, 'www.gslb.test', { from: '127.0.0.10' })), ['127.0.1.1']);
  assert.deepEqual(addresses(await query(s.port, 'www.gslb.test', { from: '127.0.0.100' })), ['127.0.2.1']);
});

test('D4: topology by EDNS Client Subnet; ECS echoed with the source prefix as scope', async () => {
  const s = await serve(`
names: [ { name: www.gslb.test, pools: [eu, us], select: [topology, global-availability] } ]
pools:
  - { name: eu, members: [ { address: 127.0.1.1 } ] }
  - { name: us, members: [ { address: 127.0.2.1 } ] }
topology:
  regions: [ { name: europe, cidrs: [10.1.0.0/16] } ]
  rules: [ { from: 10.1.2.0/28, to: "pool:us" }, { from: "region:europe", to: "pool:eu" }, { from: 0.0.0.0/0, to: "pool:us" } ]
`);
  const eu = await query(s.port, 'www.gslb.test', { ecs: { family: 1, sourcePrefixLength: 24, ip: '10.1.2.0' } });
  assert.deepEqual(addresses(eu), ['127.0.1.1']);
  const opt = eu.additionals.find((a) => a.type === 'OPT')!;
  const ecs = opt.options!.find((o) => o.code === 8)! as { sourcePrefixLength?: number; scopePrefixLength?: number; ip?: string };
  assert.equal(ecs.sourcePrefixLength, 24);
  assert.equal(ecs.scopePrefixLength, 24);
  assert.equal(ecs.ip, '10.1.2.0');
  const us = await query(s.port, 'www.gslb.test', { ecs: { family: 1, sourcePrefixLength: 24, ip: '192.0.2.0' } });
  assert.deepEqual(addresses(us), ['127.0.2.1']);
  // A /28 rule inside the /24 subnet covers only part of it, so it did not decide above; for a /28 subnet it does.
  assert.deepEqual(addresses(await query(s.port, 'www.gslb.test', { ecs: { family: 1, sourcePrefixLength: 28, ip: '10.1.2.0' } })), ['127.0.2.1']);
  // Without ECS the resolver's own address decides (127.0.0.1 → default rule).
  assert.deepEqual(addresses(await query(s.port, 'www.gslb.test')), ['127.0.2.1']);
});

test('G4: static stripe picks (resolver mod N)+1-th member marked up, skipping disabled ones', async () => {
  const s = await serve(`
names: [ { name: www.gslb.test, pools: [p] } ]
pools: [ { name: p, select: [static-stripe], members: [ { address: 127.0.1.1 }, { address: 127.0.1.2 }, { address: 127.0.1.3 }, { address: 127.0.1.4 } ] } ]
`);
  // 127.0.0.7 = 2130706439; mod 4 = 3; X = 4 → the 4th member.
  assert.deepEqual(addresses(await query(s.port, 'www.gslb.test', { from: '127.0.0.7' })), ['127.0.1.4']);
  // 127.0.0.8 = 2130706440; mod 4 = 0; X = 1 → the 1st member. Stable across repeats (no state).
  for (let i = 0; i < 3; i++) assert.deepEqual(addresses(await query(s.port, 'www.gslb.test', { from: '127.0.0.8' })), ['127.0.1.1']);
  // Member 1 goes down: for 127.0.0.8 it is the candidate but not up → marked down, N = 3:
  // 2130706440 mod 3 = 0 (2130706440 = 3 × 710235480), X = 1 → first member marked up = 127.0.1.2.
  setHealth(s, 'p', '127.0.1.1', false);
  assert.deepEqual(addresses(await query(s.port, 'www.gslb.test', { from: '127.0.0.8' })), ['127.0.1.2']);
  // 127.0.0.9 = 2130706441; N = 3 → mod 3 = 1, X = 2 → second marked-up member = 127.0.1.3.
  assert.deepEqual(addresses(await query(s.port, 'www.gslb.test', { from: '127.0.0.9' })), ['127.0.1.3']);
});

test('G5: persistence: a timely repeat gets the same member; a stale record is replaced; a down member is replaced', async () => {
  const s = await serve(`
names: [ { name: www.gslb.test, pools: [p], persistence: { ttl: 300s } } ]
pools: [ { name: p, select: [round-robin], members: [ { address: 127.0.1.1 }, { address: 127.0.1.2 }, { address: 127.0.1.3 } ] } ]
`);
  const engine = s.server.responder.engine!;
  let now = 1_000_000;
  engine.clock = () => now;
  const first = addresses(await query(s.port, 'www.gslb.test', { from: '127.0.0.21' }))[0]!;
  // Other resolvers move the round robin on; our resolver keeps its member.
  for (let i = 0; i < 5; i++) await query(s.port, 'www.gslb.test', { from: '127.0.0.22' });
  now += 299_000;
  assert.equal(addresses(await query(s.port, 'www.gslb.test', { from: '127.0.0.21' }))[0], first);
  const slot = engine.persistence.find(0, engine.ctx.policy.groups.key(4, Uint32Array.of(0x7f000015)), now);
  assert.ok(slot >= 0);
  assert.equal(engine.persistence.hitsOf(slot), 2);
  // That hit refreshed the timestamp: 300 s after it, the record is still timely…
  now += 300_000;
  assert.equal(addresses(await query(s.port, 'www.gslb.test', { from: '127.0.0.21' }))[0], first);
  // …and 300 s + 1 ms after the last hit it is stale: balancing runs anew (the round robin has moved on).
  now += 300_001;
  const fresh = addresses(await query(s.port, 'www.gslb.test', { from: '127.0.0.21' }))[0]!;
  const freshSlot = engine.persistence.find(0, engine.ctx.policy.groups.key(4, Uint32Array.of(0x7f000015)), now);
  assert.equal(engine.persistence.hitsOf(freshSlot), 1);
  // The member goes down: the record is replaced by a usable one.
  setHealth(s, 'p', fresh, false);
  const replaced = addresses(await query(s.port, 'www.gslb.test', { from: '127.0.0.21' }))[0]!;
  assert.notEqual(replaced, fresh);
  assert.equal(addresses(await query(s.port, 'www.gslb.test', { from: '127.0.0.21' }))[0], replaced);
});

test('G5: resolvers of one group share persistence records', async () => {
  const s = await serve(`
names: [ { name: www.gslb.test, pools: [p], persistence: { ttl: 300s } } ]
pools: [ { name: p, select: [round-robin], members: [ { address: 127.0.1.1 }, { address: 127.0.1.2 } ] } ]
resolverGroups: [ { name: isp-a, members: [127.0.0.30, 127.0.0.31] } ]
`);
  const a = addresses(await query(s.port, 'www.gslb.test', { from: '127.0.0.30' }))[0];
  for (let i = 0; i < 3; i++) {
    assert.equal(addresses(await query(s.port, 'www.gslb.test', { from: '127.0.0.31' }))[0], a);
    assert.equal(addresses(await query(s.port, 'www.gslb.test', { from: '127.0.0.30' }))[0], a);
  }
  // A resolver outside the group gets its own record (the round robin has moved on for it).
  assert.notEqual(addresses(await query(s.port, 'www.gslb.test', { from: '127.0.0.32' }))[0], a);
});

test('G1: AAAA queries choose among IPv6 members; a family with no members is NODATA', async () => {
  const s = await serve(`
names:
  - { name: www.gslb.test, pools: [p] }
  - { name: v4only.gslb.test, pools: [q] }
pools:
  - { name: p, members: [ { address: 127.0.1.1 }, { address: "2001:db8::1" }, { address: "2001:db8::2" } ] }
  - { name: q, members: [ { address: 127.0.1.9 } ] }
`);
  const six = await query(s.port, 'www.gslb.test', { type: 'AAAA' });
  assert.ok(['2001:db8::1', '2001:db8::2'].includes(addresses(six)[0]!));
  assert.deepEqual(addresses(await query(s.port, 'www.gslb.test')), ['127.0.1.1']);
  const nodata = await query(s.port, 'v4only.gslb.test', { type: 'AAAA' });
  assert.equal(nodata.rcode, 'NOERROR');
  assert.equal(nodata.answers.length, 0);
  assert.equal(nodata.authorities[0]!.type, 'SOA');
});

test('G1: answer count > 1 returns several distinct members of the chosen pool', async () => {
  const s = await serve(`
names: [ { name: www.gslb.test, pools: [p], answer: { count: 2 } } ]
pools: [ { name: p, members: [ { address: 127.0.1.1 }, { address: 127.0.1.2 }, { address: 127.0.1.3 } ] } ]
`);
  for (let i = 0; i < 5; i++) {
    const a = addresses(await query(s.port, 'www.gslb.test'));
    assert.equal(a.length, 2);
    assert.notEqual(a[0], a[1]);
  }
});

test('G2/H2: fallbacks when nothing is usable: sorry address, SERVFAIL, NODATA, round robin ignoring health', async () => {
  const s = await serve(`
names:
  - { name: sorry.gslb.test, pools: [down], fallback: { address: 192.0.2.99 } }
  - { name: closed.gslb.test, pools: [down], fallback: { rcode: SERVFAIL } }
  - { name: nodata.gslb.test, pools: [down], fallback: { rcode: NODATA } }
  - { name: open.gslb.test, pools: [down], fallback: { method: round-robin-ignore-health } }
pools:
  - { name: down, members: [ { address: 127.0.1.1 }, { address: 127.0.1.2 } ] }
`);
  setHealth(s, 'down', '127.0.1.1', false);
  setHealth(s, 'down', '127.0.1.2', false);
  assert.deepEqual(addresses(await query(s.port, 'sorry.gslb.test')), ['192.0.2.99']);
  assert.equal((await query(s.port, 'closed.gslb.test')).rcode, 'SERVFAIL');
  const nodata = await query(s.port, 'nodata.gslb.test');
  assert.equal(nodata.rcode, 'NOERROR');
  assert.equal(nodata.answers.length, 0);
  const seen = new Set<string>();
  for (let i = 0; i < 4; i++) seen.add(addresses(await query(s.port, 'open.gslb.test'))[0]!);
  assert.deepEqual([...seen].sort(), ['127.0.1.1', '127.0.1.2']);
});

test('G2: method chains: a metric method with no metrics passes to the next; with metrics the lowest wins', async () => {
  // The next method rotates: a metric method that wrongly chose (the first member, say) instead of passing would not.
  const s = await serve(`
names:
  - { name: www.gslb.test, pools: [p] }
  - { name: cpu.gslb.test, pools: [q] }
pools:
  - name: p
    select: [least-connections, round-robin]
    members: [ { address: 127.0.1.1 }, { address: 127.0.1.2 } ]
  - name: q
    select: [cpu, global-availability]
    members: [ { address: 127.0.2.1, metrics: { cpu: 80 } }, { address: 127.0.2.2, metrics: { cpu: 20 } } ]
`);
  const www: string[] = [];
  for (let i = 0; i < 4; i++) {
    www.push(addresses(await query(s.port, 'www.gslb.test'))[0]!);
    assert.deepEqual(addresses(await query(s.port, 'cpu.gslb.test')), ['127.0.2.2'], 'the lowest cpu, not the first member');
  }
  assert.deepEqual(www, [www[0], www[1], www[0], www[1]]);
  assert.notEqual(www[0], www[1], 'round robin took over: both members, in turn');
});

test('G2: the round-robin-ignore-health fallback rotates on a counter of its own: the name\'s pool rotation goes on undisturbed between fallbacks', async () => {
  const s = await serve(`
names:
  - { name: rr.gslb.test, pools: [a, b], select: [round-robin], fallback: { method: round-robin-ignore-health } }
pools:
  - { name: a, members: [ { address: 127.0.1.1 } ] }
  - { name: b, members: [ { address: 127.0.2.1 } ] }
`);
  const rotation: string[] = [];
  const fallback: string[] = [];
  for (let i = 0; i < 6; i++) {
    setHealth(s, 'a', '127.0.1.1', true);
    setHealth(s, 'b', '127.0.2.1', true);
    rotation.push(addresses(await query(s.port, 'rr.gslb.test'))[0]!);
    setHealth(s, 'a', '127.0.1.1', false);
    setHealth(s, 'b', '127.0.2.1', false);
    fallback.push(addresses(await query(s.port, 'rr.gslb.test'))[0]!);
  }
  const alternates = (xs: string[]): boolean => xs.every((x, i) => x === xs[i % 2]) && xs[0] !== xs[1];
  assert.ok(alternates(rotation), `the pools in turn: ${rotation.join(' ')}`);
  assert.ok(alternates(fallback), `the fallback's members in turn: ${fallback.join(' ')}`);
});

test('H2: a drained member keeps the resolvers persisting on it but takes no new ones; forced down moves them too', async () => {
  const s = await serve(`
names: [ { name: www.gslb.test, pools: [p], persistence: { ttl: 300s } } ]
pools: [ { name: p, select: [round-robin], members: [ { address: 127.0.1.1 }, { address: 127.0.1.2 } ] } ]
`);
  const engine = s.server.responder.engine!;
  const x = addresses(await query(s.port, 'www.gslb.test', { from: '127.0.0.61' }))[0]!;
  engine.applyAdmin([{ pool: 'p', member: x, state: 'drain' }]);
  assert.equal(addresses(await query(s.port, 'www.gslb.test', { from: '127.0.0.61' }))[0], x);
  for (let i = 62; i < 68; i++) assert.notEqual(addresses(await query(s.port, 'www.gslb.test', { from: `127.0.0.${i}` }))[0], x);
  engine.applyAdmin([{ pool: 'p', member: x, state: 'down' }]);
  assert.notEqual(addresses(await query(s.port, 'www.gslb.test', { from: '127.0.0.61' }))[0], x);
  // Back to automatic: answered again.
  engine.applyAdmin([]);
  const seen = new Set<string>();
  for (let i = 70; i < 74; i++) seen.add(addresses(await query(s.port, 'www.gslb.test', { from: `127.0.0.${i}` }))[0]!);
  assert.ok(seen.has(x));
});

test('G5: a persistence record whose member is no longer in the name\'s pools is not used: balancing runs anew', async () => {
  const s = await serve(`
names:
  - { name: sticky.gslb.test, pools: [a], persistence: { ttl: 300s } }
  - { name: other.gslb.test, pools: [b] }
pools:
  - { name: a, members: [{ address: 192.0.2.1 }] }
  - { name: b, members: [{ address: 192.0.2.99 }] }
`);
  // What a record left by an earlier configuration (where sticky used pool b) looks like after the swap.
  const applied = s.server.responder.engine!.applyRecords([{ name: 'sticky.gslb.test', key: 0x7f000001, keyText: '127.0.0.1', pool: 'b', member: '192.0.2.99', ts: Date.now(), ttlMs: 300_000, hits: 3 }]);
  assert.equal(applied, 1, 'the record is held');
  const r = await query(s.port, 'sticky.gslb.test');
  assert.equal(r.rcode, 'NOERROR');
  assert.deepEqual(addresses(r), ['192.0.2.1'], "answered from the name's own pool, not the stale record's");
});

test('G5/G6: resolver-hash over real sockets: two independent servers give every resolver the same member, query after query, with no record shared', async () => {
  const yaml = `
names: [ { name: www.gslb.test, pools: [p] } ]
pools: [ { name: p, select: [resolver-hash], members: [ { address: 127.0.1.1 }, { address: 127.0.1.2 }, { address: 127.0.1.3 } ] } ]
`;
  const [a, b] = [await serve(yaml), await serve(yaml)];
  const seen = new Set<string>();
  for (let i = 0; i < 30; i++) {
    const from = `127.0.2.${i + 1}`;
    const first = addresses(await query(a.port, 'www.gslb.test', { from }))[0]!;
    seen.add(first);
    for (let k = 0; k < 2; k++) {
      assert.equal(addresses(await query(a.port, 'www.gslb.test', { from }))[0], first, `${from} again on the same server`);
      assert.equal(addresses(await query(b.port, 'www.gslb.test', { from }))[0], first, `${from} on the other server`);
    }
  }
  assert.equal(seen.size, 3, 'the resolvers spread over every member');
});
