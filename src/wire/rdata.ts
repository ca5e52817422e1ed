// Record data model shared by zone files, YAML config and both response encoders.
// Owns: the typed RData shapes (deliberately the same shapes dns-packet uses, so the general codec can encode them)
// and the hand-written rdata → wire encoder the fast path precompiles from. Never does I/O.
import { TYPE } from './types.js';
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

/** Names inside rdata that additional-section processing looks up (RFC 1035 §3.3: NS, MX; RFC 2782: SRV). */
export function additionalTarget(type: number, data: RData): string | undefined {
  switch (type) {
    case TYPE.NS: return data as string;
    case TYPE.MX: return (data as MxData).exchange;
    case TYPE.SRV: return (data as SrvData).target;
    default: return undefined;
  }
}
