// The lease book (SPEC L1-L4) over a real SQLite store and real sockets: public addresses 127.0.3.x leased to
// servers on 127.0.10.x, traffic through the lease forwarder, the seed's TTL arithmetic on a controlled clock.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { configSchema, type Config } from '../../src/config/schema.js';
import { LeaseBook, type LeaseAnswer } from '../../src/leases/book.js';
import { openStore } from '../../src/state/store.js';
import { sqliteStateStore, type StateStore } from '../../src/state/async.js';
import { freePort, tempDir } from '../harness.js';
import { connect, tcpDaemon, type TcpDaemon } from '../forward/daemons.js';

const T0 = Date.UTC(2026, 11, 2, 12);
const cleanups: Array<() => Promise<void>> = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

function config(port: number, pool: Record<string, unknown> = {}): Config {
  return configSchema.parse({
    addressPools: [{ name: 'public', addresses: ['127.0.3.0/30'], leaseTtl: '200s', extendBy: '60s', lowWater: 1, cooldown: '30s', forward: [{ port, protocol: 'tcp' }], ...pool }],
    leasedServers: [1, 2, 3, 4, 5].map((i) => ({ name: `s${i}`, address: `127.0.10.1${i}` })),
    leasedNames: [
      { name: 'd1.example.test', pool: 'public', servers: ['s1'] },
      { name: 'd2.example.test', pool: 'public', servers: ['s2', 's3'] },
      { name: 'd3.example.test', pool: 'public', servers: ['s4'] },
      { name: 'd4.example.test', pool: 'public', servers: ['s5'] },
    ],
  });
}

async function setup(pool: Record<string, unknown> = {}): Promise<{ book: LeaseBook; store: StateStore; dir: string; port: number; clock: { t: number }; cfg: Config }> {
  const port = await freePort();
  const daemons: TcpDaemon[] = [];
  for (let i = 1; i <= 5; i++) daemons.push(await tcpDaemon(`s${i}`, `127.0.10.1${i}`, port));
  cleanups.push(async () => { for (const d of daemons) await d.close(); });
  const dir = tempDir('waymark-leases-');
  const store = sqliteStateStore(openStore(dir, { node: 'dns-a' }));
  const clock = { t: T0 };
  const cfg = config(port, pool);
  const book = new LeaseBook({ store, log: () => {}, now: () => clock.t });
  await book.configure(cfg);
  await book.load();
  cleanups.push(async () => { await book.close(); await store.close(); fs.rmSync(dir, { recursive: true, force: true }); });
  return { book, store, dir, port, clock, cfg };
}

function leased(a: LeaseAnswer | undefined): { address: string; ttl: number; created: boolean } {
  assert.ok(a?.ok, `a lease, got ${JSON.stringify(a)}`);
  return { address: a.address, ttl: a.ttl, created: a.created };
}

test('L2/L4: the first query leases an address for 200 s and binds it; traffic to it reaches the server; a query 60 s later answers 200 (260 - 60); an idle server gets half the step', async () => {
  const { book, port, clock } = await setup();
  assert.equal(await book.query('other.example.test'), undefined, 'not a leased name');
  const first = leased(await book.query('D1.example.test.'));
  assert.deepEqual(first, { address: '127.0.3.0', ttl: 200, created: true });
  const c = await connect('127.0.3.0', port);
  assert.equal(c.greeting, 's1', 'the public address reaches the server\'s private one');
  assert.equal(c.socket.remoteAddress, '127.0.3.0', 'and answers from the public address');
  assert.equal(await c.send('hi'), 's1:hi');
  clock.t = T0 + 60_000;
  assert.deepEqual(leased(await book.query('d1.example.test')), { address: '127.0.3.0', ttl: 200, created: false });
  // No request through the forwarder since that extension: half the step (30 s), 290 - 60 = 230.
  assert.equal(leased(await book.query('d1.example.test')).ttl, 230);
  c.socket.destroy();
  const row = book.list().find((l) => l.address === '127.0.3.0')!;
  assert.deepEqual([row.name, row.server, row.private, row.requests], ['d1.example.test', 's1', '127.0.10.11', 1]);
});

test('L2: a name of two servers leases both while free addresses last, then answers the one with fewer requests', async () => {
  const { book, port } = await setup();
  const a = leased(await book.query('d2.example.test'));
  const b = leased(await book.query('d2.example.test'));
  assert.ok(a.created && b.created);
  assert.notEqual(a.address, b.address);
  const greetings = [(await connect(a.address, port)).greeting, (await connect(b.address, port)).greeting].sort();
  assert.deepEqual(greetings, ['s2', 's3']);
  // Two more requests to a's server: b's is the least requested.
  for (let i = 0; i < 2; i++) (await connect(a.address, port)).socket.destroy();
  assert.equal(leased(await book.query('d2.example.test')).address, b.address);
  assert.equal(book.list().length, 2);
});

test('L3: exhausted (servfail) answers why; an expired lease returns and cools down, one with an open connection is kept; a restart keeps every lease', async () => {
  const { book, port, clock, store, cfg } = await setup({ lowWater: 0 });
  leased(await book.query('d1.example.test'));
  leased(await book.query('d2.example.test'));
  leased(await book.query('d2.example.test'));
  leased(await book.query('d3.example.test'));
  const full = await book.query('d4.example.test');
  assert.deepEqual(full, { ok: false, reason: 'address pool public is exhausted (onExhausted: servfail)' });
  assert.deepEqual(book.counts(), [{ pool: 'public', free: 0, leased: 4, cooling: 0 }]);
  const d1 = book.list().find((l) => l.name === 'd1.example.test')!;
  const hold = await connect(d1.address, port);
  clock.t = T0 + 201_000;
  await book.tick();
  assert.equal(book.list().length, 4, 'answers stopped at the expiry; the address waits 2 s more (another node\'s extension may be landing)');
  clock.t = T0 + 202_000;
  await book.tick();
  const after = book.list();
  assert.deepEqual(after.map((l) => l.name).sort(), ['d1.example.test'], 'only the lease with an open connection stays');
  assert.equal(after[0]!.expiresAt, T0 + 402_000, 'kept for another leaseTtl');
  assert.deepEqual(book.counts(), [{ pool: 'public', free: 0, leased: 1, cooling: 3 }]);
  assert.equal((await book.query('d4.example.test'))?.ok, false, 'cooling addresses are not leased');
  clock.t = T0 + 232_000;
  const d4 = leased(await book.query('d4.example.test'));
  assert.ok(d4.created);
  assert.equal(await hold.send('still'), 's1:still', 'the kept lease still forwards');
  // A restart: a new book on the same store has the same leases, bound.
  await book.tick();
  const again = new LeaseBook({ store, log: () => {}, now: () => clock.t });
  await again.configure(cfg);
  await again.load();
  cleanups.push(() => again.close());
  assert.deepEqual(again.list().map((l) => [l.address, l.name]).sort(), book.list().map((l) => [l.address, l.name]).sort());
  hold.socket.destroy();
});

test('L3: onExhausted reclaim-idlest takes back the idlest lease without open connections (its binding goes)', async () => {
  const { book, port } = await setup({ addresses: ['127.0.3.8/31'], onExhausted: 'reclaim-idlest', lowWater: 0 });
  const d1 = leased(await book.query('d1.example.test'));
  const d3 = leased(await book.query('d3.example.test'));
  const busy = await connect(d1.address, port);
  const d4 = leased(await book.query('d4.example.test'));
  assert.equal(d4.address, d3.address, 'd3 (no connection) was reclaimed for d4');
  assert.equal((await connect(d4.address, port)).greeting, 's5', 'the reclaimed address now reaches d4\'s server');
  assert.deepEqual(book.list().map((l) => l.name).sort(), ['d1.example.test', 'd4.example.test']);
  busy.socket.destroy();
});
