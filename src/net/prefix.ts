// Addresses and prefixes (CIDR) as text: parsing to words, canonical spellings for data (zone files, monitor answers),
// formatting, and the allocation-free prefix index that topology rules and resolver groups both match against.
// Owns address and prefix arithmetic only; knows nothing of pools or DNS records.
import { parseIPv4, parseIPv6, wordMask } from './address.js';
import { mixWord, fmix } from './hash.js';

// ---------------------------------------------------------------------------------------------------------------
// CIDR text ↔ words (compile time and explain only: these allocate)
// ---------------------------------------------------------------------------------------------------------------

/** A parsed CIDR or single address, with the host bits cleared in `words`. */
export interface ParsedPrefix {
  family: 4 | 6;
  /** Big-endian 32-bit words of the network (IPv4 in words[0], the rest zero). */
  words: Uint32Array;
  prefix: number;
  /** The text had bits set beyond the prefix length (`words` holds the corrected network). */
  hostBits: boolean;
}

const PREFIX_DIGITS = /^(?:0|[1-9][0-9]{0,2})$/;

/**
 * "10.1.0.0/16", "2001:db8::/32", "192.0.2.7" (→ /32), "2001:db8::1" (→ /128) → family, network and length, or
 * null when the text is none of these (bad address, zone index, length beyond the family, leading zeros in the length).
 * IPv4-mapped IPv6 prefixes of length ≥ 96 ("::ffff:10.0.0.0/104") become the IPv4 prefix they cover, because
 * mapped askers reach the answer engine as IPv4.
 */
export function parsePrefix(text: string): ParsedPrefix | null {
  const slash = text.lastIndexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const words = new Uint32Array(4);
  let family: 4 | 6;
  const v4 = parseIPv4(addr);
  if (v4 >= 0) {
    family = 4;
    words[0] = v4;
  } else if (!addr.includes('%') && parseIPv6(addr, words)) {
    family = 6;
  } else {
    return null;
  }
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const digits = text.slice(slash + 1);
    if (!PREFIX_DIGITS.test(digits)) return null;
    prefix = Number(digits);
    if (prefix > max) return null;
  }
  if (family === 6 && prefix >= 96 && words[0] === 0 && words[1] === 0 && words[2] === 0xffff) {
    family = 4;
    prefix -= 96;
    words[0] = words[3]!;
    words[2] = 0;
    words[3] = 0;
  }
  let hostBits = false;
  for (let i = 0; i < 4; i++) {
    const masked = (words[i]! & wordMask(prefix - 32 * i)) >>> 0;
    if (masked !== words[i]) hostBits = true;
    words[i] = masked;
  }
  return { family, words, prefix, hostBits };
}

/** Dotted quad of a uint32. */
export function formatIPv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** RFC 5952 text of an IPv6 address: lower-case hex, no leading zeros, the longest run (≥ 2) of zero groups as "::". */
export function formatIPv6(words: Uint32Array): string {
  const g: number[] = [];
  for (let i = 0; i < 4; i++) g.push(words[i]! >>> 16, words[i]! & 0xffff);
  let bestAt = -1;
  let bestLen = 1; // a single zero group is never compressed
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string => g.slice(from, to).map((x) => x.toString(16)).join(':');
  if (bestAt < 0) return hex(0, 8);
  return `${hex(0, bestAt)}::${hex(bestAt + bestLen, 8)}`;
}

export function formatAddress(family: 4 | 6, words: Uint32Array): string {
  return family === 4 ? formatIPv4(words[0]!) : formatIPv6(words);
}

/** Where canonicalIPv6 parses; compile-time callers are single-threaded like the query path. */
const textWords = new Uint32Array(4);

/** The dotted quad `text` in canonical form, or undefined when it is not exactly one (strict: see parseIPv4). */
export function canonicalIPv4(text: string): string | undefined {
  const v = parseIPv4(text);
  return v < 0 ? undefined : formatIPv4(v);
}

/**
 * The IPv6 address `text` in RFC 5952 form, or undefined when it is not one. A zone index ("fe80::1%eth0") is
 * refused: it names an interface of one host, which means nothing in DNS data or in an answer to compare with.
 */
export function canonicalIPv6(text: string): string | undefined {
  if (text.includes('%') || !parseIPv6(text, textWords)) return undefined;
  return formatIPv6(textWords);
}

/** "10.1.0.0/16", "2001:db8::/32" (host bits cleared). */
export function formatPrefix(family: 4 | 6, words: Uint32Array, prefix: number): string {
  const masked = new Uint32Array(4);
  const n = family === 4 ? 1 : 4;
  for (let i = 0; i < n; i++) masked[i] = words[i]! & wordMask(prefix - 32 * i);
  return `${formatAddress(family, masked)}/${prefix}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Prefix index: (family, prefix length, network) → values, matched longest first without allocating
// ---------------------------------------------------------------------------------------------------------------

/** One (prefix, value) pair to index; `words` must have its host bits cleared. */
export interface PrefixEntry {
  family: 4 | 6;
  words: Uint32Array;
  prefix: number;
  value: number;
}

/**
 * One family's index: the distinct prefix lengths (longest first) and an open-addressing hash table over the distinct
 * (length, network) pairs, all in typed arrays so a lookup touches no heap object. A hash hit is verified against
 * the stored network words, so collisions only cost probes.
 */
class FamilyIndex {
  readonly width: number;
  /** Distinct prefix lengths present, longest first. */
  readonly lengths: Int32Array;
  /** Per distinct (length, network): its length, its words (width per entry), and its value range in `values`. */
  private readonly entryPrefix: Int32Array;
  private readonly entryWords: Int32Array;
  private readonly entryStart: Int32Array;
  private readonly entryEnd: Int32Array;
  private readonly values: Int32Array;
  /** Hash slots holding entry numbers, -1 when empty; size is a power of two at least twice the entry count. */
  private readonly slots: Int32Array;
  private readonly slotMask: number;
  /** The address masked to the length being probed. */
  private readonly masked = new Int32Array(4);

  constructor(family: 4 | 6, entries: readonly PrefixEntry[]) {
    this.width = family === 4 ? 1 : 4;
    const w = this.width;
    // Group values by (length, network) keeping the order they were given in.
    const groups = new Map<string, { prefix: number; words: Uint32Array; values: number[] }>();
    for (const e of entries) {
      const k = `${e.prefix}/${e.words[0]}:${e.words[1]}:${e.words[2]}:${e.words[3]}`;
      let g = groups.get(k);
      if (!g) groups.set(k, (g = { prefix: e.prefix, words: e.words, values: [] }));
      g.values.push(e.value);
    }
    const n = groups.size;
    this.entryPrefix = new Int32Array(n);
    this.entryWords = new Int32Array(n * w);
    this.entryStart = new Int32Array(n);
    this.entryEnd = new Int32Array(n);
    this.values = new Int32Array(entries.length);
    let size = 8;
    while (size < 2 * n) size *= 2;
    this.slots = new Int32Array(size).fill(-1);
    this.slotMask = size - 1;
    const lengths = new Set<number>();
    let e = 0;
    let v = 0;
    for (const g of groups.values()) {
      this.entryPrefix[e] = g.prefix;
      for (let i = 0; i < w; i++) this.entryWords[e * w + i] = g.words[i]! | 0;
      this.entryStart[e] = v;
      for (const x of g.values) this.values[v++] = x;
      this.entryEnd[e] = v;
      lengths.add(g.prefix);
      for (let i = 0; i < w; i++) this.masked[i] = g.words[i]! | 0;
      let s = this.hash(g.prefix) & this.slotMask;
      while (this.slots[s] !== -1) s = (s + 1) & this.slotMask;
      this.slots[s] = e;
      e++;
    }
    this.lengths = Int32Array.from([...lengths].sort((a, b) => b - a));
  }

  get valueCount(): number {
    return this.values.length;
  }

  private hash(prefix: number): number {
    let h = mixWord(0x2545f491 ^ prefix, this.masked[0]!);
    if (this.width === 4) {
      h = mixWord(h, this.masked[1]!);
      h = mixWord(h, this.masked[2]!);
      h = mixWord(h, this.masked[3]!);
    }
    return fmix(h);
  }

  /** Writes (value, length) pairs of every entry containing the address, longest first, up to the capacity. */
  collect(words: Uint32Array, outValues: Int32Array, outPrefix: Int32Array): number {
    const w = this.width;
    const cap = outValues.length;
    let n = 0;
    for (let li = 0; li < this.lengths.length; li++) {
      const prefix = this.lengths[li]!;
      for (let i = 0; i < w; i++) this.masked[i] = words[i]! & wordMask(prefix - 32 * i);
      let s = this.hash(prefix) & this.slotMask;
      for (;;) {
        const e = this.slots[s]!;
        if (e === -1) break;
        if (this.entryPrefix[e] === prefix && this.sameWords(e)) {
          for (let j = this.entryStart[e]!, end = this.entryEnd[e]!; j < end; j++) {
            if (n === cap) return n;
            outValues[n] = this.values[j]!;
            outPrefix[n] = prefix;
            n++;
          }
          break;
        }
        s = (s + 1) & this.slotMask;
      }
    }
    return n;
  }

  private sameWords(e: number): boolean {
    const w = this.width;
    for (let i = 0; i < w; i++) if (this.entryWords[e * w + i] !== this.masked[i]) return false;
    return true;
  }
}

/**
 * Longest-prefix index over IPv4 and IPv6 prefixes, each carrying int32 values. Built once at compile time; `collect`
 * is allocation-free. Shared by topology rules and resolver groups (it belongs in src/net/ once that move is made).
 */
export class PrefixIndex {
  private readonly v4: FamilyIndex;
  private readonly v6: FamilyIndex;

  constructor(entries: readonly PrefixEntry[]) {
    this.v4 = new FamilyIndex(4, entries.filter((e) => e.family === 4));
    this.v6 = new FamilyIndex(6, entries.filter((e) => e.family === 6));
  }

  /** How many values the index holds in all (an upper bound for any `collect`). */
  get size(): number {
    return this.v4.valueCount + this.v6.valueCount;
  }

  /**
   * Fills outValues/outPrefix with the values of every indexed prefix containing the address and the length it
   * matched with: longest first, values of one prefix in the order given. Returns how many (≤ outValues.length).
   */
  collect(family: 4 | 6, words: Uint32Array, outValues: Int32Array, outPrefix: Int32Array): number {
    return (family === 4 ? this.v4 : this.v6).collect(words, outValues, outPrefix);
  }
}
