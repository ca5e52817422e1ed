// What a revision changed (C2: read before a rollback), diffed on revisions as the store keeps them (content-addressed
// parts): a small configuration's diff is a complete line diff of its YAML; in a large one only the parts that differ
// are read, unchanged runs are left out, and what is shown is the YAML of the change in its place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import YAML from 'yaml';
import { encodeRoot } from '../../src/state/content.js';
import { diffRoots } from '../../src/config/diff.js';

function memory(): { put: (h: string, j: string) => void; load: (h: string) => string; loads: string[]; size: () => number } {
  const blobs = new Map<string, string>();
  const loads: string[] = [];
  return {
    loads, size: () => blobs.size,
    put: (h, j) => { blobs.set(h, j); },
    load: (h) => { loads.push(h); const j = blobs.get(h); if (j === undefined) throw new Error(`no blob ${h}`); return j; },
  };
}

/** The text of one side of a diff: its unchanged lines and those only on that side. */
function side(lines: string[], op: '+' | '-'): string {
  return lines.filter((l) => l[0] === ' ' || l[0] === op).map((l) => l.slice(2)).join('\n');
}

/** JSON with sorted keys: equal values, whatever their key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

const yaml = (v: unknown): string => YAML.stringify(v, { lineWidth: 0, blockQuote: 'literal' }).replace(/\n$/, '');

test('C2: a small configuration\'s diff is a complete line diff: kept + added lines are the new YAML, kept + removed the old', () => {
  const key = fc.constantFrom('zones', 'names', 'pools', 'monitors', 'topology', 'health', 'persistence');
  const config = fc.dictionary(key, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }).map((d) => JSON.parse(JSON.stringify(d)) as Record<string, unknown>);
  fc.assert(fc.property(config, config, (a, b) => {
    const m = memory();
    const lines = diffRoots(encodeRoot(a, m.put), encodeRoot(b, m.put), m.load);
    assert.ok(lines.every((l) => /^[ +-] /.test(l)), 'nothing is left out of a small diff');
    assert.equal(side(lines, '+'), Object.keys(b).length ? yaml(b) : '');
    assert.equal(canonical(YAML.parse(side(lines, '-')) ?? {}), canonical(a));
  }), { numRuns: 300 });
});

test('C2: a change to two names of a large configuration is shown in place and only the chunks that differ are read', () => {
  const m = memory();
  const records = Array.from({ length: 30_000 }, (_, i) => ({ name: `h${i}`, type: 'A', value: `10.0.${(i >> 8) & 255}.${i & 255}` }));
  const a = { zones: [{ origin: 'big.test', ttl: 300, records }], names: Array.from({ length: 3000 }, (_, i) => ({ name: `n${i}.big.test`, pools: ['p'] })), pools: [{ name: 'p', members: [{ address: '192.0.2.1' }] }] };
  const b = structuredClone(a);
  b.names[1500]!.pools = ['q'];
  b.zones[0]!.records[20_000]!.value = '192.0.2.99';
  const ra = encodeRoot(a, m.put);
  const rb = encodeRoot(b, m.put);
  m.loads.length = 0;
  const lines = diffRoots(ra, rb, m.load);
  assert.ok(m.size() > 50, `${m.size()} blobs stored`);
  assert.ok(m.loads.length <= 12, `the diff read ${m.loads.length} blobs`);
  assert.ok(lines.length < 80, lines.join('\n'));
  const text = lines.join('\n');
  // Prefix ("  ", "+ ", "- "), then the YAML line: records are items at indent 6, names at indent 2.
  assert.ok(text.includes(['        - name: h20000', '          type: A', '+         value: 192.0.2.99', '-         value: 10.0.78.32'].join('\n')), text);
  assert.ok(text.includes(['    - name: n1500.big.test', '      pools:', '+       - q', '-       - p'].join('\n')), text);
  assert.match(text, /^@@ 19,997 unchanged items @@$/m);
  // Around the change, the shown lines are YAML of the records in their place.
  const around = side(lines.slice(lines.findIndex((l) => l.includes('records:')) + 2, lines.findIndex((l) => l.includes('value: 192.0.2.99')) + 1), '+');
  assert.deepEqual(YAML.parse(around.split('\n').map((l) => l.slice(6)).join('\n')), b.zones[0]!.records.slice(19_997, 20_001));
});

test('C2: one line changed in a 100,000-line master-file text: that line with three of context on each side', () => {
  const m = memory();
  const text = (mid: string): string => `${Array.from({ length: 100_000 }, (_, i) => (i === 61_234 ? mid : `h${i} 300 IN A 10.0.${(i >> 8) & 255}.${i & 255}`)).join('\n')}\n`;
  const ra = encodeRoot({ zones: [{ origin: 'big.test', text: text('old 300 IN A 192.0.2.1') }] }, m.put);
  const rb = encodeRoot({ zones: [{ origin: 'big.test', text: text('new 300 IN A 192.0.2.2') }] }, m.put);
  m.loads.length = 0;
  const lines = diffRoots(ra, rb, m.load);
  assert.ok(m.loads.length <= 6, `read ${m.loads.length} blobs`);
  assert.deepEqual(lines.map((l) => l.replace(/\s+/g, ' ')), [
    ' zones:', ' - origin: big.test', ' text: |', '@@ 61,231 unchanged lines @@',
    ' h61231 300 IN A 10.0.239.47', ' h61232 300 IN A 10.0.239.48', ' h61233 300 IN A 10.0.239.49',
    '+ new 300 IN A 192.0.2.2', '- old 300 IN A 192.0.2.1',
    ' h61235 300 IN A 10.0.239.51', ' h61236 300 IN A 10.0.239.52', ' h61237 300 IN A 10.0.239.53', '@@ 38,762 unchanged lines @@',
  ]);
});

test('C2: the first revision of a large configuration is all added lines, cut at the limit with a note saying so', () => {
  const m = memory();
  const root = encodeRoot({ zones: [{ origin: 'big.test', records: Array.from({ length: 5000 }, (_, i) => ({ name: `h${i}`, type: 'A', value: '192.0.2.1' })) }] }, m.put);
  const lines = diffRoots(null, root, m.load, { maxLines: 500 });
  assert.equal(lines.length, 501);
  assert.ok(lines.slice(0, 500).every((l) => l.startsWith('+ ')));
  assert.match(lines[500]!, /^@@ the diff is cut at 500 lines/);
  const whole = diffRoots(null, root, m.load, { maxLines: 100_000 });
  assert.equal(whole.length, 5000 * 3 + 3);
});

test('C2: a section shown through a function (a secret redacted for a reader) is diffed as that function shows it', () => {
  const m = memory();
  const a = { health: { distributor: { token: 'secret-one', listen: '127.0.0.1:8054' } } };
  const b = { health: { distributor: { token: 'secret-two', listen: '127.0.0.1:8055' } } };
  const redact = (h: unknown): unknown => ({ ...(h as object), distributor: { ...(h as { distributor: object }).distributor, token: '(redacted)' } });
  const text = diffRoots(encodeRoot(a, m.put), encodeRoot(b, m.put), m.load, { sections: { health: redact } }).join('\n');
  assert.ok(!text.includes('secret'), text);
  assert.match(text, /^\+ +listen: 127\.0\.0\.1:8055$/m);
  assert.match(text, /^ {2} +token: \(redacted\)$/m);
});
