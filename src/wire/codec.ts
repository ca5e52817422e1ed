// The general codec: any message the fast parser declines goes through dns-packet here.
// Owns: the error decisions for unusual messages (FORMERR, NOTIMP, BADVERS, REFUSED for other classes, dropping
// responses) and encoding resolved ResponseSections with dns-packet. Slower than the fast path and allowed to allocate; never throws.
import dnsPacket from 'dns-packet';
import packetTypes from 'dns-packet/types.js';
import packetClasses from 'dns-packet/classes.js';
import { readName, isPlainWireName } from './name.js';
import { Query, readEcs, OPT_ECS } from './query.js';
import { CLASS_IN, OPCODE, RCODE, TYPE } from './types.js';
import { responseFlags, FLAG_QR } from './response.js';
import type { ResponseSections, Section } from './sections.js';

export const GENERAL_DROP = 0;
export const GENERAL_RESOLVE = 1;
export const GENERAL_ERROR = 2;

/** What the general parser learnt beyond the Query fields. */
export interface GeneralInfo {
  /** The question name in dns-packet's text form, when there is exactly one question. */
  qnameText: string | null;
  /**
   * False when dns-packet's text form cannot carry the question (a label with ".", "\", control or non-ASCII bytes,
   * or a class it has no name for): such answers are written by our own writer from the question's wire bytes.
   */
  packetSafe: boolean;
  /** Rejected from the header counts alone, before any decoding (bounded work for hostile messages). */
  early: boolean;
}

// dns-packet's typings describe its objects loosely; these are the shapes we exchange with it.
interface PacketRecord { name: string; type: string; class?: string; ttl?: number; data?: unknown; udpPayloadSize?: number; extendedRcode?: number; ednsVersion?: number; flags?: number; options?: Array<{ code: number; data?: Buffer }> }
interface Packet { id?: number; type?: string; flags?: number; questions?: Array<{ name: string; type: string; class?: string }>; answers?: PacketRecord[]; authorities?: PacketRecord[]; additionals?: PacketRecord[] }

/** A plain query has OPT and perhaps TSIG in the additional section; more than this is not a query we answer. */
const MAX_ADDITIONAL = 4;
/** Classes dns-packet names (IN, CS, CH, HS, ANY); others would be echoed as 0. */
const PACKET_CLASSES = new Set([1, 2, 3, 4, 255]);

/**
 * Parse any message into `q`. GENERAL_DROP: send nothing (not a query, or too short to answer);
 * GENERAL_ERROR: answer with q.forcedRcode; GENERAL_RESOLVE: q is a valid query to look up.
 */
export function parseQueryGeneral(msg: Buffer, q: Query, info: GeneralInfo): number {
  info.qnameText = null;
  info.packetSafe = true;
  info.early = false;
  q.resetEdns();
  q.questionEnd = 0;
  q.questionOff = 0;
  q.qtype = 0;
  q.qclass = 0;
  if (msg.length < 12) return GENERAL_DROP;
  q.id = msg.readUInt16BE(0);
  q.flags = msg.readUInt16BE(2);
  q.opcode = (q.flags >> 11) & 0xf;
  if ((q.flags & FLAG_QR) !== 0) return GENERAL_DROP; // never answer a response: no reflection loops
  const qd = msg.readUInt16BE(4);
  const an = msg.readUInt16BE(6);
  const ns = msg.readUInt16BE(8);
  const ar = msg.readUInt16BE(10);
  // The question, read from the raw bytes: what we look up and echo is exactly what was asked.
  const hasQuestion = qd === 1 && readQuestion(msg, q, info);
  if (q.opcode !== OPCODE.QUERY) {
    q.forcedRcode = RCODE.NOTIMP;
    return GENERAL_ERROR;
  }
  if (qd !== 1 || an > 0 || ns > 0 || ar > MAX_ADDITIONAL || !hasQuestion) {
    // Decided from the header alone: a hostile message costs no decoding work (pointer chains are quadratic).
    info.early = true;
    return formerr(q, info);
  }
  let packet: ReturnType<typeof dnsPacket.decode>;
  try {
    packet = dnsPacket.decode(msg);
  } catch {
    return formerr(q, info);
  }
  const p = packet as unknown as Packet;
  const opts = (p.additionals ?? []).filter((r) => r.type === 'OPT');
  if (opts.length > 1) return formerr(q, info);
  if (opts.length === 1) {
    const opt = opts[0]!;
    if (opt.name !== '.') return formerr(q, info);
    q.edns = true;
    q.ednsPayload = opt.udpPayloadSize ?? 512;
    q.ednsVersion = opt.ednsVersion ?? 0;
    q.dnssecOk = ((opt.flags ?? 0) & 0x8000) !== 0;
    if (q.ednsVersion > 0) {
      // RFC 6891 §6.1.3: BADVERS, answered with our version (0).
      q.ednsVersion = 0;
      q.forcedRcode = RCODE.BADVERS;
      return GENERAL_ERROR;
    }
    for (const o of opt.options ?? []) {
      if (o.code === OPT_ECS) {
        const data = o.data ?? Buffer.alloc(0);
        if (q.ecs || !readEcs(data, 0, data.length, q)) {
          q.ecs = false;
          return formerr(q, info);
        }
      }
    }
  }
  if (q.qclass !== CLASS_IN) {
    q.forcedRcode = RCODE.REFUSED;
    return GENERAL_ERROR;
  }
  if (q.qtype === TYPE.AXFR || q.qtype === TYPE.IXFR || q.qtype === TYPE.OPT) {
    // Zone transfer needs TCP and a transfer policy; OPT is not a question type (RFC 6891 §6.1.1).
    q.forcedRcode = q.qtype === TYPE.OPT ? RCODE.FORMERR : RCODE.NOTIMP;
    return GENERAL_ERROR;
  }
  return GENERAL_RESOLVE;
}

const nameScratch = Buffer.alloc(256);

/** Fill q's question (uncompressed copy) and name view from the raw message; false when malformed. */
function readQuestion(msg: Buffer, q: Query, info: GeneralInfo): boolean {
  const r = readName(msg, 12, nameScratch);
  if (r === null) return false;
  const [end, len] = r;
  if (end + 4 > msg.length) return false;
  const question = Buffer.alloc(len + 4);
  nameScratch.copy(question, 0, 0, len);
  msg.copy(question, len, end, end + 4);
  q.questionBuf = question;
  q.questionOff = 0;
  q.questionEnd = question.length;
  q.qtype = question.readUInt16BE(len);
  q.qclass = question.readUInt16BE(len + 2);
  const qn = q.qname;
  qn.buf = question;
  qn.off = 0;
  qn.end = len;
  let o = 0;
  let labels = 0;
  while (question[o] !== 0) {
    qn.labelOffs[labels++] = o;
    o += question[o]! + 1;
  }
  qn.labelCount = labels;
  info.packetSafe = isPlainWireName(question, len) && PACKET_CLASSES.has(q.qclass);
  if (info.packetSafe) {
    const parts: string[] = [];
    for (let i = 0; i < labels; i++) {
      const off = qn.labelOffs[i]!;
      parts.push(question.toString('latin1', off + 1, off + 1 + question[off]!));
    }
    info.qnameText = labels === 0 ? '.' : parts.join('.');
  }
  return true;
}

function formerr(q: Query, info: GeneralInfo): number {
  q.forcedRcode = RCODE.FORMERR;
  // RFC 6891 §7: a FORMERR need not echo the question; we do not, since it may be what was malformed.
  info.qnameText = null;
  q.questionEnd = q.questionOff;
  return GENERAL_ERROR;
}

function optRecord(q: Query, rcode: number, ecsScope: number): PacketRecord {
  const options: Array<{ code: number; data: Buffer }> = [];
  if (q.ecs) {
    const data = Buffer.alloc(4 + q.ecsAddrLen);
    data.writeUInt16BE(q.ecsFamily, 0);
    data[2] = q.ecsSource;
    data[3] = ecsScope;
    q.ecsAddr.copy(data, 4, 0, q.ecsAddrLen);
    options.push({ code: OPT_ECS, data });
  }
  return {
    name: '.', type: 'OPT', udpPayloadSize: q.serverPayload, extendedRcode: rcode >> 4, ednsVersion: 0,
    flags: q.dnssecOk ? 0x8000 : 0, options,
  };
}

function ownerName(sec: Section, i: number, qnameText: string): string {
  const img = sec.ownerImg[i] ?? null;
  return img === null ? qnameText : img.nodeName(sec.ownerNode[i]!);
}

/**
 * The records of a section for dns-packet. Rdata goes as the bytes we hold (RFC 3597 form, type UNKNOWN_n): dns-packet
 * compresses no names inside rdata, so this is byte for byte what a typed encoding would write.
 */
function sectionRecords(sec: Section, qnameText: string, rotation: number): PacketRecord[] {
  const out: PacketRecord[] = [];
  for (let i = 0; i < sec.count; i++) {
    const name = ownerName(sec, i, qnameText);
    const data = sec.data(i);
    const offs = sec.offsets(i);
    const base = sec.base(i);
    const n = sec.records(i);
    const start = sec.ownerImg[i] == null ? rotation % n : 0;
    for (let k = 0; k < n; k++) {
      const at = offs[base + ((start + k) % n)]!;
      const type = data.readUInt16BE(at);
      const rdlen = data.readUInt16BE(at + 8);
      out.push({ name, type: `UNKNOWN_${type}`, class: 'IN', ttl: data.readUInt32BE(at + 4), data: data.subarray(at + 10, at + 10 + rdlen) });
    }
  }
  return out;
}

function question(q: Query, info: GeneralInfo): Array<{ name: string; type: string; class: string }> {
  if (info.qnameText === null) return [];
  return [{ name: info.qnameText, type: packetTypes.toString(q.qtype), class: packetClasses.toString(q.qclass) }];
}

/** Encode the answer for a resolved query with dns-packet, applying the same truncation rules as the fast path. */
export function encodeResponseGeneral(q: Query, info: GeneralInfo, res: ResponseSections, limit: number, ecsScope: number): Buffer {
  const qname = info.qnameText ?? '.';
  const base = { id: q.id, type: 'response', questions: question(q, info) };
  const opt = q.edns ? [optRecord(q, res.rcode, ecsScope)] : [];
  const answers = sectionRecords(res.answer, qname, q.id);
  const authorities = sectionRecords(res.authority, qname, q.id);
  const additional = sectionRecords(res.additional, qname, q.id);
  const flags = responseFlags(q, res.aa, false, res.rcode) & 0x7fff;
  const full = encode({ ...base, flags, answers, authorities, additionals: [...additional, ...opt] });
  if (full.length <= limit) return full;
  if (!res.referral && additional.length > 0) {
    const trimmed = encode({ ...base, flags, answers, authorities, additionals: opt });
    if (trimmed.length <= limit) return trimmed;
  }
  return encode({ ...base, flags: responseFlags(q, res.aa, true, res.rcode) & 0x7fff, answers: [], authorities: [], additionals: opt });
}

/** Encode an error response (FORMERR, NOTIMP, REFUSED, BADVERS…): header, the question when there was one, OPT. */
export function encodeErrorGeneral(q: Query, info: GeneralInfo, rcode: number): Buffer {
  const additionals = q.edns ? [optRecord(q, rcode, 0)] : [];
  return encode({ id: q.id, type: 'response', flags: responseFlags(q, false, false, rcode) & 0x7fff, questions: question(q, info), answers: [], authorities: [], additionals });
}

function encode(p: Packet): Buffer {
  return dnsPacket.encode(p as unknown as Parameters<typeof dnsPacket.encode>[0]);
}
