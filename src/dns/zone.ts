// Zones as the query path sees them: one compact image per zone (wire/image.ts) and the small object around it.
// Owns: zone-level validation (SOA, CNAME exclusivity, records outside the zone), the zone semantics compiled into
// the image (empty non-terminals, wildcards, zone cuts, policy names), and compiling a few records into a
// standalone RRset object (policy answers). Compile time only: nothing here runs per query.
import { CLASS_IN, TYPE, typeName } from '../wire/types.js';
import { encodeRdata, type ZoneRecord, type SoaData } from '../wire/rdata.js';
import type { WireRRset } from '../wire/sections.js';
import { ImageWriter, ZoneImage, APEX } from '../wire/image.js';
import type { CompiledName } from '../answer/policy.js';
import { encodeName, canonicalName, isAtOrBelow, parentName } from '../wire/name.js';

/** A standalone RRset (policy answers, sorry addresses): the same wire bodies an image holds, in its own buffer. */
export interface RRset extends WireRRset {
  readonly records: readonly ZoneRecord[];
}

/**
 * A served zone: its image (shared, immutable, perhaps a mapped file) and what this snapshot adds to it: the
 * compiled policy name behind each policy slot.
 */
export class Zone {
  readonly policies: Array<CompiledName | null>;
  constructor(readonly origin: string, readonly key: string, readonly image: ZoneImage) {
    this.policies = new Array<CompiledName | null>(image.policySlots).fill(null);
  }

  /** Node of a presentation name in this image, or -1 (compile time, API). */
  node(name: string): number {
    const wire = encodeName(name);
    return this.image.find(wire, 0, wire.length);
  }

  get apex(): number { return APEX; }
}

export interface ZoneProblem { name: string; message: string }

/** Record body (TYPE CLASS TTL RDLENGTH RDATA) of `rdata` at `out[at]`; returns the end. */
function writeBody(out: Buffer, at: number, type: number, ttl: number, rdata: Buffer): number {
  out.writeUInt16BE(type, at);
  out.writeUInt16BE(CLASS_IN, at + 2);
  out.writeUInt32BE(ttl >>> 0, at + 4);
  out.writeUInt16BE(rdata.length, at + 8);
  rdata.copy(out, at + 10);
  return at + 10 + rdata.length;
}

/**
 * Compile records of one type at one name into a standalone RRset. Duplicates (same rdata) are dropped (RFC 2181
 * §5: an RRset holds none); the TTL is the smallest given unless `ttlOverride`.
 */
export function compileRRset(records: readonly ZoneRecord[], ttlOverride?: number): RRset {
  const type = records[0]!.type;
  let ttl = ttlOverride ?? records[0]!.ttl;
  if (ttlOverride === undefined) for (const r of records) if (r.ttl < ttl) ttl = r.ttl;
  const rdatas: Buffer[] = [];
  const kept: ZoneRecord[] = [];
  const seen = new Set<string>();
  for (const r of records) {
    const rdata = encodeRdata(type, r.data);
    const k = rdata.toString('latin1');
    if (seen.has(k)) continue;
    seen.add(k);
    rdatas.push(rdata);
    kept.push(r.ttl === ttl ? r : { ...r, ttl });
  }
  const bodies = Buffer.allocUnsafe(rdatas.reduce((n, d) => n + 10 + d.length, 0));
  const bodyOffsets: number[] = [0];
  let at = 0;
  for (const rdata of rdatas) bodyOffsets.push((at = writeBody(bodies, at, type, ttl, rdata)));
  return { type, ttl, count: kept.length, records: kept, bodies, bodyOffsets };
}

/** Labels of an uncompressed wire name (the root has none). */
function labelCount(wire: Buffer): number {
  let n = 0;
  for (let i = 0; wire[i] !== 0; i += wire[i]! + 1) n++;
  return n;
}

/** The names of a zone being compiled: one group per owner (records' owners, then their ancestors, then extras). */
class Groups {
  readonly index = new Map<string, number>();
  readonly display: string[] = [];
  readonly keys: string[] = [];
  add(key: string, display: string): number {
    let g = this.index.get(key);
    if (g === undefined) {
      g = this.keys.length;
      this.index.set(key, g);
      this.keys.push(key);
      this.display.push(display);
    }
    return g;
  }
}

/** Records grouped by owner: order[start[g] .. start[g+1]) are group g's record indices, in file order. */
function groupRecords(records: readonly ZoneRecord[], originKey: string, origin: string, groups: Groups, problems: ZoneProblem[]): { order: Int32Array; start: Int32Array } {
  const of = new Int32Array(records.length);
  let lastName: string | null = null;
  let last = -1;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    if (r.name === lastName) { of[i] = last; continue; } // files list a name's records together: one lookup
    const k = canonicalName(r.name);
    if (!isAtOrBelow(k, originKey)) {
      problems.push({ name: r.name, message: `${r.name} ${typeName(r.type)} is outside zone ${origin}` });
      of[i] = -1;
      lastName = null;
      continue;
    }
    of[i] = last = groups.add(k, r.name);
    lastName = r.name;
  }
  const count = groups.keys.length;
  const start = new Int32Array(count + 1);
  for (let i = 0; i < of.length; i++) if (of[i]! >= 0) start[of[i]! + 1]!++;
  for (let g = 0; g < count; g++) start[g + 1]! += start[g]!;
  const fill = start.slice(0, count);
  const order = new Int32Array(start[count]!);
  for (let i = 0; i < of.length; i++) if (of[i]! >= 0) order[fill[of[i]!]!++] = i;
  return { order, start };
}

/** How many different rdatas `idx` (records of one type) hold. */
function distinct(records: readonly ZoneRecord[], idx: readonly number[]): number {
  return new Set(idx.map((i) => encodeRdata(records[i]!.type, records[i]!.data).toString('latin1'))).size;
}

/** Zone-level rules (RFC 1034 §3.6.2, RFC 1035 §5.2): one SOA at the apex, a CNAME alone and not at the apex. */
function checkGroups(records: readonly ZoneRecord[], groups: Groups, order: Int32Array, start: Int32Array, originKey: string, origin: string, problems: ZoneProblem[]): void {
  const apex = groups.index.get(originKey);
  const soaAt = (g: number): number[] => {
    const out: number[] = [];
    for (let j = start[g]!; j < start[g + 1]!; j++) if (records[order[j]!]!.type === TYPE.SOA) out.push(order[j]!);
    return out;
  };
  const apexSoa = apex === undefined ? [] : soaAt(apex);
  if (apexSoa.length === 0) problems.push({ name: origin, message: `zone ${origin} has no SOA record at its apex` });
  else if (distinct(records, apexSoa) > 1) problems.push({ name: origin, message: `zone ${origin} has ${distinct(records, apexSoa)} SOA records; exactly one is allowed` });
  for (let g = 0; g < groups.keys.length; g++) {
    let cnames: number[] | null = null;
    let other = false;
    let soa = false;
    for (let j = start[g]!; j < start[g + 1]!; j++) {
      const t = records[order[j]!]!.type;
      if (t === TYPE.CNAME) (cnames ??= []).push(order[j]!);
      else other = true;
      if (t === TYPE.SOA) soa = true;
    }
    const name = groups.display[g]!;
    if (soa && g !== apex) problems.push({ name, message: `SOA record at ${name} is not at the zone apex ${origin}` });
    if (cnames === null) continue;
    if (distinct(records, cnames) > 1) problems.push({ name, message: `${name} has ${distinct(records, cnames)} CNAME records; only one is allowed (RFC 1034 §3.6.2)` });
    if (other) problems.push({ name, message: `${name} has a CNAME and other data (RFC 1034 §3.6.2)` });
    if (g === apex) problems.push({ name, message: `the zone apex ${name} cannot be a CNAME` });
  }
}

/**
 * Ancestors up to the apex for every group (empty non-terminals must exist so that their names answer NODATA, not
 * NXDOMAIN: RFC 8020), and "*" children marked as their parent's wildcard (RFC 4592). Returns parent and wildcard
 * per group (-1: none).
 */
function linkAncestors(groups: Groups, originKey: string): { parent: number[]; wildcard: Map<number, number> } {
  const parent: number[] = [];
  const wildcard = new Map<number, number>();
  for (let g = 0; g < groups.keys.length; g++) { // groups grows as ancestors are added; they are linked in turn
    const k = groups.keys[g]!;
    if (k === originKey) { parent.push(-1); continue; }
    const display = groups.display[g]!;
    const p = groups.add(parentName(k)!, parentName(display)!);
    parent.push(p);
    if (display.startsWith('*.')) wildcard.set(p, g);
  }
  return { parent, wildcard };
}

/** Write one RRset (records `idx`, one type) of `node`; duplicates dropped, TTL the smallest (or `ttlOverride`). */
function writeRRset(w: ImageWriter, node: number, records: readonly ZoneRecord[], idx: readonly number[], ttlOverride?: number): number {
  const type = records[idx[0]!]!.type;
  let ttl = ttlOverride ?? records[idx[0]!]!.ttl;
  if (ttlOverride === undefined) for (const i of idx) if (records[i]!.ttl < ttl) ttl = records[i]!.ttl;
  const rr = w.beginRRset(node, type, ttl);
  const body = w.body;
  const seen = idx.length > 1 ? new Set<string>() : null;
  for (const i of idx) {
    const rdata = encodeRdata(type, records[i]!.data);
    if (seen !== null) {
      const k = rdata.toString('latin1');
      if (seen.has(k)) continue;
      seen.add(k);
    }
    body.reserve(10 + rdata.length);
    const start = body.len;
    body.len = writeBody(body.buf, start, type, ttl, rdata);
    w.endRecord(rr, start);
  }
  return rr;
}

/** Group g's record indices split by type, types in first-seen order. */
function byType(records: readonly ZoneRecord[], order: Int32Array, from: number, to: number): number[][] {
  if (to - from === 1) return [[order[from]!]];
  const runs = new Map<number, number[]>();
  for (let j = from; j < to; j++) {
    const i = order[j]!;
    const t = records[i]!.type;
    let run = runs.get(t);
    if (!run) runs.set(t, (run = []));
    run.push(i);
  }
  return [...runs.values()];
}

/**
 * Build one zone from its records. Problems (missing SOA, CNAME beside other data, records outside the zone) are
 * returned, not thrown, so `waymark check` can list all of them. `extraNames` exist without static records (policy
 * names): their policy slot is their position in that list.
 */
export function compileZone(origin: string, records: readonly ZoneRecord[], extraNames: readonly string[] = []): { zone?: Zone; problems: ZoneProblem[] } {
  const problems: ZoneProblem[] = [];
  const originKey = canonicalName(origin);
  const groups = new Groups();
  const { order, start } = groupRecords(records, originKey, origin, groups, problems);
  checkGroups(records, groups, order, start, originKey, origin, problems);
  if (problems.length > 0) return { problems };
  const withRecords = groups.keys.length;
  const extraGroups = extraNames.map((n) => groups.add(canonicalName(n), n));
  const { parent, wildcard } = linkAncestors(groups, originKey);
  const count = groups.keys.length;
  const apexGroup = groups.index.get(originKey)!;
  // Node numbers: the apex is node 0, then groups in order.
  const nodeOf = new Int32Array(count);
  for (let g = 0, n = 1; g < count; g++) nodeOf[g] = g === apexGroup ? 0 : n++;
  const groupOf = new Int32Array(count);
  for (let g = 0; g < count; g++) groupOf[nodeOf[g]!] = g;
  const w = new ImageWriter(groups.display[apexGroup]!, count, records.length);
  const labels = new Uint8Array(count);
  const hasNS = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    const g = groupOf[n]!;
    const wire = encodeName(groups.display[g]!);
    labels[g] = labelCount(wire);
    w.addNode(wire, labels[g]!);
    if (g >= withRecords) continue;
    let soa = -1;
    let soaRecord = -1;
    for (const run of byType(records, order, start[g]!, start[g + 1]!)) {
      const type = records[run[0]!]!.type;
      if (type === TYPE.NS) hasNS[g] = 1;
      if (type === TYPE.SOA) soaRecord = run[0]!; // one SOA (checkGroups); repeats of it are one record
      const rr = writeRRset(w, n, records, type === TYPE.SOA ? [run[0]!] : run);
      if (type === TYPE.SOA) soa = rr;
    }
    if (soa < 0) continue;
    // The negative-answer copy belongs to no node's list: written after the apex's own RRsets.
    const r = records[soaRecord]!;
    w.setSoa(soa, writeRRset(w, -1, records, [soaRecord], Math.min(r.ttl, (r.data as SoaData).minimum)));
  }
  for (const [p, g] of wildcard) w.setWildcard(nodeOf[p]!, nodeOf[g]!);
  extraGroups.forEach((g, slot) => w.setPolicy(nodeOf[g]!, slot));
  setCuts(w, parent, labels, hasNS, nodeOf, apexGroup);
  const image = new ZoneImage(w.finish());
  return { zone: new Zone(image.origin, originKey, image), problems };
}

/** Zone cuts: an NS RRset below the apex delegates everything at and below it (parents are decided first). */
function setCuts(w: ImageWriter, parent: readonly number[], labels: Uint8Array, hasNS: Uint8Array, nodeOf: Int32Array, apexGroup: number): void {
  const byLabels: number[][] = [];
  for (let g = 0; g < parent.length; g++) (byLabels[labels[g]!] ??= []).push(g);
  for (const level of byLabels) {
    if (!level) continue;
    for (const g of level) {
      if (g === apexGroup) continue;
      const above = w.cutOf(nodeOf[parent[g]!]!);
      if (above >= 0) w.setCut(nodeOf[g]!, above);
      else if (hasNS[g]) w.setCut(nodeOf[g]!, nodeOf[g]!);
    }
  }
}
