// Values derived from large strings (a million-record zone inlined as master-file text), remembered so a change
// elsewhere in the configuration does not hash, encode or serialise the zone again. Owns: the memo only.
// A Map keyed by the string itself: V8 compares keys by pointer first (the same string object: O(1)) and hashes long
// strings by length, so a lookup costs at most one comparison of equal-length contents, never a full hash.
import { createHash } from 'node:crypto';

/** Strings shorter than this are cheap to recompute: not remembered. */
export const LARGE = 64 * 1024;

export class LargeStringMemo<T> {
  private readonly map = new Map<string, T>();
  constructor(private readonly max = 16) {}

  get(s: string): T | undefined { return s.length < LARGE ? undefined : this.map.get(s); }

  set(s: string, v: T): void {
    if (s.length < LARGE) return;
    if (this.map.size >= this.max && !this.map.has(s)) this.map.delete(this.map.keys().next().value!);
    this.map.set(s, v);
  }

  /** `compute(s)`, remembered for a large `s`. */
  of(s: string, compute: (s: string) => T): T {
    const have = this.get(s);
    if (have !== undefined) return have;
    const v = compute(s);
    this.set(s, v);
    return v;
  }
}

const digests = new LargeStringMemo<string>(16);

/** The sha256 (hex) of a large string, remembered: a configuration holding it is hashed without reading it again. */
export function largeDigest(s: string): string {
  return digests.of(s, (t) => createHash('sha256').update(t).digest('hex'));
}
