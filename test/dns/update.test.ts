// Dynamic update's rules (RFC 2136, SPEC D5) on real compiled zones: every prerequisite form, every update form, the
// SOA/apex NS/CNAME rules, format errors, the policy forms (owners, types, caps, keys and addresses), serial policies,
// and the response with its extended error. The messages are built as nsupdate builds them (dns-packet cannot write
// class NONE/ANY records without RDATA, so the sections are written here byte by byte).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseZoneText } from '../../src/dns/zonefile.js';
import { compileZone, type ZoneLayers } from '../../src/dns/zone.js';
import { applyUpdates, checkPermission, checkPrerequisites, parseUpdate, prescan, updateResponse, serialGreater, CLASS_ANY, CLASS_NONE, UPDATE_RCODE, type UpdateMessage, type UpdateFailure, type ZoneView, type UpdateResult } from '../../src/dns/update.js';
import { UpdatePolicy, mayTransfer, type UpdateRule } from '../../src/dns/update-policy.js';
import { foldLayers, layDynamic, layerPolicySlot, layerRecords, layerSerial, nextSerial, shouldFold } from '../../src/dns/dynamic.js';
import { encodeName } from '../../src/wire/name.js';
import { encodeRdata, type RData } from '../../src/wire/rdata.js';
import { CLASS_IN, RCODE, TYPE } from '../../src/wire/types.js';
import { decode } from '../harness.js';

const ORIGIN = 'dyn.test';
const ZONE = `$ORIGIN dyn.test.
$TTL 300
@ IN SOA ns1 hostmaster 100 3600 600 604800 60
@ IN NS ns1
@ IN NS ns2
ns1 IN A 192.0.2.53
ns2 IN A 192.0.2.54
www IN A 192.0.2.1
www IN A 192.0.2.2
www IN TXT "site"
alias IN CNAME www
`;

function layers(): ZoneLayers {
  const parsed = parseZoneText(ZONE, { file: 'dyn.zone', origin: ORIGIN, defaultTtl: 300 });
  const z = compileZone(ORIGIN, parsed.records, ['gslb.dyn.test']);
  assert.equal(z.problems.length, 0, JSON.stringify(z.problems));
  return z.zone!.layers;
}

function viewOf(l: ZoneLayers): ZoneView {
  return { origin: ORIGIN, records: (n) => layerRecords(l, n), policyPool: (n) => (n === 'gslb.dyn.test' ? 'web' : null) };
}

/** One RR as nsupdate writes it: `data` null for no RDATA. */
interface RR { name: string; type: number; klass?: number; ttl?: number; data?: RData | null }
function rrBytes(r: RR): Buffer {
  const rdata = r.data === undefined || r.data === null ? Buffer.alloc(0) : encodeRdata(r.type, r.data);
  const head = Buffer.alloc(10);
  head.writeUInt16BE(r.type, 0);
  head.writeUInt16BE(r.klass ?? CLASS_IN, 2);
  head.writeUInt32BE(r.ttl ?? 0, 4);
  head.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([encodeName(r.name), head, rdata]);
}
function updateMessage(prereqs: RR[], updates: RR[], o: { zone?: string; zoneType?: number; zones?: number; edns?: boolean; id?: number } = {}): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(o.id ?? 0x1234, 0);
  h.writeUInt16BE(5 << 11, 2);
  h.writeUInt16BE(o.zones ?? 1, 4);
  h.writeUInt16BE(prereqs.length, 6);
  h.writeUInt16BE(updates.length, 8);
  h.writeUInt16BE(o.edns ? 1 : 0, 10);
  const zt = Buffer.alloc(4);
  zt.writeUInt16BE(o.zoneType ?? TYPE.SOA, 0);
  zt.writeUInt16BE(CLASS_IN, 2);
  const opt = Buffer.from([0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([h, encodeName(o.zone ?? ORIGIN), zt, ...prereqs.map(rrBytes), ...updates.map(rrBytes), ...(o.edns ? [opt] : [])]);
}

const KEYED: UpdateRule[] = [{ key: ['ddns'], owners: { subtree: [ORIGIN] }, types: ['A', 'AAAA', 'TXT', 'CNAME', 'NS', 'SOA', 'MX'], maxRecords: 4 }];
function policy(rules = KEYED, key: string | null = 'ddns', address = '127.0.0.1'): UpdatePolicy {
  return new UpdatePolicy(ORIGIN, rules, { key, address }, 'zones[0].update');
}

/** The whole decision as the supervisor makes it, on the zone as compiled above. */
function run(prereqs: RR[], updates: RR[], p = policy(), l = layers()): UpdateResult | UpdateFailure {
  const u = parseUpdate(updateMessage(prereqs, updates));
  if ('rcode' in u) return u;
  const v = viewOf(l);
  return checkPrerequisites(u, v) ?? checkPermission(u, v, p) ?? prescan(u, ORIGIN) ?? applyUpdates(u, v, p);
}
function rcodeOf(r: UpdateResult | UpdateFailure): number { return 'rcode' in r ? r.rcode : RCODE.NOERROR; }
function changedAt(r: UpdateResult | UpdateFailure, name: string, type: number): string[] | undefined {
  assert.ok(!('rcode' in r), `failed: ${'reason' in r ? r.reason : ''}`);
  return r.changed.get(name)?.get(type)?.map((x) => `${x.ttl} ${typeof x.data === 'string' ? x.data : JSON.stringify(x.data)}`).sort();
}

test('D5: every prerequisite form holds or fails with its RFC 2136 rcode (name in use, not in use, RRset exists, does not, exists with these values)', () => {
  const cases: Array<[RR, number]> = [
    [{ name: 'www.dyn.test', type: TYPE.ANY, klass: CLASS_ANY }, RCODE.NOERROR],
    [{ name: 'nope.dyn.test', type: TYPE.ANY, klass: CLASS_ANY }, RCODE.NXDOMAIN],
    [{ name: 'nope.dyn.test', type: TYPE.ANY, klass: CLASS_NONE }, RCODE.NOERROR],
    [{ name: 'www.dyn.test', type: TYPE.ANY, klass: CLASS_NONE }, UPDATE_RCODE.YXDOMAIN],
    [{ name: 'www.dyn.test', type: TYPE.TXT, klass: CLASS_ANY }, RCODE.NOERROR],
    [{ name: 'www.dyn.test', type: TYPE.MX, klass: CLASS_ANY }, UPDATE_RCODE.NXRRSET],
    [{ name: 'www.dyn.test', type: TYPE.MX, klass: CLASS_NONE }, RCODE.NOERROR],
    [{ name: 'www.dyn.test', type: TYPE.A, klass: CLASS_NONE }, UPDATE_RCODE.YXRRSET],
    [{ name: 'outside.example', type: TYPE.A, klass: CLASS_ANY }, UPDATE_RCODE.NOTZONE],
    [{ name: 'www.dyn.test', type: TYPE.A, klass: CLASS_ANY, ttl: 5 }, RCODE.FORMERR],
    [{ name: 'www.dyn.test', type: TYPE.A, klass: CLASS_ANY, data: '192.0.2.1' }, RCODE.FORMERR],
  ];
  for (const [pre, want] of cases) assert.equal(rcodeOf(run([pre], [])), want, `${pre.name} ${pre.type} class ${pre.klass}`);
  // Value-dependent: exactly the RRset, TTLs aside and in any order; one value short or one too many fails.
  const a = (d: string): RR => ({ name: 'www.dyn.test', type: TYPE.A, data: d });
  assert.equal(rcodeOf(run([a('192.0.2.2'), a('192.0.2.1')], [])), RCODE.NOERROR);
  assert.equal(rcodeOf(run([a('192.0.2.1')], [])), UPDATE_RCODE.NXRRSET);
  assert.equal(rcodeOf(run([a('192.0.2.1'), a('192.0.2.2'), a('192.0.2.3')], [])), UPDATE_RCODE.NXRRSET);
  assert.equal(rcodeOf(run([{ name: 'ALIAS.dyn.test', type: TYPE.CNAME, data: 'WWW.dyn.test' }], [])), RCODE.NOERROR, 'names in RDATA compare without case');
});

test('D5: the four update forms: add, delete an RRset, delete everything at a name, delete one record; one TTL per RRset', () => {
  const add = run([], [{ name: 'h.dyn.test', type: TYPE.A, ttl: 60, data: '198.51.100.1' }, { name: 'h.dyn.test', type: TYPE.A, ttl: 30, data: '198.51.100.2' }]);
  assert.deepEqual(changedAt(add, 'h.dyn.test', TYPE.A), ['30 198.51.100.1', '30 198.51.100.2'], 'the latest TTL is the RRset\'s');
  const dup = run([], [{ name: 'www.dyn.test', type: TYPE.A, ttl: 300, data: '192.0.2.1' }]);
  assert.ok(!('rcode' in dup) && dup.changed.size === 0, 'adding a record that is there changes nothing');
  const delSet = run([], [{ name: 'www.dyn.test', type: TYPE.A, klass: CLASS_ANY }]);
  assert.deepEqual(changedAt(delSet, 'www.dyn.test', TYPE.A), []);
  assert.equal(changedAt(delSet, 'www.dyn.test', TYPE.TXT), undefined, 'the TXT RRset stays');
  const delName = run([], [{ name: 'www.dyn.test', type: TYPE.ANY, klass: CLASS_ANY }]);
  assert.deepEqual(changedAt(delName, 'www.dyn.test', TYPE.A), []);
  assert.deepEqual(changedAt(delName, 'www.dyn.test', TYPE.TXT), []);
  const delOne = run([], [{ name: 'www.dyn.test', type: TYPE.A, klass: CLASS_NONE, data: '192.0.2.2' }]);
  assert.deepEqual(changedAt(delOne, 'www.dyn.test', TYPE.A), ['300 192.0.2.1']);
  // Replace, as nsupdate's "update delete x A" + "update add x A" does, in one message.
  const replace = run([], [{ name: 'www.dyn.test', type: TYPE.A, klass: CLASS_ANY }, { name: 'www.dyn.test', type: TYPE.A, ttl: 60, data: '203.0.113.9' }]);
  assert.deepEqual(changedAt(replace, 'www.dyn.test', TYPE.A), ['60 203.0.113.9']);
});

test('D5: at the apex SOA and NS survive deletes, the last NS is kept, only a newer SOA serial replaces it; CNAME and other data never mix', () => {
  const apexAll = run([], [{ name: ORIGIN, type: TYPE.ANY, klass: CLASS_ANY }]);
  assert.ok(!('rcode' in apexAll) && apexAll.changed.size === 0, 'deleting everything at the apex leaves SOA and NS');
  const ns1 = run([], [{ name: ORIGIN, type: TYPE.NS, klass: CLASS_NONE, data: 'ns1.dyn.test' }]);
  assert.deepEqual(changedAt(ns1, ORIGIN, TYPE.NS), ['300 ns2.dyn.test']);
  const both = run([], [{ name: ORIGIN, type: TYPE.NS, klass: CLASS_NONE, data: 'ns1.dyn.test' }, { name: ORIGIN, type: TYPE.NS, klass: CLASS_NONE, data: 'ns2.dyn.test' }]);
  assert.deepEqual(changedAt(both, ORIGIN, TYPE.NS), ['300 ns2.dyn.test'], 'the last NS is not deleted');
  const soa = (serial: number): RR => ({ name: ORIGIN, type: TYPE.SOA, ttl: 300, data: { mname: 'ns1.dyn.test', rname: 'hostmaster.dyn.test', serial, refresh: 7200, retry: 600, expire: 604800, minimum: 60 } });
  const older = run([], [soa(99)]);
  assert.ok(!('rcode' in older) && older.changed.size === 0 && older.soa === null, 'an older serial is ignored');
  const newer = run([], [soa(500)]);
  assert.ok(!('rcode' in newer) && newer.soa !== null && (newer.soa.data as { serial: number }).serial === 500);
  const cnameOver = run([], [{ name: 'www.dyn.test', type: TYPE.CNAME, ttl: 60, data: 'other.dyn.test' }]);
  assert.ok(!('rcode' in cnameOver) && cnameOver.changed.size === 0, 'a CNAME at a name with other data is ignored');
  const aAtCname = run([], [{ name: 'alias.dyn.test', type: TYPE.A, ttl: 60, data: '192.0.2.7' }]);
  assert.ok(!('rcode' in aAtCname) && aAtCname.changed.size === 0, 'other data at a CNAME is ignored');
  const cnameSwap = run([], [{ name: 'alias.dyn.test', type: TYPE.CNAME, ttl: 60, data: 'ns1.dyn.test' }]);
  assert.deepEqual(changedAt(cnameSwap, 'alias.dyn.test', TYPE.CNAME), ['60 ns1.dyn.test'], 'a CNAME replaces the CNAME');
});

test('D5: malformed UPDATE messages are FORMERR (zone count, zone type, class, meta types, TTL on deletes), NOTZONE outside the zone', () => {
  const bad = (m: Buffer): number => { const u = parseUpdate(m); return 'rcode' in u ? u.rcode : -1; };
  assert.equal(bad(updateMessage([], [], { zones: 2 })), RCODE.FORMERR);
  assert.equal(bad(updateMessage([], [], { zoneType: TYPE.A })), RCODE.FORMERR);
  assert.equal(bad(updateMessage([], []).subarray(0, 20)), RCODE.FORMERR);
  const truncatedRdata = updateMessage([], [{ name: 'h.dyn.test', type: TYPE.A, ttl: 5, data: '192.0.2.1' }]);
  assert.equal(bad(Buffer.concat([truncatedRdata.subarray(0, truncatedRdata.length - 1)])), RCODE.FORMERR);
  assert.equal(rcodeOf(run([], [{ name: 'h.dyn.test', type: TYPE.ANY, ttl: 60, data: null }])), RCODE.FORMERR, 'class IN type ANY');
  assert.equal(rcodeOf(run([], [{ name: 'h.dyn.test', type: TYPE.A, klass: CLASS_ANY, ttl: 60 }])), RCODE.FORMERR, 'a delete with a TTL');
  assert.equal(rcodeOf(run([], [{ name: 'h.dyn.test', type: TYPE.A, klass: CLASS_NONE }])), RCODE.FORMERR, 'class NONE without RDATA');
  assert.equal(rcodeOf(run([], [{ name: 'h.dyn.test', type: TYPE.A, klass: 3, ttl: 60, data: '192.0.2.1' }])), RCODE.FORMERR, 'class CH');
  assert.equal(rcodeOf(run([], [{ name: 'h.elsewhere.test', type: TYPE.A, ttl: 60, data: '192.0.2.1' }], policy([{ key: ['ddns'] }]))), UPDATE_RCODE.NOTZONE);
});

test('D5: the policy: owners by exact name, subtree, strictly below, pattern and key name; types; a cap per RRset; key and address', () => {
  const only = (rule: UpdateRule, name: string, type: number = TYPE.A, key: string | null = 'ddns', address = '127.0.0.1'): number =>
    rcodeOf(run([], [{ name, type, ttl: 60, data: type === TYPE.TXT ? [Buffer.from('x')] : '198.51.100.1' }], policy([rule], key, address)));
  assert.equal(only({ key: ['ddns'], owners: { exact: ['h.dyn.test'] } }, 'h.dyn.test'), RCODE.NOERROR);
  assert.equal(only({ key: ['ddns'], owners: { exact: ['h.dyn.test'] } }, 'x.h.dyn.test'), RCODE.REFUSED);
  assert.equal(only({ key: ['ddns'], owners: { subtree: ['h.dyn.test'] } }, 'h.dyn.test'), RCODE.NOERROR);
  assert.equal(only({ key: ['ddns'], owners: { below: ['h.dyn.test'] } }, 'h.dyn.test'), RCODE.REFUSED);
  assert.equal(only({ key: ['ddns'], owners: { below: ['h.dyn.test'] } }, 'a.h.dyn.test'), RCODE.NOERROR);
  assert.equal(only({ key: ['ddns'], owners: { pattern: ['*.hosts.dyn.test'] } }, 'a.hosts.dyn.test'), RCODE.NOERROR);
  assert.equal(only({ key: ['ddns'], owners: { pattern: ['*.hosts.dyn.test'] } }, 'a.b.hosts.dyn.test'), RCODE.REFUSED, '"*" is one label');
  assert.equal(only({ key: ['h.dyn.test'], owners: { keyName: true } }, 'h.dyn.test', TYPE.A, 'h.dyn.test'), RCODE.NOERROR);
  assert.equal(only({ key: ['h.dyn.test'], owners: { keyName: true } }, 'other.dyn.test', TYPE.A, 'h.dyn.test'), RCODE.REFUSED);
  assert.equal(only({ key: ['ddns'], types: ['AAAA'] }, 'h.dyn.test'), RCODE.REFUSED);
  assert.equal(only({ key: ['other'] }, 'h.dyn.test'), RCODE.REFUSED, 'another key');
  assert.equal(only({ key: ['ddns'] }, 'h.dyn.test', TYPE.A, null), RCODE.REFUSED, 'unsigned, with key rules only');
  assert.equal(only({ from: ['127.0.0.0/8'] }, 'h.dyn.test', TYPE.A, null), RCODE.NOERROR, 'an address rule lets unsigned requests in, explicitly');
  assert.equal(only({ from: ['10.0.0.0/8'] }, 'h.dyn.test', TYPE.A, null), RCODE.REFUSED);
  assert.equal(only({ key: ['ddns'], from: ['::1/128'] }, 'h.dyn.test'), RCODE.REFUSED, 'key and address must both hold');
  const five = Array.from({ length: 5 }, (_, i): RR => ({ name: 'h.dyn.test', type: TYPE.A, ttl: 60, data: `198.51.100.${i + 1}` }));
  const capped = run([], five);
  assert.equal(rcodeOf(capped), RCODE.REFUSED);
  assert.match((capped as UpdateFailure).reason, /would have 5 records; the policy allows 4/);
  assert.equal(rcodeOf(run([], five.slice(0, 4))), RCODE.NOERROR);
  const denied = run([], [{ name: 'www.dyn.test', type: TYPE.ANY, klass: CLASS_ANY }], policy([{ key: ['ddns'], types: ['A'] }]));
  assert.equal(rcodeOf(denied), RCODE.REFUSED, 'deleting every type at a name needs every type it deletes');
  assert.match((denied as UpdateFailure).reason, /may not change TXT at www\.dyn\.test/);
  const gslb = run([], [{ name: 'gslb.dyn.test', type: TYPE.A, ttl: 60, data: '192.0.2.9' }]);
  assert.match((gslb as UpdateFailure).reason, /policy name \(pool web answers it\)/);
  assert.equal(mayTransfer([{ key: ['xfr'] }], { key: 'xfr', address: '127.0.0.1' }), true);
  assert.equal(mayTransfer([{ key: ['xfr'] }], { key: null, address: '127.0.0.1' }), false);
  assert.equal(mayTransfer(undefined, { key: 'xfr', address: '127.0.0.1' }), false, 'no rules: nobody');
});

test('D5: a change is laid over the zone with the new serial; serials advance by increment, unixtime and dateserial, always upward (RFC 1982)', () => {
  const l = layers();
  const r = run([], [{ name: 'h.dyn.test', type: TYPE.A, ttl: 60, data: '198.51.100.1' }, { name: 'www.dyn.test', type: TYPE.TXT, klass: CLASS_ANY }]);
  assert.ok(!('rcode' in r));
  const laid = layDynamic(l, r.changed, 101);
  assert.ok('layers' in laid);
  assert.equal(layerSerial(laid.layers), 101);
  assert.deepEqual(layerRecords(laid.layers, 'h.dyn.test').map((x) => x.data), ['198.51.100.1']);
  assert.deepEqual(layerRecords(laid.layers, 'www.dyn.test').map((x) => x.type), [TYPE.A, TYPE.A]);
  assert.equal(layerRecords(laid.layers, 'ns1.dyn.test').length, 1, 'the rest of the zone is as it was');
  const now = Date.UTC(2026, 11, 2, 12);
  assert.equal(nextSerial('increment', 100, now), 101);
  assert.equal(nextSerial('increment', 0xffffffff, now), 0);
  assert.equal(nextSerial('unixtime', 100, now), now / 1000);
  assert.equal(nextSerial('unixtime', now / 1000 + 5, now), now / 1000 + 6, 'never backwards');
  assert.equal(nextSerial('dateserial', 100, now), 2026120200);
  assert.equal(nextSerial('dateserial', 2026120207, now), 2026120208);
  assert.ok(serialGreater(1, 0xffffffff) && !serialGreater(0xffffffff, 1));
});

test('D5: the response echoes ID, opcode and zone section; with EDNS a refusal carries its reason as an RFC 8914 extended error', () => {
  const u = parseUpdate(updateMessage([], [], { edns: true, id: 777 })) as UpdateMessage;
  const res = decode(updateResponse(u, u.id, RCODE.REFUSED, { rcode: RCODE.REFUSED, info: 18, reason: 'key ddns may not change MX at x' }));
  assert.equal(res.id, 777);
  assert.equal(res.rcode, 'REFUSED');
  assert.equal(res.opcode, 'UPDATE');
  assert.equal(res.questions?.[0]?.name, ORIGIN);
  const opt = res.additionals?.find((a) => a.type === 'OPT');
  const ede = opt?.options?.find((o) => o.code === 15);
  assert.ok(ede?.data, 'an EDE option');
  assert.equal(ede.data.readUInt16BE(0), 18);
  assert.equal(ede.data.subarray(2).toString(), 'key ddns may not change MX at x');
  const plain = parseUpdate(updateMessage([], [])) as UpdateMessage;
  assert.equal(decode(updateResponse(plain, plain.id, RCODE.REFUSED, { rcode: RCODE.REFUSED, info: 18, reason: 'x' })).additionals?.length ?? 0, 0, 'no EDNS, no OPT');
});

test('D5: a large overlay is folded into one image with the same records and the same policy slots; small ones are not', () => {
  const base = layers();
  const changes = new Map<string, Map<number, import('../../src/wire/rdata.js').ZoneRecord[]>>();
  for (let i = 0; i < 40; i++) changes.set(`n${i}.dyn.test`, new Map([[TYPE.A, [{ name: `n${i}.dyn.test`, type: TYPE.A, ttl: 60, data: `198.51.100.${i}` }]]]));
  changes.set('www.dyn.test', new Map([[TYPE.TXT, []]]));
  const laid = layDynamic(base, changes, 150);
  assert.ok('layers' in laid);
  assert.equal(shouldFold(base), false, 'no overlay');
  assert.equal(shouldFold(laid.layers), true, `${laid.layers.overlay!.nodeCount} overlay names over a zone of ${base.image.nodeCount}`);
  const folded = foldLayers(laid.layers);
  assert.ok(folded !== null && folded.overlay === null);
  const all = (l: ZoneLayers, n: string): string[] => layerRecords(l, n).map((r) => `${r.type} ${r.ttl} ${JSON.stringify(r.data)}`).sort();
  for (const n of ['dyn.test', 'www.dyn.test', 'alias.dyn.test', 'ns1.dyn.test', 'n0.dyn.test', 'n39.dyn.test', 'gone.dyn.test']) assert.deepEqual(all(folded, n), all(laid.layers, n), n);
  assert.equal(layerSerial(folded), 150);
  assert.equal(layerPolicySlot(folded, 'gslb.dyn.test'), layerPolicySlot(base, 'gslb.dyn.test'), 'the policy name keeps its slot');
  assert.ok(layerPolicySlot(folded, 'gslb.dyn.test') >= 0);
  // A change laid over the folded image starts a small overlay again.
  const next = layDynamic(folded, new Map([['n41.dyn.test', new Map([[TYPE.A, [{ name: 'n41.dyn.test', type: TYPE.A, ttl: 60, data: '198.51.100.41' }]]])]]), 151);
  assert.ok('layers' in next && !shouldFold(next.layers));
  assert.deepEqual(all(next.layers, 'n0.dyn.test'), all(laid.layers, 'n0.dyn.test'));
});
