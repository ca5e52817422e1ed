// Issue 10 (a change to one name without recompiling), G1/C1: an edit that adds or removes policy names lays them
// over their zone as an overlay (merged with the overlay the zone has), the supervisor's half (with the zones'
// layers) and a worker's (given those layers) agree, answers follow, and what a full compilation refuses is refused
// with the same words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText, loadZones, compileSnapshot } from '../../src/config/load.js';
import { applyEdit, findEdit, type Compiled, type RawEdit } from '../../src/config/edit.js';
import { formatErrors, type Config } from '../../src/config/schema.js';
import { Snapshot } from '../../src/answer/snapshot.js';
import type { ZoneLayers } from '../../src/dns/zone.js';

const YAML = `
zones:
  - origin: gslb.test
    ns: [ns1]
    records:
      - { name: ns1, type: A, value: 127.0.0.53 }
      - { name: txt, type: TXT, value: '"kept"' }
      - { name: static, type: A, value: 192.0.2.99 }
      - { name: sub, type: NS, value: ns.elsewhere.test. }
  - { origin: other.test, ns: [ns1], records: [{ name: ns1, type: A, value: 127.0.0.53 }] }
names:
  - { name: a.gslb.test, pools: [p] }
  - { name: b.gslb.test, pools: [p] }
pools:
  - { name: p, members: [{ address: 192.0.2.1 }] }
  - { name: q, members: [{ address: 192.0.2.2 }] }
`;

function compiled(yaml: string): { config: Config; snapshot: Snapshot } {
  const parsed = parseConfigText(yaml);
  assert.ok(parsed.ok, parsed.ok ? '' : formatErrors(parsed.errors));
  const loaded = loadZones(parsed.value, process.cwd(), null);
  assert.ok(loaded.ok);
  const snap = compileSnapshot(loaded.value, 1);
  assert.ok(snap.ok, snap.ok ? '' : formatErrors(snap.errors));
  return { config: parsed.value, snapshot: snap.value };
}

/** The supervisor's half (zones' layers given) and then a worker's (its zones relaid with those layers first). */
function bothHalves(prev: Compiled, edit: RawEdit): { supervisor: ReturnType<typeof applyEdit>; worker: ReturnType<typeof applyEdit> } {
  const layers = new Map<number, ZoneLayers>(prev.snapshot.zones.map((z, i) => [i, z.layers]));
  const supervisor = applyEdit({ ...prev, layers: () => layers }, edit);
  if (supervisor === null || !supervisor.ok) return { supervisor, worker: null };
  const zones = prev.snapshot.zones.map((z, i) => { const l = supervisor.relaid.get(i); return l === undefined ? z : z.relaid(l); });
  const relaidSnap = new Snapshot(zones, prev.snapshot.generation, prev.snapshot.policy);
  return { supervisor, worker: applyEdit({ config: prev.config, snapshot: relaidSnap }, edit) };
}

/** The policy name answering `name` in `snap`, or null. */
function policyAt(snap: Snapshot, name: string): string | null {
  const found = snap.node(name);
  if (found === undefined) return null;
  const slot = found.image.policySlot(found.node);
  return slot < 0 ? null : found.zone.policies[slot]?.name ?? null;
}

test('G1 (issue 10): names added and removed by an edit are laid over their zone; the worker, given the overlay, places them; more edits merge into the overlay', () => {
  let prev: Compiled = compiled(YAML);
  const edits: Array<{ edit: RawEdit; check: (s: Snapshot) => void }> = [
    { edit: { names: { at: 2, remove: 0, insert: [{ name: 'c.gslb.test', pools: ['q'] }] }, pools: null }, check: (s) => {
      assert.equal(policyAt(s, 'c.gslb.test'), 'c.gslb.test');
      assert.equal(policyAt(s, 'a.gslb.test'), 'a.gslb.test', 'the names of the image stay');
    } },
    { edit: { names: { at: 3, remove: 0, insert: [{ name: 'txt.gslb.test', pools: ['p'] }, { name: 'deep.er.gslb.test', pools: ['p'] }] }, pools: null }, check: (s) => {
      assert.equal(policyAt(s, 'txt.gslb.test'), 'txt.gslb.test', 'a name with a TXT record becomes a policy name too');
      assert.equal(policyAt(s, 'deep.er.gslb.test'), 'deep.er.gslb.test');
      assert.ok(s.node('er.gslb.test') !== undefined, 'its empty non-terminal exists');
      assert.equal(policyAt(s, 'c.gslb.test'), 'c.gslb.test', 'the earlier edit is still laid over');
    } },
    { edit: { names: { at: 0, remove: 1, insert: [] }, pools: null }, check: (s) => {
      assert.equal(s.node('a.gslb.test'), undefined, 'a removed name with no records is gone');
      assert.equal(policyAt(s, 'b.gslb.test'), 'b.gslb.test');
      assert.equal(policyAt(s, 'deep.er.gslb.test'), 'deep.er.gslb.test');
    } },
    { edit: { names: { at: 1, remove: 1, insert: [] }, pools: null }, check: (s) => { // c.gslb.test, added by an edit, removed again
      assert.equal(s.node('c.gslb.test'), undefined);
      assert.equal(policyAt(s, 'txt.gslb.test'), 'txt.gslb.test');
    } },
  ];
  for (const { edit, check } of edits) {
    const { supervisor, worker } = bothHalves(prev, edit);
    assert.ok(supervisor?.ok, supervisor === null ? 'null' : supervisor.ok ? '' : formatErrors(supervisor.errors));
    assert.ok(worker?.ok, worker === null ? 'null' : worker.ok ? '' : formatErrors(worker.errors));
    check(worker.snapshot);
    // The next edit starts from the worker's snapshot (zones with their overlays).
    prev = { config: supervisor.config, snapshot: worker.snapshot };
  }
  assert.deepEqual(prev.config.names.map((n) => n.name), ['b.gslb.test', 'txt.gslb.test', 'deep.er.gslb.test']);
  // A worker that starts now is given these layers (images with the edits' overlay) and compiles the configuration
  // with them: every name is placed at its own node's slot, not by its position in the list.
  const prebuilt = new Map<number, ZoneLayers>(prev.snapshot.zones.map((z, i) => [i, z.layers]));
  assert.ok(prev.snapshot.zones[0]!.overlay !== null, 'the zone has the edits\' overlay');
  const loaded = loadZones(prev.config, process.cwd(), null, prebuilt);
  assert.ok(loaded.ok);
  const fresh = compileSnapshot(loaded.value, 2);
  assert.ok(fresh.ok, fresh.ok ? '' : formatErrors(fresh.errors));
  for (const n of ['b.gslb.test', 'txt.gslb.test', 'deep.er.gslb.test']) assert.equal(policyAt(fresh.value, n), n, n);
  assert.equal(fresh.value.node('a.gslb.test'), undefined);
});

test('G1/C1 (issue 10): a name added where a full compilation refuses one is refused in the same words, by its path', () => {
  const prev: Compiled = compiled(YAML);
  const add = (name: string): string => {
    const { supervisor } = bothHalves(prev, { names: { at: 2, remove: 0, insert: [{ name, pools: ['p'] }] }, pools: null });
    assert.ok(supervisor !== null && !supervisor.ok, name);
    return formatErrors(supervisor.errors);
  };
  assert.match(add('static.gslb.test'), /names\[2\]\.name: static\.gslb\.test also has static A\/AAAA records in zone gslb\.test/);
  assert.match(add('x.sub.gslb.test'), /names\[2\]\.name: x\.sub\.gslb\.test is at or below the delegation sub\.gslb\.test/);
  assert.match(add('www.nowhere.test'), /names\[2\]\.name: www\.nowhere\.test is not inside any zone served here \(zones: gslb\.test, other\.test\)/);
  // The same configurations compiled in full say the same.
  const full = parseConfigText(`${YAML}\n`.replace('  - { name: b.gslb.test, pools: [p] }', '  - { name: b.gslb.test, pools: [p] }\n  - { name: static.gslb.test, pools: [p] }'));
  assert.ok(full.ok);
  const loaded = loadZones(full.value, process.cwd(), null);
  assert.ok(loaded.ok);
  const snap = compileSnapshot(loaded.value, 1);
  assert.ok(!snap.ok);
  assert.match(formatErrors(snap.errors), /names\[2\]\.name: static\.gslb\.test also has static A\/AAAA records in zone gslb\.test/);
});

test('C1 (issue 10): only a change to names and pools is an edit; other sections, or more than a thousand entries, are compiled in full', () => {
  const names = [{ name: 'a.x' }, { name: 'b.x' }];
  const zones = [{ origin: 'x' }];
  const before = { zones, names, pools: [] };
  assert.deepEqual(findEdit(before, { zones: zones.slice(), names: [names[0], { name: 'c.x' }], pools: [] }), { names: { at: 1, remove: 1, insert: [{ name: 'c.x' }] }, pools: null });
  assert.equal(findEdit(before, { zones: [{ origin: 'x' }], names, pools: [] }), null, 'a zone entry replaced');
  assert.equal(findEdit(before, { zones, names, pools: [], topology: {} }), null, 'a section added');
  assert.deepEqual(findEdit(before, { ...before }), { names: null, pools: null }, 'nothing changed');
  const many = Array.from({ length: 2000 }, (_, i) => ({ name: `n${i}.x` }));
  assert.equal(findEdit(before, { zones, names: many, pools: [] }), null, 'two thousand entries');
});
