// Values derived from large strings (a million-record zone inlined as master-file text) and from the chunks of large
// arrays (100,000 names), remembered so a change elsewhere in the configuration does not hash, encode or serialise
// them again. Owns: the memos and where chunks end (boundaryHash).
// A Map keyed by the string itself: V8 compares keys by pointer first (the same string object: O(1)) and hashes long
// strings by length, so a lookup costs at most one comparison of equal-length contents, never a full hash.
import { createHash } from 'node:crypto';
import { fmix } from '../net/hash.js';

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

/** FNV-1a over UTF-16 units, finished by murmur's mixer: cheap, and every bit of the input moves the low bits. */
export function boundaryHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return fmix(h);
}

/** Where content-defined chunks end: after at least `min` elements, where an element's text hash has `mask`'s bits clear; at `max` anyway. */
export interface ChunkRule { min: number; mask: number; max: number }

interface Remembered<C> { items: readonly unknown[]; chunk: C; closed: boolean }

/**
 * Content-defined chunks of a large array, remembered by the identity of the elements they hold: an array sharing
 * most of its elements with one cut before (an edit of one entry shares every other one) is cut again only around
 * what changed, so hashing or storing a 100,000-entry list after one edit costs that entry's chunk. A chunk that
 * starts at the same element and holds the very same elements is the same chunk (its end depends only on its own
 * elements), unless it ended with its array rather than at a boundary: then it is reused only at the end of an array.
 * Owns: cutting and the memo; what a chunk is (a digest, a stored blob) is the caller's `make`.
 */
export class ChunkMemo<C> {
  private readonly byFirst = new WeakMap<object, Remembered<C>>();
  private pending: Array<[object, Remembered<C>]> = [];

  /** `deferred`: what cut() learns is kept only at commit() (a store's chunks: only once its transaction commits). */
  constructor(private readonly rule: ChunkRule, private readonly deferred = false) {}

  /** The chunks of `arr`: `text` of an element (its hash places boundaries), `make` of a new chunk's texts. */
  cut(arr: readonly unknown[], text: (x: unknown) => string, make: (texts: string[]) => C): C[] {
    const { min, mask, max } = this.rule;
    const out: C[] = [];
    let i = 0;
    while (i < arr.length) {
      const first = arr[i];
      const known = typeof first === 'object' && first !== null ? this.byFirst.get(first) : undefined;
      if (known !== undefined && this.fits(arr, i, known)) {
        out.push(known.chunk);
        i += known.items.length;
        continue;
      }
      const start = i;
      const texts: string[] = [];
      let closed = false;
      while (i < arr.length && !closed) {
        const t = text(arr[i++]);
        texts.push(t);
        closed = (texts.length >= min && (boundaryHash(t) & mask) === 0) || texts.length >= max;
      }
      const chunk = make(texts);
      out.push(chunk);
      if (typeof first === 'object' && first !== null) this.learn(first, { items: arr.slice(start, i), chunk, closed });
    }
    return out;
  }

  private fits(arr: readonly unknown[], at: number, known: Remembered<C>): boolean {
    const items = known.items;
    if (at + items.length > arr.length || (!known.closed && at + items.length !== arr.length)) return false;
    for (let k = 0; k < items.length; k++) if (arr[at + k] !== items[k]) return false;
    return true;
  }

  private learn(first: object, r: Remembered<C>): void {
    if (this.deferred) this.pending.push([first, r]);
    else this.byFirst.set(first, r);
  }

  commit(): void {
    for (const [first, r] of this.pending) this.byFirst.set(first, r);
    this.pending = [];
  }

  rollback(): void { this.pending = []; }
}
