// Presentation-format rdata as written in the YAML config: tokenizeRdata + parseRdata, and the TTL syntax.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRdata, parseTtl, tokenizeRdata } from '../../src/dns/rdata-text.js';
import type { RData } from '../../src/wire/rdata.js';
import { TYPE, typeNumber } from '../../src/wire/types.js';

const ORIGIN = 'example.test';

/** Parse one config-style rdata string; fails the test on an error. */
function rd(type: string, text: string, origin = ORIGIN): RData {
  const t = tokenizeRdata(text);
  if (!t.ok) assert.fail(t.error);
  const n = typeNumber(type);
  assert.ok(n !== undefined, `type ${type}`);
  const r = parseRdata(n, t.tokens, origin);
  if (!r.ok) assert.fail(r.error);
  return r.data;
}

/** The error for one config-style rdata string; fails the test if it parses. */
function rdErr(type: string, text: string, origin = ORIGIN): string {
  const t = tokenizeRdata(text);
  if (!t.ok) return t.error;
  const r = parseRdata(typeNumber(type)!, t.tokens, origin);
  if (r.ok) assert.fail(`expected an error for ${type} ${text}, got ${JSON.stringify(r.data)}`);
  return r.error;
}

test('tokenizeRdata splits on whitespace, strips quotes and keeps escapes as written', () => {
  const r = tokenizeRdata('  "v=spf1 -all" "second \\"q\\"" plain\\ word \\059 ');
  assert.ok(r.ok);
  assert.deepEqual(r.tokens, [
    { text: 'v=spf1 -all', quoted: true },
    { text: 'second \\"q\\"', quoted: true },
    { text: 'plain\\ word', quoted: false },
    { text: '\\059', quoted: false },
  ]);
});

test('tokenizeRdata ignores balanced parentheses and rejects broken input with a reason', () => {
  const r = tokenizeRdata('ns1 admin ( 1 2 3 4 5 )');
  assert.ok(r.ok);
  assert.equal(r.tokens.length, 7);
  assert.deepEqual(tokenizeRdata('"open'), { ok: false, error: 'unterminated quoted string (missing closing ") in "\\"open"' });
  assert.match((tokenizeRdata('a ( b') as { error: string }).error, /"\(" without a matching "\)"/);
  assert.match((tokenizeRdata('a ) b') as { error: string }).error, /"\)" without a matching "\("/);
  assert.match((tokenizeRdata('v=DKIM1; k=rsa') as { error: string }).error, /unquoted ";".*double quotes/);
  assert.match((tokenizeRdata('abc\\') as { error: string }).error, /dangling backslash/);
});

test('A: strict dotted quad, with the exact error text for 10.0.0.300', () => {
  assert.equal(rd('A', '192.0.2.1'), '192.0.2.1');
  assert.equal(rdErr('A', '10.0.0.300'), '"10.0.0.300" is not an IPv4 address');
  assert.equal(rdErr('A', '10.0.0'), '"10.0.0" is not an IPv4 address');
  assert.equal(rdErr('A', '010.0.0.1'), '"010.0.0.1" is not an IPv4 address');
  assert.equal(rdErr('A', '1.2.3.4 5.6.7.8'), 'A needs 1 field (an IPv4 address), got 2');
  assert.equal(rdErr('A', ''), 'A needs 1 field (an IPv4 address), got 0');
});

test('AAAA: any valid IPv6 text, stored in RFC 5952 form', () => {
  assert.equal(rd('AAAA', '2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
  assert.equal(rd('AAAA', '2001:db8:0:1:0:0:0:0'), '2001:db8:0:1::');
  assert.equal(rd('AAAA', '2001:0db8:0000:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1');
  assert.equal(rd('AAAA', '::'), '::');
  assert.equal(rd('AAAA', '::ffff:192.0.2.1'), '::ffff:c000:201');
  assert.equal(rdErr('AAAA', '2001:db8::1::2'), '"2001:db8::1::2" is not an IPv6 address');
  assert.equal(rdErr('AAAA', 'fe80::1%eth0'), '"fe80::1%eth0" is not an IPv6 address');
  assert.equal(rdErr('AAAA', '192.0.2.1'), '"192.0.2.1" is not an IPv6 address');
});

test('names: relative get the origin, "@" is the origin, a trailing dot is absolute, escapes are canonical', () => {
  assert.equal(rd('CNAME', 'www'), 'www.example.test');
  assert.equal(rd('CNAME', '@'), 'example.test');
  assert.equal(rd('NS', 'ns1.other.test.'), 'ns1.other.test');
  assert.equal(rd('PTR', 'host.Example.TEST.'), 'host.Example.TEST');
  assert.equal(rd('CNAME', 'a\\.b'), 'a\\.b.example.test');
  assert.equal(rd('CNAME', 'a\\046b.'), 'a\\.b');
  assert.equal(rd('CNAME', 'x', '.'), 'x');
  assert.deepEqual(rd('MX', '0 .'), { preference: 0, exchange: '.' });
  assert.match(rdErr('CNAME', 'www', ''), /CNAME target "www" is relative, but no origin is known/);
  assert.match(rdErr('CNAME', 'a..b.'), /CNAME target "a\.\.b\.": empty label/);
  assert.match(rdErr('NS', `${'x'.repeat(64)}.test.`), /label longer than 63/);
});

test('MX and SRV: fields, counts and ranges named in errors', () => {
  assert.deepEqual(rd('MX', '10 mail'), { preference: 10, exchange: 'mail.example.test' });
  assert.equal(rdErr('MX', 'x mail'), 'MX preference "x" is not a number 0-65535');
  assert.equal(rdErr('MX', '65536 mail'), 'MX preference "65536" is not a number 0-65535');
  assert.equal(rdErr('MX', '10'), 'MX needs 2 fields (preference exchange), got 1');
  assert.deepEqual(rd('SRV', '0 5 5060 sip.example.test.'), { priority: 0, weight: 5, port: 5060, target: 'sip.example.test' });
  assert.equal(rdErr('SRV', '0 5 70000 sip'), 'SRV port "70000" is not a number 0-65535');
  assert.equal(rdErr('SRV', '0 -1 80 sip'), 'SRV weight "-1" is not a number 0-65535');
  assert.equal(rdErr('SRV', '0 5 80'), 'SRV needs 4 fields (priority weight port target), got 3');
});

test('TXT: several strings, quoted or not, escapes resolved to bytes, 255-byte limit', () => {
  const data = rd('TXT', '"v=spf1 -all" "second"') as Buffer[];
  assert.deepEqual(data.map((b) => b.toString()), ['v=spf1 -all', 'second']);
  const esc = rd('TXT', '"say \\"hi\\"; ok" semi\\059colon \\255\\000 ""') as Buffer[];
  assert.deepEqual(esc[0], Buffer.from('say "hi"; ok'));
  assert.deepEqual(esc[1], Buffer.from('semi;colon'));
  assert.deepEqual(esc[2], Buffer.from([255, 0]));
  assert.deepEqual(esc[3], Buffer.alloc(0));
  assert.deepEqual(rd('TXT', '"héllo"'), [Buffer.from('héllo', 'utf8')]);
  assert.equal((rd('TXT', `"${'a'.repeat(255)}"`) as Buffer[])[0]!.length, 255);
  assert.match(rdErr('TXT', `ok "${'a'.repeat(256)}"`), /^TXT string 2 is 256 bytes; a character-string holds at most 255/);
  assert.match(rdErr('TXT', '"bad \\12x"'), /TXT string 1: bad escape "\\12x"/);
  assert.match(rdErr('TXT', '"\\300"'), /escape "\\300" .* is not an octet 0-255/);
  assert.equal(rdErr('TXT', ''), 'TXT needs at least one character-string');
});

test('CAA: flags 0-255, alphanumeric tag, quoted value', () => {
  assert.deepEqual(rd('CAA', '0 issue "ca.example.net; account=230123"'), { flags: 0, tag: 'issue', value: 'ca.example.net; account=230123' });
  assert.deepEqual(rd('CAA', '128 iodef "mailto:security@example.test"'), { flags: 128, tag: 'iodef', value: 'mailto:security@example.test' });
  assert.equal(rdErr('CAA', '256 issue "ca"'), 'CAA flags "256" is not a number 0-255');
  assert.match(rdErr('CAA', '0 is-sue "ca"'), /CAA tag "is-sue" must be 1-255 ASCII letters and digits/);
  assert.match(rdErr('CAA', '0 issue ca extra'), /^CAA needs 3 fields/);
});

test('SOA: names resolved, timers accept BIND units, serial is a plain u32', () => {
  assert.deepEqual(rd('SOA', 'ns1 hostmaster 2024010101 1h 15m 1w2d 300'), {
    mname: 'ns1.example.test', rname: 'hostmaster.example.test', serial: 2024010101,
    refresh: 3600, retry: 900, expire: 777600, minimum: 300,
  });
  assert.deepEqual((rd('SOA', '( ns1 h 1 1H30M 2 3 4 )') as { refresh: number }).refresh, 5400);
  assert.equal(rdErr('SOA', 'ns1 h 4294967296 1 2 3 4'), 'SOA serial "4294967296" is not a number 0-4294967295');
  assert.match(rdErr('SOA', 'ns1 h 1 1x 2 3 4'), /^SOA refresh "1x" is not a duration/);
  assert.match(rdErr('SOA', 'ns1 h 1 2 3 4'), /^SOA needs 7 fields \(mname rname serial refresh retry expire minimum\), got 6/);
});

test('RFC 3597 generic rdata: raw bytes for unknown types, typed shapes for known ones, length checked', () => {
  assert.deepEqual(rd('TYPE65280', '\\# 4 0a0b 0C0D'), Buffer.from([10, 11, 12, 13]));
  assert.deepEqual(rd('TYPE65280', '\\# 0'), Buffer.alloc(0));
  assert.equal(rd('A', '\\# 4 c0000201'), '192.0.2.1');
  assert.deepEqual(rd('MX', '\\# 8 000a 046d61696c 00'), { preference: 10, exchange: 'mail' });
  assert.deepEqual(rd('TXT', '\\# 6 02 6869 02 6f6b'), [Buffer.from('hi'), Buffer.from('ok')]);
  assert.deepEqual(rd('CAA', '\\# 8 00 05 6973737565 61'), { flags: 0, tag: 'issue', value: 'a' });
  assert.equal(rdErr('TYPE65280', '\\# 3 0a0b'), 'TYPE65280 generic rdata length says 3 bytes but the hex holds 2');
  assert.equal(rdErr('TYPE65280', '\\# 1 a'), 'TYPE65280 generic rdata "a" is not an even number of hex digits');
  assert.equal(rdErr('A', '\\# 3 c00002'), 'A generic rdata: not a valid IPv4 address (needs 4 bytes)');
  assert.equal(rdErr('NS', '\\# 2 c00c'), 'NS generic rdata: not a valid uncompressed domain name');
});

test('types without a typed format need \\#; meta types are refused', () => {
  assert.equal(rdErr('TYPE65280', '1 2 3'), 'type TYPE65280 has no typed presentation format here: write its data in RFC 3597 form "\\# <length> <hex>"');
  const r = parseRdata(TYPE.OPT, [], ORIGIN);
  assert.deepEqual(r, { ok: false, error: 'TYPE41 is a query or meta type and cannot appear in zone data' });
});

test('parseTtl: seconds or BIND units, bounded by 2^31-1', () => {
  assert.equal(parseTtl('0'), 0);
  assert.equal(parseTtl('3600'), 3600);
  assert.equal(parseTtl('1h'), 3600);
  assert.equal(parseTtl('1W2d'), 9 * 86400);
  assert.equal(parseTtl('1h30m15s'), 5415);
  assert.equal(parseTtl('2147483647'), 2147483647);
  assert.equal(parseTtl('2147483648'), undefined);
  assert.equal(parseTtl('10000w'), undefined);
  assert.equal(parseTtl(''), undefined);
  assert.equal(parseTtl('1h30'), undefined);
  assert.equal(parseTtl('h'), undefined);
  assert.equal(parseTtl('-1'), undefined);
});
