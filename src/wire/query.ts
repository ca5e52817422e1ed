// The parsed form of a DNS query, and the fast parser that fills it straight from the packet.
// Owns: the Query view (one reused instance per listener) and RFC 6891/7871 checks on OPT and ECS.
// The fast parser accepts only the common shape (one question, optional OPT) and declines everything else to the
// general codec; it never allocates and never throws.
import { CLASS_IN, TYPE } from './types.js';

/** The question name as wire bytes in some buffer, with label start offsets (relative to `off`). */
export class QuestionName {
  buf: Buffer = Buffer.alloc(0);
  off = 0;
  end = 0;
  readonly labelOffs = new Int32Array(128);
  labelCount = 0;
}

export const OPT_ECS = 8;

export class Query {
  id = 0;
  /** Header flags word as received (QR..RCODE). */
  flags = 0;
  opcode = 0;
  qtype = 0;
  qclass = 0;
  readonly qname = new QuestionName();
  /** Offset just past QTYPE/QCLASS in the query buffer: the question is copied verbatim (case preserved, 0x20). */
  questionEnd = 0;
  /** The question exactly as received (name, type, class): for the fast writer to copy. */
  questionBuf: Buffer = Buffer.alloc(0);
  questionOff = 0;
  edns = false;
  ednsPayload = 0;
  ednsVersion = 0;
  dnssecOk = false;
  ecs = false;
  ecsFamily = 0;
  ecsSource = 0;
  /** The ECS address bytes, ceil(source/8) of them. */
  readonly ecsAddr = Buffer.alloc(16);
  ecsAddrLen = 0;
  /** Set by the general parser when the query is well formed but must be answered with this rcode. */
  forcedRcode = -1;
  /** Our advertised EDNS payload size (config), echoed in every OPT we send. */
  serverPayload = 1232;

  resetEdns(): void {
    this.edns = false;
    this.ednsPayload = 0;
    this.ednsVersion = 0;
    this.dnssecOk = false;
    this.ecs = false;
    this.ecsFamily = 0;
    this.ecsSource = 0;
    this.ecsAddrLen = 0;
    this.forcedRcode = -1;
  }
}

export const FAST_OK = 0;
export const FAST_DECLINE = 1;

/**
 * Validate an ECS option body (RFC 7871 §6, §7.1.1) and record it in `q`. Returns false when malformed (FORMERR).
 */
export function readEcs(buf: Buffer, off: number, len: number, q: Query): boolean {
  if (len < 4) return false;
  const family = buf.readUInt16BE(off);
  const source = buf[off + 2]!;
  const scope = buf[off + 3]!;
  const maxBits = family === 1 ? 32 : family === 2 ? 128 : -1;
  if (maxBits < 0 || source > maxBits || scope !== 0) return false;
  const addrLen = (source + 7) >> 3;
  if (len - 4 !== addrLen) return false;
  // Bits beyond SOURCE PREFIX-LENGTH must be zero.
  if (addrLen > 0 && (source & 7) !== 0) {
    const mask = 0xff >> (source & 7);
    if ((buf[off + 4 + addrLen - 1]! & mask) !== 0) return false;
  }
  q.ecs = true;
  q.ecsFamily = family;
  q.ecsSource = source;
  q.ecsAddrLen = addrLen;
  buf.copy(q.ecsAddr, 0, off + 4, off + 4 + addrLen);
  return true;
}

/**
 * Parse the common query shape into `q`. FAST_DECLINE means "let the general codec decide" (it also produces the
 * errors: FORMERR, NOTIMP, BADVERS…), never that the packet is bad. The message is msg[0, len): a transport that
 * receives into fixed slots passes the slot and the datagram's length.
 */
export function parseQueryFast(msg: Buffer, q: Query, len = msg.length): number {
  if (len < 17) return FAST_DECLINE;
  const flags = (msg[2]! << 8) | msg[3]!;
  // QR=0, OPCODE=QUERY, TC=0; QDCOUNT=1, ANCOUNT=0, NSCOUNT=0, ARCOUNT<=1.
  if ((flags & 0xfa00) !== 0 || msg[4] !== 0 || msg[5] !== 1 || msg[6] !== 0 || msg[7] !== 0 || msg[8] !== 0 || msg[9] !== 0 || msg[10] !== 0) return FAST_DECLINE;
  const arcount = msg[11]!;
  if (arcount > 1) return FAST_DECLINE;
  const qn = q.qname;
  let p = 12;
  let labels = 0;
  for (;;) {
    if (p >= len) return FAST_DECLINE;
    const l = msg[p]!;
    if (l === 0) break;
    if (l > 63 || labels >= 127) return FAST_DECLINE; // compression pointers and bad labels go the long way
    qn.labelOffs[labels++] = p - 12;
    p += l + 1;
  }
  p++;
  if (p - 12 > 255 || p + 4 > len) return FAST_DECLINE;
  const qtype = (msg[p]! << 8) | msg[p + 1]!;
  const qclass = (msg[p + 2]! << 8) | msg[p + 3]!;
  if (qclass !== CLASS_IN || qtype === TYPE.AXFR || qtype === TYPE.IXFR || qtype === TYPE.OPT) return FAST_DECLINE;
  qn.buf = msg;
  qn.off = 12;
  qn.end = p;
  qn.labelCount = labels;
  p += 4;
  q.questionEnd = p;
  q.id = (msg[0]! << 8) | msg[1]!;
  q.flags = flags;
  q.opcode = 0;
  q.qtype = qtype;
  q.qclass = qclass;
  q.questionBuf = msg;
  q.questionOff = 12;
  q.resetEdns();
  if (arcount === 0) return p === len ? FAST_OK : FAST_DECLINE;
  // OPT pseudo-RR: root owner, TYPE 41, CLASS = payload size, TTL = ext-rcode/version/flags.
  if (p + 11 > len || msg[p] !== 0 || msg[p + 1] !== 0 || msg[p + 2] !== TYPE.OPT) return FAST_DECLINE;
  const payload = (msg[p + 3]! << 8) | msg[p + 4]!;
  const version = msg[p + 6]!;
  if (version !== 0 || msg[p + 5] !== 0) return FAST_DECLINE;
  const rdlen = (msg[p + 9]! << 8) | msg[p + 10]!;
  let o = p + 11;
  const end = o + rdlen;
  if (end !== len) return FAST_DECLINE;
  q.edns = true;
  q.ednsPayload = payload;
  q.ednsVersion = 0;
  q.dnssecOk = (msg[p + 7]! & 0x80) !== 0;
  while (o < end) {
    if (o + 4 > end) return FAST_DECLINE;
    const code = (msg[o]! << 8) | msg[o + 1]!;
    const olen = (msg[o + 2]! << 8) | msg[o + 3]!;
    o += 4;
    if (o + olen > end) return FAST_DECLINE;
    if (code === OPT_ECS) {
      if (q.ecs || !readEcs(msg, o, olen, q)) return FAST_DECLINE;
    }
    o += olen;
  }
  return FAST_OK;
}
