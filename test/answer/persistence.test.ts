// Persistence records (G5) and their sharing between workers and nodes (G6): the in-memory table the query path
// reads. The clock is always injected; memory for 1M records is measured in a child process with --expose-gc.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertAllocatesNothing } from '../allocation.js';
import { spawnSync } from 'node:child_process';
import { PersistenceTable, type PersistRecord } from '../../src/answer/persistence.js';

const T0 = 1_700_000_000_000;
const TTL = 60_000;
const NAMES = ['www.example.com.', 'api.example.com.', 'cdn.example.com.'];
const MEMBERS = [
  { pool: 'east', member: '192.0.2.10' },
  { pool: 'east', member: '192.0.2.11' },
  { pool: 'west', member: '198.51.100.10' },
];
const nameOf = (i: number): string => NAMES[i]!;
const memberOf = (i: number): { pool: string; member: string } => MEMBERS[i]!;
const nameIndex = (n: string): number => NAMES.indexOf(n);
const memberIndex = (pool: string, member: string): number => MEMBERS.findIndex((m) => m.pool === pool && m.member === member);

function record(over: Partial<PersistRecord> = {}): PersistRecord {
  return { name: NAMES[0]!, key: 42, keyText: '203.0.113.0/24', pool: 'east', member: '192.0.2.10', ts: T0, ttlMs: TTL, hits: 1, ...over };
}

test('G5: a new record holds the chosen member, its TTL, timestamp and one hit', () => {
  const t = new PersistenceTable(10);
  const slot = t.put(0, 42, '203.0.113.0/24', 1, T0, TTL);
  assert.equal(t.size, 1);
  assert.equal(t.find(0, 42, T0 + 1000), slot);
  assert.equal(t.memberOf(slot), 1);
  assert.equal(t.hitsOf(slot), 1);
  assert.equal(t.tsOf(slot), T0);
  assert.equal(t.ttlOf(slot), TTL);
  assert.equal(t.keyTextOf(slot), '203.0.113.0/24');
  assert.equal(t.find(0, 43, T0), -1);
  assert.equal(t.find(1, 42, T0), -1);
});

test('G5: a timely repeat refreshes timestamp and hits', () => {
  const t = new PersistenceTable(10);
  const slot = t.put(0, 42, 'r', 2, T0, TTL);
  t.hit(slot, T0 + 30_000);
  assert.equal(t.tsOf(slot), T0 + 30_000);
  assert.equal(t.hitsOf(slot), 2);
  // The TTL now runs from the refreshed timestamp: still timely past the original expiry.
  const again = t.find(0, 42, T0 + TTL + 20_000);
  assert.equal(again, slot);
  t.hit(again, T0 + TTL + 20_000);
  assert.equal(t.hitsOf(slot), 3);
  assert.equal(t.memberOf(slot), 2);
});

test('G5: a stale record is deleted on lookup so load balancing runs anew (now > timestamp + TTL)', () => {
  const t = new PersistenceTable(10);
  t.put(0, 42, 'r', 0, T0, TTL);
  assert.notEqual(t.find(0, 42, T0 + TTL), -1, 'now = timestamp + TTL is still timely');
  assert.equal(t.find(0, 42, T0 + TTL + 1), -1);
  assert.equal(t.size, 0);
  assert.equal(t.find(0, 42, T0), -1, 'deleted, not merely hidden');
  const slot = t.put(0, 42, 'r', 1, T0 + TTL + 1, TTL);
  assert.equal(t.memberOf(slot), 1);
  assert.equal(t.hitsOf(slot), 1);
});

test('G5: put replaces the record for the same name and key with one hit', () => {
  const t = new PersistenceTable(10);
  const a = t.put(0, 42, 'r', 0, T0, TTL);
  t.hit(a, T0 + 1);
  const b = t.put(0, 42, 'r2', 2, T0 + 5, 1000);
  assert.equal(b, a);
  assert.equal(t.size, 1);
  assert.equal(t.memberOf(b), 2);
  assert.equal(t.hitsOf(b), 1);
  assert.equal(t.ttlOf(b), 1000);
  assert.equal(t.keyTextOf(b), 'r2');
});

test('G5: records are keyed by name and resolver key together, for every key in [0, 2^53)', () => {
  const t = new PersistenceTable(100);
  const keys = [0, 1, 2 ** 31, 2 ** 32, 2 ** 32 + 1, 2 ** 52, 2 ** 53 - 2, 2 ** 53 - 1, 1 + 2 ** 40];
  keys.forEach((k, i) => {
    t.put(0, k, `k${i}`, 0, T0, TTL);
    t.put(1, k, `k${i}`, 1, T0, TTL);
  });
  assert.equal(t.size, keys.length * 2);
  keys.forEach((k, i) => {
    const s0 = t.find(0, k, T0);
    const s1 = t.find(1, k, T0);
    assert.notEqual(s0, s1);
    assert.equal(t.keyTextOf(s0), `k${i}`);
    assert.equal(t.memberOf(s0), 0);
    assert.equal(t.memberOf(s1), 1);
  });
  assert.equal(t.find(2, 0, T0), -1);
  assert.throws(() => t.put(0, 2 ** 53, 'x', 0, T0, TTL), RangeError);
  assert.throws(() => t.put(0, 1.5, 'x', 0, T0, TTL), RangeError);
  assert.throws(() => t.put(0, 1, 'x', 0, T0, 0), RangeError);
});

test('G5: the table is bounded and evicts the least recently used record', () => {
  const t = new PersistenceTable(3);
  const a = t.put(0, 1, 'a', 0, T0, TTL);
  t.put(0, 2, 'b', 0, T0, TTL);
  t.put(0, 3, 'c', 0, T0, TTL);
  t.hit(a, T0 + 1); // order now (most → least recent): a, c, b
  t.put(0, 4, 'd', 0, T0 + 2, TTL); // evicts b
  assert.equal(t.size, 3);
  assert.equal(t.find(0, 2, T0 + 3), -1);
  assert.deepEqual(t.list(nameOf, memberOf).map((r) => r.keyText), ['d', 'a', 'c']);
  t.put(0, 5, 'e', 0, T0 + 3, TTL); // evicts c
  t.put(0, 6, 'f', 0, T0 + 3, TTL); // evicts a
  assert.deepEqual(t.list(nameOf, memberOf).map((r) => r.keyText), ['f', 'e', 'd']);
  // Replacing an existing record never evicts.
  t.put(0, 4, 'd2', 1, T0 + 4, TTL);
  assert.equal(t.size, 3);
  assert.deepEqual(t.list(nameOf, memberOf).map((r) => r.keyText), ['d2', 'f', 'e']);
});

test('G5: delete removes a record; list skips stale ones when given now; clear empties the table', () => {
  const t = new PersistenceTable(10);
  const a = t.put(0, 1, 'a', 0, T0, TTL);
  t.put(0, 2, 'b', 1, T0, 10);
  t.put(1, 1, 'c', 2, T0, TTL);
  t.delete(a);
  assert.equal(t.size, 2);
  assert.equal(t.find(0, 1, T0), -1);
  assert.deepEqual(t.list(nameOf, memberOf, T0 + 100).map((r) => r.keyText), ['c']);
  const all = t.list(nameOf, memberOf);
  assert.deepEqual(all.map((r) => [r.name, r.keyText, r.pool, r.member]), [
    [NAMES[1], 'c', 'west', '198.51.100.10'],
    [NAMES[0], 'b', 'east', '192.0.2.11'],
  ]);
  t.clear();
  assert.equal(t.size, 0);
  assert.deepEqual(t.list(nameOf, memberOf), []);
  assert.deepEqual(t.drainDirty(nameOf, memberOf), []);
  assert.notEqual(t.put(0, 1, 'a', 0, T0, TTL), -1);
});

test('G5 (one table, the share and merge that G6 builds on): drainDirty reports each changed record once, with names, then nothing until the next change', () => {
  const t = new PersistenceTable(10);
  const a = t.put(0, 1, 'a', 0, T0, TTL);
  t.hit(a, T0 + 1);
  t.hit(a, T0 + 2);
  t.put(1, 7, 'b', 2, T0 + 3, TTL);
  const first = t.drainDirty(nameOf, memberOf);
  assert.deepEqual(first, [
    { name: NAMES[0], key: 1, keyText: 'a', pool: 'east', member: '192.0.2.10', ts: T0 + 2, ttlMs: TTL, hits: 3 },
    { name: NAMES[1], key: 7, keyText: 'b', pool: 'west', member: '198.51.100.10', ts: T0 + 3, ttlMs: TTL, hits: 1 },
  ]);
  assert.deepEqual(t.drainDirty(nameOf, memberOf), []);
  t.hit(a, T0 + 4);
  assert.deepEqual(t.drainDirty(nameOf, memberOf).map((r) => [r.key, r.hits, r.ts]), [[1, 4, T0 + 4]]);
  // Lookups alone are not changes.
  t.find(0, 1, T0 + 5);
  assert.deepEqual(t.drainDirty(nameOf, memberOf), []);
});

test('G5 (one table, the share and merge that G6 builds on): deleted records are reported with ttlMs = 0; expiry and eviction are not deletions', () => {
  const t = new PersistenceTable(2);
  const a = t.put(0, 1, 'a', 0, T0, TTL);
  t.put(0, 2, 'b', 0, T0, 10);
  t.drainDirty(nameOf, memberOf);
  t.delete(a, T0 + 50);
  assert.equal(t.find(0, 2, T0 + 11), -1); // expired
  t.put(0, 3, 'c', 0, T0 + 60, TTL);
  t.put(0, 4, 'd', 0, T0 + 61, TTL);
  t.drainDirty(nameOf, memberOf);
  t.put(0, 5, 'e', 0, T0 + 62, TTL); // evicts c (clean): nothing to tell
  const changes = t.drainDirty(nameOf, memberOf);
  assert.deepEqual(changes.map((r) => r.keyText), ['e']);

  const u = new PersistenceTable(10);
  const s = u.put(0, 1, 'a', 0, T0, TTL);
  u.drainDirty(nameOf, memberOf);
  u.delete(s, T0 + 50);
  assert.deepEqual(u.drainDirty(nameOf, memberOf), [
    { name: NAMES[0], key: 1, keyText: 'a', pool: '', member: '', ts: T0 + 50, ttlMs: 0, hits: 0 },
  ]);
});

test('G5 (one table, the share and merge that G6 builds on): a changed record evicted before the drain is still reported', () => {
  const t = new PersistenceTable(2);
  t.put(0, 1, 'a', 0, T0, TTL);
  t.put(0, 2, 'b', 1, T0 + 1, TTL);
  t.put(0, 3, 'c', 2, T0 + 2, TTL); // evicts a, not yet drained
  assert.deepEqual(t.drainDirty(nameOf, memberOf).map((r) => [r.keyText, r.member]).sort(), [
    ['a', '192.0.2.10'],
    ['b', '192.0.2.11'],
    ['c', '198.51.100.10'],
  ]);
});

test('G5 (one table, the share and merge that G6 builds on): apply() merges others\' records without making them dirty (no echo)', () => {
  const t = new PersistenceTable(10);
  const n = t.apply([record(), record({ key: 43, name: NAMES[2]!, member: '198.51.100.10', pool: 'west', hits: 9 })], nameIndex, memberIndex);
  assert.equal(n, 2);
  assert.equal(t.size, 2);
  const s = t.find(2, 43, T0);
  assert.equal(t.memberOf(s), 2);
  assert.equal(t.hitsOf(s), 9);
  assert.deepEqual(t.drainDirty(nameOf, memberOf), []);
  // A local change still drains, and an applied newer record supersedes an undrained local change.
  t.hit(s, T0 + 1);
  t.apply([record({ key: 43, name: NAMES[2]!, ts: T0 + 2, hits: 12 })], nameIndex, memberIndex);
  assert.deepEqual(t.drainDirty(nameOf, memberOf), []);
  assert.equal(t.memberOf(t.find(2, 43, T0 + 2)), 0);
});

test('G5 (one table, the share and merge that G6 builds on): apply() skips unknown names, unknown members and malformed records', () => {
  const t = new PersistenceTable(10);
  const n = t.apply(
    [
      record({ name: 'gone.example.com.' }),
      record({ member: '203.0.113.99' }),
      record({ key: -1 }),
      record({ key: 2 ** 53 }),
      record({ ts: Number.NaN }),
      record({ key: 7 }),
    ],
    nameIndex,
    memberIndex,
  );
  assert.equal(n, 1);
  assert.equal(t.size, 1);
  assert.notEqual(t.find(0, 7, T0), -1);
});

test('G5 (one table, the share and merge that G6 builds on): apply() keeps the last writer by timestamp', () => {
  const t = new PersistenceTable(10);
  t.apply([record({ ts: T0 + 100, member: '192.0.2.11', hits: 5 })], nameIndex, memberIndex);
  assert.equal(t.apply([record({ ts: T0 + 50, member: '192.0.2.10' })], nameIndex, memberIndex), 0, 'older is ignored');
  let s = t.find(0, 42, T0 + 100);
  assert.equal(t.memberOf(s), 1);
  assert.equal(t.hitsOf(s), 5);
  assert.equal(t.apply([record({ ts: T0 + 200, member: '192.0.2.10', hits: 6 })], nameIndex, memberIndex), 1, 'newer replaces');
  s = t.find(0, 42, T0 + 200);
  assert.equal(t.memberOf(s), 0);
  assert.equal(t.tsOf(s), T0 + 200);
  // Our own later hit beats an older incoming record.
  t.hit(s, T0 + 300);
  assert.equal(t.apply([record({ ts: T0 + 250, member: '192.0.2.11' })], nameIndex, memberIndex), 0);
  assert.equal(t.memberOf(s), 0);
});

test('G5 (one table, the share and merge that G6 builds on): deletes propagate to other holders, unless they saw a later hit', () => {
  const a = new PersistenceTable(10);
  const b = new PersistenceTable(10);
  const c = new PersistenceTable(10);
  const slot = a.put(0, 42, '203.0.113.0/24', 0, T0, TTL);
  const created = a.drainDirty(nameOf, memberOf);
  b.apply(created, nameIndex, memberIndex);
  c.apply(created, nameIndex, memberIndex);
  c.hit(c.find(0, 42, T0 + 10), T0 + 10); // c saw a later repeat
  a.delete(slot); // deletion carries the record's own timestamp
  const deleted = a.drainDirty(nameOf, memberOf);
  assert.equal(deleted.length, 1);
  assert.equal(deleted[0]!.ttlMs, 0);
  assert.equal(b.apply(deleted, nameIndex, memberIndex), 1);
  assert.equal(b.find(0, 42, T0 + 20), -1);
  assert.equal(c.apply(deleted, nameIndex, memberIndex), 0);
  assert.notEqual(c.find(0, 42, T0 + 20), -1);
  // An operator's delete at a later time wins over that hit.
  const d = new PersistenceTable(10);
  d.apply(c.list(nameOf, memberOf), nameIndex, memberIndex);
  d.delete(d.find(0, 42, T0 + 30), T0 + 30);
  assert.equal(c.apply(d.drainDirty(nameOf, memberOf), nameIndex, memberIndex), 1);
  assert.equal(c.find(0, 42, T0 + 30), -1);
});

test('G5: many inserts, hits, deletes and evictions agree with a simple model', () => {
  // Reference: a Map whose insertion order is the LRU order (oldest first).
  const max = 3000;
  const t = new PersistenceTable(max);
  const model = new Map<string, { member: number; ts: number; hits: number }>();
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const keyFor = (i: number): number => (i % 7 === 0 ? 2 ** 53 - 1 - i : i % 5 === 0 ? i * 2 ** 32 : i);
  let now = T0;
  for (let step = 0; step < 60_000; step++) {
    now += 1;
    const ni = rand(3);
    const key = keyFor(rand(5000));
    const id = `${ni}/${key}`;
    const op = rand(10);
    const slot = t.find(ni, key, now);
    const held = model.get(id);
    assert.equal(slot >= 0, held !== undefined, `step ${step}: presence of ${id}`);
    if (held && slot >= 0) {
      assert.equal(t.memberOf(slot), held.member);
      assert.equal(t.hitsOf(slot), held.hits);
      assert.equal(t.tsOf(slot), held.ts);
    }
    if (op < 5) {
      const member = rand(3);
      t.put(ni, key, id, member, now, TTL);
      model.delete(id);
      model.set(id, { member, ts: now, hits: 1 });
      if (model.size > max) model.delete(model.keys().next().value!);
    } else if (op < 8 && held && slot >= 0) {
      t.hit(slot, now);
      model.delete(id);
      model.set(id, { member: held.member, ts: now, hits: held.hits + 1 });
    } else if (op < 9 && slot >= 0) {
      t.delete(slot);
      model.delete(id);
    }
    assert.equal(t.size, model.size);
  }
  assert.deepEqual(
    t.list(nameOf, memberOf).map((r) => `${nameIndex(r.name)}/${r.key}`),
    [...model.keys()].reverse(),
  );
});

test('G5: find and hit allocate nothing', () => {
  const t = new PersistenceTable(1 << 16);
  const keys = new Float64Array(4096);
  for (let i = 0; i < keys.length; i++) {
    keys[i] = i % 2 === 0 ? 2 ** 40 + i * 7919 : i; // doubles beyond the small-integer range, and small ones
    t.put(i % 3, keys[i]!, `k${i}`, i % 3, T0, 1e12);
  }
  const now = T0 + 1; // one boxed number, as a caller reading its clock once per batch would pass
  let found = 0;
  const run = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const slot = t.find(i % 3, keys[i & 4095]!, now);
      if (slot >= 0) {
        found++;
        t.hit(slot, now);
      }
    }
  };
  assertAllocatesNothing(run, 500_000);
  assert.ok(found > 0);
});

test('G5: one million records fit in 300 MB of process memory', { timeout: 60_000 }, (t) => {
  // A child with --expose-gc measures retained memory precisely (heap + typed arrays after a full GC).
  const moduleUrl = new URL('../../src/answer/persistence.js', import.meta.url).href;
  const script = `
    import { PersistenceTable } from ${JSON.stringify(moduleUrl)};
    const N = 1_000_000, T0 = ${T0};
    const mem = () => { globalThis.gc(); globalThis.gc(); const m = process.memoryUsage(); return { js: m.heapUsed + m.arrayBuffers, rss: m.rss }; };
    const base = mem();
    const t = new PersistenceTable(N);
    const keyOf = (i) => (i * 2654435761) % 2 ** 52;
    let start = performance.now();
    for (let i = 0; i < N; i++) {
      const a = i >>> 8;
      t.put(i % 50, keyOf(i), (a >>> 8) + '.' + (a & 255) + '.' + (i & 255) + '.0/24', i % 16, T0, 3_600_000);
    }
    const putMs = performance.now() - start;
    const full = mem();
    start = performance.now();
    let hits = 0;
    const LOOKUPS = 4_000_000;
    for (let j = 0; j < LOOKUPS; j++) {
      const i = (j * 7919) % N;
      const slot = t.find(i % 50, keyOf(i), T0 + 1);
      if (slot >= 0) { t.hit(slot, T0 + 1); hits++; }
    }
    const findHitMs = performance.now() - start;
    console.log(JSON.stringify({ size: t.size, hits, growthMB: (full.js - base.js) / 2 ** 20, rssGrowthMB: (full.rss - base.rss) / 2 ** 20,
      putsPerSec: Math.round(N / putMs * 1000), findHitPerSec: Math.round(LOOKUPS / findHitMs * 1000) }));
  `;
  const child = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 55_000 });
  assert.equal(child.status, 0, child.stderr);
  const result = JSON.parse(child.stdout.trim()) as { size: number; hits: number; growthMB: number; rssGrowthMB: number; putsPerSec: number; findHitPerSec: number };
  t.diagnostic(`1M records: +${result.growthMB.toFixed(1)} MB heap+arrayBuffers, +${result.rssGrowthMB.toFixed(1)} MB RSS; ` +
    `${result.putsPerSec} puts/s, ${result.findHitPerSec} find+hit/s`);
  assert.equal(result.size, 1_000_000);
  assert.equal(result.hits, 4_000_000);
  assert.ok(result.growthMB < 300, `memory growth ${result.growthMB} MB`);
  assert.ok(result.rssGrowthMB < 300, `RSS growth ${result.rssGrowthMB} MB`);
});
