// 32-bit hashing for the fixed-size tables of the query path (RRL buckets, prefix indexes, resolver-group keys).
// murmur3 (x86, 32-bit) steps written to stay in int32: a uint32 ≥ 2^31 returned from a call V8 did not inline
// would be boxed as a heap number. Owns only the arithmetic; never allocates.

/** murmur3 body step: folds one 32-bit word into the running hash. */
export function mixWord(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** murmur3 finaliser: every input bit affects every output bit. */
export function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** FNV-1a of a string's UTF-16 code units, then of `extra`'s two low bytes (a port): 32 bits, no allocation. */
export function fnv1a(s: string, extra = 0): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < s.length; k++) h = Math.imul(h ^ s.charCodeAt(k), 0x01000193);
  h = Math.imul(h ^ (extra & 0xff), 0x01000193);
  h = Math.imul(h ^ ((extra >>> 8) & 0xff), 0x01000193);
  return h >>> 0;
}
