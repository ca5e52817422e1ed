// Record data model shared by zone files, YAML config and both response encoders.
// Owns: the typed RData shapes (deliberately the same shapes dns-packet uses, so the general codec can encode them)
// and the hand-written rdata → wire encoder the fast path precompiles from. Never does I/O.
import dnsPacket from 'dns-packet';
import { CLASS_IN, TYPE } from './types.js';
import { encodeName } from './name.js';
import { parseIPv4, parseIPv6 } from '../net/address.js';

export interface SoaData { mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number }
export interface MxData { preference: number; exchange: string }
export interface SrvData { priority: number; weight: number; port: number; target: string }
export interface CaaData { flags: number; tag: string; value: string }

/**
 * Record data by type:
 * A/AAAA: address string; NS/CNAME/PTR: absolute name (presentation, no trailing dot);
 * MX/SRV/CAA/SOA: objects above; TXT: array of character-strings as Buffers; any other type: raw rdata Buffer.
 */
export type RData = string | SoaData | MxData | SrvData | CaaData | Buffer[] | Buffer;

/** One resource record as loaded from config or a master file. Names are absolute, presentation form, no trailing dot ("." is the root). */
export interface ZoneRecord {
  name: string;
  type: number;
  ttl: number;
  data: RData;
}

function u16(n: number): Buffer { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; }
function u32(n: number): Buffer { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; }

/** Where ipv6Bytes parses; compile time is single-threaded. */
const v6Words = new Uint32Array(4);

// Addresses arrive already checked (rdata-text, the config schema): a bad one here is a bug, so it throws as
// encodeName does for a bad name rather than encoding garbage.
function ipv4Bytes(s: string): Buffer {
  const v = parseIPv4(s);
  if (v < 0) throw new Error(`"${s}" is not an IPv4 address`);
  return u32(v);
}

function ipv6Bytes(s: string): Buffer {
  if (!parseIPv6(s, v6Words)) throw new Error(`"${s}" is not an IPv6 address`);
  const out = Buffer.alloc(16);
  for (let i = 0; i < 4; i++) out.writeUInt32BE(v6Words[i]!, 4 * i);
  return out;
}

function charString(b: Buffer | string): Buffer {
  const s = typeof b === 'string' ? Buffer.from(b) : b;
  return Buffer.concat([Buffer.from([s.length]), s]);
}

/** Encode record data to wire form (uncompressed names, RFC 3597 §4), at compile time. */
export function encodeRdata(type: number, data: RData): Buffer {
  switch (type) {
    case TYPE.A: return ipv4Bytes(data as string);
    case TYPE.AAAA: return ipv6Bytes(data as string);
    case TYPE.NS: case TYPE.CNAME: case TYPE.PTR: return encodeName(data as string);
    case TYPE.MX: {
      const d = data as MxData;
      return Buffer.concat([u16(d.preference), encodeName(d.exchange)]);
    }
    case TYPE.SRV: {
      const d = data as SrvData;
      return Buffer.concat([u16(d.priority), u16(d.weight), u16(d.port), encodeName(d.target)]);
    }
    case TYPE.TXT: return Buffer.concat((data as Buffer[]).map(charString));
    case TYPE.CAA: {
      const d = data as CaaData;
      return Buffer.concat([Buffer.from([d.flags]), charString(d.tag), Buffer.from(d.value)]);
    }
    case TYPE.SOA: {
      const d = data as SoaData;
      return Buffer.concat([encodeName(d.mname), encodeName(d.rname), u32(d.serial), u32(d.refresh), u32(d.retry), u32(d.expire), u32(d.minimum)]);
    }
    default: return data as Buffer;
  }
}

/**
 * encodeRdata written at out[at] (room for 65535 bytes); returns the length. Addresses (most of a large zone) are
 * written in place; other types are encoded and copied.
 */
export function encodeRdataInto(type: number, data: RData, out: Buffer, at: number): number {
  if (type === TYPE.A) {
    const v = parseIPv4(data as string);
    if (v < 0) throw new Error(`"${String(data)}" is not an IPv4 address`);
    out.writeUInt32BE(v >>> 0, at);
    return 4;
  }
  const b = encodeRdata(type, data);
  b.copy(out, at);
  return b.length;
}

/** Names inside rdata that additional-section processing looks up (RFC 1035 §3.3: NS, MX; RFC 2782: SRV). */
export function additionalTarget(type: number, data: RData): string | undefined {
  switch (type) {
    case TYPE.NS: return data as string;
    case TYPE.MX: return (data as MxData).exchange;
    case TYPE.SRV: return (data as SrvData).target;
    default: return undefined;
  }
}

/** dns-packet's rdata codecs: decode(buf, offset of RDLENGTH) → the same shapes as RData. */
interface RdataCodec { decode(buf: Buffer, offset: number): unknown }
// dns-packet's typings do not list its per-type codecs; these are the ones whose shapes RData mirrors.
const packet = dnsPacket as unknown as Record<string, RdataCodec>;
const CODECS = new Map<number, RdataCodec>([
  [TYPE.A, packet.a!], [TYPE.AAAA, packet.aaaa!], [TYPE.NS, packet.ns!], [TYPE.CNAME, packet.cname!], [TYPE.PTR, packet.ptr!],
  [TYPE.MX, packet.mx!], [TYPE.SRV, packet.srv!], [TYPE.TXT, packet.txt!], [TYPE.SOA, packet.soa!], [TYPE.CAA, packet.caa!],
]);

/** A record body as zone images hold it (TYPE CLASS TTL RDLENGTH RDATA, class IN) around RDATA in wire form. */
export function encodeBody(type: number, ttl: number, rdata: Buffer): Buffer {
  const body = Buffer.alloc(10 + rdata.length);
  body.writeUInt16BE(type, 0);
  body.writeUInt16BE(CLASS_IN, 2);
  body.writeUInt32BE(ttl, 4);
  body.writeUInt16BE(rdata.length, 8);
  rdata.copy(body, 10);
  return body;
}

/**
 * A record body as zone images hold it (TYPE CLASS TTL RDLENGTH RDATA at buf[at]) → the record, for the API,
 * explain, export and logs (allocates; never on the query path). `name` is the owner.
 */
export function decodeBody(name: string, buf: Buffer, at: number): ZoneRecord {
  const type = buf.readUInt16BE(at);
  const ttl = buf.readUInt32BE(at + 4);
  const len = buf.readUInt16BE(at + 8);
  const codec = CODECS.get(type);
  let data: RData;
  if (codec === undefined) data = Buffer.from(buf.subarray(at + 10, at + 10 + len));
  else if (type === TYPE.CAA) {
    const c = codec.decode(buf, at + 8) as CaaData;
    data = { flags: c.flags, tag: c.tag, value: c.value };
  } else data = codec.decode(buf, at + 8) as RData;
  return { name, type, ttl, data };
}
