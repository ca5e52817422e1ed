// Zones as the query path sees them: name nodes holding RRsets precompiled to wire fragments.
// Owns: zone-level validation (SOA, CNAME exclusivity, zone cuts) and the compiled node/RRset shapes.
// Compile time only: nothing here runs per query except reading the objects it built.
import { CLASS_IN, TYPE, typeName } from '../wire/types.js';
import { encodeRdata, additionalTarget, type ZoneRecord, type SoaData } from '../wire/rdata.js';
import type { WireOwner, WireRRset } from '../wire/sections.js';
import type { CompiledName } from '../answer/policy.js';
import { encodeName, foldWire, hashWireFolded, canonicalName, isAtOrBelow } from '../wire/name.js';

/** One RRset, ready to be copied onto the wire, and linked to the nodes its answers lead to. */
export interface RRset extends WireRRset {
  /** In-zone A/AAAA RRsets of NS/MX/SRV targets, for the additional section (filled when the snapshot links). */
  additional: Array<{ node: NameNode; rrset: RRset }>;
  /** For CNAME: the target node when we serve it, else null (filled when the snapshot links). */
  cnameTarget: NameNode | null;
  /** For CNAME: when the target does not exist but lies in a zone we serve, that zone (the chain ends NXDOMAIN). */
  cnameTargetZone: Zone | null;
}

/** A name in a served zone: its RRsets, its place in the zone (cut, wildcard) and its slot in the snapshot index. */
export interface NameNode extends WireOwner {
  readonly hash: number;
  readonly zone: Zone;
  readonly rrsets: Map<number, RRset>;
  cname: RRset | null;
  /** The delegation point (NS below the apex) at or above this node; null when authoritative. */
  cut: NameNode | null;
  /** The "*" child of this node, for RFC 4592 wildcard synthesis. */
  wildcard: NameNode | null;
  /** Next node with the same hash (collision chain in the snapshot index). */
  nextSameHash: NameNode | null;
  /** Set when this name's A/AAAA answers are chosen per query by the answer engine (a policy name, SPEC G1). */
  policy: CompiledName | null;
}

export interface Zone {
  readonly origin: string;
  readonly apex: NameNode;
  readonly soa: RRset;
  /** SOA for negative answers: TTL = min(SOA TTL, SOA MINIMUM) (RFC 2308 §3). */
  readonly negativeSoa: RRset;
  readonly nodes: Map<string, NameNode>;
}

export interface ZoneProblem { name: string; message: string }

/** The `additional` of every RRset that has none (most of a large zone): one shared empty list, never pushed to. */
export const NO_ADDITIONAL: Array<{ node: NameNode; rrset: RRset }> = [];

/**
 * Compile records of one type at one name into an RRset. Duplicates (same rdata) are dropped (RFC 2181 §5: an RRset
 * holds none). Each record's rdata is encoded once, and a one-record RRset (most of a large zone) is one buffer:
 * its body is a view into its only rotation.
 */
export function compileRRset(records: readonly ZoneRecord[], ttlOverride?: number): RRset {
  const type = records[0]!.type;
  let ttl = ttlOverride ?? records[0]!.ttl;
  if (ttlOverride === undefined) for (const r of records) if (r.ttl < ttl) ttl = r.ttl;
  const rdatas: Buffer[] = [];
  const kept: ZoneRecord[] = [];
  const seen = records.length > 1 ? new Set<string>() : null;
  let total = 0;
  for (const r of records) {
    const rdata = encodeRdata(type, r.data);
    if (seen !== null) {
      const k = rdata.toString('latin1');
      if (seen.has(k)) continue;
      seen.add(k);
    }
    rdatas.push(rdata);
    kept.push(r.ttl === ttl ? r : { ...r, ttl });
    total += 10 + rdata.length;
  }
  const n = rdatas.length;
  // rotations[k] = (pointer to the question name, body) for records k, k+1, …, wrapping: 2 + body bytes per record.
  const first = Buffer.allocUnsafe(total + 2 * n);
  const bodyOffsets: number[] = [];
  let off = 0;
  let at = 0;
  for (const rdata of rdatas) {
    bodyOffsets.push(off);
    first[at] = 0xc0; first[at + 1] = 0x0c;
    first.writeUInt16BE(type, at + 2);
    first.writeUInt16BE(CLASS_IN, at + 4);
    first.writeUInt32BE(ttl >>> 0, at + 6);
    first.writeUInt16BE(rdata.length, at + 10);
    rdata.copy(first, at + 12);
    at += 12 + rdata.length;
    off += 10 + rdata.length;
  }
  bodyOffsets.push(off);
  let bodies: Buffer;
  const rotations: Buffer[] = [first];
  if (n === 1) {
    bodies = first.subarray(2);
  } else {
    bodies = Buffer.allocUnsafe(total);
    for (let i = 0, src = 0; i < n; i++) {
      const len = bodyOffsets[i + 1]! - bodyOffsets[i]!;
      first.copy(bodies, bodyOffsets[i]!, src + 2, src + 2 + len);
      src += 2 + len;
    }
    // Rotation k starts at record k: the tail of the first rotation from record k, then its head.
    const starts = bodyOffsets.map((o, i) => o + 2 * i);
    for (let k = 1; k < n; k++) rotations.push(Buffer.concat([first.subarray(starts[k]!), first.subarray(0, starts[k]!)]));
  }
  return { type, ttl, records: kept, bodies, bodyOffsets, rotations, additional: NO_ADDITIONAL, cnameTarget: null, cnameTargetZone: null };
}

/** How many different rdatas `records` (one type, a few records: SOA, CNAME) hold; repeats are one record. */
function distinctCount(records: readonly ZoneRecord[]): number {
  return new Set(records.map((r) => encodeRdata(r.type, r.data).toString('latin1'))).size;
}

/** Labels of an uncompressed wire name (the root has none). */
function labelCount(wire: Buffer): number {
  let n = 0;
  for (let i = 0; wire[i] !== 0; i += wire[i]! + 1) n++;
  return n;
}

/** True when a wire name holds an upper-case ASCII letter (folding would change it). */
function hasUpper(wire: Buffer): boolean {
  for (let i = 0; i < wire.length; i++) if (wire[i]! >= 0x41 && wire[i]! <= 0x5a) return true;
  return false;
}

function makeNode(name: string, zone: Zone): NameNode {
  const wire = encodeName(name);
  // Most zones are written in lower case: then the folded key is the wire name itself, not a second buffer.
  const key = hasUpper(wire) ? foldWire(wire) : wire;
  return {
    name, wire, key, hash: hashWireFolded(key, 0, key.length), labels: labelCount(wire), zone,
    rrsets: new Map(), cname: null, cut: null, wildcard: null, nextSameHash: null, policy: null,
  };
}

/**
 * Build one zone from its records. Problems (missing SOA, CNAME beside other data, records outside the zone) are
 * returned, not thrown, so `waymark check` can list all of them.
 */
export function compileZone(origin: string, records: readonly ZoneRecord[], extraNames: readonly string[] = []): { zone?: Zone; problems: ZoneProblem[] } {
  const problems: ZoneProblem[] = [];
  const originKey = canonicalName(origin);
  const byName = new Map<string, { name: string; byType: Map<number, ZoneRecord[]> }>();
  for (const r of records) {
    const k = canonicalName(r.name);
    if (!isAtOrBelow(k, originKey)) {
      problems.push({ name: r.name, message: `${r.name} ${typeName(r.type)} is outside zone ${origin}` });
      continue;
    }
    let entry = byName.get(k);
    if (!entry) byName.set(k, (entry = { name: r.name, byType: new Map() }));
    let list = entry.byType.get(r.type);
    if (!list) entry.byType.set(r.type, (list = []));
    list.push(r); // duplicates are dropped by compileRRset (RFC 2181 §5)
  }
  const apexEntry = byName.get(originKey);
  const soaRecords = apexEntry?.byType.get(TYPE.SOA);
  if (!soaRecords || soaRecords.length === 0) problems.push({ name: origin, message: `zone ${origin} has no SOA record at its apex` });
  else if (distinctCount(soaRecords) > 1) problems.push({ name: origin, message: `zone ${origin} has ${distinctCount(soaRecords)} SOA records; exactly one is allowed` });
  for (const [k, e] of byName) {
    const cn = e.byType.get(TYPE.CNAME);
    if (!cn) continue;
    if (distinctCount(cn) > 1) problems.push({ name: e.name, message: `${e.name} has ${distinctCount(cn)} CNAME records; only one is allowed (RFC 1034 §3.6.2)` });
    if (e.byType.size > 1) problems.push({ name: e.name, message: `${e.name} has a CNAME and other data (RFC 1034 §3.6.2)` });
    if (k === originKey) problems.push({ name: e.name, message: `the zone apex ${e.name} cannot be a CNAME` });
  }
  for (const e of byName.values()) {
    for (const [type, list] of e.byType) {
      if (type === TYPE.SOA && canonicalName(e.name) !== originKey) problems.push({ name: e.name, message: `SOA record at ${e.name} is not at the zone apex ${origin}` });
      void list;
    }
  }
  if (problems.length > 0 || !soaRecords) return { problems };

  const soaRecord = soaRecords[0]!;
  const soa = compileRRset([soaRecord]);
  const negativeSoa = compileRRset([soaRecord], Math.min(soaRecord.ttl, (soaRecord.data as SoaData).minimum));
  const nodes = new Map<string, NameNode>();
  const zone: Zone = { origin: apexEntry!.name, apex: undefined as unknown as NameNode, soa, negativeSoa, nodes };
  const apex = makeNode(apexEntry!.name, zone);
  (zone as { apex: NameNode }).apex = apex;
  nodes.set(originKey, apex);

  const ensure = (k: string, display: string): NameNode => {
    let node = nodes.get(k);
    if (node) return node;
    node = makeNode(display, zone);
    nodes.set(k, node);
    // Empty non-terminals must exist so that their names answer NODATA, not NXDOMAIN (RFC 8020).
    const dot = display.indexOf('.');
    const kdot = k.indexOf('.');
    if (dot > 0 && k !== originKey) {
      const parent = ensure(k.slice(kdot + 1), display.slice(dot + 1));
      if (display.startsWith('*.')) parent.wildcard = node;
    }
    return node;
  };
  for (const [k, e] of byName) {
    const node = ensure(k, e.name);
    for (const [type, list] of e.byType) {
      const rrset = type === TYPE.SOA ? soa : compileRRset(list);
      if (type === TYPE.CNAME) node.cname = rrset;
      else node.rrsets.set(type, rrset);
    }
  }
  // Names that exist without static records (policy names answered by the engine).
  for (const name of extraNames) ensure(canonicalName(name), name);
  // Zone cuts: an NS RRset below the apex delegates everything at and below it.
  const sorted = [...nodes.entries()].sort((a, b) => a[1].labels - b[1].labels);
  for (const [k, node] of sorted) {
    if (node === apex) continue;
    const parentKey = k.slice(k.indexOf('.') + 1);
    const parent = nodes.get(parentKey);
    if (parent && parent.cut) node.cut = parent.cut;
    else if (node.rrsets.has(TYPE.NS)) node.cut = node;
  }
  return { zone, problems };
}

/** In-zone additional-section candidates for an RRset (resolved against every served zone by the snapshot). */
export function additionalNames(rrset: RRset): string[] {
  const out: string[] = [];
  for (const r of rrset.records) {
    const t = additionalTarget(rrset.type, r.data);
    if (t !== undefined) out.push(canonicalName(t));
  }
  return out;
}
