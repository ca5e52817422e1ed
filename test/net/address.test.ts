// Client address parsing: exact values for the forms dgram reports, and property tests against node:net
// (validity), the WHATWG URL parser built into Node (IPv6 value), and a plain split-based reference parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fc from 'fast-check';
import { isIPv6, parseAddress, parseIPv4, parseIPv6 } from '../../src/net/address.js';
import { canonicalIPv4, canonicalIPv6, formatIPv6 } from '../../src/net/prefix.js';

// ---- reference implementations: obvious rather than fast ----

function refIPv4(s: string): number {
  const parts = s.split('.');
  if (parts.length !== 4) return -1;
  let v = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return -1;
    v = v * 256 + Number(p);
  }
  return v;
}

function refGroups(part: string): number[] | null {
  if (part === '') return [];
  const out: number[] = [];
  for (const g of part.split(':')) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    out.push(parseInt(g, 16));
  }
  return out;
}

/** IPv6 text → four big-endian 32-bit words, or null. */
function refIPv6(input: string): number[] | null {
  let s = input;
  const pct = s.indexOf('%');
  if (pct !== -1) {
    if (!/^[0-9A-Za-z.:-]+$/.test(s.slice(pct + 1))) return null;
    s = s.slice(0, pct);
  }
  let tail: number[] = [];
  if (s.includes('.')) {
    const colon = s.lastIndexOf(':');
    if (colon === -1) return null;
    const v4 = refIPv4(s.slice(colon + 1));
    if (v4 === -1) return null;
    tail = [Math.floor(v4 / 65536), v4 % 65536];
    s = s.slice(0, colon + 1);
    if (!s.endsWith('::')) s = s.slice(0, -1);
  }
  const halves = s.split('::');
  let groups: number[];
  if (halves.length > 2) return null;
  if (halves.length === 2) {
    const head = refGroups(halves[0]!);
    const rest = refGroups(halves[1]!);
    if (head === null || rest === null) return null;
    const known = head.length + rest.length + tail.length;
    if (known > 7) return null;
    groups = [...head, ...new Array<number>(8 - known).fill(0), ...rest, ...tail];
  } else {
    const all = refGroups(s);
    if (all === null) return null;
    groups = [...all, ...tail];
    if (groups.length !== 8) return null;
  }
  return [0, 1, 2, 3].map((w) => groups[2 * w]! * 65536 + groups[2 * w + 1]!);
}

function nodeCanonical(s: string): string {
  return new URL(`http://[${s}]/`).hostname.slice(1, -1);
}

function quad(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

function words(s: string): number[] | null {
  const out = new Uint32Array(4);
  return parseIPv6(s, out) ? Array.from(out) : null;
}

// ---- generators ----

/** Eight groups, zero-heavy so that "::" compression is exercised. */
const groupsArb = fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), {
  minLength: 8,
  maxLength: 8,
});

interface Spelling {
  groups: number[];
  text: string;
}

/** Any legal spelling of the groups: padding, letter case, which zero run to compress, IPv4 tail, zone. */
const spellingArb: fc.Arbitrary<Spelling> = fc
  .record({
    groups: groupsArb,
    pad: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 8, maxLength: 8 }),
    upper: fc.boolean(),
    v4tail: fc.boolean(),
    compress: fc.nat(),
    zone: fc.option(fc.stringMatching(/^[0-9A-Za-z.:-]{1,8}$/), { nil: undefined }),
  })
  .map(({ groups, pad, upper, v4tail, compress, zone }) => {
    const hexCount = v4tail ? 6 : 8;
    const parts = groups.slice(0, hexCount).map((g, i) => {
      const h = g.toString(16);
      const padded = h.padStart(Math.min(4, h.length + pad[i]!), '0');
      return upper ? padded.toUpperCase() : padded;
    });
    if (v4tail) parts.push(quad(groups[6]! * 65536 + groups[7]!));
    // Every run of zero hex groups is a candidate for "::"; pick one, or none.
    const runs: Array<[number, number]> = [];
    for (let i = 0; i < hexCount; i++) {
      if (groups[i] !== 0) continue;
      let j = i;
      while (j < hexCount && groups[j] === 0) j++;
      for (let a = i; a < j; a++) for (let b = a + 1; b <= j; b++) runs.push([a, b]);
      i = j;
    }
    let text: string;
    const pick = runs.length === 0 ? -1 : compress % (runs.length + 1);
    if (pick <= 0 || pick > runs.length) {
      text = parts.join(':');
    } else {
      const [a, b] = runs[pick - 1]!;
      text = `${parts.slice(0, a).join(':')}::${parts.slice(b).join(':')}`;
    }
    return { groups, text: zone === undefined ? text : `${text}%${zone}` };
  });

/** Strings from the IPv6 alphabet: mostly invalid, many near-misses. */
const v6SoupArb = fc.string({
  unit: fc.constantFrom(...'0123456789abcdefABCDEF::::...%g '.split('')),
  maxLength: 45,
});
const v4SoupArb = fc.string({ unit: fc.constantFrom(...'0123456789012345....: x'.split('')), maxLength: 18 });

// ---- examples ----

test('A1: parseIPv4 reads dotted quads as unsigned 32-bit integers', () => {
  assert.equal(parseIPv4('0.0.0.0'), 0);
  assert.equal(parseIPv4('127.0.0.1'), 0x7f000001);
  assert.equal(parseIPv4('192.0.2.1'), 0xc0000201);
  assert.equal(parseIPv4('255.255.255.255'), 0xffffffff);
});

test('A1: parseIPv4 rejects everything that is not exactly a dotted quad', () => {
  for (const s of ['', '1.2.3', '1.2.3.4.', '.1.2.3', '1..2.3', '256.1.1.1', '1.2.3.2555', '01.2.3.4', '1.2.3.00',
    '1.2.3.4 ', ' 1.2.3.4', '1.2.3.-4', '+1.2.3.4', '0x1.2.3.4', '1.2.3.4%eth0', '::1', '1e2.1.1.1']) {
    assert.equal(parseIPv4(s), -1, s);
  }
});

test('A2: parseIPv6 fills four big-endian words, expanding "::" and an IPv4 tail', () => {
  assert.deepEqual(words('::'), [0, 0, 0, 0]);
  assert.deepEqual(words('::1'), [0, 0, 0, 1]);
  assert.deepEqual(words('1::'), [0x00010000, 0, 0, 0]);
  assert.deepEqual(words('2001:db8::5'), [0x20010db8, 0, 0, 5]);
  assert.deepEqual(words('2001:DB8:0:0:8:800:200C:417A'), [0x20010db8, 0, 0x00080800, 0x200c417a]);
  assert.deepEqual(words('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]);
  assert.deepEqual(words('::ffff:192.0.2.1'), [0, 0, 0xffff, 0xc0000201]);
  assert.deepEqual(words('1:2:3:4:5:6:1.2.3.4'), [0x00010002, 0x00030004, 0x00050006, 0x01020304]);
  assert.deepEqual(words('fe80::1%eth0'), [0xfe800000, 0, 0, 1]);
  assert.deepEqual(words('::1:2:3:4:5:6:7'), [0x00000001, 0x00020003, 0x00040005, 0x00060007]);
  assert.deepEqual(words('1:2:3:4:5:6:7::'), [0x00010002, 0x00030004, 0x00050006, 0x00070000]);
});

test('A2: parseIPv6 rejects malformed addresses', () => {
  for (const s of ['', ':', ':::', '1', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2::3', ':1::', '1:::2', '1:',
    '12345::', '::g', '1:2:3:4:5:6:7:8::', '1::2:3:4:5:6:7:8', '1:2:3:4:5:6:7:1.2.3.4', '::1.2.3', '::1.2.3.4:5',
    '::01.2.3.4', 'fe80::1%', 'fe80::1%a%b', 'fe80::1%a_b', '1.2.3.4', '::ffff:256.1.1.1', ' ::1', '::1 ']) {
    assert.equal(words(s), null, s);
  }
});

test('A3: parseAddress reports the family and folds IPv4-mapped IPv6 into IPv4', () => {
  const out = new Uint32Array(4);
  assert.equal(parseAddress('198.51.100.7', out), 4);
  assert.deepEqual(Array.from(out), [0xc6336407, 0, 0, 0]);
  assert.equal(parseAddress('::ffff:198.51.100.7', out), 4);
  assert.deepEqual(Array.from(out), [0xc6336407, 0, 0, 0]);
  assert.equal(parseAddress('::ffff:c633:6407', out), 4);
  assert.equal(out[0], 0xc6336407);
  assert.equal(parseAddress('2001:db8::1%3', out), 6);
  assert.deepEqual(Array.from(out), [0x20010db8, 0, 0, 1]);
  // Only ::ffff:0:0/96 is "mapped"; IPv4-compatible and NAT64 prefixes stay IPv6.
  assert.equal(parseAddress('::198.51.100.7', out), 6);
  assert.equal(parseAddress('64:ff9b::198.51.100.7', out), 6);
  assert.equal(parseAddress('localhost', out), 0);
  assert.equal(parseAddress('', out), 0);
});

// ---- properties ----

test('A1 property: every 32-bit value round-trips through its dotted quad', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), (v) => {
      assert.equal(parseIPv4(quad(v)), v);
    }),
    { numRuns: 5000 },
  );
});

test('A1 property: on arbitrary text parseIPv4 agrees with node:net and the reference parser', () => {
  fc.assert(
    fc.property(fc.oneof(v4SoupArb, fc.ipV4(), fc.ipV4Extended(), fc.string({ maxLength: 16 })), (s) => {
      const v = parseIPv4(s);
      assert.equal(v !== -1, net.isIPv4(s), s);
      assert.equal(v, refIPv4(s), s);
    }),
    { numRuns: 20000 },
  );
});

test('A2 property: every spelling of an address parses to its groups, as Node and the reference agree', () => {
  fc.assert(
    fc.property(spellingArb, ({ groups, text }) => {
      const expected = [0, 1, 2, 3].map((w) => groups[2 * w]! * 65536 + groups[2 * w + 1]!);
      assert.ok(net.isIPv6(text), `node rejects generated ${text}`);
      assert.deepEqual(words(text), expected, text);
      assert.deepEqual(refIPv6(text), expected, text);
    }),
    { numRuns: 10000 },
  );
});

test('A2 property: on arbitrary text parseIPv6 agrees with node:net on validity and with URL and the reference on value', () => {
  fc.assert(
    fc.property(fc.oneof(v6SoupArb, fc.ipV6(), spellingArb.map((x) => x.text), fc.string({ maxLength: 40 })), (s) => {
      const got = words(s);
      assert.equal(got !== null, net.isIPv6(s), s);
      assert.deepEqual(got, refIPv6(s), s);
      if (got !== null && !s.includes('%')) assert.equal(formatIPv6(Uint32Array.from(got)), nodeCanonical(s), s);
    }),
    { numRuns: 20000 },
  );
});

test('A3 property: parseAddress agrees with net.isIP, and mapped IPv4 equals plain IPv4', () => {
  const out = new Uint32Array(4);
  fc.assert(
    fc.property(fc.oneof(fc.ipV4(), fc.ipV6(), v6SoupArb, v4SoupArb), (s) => {
      const ref = refIPv6(s);
      const mapped = ref !== null && ref[0] === 0 && ref[1] === 0 && ref[2] === 0xffff;
      assert.equal(parseAddress(s, out), mapped ? 4 : net.isIP(s), s);
    }),
    { numRuns: 20000 },
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.boolean(), (v, hexForm) => {
      const mapped = hexForm ? `::ffff:${(v >>> 16).toString(16)}:${(v & 0xffff).toString(16)}` : `::ffff:${quad(v)}`;
      assert.equal(parseAddress(mapped, out), 4, mapped);
      assert.deepEqual(Array.from(out), [v, 0, 0, 0], mapped);
    }),
    { numRuns: 5000 },
  );
});

test('A1 property: canonicalIPv4 accepts exactly the dotted quads node:net accepts, spelled as given', () => {
  fc.assert(
    fc.property(fc.oneof(fc.ipV4(), v4SoupArb, fc.string({ maxLength: 18 })), (s) => {
      assert.equal(canonicalIPv4(s), net.isIPv4(s) ? s : undefined, s);
    }),
    { numRuns: 10000 },
  );
});

test('A2 property: canonicalIPv6 is the URL parser\'s spelling of every address node:net accepts without a zone index', () => {
  fc.assert(
    fc.property(fc.oneof(v6SoupArb, fc.ipV6(), spellingArb.map((x) => x.text), fc.string({ maxLength: 40 })), (s) => {
      assert.equal(canonicalIPv6(s), net.isIPv6(s) && !s.includes('%') ? nodeCanonical(s) : undefined, s);
    }),
    { numRuns: 20000 },
  );
  assert.equal(canonicalIPv6('fe80::1%eth0'), undefined);
});

test('A2 property: isIPv6 agrees with node:net, zone index included', () => {
  fc.assert(
    fc.property(fc.oneof(v6SoupArb, fc.ipV6(), spellingArb.map((x) => x.text), v4SoupArb), (s) => {
      assert.equal(isIPv6(s), net.isIPv6(s), s);
    }),
    { numRuns: 10000 },
  );
});
