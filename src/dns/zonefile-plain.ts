// The common line of a master file, read straight from the window: one record on one line, [owner] [ttl] [class]
// type rdata, with no quotes, escapes or parentheses ("h123 IN A 10.0.0.123"). Owns: finding its fields without
// tokens, and turning them into a record when every part is plain. It never reports an error: anything unusual or
// wrong answers NOT_PLAIN and zonefile.ts reads the entry again the general way, so each message has one source.
import type { RData } from '../wire/rdata.js';
import { TYPE, typeNumber } from '../wire/types.js';
import { parseIPv4Range } from '../net/address.js';
import { canonicalIPv6 } from '../net/prefix.js';
import { parseRdata, parseTtl, TTL_MAX, type Token } from './rdata-text.js';
import { flat, ownedConcat, ownedSlice } from './zone-text.js';

/** The line needs the general reader (zonefile.ts lexEntry): it is not plain, or it is wrong. */
export const NOT_PLAIN = -1;
/** The line runs past the end of the window, and more input may follow. */
export const INCOMPLETE = -2;

/** Where the line's owner and origin stand; zonefile.ts keeps one per file being read. */
export interface PlainScope {
  readonly origin: string;
  /**
   * What completes a relative owner: "." + origin, or "" when the origin is the root. Undefined when relative
   * owners are left to the general reader: origin unknown, written with escapes, or outside the zone.
   */
  readonly relativeSuffix: string | undefined;
  /** The owner a blank-owner line continues, and whether it lies inside the zone. */
  readonly lastOwner: string | undefined;
  readonly lastOwnerInZone: boolean;
}

/** Address strings remembered per zone: 4096 × ~32 bytes, a trifle beside a zone that benefits. */
const ADDRESS_SLOTS = 4096;

/**
 * What the plain path shares across the files of one zone: the zone key, and the address strings already made. A
 * large zone often points many names at a few addresses; they then share one string instead of one each.
 */
export class PlainZone {
  /** Direct-mapped by address value: a miss costs a compare, a hit saves a string. */
  private readonly v4Value = new Uint32Array(ADDRESS_SLOTS);
  private readonly v4Text: Array<string | undefined> = new Array<string | undefined>(ADDRESS_SLOTS).fill(undefined);

  /** `zoneKey`: the lower-case zone origin, "" when it is unknown (then no owner is checked against it). */
  constructor(readonly zoneKey: string) {}

  /** The string for the IPv4 address text[s, e) whose value is `v` (parsed strictly, so the text is canonical). */
  v4(text: string, s: number, e: number, v: number): string {
    const slot = (v ^ (v >>> 11) ^ (v >>> 22)) & (ADDRESS_SLOTS - 1);
    const known = this.v4Text[slot];
    if (known !== undefined && this.v4Value[slot] === v) return known;
    const made = ownedSlice(text, s, e);
    this.v4Value[slot] = v;
    this.v4Text[slot] = made;
    return made;
  }
}

/** A plain line's record, written into one reused object so that reading a line allocates only what is kept. */
export interface PlainRecord {
  /** The line is blank or only a comment: there is no record. */
  blank: boolean;
  /** The owner was written (false: a blank-owner line, which does not change the current owner). */
  ownerWritten: boolean;
  owner: string;
  ttl: number | undefined;
  type: number;
  data: RData;
}

export function emptyPlainRecord(): PlainRecord {
  return { blank: true, ownerWritten: false, owner: '', ttl: undefined, type: 0, data: '' };
}

// ---------------------------------------------------------------------------------------------------------------
// Fields

/** More fields than any plain record needs (SOA has 7 rdata fields); a longer line goes the general way. */
const MAX_FIELDS = 16;
/** Field i spans text[fieldAt[2i], fieldAt[2i + 1]); shared by every line, so scanning allocates nothing. */
const fieldAt = new Int32Array(2 * MAX_FIELDS);
let fieldCount = 0;

const LF = 0x0a;
const SEMICOLON = 0x3b;
const AT = 0x40;
const DOT = 0x2e;
const DOLLAR = 0x24;

/** Character classes for ASCII; everything from 0x80 up is a field character. */
const FIELD = 0;
const SPACE = 1; // space, tab, lone "\r": separate fields (RFC 1035 §5.1 "blank")
const NEWLINE = 2;
const COMMENT = 3;
const SPECIAL = 4; // " ( ) \ : quoting, grouping and escapes are the general reader's
const CLASS = new Uint8Array(128);
CLASS[0x20] = SPACE;
CLASS[0x09] = SPACE;
CLASS[0x0d] = SPACE;
CLASS[LF] = NEWLINE;
CLASS[SEMICOLON] = COMMENT;
for (const c of '"()\\') CLASS[c.charCodeAt(0)] = SPECIAL;

const classOf = (c: number): number => (c < 128 ? CLASS[c]! : FIELD);

/**
 * Find the fields of the line at `pos`. Returns the position after its newline (or the end of the text at the end
 * of input), NOT_PLAIN when the line holds a quote, escape or parenthesis or too many fields, or INCOMPLETE.
 */
function scanFields(text: string, pos: number, eof: boolean): number {
  const n = text.length;
  let i = pos;
  fieldCount = 0;
  for (;;) {
    if (i >= n) return eof ? n : INCOMPLETE;
    const k = classOf(text.charCodeAt(i));
    if (k === SPACE) {
      i++;
    } else if (k === NEWLINE) {
      return i + 1;
    } else if (k === COMMENT) {
      const nl = text.indexOf('\n', i);
      if (nl >= 0) return nl + 1;
      return eof ? n : INCOMPLETE;
    } else if (k === SPECIAL || fieldCount === MAX_FIELDS) {
      return NOT_PLAIN;
    } else {
      const start = i;
      let c = 0;
      while (++i < n && (c = classOf(text.charCodeAt(i))) === FIELD);
      if (c === SPECIAL) return NOT_PLAIN;
      // A field that touches the end of the window may go on in the next chunk: the check at the top says so.
      fieldAt[2 * fieldCount] = start;
      fieldAt[2 * fieldCount + 1] = i;
      fieldCount++;
    }
  }
}

const startOf = (f: number): number => fieldAt[2 * f]!;
const endOf = (f: number): number => fieldAt[2 * f + 1]!;

// ---------------------------------------------------------------------------------------------------------------
// Record

/**
 * Read the line at `pos` as a plain record into `out`. Returns the position after the line, or NOT_PLAIN or
 * INCOMPLETE; on those `out` is left as it was and nothing else has changed either.
 */
export function readPlainRecord(text: string, pos: number, eof: boolean, scope: PlainScope, zone: PlainZone, out: PlainRecord): number {
  const end = scanFields(text, pos, eof);
  if (end < 0) return end;
  if (fieldCount === 0) {
    out.blank = true;
    return end;
  }
  const c0 = text.charCodeAt(pos);
  const blankOwner = c0 === 0x20 || c0 === 0x09;
  let owner: string | undefined;
  let f = 0;
  if (blankOwner) {
    if (!scope.lastOwnerInZone) return NOT_PLAIN;
    owner = scope.lastOwner;
  } else {
    if (text.charCodeAt(startOf(0)) === DOLLAR) return NOT_PLAIN; // a directive
    owner = plainOwner(text, startOf(0), endOf(0), scope, zone.zoneKey);
    f = 1;
  }
  if (owner === undefined) return NOT_PLAIN;

  // [ttl] [class] in either order, as zonefile.ts parseHead reads them.
  let ttl: number | undefined;
  let sawClass = false;
  for (; f < fieldCount; f++) {
    const s = startOf(f);
    const e = endOf(f);
    const c = text.charCodeAt(s);
    if (ttl === undefined && c >= 0x30 && c <= 0x39) {
      const v = plainTtl(text, s, e);
      if (v < 0) return NOT_PLAIN;
      ttl = v;
    } else if (!sawClass && isIN(text, s, e)) {
      sawClass = true;
    } else {
      break;
    }
  }
  if (f >= fieldCount) return NOT_PLAIN;
  const type = plainType(text, startOf(f), endOf(f));
  if (type === undefined) return NOT_PLAIN;
  const data = plainRdata(text, type, f + 1, scope.origin, zone);
  if (data === undefined) return NOT_PLAIN;

  out.blank = false;
  out.ownerWritten = !blankOwner;
  out.owner = owner;
  out.ttl = ttl;
  out.type = type;
  out.data = data;
  return end;
}

/** Characters a name may hold and still be its own canonical form (wire/name.ts plainName; "." is handled apart). */
const PLAIN_NAME_CHAR = new Uint8Array(128);
for (let c = 0x21; c <= 0x7e; c++) PLAIN_NAME_CHAR[c] = 1;
for (const c of '\\"();@$') PLAIN_NAME_CHAR[c.charCodeAt(0)] = 0;

const isPlainNameChar = (c: number): boolean => c < 128 && PLAIN_NAME_CHAR[c] === 1;

/** 253 characters of presentation form without the trailing dot is 255 octets on the wire (RFC 1035 §3.1). */
const MAX_PLAIN_NAME = 253;

/**
 * The owner text[s, e) as resolveName would make it, when it is "@" or plain and surely inside the zone; else
 * undefined. The same owner written on consecutive lines gives the same string, so a zone does not keep copies.
 */
function plainOwner(text: string, s: number, e: number, scope: PlainScope, zoneKey: string): string | undefined {
  const suffix = scope.relativeSuffix;
  if (e - s === 1 && text.charCodeAt(s) === AT) return suffix === undefined ? undefined : scope.origin;
  let label = 0;
  for (let i = s; i < e; i++) {
    const c = text.charCodeAt(i);
    if (c === DOT) {
      if (label === 0) return undefined;
      label = 0;
    } else if (!isPlainNameChar(c) || ++label > 63) {
      return undefined;
    }
  }
  if (label === 0) {
    // Absolute: drop the trailing dot ("." alone, the root, was refused above as an empty label).
    const nameEnd = e - 1;
    if (nameEnd - s > MAX_PLAIN_NAME || !plainInZone(text, s, nameEnd, zoneKey)) return undefined;
    if (sameAs(scope.lastOwner, text, s, nameEnd, '')) return scope.lastOwner;
    return ownedSlice(text, s, nameEnd);
  }
  if (suffix === undefined || e - s + suffix.length > MAX_PLAIN_NAME) return undefined;
  if (sameAs(scope.lastOwner, text, s, e, suffix)) return scope.lastOwner;
  return suffix === '' ? ownedSlice(text, s, e) : ownedConcat(text.slice(s, e), suffix);
}

/** `name` is text[s, e) followed by `suffix`, character for character. */
function sameAs(name: string | undefined, text: string, s: number, e: number, suffix: string): boolean {
  if (name === undefined || name.length !== e - s + suffix.length) return false;
  // Backwards: generated owners (h1, h2 …) differ in their last characters, so a mismatch is found at once.
  for (let i = e - s - 1; i >= 0; i--) if (name.charCodeAt(i) !== text.charCodeAt(s + i)) return false;
  return name.endsWith(suffix);
}

/** The plain name text[s, e) is the zone `zoneKey` (lower case) or below it, ASCII case ignored (RFC 4343). */
function plainInZone(text: string, s: number, e: number, zoneKey: string): boolean {
  // No zone key: the origin is unknown, and the zone check is skipped as zonefile.ts skips it.
  if (zoneKey === '' || zoneKey === '.') return true;
  const k = zoneKey.length;
  const from = e - k;
  if (from < s || (from > s && text.charCodeAt(from - 1) !== DOT)) return false;
  for (let i = 0; i < k; i++) {
    let c = text.charCodeAt(from + i);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== zoneKey.charCodeAt(i)) return false;
  }
  return true;
}

/** A TTL field as parseTtl reads it, or -1 when it is not one; plain digits are read in place. */
function plainTtl(text: string, s: number, e: number): number {
  if (e - s > 10) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const d = text.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return parseTtl(text.slice(s, e)) ?? -1; // units: 1h, 1w2d
    v = v * 10 + d;
  }
  return v <= TTL_MAX ? v : -1;
}

/** The class field "IN", any case: the one class Waymark serves; others are the general reader's to refuse. */
function isIN(text: string, s: number, e: number): boolean {
  return e - s === 2 && (text.charCodeAt(s) | 0x20) === 0x69 && (text.charCodeAt(s + 1) | 0x20) === 0x6e;
}

function plainType(text: string, s: number, e: number): number | undefined {
  // "A" is most of a large zone: spare it the slice and upper-casing of typeNumber.
  if (e - s === 1 && (text.charCodeAt(s) | 0x20) === 0x61) return TYPE.A;
  return typeNumber(text.slice(s, e));
}

/** Rdata from fields `first` … of the line, or undefined when it is wrong (the general reader says why). */
function plainRdata(text: string, type: number, first: number, origin: string, zone: PlainZone): RData | undefined {
  const n = fieldCount - first;
  if (type === TYPE.A) {
    if (n !== 1) return undefined;
    // parseIPv4 takes only the canonical dotted quad (no leading zeros), so the text as written is the data.
    const s = startOf(first);
    const e = endOf(first);
    const v = parseIPv4Range(text, s, e);
    return v < 0 ? undefined : zone.v4(text, s, e, v);
  }
  if (type === TYPE.AAAA) {
    if (n !== 1) return undefined;
    const addr = canonicalIPv6(text.slice(startOf(first), endOf(first)));
    return addr === undefined ? undefined : flat(addr);
  }
  const tokens: Token[] = [];
  for (let f = first; f < fieldCount; f++) tokens.push({ text: ownedSlice(text, startOf(f), endOf(f)), quoted: false });
  const r = parseRdata(type, tokens, origin);
  return r.ok ? r.data : undefined;
}
