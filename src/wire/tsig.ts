// TSIG (RFC 8945): transaction signatures with shared keys, on node:crypto's HMAC. Owns: the key ring, finding the
// TSIG record of a message, verifying a request (MAC first, then time) and signing a response to it. Knows nothing
// of zones or of what the message asks; the responder decides what to answer, this decides how it is signed.
import crypto from 'node:crypto';
import { encodeName, foldWire, readName } from './name.js';

export const TYPE_TSIG = 250;
const CLASS_ANY = 255;
/** TSIG error codes (RFC 8945 §3). */
export const TSIG_BADSIG = 16;
export const TSIG_BADKEY = 17;
export const TSIG_BADTIME = 18;
/** The fudge we sign with and the one BIND, Knot and nsupdate use. */
export const FUDGE = 300;

/** The algorithms and the names they have on the wire; hmac-md5 keeps its historic name. */
export const TSIG_ALGORITHMS = {
  'hmac-md5': { wire: 'hmac-md5.sig-alg.reg.int', hash: 'md5', size: 16 },
  'hmac-sha1': { wire: 'hmac-sha1', hash: 'sha1', size: 20 },
  'hmac-sha224': { wire: 'hmac-sha224', hash: 'sha224', size: 28 },
  'hmac-sha256': { wire: 'hmac-sha256', hash: 'sha256', size: 32 },
  'hmac-sha384': { wire: 'hmac-sha384', hash: 'sha384', size: 48 },
  'hmac-sha512': { wire: 'hmac-sha512', hash: 'sha512', size: 64 },
} as const;
export type TsigAlgorithm = keyof typeof TSIG_ALGORITHMS;

export interface TsigKeyConfig { name: string; algorithm: TsigAlgorithm; secret: string }

export interface TsigKey {
  /** The key's name as configured (for logs; never the secret). */
  readonly name: string;
  readonly algorithm: TsigAlgorithm;
  /** Canonical (lower-case, uncompressed) wire forms, as the MAC covers them. */
  readonly nameWire: Buffer;
  readonly algorithmWire: Buffer;
  readonly hash: string;
  readonly size: number;
  readonly secret: Buffer;
}

/** The configured keys, found by their canonical wire name. */
export class TsigKeyring {
  private readonly byName = new Map<string, TsigKey>();
  constructor(keys: readonly TsigKeyConfig[]) {
    for (const k of keys) {
      const a = TSIG_ALGORITHMS[k.algorithm];
      const nameWire = foldWire(encodeName(k.name));
      this.byName.set(nameWire.toString('latin1'), {
        name: k.name, algorithm: k.algorithm, nameWire, algorithmWire: encodeName(a.wire), hash: a.hash, size: a.size,
        secret: Buffer.from(k.secret, 'base64'),
      });
    }
  }
  get size(): number { return this.byName.size; }
  find(nameWire: Buffer): TsigKey | undefined { return this.byName.get(nameWire.toString('latin1')); }
}

/** A TSIG record as found in a message. Names are canonical (lower-case, uncompressed) wire forms. */
export interface TsigRecord {
  /** Offset of the record in the message: what precedes it is what the MAC covers. */
  start: number;
  keyName: Buffer;
  algorithm: Buffer;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
}

/** The message's TSIG record is malformed, or not where RFC 8945 puts it (the last additional record). */
export const TSIG_MALFORMED = 'malformed';

const scratch = Buffer.alloc(256);

/** Where the RR at `p` ends (its rdata skipped), with its type; null when it runs off the message. */
function skipRecord(msg: Buffer, p: number): { type: number; klass: number; ttl: number; rdata: number; end: number } | null {
  const r = readName(msg, p, scratch);
  if (r === null || r[0] + 10 > msg.length) return null;
  const at = r[0];
  const rdlen = msg.readUInt16BE(at + 8);
  if (at + 10 + rdlen > msg.length) return null;
  return { type: msg.readUInt16BE(at), klass: msg.readUInt16BE(at + 2), ttl: msg.readUInt32BE(at + 4), rdata: at + 10, end: at + 10 + rdlen };
}

/**
 * The TSIG record of a message: null when it has none, TSIG_MALFORMED when one is present but broken or not the
 * last record (RFC 8945 §5.1: FORMERR). Walks every section, so it is for messages that have additional records.
 */
export function findTsig(msg: Buffer): TsigRecord | null | typeof TSIG_MALFORMED {
  if (msg.length < 12) return null;
  const qd = msg.readUInt16BE(4);
  const rrs = msg.readUInt16BE(6) + msg.readUInt16BE(8) + msg.readUInt16BE(10);
  let p = 12;
  for (let i = 0; i < qd; i++) {
    const r = readName(msg, p, scratch);
    if (r === null || r[0] + 4 > msg.length) return null;
    p = r[0] + 4;
  }
  for (let i = 0; i < rrs; i++) {
    const start = p;
    const rr = skipRecord(msg, p);
    if (rr === null) return null;
    p = rr.end;
    if (rr.type !== TYPE_TSIG) continue;
    if (i !== rrs - 1 || msg.readUInt16BE(10) === 0 || rr.klass !== CLASS_ANY || rr.ttl !== 0 || p !== msg.length) return TSIG_MALFORMED;
    return parseTsig(msg, start, rr.rdata, rr.end);
  }
  return null;
}

function parseTsig(msg: Buffer, start: number, rdata: number, end: number): TsigRecord | typeof TSIG_MALFORMED {
  const owner = readName(msg, start, scratch);
  if (owner === null) return TSIG_MALFORMED;
  const keyName = foldWire(Buffer.from(scratch.subarray(0, owner[1])));
  // The algorithm name is never compressed (RFC 8945 §4.2), but reading it as if it could be costs nothing.
  const alg = readName(msg, rdata, scratch);
  if (alg === null) return TSIG_MALFORMED;
  const algorithm = foldWire(Buffer.from(scratch.subarray(0, alg[1])));
  let p = alg[0];
  if (p + 10 > end) return TSIG_MALFORMED;
  const timeSigned = msg.readUIntBE(p, 6);
  const fudge = msg.readUInt16BE(p + 6);
  const macSize = msg.readUInt16BE(p + 8);
  p += 10;
  if (p + macSize + 6 > end) return TSIG_MALFORMED;
  const mac = Buffer.from(msg.subarray(p, p + macSize));
  p += macSize;
  const originalId = msg.readUInt16BE(p);
  const error = msg.readUInt16BE(p + 2);
  const otherLen = msg.readUInt16BE(p + 4);
  p += 6;
  if (p + otherLen !== end) return TSIG_MALFORMED;
  return { start, keyName, algorithm, timeSigned, fudge, mac, originalId, error, other: Buffer.from(msg.subarray(p, end)) };
}

/** The message as signed: without its TSIG record, ARCOUNT one less, and the ID the signer gave it. */
export function unsigned(msg: Buffer, t: TsigRecord): Buffer {
  const out = Buffer.from(msg.subarray(0, t.start));
  out.writeUInt16BE(t.originalId, 0);
  out.writeUInt16BE(msg.readUInt16BE(10) - 1, 10);
  return out;
}

/** The key's HMAC over `parts`, in order. */
function hmac(key: TsigKey, parts: readonly Buffer[]): Buffer {
  const h = crypto.createHmac(key.hash, key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** The TSIG variables (RFC 8945 §4.3.3) of a record with these fields. */
function variables(key: TsigKey, timeSigned: number, fudge: number, error: number, other: Buffer): Buffer {
  const v = Buffer.alloc(key.nameWire.length + 6 + key.algorithmWire.length + 12 + other.length);
  let p = key.nameWire.copy(v, 0);
  p = v.writeUInt16BE(CLASS_ANY, p);
  p = v.writeUInt32BE(0, p);
  p += key.algorithmWire.copy(v, p);
  p = v.writeUIntBE(timeSigned, p, 6);
  p = v.writeUInt16BE(fudge, p);
  p = v.writeUInt16BE(error, p);
  p = v.writeUInt16BE(other.length, p);
  other.copy(v, p);
  return v;
}

/** The outcome of verifying a request: ok, or the TSIG error to answer with (FORMERR as rcode 1). */
export type TsigVerdict =
  | { ok: true; key: TsigKey; record: TsigRecord }
  | { ok: false; error: number; formerr: boolean; key: TsigKey | null; record: TsigRecord };

/**
 * Verify a request's TSIG (RFC 8945 §5.2): the key, then the MAC (its size first: longer than the hash or shorter
 * than max(10, half the hash) is FORMERR), then the time within the fudge. `now` in seconds.
 */
export function verifyRequest(msg: Buffer, t: TsigRecord, keys: TsigKeyring | null, now: number): TsigVerdict {
  const key = keys?.find(t.keyName);
  if (key === undefined || !key.algorithmWire.equals(t.algorithm)) return { ok: false, error: TSIG_BADKEY, formerr: false, key: null, record: t };
  const size = t.mac.length;
  if (size > key.size || size < Math.max(10, key.size / 2)) return { ok: false, error: 0, formerr: true, key, record: t };
  const mac = hmac(key, [unsigned(msg, t), variables(key, t.timeSigned, t.fudge, t.error, t.other)]).subarray(0, size);
  if (!crypto.timingSafeEqual(mac, t.mac)) return { ok: false, error: TSIG_BADSIG, formerr: false, key, record: t };
  if (Math.abs(now - t.timeSigned) > t.fudge) return { ok: false, error: TSIG_BADTIME, formerr: false, key, record: t };
  return { ok: true, key, record: t };
}

/**
 * `response` with a TSIG record appended (ARCOUNT one more). Signed (RFC 8945 §5.3) with the request's key over the
 * request's MAC, the response and the variables, at `now` (seconds) — except BADKEY and BADSIG, answered unsigned
 * (no MAC). BADTIME is signed, carries the request's time and puts ours in Other Data (§5.2.3), so the client can
 * verify the answer and see the skew.
 */
export function appendTsig(response: Buffer, request: TsigRecord, key: TsigKey | null, error: number, now: number): Buffer {
  return signResponse(response, request, key, error, now).message;
}

/** appendTsig, with the MAC it made (empty when unsigned): what the next message of a multi-message answer chains. */
export function signResponse(response: Buffer, request: TsigRecord, key: TsigKey | null, error: number, now: number): { message: Buffer; mac: Buffer } {
  const keyName = key?.nameWire ?? request.keyName;
  const algorithm = key?.algorithmWire ?? request.algorithm;
  const timeSigned = error === TSIG_BADTIME ? request.timeSigned : now;
  const other = error === TSIG_BADTIME ? Buffer.alloc(6) : Buffer.alloc(0);
  if (error === TSIG_BADTIME) other.writeUIntBE(now, 0, 6);
  let mac: Buffer = Buffer.alloc(0);
  if (key !== null && error !== TSIG_BADKEY && error !== TSIG_BADSIG) {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(request.mac.length);
    mac = hmac(key, [len, request.mac, response, variables(key, timeSigned, FUDGE, error, other)]);
  }
  return { message: withTsig(response, keyName, algorithm, timeSigned, mac, request.originalId, error, other), mac };
}

/**
 * A later message of a multi-message answer (AXFR, IXFR over TCP), signed per RFC 8945 §5.3.1: the MAC covers the
 * previous message's MAC, this message and the timers only (time signed, fudge). Returns it with its MAC.
 */
export function signContinued(response: Buffer, request: TsigRecord, key: TsigKey, priorMac: Buffer, now: number): { message: Buffer; mac: Buffer } {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(priorMac.length);
  const timers = Buffer.alloc(8);
  timers.writeUIntBE(now, 0, 6);
  timers.writeUInt16BE(FUDGE, 6);
  const mac = hmac(key, [len, priorMac, response, timers]);
  return { message: withTsig(response, key.nameWire, key.algorithmWire, now, mac, request.originalId, 0, Buffer.alloc(0)), mac };
}

/** `msg` with a TSIG record of these fields appended, ARCOUNT one more. */
function withTsig(msg: Buffer, keyName: Buffer, algorithm: Buffer, timeSigned: number, mac: Buffer, originalId: number, error: number, other: Buffer): Buffer {
  const rdlen = algorithm.length + 16 + mac.length + other.length;
  const out = Buffer.alloc(msg.length + keyName.length + 10 + rdlen);
  msg.copy(out, 0);
  let p = msg.length + keyName.copy(out, msg.length);
  p = out.writeUInt16BE(TYPE_TSIG, p);
  p = out.writeUInt16BE(CLASS_ANY, p);
  p = out.writeUInt32BE(0, p);
  p = out.writeUInt16BE(rdlen, p);
  p += algorithm.copy(out, p);
  p = out.writeUIntBE(timeSigned, p, 6);
  p = out.writeUInt16BE(FUDGE, p);
  p = out.writeUInt16BE(mac.length, p);
  p += mac.copy(out, p);
  p = out.writeUInt16BE(originalId, p);
  p = out.writeUInt16BE(error, p);
  p = out.writeUInt16BE(other.length, p);
  other.copy(out, p);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}

/**
 * A request signed as a client signs it (RFC 8945 §5.1): MAC over the message and the variables, the TSIG record
 * appended. `macSize` truncates the MAC (§5.2.2.1). For NOTIFY, transfers we ask for, and tests.
 */
export function signRequest(msg: Buffer, key: TsigKey, now: number, macSize = key.size): { message: Buffer; mac: Buffer } {
  const mac = hmac(key, [msg, variables(key, now, FUDGE, 0, Buffer.alloc(0))]).subarray(0, macSize);
  return { message: withTsig(msg, key.nameWire, key.algorithmWire, now, mac, msg.readUInt16BE(0), 0, Buffer.alloc(0)), mac };
}

/** How many bytes appendTsig adds for `key` (room a UDP response must leave for it). */
export function tsigLength(key: TsigKey | null, request: TsigRecord): number {
  const keyName = key?.nameWire ?? request.keyName;
  const algorithm = key?.algorithmWire ?? request.algorithm;
  return keyName.length + 10 + algorithm.length + 16 + (key?.size ?? 0) + 6;
}

/**
 * Verify a response to a request we signed (a transfer we asked for): the first message's MAC covers the request's
 * MAC, the message and the variables; a later one's the previous MAC, the message and the timers (RFC 8945 §5.3.1).
 * Returns its MAC, for the next, or why it does not verify.
 */
export function verifyResponse(msg: Buffer, key: TsigKey, priorMac: Buffer, first: boolean, now: number): { ok: true; mac: Buffer } | { ok: false; error: string } {
  const t = findTsig(msg);
  if (t === null) return { ok: false, error: 'the message is not signed' };
  if (t === TSIG_MALFORMED) return { ok: false, error: 'its TSIG record is malformed' };
  if (!t.keyName.equals(key.nameWire) || !t.algorithm.equals(key.algorithmWire)) return { ok: false, error: 'it is signed with another key' };
  if (t.error !== 0) return { ok: false, error: `the server reports TSIG error ${t.error}` };
  const len = Buffer.alloc(2);
  len.writeUInt16BE(priorMac.length);
  let tail: Buffer;
  if (first) tail = variables(key, t.timeSigned, t.fudge, t.error, t.other);
  else {
    tail = Buffer.alloc(8);
    tail.writeUIntBE(t.timeSigned, 0, 6);
    tail.writeUInt16BE(t.fudge, 6);
  }
  const mac = hmac(key, [len, priorMac, unsigned(msg, t), tail]);
  if (t.mac.length < Math.max(10, key.size / 2) || !crypto.timingSafeEqual(mac.subarray(0, t.mac.length), t.mac)) return { ok: false, error: 'its MAC does not verify (BADSIG)' };
  if (Math.abs(now - t.timeSigned) > t.fudge) return { ok: false, error: 'it was signed outside the fudge (BADTIME)' };
  return { ok: true, mac: t.mac };
}
