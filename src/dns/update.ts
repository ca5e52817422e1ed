// Dynamic update (RFC 2136): the UPDATE message read into its sections, prerequisites checked against a zone as it
// is now, permission asked of the zone's policy (update-policy.ts), and the update section turned into the RRsets it
// leaves. Owns the RFC's rules (§3.2 prerequisites, §3.4 prescan and processing: CNAME exclusivity, SOA and apex NS).
// Pure: it reads a ZoneView and returns what changes; committing, serials and publishing are the caller's. Every
// outcome of a message is all of it or none of it.
import { canonicalName, isAtOrBelow, readName, wireToName } from '../wire/name.js';
import { decodeBody, encodeRdata, type RData, type SoaData, type ZoneRecord } from '../wire/rdata.js';
import { CLASS_IN, OPCODE, RCODE, TYPE, typeName } from '../wire/types.js';

export const CLASS_NONE = 254;
export const CLASS_ANY = 255;
/** RCODEs of RFC 2136 beyond RFC 1035's. */
export const UPDATE_RCODE = { YXDOMAIN: 6, YXRRSET: 7, NXRRSET: 8, NOTAUTH: 9, NOTZONE: 10 } as const;
/** RFC 8914 INFO-CODEs used in refusals. */
export const EDE = { OTHER: 0, PROHIBITED: 18, NOT_AUTHORITATIVE: 20 } as const;

/** One record of the prerequisite or update section. `record` is null when it has no RDATA (class ANY/NONE forms). */
export interface UpdateRR { name: string; type: number; klass: number; ttl: number; record: ZoneRecord | null }

/** An UPDATE message read: the zone it names, its prerequisites and updates, and the zone section to echo. */
export interface UpdateMessage {
  id: number;
  zone: string;
  /** The zone section's bytes (name, type, class) as received, uncompressed: echoed in the response. */
  zoneSection: Buffer;
  prereqs: UpdateRR[];
  updates: UpdateRR[];
  /** The request carried OPT: the response may carry an extended error (RFC 8914). */
  edns: boolean;
}

/** A refusal or failure: the rcode and, for the operator and RFC 8914's EXTRA-TEXT, why. */
export interface UpdateFailure { rcode: number; info: number; reason: string }

/** What a zone holds now, as UPDATE sees it: the records at a name (canonical), and whether a policy name is there. */
export interface ZoneView {
  readonly origin: string;
  records(name: string): readonly ZoneRecord[];
  /** The pool behind policy name `name`, or null when it is not one. */
  policyPool(name: string): string | null;
}

/** Decides whether an update RR may be made (update-policy.ts): null when it may, else why not. */
export interface UpdatePermission {
  check(name: string, type: number): string | null;
  /** The most records the RRset at (name, type) may have after the update (Infinity: no cap). */
  maxRecords(name: string, type: number): number;
}

/** The RRsets an update leaves at the (name, type) pairs it changed: records now ([] for deleted). */
export interface UpdateResult { changed: Map<string, Map<number, ZoneRecord[]>>; soa: ZoneRecord | null }

const scratch = Buffer.alloc(256);

function fail(rcode: number, reason: string, info: number = EDE.OTHER): UpdateFailure {
  return { rcode, info, reason };
}

/** Read an UPDATE message (unsigned: its TSIG already taken off). FORMERR for anything RFC 2136 §3.1/§3.8 rejects. */
export function parseUpdate(msg: Buffer): UpdateMessage | UpdateFailure {
  if (msg.length < 12) return fail(RCODE.FORMERR, 'the message is shorter than a DNS header');
  if (((msg.readUInt16BE(2) >> 11) & 0xf) !== OPCODE.UPDATE) return fail(RCODE.FORMERR, 'not an UPDATE');
  const zo = msg.readUInt16BE(4);
  const counts = [msg.readUInt16BE(6), msg.readUInt16BE(8), msg.readUInt16BE(10)] as const;
  if (zo !== 1) return fail(RCODE.FORMERR, `the zone section has ${zo} entries; RFC 2136 wants exactly one`);
  const z = readName(msg, 12, scratch);
  if (z === null || z[0] + 4 > msg.length) return fail(RCODE.FORMERR, 'the zone section is malformed');
  const zoneSection = Buffer.concat([scratch.subarray(0, z[1]), msg.subarray(z[0], z[0] + 4)]);
  if (msg.readUInt16BE(z[0]) !== TYPE.SOA) return fail(RCODE.FORMERR, 'the zone section must have type SOA');
  if (msg.readUInt16BE(z[0] + 2) !== CLASS_IN) return fail(RCODE.NOTAUTH, 'only class IN zones are served', EDE.NOT_AUTHORITATIVE);
  const zone = canonicalName(wireToName(scratch, 0));
  let p = z[0] + 4;
  const sections: UpdateRR[][] = [[], []];
  let edns = false;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s]!; i++) {
      const r = readRR(msg, p);
      if (r === null) return fail(RCODE.FORMERR, `record ${i + 1} of the ${['prerequisite', 'update', 'additional'][s]} section is malformed`);
      p = r.end;
      if (s < 2) sections[s]!.push(r.rr);
      else if (r.rr.type === TYPE.OPT) edns = true;
    }
  }
  if (p !== msg.length) return fail(RCODE.FORMERR, 'bytes follow the last record');
  return { id: msg.readUInt16BE(0), zone, zoneSection, prereqs: sections[0]!, updates: sections[1]!, edns };
}

/** One resource record at msg[p]; its RDATA decoded (names in it may be compressed) when it has any. */
function readRR(msg: Buffer, p: number): { rr: UpdateRR; end: number } | null {
  const n = readName(msg, p, scratch);
  if (n === null || n[0] + 10 > msg.length) return null;
  const at = n[0];
  const name = canonicalName(wireToName(scratch, 0));
  const type = msg.readUInt16BE(at);
  const klass = msg.readUInt16BE(at + 2);
  const ttl = msg.readUInt32BE(at + 4);
  const len = msg.readUInt16BE(at + 8);
  const end = at + 10 + len;
  if (end > msg.length) return null;
  let record: ZoneRecord | null = null;
  if (len > 0 && type !== TYPE.OPT) {
    try {
      record = decodeBody(name, msg, at);
      // Re-encoding checks what was decoded: a codec that read past a short RDATA would not give the same bytes back.
      if (!isDomainType(type) && encodeRdata(type, record.data).length !== len) return null;
    } catch {
      return null;
    }
  }
  return { rr: { name, type, klass, ttl, record }, end };
}

function isDomainType(type: number): boolean {
  return type === TYPE.NS || type === TYPE.CNAME || type === TYPE.PTR || type === TYPE.MX || type === TYPE.SOA || type === TYPE.SRV;
}

/** Two records' RDATA compared as RFC 2136 §1.1 says: byte for byte, names in it without regard to case. */
export function rdataKey(type: number, data: RData): string {
  return encodeRdata(type, lowerNames(type, data)).toString('hex');
}

function lowerNames(type: number, data: RData): RData {
  switch (type) {
    case TYPE.NS: case TYPE.CNAME: case TYPE.PTR: return (data as string).toLowerCase();
    case TYPE.MX: { const d = data as { preference: number; exchange: string }; return { ...d, exchange: d.exchange.toLowerCase() }; }
    case TYPE.SRV: { const d = data as { priority: number; weight: number; port: number; target: string }; return { ...d, target: d.target.toLowerCase() }; }
    case TYPE.SOA: { const d = data as SoaData; return { ...d, mname: d.mname.toLowerCase(), rname: d.rname.toLowerCase() }; }
    default: return data;
  }
}

/** Meta types and QTYPEs no update adds (RFC 2136 §3.4.1.2). */
function isMeta(type: number): boolean {
  return type === TYPE.ANY || type === TYPE.AXFR || type === TYPE.IXFR || type === 253 || type === 254 || type === TYPE.OPT || (type >= 128 && type <= 255);
}

/** The zone as the message changes it: RRsets by name and type, read from the view when first touched. */
class WorkingZone {
  private readonly names = new Map<string, Map<number, ZoneRecord[]>>();
  private readonly original = new Map<string, Map<number, ZoneRecord[]>>();
  constructor(readonly view: ZoneView) {}

  at(name: string): Map<number, ZoneRecord[]> {
    let m = this.names.get(name);
    if (m === undefined) {
      m = new Map();
      for (const r of this.view.records(name)) {
        const list = m.get(r.type);
        if (list) list.push(r);
        else m.set(r.type, [r]);
      }
      const copy = new Map<number, ZoneRecord[]>();
      for (const [t, l] of m) copy.set(t, [...l]);
      this.original.set(name, copy);
      this.names.set(name, m);
    }
    return m;
  }

  /** Every (name, type) whose records differ from the view's, with its records now. */
  changes(): Map<string, Map<number, ZoneRecord[]>> {
    const out = new Map<string, Map<number, ZoneRecord[]>>();
    for (const [name, now] of this.names) {
      const was = this.original.get(name)!;
      for (const type of new Set([...now.keys(), ...was.keys()])) {
        const a = now.get(type) ?? [];
        const b = was.get(type) ?? [];
        if (sameRRset(a, b)) continue;
        let m = out.get(name);
        if (m === undefined) out.set(name, (m = new Map()));
        m.set(type, a);
      }
    }
    return out;
  }
}

function sameRRset(a: readonly ZoneRecord[], b: readonly ZoneRecord[]): boolean {
  if (a.length !== b.length) return false;
  if (a.length > 0 && a[0]!.ttl !== b[0]!.ttl) return false;
  const x = new Set(a.map((r) => rdataKey(r.type, r.data)));
  return b.every((r) => x.has(rdataKey(r.type, r.data)));
}

/** Check the prerequisites (RFC 2136 §3.2) against the zone as it is: null when they all hold. */
export function checkPrerequisites(u: UpdateMessage, view: ZoneView): UpdateFailure | null {
  const origin = view.origin;
  const valueDependent = new Map<string, ZoneRecord[]>();
  for (const rr of u.prereqs) {
    const shown = `${rr.name} ${typeName(rr.type)}`;
    if (rr.ttl !== 0) return fail(RCODE.FORMERR, `prerequisite ${shown} has TTL ${rr.ttl}; RFC 2136 wants 0`);
    if (!isAtOrBelow(rr.name, origin)) return fail(UPDATE_RCODE.NOTZONE, `prerequisite ${rr.name} is outside zone ${origin}`);
    const at = view.records(rr.name);
    if (rr.klass === CLASS_ANY || rr.klass === CLASS_NONE) {
      if (rr.record !== null) return fail(RCODE.FORMERR, `prerequisite ${shown} of class ${rr.klass === CLASS_ANY ? 'ANY' : 'NONE'} must have no RDATA`);
      const any = rr.type === TYPE.ANY;
      const present = any ? at.length > 0 : at.some((r) => r.type === rr.type);
      if (rr.klass === CLASS_ANY && !present) return any ? fail(RCODE.NXDOMAIN, `prerequisite: ${rr.name} is not in use`) : fail(UPDATE_RCODE.NXRRSET, `prerequisite: no ${typeName(rr.type)} RRset at ${rr.name}`);
      if (rr.klass === CLASS_NONE && present) return any ? fail(UPDATE_RCODE.YXDOMAIN, `prerequisite: ${rr.name} is in use`) : fail(UPDATE_RCODE.YXRRSET, `prerequisite: a ${typeName(rr.type)} RRset exists at ${rr.name}`);
    } else if (rr.klass === CLASS_IN) {
      if (rr.record === null || isMeta(rr.type)) return fail(RCODE.FORMERR, `prerequisite ${shown} of class IN needs RDATA of a data type`);
      const key = `${rr.name}\0${rr.type}`;
      const list = valueDependent.get(key);
      if (list) list.push(rr.record);
      else valueDependent.set(key, [rr.record]);
    } else return fail(RCODE.FORMERR, `prerequisite ${shown} has class ${rr.klass}`);
  }
  // Value-dependent: the RRset must be exactly these records (TTLs aside), §3.2.3.
  for (const [key, want] of valueDependent) {
    const [name, t] = key.split('\0') as [string, string];
    const type = Number(t);
    const have = view.records(name).filter((r) => r.type === type);
    const wantKeys = new Set(want.map((r) => rdataKey(type, r.data)));
    const haveKeys = new Set(have.map((r) => rdataKey(type, r.data)));
    if (wantKeys.size !== haveKeys.size || [...wantKeys].some((k) => !haveKeys.has(k))) return fail(UPDATE_RCODE.NXRRSET, `prerequisite: the ${typeName(type)} RRset at ${name} is not the one given`);
  }
  return null;
}

/** The update section's format checks (RFC 2136 §3.4.1): null when every RR may be applied. */
export function prescan(u: UpdateMessage, origin: string): UpdateFailure | null {
  for (const rr of u.updates) {
    const shown = `${rr.name} ${typeName(rr.type)}`;
    if (!isAtOrBelow(rr.name, origin)) return fail(UPDATE_RCODE.NOTZONE, `update ${rr.name} is outside zone ${origin}`);
    if (rr.klass === CLASS_IN) {
      if (isMeta(rr.type) || rr.record === null) return fail(RCODE.FORMERR, `update ${shown}: an add needs RDATA of a data type`);
    } else if (rr.klass === CLASS_ANY) {
      if (rr.ttl !== 0 || rr.record !== null || rr.type === TYPE.AXFR || rr.type === TYPE.IXFR || rr.type === 253 || rr.type === 254) return fail(RCODE.FORMERR, `update ${shown}: a delete of class ANY needs TTL 0 and no RDATA`);
    } else if (rr.klass === CLASS_NONE) {
      if (rr.ttl !== 0 || rr.record === null || isMeta(rr.type)) return fail(RCODE.FORMERR, `update ${shown}: a delete of class NONE needs TTL 0 and RDATA`);
    } else return fail(RCODE.FORMERR, `update ${shown} has class ${rr.klass}`);
  }
  return null;
}

/** Ask the policy about every update RR (RFC 2136 §3.3): null when all are permitted. */
export function checkPermission(u: UpdateMessage, view: ZoneView, permission: UpdatePermission): UpdateFailure | null {
  for (const rr of u.updates) {
    // A delete of every type at a name is checked type by type once it is known what it deletes (applyUpdates).
    const why = rr.type === TYPE.ANY ? null : permission.check(rr.name, rr.type);
    if (why !== null) return fail(RCODE.REFUSED, why, EDE.PROHIBITED);
    const pool = view.policyPool(rr.name);
    if (pool !== null) return fail(RCODE.REFUSED, `${rr.name} is a policy name (pool ${pool} answers it): its records are not changed by UPDATE`, EDE.PROHIBITED);
    if (rr.type === TYPE.NS && rr.name !== view.origin) return fail(RCODE.REFUSED, `update ${rr.name} NS: delegations are made in the configuration, not by UPDATE`, EDE.PROHIBITED);
  }
  return null;
}

/** Apply the update section (RFC 2136 §3.4.2) to the zone as it is: the RRsets it leaves, or why it cannot be. */
export function applyUpdates(u: UpdateMessage, view: ZoneView, permission: UpdatePermission): UpdateResult | UpdateFailure {
  const origin = view.origin;
  const zone = new WorkingZone(view);
  let soa: ZoneRecord | null = null;
  for (const rr of u.updates) {
    const m = zone.at(rr.name);
    const apex = rr.name === origin;
    if (rr.klass === CLASS_IN) {
      const r = { ...rr.record!, name: rr.name, ttl: rr.ttl };
      if (rr.type === TYPE.SOA) {
        // Only the apex has one, and only a newer serial replaces it (RFC 1982 arithmetic).
        const cur = m.get(TYPE.SOA)?.[0];
        if (apex && cur && serialGreater((r.data as SoaData).serial, (cur.data as SoaData).serial)) { m.set(TYPE.SOA, [r]); soa = r; }
        continue;
      }
      const hasCname = (m.get(TYPE.CNAME)?.length ?? 0) > 0;
      const hasOther = [...m].some(([t, l]) => t !== TYPE.CNAME && l.length > 0);
      if (rr.type === TYPE.CNAME ? hasOther : hasCname) continue; // §3.4.2.2: ignored, not an error
      const list = m.get(rr.type) ?? [];
      const key = rdataKey(rr.type, r.data);
      const kept = list.filter((x) => rdataKey(x.type, x.data) !== key);
      if (rr.type === TYPE.CNAME) kept.length = 0; // one CNAME per name: the new one replaces
      // One TTL per RRset (RFC 2181 §5.2): the TTL of the latest add is the RRset's.
      m.set(rr.type, [...kept.map((x) => ({ ...x, ttl: rr.ttl })), r]);
    } else if (rr.klass === CLASS_ANY) {
      for (const t of rr.type === TYPE.ANY ? [...m.keys()] : [rr.type]) {
        if (apex && (t === TYPE.SOA || t === TYPE.NS)) continue; // §3.4.2.3
        m.delete(t);
      }
    } else {
      if (apex && rr.type === TYPE.SOA) continue;
      const list = m.get(rr.type) ?? [];
      const key = rdataKey(rr.type, rr.record!.data);
      const kept = list.filter((x) => rdataKey(x.type, x.data) !== key);
      if (apex && rr.type === TYPE.NS && kept.length === 0) continue; // the zone keeps its last NS (§3.4.2.4)
      m.set(rr.type, kept);
    }
  }
  const changed = zone.changes();
  for (const [name, types] of changed) {
    for (const [type, records] of types) {
      const why = permission.check(name, type);
      if (why !== null) return fail(RCODE.REFUSED, why, EDE.PROHIBITED);
      const cap = permission.maxRecords(name, type);
      if (records.length > cap) return fail(RCODE.REFUSED, `the ${typeName(type)} RRset at ${name} would have ${records.length} records; the policy allows ${cap}`, EDE.PROHIBITED);
    }
  }
  return { changed, soa };
}

/** RFC 1982: a is greater than b in 32-bit serial arithmetic. */
export function serialGreater(a: number, b: number): boolean {
  return a !== b && ((a > b && a - b < 0x80000000) || (a < b && b - a > 0x80000000));
}

/**
 * The response to an UPDATE (RFC 2136 §3.8): the request's ID, opcode and zone section, the rcode, and an extended
 * error (RFC 8914) saying why when the request had EDNS and there is a reason.
 */
export function updateResponse(u: Pick<UpdateMessage, 'id' | 'zoneSection' | 'edns'> | null, id: number, rcode: number, failure?: UpdateFailure): Buffer {
  const text = u?.edns && failure ? Buffer.from(failure.reason.slice(0, 400), 'utf8') : null;
  const zoneLen = u?.zoneSection.length ?? 0;
  const opt = text === null ? (u?.edns ? 11 : 0) : 11 + 4 + 2 + text.length;
  const out = Buffer.alloc(12 + zoneLen + opt);
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(0x8000 | (OPCODE.UPDATE << 11) | (rcode & 0xf), 2);
  out.writeUInt16BE(u ? 1 : 0, 4);
  out.writeUInt16BE(opt > 0 ? 1 : 0, 10);
  let p = 12;
  if (u) p += u.zoneSection.copy(out, p);
  if (opt > 0) {
    p += 1; // root owner
    p = out.writeUInt16BE(TYPE.OPT, p);
    p = out.writeUInt16BE(1232, p);
    p = out.writeUInt32BE(((rcode >> 4) & 0xff) << 24, p);
    p = out.writeUInt16BE(text === null ? 0 : 6 + text.length, p);
    if (text !== null) {
      p = out.writeUInt16BE(15, p); // EDE
      p = out.writeUInt16BE(2 + text.length, p);
      p = out.writeUInt16BE(failure!.info, p);
      text.copy(out, p);
    }
  }
  return out;
}

/** An error response to an UPDATE message as received (its zone section echoed when it can be read). */
export function updateFailure(msg: Buffer, rcode: number, failure?: UpdateFailure): Buffer {
  const u = parseUpdate(msg);
  const id = msg.length >= 2 ? msg.readUInt16BE(0) : 0;
  return updateResponse('rcode' in u ? null : u, id, rcode, failure);
}
