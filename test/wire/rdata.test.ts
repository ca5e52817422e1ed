// Address rdata on the wire: A and AAAA text (already validated by rdata-text or the config schema) → RFC 1035 /
// RFC 3596 bytes, through the one address parser in net/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeRdata } from '../../src/wire/rdata.js';
import { TYPE } from '../../src/wire/types.js';

const hex = (type: number, text: string): string => encodeRdata(type, text).toString('hex');

test('D2: A rdata is the four octets of the dotted quad', () => {
  assert.equal(hex(TYPE.A, '192.0.2.1'), 'c0000201');
  assert.equal(hex(TYPE.A, '255.255.255.255'), 'ffffffff');
});

test('D2: AAAA rdata is the sixteen octets of any IPv6 spelling', () => {
  assert.equal(hex(TYPE.AAAA, '2001:db8::1'), '20010db8000000000000000000000001');
  assert.equal(hex(TYPE.AAAA, '2001:DB8:0:0:0:0:0:1'), '20010db8000000000000000000000001');
  assert.equal(hex(TYPE.AAAA, '::'), '00000000000000000000000000000000');
  assert.equal(hex(TYPE.AAAA, '::ffff:192.0.2.1'), '00000000000000000000ffffc0000201');
  // Member addresses are checked with net.isIP, which allows a zone index; it is not part of the address.
  assert.equal(hex(TYPE.AAAA, 'fe80::1%eth0'), 'fe800000000000000000000000000001');
});

test('D2: an address that slipped past validation is a bug reported by value, never encoded as garbage', () => {
  assert.throws(() => encodeRdata(TYPE.A, '1.2.3'), { message: '"1.2.3" is not an IPv4 address' });
  assert.throws(() => encodeRdata(TYPE.AAAA, '2001:db8::1::2'), { message: '"2001:db8::1::2" is not an IPv6 address' });
});
