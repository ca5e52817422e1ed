// C1: the fast YAML reader (src/config/yaml.ts) reads a configuration exactly as the `yaml` package does, or not at
// all (then `yaml` reads it): for tricky texts, every YAML file of the repository and generated documents.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import fc from 'fast-check';
import { fastYamlValue } from '../../src/config/yaml.js';
import { parseYaml } from '../../src/config/load.js';

/** JSON with the values JSON cannot tell apart (±Infinity, NaN, -0) spelled out. */
function exact(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && (!Number.isFinite(x) || Object.is(x, -0)) ? `#${Object.is(x, -0) ? '-0' : String(x)}` : x));
}

/** The fast reader either declines or gives what `yaml` gives; it never accepts a text `yaml` rejects. */
function agrees(text: string): 'fast' | 'declined' {
  const fast = fastYamlValue(text);
  if (fast === undefined) return 'declined';
  const doc = YAML.parseDocument(text);
  assert.deepEqual(doc.errors.map((e) => e.message), [], `the fast reader accepted a text yaml rejects: ${JSON.stringify(text)}`);
  assert.equal(exact(fast.value ?? {}), exact(doc.toJS() ?? {}), `read differently: ${JSON.stringify(text)}`);
  return 'fast';
}

const TRICKY = [
  'x: 1e3\ny: .5\nz: 0o17\nw: 0x1F\nv: -0\nu: +12\nt: 1_000\ns: .inf\nr: -.Inf\nq: .NaN\np: 5.\no: 0.0\nn: 1.10',
  'a: 0b101\nb: 012\nc: 1:20\nd: 2024-01-01\ne: yes\nf: on\ng: ~\nh: TRUE\ni: False\nj: NULL\nk: nULL',
  'a: 99999999999999999999999\nb: 1e400\nc: 0x\nd: +.inf\ne: +0\nf: 00\ng: -0.0\nh: 1.0e+3\ni: .5e3',
  "a: 'it''s'\nb: \"x\\ty\"\nc: \"\\u00e9\\x41\\N\\_\"\nd: \"multi\n  line\"\ne: plain\n  continued",
  'a: |\n  x\n  y\n\nb: >-\n  x\n  y\n\nc: |+\n  k\n\n',
  'a:\n  - b\n  -\nk: [a, b, ]\nm: {a: 1,}\nn: {b: [c, {d: e}]}\n- x',
  '1: a\ntrue: b\n2.50: c', '__proto__: 1', 'a: x #c\nb: y#z', '{"a": 1, "b": [true, null]}', 'a: 1\n...\n', '---\na: 1',
  // Left to yaml: null and complex keys, duplicates, aliases, directives, explicit tags, several documents, errors.
  '~: x', ': x', '? [a, b]\n: c', '{a: 1, "1": 2, 1: 3}', 'a: 1\na: 2', 'a: &x 1\nb: *x', 'a: *b', '%YAML 1.1\n---\na: yes',
  'a: !!int 0b11', 'a: !!str 12', 'a: !foo x', 'x: !!map {a: 1}', '---\na: 1\n---\nb: 2', 'a: b: c', '\ta: 1', 'a: [1, 2', 'a: @x', '',
];

test('C1: the fast YAML reader reads tricky texts as yaml does, or leaves them to yaml', () => {
  const declined = TRICKY.filter((t) => agrees(t) === 'declined');
  // What only yaml may read is left to it; the plain forms above are read fast.
  for (const t of ['~: x', 'a: &x 1\nb: *x', '%YAML 1.1\n---\na: yes', 'a: !!int 0b11', 'b: 1e400', 'a: 1\na: 2']) {
    assert.ok(declined.some((d) => d.includes(t)), `declined: ${JSON.stringify(t)}`);
  }
  assert.equal(agrees('x: 1e3\ny: .5'), 'fast');
});

test('C1: every YAML file of the repository reads the same through the fast reader', () => {
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(e.name)) files.push(p);
    }
  };
  for (const root of ['examples', 'bench', 'test']) if (fs.existsSync(root)) walk(root);
  assert.ok(files.length > 0, 'run from the repository root');
  for (const f of files) assert.equal(agrees(fs.readFileSync(f, 'utf8')), 'fast', f);
});

test('C1: generated documents in block and flow style read the same through the fast reader', () => {
  const key = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('name', 'true', '1', '0x1F', '.5', '~', 'a b', '-x', '#c', 'null', '__proto__'));
  const scalar = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null),
    fc.constantFrom('yes', 'on', '0o17', '1_000', '2024-01-01', '.inf', '1e400', '*x', '&a', '!t', '%d', '- a', 'a: b', "'q'", '"d"', ' lead', 'trail ', '\n', 'a\nb'));
  const value = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(key, tie('node'), { maxKeys: 4 })),
  })).node;
  fc.assert(fc.property(value, fc.boolean(), (v, flow) => {
    agrees(YAML.stringify(v, flow ? { collectionStyle: 'flow' } : {}));
  }), { numRuns: 500 });
});

test('C1: parseYaml gives the same value and the same errors whichever reader read it', () => {
  assert.deepEqual(parseYaml('names:\n  - { name: a.test, pools: [p] }\n'), { ok: true, value: { names: [{ name: 'a.test', pools: ['p'] }] } });
  assert.deepEqual(parseYaml(''), { ok: true, value: {} });
  const bad = parseYaml('a: [1, 2\nb: 3\n');
  assert.equal(bad.ok, false);
  assert.ok(!bad.ok && bad.errors[0]!.line !== undefined && /^YAML syntax error/.test(bad.errors[0]!.message));
});
