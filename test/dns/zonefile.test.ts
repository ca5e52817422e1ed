// RFC 1035 §5 master files: the features of a realistic zone, TTL and origin rules, every error with its line,
// $INCLUDE from disk, CRLF input, and files read in chunks (anything may fall across a chunk boundary).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import fc from 'fast-check';
import { join } from 'node:path';
import { loadZoneFile, parseZoneText, type ZoneFileError } from '../../src/dns/zonefile.js';
import type { ZoneRecord } from '../../src/wire/rdata.js';
import { TYPE } from '../../src/wire/types.js';

const F = 'example.zone';

/** Records as [owner, type, ttl, data] rows, so a failing comparison prints readably. */
function rows(records: ZoneRecord[]): Array<[string, number, number, unknown]> {
  return records.map((r) => [r.name, r.type, r.ttl, r.data]);
}

/** Errors as "line: message" for the given file. */
function lines(errors: ZoneFileError[]): string[] {
  return errors.map((e) => `${e.file}:${e.line}: ${e.message}`);
}

const REALISTIC = [
  '; Example zone with most master-file features', //  1
  '$TTL 1h', //                                         2
  '$ORIGIN Example.TEST.', //                           3
  '@       IN  SOA ns1 hostmaster (', //                4
  '            2024010101 ; serial', //                 5
  '            2h         ; refresh', //                6
  '            15m 2w 300 )', //                        7
  '        IN  NS  ns1', //                             8
  '        IN  NS  ns2.example.net.', //                9
  '        600 IN MX 10 mail', //                       10
  '        IN 600 MX 20 mail2.example.net.', //         11
  'ns1     A   192.0.2.1', //                           12
  'mail    A   192.0.2.2', //                           13
  '        AAAA 2001:DB8:0::2', //                      14
  'www     CNAME @', //                                 15
  'txt     TXT "v=spf1 -all" "say \\"hi\\"; not a comment" semi\\059colon ; a comment', // 16
  '@       CAA 0 issue "ca.example.net; account=1"', // 17
  '_sip._tcp SRV 0 5 5060 sip', //                      18
  'a\\.b   A 192.0.2.3', //                             19
  'weird   TYPE65280 \\# 3 abcdef', //                  20
  'sip.example.test. 30 A 192.0.2.4', //                21
  '', //                                                22
  '$ORIGIN sub.example.test.', //                       23
  'host    A 192.0.2.5', //                             24
  '        TXT ( "multi"', //                           25
  '              "line" )', //                          26
  '@       NS  ns1.example.test.', //                   27
  'w\\065b\\.x A 192.0.2.6', //                         28
].join('\n');

test('Z1: a realistic zone parses into the expected records, in file order', () => {
  const z = parseZoneText(REALISTIC, { file: F });
  assert.deepEqual(z.errors, []);
  assert.equal(z.origin, 'Example.TEST');
  assert.deepEqual(rows(z.records), [
    ['Example.TEST', TYPE.SOA, 3600, {
      mname: 'ns1.Example.TEST', rname: 'hostmaster.Example.TEST', serial: 2024010101,
      refresh: 7200, retry: 900, expire: 1209600, minimum: 300,
    }],
    ['Example.TEST', TYPE.NS, 3600, 'ns1.Example.TEST'],
    ['Example.TEST', TYPE.NS, 3600, 'ns2.example.net'],
    ['Example.TEST', TYPE.MX, 600, { preference: 10, exchange: 'mail.Example.TEST' }],
    ['Example.TEST', TYPE.MX, 600, { preference: 20, exchange: 'mail2.example.net' }],
    ['ns1.Example.TEST', TYPE.A, 3600, '192.0.2.1'],
    ['mail.Example.TEST', TYPE.A, 3600, '192.0.2.2'],
    ['mail.Example.TEST', TYPE.AAAA, 3600, '2001:db8::2'],
    ['www.Example.TEST', TYPE.CNAME, 3600, 'Example.TEST'],
    ['txt.Example.TEST', TYPE.TXT, 3600, [Buffer.from('v=spf1 -all'), Buffer.from('say "hi"; not a comment'), Buffer.from('semi;colon')]],
    ['Example.TEST', TYPE.CAA, 3600, { flags: 0, tag: 'issue', value: 'ca.example.net; account=1' }],
    ['_sip._tcp.Example.TEST', TYPE.SRV, 3600, { priority: 0, weight: 5, port: 5060, target: 'sip.Example.TEST' }],
    ['a\\.b.Example.TEST', TYPE.A, 3600, '192.0.2.3'],
    ['weird.Example.TEST', 65280, 3600, Buffer.from([0xab, 0xcd, 0xef])],
    ['sip.example.test', TYPE.A, 30, '192.0.2.4'],
    ['host.sub.example.test', TYPE.A, 3600, '192.0.2.5'],
    ['host.sub.example.test', TYPE.TXT, 3600, [Buffer.from('multi'), Buffer.from('line')]],
    ['sub.example.test', TYPE.NS, 3600, 'ns1.example.test'],
    ['wAb\\.x.sub.example.test', TYPE.A, 3600, '192.0.2.6'],
  ]);
});

test('Z2: every error is reported with its own line number, and parsing continues past each', () => {
  const text = [
    '$ORIGIN example.test.', //                  1
    '$TTL 300', //                               2
    '@ SOA ns1 host 1 2 3 4 5', //               3
    'bad A 10.0.0.300', //                       4
    'mx MX x mail', //                           5
    'chaos CH A 192.0.2.1', //                   6
    'unk FOO 1', //                              7
    'out.other.test. A 192.0.2.1', //            8
    '@ SOA ns1 host 2 2 3 4 5', //               9
    'txt TXT "unterminated', //                  10
    '$GENERATE 1-3 h$ A 192.0.2.$', //           11
    'good A 192.0.2.9', //                       12
    'x A 192.0.2.1 )', //                        13
    '$TTL forever', //                           14
    'raw TYPE65280 1 2', //                      15
    'lonely', //                                 16
    'long 1w3000000000s A 192.0.2.1', //         17
    'ok2 A 192.0.2.10', //                       18
    'open TXT ( "never closed"', //              19
    'z A 192.0.2.11', //                         20
  ].join('\n');
  const z = parseZoneText(text, { file: F });
  assert.deepEqual(lines(z.errors), [
    `${F}:4: "10.0.0.300" is not an IPv4 address`,
    `${F}:5: MX preference "x" is not a number 0-65535`,
    `${F}:6: class CH is not supported: Waymark serves class IN only`,
    `${F}:7: unknown record type "FOO" (use a known mnemonic or TYPEnnn)`,
    `${F}:8: owner "out.other.test" is outside the zone "example.test"`,
    `${F}:9: second SOA record (the first is in ${F} line 3); a zone has exactly one`,
    `${F}:10: unterminated quoted string (missing closing ")`,
    `${F}:11: unknown directive "$GENERATE" (supported: $ORIGIN, $TTL, $INCLUDE)`,
    `${F}:13: ")" without a matching "("`,
    `${F}:14: $TTL "forever" is not a duration 0-2147483647 (seconds, or units like 1h or 1w2d)`,
    `${F}:15: type TYPE65280 has no typed presentation format here: write its data in RFC 3597 form "\\# <length> <hex>"`,
    `${F}:16: record has no type (expected [owner] [ttl] [class] type rdata)`,
    `${F}:17: TTL "1w3000000000s" is not a duration 0-2147483647 (seconds, or units like 1h or 1w2d)`,
    `${F}:19: "(" is never closed by a matching ")"`,
  ]);
  // The good lines around the bad ones still parse, and the rejected second SOA is left out.
  assert.deepEqual(z.records.map((r) => r.name), ['example.test', 'good.example.test', 'ok2.example.test']);
});

test('Z3: the SOA must sit at the origin and exist exactly once', () => {
  const notAtOrigin = parseZoneText('$TTL 60\nwww SOA ns1 host 1 2 3 4 5\n@ NS ns1\n', { file: F, origin: 'example.test' });
  assert.deepEqual(lines(notAtOrigin.errors), [`${F}:2: SOA owner "www.example.test" is not the zone origin "example.test"`]);
  assert.deepEqual(notAtOrigin.records.map((r) => r.type), [TYPE.NS]);

  const none = parseZoneText('$TTL 60\n@ NS ns1\n', { file: F, origin: 'example.test.' });
  assert.deepEqual(lines(none.errors), [`${F}:0: zone has no SOA record; add one at the zone origin`]);
});

test('Z4: origin comes from opts, else the first $ORIGIN, else an absolute SOA owner; otherwise an error', () => {
  const soaOwner = parseZoneText('example.test. 60 SOA ns1 host 1 2 3 4 5\nwww 60 A 192.0.2.1\n', { file: F });
  assert.deepEqual(soaOwner.errors, []);
  assert.equal(soaOwner.origin, 'example.test');
  assert.deepEqual(soaOwner.records.map((r) => r.name), ['example.test', 'www.example.test']);

  const fromOpts = parseZoneText('@ 60 SOA ns1 host 1 2 3 4 5\n', { file: F, origin: 'Zone.Test.' });
  assert.equal(fromOpts.origin, 'Zone.Test');
  assert.equal((fromOpts.records[0]!.data as { mname: string }).mname, 'ns1.Zone.Test');

  const unknown = parseZoneText('@ 60 SOA ns1 host 1 2 3 4 5\nwww 60 A 192.0.2.1\n', { file: F });
  assert.equal(unknown.origin, '');
  assert.deepEqual(lines(unknown.errors), [
    `${F}:0: cannot tell the zone origin: add "$ORIGIN example.com." at the top, or write the SOA owner as an absolute name`,
    // No "zone has no SOA record": the SOA line is there, and its own error says what is wrong with it.
    `${F}:1: owner "@" needs an origin, and none is known`,
    `${F}:2: owner "www" is relative, but no origin is known: write it with a trailing dot`,
  ]);
});

test('Z5: TTL is the record\'s own, else $TTL, else opts.defaultTtl, else the SOA minimum (never the previous record\'s)', () => {
  const text = [
    '$ORIGIN example.test.',
    '@ SOA ns1 host 1 2 3 4 77',
    'a 10 A 192.0.2.1',
    'b A 192.0.2.2', // previous record's TTL (10) is NOT inherited
    '$TTL 20',
    'c A 192.0.2.3',
  ].join('\n');
  const noDefault = parseZoneText(text, { file: F });
  assert.deepEqual(noDefault.errors, []);
  assert.deepEqual(noDefault.records.map((r) => [r.name, r.ttl]), [
    ['example.test', 77], ['a.example.test', 10], ['b.example.test', 77], ['c.example.test', 20],
  ]);
  const withDefault = parseZoneText(text, { file: F, defaultTtl: 5 });
  assert.deepEqual(withDefault.records.map((r) => r.ttl), [5, 10, 5, 20]);

  const noSoa = parseZoneText('$ORIGIN example.test.\na A 192.0.2.1\nb A 192.0.2.2\n', { file: F });
  assert.deepEqual(lines(noSoa.errors), [
    `${F}:0: zone has no SOA record; add one at the zone origin`,
    `${F}:2: record has no TTL (and 1 more): give it a TTL or add a $TTL line (the SOA minimum would apply, but there is no usable SOA)`,
  ]);
});

test('Z6: blank owner continues the previous owner; with none yet it is an error', () => {
  const z = parseZoneText('  A 192.0.2.1\n$TTL 1\n@ SOA ns1 host 1 2 3 4 5\n\tNS ns1\n', { file: F, origin: 'example.test' });
  assert.deepEqual(lines(z.errors), [`${F}:1: line starts with whitespace, so it reuses the previous owner name, but there is none yet`]);
  assert.deepEqual(rows(z.records).map((r) => [r[0], r[1]]), [['example.test', TYPE.SOA], ['example.test', TYPE.NS]]);
});

test('Z7: CRLF line endings give the same records and line numbers as LF', () => {
  const crlf = parseZoneText(REALISTIC.replace(/\n/g, '\r\n'), { file: F });
  assert.deepEqual(crlf.errors, []);
  assert.deepEqual(crlf.records, parseZoneText(REALISTIC, { file: F }).records);
  const bad = parseZoneText('$ORIGIN example.test.\r\n$TTL 1\r\n@ SOA ns1 host 1 2 3 4 5\r\nx A 300.1.1.1\r\ny TXT "a"\r\n', { file: F });
  assert.deepEqual(lines(bad.errors), [`${F}:4: "300.1.1.1" is not an IPv4 address`]);
  assert.deepEqual(bad.records[1]!.data, [Buffer.from('a')]);
});

test('Z8: $INCLUDE reads files relative to the including file, with its own origin, and restores the parent\'s', () => {
  const dir = mkdtempSync(join(tmpdir(), 'waymark-zone-'));
  try {
    mkdirSync(join(dir, 'parts'));
    writeFileSync(join(dir, 'main.zone'), [
      '$ORIGIN example.test.', //                       1
      '$TTL 300', //                                    2
      '@ SOA ns1 host 1 2 3 4 5', //                    3
      'www A 192.0.2.1', //                             4
      '$INCLUDE parts/hosts.zone lab', //               5
      '  AAAA 2001:db8::1', //                          6  owner is www again, origin example.test
      'mail A 192.0.2.2', //                            7
      '$INCLUDE parts/missing.zone', //                 8
      '$INCLUDE "parts/more.zone"', //                  9
    ].join('\n'));
    writeFileSync(join(dir, 'parts', 'hosts.zone'), [
      'h1 A 192.0.2.10', //                             1
      '$INCLUDE nested.zone', //                        2  relative to parts/
      'h2 A 10.0.0.300', //                             3
    ].join('\n'));
    writeFileSync(join(dir, 'parts', 'nested.zone'), '$TTL 60\nh3 A 192.0.2.11\n');
    writeFileSync(join(dir, 'parts', 'more.zone'), 'm1 A 192.0.2.12\n');

    const z = loadZoneFile(join(dir, 'main.zone'));
    assert.equal(z.origin, 'example.test');
    assert.deepEqual(z.records.map((r) => [r.name, r.type, r.ttl]), [
      ['example.test', TYPE.SOA, 300],
      ['www.example.test', TYPE.A, 300],
      ['h1.lab.example.test', TYPE.A, 300],
      ['h3.lab.example.test', TYPE.A, 60],
      ['www.example.test', TYPE.AAAA, 60], // $TTL from the include stays in force, as in BIND
      ['mail.example.test', TYPE.A, 60],
      ['m1.example.test', TYPE.A, 60],
    ]);
    // Errors come in reading order: the included file's line 3 is read before the parent's line 8.
    assert.equal(z.errors.length, 2);
    assert.deepEqual(z.errors[0], { file: join(dir, 'parts', 'hosts.zone'), line: 3, message: '"10.0.0.300" is not an IPv4 address' });
    assert.deepEqual({ ...z.errors[1]!, message: z.errors[1]!.message },
      { file: join(dir, 'main.zone'), line: 8, message: `cannot read $INCLUDE file "${join(dir, 'parts', 'missing.zone')}": no such file` });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Z9: $INCLUDE loops stop with an error; text without file access reports $INCLUDE as unavailable', () => {
  const dir = mkdtempSync(join(tmpdir(), 'waymark-zone-'));
  try {
    writeFileSync(join(dir, 'loop.zone'), '$ORIGIN example.test.\n$TTL 1\n$INCLUDE loop.zone\n');
    const z = loadZoneFile(join(dir, 'loop.zone'));
    assert.deepEqual(lines(z.errors).filter((l) => /INCLUDE/.test(l)).map((l) => l.split(dir).join('DIR')), ['DIR/loop.zone:3: $INCLUDE loop: "loop.zone" is this file (DIR/loop.zone → DIR/loop.zone)']);
    // A chain of distinct files deeper than 8 stops too (no loop, just too deep).
    for (let i = 0; i < 10; i++) writeFileSync(join(dir, `d${i}.zone`), i === 0 ? '$ORIGIN example.test.\n$TTL 1\n$INCLUDE d1.zone\n' : `$INCLUDE d${i + 1}.zone\n`);
    const deep = loadZoneFile(join(dir, 'd0.zone'));
    assert.ok(deep.errors.some((e) => /nested more than 8 deep/.test(e.message)), lines(deep.errors).join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const t = parseZoneText('$ORIGIN example.test.\n$TTL 1\n@ SOA ns1 host 1 2 3 4 5\n$INCLUDE other.zone\n', { file: F });
  assert.deepEqual(lines(t.errors), [`${F}:4: $INCLUDE is not available here: the zone text was given without file access`]);
});

test('Z10: a missing zone file is an error value, not a throw', () => {
  const path = join(tmpdir(), 'waymark-no-such-dir', 'none.zone');
  const z = loadZoneFile(path, { origin: 'example.test' });
  assert.equal(z.origin, 'example.test');
  assert.deepEqual(z.records, []);
  assert.equal(z.errors.length, 1);
  assert.equal(z.errors[0]!.file, path);
  assert.equal(z.errors[0]!.line, 0);
  assert.equal(z.errors[0]!.message, 'cannot read zone file: no such file');
  assert.equal(z.unreadable, 'no such file');
});

test('Z11: comments and quotes: ";" inside quotes is text, escaped quotes do not end strings, names keep case', () => {
  const z = parseZoneText([
    '$ORIGIN Example.Test. ; trailing comment on a directive',
    '$TTL 1d',
    '@ SOA ns1 host ( 1 2 3 4 5 ) ; comment after the parentheses',
    'Mixed.Case TXT "a;b" ( "c\\"d" ; comment inside parentheses',
    '  "e" )',
    'WWW 1h IN CNAME Target.Example.Test.',
  ].join('\n'), { file: F });
  assert.deepEqual(z.errors, []);
  assert.deepEqual(z.records[1], { name: 'Mixed.Case.Example.Test', type: TYPE.TXT, ttl: 86400, data: [Buffer.from('a;b'), Buffer.from('c"d'), Buffer.from('e')] });
  assert.deepEqual(z.records[2], { name: 'WWW.Example.Test', type: TYPE.CNAME, ttl: 3600, data: 'Target.Example.Test' });
});

// ---------------------------------------------------------------------------------------------------------------
// Reading in chunks: loadZoneFile reads the file a chunk at a time (chunkBytes), so records, parentheses, comments,
// CRLF and multi-byte characters cross chunk boundaries; the result must not depend on where they fall.

const CHUNKED = [
  '\uFEFF$ORIGIN example.test.', //                             1  byte-order mark, then the origin
  '$TTL 300', //                                                2
  '@ IN SOA ns1 hostmaster ( 2024010101 ; serial', //           3
  '    2h 15m 2w 300 )', //                                     4
  '  IN NS ns1', //                                             5
  'ns1 IN A 192.0.2.1', //                                      6
  'h-a-rather-long-owner-name 60 IN A 198.51.100.255', //       7
  'h-a-rather-long-owner-name IN AAAA 2001:DB8:0::2', //        8
  'ünï A 192.0.2.2', //                                         9  multi-byte owner (escaped as \\195\\188…)
  'txt TXT "€ 😀 ü" plain \\240\\159\\152\\128 ; comment', // 10 multi-byte and escaped text
  'bad A 10.0.0.300', //                                        11 an error after some chunk boundary
  'mx 3600 MX 10 mail.example.net.', //                         12
  '$INCLUDE part.zone sub', //                                  13
  '  TXT ( "after" ; the include leaves the owner at mx', //    14
  '        "the include" )', //                                 15
  'open TXT ( "never closed"', //                               16
].join('\n');
const PART = 'p1 A 192.0.2.10\n  AAAA 2001:db8::10\nå TXT "ålesund"\np2 A 1.2.3\n';

/** Records and errors with the temporary directory taken out, so chunked and whole reads compare directly. */
function comparable(z: ReturnType<typeof loadZoneFile>, dir: string): unknown {
  return { origin: z.origin, records: z.records, errors: lines(z.errors).map((l) => l.split(dir).join('DIR')) };
}

test('D2: a zone read in chunks of every size from 1 to 80 bytes gives the records, errors and lines of one whole read', () => {
  const dir = mkdtempSync(join(tmpdir(), 'waymark-chunks-'));
  try {
    writeFileSync(join(dir, 'part.zone'), PART);
    for (const [variant, text] of [['LF', CHUNKED], ['CRLF', CHUNKED.replace(/\n/g, '\r\n')]] as const) {
      writeFileSync(join(dir, 'main.zone'), text);
      const whole = loadZoneFile(join(dir, 'main.zone'), { chunkBytes: 1 << 20 });
      // The whole read itself is the same as parsing the text as one string.
      assert.deepEqual(comparable(whole, dir), comparable(parseZoneText(text, { file: join(dir, 'main.zone'), readInclude: (p) => readFileSync(p, 'utf8') }), dir));
      assert.equal(whole.records.length, 12, variant);
      assert.deepEqual(whole.records[11], { name: 'mx.example.test', type: TYPE.TXT, ttl: 300, data: [Buffer.from('after'), Buffer.from('the include')] });
      assert.deepEqual(lines(whole.errors).map((l) => l.split(dir).join('DIR')), [
        'DIR/main.zone:11: "10.0.0.300" is not an IPv4 address',
        'DIR/part.zone:4: "1.2.3" is not an IPv4 address',
        'DIR/main.zone:16: "(" is never closed by a matching ")"',
      ], variant);
      for (let chunkBytes = 1; chunkBytes <= 80; chunkBytes++) {
        assert.deepEqual(comparable(loadZoneFile(join(dir, 'main.zone'), { chunkBytes }), dir), comparable(whole, dir), `${variant}, ${chunkBytes}-byte chunks`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Master-file pieces that matter at a chunk boundary: plain and general lines, groups, quotes, escapes, errors. */
const LINE_PIECES = [
  'h1 IN A 192.0.2.1', 'h-a-long-owner-name 300 IN A 198.51.100.200', '  AAAA 2001:db8::1', 'www CNAME @', 'mx MX 10 mail',
  'txt TXT "a b" ( "c" ', ' "d" )', 'e\\.sc A 192.0.2.9', 'ünï TXT "€😀"', 'x A 10.0.0.300', '; comment ( " \\', '', '   ',
  '$TTL 1h', '$ORIGIN sub.example.test.', '$ORIGIN example.test.', 'abs.example.test. A 192.0.2.3', 'n NS ns.example.net.',
  'un TXT "open', 'p TXT ( "never', ')', 'dangling\\', '@ SOA ns1 host 1 2 3 4 5',
];

test('D2: whatever falls on a chunk boundary, a chunked read gives the records, errors and lines of one whole read', () => {
  const dir = mkdtempSync(join(tmpdir(), 'waymark-chunks-'));
  try {
    const file = join(dir, 'gen.zone');
    fc.assert(fc.property(
      fc.array(fc.constantFrom(...LINE_PIECES), { maxLength: 30 }), fc.constantFrom('\n', '\r\n'), fc.integer({ min: 1, max: 48 }),
      (pieces, eol, chunkBytes) => {
        const text = ['$ORIGIN example.test.', '$TTL 60', '@ SOA ns1 host 1 2 3 4 5', ...pieces].join(eol);
        writeFileSync(file, text);
        const whole = parseZoneText(text, { file });
        const chunked = loadZoneFile(file, { chunkBytes });
        assert.deepEqual(chunked, whole);
      },
    ), { numRuns: 300 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('D2: a multi-byte character split between two chunks is decoded whole, in names and in text', () => {
  const dir = mkdtempSync(join(tmpdir(), 'waymark-chunks-'));
  try {
    const file = join(dir, 'utf8.zone');
    /** Characters that fill `text` up to `cut` bytes before the next 64-byte boundary. */
    const fill = (text: string, cut: number): number => (128 - ((Buffer.byteLength(text) + cut) % 64)) % 64;
    for (const ch of ['ü', '€', '😀']) {
      for (let cut = 1; cut < Buffer.byteLength(ch); cut++) {
        // The TXT string's character, then the owner's, each straddle a chunk boundary after `cut` of its bytes.
        let text = '$ORIGIN example.test.\n$TTL 60\n@ SOA ns1 host 1 2 3 4 5\nt TXT "';
        const pad = 'x'.repeat(fill(text, cut));
        text += `${pad}${ch}"\n`;
        text += `;${'-'.repeat(fill(text + ';\n', cut) + 62)}\n${ch} A 192.0.2.1\n`;
        writeFileSync(file, text);
        const z = loadZoneFile(file, { chunkBytes: 64 });
        assert.deepEqual(z.errors, [], `${ch} cut after ${cut}`);
        assert.deepEqual(z.records[1]!.data, [Buffer.from(pad + ch)], `${ch} cut after ${cut}`);
        assert.equal(z.records[2]!.name, parseZoneText(text, { file }).records[2]!.name, `${ch} cut after ${cut}`);
        assert.match(z.records[2]!.name, /^(\\\d{3})+\.example\.test$/);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('D2: a record longer than the chunk (a 50,000-byte TXT line, a SOA over several lines) is read whole with its line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'waymark-chunks-'));
  try {
    const file = join(dir, 'long.zone');
    const txt = `"${'a'.repeat(250)}" `.repeat(200);
    writeFileSync(file, `$ORIGIN example.test.\n$TTL 60\n@ SOA ns1 host (\n 1\n 2\n 3\n 4\n 5 )\nt TXT ${txt}\nafter A 10.0.0.256\n`);
    const z = loadZoneFile(file, { chunkBytes: 100 });
    assert.deepEqual(lines(z.errors).map((l) => l.split(dir).join('DIR')), ['DIR/long.zone:10: "10.0.0.256" is not an IPv4 address']);
    assert.equal(z.records.length, 2);
    assert.equal((z.records[1]!.data as Buffer[]).length, 200);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('D2: a zone file that can be read only once (a named pipe) is still read, origin search included', { skip: process.platform === 'win32' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'waymark-fifo-'));
  try {
    const fifo = join(dir, 'zone.fifo');
    execFileSync('mkfifo', [fifo]);
    // A separate process writes the pipe while loadZoneFile blocks reading it.
    const writer = spawn('sh', ['-c', `printf '%s\\n' '$ORIGIN example.test.' '$TTL 60' '@ SOA ns1 host 1 2 3 4 5' 'www A 192.0.2.1' > '${fifo}'`]);
    const z = loadZoneFile(fifo);
    writer.kill();
    assert.deepEqual(z.errors, []);
    assert.deepEqual(z.records.map((r) => r.name), ['example.test', 'www.example.test']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
