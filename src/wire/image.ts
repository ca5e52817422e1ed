// A zone image: one zone's names and RRsets compiled into a single contiguous byte array, read in place.
// Owns: the layout (header, node table, RRset table, record offsets, hash index, name bytes, record bodies), the
// writer that lays it out (ImageWriter) and the reader the query path uses (ZoneImage). No objects per name or per
// record: a node or an RRset is an index into Int32 tables, a name or a record is an offset into bytes. Because the
// image is only bytes it can be written to a file once and mapped by every worker process (one copy in memory).
// Zone semantics (SOA, CNAME rules, cuts, empty non-terminals) are decided by the compiler (dns/zone.ts), not here.
import { equalsFoldedRange, hashWireFolded, wireToName } from './name.js';

const MAGIC = 0x31494d57; // "WMI1" little-endian
const VERSION = 2;
/** Header: Int32 words. */
const H_MAGIC = 0, H_VERSION = 1, H_NODES = 2, H_RRSETS = 3, H_RECORDS = 4, H_TABLE = 5, H_NAMES_LEN = 6;
const H_DATA_LEN = 7, H_SOA = 8, H_NEG_SOA = 9, H_ORIGIN_LEN = 10, H_POLICY = 11, H_TOTAL = 12;
const HEADER_WORDS = 16;

/** Node table: Int32 words per name. */
export const NODE_STRIDE = 9;
const N_NAME = 0, N_LEN = 1, N_HASH = 2, N_CUT = 3, N_WILD = 4, N_FIRST = 5, N_COUNT = 6, N_POLICY = 7, N_KIDS = 8;
/**
 * In N_LEN, above the length (8 bits) and label count (8 bits): the name no longer exists. Only an overlay (a change
 * laid over a zone's image, dns/zone.ts) has such nodes: they hide the name the image below still holds.
 */
const GONE = 1 << 16;
/** RRset table: Int32 words per RRset (type, ttl, first record, record count). */
export const RRSET_STRIDE = 4;
const R_TYPE = 0, R_TTL = 1, R_BASE = 2, R_COUNT = 3;

/** The apex is always node 0. */
export const APEX = 0;

/** Copy `len` bytes; a loop for names (a Buffer.copy call costs more than copying a few dozen bytes). */
export function copyBytes(src: Uint8Array, from: number, dst: Uint8Array, to: number, len: number): void {
  if (len > 64) { dst.set(src.subarray(from, from + len), to); return; }
  for (let i = 0; i < len; i++) dst[to + i] = src[from + i]!;
}

/** Growable byte buffer for the writer (compile time). */
export class Bytes {
  buf: Buffer;
  len = 0;
  constructor(initial: number) { this.buf = Buffer.allocUnsafe(Math.max(64, initial)); }
  reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
}

/** Growable Int32 table (compile time). */
export class Words {
  a: Int32Array;
  len = 0;
  constructor(initial: number) { this.a = new Int32Array(Math.max(16, initial)); }
  reserve(n: number): void {
    if (this.len + n <= this.a.length) return;
    let size = this.a.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Int32Array(size);
    next.set(this.a.subarray(0, this.len));
    this.a = next;
  }
}

/**
 * Lays out an image. The compiler adds nodes in order (the apex first), then for each node its RRsets, and for
 * each RRset its record bodies (TYPE CLASS TTL RDLENGTH RDATA, written straight into `body`), then calls finish().
 */
export class ImageWriter {
  private readonly nodes: Words;
  private readonly rrsets: Words;
  private readonly recOffs: Words;
  private readonly names: Bytes;
  readonly body: Bytes;
  private soa = -1;
  private negSoa = -1;
  private policyNames = 0;

  constructor(readonly origin: string, expectedNodes = 16, expectedRecords = 16) {
    this.nodes = new Words(expectedNodes * NODE_STRIDE);
    this.rrsets = new Words(expectedRecords * RRSET_STRIDE);
    this.recOffs = new Words(expectedRecords + 1);
    this.names = new Bytes(expectedNodes * 16);
    this.body = new Bytes(expectedRecords * 16);
  }

  get nodeCount(): number { return this.nodes.len / NODE_STRIDE; }
  get rrsetCount(): number { return this.rrsets.len / RRSET_STRIDE; }

  /** Add a name (uncompressed wire form at buf[off, off + len), case as written); returns its node index. */
  addNode(buf: Buffer, off: number, len: number, labels: number): number {
    const n = this.nodes;
    n.reserve(NODE_STRIDE);
    const names = this.names;
    names.reserve(len);
    copyBytes(buf, off, names.buf, names.len, len);
    const i = n.len;
    n.a[i + N_NAME] = names.len;
    n.a[i + N_LEN] = len | (labels << 8);
    n.a[i + N_HASH] = hashWireFolded(names.buf, names.len, names.len + len) | 0;
    n.a[i + N_CUT] = -1;
    n.a[i + N_WILD] = -1;
    n.a[i + N_FIRST] = this.rrsetCount;
    n.a[i + N_COUNT] = 0;
    n.a[i + N_POLICY] = -1;
    n.a[i + N_KIDS] = 0;
    names.len += len;
    n.len += NODE_STRIDE;
    return i / NODE_STRIDE;
  }

  setCut(node: number, cut: number): void { this.nodes.a[node * NODE_STRIDE + N_CUT] = cut; }
  /** How many names are one label below this one (an overlay decides from it whether a name still exists). */
  setChildren(node: number, count: number): void { this.nodes.a[node * NODE_STRIDE + N_KIDS] = count; }
  /** The name is gone: found, but standing for no name (overlays only). */
  setGone(node: number): void { this.nodes.a[node * NODE_STRIDE + N_LEN]! |= GONE; }
  setWildcard(node: number, wild: number): void { this.nodes.a[node * NODE_STRIDE + N_WILD] = wild; }
  /** Mark a policy name: its A/AAAA answers come from the answer engine; `slot` is its place in the zone's list. */
  setPolicy(node: number, slot: number): void {
    this.nodes.a[node * NODE_STRIDE + N_POLICY] = slot;
    if (slot >= this.policyNames) this.policyNames = slot + 1;
  }
  cutOf(node: number): number { return this.nodes.a[node * NODE_STRIDE + N_CUT]!; }

  /**
   * Start an RRset of `node` (the node's RRsets must be added right after it, before the next node's); its records
   * follow with addRecord. Returns the RRset index.
   */
  beginRRset(node: number, type: number, ttl: number): number {
    const r = this.rrsets;
    r.reserve(RRSET_STRIDE);
    const i = r.len;
    r.a[i + R_TYPE] = type;
    r.a[i + R_TTL] = ttl | 0;
    r.a[i + R_BASE] = this.recOffs.len;
    r.a[i + R_COUNT] = 0;
    r.len += RRSET_STRIDE;
    if (node >= 0) this.nodes.a[node * NODE_STRIDE + N_COUNT]!++;
    return i / RRSET_STRIDE;
  }

  /** The body of one record of the RRset begun last has been written to body.buf[start, body.len). */
  endRecord(rrset: number, start: number): void {
    const o = this.recOffs;
    o.reserve(1);
    o.a[o.len++] = start;
    this.rrsets.a[rrset * RRSET_STRIDE + R_COUNT]!++;
  }

  /** The SOA RRset, and the copy with the negative-answer TTL (RFC 2308 §3), not attached to any node's list. */
  setSoa(soa: number, negative: number): void { this.soa = soa; this.negSoa = negative; }

  /** Everything laid out in one buffer. */
  finish(): Buffer {
    const nodeCount = this.nodeCount;
    let tableSize = 16;
    while (tableSize < nodeCount * 2) tableSize *= 2;
    const table = new Int32Array(tableSize);
    const nodes = this.nodes.a;
    const mask = tableSize - 1;
    for (let n = 0; n < nodeCount; n++) {
      let slot = nodes[n * NODE_STRIDE + N_HASH]! & mask;
      while (table[slot] !== 0) slot = (slot + 1) & mask;
      table[slot] = n + 1;
    }
    this.recOffs.reserve(1);
    this.recOffs.a[this.recOffs.len] = this.body.len; // end of the last record
    const origin = Buffer.from(this.origin, 'utf8');
    const words = HEADER_WORDS + this.nodes.len + this.rrsets.len + this.recOffs.len + 1 + tableSize;
    const total = words * 4 + this.names.len + this.body.len + origin.length;
    const out = Buffer.alloc(total);
    const header = new Int32Array(out.buffer, out.byteOffset, HEADER_WORDS);
    header[H_MAGIC] = MAGIC;
    header[H_VERSION] = VERSION;
    header[H_NODES] = nodeCount;
    header[H_RRSETS] = this.rrsetCount;
    header[H_RECORDS] = this.recOffs.len;
    header[H_TABLE] = tableSize;
    header[H_NAMES_LEN] = this.names.len;
    header[H_DATA_LEN] = this.body.len;
    header[H_SOA] = this.soa;
    header[H_NEG_SOA] = this.negSoa;
    header[H_ORIGIN_LEN] = origin.length;
    header[H_POLICY] = this.policyNames;
    header[H_TOTAL] = total;
    let at = HEADER_WORDS * 4;
    const put = (a: Int32Array, len: number): void => {
      Buffer.from(a.buffer, a.byteOffset, len * 4).copy(out, at);
      at += len * 4;
    };
    put(this.nodes.a, this.nodes.len);
    put(this.rrsets.a, this.rrsets.len);
    put(this.recOffs.a, this.recOffs.len + 1);
    put(table, tableSize);
    this.names.buf.copy(out, at, 0, this.names.len);
    at += this.names.len;
    this.body.buf.copy(out, at, 0, this.body.len);
    at += this.body.len;
    origin.copy(out, at);
    return out;
  }
}

/** Why bytes are not an image (a file that is not one, or of another version). */
export class ImageError extends Error {}

/**
 * An image as the query path reads it: Int32 views over the tables and Buffer views over the bytes, all into the
 * one array it was given (a Buffer, or a mapped file). Immutable; safe to share.
 */
export class ZoneImage {
  readonly nodes: Int32Array;
  readonly rrsets: Int32Array;
  /** Start of each record's body in `data`; one more entry than records (the end of the last one). */
  readonly recOffs: Int32Array;
  private readonly table: Int32Array;
  private readonly mask: number;
  /** Owner names, uncompressed wire form as written in the zone. */
  readonly names: Buffer;
  /** Record bodies: TYPE CLASS TTL RDLENGTH RDATA, RRset after RRset. */
  readonly data: Buffer;
  readonly origin: string;
  readonly nodeCount: number;
  readonly rrsetCount: number;
  readonly soa: number;
  readonly negativeSoa: number;
  /** How many policy-name slots the image has (setPolicy). */
  readonly policySlots: number;
  /** Bytes the image occupies. */
  readonly size: number;
  /** The image itself (to write it to a file for other processes). */
  readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    if (bytes.byteOffset % 4 !== 0) bytes = Uint8Array.from(bytes); // Int32 views need alignment
    if (bytes.byteLength < HEADER_WORDS * 4) throw new ImageError('not a zone image (too short)');
    const header = new Int32Array(bytes.buffer, bytes.byteOffset, HEADER_WORDS);
    if (header[H_MAGIC] !== MAGIC) throw new ImageError('not a zone image (bad magic)');
    if (header[H_VERSION] !== VERSION) throw new ImageError(`zone image version ${header[H_VERSION]}, expected ${VERSION}`);
    if (header[H_TOTAL]! > bytes.byteLength) throw new ImageError('zone image is truncated');
    this.size = header[H_TOTAL]!;
    this.bytes = bytes.subarray(0, this.size);
    this.nodeCount = header[H_NODES]!;
    this.rrsetCount = header[H_RRSETS]!;
    this.soa = header[H_SOA]!;
    this.negativeSoa = header[H_NEG_SOA]!;
    this.policySlots = header[H_POLICY]!;
    const tableSize = header[H_TABLE]!;
    let at = bytes.byteOffset + HEADER_WORDS * 4;
    const ints = (len: number): Int32Array => { const a = new Int32Array(bytes.buffer, at, len); at += len * 4; return a; };
    this.nodes = ints(this.nodeCount * NODE_STRIDE);
    this.rrsets = ints(this.rrsetCount * RRSET_STRIDE);
    this.recOffs = ints(header[H_RECORDS]! + 1);
    this.table = ints(tableSize);
    this.mask = tableSize - 1;
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const base = bytes.byteOffset;
    this.names = buf.subarray(at - base, at - base + header[H_NAMES_LEN]!);
    at += header[H_NAMES_LEN]!;
    this.data = buf.subarray(at - base, at - base + header[H_DATA_LEN]!);
    at += header[H_DATA_LEN]!;
    this.origin = buf.toString('utf8', at - base, at - base + header[H_ORIGIN_LEN]!);
  }

  /** The node whose name equals buf[off, end) (any case), or -1. Allocation-free. */
  find(buf: Buffer, off: number, end: number): number {
    return this.findHashed(buf, off, end, hashWireFolded(buf, off, end) | 0);
  }

  findHashed(buf: Buffer, off: number, end: number, hash: number): number {
    const nodes = this.nodes;
    const table = this.table;
    const names = this.names;
    const len = end - off;
    for (let slot = hash & this.mask; ; slot = (slot + 1) & this.mask) {
      const e = table[slot]!;
      if (e === 0) return -1;
      const b = (e - 1) * NODE_STRIDE;
      if (nodes[b + N_HASH] === hash && (nodes[b + N_LEN]! & 0xff) === len && equalsFoldedRange(buf, off, names, nodes[b + N_NAME]!, len)) return e - 1;
    }
  }

  nameOffset(node: number): number { return this.nodes[node * NODE_STRIDE + N_NAME]!; }
  nameLength(node: number): number { return this.nodes[node * NODE_STRIDE + N_LEN]! & 0xff; }
  labels(node: number): number { return (this.nodes[node * NODE_STRIDE + N_LEN]! >> 8) & 0xff; }
  cut(node: number): number { return this.nodes[node * NODE_STRIDE + N_CUT]!; }
  wildcard(node: number): number { return this.nodes[node * NODE_STRIDE + N_WILD]!; }
  policySlot(node: number): number { return this.nodes[node * NODE_STRIDE + N_POLICY]!; }
  children(node: number): number { return this.nodes[node * NODE_STRIDE + N_KIDS]!; }
  gone(node: number): boolean { return (this.nodes[node * NODE_STRIDE + N_LEN]! & GONE) !== 0; }
  firstRRset(node: number): number { return this.nodes[node * NODE_STRIDE + N_FIRST]!; }
  rrsetCountOf(node: number): number { return this.nodes[node * NODE_STRIDE + N_COUNT]!; }

  /** The node's RRset of `type`, or -1 (a node holds a handful: a short scan beats a hash). */
  rrset(node: number, type: number): number {
    const b = node * NODE_STRIDE;
    const first = this.nodes[b + N_FIRST]!;
    const end = first + this.nodes[b + N_COUNT]!;
    const rr = this.rrsets;
    for (let r = first; r < end; r++) if (rr[r * RRSET_STRIDE + R_TYPE] === type) return r;
    return -1;
  }

  type(rrset: number): number { return this.rrsets[rrset * RRSET_STRIDE + R_TYPE]!; }
  ttl(rrset: number): number { return this.rrsets[rrset * RRSET_STRIDE + R_TTL]! >>> 0; }
  /** Index of the RRset's first record in recOffs. */
  base(rrset: number): number { return this.rrsets[rrset * RRSET_STRIDE + R_BASE]!; }
  count(rrset: number): number { return this.rrsets[rrset * RRSET_STRIDE + R_COUNT]!; }
  /** Where the RDATA of record `record` (a recOffs index) starts in `data`. */
  rdataOffset(record: number): number { return this.recOffs[record]! + 10; }
  rdataLength(record: number): number { return this.recOffs[record + 1]! - this.recOffs[record]! - 10; }

  /** The node's name in presentation form (compile time, API and explain: allocates). */
  nodeName(node: number): string { return wireToName(this.names, this.nameOffset(node)); }
}
