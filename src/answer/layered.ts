// An index (name → slot) that a change edits without copying: the index it was made from, with the few entries the
// change set or deleted laid over it. Owns: that map only. A policy edit (updatePolicy) of one pool among 100,000
// copied two 100,000-entry maps before; now it records the entries it changes, and folds them into a plain map once
// they are many.
const DELETED = Symbol('deleted');

/** Changes laid over a base up to this many (or an eighth of the base): then the next edit starts from one plain map. */
const FOLD_AT = 4096;

export class LayeredMap<K, V> implements ReadonlyMap<K, V> {
  private readonly base: ReadonlyMap<K, V>;
  private readonly changes: Map<K, V | typeof DELETED>;
  private count: number;

  /** A map to edit, starting as `from` (which is never changed). */
  constructor(from: ReadonlyMap<K, V>) {
    if (from instanceof LayeredMap && from.changes.size < Math.max(FOLD_AT, from.base.size / 8)) {
      this.base = from.base;
      this.changes = new Map(from.changes);
      this.count = from.count;
    } else {
      this.base = from instanceof LayeredMap ? new Map(from) : from;
      this.changes = new Map();
      this.count = this.base.size;
    }
  }

  get size(): number { return this.count; }

  get(k: K): V | undefined {
    const c = this.changes.get(k);
    if (c !== undefined) return c === DELETED ? undefined : c;
    return this.changes.has(k) ? undefined : this.base.get(k);
  }

  has(k: K): boolean {
    const c = this.changes.get(k);
    return c !== undefined ? c !== DELETED : this.base.has(k);
  }

  set(k: K, v: V): this {
    if (!this.has(k)) this.count++;
    this.changes.set(k, v);
    return this;
  }

  delete(k: K): boolean {
    if (!this.has(k)) return false;
    this.count--;
    if (this.base.has(k)) this.changes.set(k, DELETED);
    else this.changes.delete(k);
    return true;
  }

  *entries(): MapIterator<[K, V]> {
    for (const [k, v] of this.base) if (!this.changes.has(k)) yield [k, v];
    for (const [k, v] of this.changes) if (v !== DELETED) yield [k, v];
  }

  *keys(): MapIterator<K> { for (const [k] of this.entries()) yield k; }
  *values(): MapIterator<V> { for (const [, v] of this.entries()) yield v; }
  [Symbol.iterator](): MapIterator<[K, V]> { return this.entries(); }

  forEach(fn: (value: V, key: K, map: ReadonlyMap<K, V>) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }
}
