// The fast response writer: copies precompiled RRset fragments into a caller-owned buffer.
// Owns: header/flags, name compression against the question, OPT/ECS echo, and truncation (TC) for the fast path.
// Writes only into the buffer it is given; never allocates.
import type { Query } from './query.js';
import type { ResponseSections, Section } from './sections.js';
import type { ZoneImage } from './image.js';
import { OPT_ECS } from './query.js';
import { equalsFoldedRange } from './name.js';
import { TYPE } from './types.js';

/** Headroom kept free for the OPT record whatever else is written. */
const OPT_RESERVE = 64;

export const FLAG_QR = 0x8000;
export const FLAG_AA = 0x0400;
export const FLAG_TC = 0x0200;
export const FLAG_RD = 0x0100;
export const FLAG_CD = 0x0010;

/** Response flags word: QR, the query's opcode, RD and CD copied (RFC 1035 §4.1.1, RFC 6840 §5.9), AA/TC, rcode. */
export function responseFlags(q: Query, aa: boolean, tc: boolean, rcode: number): number {
  return FLAG_QR | (q.opcode << 11) | (aa ? FLAG_AA : 0) | (tc ? FLAG_TC : 0) | (q.flags & (FLAG_RD | FLAG_CD)) | (rcode & 0xf);
}

/** The UDP payload limit for this query (RFC 1035 512 bytes; RFC 6891 §6.2.5: the smaller of theirs and ours). */
export function udpLimit(q: Query, serverMax: number): number {
  if (!q.edns) return 512;
  const theirs = q.ednsPayload < 512 ? 512 : q.ednsPayload;
  return theirs < serverMax ? theirs : serverMax;
}

/** Per-write state for name compression of owners that are not the question name. */
class Writer {
  buf: Buffer = Buffer.alloc(0);
  off = 0;
  overflow = false;
  limit = 0;
  q!: Query;
  readonly seenImg: Array<ZoneImage | null> = [];
  readonly seenNode: number[] = [];
  readonly seenOff: number[] = [];
  seenCount = 0;

  ownerPointer(img: ZoneImage, node: number): number {
    // A suffix of the question name (the zone apex, a delegation point): point into the question.
    const qn = this.q.qname;
    const d = img.labels(node);
    const L = qn.labelCount;
    if (d <= L) {
      const rel = d === L ? 0 : qn.labelOffs[L - d]!;
      const len = img.nameLength(node);
      if (qn.end - qn.off - rel === len && equalsFoldedRange(qn.buf, qn.off + rel, img.names, img.nameOffset(node), len)) return 12 + rel;
    }
    for (let i = 0; i < this.seenCount; i++) if (this.seenNode[i] === node && this.seenImg[i] === img) return this.seenOff[i]!;
    return -1;
  }

  writeOwner(img: ZoneImage, node: number): void {
    const ptr = this.ownerPointer(img, node);
    if (ptr >= 0) {
      if (this.off + 2 > this.limit) { this.overflow = true; return; }
      this.buf[this.off++] = 0xc0 | (ptr >> 8);
      this.buf[this.off++] = ptr & 0xff;
      return;
    }
    if (this.off < 0x3fff) {
      this.seenImg[this.seenCount] = img;
      this.seenNode[this.seenCount] = node;
      this.seenOff[this.seenCount++] = this.off;
    }
    const start = img.nameOffset(node);
    this.copy(img.names, start, start + img.nameLength(node));
  }

  copy(src: Buffer, start: number, end: number): void {
    if (this.off + (end - start) > this.limit) { this.overflow = true; return; }
    src.copy(this.buf, this.off, start, end);
    this.off += end - start;
  }

  /**
   * Records `base` … `base + count - 1` of `offs`/`data`; owned by the question name they are rotated by
   * `rotation` (multi-address answers spread over resolvers), otherwise written in order with the owner.
   */
  records(data: Buffer, offs: ArrayLike<number>, base: number, count: number, rotation: number, ownerImg: ZoneImage | null, ownerNode: number): void {
    const first = ownerImg === null ? rotation % count : 0;
    for (let k = 0; k < count && !this.overflow; k++) {
      let r = first + k;
      if (r >= count) r -= count;
      if (ownerImg === null) {
        if (this.off + 2 > this.limit) { this.overflow = true; return; }
        this.buf[this.off++] = 0xc0;
        this.buf[this.off++] = 0x0c;
      } else {
        this.writeOwner(ownerImg, ownerNode);
      }
      this.copy(data, offs[base + r]!, offs[base + r + 1]!);
    }
  }

  /** Writes a section; returns the number of RRs written. */
  section(sec: Section, rotation: number): number {
    let n = 0;
    for (let i = 0; i < sec.count && !this.overflow; i++) {
      const count = sec.records(i);
      this.records(sec.data(i), sec.offsets(i), sec.base(i), count, rotation, sec.ownerImg[i] ?? null, sec.ownerNode[i]!);
      n += count;
    }
    return n;
  }
}

const writer = new Writer();

function writeHeader(buf: Buffer, q: Query, flags: number, an: number, ns: number, ar: number): void {
  buf[0] = q.id >> 8;
  buf[1] = q.id & 0xff;
  buf[2] = flags >> 8;
  buf[3] = flags & 0xff;
  buf[4] = 0;
  buf[5] = 1;
  buf[6] = an >> 8;
  buf[7] = an & 0xff;
  buf[8] = ns >> 8;
  buf[9] = ns & 0xff;
  buf[10] = ar >> 8;
  buf[11] = ar & 0xff;
}

/** OPT RR (RFC 6891 §6.1.2): our payload size, extended rcode bits, DO echoed (RFC 3225), ECS echoed with scope. */
function writeOpt(buf: Buffer, off: number, q: Query, rcode: number, payload: number, ecsScope: number): number {
  buf[off] = 0;
  buf[off + 1] = 0;
  buf[off + 2] = TYPE.OPT;
  buf[off + 3] = payload >> 8;
  buf[off + 4] = payload & 0xff;
  buf[off + 5] = rcode >> 4;
  buf[off + 6] = 0;
  buf[off + 7] = q.dnssecOk ? 0x80 : 0;
  buf[off + 8] = 0;
  let rdlen = 0;
  if (q.ecs) {
    const o = off + 11;
    buf[o] = 0;
    buf[o + 1] = OPT_ECS;
    const optLen = 4 + q.ecsAddrLen;
    buf[o + 2] = optLen >> 8;
    buf[o + 3] = optLen & 0xff;
    buf[o + 4] = q.ecsFamily >> 8;
    buf[o + 5] = q.ecsFamily & 0xff;
    buf[o + 6] = q.ecsSource;
    buf[o + 7] = ecsScope;
    q.ecsAddr.copy(buf, o + 8, 0, q.ecsAddrLen);
    rdlen = 4 + optLen;
  }
  buf[off + 9] = rdlen >> 8;
  buf[off + 10] = rdlen & 0xff;
  return off + 11 + rdlen;
}

/**
 * Write the response for `q` described by `res` into `out` (at least 65535 + OPT_RESERVE bytes). Returns its length.
 * `limit` is the largest message allowed (UDP limit or 65535 for TCP); over it, the additional section is dropped
 * (unless it carries referral glue) and if it still does not fit, TC is set with empty sections (RFC 2181 §9).
 */
export function writeResponse(out: Buffer, q: Query, res: ResponseSections, limit: number, ecsScope: number): number {
  const w = writer;
  const qlen = q.questionEnd - q.questionOff;
  const optLen = q.edns ? 11 + (q.ecs ? 8 + q.ecsAddrLen : 0) : 0;
  const bodyLimit = limit - optLen;
  const rotation = q.id;
  let withAdditional = true;
  for (;;) {
    w.buf = out;
    w.q = q;
    w.limit = bodyLimit < out.length - OPT_RESERVE ? bodyLimit : out.length - OPT_RESERVE;
    w.overflow = false;
    w.seenCount = 0;
    w.off = 12;
    w.copy(q.questionBuf, q.questionOff, q.questionOff + qlen);
    const an = w.section(res.answer, rotation);
    const ns = w.section(res.authority, rotation);
    const ar = withAdditional ? w.section(res.additional, rotation) : 0;
    if (!w.overflow) {
      let off = w.off;
      if (q.edns) off = writeOpt(out, off, q, res.rcode, q.serverPayload, ecsScope);
      writeHeader(out, q, responseFlags(q, res.aa, false, res.rcode), an, ns, ar + (q.edns ? 1 : 0));
      return off;
    }
    if (withAdditional && !res.referral && res.additional.count > 0) {
      withAdditional = false;
      continue;
    }
    return writeTruncated(out, q, res.aa, res.rcode, ecsScope);
  }
}

/** Header + question (+ OPT) with TC set: the client retries over TCP. Also used for RRL slip. */
export function writeTruncated(out: Buffer, q: Query, aa: boolean, rcode: number, ecsScope: number): number {
  const qlen = q.questionEnd - q.questionOff;
  q.questionBuf.copy(out, 12, q.questionOff, q.questionOff + qlen);
  let off = 12 + qlen;
  if (q.edns) off = writeOpt(out, off, q, rcode, q.serverPayload, ecsScope);
  writeHeader(out, q, responseFlags(q, aa, true, rcode), 0, 0, q.edns ? 1 : 0);
  return off;
}

/** A response with only header, question (if any) and OPT: errors like REFUSED, NOTIMP, FORMERR, BADVERS. */
export function writeError(out: Buffer, q: Query, rcode: number, withQuestion: boolean): number {
  let off = 12;
  if (withQuestion) {
    const qlen = q.questionEnd - q.questionOff;
    q.questionBuf.copy(out, 12, q.questionOff, q.questionOff + qlen);
    off += qlen;
  }
  if (q.edns) off = writeOpt(out, off, q, rcode, q.serverPayload, 0);
  writeHeader(out, q, responseFlags(q, false, false, rcode), 0, 0, q.edns ? 1 : 0);
  if (!withQuestion) { out[4] = 0; out[5] = 0; }
  return off;
}

/**
 * Turn a written response into its truncated form in place (RRL "slip", RFC 8020-independent): keep header and
 * question, set TC, drop every section. Works on fast-path and general-codec output alike. Returns the new length.
 */
export function truncateInPlace(buf: Buffer, len: number): number {
  if (len < 12) return len;
  let off = 12;
  if (buf[4] === 0 && buf[5] === 1) {
    while (off < len && buf[off] !== 0) {
      if ((buf[off]! & 0xc0) !== 0) { off += 1; break; }
      off += buf[off]! + 1;
    }
    off += 5;
    if (off > len) return len;
  } else {
    buf[4] = 0; buf[5] = 0;
  }
  buf[2]! |= FLAG_TC >> 8;
  buf[6] = 0; buf[7] = 0; buf[8] = 0; buf[9] = 0; buf[10] = 0; buf[11] = 0;
  return off;
}
