// The fast path (hand-written parser and writer) against the general codec (dns-packet): for every valid query the
// fast parser accepts, both must produce the same message. The one allowed difference is size: the fast writer
// compresses owner names and dns-packet does not, so near the UDP limit only the general reply may shrink.
// Also: the messages the fast parser must decline reach the general path and get its error decisions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import dnsPacket from 'dns-packet';
import { TEST_ZONE, tempDir, header } from '../harness.js';
import { parseConfigText, loadZones, compileSnapshot } from '../../src/config/load.js';
import { Responder, TRANSPORT_UDP, TRANSPORT_TCP } from '../../src/dns/responder.js';
import type { Snapshot } from '../../src/answer/snapshot.js';
import { OPT_ECS } from '../../src/wire/query.js';
import { TYPE } from '../../src/wire/types.js';

/** At least 5000; WAYMARK_PROPERTY_RUNS asks for more. */
const RUNS = Math.max(5000, Number(process.env.WAYMARK_PROPERTY_RUNS ?? 5000));

/** The parts of dns-packet's decoded message this file reads (its typings omit rcode). */
interface Rr { name: string; type: string; [k: string]: unknown }
interface Decoded {
  flags: number;
  flag_qr: boolean;
  flag_aa: boolean;
  flag_tc: boolean;
  rcode: string;
  questions: Array<{ name: string; type: string; class: string }>;
  answers: Rr[];
  authorities: Rr[];
  additionals: Rr[];
}

const decode = (b: Buffer): Decoded => dnsPacket.decode(b) as unknown as Decoded;

let dir = '';
let snapshot: Snapshot;

/**
 * A second zone whose answers outgrow 512 and 1232 octets, so truncation is exercised on both paths: large answer
 * RRsets, an additional section that must be dropped to fit, a referral whose glue must not be, and a wildcard.
 */
function bigZone(): string {
  const lines = ['$ORIGIN big.test.', '$TTL 3600', '@ IN SOA ns1 hostmaster 1 3600 600 604800 60'];
  for (let i = 1; i <= 12; i++) lines.push(`@ IN NS ns${i}`, `ns${i} IN A 198.51.100.${i}`, `ns${i} IN AAAA 2001:db8:100::${i}`);
  for (let i = 1; i <= 8; i++) lines.push(`@ IN MX ${i * 10} mx${i}`, `mx${i} IN A 198.51.101.${i}`);
  for (let i = 1; i <= 60; i++) lines.push(`many IN A 198.51.102.${i}`);
  for (let i = 1; i <= 6; i++) lines.push(`txt IN TXT "${String(i).repeat(200)}"`);
  for (let i = 1; i <= 6; i++) lines.push(`*.wild IN A 203.0.113.${i}`);
  for (let i = 1; i <= 10; i++) lines.push(`deleg IN NS ns${i}.deleg`, `ns${i}.deleg IN A 192.0.2.${100 + i}`, `ns${i}.deleg IN AAAA 2001:db8:200::${i}`);
  return lines.join('\n') + '\n';
}

before(() => {
  dir = tempDir('waymark-fastpath-');
  fs.writeFileSync(path.join(dir, 'example.test.zone'), TEST_ZONE);
  fs.writeFileSync(path.join(dir, 'big.test.zone'), bigZone());
  const parsed = parseConfigText('zones:\n  - file: example.test.zone\n  - file: big.test.zone\n');
  assert.ok(parsed.ok);
  const loaded = loadZones(parsed.value, dir, null);
  assert.ok(loaded.ok, loaded.ok ? '' : JSON.stringify(loaded.errors));
  const snap = compileSnapshot(loaded.value, 1);
  assert.ok(snap.ok, snap.ok ? '' : JSON.stringify(snap.errors));
  snapshot = snap.value;
});

after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------------
// Building queries byte by byte, so every field the fast parser reads is under the generator's control.

interface EcsSpec { family: 1 | 2; source: number; addr: Buffer }
interface OptionSpec { code: number; data: Buffer }
interface EdnsSpec { payload: number; dnssecOk: boolean; zFlags: number; ecs: EcsSpec | null; others: OptionSpec[]; ecsAt: number }
interface QuerySpec {
  labels: Buffer[];
  caseSeed: number;
  qtype: number;
  id: number;
  rd: boolean;
  cd: boolean;
  ad: boolean;
  edns: EdnsSpec | null;
  transport: number;
  serverPayload: number;
}

/** Flip the case of ASCII letters pseudo-randomly (DNS 0x20), deterministically from `seed`. */
function randomCase(labels: Buffer[], seed: number): Buffer[] {
  if (seed === 0) return labels;
  let s = seed | 0;
  return labels.map((l) => {
    const out = Buffer.from(l);
    for (let i = 0; i < out.length; i++) {
      s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
      const b = out[i]!;
      const isLetter = (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
      if (isLetter && (s & 1) !== 0) out[i] = b ^ 0x20;
    }
    return out;
  });
}

function ecsBody(e: EcsSpec, scope = 0): Buffer {
  const n = (e.source + 7) >> 3;
  const body = Buffer.alloc(4 + n);
  body.writeUInt16BE(e.family, 0);
  body[2] = e.source;
  body[3] = scope;
  e.addr.copy(body, 4, 0, n);
  // Host bits beyond SOURCE PREFIX-LENGTH are zero (RFC 7871 §6).
  if ((e.source & 7) !== 0) body[4 + n - 1]! &= (0xff << (8 - (e.source & 7))) & 0xff;
  return body;
}

function encodeQuery(spec: QuerySpec): Buffer {
  const parts: Buffer[] = [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(spec.id, 0);
  header.writeUInt16BE((spec.rd ? 0x0100 : 0) | (spec.ad ? 0x0020 : 0) | (spec.cd ? 0x0010 : 0), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(spec.edns ? 1 : 0, 10);
  parts.push(header);
  for (const l of randomCase(spec.labels, spec.caseSeed)) parts.push(Buffer.from([l.length]), l);
  const tail = Buffer.alloc(5);
  tail.writeUInt16BE(spec.qtype, 1);
  tail.writeUInt16BE(1, 3);
  parts.push(tail);
  const e = spec.edns;
  if (e) {
    const options = e.others.map((o) => ({ code: o.code, data: o.data }));
    if (e.ecs) options.splice(Math.min(e.ecsAt, options.length), 0, { code: OPT_ECS, data: ecsBody(e.ecs) });
    const rdata = Buffer.concat(options.flatMap((o) => {
      const h = Buffer.alloc(4);
      h.writeUInt16BE(o.code, 0);
      h.writeUInt16BE(o.data.length, 2);
      return [h, o.data];
    }));
    const opt = Buffer.alloc(11);
    opt.writeUInt16BE(TYPE.OPT, 1);
    opt.writeUInt16BE(e.payload, 3);
    opt.writeUInt16BE((e.dnssecOk ? 0x8000 : 0) | e.zFlags, 7);
    opt.writeUInt16BE(rdata.length, 9);
    parts.push(opt, rdata);
  }
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------------------------
// Arbitraries.

const toLabels = (name: string): Buffer[] => (name === '.' || name === '' ? [] : name.split('.').map((l) => Buffer.from(l, 'latin1')));

/** Wire length of a label list (with the root byte). */
const wireLength = (labels: Buffer[]): number => labels.reduce((n, l) => n + l.length + 1, 1);

const LDH = [...Buffer.from('abcdefghijklmnopqrstuvwxyz0123456789-_')];
// Any ASCII byte but '.', '\\', LF and CR: the general codec round-trips names through dns-packet's dotted text
// form, which cannot carry those (nor bytes ≥ 0x80): such questions are written by our own writer (tested at the end of this file).
const ASCII = [...Array(128).keys()].filter((b) => b !== 0x2e && b !== 0x5c && b !== 0x0a && b !== 0x0d);

const label = fc.oneof(
  { weight: 8, arbitrary: fc.array(fc.constantFrom(...LDH), { minLength: 1, maxLength: 12 }) },
  { weight: 2, arbitrary: fc.array(fc.constantFrom(...LDH), { minLength: 30, maxLength: 63 }) },
  { weight: 1, arbitrary: fc.array(fc.constantFrom(...ASCII), { minLength: 1, maxLength: 63 }) },
).map((bytes) => Buffer.from(bytes));

/** Names the generator aims at: what the zone holds and the places with special lookup behaviour. */
function interestingNames(snap: Snapshot): string[] {
  const names = new Set<string>();
  for (const zone of snap.zones) for (let n = 0; n < zone.image.nodeCount; n++) names.add(zone.image.nodeName(n));
  for (const n of ['nothere.example.test', 'deep.www.example.test', 'x.apps.example.test', 'a.b.apps.example.test',
    'below.sub.example.test', 'x.ns.sub.example.test', 'c.ent.example.test', 'x.a.b.c.ent.example.test', 'test', '.',
    'www.elsewhere.invalid', 'example.test.example.test']) names.add(n);
  return [...names];
}

const SUFFIXES_INSIDE = ['example.test', 'apps.example.test', 'sub.example.test', 'c.ent.example.test', 'www.example.test',
  'big.test', 'wild.big.test', 'deleg.big.test'];
/** Names whose answers (with the right qtype) come near or over the UDP limits. */
const LARGE_ANSWERS = ['big.test', 'many.big.test', 'txt.big.test', 'x.deleg.big.test', 'deleg.big.test', 'x.wild.big.test'];
const SUFFIXES_OUTSIDE = ['', 'test', 'invalid', 'elsewhere.invalid', 'example', 'test.example', 'xexample.test'];

function qnameArb(known: string[]): fc.Arbitrary<Buffer[]> {
  const under = (suffixes: string[]): fc.Arbitrary<Buffer[]> =>
    fc.tuple(fc.array(label, { minLength: 1, maxLength: 6 }), fc.constantFrom(...suffixes)).map(([prefix, suffix]) => {
      const labels = [...prefix, ...toLabels(suffix)];
      // Keep within 255 octets by dropping leftmost labels (a name too long is not a valid query).
      while (wireLength(labels) > 255) labels.shift();
      return labels;
    });
  // Names close to 255 octets, where compression decides whether an answer fits in 512.
  const long = fc.tuple(fc.integer({ min: 180, max: 255 }), fc.constantFrom(...SUFFIXES_INSIDE), fc.array(label, { minLength: 1, maxLength: 4 }))
    .map(([target, suffix, fill]) => {
      const labels = toLabels(suffix);
      for (let i = 0; wireLength(labels) < target && i < 8; i++) {
        const room = Math.min(63, target - wireLength(labels) - 1);
        if (room < 1) break;
        labels.unshift(fill[i % fill.length]!.subarray(0, room));
      }
      return labels;
    });
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...known).map(toLabels) },
    { weight: 4, arbitrary: under(SUFFIXES_INSIDE) },
    { weight: 2, arbitrary: under(SUFFIXES_OUTSIDE) },
    { weight: 1, arbitrary: long },
  );
}

const QTYPES = [TYPE.A, TYPE.AAAA, TYPE.NS, TYPE.SOA, TYPE.MX, TYPE.TXT, TYPE.SRV, TYPE.CNAME, TYPE.PTR, TYPE.CAA,
  TYPE.ANY, TYPE.DS, 65280];
/** AXFR, IXFR and OPT are not questions the fast path takes (zone transfer, RFC 6891 §6.1.1). */
const NOT_FAST_QTYPES = new Set<number>([TYPE.AXFR, TYPE.IXFR, TYPE.OPT]);

const qtypeArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...QTYPES) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).filter((t) => !NOT_FAST_QTYPES.has(t)) },
);

const ecsArb: fc.Arbitrary<EcsSpec> = fc.oneof(
  fc.record({ family: fc.constant(1 as const), source: fc.integer({ min: 0, max: 32 }), addr: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a)) }),
  fc.record({ family: fc.constant(2 as const), source: fc.integer({ min: 0, max: 128 }), addr: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a)) }),
);

/** Options both paths must ignore (and not echo): NSID, COOKIE, PADDING, a local-use code. */
const otherOptionArb: fc.Arbitrary<OptionSpec> = fc.oneof(
  fc.constant({ code: 3, data: Buffer.alloc(0) }),
  fc.uint8Array({ minLength: 8, maxLength: 8 }).map((d) => ({ code: 10, data: Buffer.from(d) })),
  fc.integer({ min: 0, max: 64 }).map((n) => ({ code: 12, data: Buffer.alloc(n) })),
  fc.tuple(fc.integer({ min: 65001, max: 65534 }), fc.uint8Array({ maxLength: 16 })).map(([code, d]) => ({ code, data: Buffer.from(d) })),
);

const ednsArb: fc.Arbitrary<EdnsSpec> = fc.record({
  payload: fc.oneof(fc.integer({ min: 0, max: 4096 }), fc.constantFrom(0, 511, 512, 513, 1232, 1400, 4096)),
  dnssecOk: fc.boolean(),
  zFlags: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x7fff }) }),
  ecs: fc.option(ecsArb, { freq: 2 }),
  others: fc.array(otherOptionArb, { maxLength: 3 }),
  ecsAt: fc.nat(3),
});

function querySpecArb(known: string[]): fc.Arbitrary<QuerySpec> {
  const any = {
    labels: qnameArb(known),
    caseSeed: fc.integer(),
    qtype: qtypeArb,
    id: fc.integer({ min: 0, max: 0xffff }),
    rd: fc.boolean(),
    cd: fc.boolean(),
    ad: fc.boolean(),
    edns: fc.option(ednsArb, { freq: 3 }),
    transport: fc.constantFrom(TRANSPORT_UDP, TRANSPORT_TCP),
    serverPayload: fc.constantFrom(512, 1232, 4096),
  };
  // A tenth of the runs aim at the answers that meet the UDP limit, so every truncation step is exercised.
  const large = {
    ...any,
    labels: fc.constantFrom(...LARGE_ANSWERS).map(toLabels),
    qtype: fc.constantFrom(TYPE.NS, TYPE.MX, TYPE.A, TYPE.TXT, TYPE.ANY),
    transport: fc.constant(TRANSPORT_UDP),
  };
  return fc.oneof({ weight: 9, arbitrary: fc.record(any) }, { weight: 1, arbitrary: fc.record(large) });
}

// ---------------------------------------------------------------------------------------------------------------
// Comparing two responses.

const SECTIONS = ['answers', 'authorities', 'additionals'] as const;

function labelsOf(name: string): string[] {
  return name === '.' ? [] : name.split('.');
}

/**
 * The fast writer compresses owner names against the question, so an owner that is a suffix of the question name
 * carries the question's letter case (0x20) rather than the zone's. That, and nothing else, may differ in owners.
 */
function assertOwner(fastName: string, generalName: string, qname: string, where: string): void {
  if (fastName === generalName) return;
  const q = labelsOf(qname);
  const n = labelsOf(generalName).length;
  const suffix = n === 0 ? '.' : q.slice(q.length - n).join('.');
  assert.ok(q.length >= n && fastName === suffix && fastName.toLowerCase() === generalName.toLowerCase(),
    `${where}: owner ${JSON.stringify(fastName)} (fast) vs ${JSON.stringify(generalName)} (general)`);
}

/** Assert the two decoded messages are the same DNS message. `fast` is modified (owners aligned). */
function assertSameMessage(fast: Decoded, general: Decoded): void {
  const qname = general.questions[0]?.name ?? '.';
  for (const s of SECTIONS) {
    const f = fast[s];
    const g = general[s];
    assert.equal(f.length, g.length, `${s} count: fast ${f.length}, general ${g.length}`);
    f.forEach((rr, i) => {
      assertOwner(rr.name, g[i]!.name, qname, `${s}[${i}]`);
      rr.name = g[i]!.name;
    });
  }
  assert.deepStrictEqual(fast, general);
}

const nonOpt = (m: Decoded): Rr[] => m.additionals.filter((r) => r.type !== 'OPT');

/** How much a reply was shrunk to fit, relative to the untruncated reply: 0 whole, 1 additional dropped, 2 TC. */
function shrinkLevel(m: Decoded, whole: Decoded): number {
  if (m.flag_tc) return 2;
  return nonOpt(m).length < nonOpt(whole).length ? 1 : 0;
}

/**
 * Whether the writers may drop the additional section to fit: not for a referral (its glue is required; lookup puts
 * NS in the authority section only for referrals) and only when there is something to drop.
 */
function mayDropAdditional(whole: Decoded): boolean {
  return nonOpt(whole).length > 0 && !whole.authorities.some((r) => r.type === 'NS');
}

/** The untruncated reply with its additional section dropped (OPT kept), as the writers do first. */
function withoutAdditional(m: Decoded): Decoded {
  return { ...m, additionals: m.additionals.filter((r) => r.type === 'OPT') };
}

/** Our reading of RFC 6891 §6.2.5 for the limit, written independently of udpLimit(). */
function udpLimitFor(spec: QuerySpec): number {
  if (!spec.edns) return 512;
  return Math.min(Math.max(spec.edns.payload, 512), spec.serverPayload);
}

const copyOut = (r: Responder, len: number): Buffer => Buffer.from(r.response.subarray(0, len));

function hex(b: Buffer): string {
  return b.toString('hex');
}

test('D1 property: the fast path and the general codec give the same message for every valid query', (t) => {
  const responders = new Map([512, 1232, 4096].map((p) => [p, new Responder(snapshot, p)]));
  const seen = { runs: 0, udp: 0, tcp: 0, edns: 0, ecs: 0, nxdomain: 0, referral: 0, refused: 0, truncatedBoth: 0, additionalDropped: 0, compressionFits: 0 };
  fc.assert(
    fc.property(querySpecArb(interestingNames(snapshot)), (spec) => {
      const r = responders.get(spec.serverPayload)!;
      const msg = encodeQuery(spec);
      const ctx = `query ${hex(msg)} (transport ${spec.transport === TRANSPORT_UDP ? 'udp' : 'tcp'}, server payload ${spec.serverPayload})`;

      // 1. The fast path must take it: otherwise this test would compare the general path with itself.
      const fastBefore = r.counters.fast;
      const generalBefore = r.counters.general;
      const fastLen = r.respond(msg, spec.transport);
      assert.equal(r.counters.fast, fastBefore + 1, `fast path declined a valid query: ${ctx}`);
      assert.equal(r.counters.general, generalBefore, `general path used: ${ctx}`);
      assert.ok(fastLen >= 12, ctx);
      const fastReply = copyOut(r, fastLen);

      const generalLen = r.respondGeneral(msg, spec.transport);
      assert.ok(generalLen >= 12, ctx);
      const generalReply = copyOut(r, generalLen);

      const fast = decode(fastReply);
      const general = decode(generalReply);
      seen.runs++;
      if (spec.edns) seen.edns++;
      if (spec.edns?.ecs) seen.ecs++;
      if (general.rcode === 'NXDOMAIN') seen.nxdomain++;
      if (general.rcode === 'REFUSED') seen.refused++;
      if (!general.flag_aa && general.rcode === 'NOERROR' && general.authorities.some((a) => a.type === 'NS')) seen.referral++;

      if (spec.transport === TRANSPORT_TCP) {
        seen.tcp++;
        assert.ok(!fast.flag_tc && !general.flag_tc, `TC over TCP: ${ctx}`);
        try {
          assertSameMessage(fast, general);
        } catch (e) {
          throw new Error(`${ctx}\nfast    ${hex(fastReply)}\ngeneral ${hex(generalReply)}\n${(e as Error).message}`);
        }
        return;
      }

      seen.udp++;
      const limit = udpLimitFor(spec);
      assert.ok(fastReply.length <= limit, `fast reply ${fastReply.length} > limit ${limit}: ${ctx}`);
      assert.ok(generalReply.length <= limit, `general reply ${generalReply.length} > limit ${limit}: ${ctx}`);

      // The same queries over TCP give the untruncated replies of both paths.
      const wholeFastReply = copyOut(r, r.respond(msg, TRANSPORT_TCP));
      const wholeGeneralReply = copyOut(r, r.respondGeneral(msg, TRANSPORT_TCP));
      if (wholeFastReply.length <= limit) {
        assert.ok(wholeFastReply.equals(fastReply), `fast path shrank a reply that fits (${wholeFastReply.length} ≤ ${limit}): ${ctx}`);
      }
      const wholeGeneral = decode(wholeGeneralReply);
      const fastLevel = shrinkLevel(fast, wholeGeneral);
      const generalLevel = shrinkLevel(general, wholeGeneral);
      for (const [who, level] of [['fast', fastLevel], ['general', generalLevel]] as const) {
        assert.ok(level !== 1 || mayDropAdditional(wholeGeneral), `${who} path dropped the additional section of a referral: ${ctx}`);
      }
      if (fastLevel === 2) seen.truncatedBoth++;
      if (fastLevel === 1 || generalLevel === 1) seen.additionalDropped++;

      try {
        if (fastLevel === generalLevel) {
          assertSameMessage(fast, general);
        } else {
          // The one legitimate difference: compression made the fast reply fit where dns-packet's did not.
          assert.ok(fastLevel < generalLevel, `fast reply shrunk more (level ${fastLevel}) than general (level ${generalLevel})`);
          assert.ok(fastReply.length <= limit && limit < wholeGeneralReply.length,
            `fast ${fastReply.length}, limit ${limit}, general untruncated ${wholeGeneralReply.length}`);
          seen.compressionFits++;
          assertSameMessage(fast, fastLevel === 0 ? wholeGeneral : withoutAdditional(wholeGeneral));
        }
      } catch (e) {
        throw new Error(`${ctx}\nfast    ${hex(fastReply)}\ngeneral ${hex(generalReply)}\n${(e as Error).message}`);
      }
    }),
    { numRuns: RUNS },
  );
  // The generator must reach the interesting corners, or the property says little.
  assert.equal(seen.runs, RUNS);
  t.diagnostic(`coverage: ${JSON.stringify(seen)}`);
  for (const [k, v] of Object.entries(seen)) assert.ok(v > 0, `no run exercised "${k}": ${JSON.stringify(seen)}`);
});

// ---------------------------------------------------------------------------------------------------------------
// Messages the fast parser must decline, and what the general path answers.


const WWW = Buffer.from('03777777076578616d706c650474657374000001' + '0001', 'hex'); // www.example.test A IN

/** Run `msg` through respond() and check it went the general way; returns the decoded reply or null. */
function throughGeneral(msg: Buffer): Decoded | null {
  const r = new Responder(snapshot, 1232);
  const len = r.respond(msg, TRANSPORT_UDP);
  assert.equal(r.counters.fast, 0, 'the fast path took a message it must decline');
  assert.equal(r.counters.general, 1);
  if (len < 0) return null;
  const reply = copyOut(r, len);
  assert.equal(reply.readUInt16BE(0), msg.readUInt16BE(0), 'id echoed');
  return decode(reply);
}

test('D1: a compression pointer in the question is declined by the fast path; the general path answers FORMERR', () => {
  // "www" then a pointer back to offset 12: a name that loops onto itself.
  const loop = Buffer.concat([header(0x1001, 0x0100, 1), Buffer.from('03777777c00c00010001', 'hex')]);
  const reply = throughGeneral(loop)!;
  assert.equal(reply.rcode, 'FORMERR');
  assert.equal(reply.flag_qr, true);
  // A name that is nothing but a pointer to itself.
  const self = Buffer.concat([header(0x1002, 0x0100, 1), Buffer.from('c00c00010001', 'hex')]);
  assert.equal(throughGeneral(self)!.rcode, 'FORMERR');
});

test('D1: QDCOUNT=2 is declined by the fast path; the general path answers FORMERR', () => {
  const msg = Buffer.concat([header(0x2002, 0x0100, 2), WWW, WWW]);
  const reply = throughGeneral(msg)!;
  assert.equal(reply.rcode, 'FORMERR');
  assert.equal(reply.flag_qr, true);
  assert.equal(reply.answers.length, 0);
});

test('D1: an unknown opcode is declined by the fast path; the general path answers NOTIMP with the opcode echoed', () => {
  for (const opcode of [3, 7, 15]) {
    const msg = Buffer.concat([header(0x3000 + opcode, (opcode << 11) | 0x0100, 1), WWW]);
    const reply = throughGeneral(msg)!;
    assert.equal(reply.rcode, 'NOTIMP', `opcode ${opcode}`);
    assert.equal((reply.flags >> 11) & 0xf, opcode);
    assert.equal(reply.answers.length, 0);
  }
});

test('D1: a response (QR=1) is declined by the fast path; the general path sends no reply', () => {
  const msg = Buffer.concat([header(0x4004, 0x8100, 1), WWW]);
  const r = new Responder(snapshot, 1232);
  assert.equal(r.respond(msg, TRANSPORT_UDP), -1);
  assert.equal(r.respond(msg, TRANSPORT_TCP), -1);
  assert.equal(r.counters.fast, 0);
  assert.equal(r.counters.general, 2);
  assert.equal(r.counters.dropped, 2);
  // Sanity: the same bytes with QR=0 are a query the fast path answers.
  const asQuery = Buffer.from(msg);
  asQuery[2] = 0x01;
  assert.ok(r.respond(asQuery, TRANSPORT_UDP) > 0);
  assert.equal(r.counters.fast, 1);
});

test('D1: the general path echoes the question byte for byte and looks up the name it was asked', () => {
  const r = new Responder(snapshot, 1232);
  const names = [[Buffer.from('www.example'), Buffer.from('test')], [Buffer.from('\\www'), ...toLabels('example.test')],
    [Buffer.from('a'), Buffer.from('\n'), ...toLabels('example.test')], [Buffer.from([0xff]), ...toLabels('example.test')]];
  const problems: string[] = [];
  for (const labels of names) {
    const msg = encodeQuery({ labels, caseSeed: 0, qtype: TYPE.A, id: 7, rd: true, cd: false, ad: false, edns: null, transport: TRANSPORT_UDP, serverPayload: 1232 });
    const fast = copyOut(r, r.respond(msg, TRANSPORT_UDP));
    const general = copyOut(r, r.respondGeneral(msg, TRANSPORT_UDP));
    if ((general[3]! & 0xf) !== (fast[3]! & 0xf)) problems.push(`${hex(msg)}: rcode ${general[3]! & 0xf}, fast path ${fast[3]! & 0xf}`);
    if (!general.subarray(12, msg.length).equals(msg.subarray(12))) problems.push(`${hex(msg)}: question echoed as ${hex(general.subarray(12))}`);
  }
  // Class NONE (254): REFUSED, with the question as asked.
  const none = Buffer.concat([header(8, 0x0100, 1), WWW]);
  none.writeUInt16BE(254, none.length - 2);
  const refused = copyOut(r, r.respond(none, TRANSPORT_UDP));
  if (!refused.subarray(12, none.length).equals(none.subarray(12))) problems.push(`${hex(none)}: question echoed as ${hex(refused.subarray(12))}`);
  assert.deepEqual(problems, []);
});
