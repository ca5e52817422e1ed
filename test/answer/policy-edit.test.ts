// Issue 10 (changes proportional to the change), G1: an edit of names and pools applied to a compiled policy
// (updatePolicy) compiles to what a fresh compilation of the edited configuration gives, keeps the indexes of what
// it did not change (members by key within a replaced pool), so live state carries over by index; errors carry the
// paths of the configuration after the edit; and it gives up (null) when the layout has no room left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/config/load.js';
import { compilePolicy, updatePolicy, type PolicyEdit } from '../../src/answer/compile.js';
import { LiveState } from '../../src/answer/live.js';
import { memberIndexOf, memberKey, type CompiledPolicy } from '../../src/answer/policy.js';
import { formatErrors, nameSchema, poolSchema, type Config } from '../../src/config/schema.js';
import { canonicalName } from '../../src/wire/name.js';
import { LayeredMap } from '../../src/answer/layered.js';
import { rng } from '../harness.js';

type Pool = Config['pools'][number];
type Name = Config['names'][number];

function config(yaml: string): Config {
  const parsed = parseConfigText(yaml);
  assert.ok(parsed.ok, parsed.ok ? '' : formatErrors(parsed.errors));
  return parsed.value;
}

function compiled(c: Config): CompiledPolicy {
  const r = compilePolicy(c);
  assert.ok(r.ok, r.ok ? '' : formatErrors(r.errors));
  return r.policy;
}

const pool = (name: string, addrs: string[], weight = 1): Pool => poolSchema.parse({ name, members: addrs.map((address) => ({ address, weight })) });
const named = (name: string, pools: string[], ttl = 30): Name => nameSchema.parse({ name, pools, ttl });

/** What a policy answers with, in configuration order: everything but indexes. */
function shape(p: CompiledPolicy): unknown {
  return p.ordered.names.map((n) => ({
    name: n.name, ttl: n.ttl, family: n.hasFamily, answers: n.poolRRsets.map((r) => r.length),
    pools: n.pools.map((q) => ({ name: q.name, members: q.members.map((m) => `${memberKey(m)} w${m.weight} ${m.enabled}`), v4: q.ipv4.length, v6: q.ipv6.length })),
  }));
}

/** Every index a live part of `p` has points back at it, and no two live parts share a slot. */
function checkSlots(p: CompiledPolicy): void {
  const members = new Set<number>();
  for (const q of p.ordered.pools) {
    assert.equal(p.pools[q.index], q, `pool ${q.name} at its slot`);
    assert.equal(p.poolIndex.get(q.name), q.index);
    assert.ok(q.index < p.poolRoom);
    for (const m of q.members) {
      assert.equal(p.members[m.index], m, `member ${memberKey(m)} of ${q.name} at its slot`);
      assert.ok(!members.has(m.index), `member slot ${m.index} shared`);
      assert.ok(m.index < p.memberRoom);
      members.add(m.index);
      assert.equal(memberIndexOf(p, q.name, memberKey(m)), m.index);
    }
  }
  assert.equal(p.poolIndex.size, p.ordered.pools.length);
  const slots = new Set<number>();
  for (const n of p.ordered.names) {
    assert.equal(p.names[n.index], n, `name ${n.name} at its slot`);
    assert.equal(p.nameIndex.get(canonicalName(n.name)), n.index);
    for (let k = 0; k < n.pools.length; k++) {
      const s = n.poolSlotBase + k;
      assert.ok(s >= p.memberRoom && s < p.memberRoom + p.nameSlots, `name slot ${s} inside the name slots`);
      assert.ok(!slots.has(s), `name slot ${s} shared`);
      slots.add(s);
    }
  }
  assert.equal(p.nameIndex.size, p.ordered.names.length);
}

test('G1 (issue 10): 400 random edits of pools and names, applied one after another, compile to what a fresh compilation of each result gives', () => {
  const r = rng(10);
  const addr = (): string => (r(8) === 0 ? `2001:db8::${r(40) + 1}` : `192.0.2.${r(40) + 1}`);
  let pools: Pool[] = Array.from({ length: 60 }, (_, i) => pool(`p${i}`, [addr(), addr()].filter((a, j, all) => all.indexOf(a) === j)));
  let names: Name[] = Array.from({ length: 60 }, (_, i) => named(`n${i}.example.test`, [`p${i}`]));
  const base = config('names: []');
  let policy = compiled({ ...base, pools, names });
  let poolSeq = 60;
  let applied = 0;
  let nameSeq = 60;
  for (let step = 0; step < 400; step++) {
    const used = new Set(names.flatMap((n) => n.pools));
    let edit: PolicyEdit;
    const kind = r(6);
    if (kind === 0) { // replace a pool: new members, some of them the old ones (by key)
      const i = r(pools.length);
      const addrs = [...new Set([...(r(2) ? pools[i]!.members.slice(0, 1).map((m) => m.address) : []), addr(), addr()])];
      edit = { pools: { at: i, remove: 1, insert: [pool(pools[i]!.name, addrs, 1 + r(3))] }, names: null };
    } else if (kind === 1) { // add a pool
      edit = { pools: { at: r(pools.length + 1), remove: 0, insert: [pool(`p${poolSeq++}`, [addr()])] }, names: null };
    } else if (kind === 2) { // remove a pool no name uses
      const free = pools.map((p, i) => [p, i] as const).filter(([p]) => !used.has(p.name));
      if (free.length === 0) continue;
      edit = { pools: { at: free[r(free.length)]![1], remove: 1, insert: [] }, names: null };
    } else if (kind === 3) { // the same name, other pools and TTL
      const i = r(names.length);
      edit = { names: { at: i, remove: 1, insert: [named(names[i]!.name, [...new Set([pools[r(pools.length)]!.name, pools[r(pools.length)]!.name])], 10 + r(50))] }, pools: null };
    } else if (kind === 4) { // add a name
      edit = { names: { at: r(names.length + 1), remove: 0, insert: [named(`n${nameSeq++}.example.test`, [pools[r(pools.length)]!.name])] }, pools: null };
    } else { // remove a name
      if (names.length < 2) continue;
      edit = { names: { at: r(names.length), remove: 1, insert: [] }, pools: null };
    }
    const apply = <T>(list: T[], s: { at: number; remove: number; insert: readonly T[] } | null): T[] => (s === null ? list : [...list.slice(0, s.at), ...s.insert, ...list.slice(s.at + s.remove)]);
    pools = apply(pools, edit.pools);
    names = apply(names, edit.names);
    const next = updatePolicy(policy, edit, { ...base, pools, names });
    const fresh = compilePolicy({ ...base, pools, names });
    assert.ok(fresh.ok, `step ${step}: ${fresh.ok ? '' : formatErrors(fresh.errors)}`);
    if (next === null) { // no room left: a fresh compilation (a new layout) takes over
      policy = fresh.policy;
      continue;
    }
    assert.ok(next.ok, `step ${step}: ${next.ok ? '' : formatErrors(next.errors)}`);
    assert.deepEqual(shape(next.policy), shape(fresh.policy), `step ${step} (${kind})`);
    checkSlots(next.policy);
    assert.equal(next.policy.layout, policy.layout, 'the same layout: live state carries over by index');
    // What the edit did not replace keeps its index.
    for (const q of next.policy.ordered.pools) {
      const was = policy.pools[policy.poolIndex.get(q.name) ?? -1];
      if (was === undefined) continue;
      assert.equal(q.index, was.index, `pool ${q.name} keeps its slot`);
      for (const m of q.members) {
        const old = memberIndexOf(policy, q.name, memberKey(m));
        if (old >= 0) assert.equal(m.index, old, `member ${memberKey(m)} of ${q.name} keeps its index`);
      }
    }
    policy = next.policy;
    applied++;
  }
  assert.ok(applied >= 300, `${applied} edits applied as edits`);
});

test('G1/H2 (issue 10): after an edit, health, admin state and rotation carry over by index (also when the arrays grow); a replaced pool keeps its members\' health by key, its new members start fresh', () => {
  const base = config('names: []');
  const pools = [pool('a', ['192.0.2.1', '192.0.2.2']), pool('b', ['192.0.2.3'])];
  const names = [named('x.example.test', ['a']), named('y.example.test', ['b'])];
  const p0 = compiled({ ...base, pools, names });
  const live = new LiveState(p0);
  const down = memberIndexOf(p0, 'a', '192.0.2.1');
  live.health[down] = 0;
  live.refresh(down);
  live.counter[p0.pools[0]!.index] = 7;
  // Another pool edited: everything stays.
  const e1 = updatePolicy(p0, { pools: { at: 1, remove: 1, insert: [pool('b', ['192.0.2.4'])] }, names: null }, { ...base, pools, names });
  assert.ok(e1?.ok);
  live.adopt(e1.policy);
  const l1 = live;
  assert.equal(l1.health[memberIndexOf(e1.policy, 'a', '192.0.2.1')], 0, 'the down member is still down');
  assert.equal(l1.up[memberIndexOf(e1.policy, 'a', '192.0.2.1')], 0);
  assert.equal(l1.counter[e1.policy.pools[0]!.index], 7, 'the rotation goes on');
  // Its own pool edited, the member kept: still down; the new member is up.
  const e2 = updatePolicy(e1.policy, { pools: { at: 0, remove: 1, insert: [pool('a', ['192.0.2.9', '192.0.2.1'])] }, names: null }, { ...base, pools, names });
  assert.ok(e2?.ok);
  l1.adopt(e2.policy);
  const l2 = l1;
  assert.equal(memberIndexOf(e2.policy, 'a', '192.0.2.1'), down, 'the same member keeps its index');
  assert.equal(l2.up[down], 0);
  assert.equal(l2.up[memberIndexOf(e2.policy, 'a', '192.0.2.9')], 1);
  assert.equal(e2.policy.names[e2.policy.nameIndex.get('x.example.test')!]!.pools[0]!.members.length, 2, 'the name that uses the pool sees its new members');
  // Many members added: the arrays grow, and hold what they held.
  const many = Array.from({ length: 300 }, (_, i) => `198.51.100.${i % 250}`).map((a, i) => (i < 250 ? a : `203.0.113.${i - 250}`));
  const e3 = updatePolicy(e2.policy, { pools: { at: 1, remove: 1, insert: [pool('b', many)] }, names: null }, { ...base, pools, names });
  assert.ok(e3?.ok);
  const upBefore = l2.up.length;
  l2.adopt(e3.policy);
  assert.ok(l2.up.length > upBefore, 'grown');
  assert.equal(l2.up[down], 0, 'still down after growing');
  assert.equal(l2.counter[e3.policy.pools[0]!.index], 7);
  assert.equal(l2.up[memberIndexOf(e3.policy, 'b', '203.0.113.49')], 1, 'a new member is up');
  assert.equal(l2.weightScale[memberIndexOf(e3.policy, 'b', '203.0.113.49')], 1);
});

test('G1 (issue 10): an edit that breaks the policy is reported at the paths after the edit; one beyond the layout\'s room gives null', () => {
  const base = config('names: []');
  const pools = [pool('a', ['192.0.2.1']), pool('b', ['192.0.2.2'])];
  const names = [named('x.example.test', ['a']), named('y.example.test', ['b'])];
  const p0 = compiled({ ...base, pools, names });
  const gone = updatePolicy(p0, { pools: { at: 1, remove: 1, insert: [] }, names: null }, base);
  assert.ok(gone !== null && !gone.ok);
  assert.deepEqual(gone.errors.map((e) => [e.path, e.message]), [['names[1].pools[0]', 'unknown pool "b"']]);
  const dup = updatePolicy(p0, { pools: { at: 2, remove: 0, insert: [pool('a', ['192.0.2.5'])] }, names: null }, base);
  assert.ok(dup !== null && !dup.ok);
  assert.deepEqual(dup.errors.map((e) => [e.path, e.message]), [['pools[2].name', 'duplicate pool "a" (also pools[0])']]);
  const dupName = updatePolicy(p0, { pools: null, names: { at: 0, remove: 0, insert: [named('Y.example.test.', ['a'])] } }, base);
  assert.ok(dupName !== null && !dupName.ok);
  assert.deepEqual(dupName.errors.map((e) => e.path), ['names[0].name']);
  assert.match(dupName.errors[0]!.message, /also names\[2\]/);
  const many = Array.from({ length: p0.memberRoom + 1 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  assert.equal(updatePolicy(p0, { pools: { at: 0, remove: 1, insert: [pool('a', many)] }, names: null }, base), null, 'more members than the layout has room for');
});

test('G1 (issue 10): a layered index reads as the map it was made from with its changes, which never reach that map', () => {
  const base = new Map<string, number>(Array.from({ length: 100 }, (_, i) => [`k${i}`, i] as const));
  const a = new LayeredMap<string, number>(base);
  a.set('k1', 101).set('new', 200);
  assert.equal(a.delete('k2'), true);
  assert.equal(a.delete('absent'), false);
  assert.equal(a.get('k1'), 101);
  assert.equal(a.get('k2'), undefined);
  assert.equal(a.has('k2'), false);
  assert.equal(a.get('new'), 200);
  assert.equal(a.size, 100);
  assert.equal(base.get('k1'), 1, 'the base is not changed');
  const b = new LayeredMap(a);
  b.set('k2', 2);
  b.delete('new');
  assert.equal(a.get('new'), 200, 'a later edit does not change the earlier one');
  assert.equal(b.size, 100);
  assert.deepEqual(new Map(b), new Map([...base].map(([k, v]) => [k, k === 'k1' ? 101 : v] as const)));
});

test('G2/H4 (issue 10): metrics live in no array until a member has one; a measured or configured value reads back, every other one is unknown (NaN), also after an edit grows the arrays', () => {
  const base = config('names: []');
  const pools = [pool('a', ['192.0.2.1', '192.0.2.2'])];
  const names = [named('x.example.test', ['a'])];
  const p0 = compiled({ ...base, pools, names });
  const live = new LiveState(p0);
  const one = memberIndexOf(p0, 'a', '192.0.2.2');
  assert.equal(live.metrics.length, 0, 'nothing measured: no array');
  assert.ok(Number.isNaN(live.metric(one, 3)));
  live.setMetric(one, 3, 12.5);
  assert.ok(live.metrics.length >= live.up.length * 7, 'one value: the array for every member');
  assert.equal(live.metric(one, 3), 12.5);
  assert.ok(Number.isNaN(live.metric(one, 2)), 'the other metrics of that member are unknown');
  assert.ok(Number.isNaN(live.metric(memberIndexOf(p0, 'a', '192.0.2.1'), 3)), 'and those of the other members');
  // Grown by an edit: the value stays, a new member's are unknown.
  const many = Array.from({ length: 300 }, (_, i) => `198.51.100.${i % 250}`).map((a, i) => (i < 250 ? a : `203.0.113.${i - 250}`));
  const e1 = updatePolicy(p0, { pools: { at: 1, remove: 0, insert: [pool('b', many)] }, names: null }, { ...base, pools, names });
  assert.ok(e1?.ok);
  live.adopt(e1.policy);
  assert.equal(live.metric(one, 3), 12.5);
  assert.ok(Number.isNaN(live.metric(memberIndexOf(e1.policy, 'b', '203.0.113.49'), 3)));
  // A member configured with a metric: the array is made for it, by a fresh state and by an edit.
  const measured = poolSchema.parse({ name: 'm', members: [{ address: '192.0.2.7', metrics: { rtt: 40 } }] });
  const p1 = compiled({ ...base, pools: [...pools, measured], names });
  const fresh = new LiveState(p1);
  assert.equal(fresh.metric(memberIndexOf(p1, 'm', '192.0.2.7'), 3), 40);
  const plain = new LiveState(p0);
  const e2 = updatePolicy(p0, { pools: { at: 1, remove: 0, insert: [measured] }, names: null }, { ...base, pools, names });
  assert.ok(e2?.ok);
  plain.adopt(e2.policy);
  assert.equal(plain.metric(memberIndexOf(e2.policy, 'm', '192.0.2.7'), 3), 40);
  assert.ok(Number.isNaN(plain.metric(memberIndexOf(e2.policy, 'a', '192.0.2.1'), 3)));
});
