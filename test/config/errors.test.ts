// C1: the one text form of configuration errors (src/config/errors.ts), its value quoting and "did you mean".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatError, formatProblem, quoteValue, nearest, editDistance, allowedKeys } from '../../src/config/errors.js';
import { configSchema } from '../../src/config/schema.js';
import { parseConfigText } from '../../src/config/load.js';

test('C1: one format for every location: FILE: FIELD, FILE:LINE[:COL], FILE: FIELD:LINE, FIELD, FILE', () => {
  assert.equal(formatError({ file: 'examples/demo.yaml', path: 'pools[1].members[0].address', value: '127.0.0.300', message: 'is not an IPv4 or IPv6 address' }),
    'examples/demo.yaml: pools[1].members[0].address: "127.0.0.300" is not an IPv4 or IPv6 address');
  assert.equal(formatError({ file: 'examples/zones/x.zone', path: '', line: 12, message: '"1.2.3" is not an IPv4 address' }),
    'examples/zones/x.zone:12: "1.2.3" is not an IPv4 address');
  assert.equal(formatError({ file: 'w.yaml', path: '', line: 3, column: 1, message: 'YAML syntax error: x' }), 'w.yaml:3:1: YAML syntax error: x');
  assert.equal(formatError({ file: 'w.yaml', path: 'zones[0].text', line: 4, message: 'm' }), 'w.yaml: zones[0].text:4: m');
  assert.equal(formatError({ path: 'server.workers', value: 0, message: 'is too small', expected: 'use at least 1' }), 'server.workers: 0 is too small; use at least 1');
  assert.equal(formatError({ file: 'x.zone', path: '', message: 'zone has no SOA record' }), 'x.zone: zone has no SOA record');
});

test('C1: values are quoted as JSON and cut when long; objects are left to the location', () => {
  assert.equal(quoteValue('a"b'), '"a\\"b"');
  assert.equal(quoteValue(7), '7');
  assert.equal(quoteValue(null), 'null');
  const long = quoteValue('x'.repeat(200));
  assert.equal(long.length, 60);
  assert.match(long, /^"x+…"$/);
  assert.equal(formatProblem({ path: 'p', value: { a: 1 }, message: 'is wrong' }), 'is wrong');
  assert.equal(formatProblem({ path: 'p', value: [], message: 'is empty' }), '[] is empty');
});

test('C1: "did you mean" takes the nearest allowed word within a third of its length, swaps counting as one edit', () => {
  assert.equal(editDistance('wieght', 'weight'), 1);
  assert.equal(editDistance('workres', 'workers'), 1);
  assert.equal(editDistance('colour', 'color'), 1);
  assert.equal(nearest('workres', ['listen', 'workers', 'udpPayload']), 'workers');
  assert.equal(nearest('colour', ['address', 'port', 'weight']), undefined);
  // The allowed keys are those of the object at the path, by the discriminator when it is a union.
  assert.deepEqual(allowedKeys(configSchema, ['server', 'tcp'], {}).sort(), ['idleTimeout', 'maxConnections', 'maxQueriesPerConnection']);
  assert.ok(allowedKeys(configSchema, ['monitors', 0], { type: 'dns' }).includes('qname'));
  assert.ok(!allowedKeys(configSchema, ['monitors', 0], { type: 'tcp' }).includes('qname'));
});

test('C1: an unknown key with nothing near lists what the object allows', () => {
  const r = parseConfigText('server: { tcp: { colour: red } }\n');
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(r.errors.map(formatError), ['server.tcp.colour: unknown key; use one of "idleTimeout", "maxConnections", "maxQueriesPerConnection"']);
});
