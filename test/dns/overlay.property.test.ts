// Issue 10 point 3 (changes without recompiling the world): a change laid over a zone's image as an overlay answers
// exactly as the zone compiled whole with the change. Random zones (empty non-terminals, wildcards, delegations with
// glue, CNAMEs, MX targets) and random changes (records added, replaced, removed; names appearing and disappearing;
// wildcards coming and going), answered through the real responder for every name and type, compared response for
// response with the whole compile's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { compileOverlay, compileZone, Zone } from '../../src/dns/zone.js';
import { Snapshot } from '../../src/answer/snapshot.js';
import { Responder, TRANSPORT_UDP } from '../../src/dns/responder.js';
import { TYPE } from '../../src/wire/types.js';
import type { ZoneRecord } from '../../src/wire/rdata.js';

const ORIGIN = 'ov.test';
const SOA: ZoneRecord = { name: ORIGIN, type: TYPE.SOA, ttl: 300, data: { mname: `ns1.${ORIGIN}`, rname: `hostmaster.${ORIGIN}`, serial: 1, refresh: 3600, retry: 600, expire: 604800, minimum: 60 } };
const APEX_NS: ZoneRecord = { name: ORIGIN, type: TYPE.NS, ttl: 300, data: `ns1.${ORIGIN}` };

/** Deterministic pseudo-random numbers (mulberry32): a failure names its seed and replays. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every name of the small universe the zones are made of: up to three labels of a, b, c and * below the apex. */
const LABELS = ['a', 'b', 'c', '*'];
const UNIVERSE: string[] = [];
for (const x of LABELS) {
  UNIVERSE.push(`${x}.${ORIGIN}`);
  for (const y of ['a', 'b', 'c']) {
    UNIVERSE.push(`${x}.${y}.${ORIGIN}`);
    for (const z of ['a', 'b']) UNIVERSE.push(`${x}.${y}.${z}.${ORIGIN}`);
  }
}

/** Some records for `name` (perhaps none): addresses, text, mail pointing into the zone, or a CNAME alone. */
function recordsFor(name: string, r: () => number): ZoneRecord[] {
  const pick = r();
  const target = UNIVERSE[Math.floor(r() * UNIVERSE.length)]!.replace('*', 'x');
  if (pick < 0.2) return [];
  if (pick < 0.3) return [{ name, type: TYPE.CNAME, ttl: 60, data: target }];
  const out: ZoneRecord[] = [];
  const n = 1 + Math.floor(r() * 3);
  for (let i = 0; i < n; i++) out.push({ name, type: TYPE.A, ttl: 60, data: `192.0.2.${1 + Math.floor(r() * 200)}` });
  if (r() < 0.4) out.push({ name, type: TYPE.TXT, ttl: 120, data: [Buffer.from(`t${Math.floor(r() * 5)}`)] });
  if (r() < 0.25) out.push({ name, type: TYPE.MX, ttl: 120, data: { preference: 10, exchange: target } });
  return out;
}

/** A random zone as records by name (a delegation or two with glue among them). */
function randomZone(r: () => number): Map<string, ZoneRecord[]> {
  const byName = new Map<string, ZoneRecord[]>();
  byName.set(ORIGIN, [SOA, APEX_NS, { name: ORIGIN, type: TYPE.A, ttl: 60, data: '192.0.2.250' }]);
  byName.set(`ns1.${ORIGIN}`, [{ name: `ns1.${ORIGIN}`, type: TYPE.A, ttl: 60, data: '127.0.0.53' }]);
  for (const name of UNIVERSE) if (r() < 0.45) byName.set(name, recordsFor(name, r));
  if (r() < 0.7) {
    const cut = `c.${ORIGIN}`;
    byName.set(cut, [{ name: cut, type: TYPE.NS, ttl: 300, data: `ns.c.${ORIGIN}` }]);
    byName.set(`ns.c.${ORIGIN}`, [{ name: `ns.c.${ORIGIN}`, type: TYPE.A, ttl: 300, data: '192.0.2.53' }]);
  }
  return byName;
}

function flat(byName: ReadonlyMap<string, readonly ZoneRecord[]>): ZoneRecord[] {
  return [...byName.values()].flat();
}

/** Names inside the delegation keep what they had (their change would change the cut: compiled whole). */
function underCut(name: string): boolean {
  return name === `c.${ORIGIN}` || name.endsWith(`.c.${ORIGIN}`);
}

interface Rr { name: string; type: string; ttl?: number; data?: unknown }

/** A response as comparable data: rcode, AA, and each section's records sorted. */
function answerOf(responder: Responder, name: string, type: string): unknown {
  const q = dnsPacket.encode({ type: 'query', id: 1, flags: 0, questions: [{ name, type: type as dnsPacket.RecordType, class: 'IN' }] });
  const len = responder.respond(q, TRANSPORT_UDP, '192.0.2.99');
  if (len < 0) return 'no response';
  // dns-packet's typings leave out rcode and the fields of some record types.
  const m = dnsPacket.decode(Buffer.from(responder.response.subarray(0, len))) as unknown as { rcode: string; flags?: number; answers?: Rr[]; authorities?: Rr[]; additionals?: Rr[] };
  const norm = (rs: readonly Rr[] | undefined): string[] => (rs ?? []).map((x) => JSON.stringify([x.name.toLowerCase(), x.type, x.ttl, x.data])).sort();
  return { rcode: m.rcode, aa: ((m.flags ?? 0) & dnsPacket.AUTHORITATIVE_ANSWER) !== 0, answer: norm(m.answers), authority: norm(m.authorities), additional: norm(m.additionals) };
}

const TYPES = ['A', 'AAAA', 'TXT', 'MX', 'CNAME', 'NS', 'SOA', 'ANY', 'DS'];
const ASKED = [ORIGIN, `ns1.${ORIGIN}`, ...UNIVERSE.map((n) => n.replace('*', 'x')), ...UNIVERSE.filter((n) => n.includes('*')), `q.a.a.b.${ORIGIN}`, `zz.${ORIGIN}`, `ns.c.${ORIGIN}`, `deep.x.c.${ORIGIN}`];

test('issue 10 (D1/D2): a change laid over a zone as an overlay answers every name and type as the zone compiled whole with it', () => {
  let overlays = 0;
  for (let seed = 1; seed <= 150; seed++) {
    const r = rng(seed);
    const before = randomZone(r);
    const base = compileZone(ORIGIN, flat(before));
    if (base.zone === undefined) continue; // a random CNAME clash: not a zone
    const after = new Map(before);
    const changed = new Map<string, ZoneRecord[]>();
    const changes = 1 + Math.floor(r() * 6);
    for (let k = 0; k < changes; k++) {
      const name = [ORIGIN, ...UNIVERSE][Math.floor(r() * (UNIVERSE.length + 1))]!;
      if (underCut(name)) continue;
      const records = name === ORIGIN ? [SOA, APEX_NS, ...recordsFor(name, r).filter((x) => x.type !== TYPE.CNAME)] : recordsFor(name, r);
      after.set(name, records);
      changed.set(name, records);
    }
    const whole = compileZone(ORIGIN, flat(after));
    const laid = compileOverlay(base.zone.image, changed);
    assert.equal(laid.refused, undefined, `seed ${seed}: nothing below the apex changes a delegation`);
    assert.equal(laid.overlay === undefined, whole.zone === undefined, `seed ${seed}: the overlay is refused exactly when the whole compile is: ${JSON.stringify(laid.problems)} vs ${JSON.stringify(whole.problems)}`);
    if (whole.zone === undefined) continue;
    overlays++;
    const full = new Responder(new Snapshot([whole.zone], 1), 1232);
    const layered = new Responder(new Snapshot([new Zone(ORIGIN, ORIGIN, base.zone.image, laid.overlay!)], 1), 1232);
    for (const name of ASKED) {
      for (const type of TYPES) {
        assert.deepEqual(answerOf(layered, name, type), answerOf(full, name, type), `seed ${seed}: ${name} ${type} after changing ${[...changed.keys()].join(', ')}`);
      }
    }
  }
  assert.ok(overlays >= 100, `only ${overlays} of 150 random changes made a zone`);
});

test('issue 10: an overlay refuses a change to a delegation below the apex (the names under it point to the cut)', () => {
  const records = [SOA, APEX_NS, { name: `sub.${ORIGIN}`, type: TYPE.NS, ttl: 60, data: `ns.sub.${ORIGIN}` }, { name: `ns.sub.${ORIGIN}`, type: TYPE.A, ttl: 60, data: '192.0.2.5' }];
  const base = compileZone(ORIGIN, records).zone!;
  const moved = compileOverlay(base.image, new Map([[`sub.${ORIGIN}`, [{ name: `sub.${ORIGIN}`, type: TYPE.NS, ttl: 60, data: `ns2.sub.${ORIGIN}` }]]]));
  assert.match(moved.refused ?? '', /delegation at sub\.ov\.test changed/);
  const added = compileOverlay(base.image, new Map([[`www.${ORIGIN}`, [{ name: `www.${ORIGIN}`, type: TYPE.NS, ttl: 60, data: 'ns.elsewhere.test' }]]]));
  assert.match(added.refused ?? '', /delegation at www\.ov\.test changed/);
  const glue = compileOverlay(base.image, new Map([[`ns.sub.${ORIGIN}`, [{ name: `ns.sub.${ORIGIN}`, type: TYPE.A, ttl: 60, data: '192.0.2.6' }]]]));
  assert.equal(glue.refused, undefined, 'glue below an unchanged cut is an ordinary change');
  assert.ok(glue.overlay);
});
