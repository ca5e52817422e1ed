// Zone transfer messages (AXFR, RFC 5936; IXFR, RFC 1995): reading a transfer query, and writing a zone, or the
// differences since a serial, as a sequence of response messages of bounded size. Owns the wire layout of transfers:
// SOA first and last, records taken as the zone images hold them (uncompressed), each message a whole number of
// records. Knows nothing of who may transfer (update-policy.ts) or where differences come from (the journal).
import { encodeName, readName, wireToName, canonicalName } from '../wire/name.js';
import { encodeBody, encodeRdata, type SoaData, type ZoneRecord } from '../wire/rdata.js';
import { CLASS_IN, RCODE, TYPE } from '../wire/types.js';
import { APEX, type ZoneImage } from '../wire/image.js';
import { forEachServedNode, type ZoneLayers } from './zone.js';

/** A transfer request: the zone, AXFR or IXFR, the question to echo, and (IXFR) the serial the client has. */
export interface TransferQuery {
  id: number;
  zone: string;
  type: number;
  question: Buffer;
  /** IXFR: the SOA serial in the query's authority section. */
  serial: number | null;
  /** The largest UDP response the client takes (512 without EDNS). */
  payload: number;
  edns: boolean;
}

/** Bytes of record data per message: well under 64 KB, leaving room for a TSIG record. */
export const TRANSFER_MESSAGE_BYTES = 16_384;

const scratch = Buffer.alloc(256);

/** Where the record at `p` ends, with its type and class; null when it runs off the message. */
function skipRR(msg: Buffer, p: number): { type: number; end: number; rdata: number } | null {
  const n = readName(msg, p, scratch);
  if (n === null || n[0] + 10 > msg.length) return null;
  const end = n[0] + 10 + msg.readUInt16BE(n[0] + 8);
  return end > msg.length ? null : { type: msg.readUInt16BE(n[0]), end, rdata: n[0] + 10 };
}

/** Read an AXFR or IXFR query (its TSIG already taken off); FORMERR for what cannot be one. */
export function parseTransferQuery(msg: Buffer): TransferQuery | { rcode: number } {
  if (msg.length < 12 || msg.readUInt16BE(4) !== 1) return { rcode: RCODE.FORMERR };
  const q = readName(msg, 12, scratch);
  if (q === null || q[0] + 4 > msg.length) return { rcode: RCODE.FORMERR };
  const zone = canonicalName(wireToName(scratch, 0));
  const question = Buffer.concat([scratch.subarray(0, q[1]), msg.subarray(q[0], q[0] + 4)]);
  const type = msg.readUInt16BE(q[0]);
  if (msg.readUInt16BE(q[0] + 2) !== CLASS_IN) return { rcode: RCODE.REFUSED };
  let p = q[0] + 4;
  let serial: number | null = null;
  let payload = 512;
  let edns = false;
  const an = msg.readUInt16BE(6);
  const ns = msg.readUInt16BE(8);
  const ar = msg.readUInt16BE(10);
  for (let i = 0; i < an + ns + ar; i++) {
    const rr = skipRR(msg, p);
    if (rr === null) return { rcode: RCODE.FORMERR };
    if (i >= an && i < an + ns && rr.type === TYPE.SOA && type === TYPE.IXFR) {
      // The serial follows the two names of the SOA RDATA.
      const m = readName(msg, rr.rdata, scratch);
      const r = m === null ? null : readName(msg, m[0], scratch);
      if (r === null || r[0] + 4 > rr.end) return { rcode: RCODE.FORMERR };
      serial = msg.readUInt32BE(r[0]);
    }
    if (i >= an + ns && rr.type === TYPE.OPT) {
      edns = true;
      const n = readName(msg, p, scratch);
      payload = Math.max(512, msg.readUInt16BE(n![0] + 2));
    }
    p = rr.end;
  }
  if (type === TYPE.IXFR && serial === null) return { rcode: RCODE.FORMERR };
  return { id: msg.readUInt16BE(0), zone, type, question, serial, payload, edns };
}

/** A response header and question: QR and AA set, the query's ID, `rcode`. */
function head(id: number, question: Buffer | null, rcode: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x8400 | (rcode & 0xf), 2);
  h.writeUInt16BE(question === null ? 0 : 1, 4);
  return question === null ? h : Buffer.concat([h, question]);
}

/** An error answer to a transfer query (REFUSED, NOTAUTH, FORMERR), with its question. */
export function transferError(q: TransferQuery, rcode: number): Buffer {
  return head(q.id, q.question, rcode);
}

/** An error answer (`rcode`) to any message: its ID and opcode, its question echoed when it can be read. */
export function errorTo(msg: Buffer, rcode: number): Buffer {
  const q = parseTransferQuery(msg);
  const out = 'rcode' in q ? head(msg.length >= 2 ? msg.readUInt16BE(0) : 0, null, rcode) : transferError(q, rcode);
  out[2] = (out[2]! & 0x87) | (msg.length > 2 ? msg[2]! & 0x78 : 0); // the request's opcode
  return out;
}

/** Fills messages record by record: a new message when the next record would pass `max` bytes. */
class MessageWriter {
  private readonly done: Buffer[] = [];
  private parts: Buffer[] = [];
  private bytes = 0;
  private count = 0;
  constructor(private readonly id: number, private readonly question: Buffer, private readonly max: number) {}

  add(record: Buffer): void {
    if (this.count > 0 && this.bytes + record.length > this.max) this.flush();
    this.parts.push(record);
    this.bytes += record.length;
    this.count++;
  }

  private flush(): void {
    // The question goes in the first message only (RFC 5936 §2.2.1 lets later ones leave it out).
    const h = head(this.id, this.done.length === 0 ? this.question : null, RCODE.NOERROR);
    h.writeUInt16BE(this.count, 6);
    this.done.push(Buffer.concat([h, ...this.parts]));
    this.parts = [];
    this.bytes = 0;
    this.count = 0;
  }

  finish(): Buffer[] {
    if (this.count > 0 || this.done.length === 0) this.flush();
    return this.done;
  }
}

/** A record in wire form (owner uncompressed). */
export function recordWire(r: ZoneRecord): Buffer {
  return Buffer.concat([encodeName(r.name), encodeBody(r.type, r.ttl, encodeRdata(r.type, r.data))]);
}

/** Each record of node `n` of `img`, in wire form; the apex SOA left out (a transfer puts it first and last). */
function nodeWires(img: ZoneImage, n: number, apex: boolean, out: (w: Buffer) => void): void {
  const name = img.names.subarray(img.nameOffset(n), img.nameOffset(n) + img.nameLength(n));
  const first = img.firstRRset(n);
  for (let r = first; r < first + img.rrsetCountOf(n); r++) {
    if (apex && img.type(r) === TYPE.SOA) continue;
    for (let k = 0; k < img.count(r); k++) {
      const rec = img.base(r) + k;
      out(Buffer.concat([name, img.data.subarray(img.recOffs[rec]!, img.recOffs[rec + 1]!)]));
    }
  }
}

/** The zone's SOA record as the layers serve it. */
export function soaOf(layers: ZoneLayers): ZoneRecord | null {
  const top = layers.overlay ?? layers.image;
  const soa = top.rrset(APEX, TYPE.SOA);
  if (soa < 0) return null;
  const at = top.recOffs[top.base(soa)]!;
  return { name: layers.image.origin, type: TYPE.SOA, ttl: top.ttl(soa), data: decodeSoa(top.data, at) };
}

function decodeSoa(data: Buffer, at: number): SoaData {
  const p = at + 10;
  const m = readName(data, p, scratch);
  const mname = wireToName(scratch, 0);
  const r = readName(data, m![0], scratch);
  const rname = wireToName(scratch, 0);
  const q = r![0];
  return { mname, rname, serial: data.readUInt32BE(q), refresh: data.readUInt32BE(q + 4), retry: data.readUInt32BE(q + 8), expire: data.readUInt32BE(q + 12), minimum: data.readUInt32BE(q + 16) };
}

/**
 * Every record the layers serve, apex SOA aside, in wire form: the overlay's names, and the image's names the overlay
 * does not hold; then `extra` (policy names as plain records).
 */
export function zoneWires(layers: ZoneLayers, extra: readonly ZoneRecord[], out: (w: Buffer) => void): void {
  forEachServedNode(layers, (img, n) => nodeWires(img, n, n === APEX, out));
  for (const r of extra) out(recordWire(r));
}

/** An AXFR answer (RFC 5936): SOA, every record, SOA, in messages of at most `max` bytes of records. */
export function axfrMessages(q: TransferQuery, layers: ZoneLayers, extra: readonly ZoneRecord[], max = TRANSFER_MESSAGE_BYTES): Buffer[] {
  const soa = soaOf(layers);
  if (soa === null) return [transferError(q, RCODE.SERVFAIL)];
  const w = new MessageWriter(q.id, q.question, max);
  const soaWire = recordWire(soa);
  w.add(soaWire);
  zoneWires(layers, extra, (r) => w.add(r));
  w.add(soaWire);
  return w.finish();
}

/** One step of a zone's history, as IXFR sends it: the serial before and after, the records out and in. */
export interface IxfrStep { from: number; to: number; removed: readonly Buffer[]; added: readonly Buffer[] }

/**
 * An incremental answer (RFC 1995 §4): the current SOA, then for each step the old SOA, what it removed, the new SOA
 * and what it added, then the current SOA again. No steps (the client is current): the SOA alone.
 */
export function ixfrMessages(q: TransferQuery, soa: ZoneRecord, steps: readonly IxfrStep[], max = TRANSFER_MESSAGE_BYTES): Buffer[] {
  const w = new MessageWriter(q.id, q.question, max);
  const soaAt = (serial: number): Buffer => recordWire({ ...soa, data: { ...(soa.data as SoaData), serial } });
  const current = recordWire(soa);
  w.add(current);
  if (steps.length === 0) return w.finish();
  for (const s of steps) {
    w.add(soaAt(s.from));
    for (const r of s.removed) w.add(r);
    w.add(soaAt(s.to));
    for (const r of s.added) w.add(r);
  }
  w.add(current);
  return w.finish();
}

/** The answer to an IXFR over UDP (RFC 1995 §2): all of it when it fits one message, else the current SOA alone. */
export function ixfrOverUdp(q: TransferQuery, soa: ZoneRecord, messages: readonly Buffer[]): Buffer {
  if (messages.length === 1 && messages[0]!.length <= q.payload - 100) return messages[0]!;
  return ixfrMessages(q, soa, [])[0]!;
}
