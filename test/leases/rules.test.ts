// The lease rules of SPEC L2/L3 (seed 000's FIG. 4-7) and the address-pool configuration (L1), as pure functions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../../src/config/schema.js';
import { answerTtl, chooseLease, extendedExpiry, grantMs, onExpiry, reclaimable, serverToLease, type LeaseView, type PoolRules } from '../../src/leases/rules.js';
import { lowWaterOf, poolAddresses, validateLeases } from '../../src/leases/validate.js';

const RULES: PoolRules = { leaseTtl: 200_000, extendBy: 60_000, lowWater: 2, cooldown: 30_000, onExhausted: 'servfail' };
const T = 1_000_000;
const lease = (o: Partial<LeaseView> = {}): LeaseView => ({ address: '192.0.2.1', name: 'd1.test', server: 's1', leasedAt: T, expiresAt: T + 200_000, requests: 5, requestsAtExtension: 0, open: 0, ...o });

test('L2: a new lease is 200 s; a query 60 s later extends it by 60 s: the answer says 200, then 200 (=260-60), never past the lease', () => {
  assert.equal(grantMs(RULES, 10), 200_000);
  assert.equal(answerTtl(T + 200_000, T), 200);
  const after = extendedExpiry(RULES, lease(), T + 60_000, 10);
  assert.equal(after, T + 260_000);
  assert.equal(answerTtl(after, T + 60_000), 200);
  assert.equal(answerTtl(T + 200_999, T + 1), 200, 'rounded down: the TTL never outlives the lease');
});

test('L2: however many queries come, a lease never runs more than leaseTtl + extendBy ahead', () => {
  let l = lease();
  for (let i = 0; i < 50; i++) l = { ...l, expiresAt: extendedExpiry(RULES, { ...l, requests: l.requestsAtExtension + 1 }, T, 10) };
  assert.equal(l.expiresAt, T + 260_000);
});

test('L3 (FIG. 6): below low water new and extended leases are shorter, never below a quarter', () => {
  assert.equal(grantMs(RULES, 1), 100_000, 'one free of low water 2: half');
  assert.equal(grantMs(RULES, 0), 50_000, 'none free: a quarter');
  assert.equal(extendedExpiry(RULES, lease(), T, 1), T + 230_000, 'the step halved too');
});

test('L3 (FIG. 7): an idle server (no request since the last extension) gets half the step', () => {
  assert.equal(extendedExpiry(RULES, lease({ requests: 3, requestsAtExtension: 3 }), T, 10), T + 230_000);
  assert.equal(extendedExpiry(RULES, lease({ requests: 4, requestsAtExtension: 3 }), T, 10), T + 260_000);
});

test('L2: of a name\'s leases the least requested server\'s is answered; a multi-server name leases its servers one by one while free addresses last', () => {
  const a = lease({ address: '192.0.2.1', server: 's2', requests: 9 });
  const b = lease({ address: '192.0.2.2', server: 's3', requests: 4 });
  assert.equal(chooseLease([a, b]), b);
  assert.equal(chooseLease([a, { ...b, requests: 9 }]), a, 'ties by address');
  assert.equal(serverToLease(['s2', 's3'], new Set(), RULES, 0), 's2', 'the first lease even with nothing above low water');
  assert.equal(serverToLease(['s2', 's3'], new Set(['s2']), RULES, 5), 's3');
  assert.equal(serverToLease(['s2', 's3'], new Set(['s2']), RULES, 2), null, 'at low water: one address per name');
  assert.equal(serverToLease(['s2', 's3'], new Set(['s2', 's3']), RULES, 5), null);
});

test('L3 (FIG. 5): an expired lease returns to cool down, unless its server has open connections: then it runs another leaseTtl', () => {
  assert.equal(onExpiry(RULES, lease(), T + 199_999), null);
  assert.deepEqual(onExpiry(RULES, lease(), T + 200_000), { keep: false, coolUntil: T + 230_000 });
  assert.deepEqual(onExpiry(RULES, lease({ open: 2 }), T + 200_000), { keep: true, expiresAt: T + 400_000 });
});

test('L3: an exhausted pool reclaims the idlest lease without open connections of another name, or (servfail) none', () => {
  const leases = [lease({ address: 'a', name: 'x', requests: 1, open: 1 }), lease({ address: 'b', name: 'y', requests: 3 }), lease({ address: 'c', name: 'z', requests: 2 }), lease({ address: 'd', name: 'me', requests: 0 })];
  assert.equal(reclaimable(RULES, leases, 'me'), null);
  assert.equal(reclaimable({ ...RULES, onExhausted: 'reclaim-idlest' }, leases, 'me')?.address, 'c');
});

test('L1: pools expand CIDRs and addresses; mistakes are refused with the path of the field', () => {
  assert.deepEqual(poolAddresses({ addresses: ['127.0.3.0/30', '127.0.4.7', '2001:db8::fe/127'] }), { ok: true, addresses: ['127.0.3.0', '127.0.3.1', '127.0.3.2', '127.0.3.3', '127.0.4.7', '2001:db8::fe', '2001:db8::ff'] });
  assert.equal(lowWaterOf({ lowWater: '20%' }, 16), 4);
  const cfg = configSchema.parse({
    names: [{ name: 'both.example.test', pools: ['p'] }],
    pools: [{ name: 'p', members: [{ address: '192.0.2.9' }] }],
    addressPools: [{ name: 'public', addresses: ['127.0.3.0/28', '127.0.3.5'], lowWater: 99 }, { name: 'big', addresses: ['10.0.0.0/8'] }],
    leasedServers: [{ name: 's1', address: '127.0.10.11' }],
    leasedNames: [{ name: 'd1.example.test', pool: 'public', servers: ['s1', 's9'] }, { name: 'both.example.test', pool: 'nope', servers: ['s1'] }],
  });
  assert.deepEqual(validateLeases(cfg).map((e) => `${e.path}: ${e.message}`), [
    'addressPools: leases live in the store: add store: (path: for one node, postgres: for several)',
    'addressPools[0].addresses: 127.0.3.5 is listed twice',
    'addressPools[0].lowWater: 99 is more than the pool\'s 17 addresses',
    'addressPools[1].addresses[0]: a pool holds at most 65,536 addresses',
    'leasedNames[0].servers[1]: unknown server "s9" (leasedServers:)',
    'leasedNames[1].name: both.example.test is also a policy name (names:); a name is answered one way',
    'leasedNames[1].pool: unknown address pool "nope"',
  ]);
  const parsed = configSchema.parse({ addressPools: [{ name: 'public', addresses: ['127.0.3.0/28'] }] }).addressPools[0]!;
  assert.deepEqual([parsed.leaseTtl, parsed.extendBy, parsed.cooldown, parsed.onExhausted], [200_000, 60_000, 30_000, 'servfail'], 'the seed\'s defaults');
});

test('L1: README: the address-pool configuration it shows is valid as written', async () => {
  const fs = await import('node:fs');
  const path = await import('node:path');
  const { ROOT } = await import('../harness.js');
  const { parseConfigText } = await import('../../src/config/load.js');
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Shared public addresses'));
  const yaml = /```yaml\n([\s\S]*?)```/.exec(section)![1]!;
  const parsed = parseConfigText(yaml);
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.errors));
  assert.deepEqual(validateLeases(parsed.value), []);
  assert.equal(parsed.value.addressPools[0]!.lowWater, 2);
});
