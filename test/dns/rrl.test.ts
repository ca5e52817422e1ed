// Response Rate Limiting: token buckets per (client prefix, category), slip, debt window, and a table whose
// memory never grows under a flood of spoofed sources. The clock is always injected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertAllocatesNothing } from '../allocation.js';
import {
  ResponseRateLimiter,
  RrlOptionsError,
  RRL_ANSWER,
  RRL_DROP,
  RRL_ERROR,
  RRL_NXDOMAIN,
  RRL_PASS,
  RRL_SLIP,
  type RrlCategory,
  type RrlOptions,
  type RrlVerdict,
} from '../../src/dns/rrl.js';

const T0 = 1_700_000_000_000;

function limiter(overrides: Partial<RrlOptions> = {}): ResponseRateLimiter {
  return new ResponseRateLimiter({
    enabled: true,
    responsesPerSecond: 10,
    nxdomainsPerSecond: 10,
    errorsPerSecond: 10,
    window: 15,
    slip: 2,
    ipv4PrefixLength: 24,
    ipv6PrefixLength: 56,
    tableSize: 4096,
    ...overrides,
  });
}

/** Sends `n` responses to `address` at `nowMs` and counts each verdict. */
function burst(r: ResponseRateLimiter, address: string, n: number, nowMs: number, category: RrlCategory = RRL_ANSWER) {
  const seen = { pass: 0, drop: 0, slip: 0 };
  for (let i = 0; i < n; i++) {
    const v = r.account(address, category, nowMs);
    if (v === RRL_PASS) seen.pass++;
    else if (v === RRL_DROP) seen.drop++;
    else seen.slip++;
  }
  return seen;
}

/** A random IPv4 address outside 192.0.2.0/24, 198.51.100.0/24 and 203.0.113.0/24 (the prefixes the tests watch). */
function randomIPv4(): string {
  for (;;) {
    const v = (Math.random() * 0x100000000) >>> 0;
    const p = v >>> 8;
    if (p === 0xc00002 || p === 0xc63364 || p === 0xcb0071) continue; // a flood must not share a watched prefix
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
}

test('D7 (RRL): a client under its rate is always answered', () => {
  const r = limiter({ responsesPerSecond: 5 });
  // 5/s spread evenly over ten seconds, plus an initial burst that exactly spends the second of credit.
  assert.deepEqual(burst(r, '192.0.2.1', 5, T0), { pass: 5, drop: 0, slip: 0 });
  for (let i = 1; i <= 50; i++) assert.equal(r.account('192.0.2.1', RRL_ANSWER, T0 + i * 200), RRL_PASS);
  assert.deepEqual(r.stats, { passed: 55, dropped: 0, slipped: 0 });
});

test('D7 (RRL): a burst above the rate gets exactly `rate` answers, and slip 2 truncates half of the rest', () => {
  const r = limiter({ responsesPerSecond: 10, slip: 2 });
  assert.deepEqual(burst(r, '192.0.2.1', 100, T0), { pass: 10, drop: 45, slip: 45 });
  assert.deepEqual(r.stats, { passed: 10, dropped: 45, slipped: 45 });
});

test('D7 (RRL): limited responses alternate drop, slip for slip 2; slip 3 truncates every third', () => {
  const two = limiter({ slip: 2 });
  burst(two, '192.0.2.1', 10, T0);
  const seq: RrlVerdict[] = [];
  for (let i = 0; i < 6; i++) seq.push(two.account('192.0.2.1', RRL_ANSWER, T0));
  assert.deepEqual(seq, [RRL_DROP, RRL_SLIP, RRL_DROP, RRL_SLIP, RRL_DROP, RRL_SLIP]);

  const three = limiter({ slip: 3 });
  assert.deepEqual(burst(three, '192.0.2.1', 10 + 300, T0), { pass: 10, drop: 200, slip: 100 });
});

test('D7 (RRL): slip 1 truncates every limited response, slip 0 drops them all', () => {
  assert.deepEqual(burst(limiter({ slip: 1 }), '192.0.2.1', 50, T0), { pass: 10, drop: 0, slip: 40 });
  assert.deepEqual(burst(limiter({ slip: 0 }), '192.0.2.1', 50, T0), { pass: 10, drop: 40, slip: 0 });
});

test('D7 (RRL): over one second at four times the rate, a client gets its credit plus what refills before it runs dry', () => {
  // 8/s credit, one response every 31.25 ms (0.25 token refill each, exact in binary): the balance after the
  // n-th response is 8 + 0.25(n-1) - n, non-negative up to n = 10; after that refill never catches up.
  const r = limiter({ responsesPerSecond: 8, slip: 0 });
  let passed = 0;
  for (let n = 0; n < 32; n++) if (r.account('192.0.2.1', RRL_ANSWER, T0 + n * 31.25) === RRL_PASS) passed++;
  assert.equal(passed, 10);
});

test('D7 (RRL): clients in the same /24 share a bucket; other /24s have their own', () => {
  const r = limiter({ responsesPerSecond: 5, slip: 0 });
  assert.equal(burst(r, '192.0.2.1', 5, T0).pass, 5);
  assert.equal(r.account('192.0.2.200', RRL_ANSWER, T0), RRL_DROP);
  assert.equal(r.account('::ffff:192.0.2.77', RRL_ANSWER, T0), RRL_DROP, 'IPv4-mapped is the same client');
  assert.equal(burst(r, '192.0.3.1', 5, T0).pass, 5);
  assert.equal(burst(r, '198.51.100.1', 5, T0).pass, 5);
});

test('D7 (RRL): the IPv4 prefix length is configurable', () => {
  const r = limiter({ responsesPerSecond: 5, slip: 0, ipv4PrefixLength: 32 });
  assert.equal(burst(r, '192.0.2.1', 5, T0).pass, 5);
  assert.equal(r.account('192.0.2.2', RRL_ANSWER, T0), RRL_PASS);
  assert.equal(r.account('192.0.2.1', RRL_ANSWER, T0), RRL_DROP);
});

test('D7 (RRL): IPv6 clients are grouped by /56', () => {
  const r = limiter({ responsesPerSecond: 5, slip: 0 });
  assert.equal(burst(r, '2001:db8:0:ff00::1', 5, T0).pass, 5);
  // Same first 56 bits (2001:0db8:0000:ff..): same bucket, whatever the rest and any zone index.
  assert.equal(r.account('2001:db8:0:ffaa:1234::2', RRL_ANSWER, T0), RRL_DROP);
  assert.equal(r.account('2001:db8:0:ff01::9%eth0', RRL_ANSWER, T0), RRL_DROP);
  // Differs in bit 56 or earlier: separate bucket.
  assert.equal(burst(r, '2001:db8:0:fe00::1', 5, T0).pass, 5);
  assert.equal(burst(r, '2001:db8:1:ff00::1', 5, T0).pass, 5);
  // An IPv4 client whose address equals the first IPv6 word is still a different client.
  assert.equal(burst(r, '32.1.13.184', 5, T0).pass, 5);
});

test('D7 (RRL): answers, NXDOMAINs and errors are separate buckets with their own rates', () => {
  const r = limiter({ responsesPerSecond: 10, nxdomainsPerSecond: 3, errorsPerSecond: 1, slip: 0 });
  assert.equal(burst(r, '192.0.2.1', 20, T0, RRL_ANSWER).pass, 10);
  assert.equal(burst(r, '192.0.2.1', 20, T0, RRL_NXDOMAIN).pass, 3);
  assert.equal(burst(r, '192.0.2.1', 20, T0, RRL_ERROR).pass, 1);
});

test('D7 (RRL): a category with rate 0 is never limited', () => {
  const r = limiter({ responsesPerSecond: 0, nxdomainsPerSecond: 2, slip: 0 });
  assert.equal(burst(r, '192.0.2.1', 1000, T0, RRL_ANSWER).pass, 1000);
  assert.equal(burst(r, '192.0.2.1', 10, T0, RRL_NXDOMAIN).pass, 2);
});

test('D7 (RRL): credit refills at the rate as time passes, capped at one second of it', () => {
  const r = limiter({ responsesPerSecond: 10, slip: 0 });
  burst(r, '192.0.2.1', 11, T0); // spends the credit and one more: balance -1
  // Half a second refills 5 tokens: balance 4, so four answers and then the limit again.
  assert.deepEqual(burst(r, '192.0.2.1', 6, T0 + 500), { pass: 4, drop: 2, slip: 0 });
  // A long silence earns one second of credit, not a minute of it.
  assert.deepEqual(burst(r, '192.0.2.1', 30, T0 + 60_000), { pass: 10, drop: 20, slip: 0 });
});

test('D7 (RRL): a clock stepping backwards earns no credit', () => {
  const r = limiter({ responsesPerSecond: 10, slip: 0 });
  burst(r, '192.0.2.1', 10, T0);
  assert.equal(r.account('192.0.2.1', RRL_ANSWER, T0 - 5000), RRL_DROP);
});

test('D7 (RRL): a flooder owes up to `window` seconds of debt and stays limited until it is repaid', () => {
  const flood = (window: number) => {
    const r = limiter({ responsesPerSecond: 10, window, slip: 0 });
    burst(r, '192.0.2.1', 10_000, T0); // far above the rate: the balance sinks to the floor, -window × rate
    return r;
  };
  // window 5: floor -50, refilled at 10/s; 4.9 s later the balance is still -1.
  assert.equal(flood(5).account('192.0.2.1', RRL_ANSWER, T0 + 4900), RRL_DROP);
  // 5.1 s later it is +1: answered again.
  assert.equal(flood(5).account('192.0.2.1', RRL_ANSWER, T0 + 5100), RRL_PASS);
  // window 1 forgives after a little more than a second.
  assert.equal(flood(1).account('192.0.2.1', RRL_ANSWER, T0 + 900), RRL_DROP);
  assert.equal(flood(1).account('192.0.2.1', RRL_ANSWER, T0 + 1100), RRL_PASS);
});

test('D7 (RRL): a client sending at twice the rate gets its first second of credit, then nothing while it keeps it up', () => {
  const r = limiter({ responsesPerSecond: 10, window: 2, slip: 0 });
  // 20/s: each response refills 0.5 and spends 1, so the balance after the n-th is 9.5 - 0.5n until it
  // reaches the floor (-20); answers stop after n = 19 and never resume at this pace.
  const verdicts: RrlVerdict[] = [];
  for (let i = 0; i < 200; i++) verdicts.push(r.account('192.0.2.1', RRL_ANSWER, T0 + i * 50));
  assert.equal(verdicts.filter((v) => v === RRL_PASS).length, 19);
  assert.ok(verdicts.slice(19).every((v) => v === RRL_DROP));
});

test('D7 (RRL): a flood from 1,000,000 random sources leaves memory unchanged and a real flooder still limited', () => {
  const r = limiter({ responsesPerSecond: 10, slip: 0, tableSize: 65536 });
  const bytes = r.memoryBytes;
  assert.equal(r.capacity, 65536);

  // A reflection victim's prefix is already in debt when the spoofed flood begins.
  burst(r, '203.0.113.9', 1000, T0);
  for (let i = 0; i < 1_000_000; i++) r.account(randomIPv4(), RRL_ANSWER, T0 + i / 1000);
  assert.equal(r.memoryBytes, bytes);
  assert.equal(r.capacity, 65536);
  assert.ok(r.occupied <= r.capacity);
  assert.ok(r.occupied > 60000, `occupied ${r.occupied}: the flood should have filled the table`);

  // Buckets in debt are evicted last, so the flood did not forgive the flooder (1 s later: still -140).
  const t = T0 + 1000;
  assert.equal(r.account('203.0.113.9', RRL_ANSWER, t), RRL_DROP);
  // And a fresh heavy source is limited exactly as on an empty table.
  assert.equal(burst(r, '198.51.100.1', 100, t).pass, 10);
});

test('D7 (RRL): a flood of random IPv6 sources is bounded the same way', () => {
  const r = limiter({ responsesPerSecond: 10, slip: 0, tableSize: 1024 });
  const bytes = r.memoryBytes;
  const hex = () => ((Math.random() * 0x10000) >>> 0).toString(16);
  for (let i = 0; i < 100_000; i++) r.account(`2001:${hex()}:${hex()}:${hex()}::${hex()}`, RRL_NXDOMAIN, T0);
  assert.equal(r.memoryBytes, bytes);
  assert.ok(r.occupied <= 1024);
  assert.equal(burst(r, '2001:db8::1', 100, T0, RRL_NXDOMAIN).pass, 10);
});

test('D7 (RRL): a table of one slot still limits correctly', () => {
  const r = limiter({ tableSize: 1, slip: 0 });
  assert.equal(burst(r, '192.0.2.1', 20, T0).pass, 10);
  assert.equal(burst(r, '198.51.100.1', 20, T0).pass, 10);
  assert.equal(r.occupied, 1);
});

test('D7 (RRL): accounting an IPv4 or IPv6 client allocates nothing', () => {
  const r = limiter({ responsesPerSecond: 5, tableSize: 8192 });
  const v4: string[] = [];
  const v6: string[] = [];
  for (let i = 0; i < 4096; i++) {
    v4.push(randomIPv4());
    v6.push(`2001:db8:${(i * 37).toString(16)}::${i.toString(16)}`);
  }
  const now = T0; // one boxed number, as a caller reading its clock once per batch would pass
  const run = (list: string[], n: number) => {
    for (let i = 0; i < n; i++) r.account(list[i & 4095]!, (i % 3) as RrlCategory, now);
  };
  for (const list of [v4, v6]) assertAllocatesNothing((n) => run(list, n), 500_000);
});

test('D7 (RRL): when disabled, everything passes', () => {
  const r = limiter({ enabled: false, responsesPerSecond: 1 });
  assert.equal(burst(r, '192.0.2.1', 1000, T0).pass, 1000);
  assert.equal(burst(r, '2001:db8::1', 1000, T0, RRL_ERROR).pass, 1000);
  assert.deepEqual(r.stats, { passed: 2000, dropped: 0, slipped: 0 });
  assert.equal(r.occupied, 0);
});

test('D7 (RRL): unparseable addresses pass rather than share a bucket', () => {
  const r = limiter({ responsesPerSecond: 1 });
  assert.equal(burst(r, 'not-an-address', 10, T0).pass, 10);
  assert.equal(r.occupied, 0);
});

test('D7 (RRL): invalid options name the offending field', () => {
  assert.throws(() => limiter({ window: 0 }), (e: unknown) => e instanceof RrlOptionsError && e.path === 'rrl.window');
  assert.throws(() => limiter({ tableSize: 0 }), (e: unknown) => e instanceof RrlOptionsError && e.path === 'rrl.tableSize');
  assert.throws(() => limiter({ ipv6PrefixLength: 129 }), /rrl\.ipv6PrefixLength/);
  assert.throws(() => limiter({ slip: 1.5 }), /rrl\.slip/);
  assert.throws(() => limiter({ responsesPerSecond: -1 }), /rrl\.responsesPerSecond/);
  assert.throws(() => limiter({ nxdomainsPerSecond: 0.5 }), /rrl\.nxdomainsPerSecond/);
  assert.throws(() => limiter({ errorsPerSecond: Number.NaN }), /rrl\.errorsPerSecond/);
});
