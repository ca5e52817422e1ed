// Presentation-format ("master file") rdata → the typed RData shapes of src/wire/rdata.ts, plus the TTL syntax.
// Owns: the token rules shared by zone files and single-line config rdata, name resolution against an origin,
// per-type field parsing and RFC 3597 generic `\# len hex`. Never does I/O and never throws on bad input: every
// problem comes back as an error value whose message names the type and field.
import type { CaaData, MxData, RData, SoaData, SrvData } from '../wire/rdata.js';
import { TYPE, typeName } from '../wire/types.js';
import { labelsToName, NameError, normalizeName } from '../wire/name.js';
import { canonicalIPv4, canonicalIPv6, formatIPv4, formatIPv6 } from '../net/prefix.js';

/** One presentation-format field: text as written (escapes still unresolved), surrounding quotes removed. */
export interface Token {
  text: string;
  quoted: boolean;
}

type Result<T> = { ok: true } & T | { ok: false; error: string };

const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;
/** RFC 2181 §8: TTLs are 31-bit values. */
export const TTL_MAX = 0x7fffffff;

// ---------------------------------------------------------------------------------------------------------------
// Tokens

/** True for characters that end an unquoted token in master-file syntax. */
export function isDelimiter(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n' || ch === '(' || ch === ')' || ch === ';' || ch === '"';
}

/**
 * Read one token starting at `start`, which must be a non-delimiter character or an opening quote. Escapes are
 * kept as written, but a backslash always takes the next character along with it, so `\"`, `\;`, `\(` and `\ `
 * never end a token. Shared by the zone-file lexer and tokenizeRdata so both agree on what a field is.
 */
export function readToken(text: string, start: number): { ok: true; token: Token; end: number } | { ok: false; error: string; end: number } {
  if (text[start] === '"') {
    let i = start + 1;
    while (i < text.length) {
      const ch = text[i]!;
      if (ch === '\\') {
        if (i + 1 >= text.length || text[i + 1] === '\n') break;
        i += 2;
        continue;
      }
      if (ch === '"') return { ok: true, token: { text: text.slice(start + 1, i), quoted: true }, end: i + 1 };
      // A quoted string may not run onto the next line: far more often a forgotten quote than intent.
      if (ch === '\n') break;
      i++;
    }
    return { ok: false, error: 'unterminated quoted string (missing closing ")', end: i };
  }
  let i = start;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '\\') {
      if (i + 1 >= text.length || text[i + 1] === '\n') {
        return { ok: false, error: `dangling backslash at the end of "${text.slice(start, i + 1)}"`, end: i + 1 };
      }
      i += 2;
      continue;
    }
    if (isDelimiter(ch)) break;
    i++;
  }
  return { ok: true, token: { text: text.slice(start, i), quoted: false }, end: i };
}

/**
 * Split single-line rdata as written in the YAML config (`10 mail`, `"v=spf1 -all" "second"`). Parentheses are
 * accepted and ignored when balanced, so a SOA copied from a zone file still works. An unquoted `;` is rejected
 * rather than treated as a comment: in config text it is almost always part of a TXT value that lost its quotes.
 */
export function tokenizeRdata(text: string): { ok: true; tokens: Token[] } | { ok: false; error: string } {
  const tokens: Token[] = [];
  let depth = 0;
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n') {
      i++;
    } else if (ch === '(') {
      depth++;
      i++;
    } else if (ch === ')') {
      if (depth === 0) return { ok: false, error: `")" without a matching "(" in "${text}"` };
      depth--;
      i++;
    } else if (ch === ';') {
      return { ok: false, error: `unquoted ";" in "${text}": put text containing ";" in double quotes` };
    } else {
      const r = readToken(text, i);
      if (!r.ok) return { ok: false, error: `${r.error} in ${JSON.stringify(text)}` };
      tokens.push(r.token);
      i = r.end;
    }
  }
  if (depth !== 0) return { ok: false, error: `"(" without a matching ")" in "${text}"` };
  return { ok: true, tokens };
}

/**
 * Resolve RFC 1035 §5.1 escapes into bytes: `\DDD` is a decimal octet, `\X` is X itself. Other characters
 * contribute their UTF-8 bytes.
 */
export function unescapeText(text: string): { ok: true; bytes: Buffer } | { ok: false; error: string } {
  // Most strings have no escape: encoding the whole string gives the same bytes as encoding it code point by code
  // point (a lone surrogate becomes U+FFFD either way), in one call instead of one per character.
  if (text.indexOf('\\') < 0) return { ok: true, bytes: Buffer.from(text, 'utf8') };
  const out: number[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    const code = text.charCodeAt(i);
    if (code < 0x80 && ch !== '\\') {
      out.push(code);
      i++;
      continue;
    }
    if (ch !== '\\') {
      const cp = text.codePointAt(i)!;
      const s = String.fromCodePoint(cp);
      out.push(...Buffer.from(s, 'utf8'));
      i += s.length;
      continue;
    }
    const next = text[i + 1];
    if (next === undefined) return { ok: false, error: `dangling backslash at the end of "${text}"` };
    if (next >= '0' && next <= '9') {
      const digits = text.slice(i + 1, i + 4);
      if (!/^\d{3}$/.test(digits)) return { ok: false, error: `bad escape "\\${digits}" in "${text}": \\DDD needs exactly three digits` };
      const v = Number(digits);
      if (v > 255) return { ok: false, error: `escape "\\${digits}" in "${text}" is not an octet 0-255` };
      out.push(v);
      i += 4;
      continue;
    }
    const cp = text.codePointAt(i + 1)!;
    const s = String.fromCodePoint(cp);
    out.push(...Buffer.from(s, 'utf8'));
    i += 1 + s.length;
  }
  return { ok: true, bytes: Buffer.from(out) };
}

// ---------------------------------------------------------------------------------------------------------------
// Numbers and TTLs

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

function parseDuration(text: string, max: number): number | undefined {
  if (/^\d+$/.test(text)) {
    const v = Number(text);
    return v <= max ? v : undefined;
  }
  // BIND style: every component carries a unit (1w2d, 1h30m); case-insensitive.
  if (!/^(\d+[smhdw])+$/i.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/(\d+)([smhdw])/gi)) {
    total += Number(m[1]) * UNIT_SECONDS[m[2]!.toLowerCase()]!;
    if (total > max) return undefined;
  }
  return total;
}

/** TTL in seconds from "3600" or BIND units ("1h", "1w2d", "1h30m"); undefined when malformed or above 2^31-1. */
export function parseTtl(text: string): number | undefined {
  return parseDuration(text, TTL_MAX);
}

function parseUint(tok: Token, max: number, field: string): Result<{ value: number }> {
  if (!/^\d+$/.test(tok.text) || Number(tok.text) > max) {
    return { ok: false, error: `${field} "${tok.text}" is not a number 0-${max}` };
  }
  return { ok: true, value: Number(tok.text) };
}

function parseTimer(tok: Token, field: string): Result<{ value: number }> {
  const v = parseDuration(tok.text, U32_MAX);
  if (v === undefined) {
    return { ok: false, error: `${field} "${tok.text}" is not a duration 0-${U32_MAX} (seconds, or units like 1h or 1w2d)` };
  }
  return { ok: true, value: v };
}

// ---------------------------------------------------------------------------------------------------------------
// Names

/** True when the presentation name ends in a dot that is not itself escaped (`a\.` is relative, `a\\.` is not). */
function isAbsolute(text: string): boolean {
  if (!text.endsWith('.')) return false;
  let backslashes = 0;
  for (let i = text.length - 2; i >= 0 && text[i] === '\\'; i--) backslashes++;
  return backslashes % 2 === 0;
}

/**
 * Resolve a name as written against `origin` (canonical presentation form, "." for the root, "" when unknown):
 * "@" is the origin, a trailing dot marks an absolute name, anything else is relative to the origin.
 * Returns the canonical form without trailing dot.
 */
export function resolveName(text: string, origin: string, field: string): Result<{ name: string }> {
  let full: string;
  if (text === '@') {
    if (origin === '') return { ok: false, error: `${field} "@" needs an origin, and none is known` };
    full = origin;
  } else if (isAbsolute(text)) {
    full = text;
  } else {
    if (origin === '') return { ok: false, error: `${field} "${text}" is relative, but no origin is known: write it with a trailing dot` };
    full = origin === '.' ? `${text}.` : `${text}.${origin}`;
  }
  try {
    return { ok: true, name: normalizeName(full) };
  } catch (err) {
    if (err instanceof NameError) return { ok: false, error: `${field} "${text}": ${err.message}` };
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Per-type parsers

function fieldCount(tokens: Token[], want: number, type: string, fields: string): string | undefined {
  if (tokens.length === want) return undefined;
  return `${type} needs ${want} field${want === 1 ? '' : 's'} (${fields}), got ${tokens.length}`;
}

function characterString(tok: Token, what: string): Result<{ bytes: Buffer }> {
  const r = unescapeText(tok.text);
  if (!r.ok) return { ok: false, error: `${what}: ${r.error}` };
  if (r.bytes.length > 255) return { ok: false, error: `${what} is ${r.bytes.length} bytes; a character-string holds at most 255 (split it into several quoted strings)` };
  return { ok: true, bytes: r.bytes };
}

/** True for types that only exist in queries or as pseudo-records (RFC 6895 §3.1), never in zone data. */
function isMetaType(type: number): boolean {
  return type === 0 || type === TYPE.OPT || (type >= 128 && type <= 255);
}

/**
 * Presentation tokens → typed RData for `type`. `origin` (canonical, "." for the root) completes relative names;
 * pass "" when no origin is known, which makes relative names an error.
 */
/** RDLENGTH is 16 bits (RFC 1035 §3.2.1): longer rdata cannot be sent, so it is refused where it is written. */
const MAX_RDATA = 65535;

/** Rdata of `type` from its master-file fields, refused when its wire form would not fit in a record. */
export function parseRdata(type: number, tokens: Token[], origin: string): { ok: true; data: RData } | { ok: false; error: string } {
  const r = parseFields(type, tokens, origin);
  if (!r.ok) return r;
  const size = variableRdataSize(type, r.data);
  if (size > MAX_RDATA) return { ok: false, error: `${typeName(type)} rdata would be ${size} bytes; a record holds at most ${MAX_RDATA}` };
  return r;
}

/** Wire size of the rdata types whose length the fields do not bound (TXT, CAA, RFC 3597 generic); 0 for the rest. */
function variableRdataSize(type: number, data: RData): number {
  if (Buffer.isBuffer(data)) return data.length;
  if (type === TYPE.TXT) return (data as Buffer[]).reduce((n, s) => n + 1 + s.length, 0);
  if (type === TYPE.CAA) { const d = data as CaaData; return 2 + Buffer.byteLength(d.tag) + Buffer.byteLength(d.value); }
  return 0;
}

function parseFields(type: number, tokens: Token[], origin: string): { ok: true; data: RData } | { ok: false; error: string } {
  const tname = typeName(type);
  if (isMetaType(type)) return { ok: false, error: `${tname} is a query or meta type and cannot appear in zone data` };
  if (tokens.length > 0 && tokens[0]!.text === '\\#' && !tokens[0]!.quoted) return parseGeneric(type, tokens.slice(1));
  const fail = (error: string): { ok: false; error: string } => ({ ok: false, error });

  switch (type) {
    case TYPE.A: {
      const bad = fieldCount(tokens, 1, 'A', 'an IPv4 address');
      if (bad) return fail(bad);
      const addr = canonicalIPv4(tokens[0]!.text);
      if (addr === undefined) return fail(`"${tokens[0]!.text}" is not an IPv4 address`);
      return { ok: true, data: addr };
    }
    case TYPE.AAAA: {
      const bad = fieldCount(tokens, 1, 'AAAA', 'an IPv6 address');
      if (bad) return fail(bad);
      const addr = canonicalIPv6(tokens[0]!.text);
      if (addr === undefined) return fail(`"${tokens[0]!.text}" is not an IPv6 address`);
      return { ok: true, data: addr };
    }
    case TYPE.NS:
    case TYPE.CNAME:
    case TYPE.PTR: {
      const bad = fieldCount(tokens, 1, tname, 'a domain name');
      if (bad) return fail(bad);
      const r = resolveName(tokens[0]!.text, origin, `${tname} target`);
      return r.ok ? { ok: true, data: r.name } : r;
    }
    case TYPE.MX: {
      const bad = fieldCount(tokens, 2, 'MX', 'preference exchange');
      if (bad) return fail(bad);
      const pref = parseUint(tokens[0]!, U16_MAX, 'MX preference');
      if (!pref.ok) return pref;
      const ex = resolveName(tokens[1]!.text, origin, 'MX exchange');
      if (!ex.ok) return ex;
      const data: MxData = { preference: pref.value, exchange: ex.name };
      return { ok: true, data };
    }
    case TYPE.SRV: {
      const bad = fieldCount(tokens, 4, 'SRV', 'priority weight port target');
      if (bad) return fail(bad);
      const nums: number[] = [];
      for (const [i, field] of ['priority', 'weight', 'port'].entries()) {
        const r = parseUint(tokens[i]!, U16_MAX, `SRV ${field}`);
        if (!r.ok) return r;
        nums.push(r.value);
      }
      const target = resolveName(tokens[3]!.text, origin, 'SRV target');
      if (!target.ok) return target;
      const data: SrvData = { priority: nums[0]!, weight: nums[1]!, port: nums[2]!, target: target.name };
      return { ok: true, data };
    }
    case TYPE.TXT: {
      if (tokens.length === 0) return fail('TXT needs at least one character-string');
      const strings: Buffer[] = [];
      for (const [i, tok] of tokens.entries()) {
        const r = characterString(tok, `TXT string ${i + 1}`);
        if (!r.ok) return r;
        strings.push(r.bytes);
      }
      return { ok: true, data: strings };
    }
    case TYPE.CAA: {
      const bad = fieldCount(tokens, 3, 'CAA', 'flags tag value; quote a value that contains spaces');
      if (bad) return fail(bad);
      const flags = parseUint(tokens[0]!, 255, 'CAA flags');
      if (!flags.ok) return flags;
      const tag = tokens[1]!.text;
      // RFC 8659 §4.1: tags are ASCII letters and digits only, and must fit the one-octet length.
      if (!/^[A-Za-z0-9]{1,255}$/.test(tag)) return fail(`CAA tag "${tag}" must be 1-255 ASCII letters and digits (e.g. issue, issuewild, iodef)`);
      const value = unescapeText(tokens[2]!.text);
      if (!value.ok) return fail(`CAA value: ${value.error}`);
      const str = value.bytes.toString('utf8');
      // The RData shape holds the value as a string, so it must survive a UTF-8 round trip unchanged.
      if (!Buffer.from(str, 'utf8').equals(value.bytes)) return fail(`CAA value "${tokens[2]!.text}" is not valid UTF-8`);
      const data: CaaData = { flags: flags.value, tag, value: str };
      return { ok: true, data };
    }
    case TYPE.SOA: {
      const bad = fieldCount(tokens, 7, 'SOA', 'mname rname serial refresh retry expire minimum');
      if (bad) return fail(bad);
      const mname = resolveName(tokens[0]!.text, origin, 'SOA mname');
      if (!mname.ok) return mname;
      const rname = resolveName(tokens[1]!.text, origin, 'SOA rname');
      if (!rname.ok) return rname;
      const serial = parseUint(tokens[2]!, U32_MAX, 'SOA serial');
      if (!serial.ok) return serial;
      const timers: number[] = [];
      for (const [i, field] of ['refresh', 'retry', 'expire', 'minimum'].entries()) {
        const r = parseTimer(tokens[3 + i]!, `SOA ${field}`);
        if (!r.ok) return r;
        timers.push(r.value);
      }
      const data: SoaData = {
        mname: mname.name, rname: rname.name, serial: serial.value,
        refresh: timers[0]!, retry: timers[1]!, expire: timers[2]!, minimum: timers[3]!,
      };
      return { ok: true, data };
    }
    default:
      return fail(`type ${tname} has no typed presentation format here: write its data in RFC 3597 form "\\# <length> <hex>"`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// RFC 3597 generic rdata

function parseGeneric(type: number, tokens: Token[]): { ok: true; data: RData } | { ok: false; error: string } {
  const tname = typeName(type);
  if (tokens.length === 0) return { ok: false, error: `${tname} generic rdata "\\#" needs a length and hex data` };
  const len = parseUint(tokens[0]!, U16_MAX, `${tname} generic rdata length`);
  if (!len.ok) return len;
  const hex = tokens.slice(1).map((t) => t.text).join('');
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) {
    return { ok: false, error: `${tname} generic rdata "${hex}" is not an even number of hex digits` };
  }
  const bytes = Buffer.from(hex, 'hex');
  if (bytes.length !== len.value) {
    return { ok: false, error: `${tname} generic rdata length says ${len.value} bytes but the hex holds ${bytes.length}` };
  }
  const decoded = decodeKnownWire(type, bytes);
  if (!decoded.ok) return { ok: false, error: `${tname} generic rdata: ${decoded.error}` };
  return decoded;
}

/** Reads uncompressed wire names (RFC 3597 §4 forbids compression in generic rdata). */
class WireReader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  u8(): number | undefined { return this.pos + 1 <= this.buf.length ? this.buf[this.pos++] : undefined; }
  u16(): number | undefined {
    if (this.pos + 2 > this.buf.length) return undefined;
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number | undefined {
    if (this.pos + 4 > this.buf.length) return undefined;
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  name(): string | undefined {
    const labels: Buffer[] = [];
    let total = 1;
    for (;;) {
      const len = this.u8();
      if (len === undefined || len > 63) return undefined;
      if (len === 0) return labelsToName(labels);
      total += len + 1;
      if (total > 255 || this.pos + len > this.buf.length) return undefined;
      labels.push(this.buf.subarray(this.pos, this.pos + len));
      this.pos += len;
    }
  }
  done(): boolean { return this.pos === this.buf.length; }
}

/** Wire rdata of a type with a typed shape → that shape; other types keep the raw bytes. */
function decodeKnownWire(type: number, bytes: Buffer): { ok: true; data: RData } | { ok: false; error: string } {
  const r = new WireReader(bytes);
  const bad = (what: string): { ok: false; error: string } => ({ ok: false, error: `not a valid ${what}` });
  switch (type) {
    case TYPE.A:
      if (bytes.length !== 4) return bad('IPv4 address (needs 4 bytes)');
      return { ok: true, data: formatIPv4(bytes.readUInt32BE(0)) };
    case TYPE.AAAA:
      if (bytes.length !== 16) return bad('IPv6 address (needs 16 bytes)');
      return { ok: true, data: formatIPv6(Uint32Array.of(bytes.readUInt32BE(0), bytes.readUInt32BE(4), bytes.readUInt32BE(8), bytes.readUInt32BE(12))) };
    case TYPE.NS:
    case TYPE.CNAME:
    case TYPE.PTR: {
      const n = r.name();
      if (n === undefined || !r.done()) return bad('uncompressed domain name');
      return { ok: true, data: n };
    }
    case TYPE.MX: {
      const preference = r.u16();
      const exchange = r.name();
      if (preference === undefined || exchange === undefined || !r.done()) return bad('MX rdata');
      return { ok: true, data: { preference, exchange } };
    }
    case TYPE.SRV: {
      const priority = r.u16();
      const weight = r.u16();
      const port = r.u16();
      const target = r.name();
      if (priority === undefined || weight === undefined || port === undefined || target === undefined || !r.done()) return bad('SRV rdata');
      return { ok: true, data: { priority, weight, port, target } };
    }
    case TYPE.SOA: {
      const mname = r.name();
      const rname = r.name();
      const nums = [r.u32(), r.u32(), r.u32(), r.u32(), r.u32()];
      if (mname === undefined || rname === undefined || nums.some((n) => n === undefined) || !r.done()) return bad('SOA rdata');
      const [serial, refresh, retry, expire, minimum] = nums as number[];
      return { ok: true, data: { mname, rname, serial: serial!, refresh: refresh!, retry: retry!, expire: expire!, minimum: minimum! } };
    }
    case TYPE.TXT: {
      if (bytes.length === 0) return bad('TXT rdata (needs at least one character-string)');
      const strings: Buffer[] = [];
      while (!r.done()) {
        const len = r.u8()!;
        if (r.pos + len > bytes.length) return bad('TXT rdata (a character-string runs past the end)');
        strings.push(Buffer.from(bytes.subarray(r.pos, r.pos + len)));
        r.pos += len;
      }
      return { ok: true, data: strings };
    }
    case TYPE.CAA: {
      const flags = r.u8();
      const tagLen = r.u8();
      if (flags === undefined || tagLen === undefined || tagLen === 0 || r.pos + tagLen > bytes.length) return bad('CAA rdata');
      const tag = bytes.toString('latin1', r.pos, r.pos + tagLen);
      if (!/^[A-Za-z0-9]+$/.test(tag)) return bad('CAA rdata (tag must be letters and digits)');
      const valueBytes = bytes.subarray(r.pos + tagLen);
      const value = valueBytes.toString('utf8');
      if (!Buffer.from(value, 'utf8').equals(valueBytes)) return bad('CAA rdata (value is not UTF-8)');
      return { ok: true, data: { flags, tag, value } };
    }
    default:
      return { ok: true, data: Buffer.from(bytes) };
  }
}
