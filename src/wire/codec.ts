// The general codec: any message the fast parser declines goes through dns-packet here.
// Owns: the error decisions for unusual messages (FORMERR, NOTIMP, BADVERS, REFUSED for other classes, dropping
// responses) and encoding a Resolution with dns-packet. Slower than the fast path and allowed to allocate; never throws.
import dnsPacket from 'dns-packet';
import packetTypes from 'dns-packet/types.js';
import packetClasses from 'dns-packet/classes.js';
import { nameToLabels } from './name.js';
import { Query, readEcs, OPT_ECS } from './query.js';
import { CLASS_IN, KNOWN_TYPES, OPCODE, RCODE, TYPE } from './types.js';
import { responseFlags, FLAG_QR } from './response.js';
import type { Resolution, Section } from '../dns/lookup.js';
import type { RRset, NameNode } from '../dns/zone.js';

export const GENERAL_DROP = 0;
export const GENERAL_RESOLVE = 1;
export const GENERAL_ERROR = 2;

/** What the general parser learnt beyond the Query fields. */
export interface GeneralInfo {
  /** The question name as decoded (case kept), when there is exactly one question. */
  qnameText: string | null;
}

// dns-packet's typings describe its objects loosely; these are the shapes we exchange with it.
interface PacketRecord { name: string; type: string; class?: string; ttl?: number; data?: unknown; udpPayloadSize?: number; extendedRcode?: number; ednsVersion?: number; flags?: number; options?: Array<{ code: number; data?: Buffer }> }
interface Packet { id?: number; type?: string; flags?: number; questions?: Array<{ name: string; type: string; class?: string }>; answers?: PacketRecord[]; authorities?: PacketRecord[]; additionals?: PacketRecord[] }


function typeForPacket(type: number): string {
  // Types we hold as raw RFC 3597 data must be encoded raw even where dns-packet has a typed codec for them.
  const name = packetTypes.toString(type);
  return KNOWN_TYPES[name] === type ? name : `UNKNOWN_${type}`;
}

/**
 * Parse any message into `q`. GENERAL_DROP: send nothing (not a query, or too short to answer);
 * GENERAL_ERROR: answer with q.forcedRcode; GENERAL_RESOLVE: q is a valid query to look up.
 */
export function parseQueryGeneral(msg: Buffer, q: Query, info: GeneralInfo): number {
  info.qnameText = null;
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
  let packet: ReturnType<typeof dnsPacket.decode>;
  try {
    packet = dnsPacket.decode(msg);
  } catch {
    q.forcedRcode = RCODE.FORMERR;
    return GENERAL_ERROR;
  }
  const p = packet as unknown as Packet;
  const questions = p.questions ?? [];
  if (questions.length === 1) {
    const qq = questions[0]!;
    info.qnameText = qq.name;
    q.qtype = packetTypes.toType(qq.type);
    q.qclass = packetClasses.toClass(qq.class ?? 'IN');
  }
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
        if (q.ecs || !readEcs(data, 0, data.length, q)) return formerr(q, info);
      }
    }
  }
  if (q.opcode !== OPCODE.QUERY) {
    q.forcedRcode = RCODE.NOTIMP;
    return GENERAL_ERROR;
  }
  if (questions.length !== 1 || (p.answers ?? []).length > 0 || (p.authorities ?? []).length > 0) return formerr(q, info);
  if ((p.additionals ?? []).length !== opts.length) {
    // Additional records other than OPT (e.g. TSIG) are not handled by a plain query: ignore them, as BIND does.
  }
  let labels: Buffer[];
  try {
    labels = nameToLabels(info.qnameText ?? '');
  } catch {
    return formerr(q, info);
  }
  const wire = Buffer.concat([...labels.flatMap((l) => [Buffer.from([l.length]), l]), Buffer.from([0])]);
  const qn = q.qname;
  qn.buf = wire;
  qn.off = 0;
  qn.end = wire.length;
  let o = 0;
  for (let i = 0; i < labels.length; i++) {
    qn.labelOffs[i] = o;
    o += labels[i]!.length + 1;
  }
  qn.labelCount = labels.length;
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

function formerr(q: Query, info: GeneralInfo): number {
  q.forcedRcode = RCODE.FORMERR;
  info.qnameText = null;
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

function ownerName(owner: NameNode | null, qnameText: string): string {
  return owner === null ? qnameText : owner.name;
}

function sectionRecords(sec: Section, qnameText: string, rotation: number): PacketRecord[] {
  const out: PacketRecord[] = [];
  for (let i = 0; i < sec.count; i++) {
    const rrset: RRset = sec.rrsets[i]!;
    const owner = sec.owners[i]!;
    const n = rrset.records.length;
    const start = owner === null ? rotation % n : 0;
    for (let k = 0; k < n; k++) {
      const r = rrset.records[(start + k) % n]!;
      out.push({ name: ownerName(owner, qnameText), type: typeForPacket(r.type), class: 'IN', ttl: r.ttl, data: r.data });
    }
  }
  return out;
}

function question(q: Query, info: GeneralInfo): Array<{ name: string; type: string; class: string }> {
  if (info.qnameText === null) return [];
  return [{ name: info.qnameText, type: packetTypes.toString(q.qtype), class: packetClasses.toString(q.qclass) }];
}

/** Encode the answer for a resolved query with dns-packet, applying the same truncation rules as the fast path. */
export function encodeResponseGeneral(q: Query, info: GeneralInfo, res: Resolution, limit: number, ecsScope: number): Buffer {
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
