// Zones as the query path sees them: one compact image per zone (wire/image.ts) and the small object around it.
// Owns: zone-level validation (SOA, CNAME exclusivity, records outside the zone), the zone semantics compiled into
// the image (empty non-terminals, wildcards, zone cuts, policy names), and compiling a few records into a
// standalone RRset object (policy answers). Compile time only: nothing here runs per query.
import { CLASS_IN, TYPE, typeName } from '../wire/types.js';
import { decodeBody, encodeRdata, encodeRdataInto, type ZoneRecord, type SoaData } from '../wire/rdata.js';
import type { WireRRset } from '../wire/sections.js';
import { Bytes, ImageWriter, ZoneImage, APEX, copyBytes } from '../wire/image.js';
import type { CompiledName } from '../answer/policy.js';
import { encodeName, encodeNameInto, canonicalName, equalsFoldedRange, foldWire, hashWireFolded, isAtOrBelow, parentOf, wireToName } from '../wire/name.js';

/** A standalone RRset (policy answers, sorry addresses): the same wire bodies an image holds, in an arena chunk. */
export type RRset = WireRRset;

/**
 * A served zone: its image (shared, immutable, perhaps a mapped file), perhaps an overlay (a small image of the
 * names a change touched, laid over it: compileOverlay), and what this snapshot adds: the compiled policy name
 * behind each policy slot.
 */
export class Zone {
  readonly policies: Array<CompiledName | null>;
  /** The image the last find() found its node in (the overlay's or the image's): read the node from it. */
  at: ZoneImage;
  constructor(readonly origin: string, readonly key: string, readonly image: ZoneImage, readonly overlay: ZoneImage | null = null) {
    this.policies = new Array<CompiledName | null>(Math.max(image.policySlots, overlay?.policySlots ?? 0)).fill(null);
    this.at = image;
  }

  /**
   * The node whose name is buf[off, end) (any case), or -1; `at` is the image it is in. The overlay decides for the
   * names it holds (a name it marks gone does not exist), the image for the rest. Allocation-free.
   */
  find(buf: Buffer, off: number, end: number): number {
    const o = this.overlay;
    if (o === null) {
      this.at = this.image;
      return this.image.find(buf, off, end);
    }
    const hash = hashWireFolded(buf, off, end) | 0;
    const n = o.findHashed(buf, off, end, hash);
    if (n >= 0) {
      this.at = o;
      return o.gone(n) ? -1 : n;
    }
    this.at = this.image;
    return this.image.findHashed(buf, off, end, hash);
  }

  /** The image holding the apex as it is now (an overlay always holds the apex): SOA for negative answers. */
  get top(): ZoneImage { return this.overlay ?? this.image; }

  /** Node of a presentation name, or -1; `at` is its image (compile time, API). */
  node(name: string): number {
    const wire = encodeName(name);
    return this.find(wire, 0, wire.length);
  }

  /** This zone over other layers (the same zone changed): the policy names in its slots stay. */
  relaid(layers: ZoneLayers): Zone {
    const z = new Zone(this.origin, this.key, layers.image, layers.overlay);
    for (let i = 0; i < this.policies.length && i < z.policies.length; i++) z.policies[i] = this.policies[i]!;
    return z;
  }

  /** This zone with other compiled policy names in some of its slots (a policy change: the images stay). */
  withNames(changes: ReadonlyArray<readonly [slot: number, name: CompiledName]>): Zone {
    const z = this.relaid(this.layers);
    for (const [slot, name] of changes) z.policies[slot] = name;
    return z;
  }

  /** The layers, to hand over or cache. */
  get layers(): ZoneLayers { return { image: this.image, overlay: this.overlay }; }
}

/**
 * Why policy name `name`, placed in `zone` (its node there: found by the caller just before, or now), cannot be one: it has static A/AAAA records, is a
 * CNAME, or is at or below a delegation; null when it can.
 */
export function policyNameProblem(zone: Zone, name: string, node = zone.node(name)): string | null {
  const img = zone.at; // the image of the find that gave `node`
  if (img.rrset(node, TYPE.A) >= 0 || img.rrset(node, TYPE.AAAA) >= 0) return `${name} also has static A/AAAA records in zone ${zone.origin}; a policy name answers A and AAAA itself`;
  if (img.rrset(node, TYPE.CNAME) >= 0) return `${name} is a CNAME in zone ${zone.origin}`;
  const cut = img.cut(node);
  return cut >= 0 ? `${name} is at or below the delegation ${img.nodeName(cut)}` : null;
}

/**
 * Index (into `origins`, canonical origin → zone index) of the most specific served zone at or above canonical name
 * `key`, or -1: its ancestors looked up one by one, so many zones do not make many names quadratic.
 */
export function homeZone(key: string, origins: ReadonlyMap<string, number>): number {
  for (let name: string | null = key; name !== null; name = parentOf(name)) {
    const zi = origins.get(name);
    if (zi !== undefined) return zi;
  }
  return -1;
}

/** The problem of a policy name no served zone holds (`origins`: the canonical origins served). */
export function outsideZones(name: string, origins: readonly string[]): string {
  return `${name} is not inside any zone served here${origins.length ? ` (zones: ${origins.join(', ')})` : ''}`;
}

/** A zone's compiled data: the image and the overlay of changes laid over it (null: none). */
export interface ZoneLayers { image: ZoneImage; overlay: ZoneImage | null }

export interface ZoneProblem { name: string; message: string }

/**
 * Where standalone RRsets keep their bodies: fixed-size chunks shared by many RRsets (a hundred thousand policy names
 * have two hundred thousand answer RRsets; a Buffer and two arrays each were most of a worker's memory). An RRset
 * never spans chunks; a chunk lives as long as any RRset in it.
 */
class Arena {
  private static readonly SIZE = 64 * 1024;
  private bodies = Buffer.allocUnsafe(Arena.SIZE);
  private offsets = new Int32Array(Arena.SIZE / 8);
  private used = 0;
  private records = 0;

  /** Room for `bytes` of bodies and `count` records (+1 end offset) in the current chunk, starting a new one if not. */
  reserve(bytes: number, count: number): { bodies: Buffer; offsets: Int32Array; base: number; at: number } {
    if (this.used + bytes > this.bodies.length || this.records + count + 1 > this.offsets.length) {
      this.bodies = Buffer.allocUnsafe(Math.max(Arena.SIZE, bytes));
      this.offsets = new Int32Array(Math.max(Arena.SIZE / 8, count + 1));
      this.used = 0;
      this.records = 0;
    }
    return { bodies: this.bodies, offsets: this.offsets, base: this.records, at: this.used };
  }

  /** The RRset just written took `bytes` and `count` records (their offsets and end are in place). */
  commit(bytes: number, count: number): void {
    this.used += bytes;
    this.records += count + 1;
  }
}
const arena = new Arena();

/**
 * Compile records of one type at one name into a standalone RRset. Duplicates (same rdata) are dropped (RFC 2181
 * §5: an RRset holds none); the TTL is the smallest given unless `ttlOverride`.
 */
export function compileRRset(records: readonly ZoneRecord[], ttlOverride?: number): RRset {
  const type = records[0]!.type;
  let ttl = ttlOverride ?? records[0]!.ttl;
  if (ttlOverride === undefined) for (const r of records) if (r.ttl < ttl) ttl = r.ttl;
  const rdatas: Buffer[] = [];
  const seen = records.length > 1 ? new Set<string>() : null;
  let bytes = 0;
  for (const r of records) {
    const rdata = encodeRdata(type, r.data);
    if (seen !== null) {
      const k = rdata.toString('latin1');
      if (seen.has(k)) continue;
      seen.add(k);
    }
    rdatas.push(rdata);
    bytes += 10 + rdata.length;
  }
  const { bodies, offsets, base, at: start } = arena.reserve(bytes, rdatas.length);
  let at = start;
  rdatas.forEach((rdata, k) => {
    offsets[base + k] = at;
    bodies.writeUInt16BE(type, at);
    bodies.writeUInt16BE(CLASS_IN, at + 2);
    bodies.writeUInt32BE(ttl >>> 0, at + 4);
    bodies.writeUInt16BE(rdata.length, at + 8);
    rdata.copy(bodies, at + 10);
    at += 10 + rdata.length;
  });
  offsets[base + rdatas.length] = at;
  arena.commit(bytes, rdatas.length);
  return { type, ttl, count: rdatas.length, bodies, bodyOffsets: offsets, base };
}

/** The records of a standalone RRset, decoded (explain, traces, the API: allocates). */
export function rrsetRecords(rrset: RRset, name: string): ZoneRecord[] {
  const out: ZoneRecord[] = [];
  for (let k = 0; k < rrset.count; k++) out.push(decodeBody(name, rrset.bodies, rrset.bodyOffsets[rrset.base + k]!));
  return out;
}

/**
 * The names of a zone being compiled, as wire bytes in one buffer with an open-addressing index over their folded
 * hash: a million owners are grouped without a string key (or a Map entry) per name. A group is a record owner, an
 * ancestor of one (an ancestor's bytes are the tail of its child's: shared, not copied), or a policy name.
 */
class NameTable {
  readonly bytes = new Bytes(1 << 16);
  off = new Int32Array(1024);
  len = new Uint8Array(1024);
  hash = new Int32Array(1024);
  count = 0;
  private slots = new Int32Array(2048);

  /** The group of the name at buf[off, off + len), or -1. */
  find(buf: Buffer, off: number, len: number, h: number): number {
    const mask = this.slots.length - 1;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const e = this.slots[s]!;
      if (e === 0) return -1;
      const g = e - 1;
      if (this.hash[g] === h && this.len[g] === len && equalsFoldedRange(buf, off, this.bytes.buf, this.off[g]!, len)) return g;
    }
  }

  /** The group of the name at buf[off, off + len), added when new (copied unless it is already in `bytes`). */
  intern(buf: Buffer, off: number, len: number): number {
    const h = hashWireFolded(buf, off, off + len) | 0;
    const found = this.find(buf, off, len, h);
    if (found >= 0) return found;
    let at = off;
    if (buf !== this.bytes.buf) {
      this.bytes.reserve(len);
      at = this.bytes.len;
      copyBytes(buf, off, this.bytes.buf, at, len);
      this.bytes.len += len;
    }
    return this.add(at, len, h);
  }

  private add(at: number, len: number, h: number): number {
    if (this.count === this.off.length) this.grow();
    const g = this.count++;
    this.off[g] = at;
    this.len[g] = len;
    this.hash[g] = h;
    if (this.count * 2 > this.slots.length) this.rehash();
    else this.place(g);
    return g;
  }

  private place(g: number): void {
    const mask = this.slots.length - 1;
    let s = this.hash[g]! & mask;
    while (this.slots[s] !== 0) s = (s + 1) & mask;
    this.slots[s] = g + 1;
  }

  private grow(): void {
    const size = this.off.length * 2;
    const off = new Int32Array(size); off.set(this.off); this.off = off;
    const len = new Uint8Array(size); len.set(this.len); this.len = len;
    const hash = new Int32Array(size); hash.set(this.hash); this.hash = hash;
  }

  private rehash(): void {
    this.slots = new Int32Array(this.slots.length * 2);
    for (let g = 0; g < this.count; g++) this.place(g);
  }

  name(g: number): string { return wireToName(this.bytes.buf, this.off[g]!); }
}

/** Labels of the wire name at buf[off] (the root has none). */
function labelsAt(buf: Buffer, off: number): number {
  let n = 0;
  for (let i = off; buf[i] !== 0; i += buf[i]! + 1) n++;
  return n;
}

/** True when the wire name buf[off, off + len) is `origin` (folded wire, olen bytes) or below it. */
function atOrBelow(buf: Buffer, off: number, len: number, origin: Buffer): boolean {
  const olen = origin.length;
  if (len < olen) return false;
  let p = off;
  while (off + len - p > olen) p += buf[p]! + 1; // to the label boundary with olen bytes left, if there is one
  return off + len - p === olen && equalsFoldedRange(buf, p, origin, 0, olen);
}

/** Records grouped by owner: order[start[g] .. start[g+1]) are group g's record indices, in file order. */
function groupRecords(records: readonly ZoneRecord[], origin: Buffer, originText: string, names: NameTable, problems: ZoneProblem[]): { order: Int32Array; start: Int32Array } {
  const of = new Int32Array(records.length);
  const scratch = Buffer.allocUnsafe(256);
  let lastName: string | null = null;
  let last = -1;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    if (r.name === lastName) { of[i] = last; continue; } // files list a name's records together: one lookup
    const len = encodeNameInto(r.name, scratch, 0);
    if (!atOrBelow(scratch, 0, len, origin)) {
      problems.push({ name: r.name, message: `${r.name} ${typeName(r.type)} is outside zone ${originText}` });
      of[i] = -1;
      lastName = null;
      continue;
    }
    of[i] = last = names.intern(scratch, 0, len);
    lastName = r.name;
  }
  const count = names.count;
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
function checkGroups(records: readonly ZoneRecord[], groups: number, order: Int32Array, start: Int32Array, apex: number, origin: string, problems: ZoneProblem[]): void {
  const soaAt = (g: number): number[] => {
    const out: number[] = [];
    for (let j = start[g]!; j < start[g + 1]!; j++) if (records[order[j]!]!.type === TYPE.SOA) out.push(order[j]!);
    return out;
  };
  const apexSoa = apex < 0 ? [] : soaAt(apex);
  if (apexSoa.length === 0) problems.push({ name: origin, message: `zone ${origin} has no SOA record at its apex` });
  else if (distinct(records, apexSoa) > 1) problems.push({ name: origin, message: `zone ${origin} has ${distinct(records, apexSoa)} SOA records; exactly one is allowed` });
  for (let g = 0; g < groups; g++) {
    let cnames: number[] | null = null;
    let other = false;
    let soa = false;
    for (let j = start[g]!; j < start[g + 1]!; j++) {
      const t = records[order[j]!]!.type;
      if (t === TYPE.CNAME) (cnames ??= []).push(order[j]!);
      else other = true;
      if (t === TYPE.SOA) soa = true;
    }
    if (!soa && cnames === null) continue;
    const name = records[order[start[g]!]!]!.name;
    if (soa && g !== apex) problems.push({ name, message: `SOA record at ${name} is not at the zone apex ${origin}` });
    if (cnames === null) continue;
    if (distinct(records, cnames) > 1) problems.push({ name, message: `${name} has ${distinct(records, cnames)} CNAME records; only one is allowed (RFC 1034 §3.6.2)` });
    if (other) problems.push({ name, message: `${name} has a CNAME and other data (RFC 1034 §3.6.2)` });
    if (g === apex) problems.push({ name, message: `the zone apex ${name} cannot be a CNAME` });
  }
}

/**
 * Ancestors up to the apex for every group (empty non-terminals must exist so that their names answer NODATA, not
 * NXDOMAIN: RFC 8020), and "*" children marked as their parent's wildcard (RFC 4592). Returns parent per group
 * (-1 for the apex) and wildcard child by parent.
 */
function linkAncestors(names: NameTable, apex: number): { parent: Int32Array; wildcard: Map<number, number> } {
  const wildcard = new Map<number, number>();
  const parents: number[] = [];
  const buf = (): Buffer => names.bytes.buf;
  for (let g = 0; g < names.count; g++) { // the table grows as ancestors are added; they are linked in turn
    if (g === apex) { parents.push(-1); continue; }
    const off = names.off[g]!;
    const first = buf()[off]!;
    const p = names.intern(buf(), off + first + 1, names.len[g]! - first - 1);
    parents.push(p);
    if (first === 1 && buf()[off + 1] === 0x2a) wildcard.set(p, g);
  }
  return { parent: Int32Array.from(parents), wildcard };
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
    body.reserve(10 + 65535);
    const start = body.len;
    const len = encodeRdataInto(type, records[i]!.data, body.buf, start + 10);
    if (len > 65535) throw new Error(`${records[i]!.name} ${typeName(type)}: rdata of ${len} bytes (at most 65535)`);
    if (seen !== null) {
      const k = body.buf.toString('latin1', start + 10, start + 10 + len);
      if (seen.has(k)) continue;
      seen.add(k);
    }
    body.buf.writeUInt16BE(type, start);
    body.buf.writeUInt16BE(CLASS_IN, start + 2);
    body.buf.writeUInt32BE(ttl >>> 0, start + 4);
    body.buf.writeUInt16BE(len, start + 8);
    body.len = start + 10 + len;
    w.endRecord(rr, start);
  }
  return rr;
}

/** Reused for one-record owners (most of a large zone): no list per name. */
const ONE: number[] = [0];

/** Group g's record indices split by type, types in first-seen order. */
function byType(records: readonly ZoneRecord[], order: Int32Array, from: number, to: number): number[][] {
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
  const { image, problems } = compileImage(origin, records, extraNames.map((name, slot) => ({ name, slot, gone: false })));
  return { zone: image === undefined ? undefined : new Zone(image.origin, canonicalName(origin), image), problems };
}

/**
 * A name the compiler adds without records of its own (it may have some too): a policy name (`slot` ≥ 0), an empty
 * non-terminal an overlay keeps, or a name an overlay hides (`gone`).
 */
interface ExtraNode { name: string; slot: number; gone: boolean }

function compileImage(origin: string, records: readonly ZoneRecord[], extras: readonly ExtraNode[]): { image?: ZoneImage; problems: ZoneProblem[] } {
  const problems: ZoneProblem[] = [];
  const originWire = foldWire(encodeName(origin));
  const names = new NameTable();
  const { order, start } = groupRecords(records, originWire, origin, names, problems);
  const withRecords = names.count;
  const apex = names.find(originWire, 0, originWire.length, hashWireFolded(originWire, 0, originWire.length) | 0);
  checkGroups(records, withRecords, order, start, apex, origin, problems);
  if (problems.length > 0) return { problems };
  const scratch = Buffer.allocUnsafe(256);
  const extraGroups = extras.map((x) => names.intern(scratch, 0, encodeNameInto(x.name, scratch, 0)));
  const gone = new Set<number>();
  extras.forEach((x, i) => { if (x.gone) gone.add(extraGroups[i]!); });
  const { parent, wildcard } = linkAncestors(names, apex);
  const count = names.count;
  // Node numbers: the apex is node 0, then groups in order.
  const nodeOf = new Int32Array(count);
  for (let g = 0, n = 1; g < count; g++) nodeOf[g] = g === apex ? 0 : n++;
  const groupOf = new Int32Array(count);
  for (let g = 0; g < count; g++) groupOf[nodeOf[g]!] = g;
  const w = new ImageWriter(names.name(apex), count, records.length);
  const labels = new Uint8Array(count);
  const hasNS = new Uint8Array(count);
  const kids = new Int32Array(count);
  for (let g = 0; g < count; g++) if (parent[g]! >= 0 && !gone.has(g)) kids[parent[g]!]!++;
  const bytes = names.bytes.buf;
  for (let n = 0; n < count; n++) {
    const g = groupOf[n]!;
    labels[g] = labelsAt(bytes, names.off[g]!);
    w.addNode(bytes, names.off[g]!, names.len[g]!, labels[g]!);
    w.setChildren(n, kids[g]!);
    if (g < withRecords) writeNode(w, n, records, order, start[g]!, start[g + 1]!, () => { hasNS[g] = 1; });
  }
  for (const [p, g] of wildcard) if (!gone.has(g)) w.setWildcard(nodeOf[p]!, nodeOf[g]!);
  extras.forEach((x, i) => {
    const n = nodeOf[extraGroups[i]!]!;
    if (x.slot >= 0) w.setPolicy(n, x.slot);
    if (x.gone) w.setGone(n);
  });
  setCuts(w, parent, labels, hasNS, nodeOf, apex);
  return { image: new ZoneImage(w.finish()), problems };
}

/** Node n's RRsets from records order[from, to) (one owner); the apex's SOA also gets its negative-answer copy. */
function writeNode(w: ImageWriter, n: number, records: readonly ZoneRecord[], order: Int32Array, from: number, to: number, onNS: () => void): void {
  if (to - from === 1 && records[order[from]!]!.type !== TYPE.SOA) {
    ONE[0] = order[from]!;
    if (records[ONE[0]]!.type === TYPE.NS) onNS();
    writeRRset(w, n, records, ONE);
    return;
  }
  let soa = -1;
  let soaRecord = -1;
  for (const run of byType(records, order, from, to)) {
    const type = records[run[0]!]!.type;
    if (type === TYPE.NS) onNS();
    if (type === TYPE.SOA) soaRecord = run[0]!; // one SOA (checkGroups); repeats of it are one record
    const rr = writeRRset(w, n, records, type === TYPE.SOA ? [run[0]!] : run);
    if (type === TYPE.SOA) soa = rr;
  }
  if (soa < 0) return;
  // The negative-answer copy belongs to no node's list: written after the apex's own RRsets.
  const r = records[soaRecord]!;
  w.setSoa(soa, writeRRset(w, -1, records, [soaRecord], Math.min(r.ttl, (r.data as SoaData).minimum)));
}

/** Zone cuts: an NS RRset below the apex delegates everything at and below it (parents are decided first). */
function setCuts(w: ImageWriter, parent: Int32Array, labels: Uint8Array, hasNS: Uint8Array, nodeOf: Int32Array, apexGroup: number): void {
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

/** At most this many changed names go into an overlay; more, and the zone is compiled again whole. */
export const OVERLAY_MAX_NAMES = 4096;

/** What compileOverlay made: the overlay, the zone-level problems of the names it holds, or why it cannot. */
export interface OverlayResult { overlay?: ZoneImage; problems: ZoneProblem[]; refused?: string }

/**
 * A name an overlay holds: its records now (null: as in the image), its node in the image (-1: new) and its policy
 * slot (-1: none).
 */
interface OverlayName { name: string; labels: number; records: ZoneRecord[] | null; node: number; parent: string | null; slot: number }

/**
 * An overlay: the names whose records `changed` gives (canonical name → every record the name has now, [] for none),
 * with their ancestors and those ancestors' wildcards, compiled as a small image to lay over `base`. It decides for
 * those names; every reference in it (cuts, wildcards, policy slots) points inside it, so a lookup that finds a name
 * there reads only it. A delegation added, removed or changed below the apex would change cuts the base's names
 * point to: refused (the caller compiles the zone whole). Costs the change, not the zone.
 */
export function compileOverlay(base: ZoneImage, changed: ReadonlyMap<string, readonly ZoneRecord[]>, policy: ReadonlyMap<string, number> = NO_POLICY): OverlayResult {
  const origin = canonicalName(base.origin);
  const names = new Map<string, OverlayName>();
  const baseNode = (name: string): number => { const w = encodeName(name); return base.find(w, 0, w.length); };
  const add = (name: string, records: ZoneRecord[] | null): void => {
    const have = names.get(name);
    if (have !== undefined) { if (records !== null) have.records = records; return; }
    const parent = name === origin ? null : parentOf(name);
    let labels = 0;
    for (let p: string | null = name; p !== null && p !== '.'; p = parentOf(p)) labels++;
    const node = baseNode(name);
    names.set(name, { name, labels, records, node, parent, slot: policy.get(name) ?? (node >= 0 ? base.policySlot(node) : -1) });
  };
  const withAncestors = (name: string, records: ZoneRecord[] | null): void => {
    add(name, records);
    if (name !== origin) for (let p = parentOf(name)!; ; p = parentOf(p)!) { add(p, null); if (p === origin) break; }
  };
  add(origin, null); // always: negative answers take the SOA from the overlay
  for (const [name, records] of changed) {
    if (!isAtOrBelow(name, origin)) return { problems: [{ name, message: `${name} is outside zone ${base.origin}` }] };
    const refused = delegationChange(base, name, origin, baseNode(name), records);
    if (refused !== undefined) return { problems: [], refused };
    withAncestors(name, [...records]);
  }
  for (const name of policy.keys()) {
    if (!isAtOrBelow(name, origin)) return { problems: [{ name, message: `${name} is outside zone ${base.origin}` }] };
    withAncestors(name, null);
  }
  // A wildcard answers for its parent's missing children: it comes along with its parent.
  for (const n of [...names.values()]) {
    const wild = n.node >= 0 ? base.wildcard(n.node) : -1;
    if (wild >= 0) add(canonicalName(base.nodeName(wild)), null);
  }
  for (const n of names.values()) if (n.records === null) n.records = n.node >= 0 ? nodeRecords(base, n.node) : [];
  const exists = existence(base, names, origin);
  const records: ZoneRecord[] = [];
  const extras: ExtraNode[] = [];
  for (const n of names.values()) {
    const slot = n.slot;
    if (!exists.get(n.name)) { if (n.node >= 0) extras.push({ name: n.name, slot: -1, gone: true }); continue; }
    for (const r of n.records!) records.push(r);
    if (slot >= 0 || n.records!.length === 0) extras.push({ name: n.name, slot, gone: false });
  }
  const { image, problems } = compileImage(base.origin, records, extras);
  return { overlay: image, problems };
}

/** Why a change at `name` cannot be an overlay (its NS RRset below the apex changes), or undefined. */
function delegationChange(base: ZoneImage, name: string, origin: string, node: number, records: readonly ZoneRecord[]): string | undefined {
  if (name === origin) return undefined;
  const now = new Set(records.filter((r) => r.type === TYPE.NS).map((r) => encodeRdata(TYPE.NS, r.data).toString('latin1').toLowerCase()));
  const was = new Set<string>();
  const ns = node >= 0 ? base.rrset(node, TYPE.NS) : -1;
  if (ns >= 0) for (let k = 0; k < base.count(ns); k++) {
    const at = base.rdataOffset(base.base(ns) + k);
    was.add(base.data.toString('latin1', at, at + base.rdataLength(base.base(ns) + k)).toLowerCase());
  }
  if (now.size === was.size && [...now].every((x) => was.has(x))) return undefined;
  return `the delegation at ${name} changed`;
}

/** Every record of a node of `img`, decoded (the names an overlay copies unchanged). */
export function nodeRecords(img: ZoneImage, node: number): ZoneRecord[] {
  const out: ZoneRecord[] = [];
  const name = img.nodeName(node);
  const first = img.firstRRset(node);
  for (let r = first; r < first + img.rrsetCountOf(node); r++) {
    for (let k = 0; k < img.count(r); k++) out.push(decodeBody(name, img.data, img.recOffs[img.base(r) + k]!));
  }
  return out;
}

/**
 * Which overlay names exist after the change: a name with records, a policy name, the apex, or one with a child
 * that exists. Children counts come from the base, corrected by the overlay's own names (deepest first): a base
 * child that no longer exists takes one away, a new one adds one.
 */
function existence(base: ZoneImage, names: ReadonlyMap<string, OverlayName>, origin: string): Map<string, boolean> {
  const delta = new Map<string, number>();
  const exists = new Map<string, boolean>();
  for (const n of [...names.values()].sort((a, b) => b.labels - a.labels)) {
    const kids = (n.node >= 0 ? base.children(n.node) : 0) + (delta.get(n.name) ?? 0);
    const live = n.name === origin || n.records!.length > 0 || n.slot >= 0 || kids > 0;
    exists.set(n.name, live);
    const change = n.node >= 0 ? (live ? 0 : -1) : (live ? 1 : 0);
    if (n.parent !== null && change !== 0) delta.set(n.parent, (delta.get(n.parent) ?? 0) + change);
  }
  return exists;
}

const NO_POLICY: ReadonlyMap<string, number> = new Map();

/**
 * What `overlay` says, as compileOverlay takes it: every name it holds with its records ([] for a name it marks
 * gone) and its policy slot (-1: none), so a further change can be laid over the same base with these.
 */
export function overlayChanges(overlay: ZoneImage): { changed: Map<string, ZoneRecord[]>; policy: Map<string, number> } {
  const changed = new Map<string, ZoneRecord[]>();
  const policy = new Map<string, number>();
  for (let n = 0; n < overlay.nodeCount; n++) {
    const name = canonicalName(overlay.nodeName(n));
    changed.set(name, overlay.gone(n) ? [] : nodeRecords(overlay, n));
    policy.set(name, overlay.gone(n) ? -1 : overlay.policySlot(n));
  }
  return { changed, policy };
}

/**
 * Every node the layers serve, once: the overlay's (those it does not mark gone), and the image's the overlay does
 * not decide for. What a transfer sends and what a fold compiles.
 */
export function forEachServedNode(layers: ZoneLayers, fn: (img: ZoneImage, node: number) => void): void {
  const { image, overlay } = layers;
  const zone = new Zone(image.origin, '', image, overlay);
  for (let n = 0; n < image.nodeCount; n++) {
    if (overlay !== null) {
      zone.find(image.names, image.nameOffset(n), image.nameOffset(n) + image.nameLength(n));
      if (zone.at === overlay) continue; // the overlay decides for it (its records, or that it is gone)
    }
    fn(image, n);
  }
  if (overlay !== null) for (let n = 0; n < overlay.nodeCount; n++) if (!overlay.gone(n)) fn(overlay, n);
}

/** The records `img` holds at presentation name `name` ([] when it holds none), decoded. */
export function recordsAt(img: ZoneImage, name: string): ZoneRecord[] {
  const wire = encodeName(name);
  const node = img.find(wire, 0, wire.length);
  return node < 0 ? [] : nodeRecords(img, node);
}
