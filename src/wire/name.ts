// Domain names between presentation form ("www.Example.test", RFC 1035 §5.1 escapes) and wire form.
// Owns: the one name encoder/decoder of the project and the case-folded lookup key the snapshot is indexed by.
// Never allocates on the fast path except in the helpers explicitly named for compile time.

export class NameError extends Error {}

/**
 * Presentation name → label list (escapes resolved to raw bytes). Accepts absolute or relative form; the
 * trailing dot, if any, is dropped. "." and "" are the root.
 */
export function nameToLabels(name: string): Buffer[] {
  if (name === '.' || name === '') return [];
  const labels: Buffer[] = [];
  let cur: number[] = [];
  let i = 0;
  const n = name.length;
  while (i < n) {
    const c = name.charCodeAt(i);
    if (c === 0x2e /* . */) {
      if (cur.length === 0) throw new NameError(`empty label in "${name}"`);
      labels.push(Buffer.from(cur));
      cur = [];
      i++;
      if (i === n) return checkLength(labels, name);
      continue;
    }
    if (c === 0x5c /* \ */) {
      const d = name.slice(i + 1, i + 4);
      if (/^\d{3}$/.test(d)) {
        const v = Number(d);
        if (v > 255) throw new NameError(`escape \\${d} out of range in "${name}"`);
        cur.push(v);
        i += 4;
        continue;
      }
      if (i + 1 >= n) throw new NameError(`dangling backslash in "${name}"`);
      cur.push(...Buffer.from(name[i + 1]!, 'utf8'));
      i += 2;
      continue;
    }
    if (c > 0x7e || c < 0x21) {
      // Non-ASCII or space: take the UTF-8 bytes as-is (IDNs should arrive as punycode, but be lenient).
      cur.push(...Buffer.from(name[i]!, 'utf8'));
    } else {
      cur.push(c);
    }
    i++;
    if (cur.length > 63) throw new NameError(`label longer than 63 octets in "${name}"`);
  }
  if (cur.length === 0) throw new NameError(`empty label in "${name}"`);
  if (cur.length > 63) throw new NameError(`label longer than 63 octets in "${name}"`);
  labels.push(Buffer.from(cur));
  return checkLength(labels, name);
}

function checkLength(labels: Buffer[], name: string): Buffer[] {
  let len = 1;
  for (const l of labels) {
    if (l.length > 63) throw new NameError(`label longer than 63 octets in "${name}"`);
    len += l.length + 1;
  }
  if (len > 255) throw new NameError(`name longer than 255 octets: "${name}"`);
  return labels;
}

/**
 * `name` without its trailing dot when it is "plain": every character printable ASCII that presentation form never
 * escapes, labels 1-63 octets, at most 255 octets on the wire; else null. For a plain name the presentation form is
 * the wire form's text, so the compile-time helpers below skip the label lists (a zone has millions of names).
 */
function plainName(name: string): string | null {
  const n = name.length > 1 && name.charCodeAt(name.length - 1) === 0x2e ? name.length - 1 : name.length;
  if (n === 0 || n > 253) return null;
  let label = 0;
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2e) {
      if (label === 0) return null;
      label = 0;
      continue;
    }
    // Not plain: controls, space, non-ASCII and the characters escapeLabel escapes (. \ " ( ) ; @ $).
    if (c < 0x21 || c > 0x7e || c === 0x5c || c === 0x22 || c === 0x28 || c === 0x29 || c === 0x3b || c === 0x40 || c === 0x24) return null;
    if (++label > 63) return null;
  }
  if (label === 0) return null;
  return n === name.length ? name : name.slice(0, n);
}

/** A plain name's wire form at out[at]: its text with each dot replaced by the next label's length. */
function writePlain(plain: string, out: Buffer, at: number): void {
  let lenAt = at;
  for (let i = 0; i < plain.length; i++) {
    const c = plain.charCodeAt(i);
    if (c === 0x2e) {
      out[lenAt] = at + i - lenAt;
      lenAt = at + i + 1;
    } else {
      out[at + i + 1] = c;
    }
  }
  out[lenAt] = at + plain.length - lenAt;
  out[at + plain.length + 1] = 0;
}

/** Presentation name → uncompressed wire form written at out[at] (room for 255 bytes); returns its length. */
export function encodeNameInto(name: string, out: Buffer, at: number): number {
  const plain = plainName(name);
  if (plain === null) {
    const w = encodeName(name);
    w.copy(out, at);
    return w.length;
  }
  writePlain(plain, out, at);
  return plain.length + 2;
}

/** Presentation name → uncompressed wire form (compile time). */
export function encodeName(name: string): Buffer {
  const plain = plainName(name);
  if (plain !== null) {
    const out = Buffer.allocUnsafe(plain.length + 2);
    writePlain(plain, out, 0);
    return out;
  }
  const labels = nameToLabels(name);
  const parts: Buffer[] = [];
  for (const l of labels) parts.push(Buffer.from([l.length]), l);
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** Wire name (uncompressed) → case-folded wire key used to index the snapshot. */
export function foldWire(wire: Buffer): Buffer {
  const out = Buffer.from(wire);
  let i = 0;
  while (i < out.length) {
    const len = out[i]!;
    if (len === 0) break;
    for (let j = i + 1; j <= i + len; j++) {
      const b = out[j]!;
      if (b >= 0x41 && b <= 0x5a) out[j] = b | 0x20;
    }
    i += len + 1;
  }
  return out;
}

function escapeLabel(label: Buffer): string {
  let s = '';
  for (const b of label) {
    if (b === 0x2e || b === 0x5c || b === 0x22 || b === 0x28 || b === 0x29 || b === 0x3b || b === 0x40 || b === 0x24) {
      s += '\\' + String.fromCharCode(b);
    } else if (b < 0x21 || b > 0x7e) {
      s += '\\' + String(b).padStart(3, '0');
    } else {
      s += String.fromCharCode(b);
    }
  }
  return s;
}

/** Label list → presentation name without trailing dot ("." for the root). */
export function labelsToName(labels: Buffer[]): string {
  if (labels.length === 0) return '.';
  return labels.map(escapeLabel).join('.');
}

/** Canonical presentation form (escapes normalised, no trailing dot, case kept). Throws NameError. */
export function normalizeName(name: string): string {
  return plainName(name) ?? labelsToName(nameToLabels(name));
}

/** Presentation name → lower-case canonical presentation form, for maps keyed by name at compile time. */
export function canonicalName(name: string): string {
  // Folding is ASCII A-Z only (RFC 4343), which is what toLowerCase does to a plain (ASCII) name.
  const plain = plainName(name);
  if (plain !== null) return plain.toLowerCase();
  return labelsToName(nameToLabels(name).map((l) => foldWire(Buffer.concat([Buffer.from([l.length]), l])).subarray(1)));
}

/** True when `name` equals `zone` or lies below it (both canonical, lower case). */
export function isAtOrBelow(name: string, zone: string): boolean {
  if (zone === '.') return true;
  return name === zone || name.endsWith('.' + zone);
}

/**
 * FNV-1a over a case-folded wire name held in `buf` from `off` to `end` (exclusive); folding happens on the fly so
 * query bytes need no copy. Used by the snapshot index both at compile time and per query.
 */
export function hashWireFolded(buf: Buffer, off: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = off; i < end; i++) {
    let b = buf[i]!;
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    h ^= b;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Compare two wire names of `len` bytes, both in any case (a query's bytes against a zone image's names). */
export function equalsFoldedRange(a: Buffer, aOff: number, b: Buffer, bOff: number, len: number): boolean {
  for (let i = 0; i < len; i++) {
    let x = a[aOff + i]!;
    let y = b[bOff + i]!;
    if (x === y) continue;
    if (x >= 0x41 && x <= 0x5a) x |= 0x20;
    if (y >= 0x41 && y <= 0x5a) y |= 0x20;
    if (x !== y) return false;
  }
  return true;
}

/** Length of the uncompressed wire name starting at buf[off] (its labels and the root byte). */
export function wireNameLength(buf: Buffer, off: number): number {
  let i = off;
  while (buf[i] !== 0) i += buf[i]! + 1;
  return i + 1 - off;
}

/** Uncompressed wire name at buf[off] → presentation form ("." for the root); compile time and slow paths. */
export function wireToName(buf: Buffer, off: number): string {
  const labels: Buffer[] = [];
  for (let i = off; buf[i] !== 0; i += buf[i]! + 1) labels.push(buf.subarray(i + 1, i + 1 + buf[i]!));
  return labelsToName(labels);
}

/**
 * Read a possibly compressed name from a message at `off` into `out` (uncompressed wire form, at least 255 bytes).
 * Pointers must point strictly backwards (no loops) and the result obeys the 63/255 limits (RFC 1035 §4.1.4).
 * Returns [end of the name in the message, length written to out], or null when malformed.
 */
export function readName(msg: Buffer, off: number, out: Buffer): [number, number] | null {
  let p = off;
  let end = -1;
  let w = 0;
  let limit = off;
  for (let hops = 0; hops < 128; hops++) {
    if (p >= msg.length) return null;
    const l = msg[p]!;
    if (l === 0) {
      out[w++] = 0;
      return [end < 0 ? p + 1 : end, w];
    }
    if ((l & 0xc0) === 0xc0) {
      if (p + 1 >= msg.length) return null;
      const target = ((l & 0x3f) << 8) | msg[p + 1]!;
      if (end < 0) end = p + 2;
      if (target >= limit) return null;
      limit = target;
      p = target;
      continue;
    }
    if (l > 63 || p + 1 + l > msg.length || w + 1 + l > 254) return null;
    msg.copy(out, w, p, p + 1 + l);
    w += 1 + l;
    p += 1 + l;
  }
  return null;
}

/** True when every label byte is printable ASCII other than "." and "\" (dns-packet's text form carries it). */
export function isPlainWireName(wire: Buffer, len: number): boolean {
  let i = 0;
  while (i < len) {
    const l = wire[i]!;
    if (l === 0) return true;
    for (let j = i + 1; j <= i + l; j++) {
      const b = wire[j]!;
      if (b < 0x21 || b > 0x7e || b === 0x2e || b === 0x5c) return false;
    }
    i += l + 1;
  }
  return true;
}

/** The parent of a canonical presentation name (escapes respected), '.' above a top-level name, null for the root. */
export function parentOf(name: string): string | null {
  if (name === '.') return null;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x5c) { i += /^\d{3}/.test(name.slice(i + 1, i + 4)) ? 3 : 1; continue; } // a backslash escapes the next character or \DDD
    if (c === 0x2e) return name.slice(i + 1);
  }
  return '.';
}
