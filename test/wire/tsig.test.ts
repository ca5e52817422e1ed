// TSIG (RFC 8945): finding, verifying and signing, and a responder with keys fed random and mutated signed
// messages. Real clients (dig, kdig) check the same code in test/interop/tsig.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import dnsPacket from 'dns-packet';
import {
  TsigKeyring, TSIG_ALGORITHMS, TSIG_BADKEY, TSIG_BADSIG, TSIG_BADTIME, TSIG_MALFORMED, findTsig, signRequest, verifyRequest,
  type TsigAlgorithm, type TsigRecord,
} from '../../src/wire/tsig.js';
import { Responder, TRANSPORT_UDP, TRANSPORT_TCP } from '../../src/dns/responder.js';
import { parseConfigText, loadZones, compileSnapshot } from '../../src/config/load.js';
import { formatErrors } from '../../src/config/schema.js';
import { buildQuery, rng, ROOT } from '../harness.js';
import { encodeName, foldWire } from '../../src/wire/name.js';

const NOW = 1_796_000_000;
const SECRET = crypto.randomBytes(32).toString('base64');
const ring = new TsigKeyring((Object.keys(TSIG_ALGORITHMS) as TsigAlgorithm[]).map((a) => ({ name: `${a}.Key`, algorithm: a, secret: SECRET })));

/** The key of `algorithm` as the ring has it (found by its wire name, as a request finds it). */
function keyOf(algorithm: TsigAlgorithm) {
  const k = ring.find(foldWire(encodeName(`${algorithm}.key`)));
  assert.ok(k, algorithm);
  return k;
}

const found = (msg: Buffer): TsigRecord => {
  const t = findTsig(msg);
  assert.ok(t !== null && t !== TSIG_MALFORMED, 'a TSIG record');
  return t;
};

test('D5 (TSIG): a request signed with each algorithm verifies; one changed byte, another secret or another time does not', () => {
  for (const a of Object.keys(TSIG_ALGORITHMS) as TsigAlgorithm[]) {
    const k = keyOf(a);
    const { message } = signRequest(buildQuery('www.example.test', { edns: true }), k, NOW);
    assert.deepEqual(verifyRequest(message, found(message), ring, NOW + 299).ok, true, a);
    const flipped = Buffer.from(message);
    flipped[14] ^= 0x20; // a letter of the question changes case: the MAC covers the bytes as sent
    const bad = verifyRequest(flipped, found(flipped), ring, NOW);
    assert.ok(!bad.ok && bad.error === TSIG_BADSIG, `${a}: a changed byte is BADSIG`);
    const other = new TsigKeyring([{ name: `${a}.key`, algorithm: a, secret: crypto.randomBytes(32).toString('base64') }]);
    const wrong = verifyRequest(message, found(message), other, NOW);
    assert.ok(!wrong.ok && wrong.error === TSIG_BADSIG, `${a}: another secret is BADSIG`);
    const late = verifyRequest(message, found(message), ring, NOW + 301);
    assert.ok(!late.ok && late.error === TSIG_BADTIME, `${a}: outside the fudge is BADTIME (checked after the MAC)`);
  }
});

test('D5 (TSIG): an unknown key or algorithm is BADKEY; a MAC longer than the hash or shorter than max(10, half) is FORMERR; a truncated one verifies', () => {
  const k = keyOf('hmac-sha256');
  const q = buildQuery('www.example.test');
  const signed = signRequest(q, k, NOW).message;
  const none = verifyRequest(signed, found(signed), null, NOW);
  assert.ok(!none.ok && none.error === TSIG_BADKEY, 'no keys configured: BADKEY');
  const other = new TsigKeyring([{ name: 'hmac-sha256.key', algorithm: 'hmac-sha512', secret: SECRET }]);
  const algo = verifyRequest(signed, found(signed), other, NOW);
  assert.ok(!algo.ok && algo.error === TSIG_BADKEY, 'the name with another algorithm: BADKEY');
  const half = signRequest(q, k, NOW, 16).message;
  assert.equal(verifyRequest(half, found(half), ring, NOW).ok, true, 'half the hash (16 of 32 octets) is allowed');
  for (const size of [15, 9]) {
    const short = signRequest(q, k, NOW, size).message;
    const v = verifyRequest(short, found(short), ring, NOW);
    assert.ok(!v.ok && v.formerr, `${size} octets: FORMERR`);
  }
  const md5 = keyOf('hmac-md5');
  const ten = signRequest(q, md5, NOW, 10).message;
  assert.equal(verifyRequest(ten, found(ten), ring, NOW).ok, true, 'hmac-md5 truncated to 10 octets (half is 8, the floor is 10)');
});

test('D5 (TSIG): a TSIG record that is not the last one, or with the wrong class, or cut short, is malformed', () => {
  const k = keyOf('hmac-sha256');
  const { message } = signRequest(buildQuery('www.example.test'), k, NOW);
  // Another additional record after the TSIG one.
  const extra = Buffer.concat([message, Buffer.from([0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 192, 0, 2, 1])]);
  extra.writeUInt16BE(extra.readUInt16BE(10) + 1, 10);
  assert.equal(findTsig(extra), TSIG_MALFORMED);
  const t = found(message);
  const klass = Buffer.from(message);
  klass.writeUInt16BE(1, t.start + t.keyName.length + 2);
  assert.equal(findTsig(klass), TSIG_MALFORMED, 'class IN');
  assert.equal(findTsig(message.subarray(0, message.length - 3)), null, 'cut inside the record: no record to find');
  assert.equal(findTsig(buildQuery('www.example.test', { edns: true })), null, 'an OPT record only');
});

function responder(): Responder {
  const parsed = parseConfigText(`keys: [{ name: fuzz, algorithm: hmac-sha256, secret: "${SECRET}" }]\nzones:\n  - origin: example.test\n    records: [{ name: www, type: A, value: 192.0.2.1 }]\n`);
  if (!parsed.ok) throw new Error(formatErrors(parsed.errors));
  const loaded = loadZones(parsed.value, ROOT, null);
  if (!loaded.ok) throw new Error(formatErrors(loaded.errors));
  const snap = compileSnapshot(loaded.value, 1);
  if (!snap.ok) throw new Error(formatErrors(snap.errors));
  const r = new Responder(snap.value, 1232);
  r.tsig = new TsigKeyring(parsed.value.keys!);
  return r;
}

test('D5 (TSIG): the responder answers a signed query signed, and survives 50,000 random and mutated signed messages', () => {
  const r = responder();
  const k = new TsigKeyring([{ name: 'fuzz', algorithm: 'hmac-sha256', secret: SECRET }]);
  const fuzzKey = k.find(encodeName('fuzz'))!;
  const now = Math.floor(Date.now() / 1000);
  const { message } = signRequest(buildQuery('www.example.test', { edns: true }), fuzzKey, now);
  const n = r.respond(message, TRANSPORT_UDP, '127.0.0.1');
  const reply = Buffer.from(r.response.subarray(0, n));
  const decoded = dnsPacket.decode(reply) as unknown as { answers: Array<{ data: string }>; additionals: Array<{ type: string }> };
  assert.deepEqual(decoded.answers.map((a) => a.data), ['192.0.2.1']);
  assert.equal(found(reply).mac.length, 32, 'the answer carries a full MAC');
  const random = rng(0x75a9);
  const bases = ['www.example.test', 'nope.example.test', 'example.test', 'x.other.test'].map((q, i) => signRequest(buildQuery(q, { edns: i % 2 === 0 }), fuzzKey, now - 400 * (i % 2)).message);
  for (let i = 0; i < 50_000; i++) {
    const base = bases[random(bases.length)]!;
    const m = Buffer.from(base.subarray(0, random(8) === 0 ? random(base.length) + 1 : base.length));
    const flips = 1 + random(4);
    for (let j = 0; j < flips && m.length > 0; j++) m[random(m.length)] = random(256);
    r.respond(m, random(2) === 0 ? TRANSPORT_UDP : TRANSPORT_TCP, '127.0.0.1');
  }
  assert.equal(r.counters.errors, 0, 'no exception while answering');
  const again = r.respond(message, TRANSPORT_UDP, '127.0.0.1');
  assert.ok(again > 0 && findTsig(Buffer.from(r.response.subarray(0, again))) !== null, 'still answers signed');
});
