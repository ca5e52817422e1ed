// C2 (which configuration is in force) at scale: a revision's content hash digests large strings (a million-record
// zone's text) so a change elsewhere does not hash the zone again, and revisions stored with the older whole-text
// hash still match their unchanged file after an upgrade (otherwise the file would undo API edits).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { declarativeHash, sameDeclarative } from '../../src/config/declarative.js';
import { fileWins } from '../../src/config/revisions.js';
import type { RevisionMeta } from '../../src/state/store.js';

const text = (n: number, last = 'www'): string => `${Array.from({ length: n }, (_, i) => `h${i} 60 IN A 10.0.${(i >> 8) & 255}.${i & 255}`).join('\n')}\n${last} 60 IN A 192.0.2.1\n`;
const config = (zoneText: string, ttl = 30): Record<string, unknown> => ({ zones: [{ origin: 'big.test', text: zoneText }], names: [{ name: 'www.big.test', pools: ['p'], ttl }], pools: [{ name: 'p', members: [{ address: '192.0.2.9' }] }] });

/**
 * The hashes revisions were stored with before: sha256 of the JSON with sorted keys, strings whole (legacy), or
 * strings of 64 KiB and more as their digest (v2, "h2:").
 */
function legacyHash(v: unknown, v2 = false): string {
  const json = (x: unknown): string => {
    if (Array.isArray(x)) return `[${x.map(json).join(',')}]`;
    if (x !== null && typeof x === 'object') return `{${Object.keys(x).sort().map((k) => `${JSON.stringify(k)}:${json((x as Record<string, unknown>)[k])}`).join(',')}}`;
    if (v2 && typeof x === 'string' && x.length >= 64 * 1024) return `#${crypto.createHash('sha256').update(x).digest('hex')}#`;
    return JSON.stringify(x);
  };
  return (v2 ? 'h2:' : '') + crypto.createHash('sha256').update(json(v)).digest('hex');
}

const meta = (hash: string, source: RevisionMeta['source']): RevisionMeta => ({ id: 1, at: 0, author: 'x', source, comment: '', hash, file: source === 'file' ? '/etc/waymark.yaml' : null });

test('C2: equal configurations hash equally (a large text compared by content, not by the string object); any change changes the hash', () => {
  const big = text(5000);
  const a = declarativeHash(config(big));
  assert.match(a, /^h3:[0-9a-f]{64}$/);
  assert.equal(declarativeHash(config(`${big.slice(0, 10)}${big.slice(10)}`)), a, 'the same text in another string');
  assert.notEqual(declarativeHash(config(text(5000, 'wwx'))), a, 'one character of the large text');
  assert.notEqual(declarativeHash(config(big, 31)), a, 'a setting beside it');
  // A digest written for a large string cannot be mistaken for a small string that spells it.
  assert.notEqual(declarativeHash({ zones: [{ text: big }] }), declarativeHash({ zones: [{ text: `#${crypto.createHash('sha256').update(big).digest('hex')}#` }] }));
});

test('C2: a revision stored with the older whole-text hash still matches its unchanged file, so the file does not undo API edits', () => {
  const file = config(text(5000));
  const lastFromFile = meta(legacyHash(file), 'file');
  assert.equal(sameDeclarative(lastFromFile.hash, file), true);
  const apiEdit = meta(legacyHash(config(text(5000), 99)), 'api');
  assert.equal(fileWins(apiEdit, lastFromFile, file), false, 'unchanged file: the API edit stays in force');
  assert.equal(fileWins(apiEdit, lastFromFile, config(text(5001))), true, 'the file changed: it wins');
  assert.equal(fileWins(meta(declarativeHash(file), 'api'), lastFromFile, file), false, 'the current revision is the file');
});

test('C2: a list of 100,000 names hashes by its content: equal lists (other objects) equally; one entry edited, inserted or removed changes the hash', () => {
  const names = (n: number): Array<Record<string, unknown>> => Array.from({ length: n }, (_, i) => ({ name: `n${i}.gslb.test`, pools: [`p${i}`] }));
  const list = names(100_000);
  const a = declarativeHash({ names: list });
  assert.equal(declarativeHash({ names: names(100_000) }), a, 'the same content in new objects');
  assert.equal(declarativeHash({ names: list.slice() }), a, 'the same entries again (the remembered chunks)');
  const edited = list.slice();
  edited[54_321] = { name: 'n54321.gslb.test', pools: ['p0'] };
  assert.notEqual(declarativeHash({ names: edited }), a, 'one entry edited');
  assert.equal(declarativeHash({ names: names(100_000).map((x, i) => (i === 54_321 ? { name: 'n54321.gslb.test', pools: ['p0'] } : x)) }), declarativeHash({ names: edited }), 'the edit as fresh objects: the same hash');
  assert.notEqual(declarativeHash({ names: [...list.slice(0, 10), { name: 'x.gslb.test', pools: [] }, ...list.slice(10)] }), a, 'one entry inserted');
  assert.notEqual(declarativeHash({ names: list.slice(0, -1) }), a, 'the last entry removed');
  assert.notEqual(declarativeHash({ names: [...list.slice(0, 500), ...list.slice(501)] }), a, 'an entry in the middle removed');
});

test('C2: a revision stored with the v2 hash (large strings digested, lists whole) still matches its unchanged file', () => {
  const file = { ...config(text(5000)), names: Array.from({ length: 2000 }, (_, i) => ({ name: `n${i}.big.test`, pools: ['p'] })) };
  const stored = meta(legacyHash(file, true), 'file');
  assert.match(stored.hash, /^h2:/);
  assert.equal(sameDeclarative(stored.hash, file), true);
  assert.equal(sameDeclarative(stored.hash, { ...file, names: file.names.slice(1) }), false);
  assert.equal(fileWins(meta(legacyHash(config(text(5000), 99), true), 'api'), stored, file), false, 'unchanged file: the API edit stays in force');
});
