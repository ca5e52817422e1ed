// Persistence records (SPEC G5, seed 004 FIG. 6 "Request_t"): (name, resolver key) → chosen member, with TTL,
// last-hit timestamp and hit count, held in memory by each worker process for the query path to read.
// Owns: a bounded LRU table in typed arrays, its change tracking (drainDirty) and merging of others' changes (apply).
// Must never allocate on find/hit, never read the clock (callers pass `now`), never touch a database or the network.

/** One record as it travels between workers, nodes and the store. `ttlMs = 0` means "deleted". */
export interface PersistRecord {
  name: string;
  key: number;
  keyText: string;
  pool: string;
  member: string;
  ts: number;
  ttlMs: number;
  hits: number;
}

export type NameOf = (nameIndex: number) => string;
export type MemberOf = (memberIndex: number) => { pool: string; member: string };

/** Records are free (not linked, not in the index) when their name index is FREE. */
const FREE = -1;
const NONE = -1;
/** Change-tracking state per slot: not in the dirty list / in it and changed / in it but nothing to report. */
const CLEAN = 0;
const DIRTY = 1;
const LISTED = 2;
const TWO_POW_32 = 4294967296;
const INITIAL_CAPACITY = 1024;

/** A change that no longer lives in a slot: an explicit deletion, or a dirty record evicted before it was drained. */
interface DetachedChange {
  nameIndex: number;
  key: number;
  keyText: string;
  /** -1 for a deletion. */
  memberIndex: number;
  ts: number;
  /** 0 for a deletion. */
  ttlMs: number;
  hits: number;
}

/**
 * The per-worker persistence table.
 *
 * Layout: a struct-of-arrays slab (one typed array per field, indexed by slot) plus an open-addressing hash index
 * (linear probing, load ≤ 1/2, backward-shift deletion, so no tombstones) whose cells hold slot + 1. Lookups compare
 * the full (nameIndex, key) pair stored in the slab, so the scheme is collision-free for every key in [0, 2^53)
 * without packing both into one number, and no boxed number or Map entry is ever created on find/hit.
 * The hash is seeded per table so crafted resolver keys cannot be aimed at one probe chain.
 * Slots sit on a doubly linked LRU list (head = most recently used); beyond `maxRecords` the tail is evicted.
 * Storage starts small and doubles up to `maxRecords` (growth happens only in put/apply).
 */
export class PersistenceTable {
  readonly maxRecords: number;
  /** Changes that could not be kept for the next drain (detached-change queue full). */
  lostChanges = 0;

  private count = 0;
  private capacity = 0;
  private nameIdx = new Int32Array(0);
  private keys = new Float64Array(0);
  private members = new Int32Array(0);
  private stamps = new Float64Array(0);
  private ttls = new Float64Array(0);
  private hitCounts = new Float64Array(0);
  private prev = new Int32Array(0);
  private next = new Int32Array(0);
  private keyTexts: string[] = [];
  private dirtyState = new Uint8Array(0);
  private dirtyList = new Int32Array(0);
  private dirtyCount = 0;
  private detached: DetachedChange[] = [];

  /** Hash index: 0 = empty cell, otherwise slot + 1. Length is a power of two ≥ 2 × capacity. */
  private index = new Int32Array(0);
  private mask = 0;
  private readonly seed: number;

  private head = NONE;
  private tail = NONE;
  /** Free slots below `used`, chained through `next`. */
  private freeHead = NONE;
  /** Slots [0, used) have been handed out at least once. */
  private used = 0;

  constructor(maxRecords: number) {
    if (!Number.isSafeInteger(maxRecords) || maxRecords < 1 || maxRecords > 0x3fffffff) {
      throw new RangeError(`persistence table: maxRecords must be an integer in [1, 2^30), got ${maxRecords}`);
    }
    this.maxRecords = maxRecords;
    this.seed = (Math.random() * TWO_POW_32) | 0;
    this.resize(Math.min(maxRecords, INITIAL_CAPACITY));
  }

  get size(): number {
    return this.count;
  }

  /** Slot of the record for (nameIndex, key), or -1. A stale record (now > ts + ttl) is deleted and -1 returned (seed FIG. 9 block 935). */
  find(nameIndex: number, key: number, now: number): number {
    const cell = this.cellOf(nameIndex, key);
    if (cell < 0) return -1;
    const slot = this.index[cell] - 1;
    if (now > this.stamps[slot] + this.ttls[slot]) {
      // Expiry needs no message: every holder computes it from the same ts + ttl.
      this.removeCell(cell);
      this.release(slot);
      return -1;
    }
    return slot;
  }

  memberOf(slot: number): number {
    return this.members[slot];
  }

  hitsOf(slot: number): number {
    return this.hitCounts[slot];
  }

  tsOf(slot: number): number {
    return this.stamps[slot];
  }

  ttlOf(slot: number): number {
    return this.ttls[slot];
  }

  keyTextOf(slot: number): string {
    return this.keyTexts[slot];
  }

  nameIndexOf(slot: number): number {
    return this.nameIdx[slot];
  }

  keyOf(slot: number): number {
    return this.keys[slot];
  }

  /** Timely repeat (seed FIG. 9 block 925): timestamp = now, hits + 1, becomes most recently used, marked dirty. */
  hit(slot: number, now: number): void {
    this.stamps[slot] = now;
    this.hitCounts[slot] += 1;
    this.touch(slot);
    this.markDirty(slot);
  }

  /**
   * Insert or replace the record for (nameIndex, key) with hits = 1 (seed FIG. 9 block 940); evicts the least
   * recently used record beyond maxRecords; marked dirty. Returns the slot.
   */
  put(nameIndex: number, key: number, keyText: string, memberIndex: number, now: number, ttlMs: number): number {
    if (!Number.isInteger(nameIndex) || nameIndex < 0 || nameIndex > 0x7fffffff) {
      throw new RangeError(`persistence put: nameIndex must be a non-negative integer, got ${nameIndex}`);
    }
    if (!Number.isSafeInteger(key) || key < 0) throw new RangeError(`persistence put: key must be an integer in [0, 2^53), got ${key}`);
    if (!Number.isInteger(memberIndex) || memberIndex < 0 || memberIndex > 0x7fffffff) {
      throw new RangeError(`persistence put: memberIndex must be a non-negative integer, got ${memberIndex}`);
    }
    if (!Number.isFinite(now)) throw new RangeError(`persistence put: now must be finite, got ${now}`);
    if (!(ttlMs > 0) || !Number.isFinite(ttlMs)) throw new RangeError(`persistence put: ttlMs must be > 0, got ${ttlMs}`);
    const slot = this.upsert(nameIndex, key);
    this.write(slot, keyText, memberIndex, now, ttlMs, 1);
    this.markDirty(slot);
    return slot;
  }

  /**
   * Remove the record in `slot`. It is reported by the next drainDirty with ttlMs = 0 and ts = `now` (default: the
   * record's own ts, so a holder that has seen a later hit keeps its record).
   */
  delete(slot: number, now?: number): void {
    if (slot < 0 || slot >= this.used || this.nameIdx[slot] === FREE) return;
    this.detach({
      nameIndex: this.nameIdx[slot],
      key: this.keys[slot],
      keyText: this.keyTexts[slot],
      memberIndex: -1,
      ts: now ?? this.stamps[slot],
      ttlMs: 0,
      hits: 0,
    });
    this.removeCell(this.cellOf(this.nameIdx[slot], this.keys[slot]));
    this.release(slot);
  }

  /**
   * Records changed since the last drain (each once), described with names via the callbacks, then cleared.
   * Deleted records are reported with ttlMs = 0 so other holders drop them. Expiry and LRU eviction are not
   * deletions and are not reported (a dirty record evicted before the drain is still reported as it was).
   * Drain before a snapshot swap: indices are described with the callbacks of the snapshot they belong to.
   */
  drainDirty(nameOf: NameOf, memberOf: MemberOf): PersistRecord[] {
    const out: PersistRecord[] = [];
    for (const c of this.detached) {
      const where = c.memberIndex < 0 ? { pool: '', member: '' } : memberOf(c.memberIndex);
      out.push({ name: nameOf(c.nameIndex), key: c.key, keyText: c.keyText, pool: where.pool, member: where.member, ts: c.ts, ttlMs: c.ttlMs, hits: c.hits });
    }
    this.detached = [];
    for (let i = 0; i < this.dirtyCount; i++) {
      const slot = this.dirtyList[i];
      if (this.dirtyState[slot] === DIRTY && this.nameIdx[slot] !== FREE) out.push(this.describe(slot, nameOf, memberOf));
      this.dirtyState[slot] = CLEAN;
    }
    this.dirtyCount = 0;
    return out;
  }

  /**
   * Apply records from another worker / node / the store WITHOUT marking them dirty (no echo). Unknown names or
   * members (resolvers return -1) and malformed records are skipped; ttlMs = 0 deletes; a record older (by ts) than
   * the one held is ignored (the last hit wins: it is what the resolver was last answered). An equal ts goes to the
   * incoming record for the same member (keeping the larger hit count) and to the member first in the configuration
   * otherwise, so every holder ends with the same record whatever order records reach it in. Returns how many
   * changed the table.
   */
  apply(records: readonly PersistRecord[], nameIndex: (name: string) => number, memberIndex: (pool: string, member: string) => number): number {
    let applied = 0;
    for (const r of records) {
      if (!Number.isSafeInteger(r.key) || r.key < 0 || !Number.isFinite(r.ts) || !(r.ttlMs >= 0) || !Number.isFinite(r.ttlMs)) continue;
      const ni = nameIndex(r.name);
      if (!Number.isInteger(ni) || ni < 0) continue;
      const cell = this.cellOf(ni, r.key);
      const held = cell < 0 ? -1 : this.index[cell] - 1;
      if (held >= 0 && r.ts < this.stamps[held]) continue;
      if (r.ttlMs === 0) {
        if (held < 0) continue;
        this.removeCell(cell);
        this.release(held);
        applied++;
        continue;
      }
      const mi = memberIndex(r.pool, r.member);
      if (!Number.isInteger(mi) || mi < 0) continue;
      // Two nodes that chose different members in the same millisecond: the member first in the configuration wins
      // on both, whichever record each got first, so they converge (the same member: one record, the larger count).
      if (held >= 0 && r.ts === this.stamps[held] && this.members[held] !== mi && this.members[held] < mi) continue;
      const hits = Number.isFinite(r.hits) && r.hits >= 0 ? r.hits : 1;
      const merged = held >= 0 && this.members[held] === mi ? Math.max(hits, this.hitCounts[held]) : hits;
      const slot = held >= 0 ? held : this.upsert(ni, r.key);
      if (held >= 0) this.touch(slot);
      this.write(slot, r.keyText, mi, r.ts, r.ttlMs, merged);
      // The incoming record supersedes an undrained local change: it has nothing newer to tell anyone.
      if (this.dirtyState[slot] === DIRTY) this.dirtyState[slot] = LISTED;
      applied++;
    }
    return applied;
  }

  /**
   * All records held (only those of `nameIndex` when given), most recently used first (for explain/API listing and
   * remapping across snapshot swaps). With `now`, stale ones are left out.
   */
  list(nameOf: NameOf, memberOf: MemberOf, now?: number, nameIndex = -1): PersistRecord[] {
    const out: PersistRecord[] = [];
    for (let s = this.head; s !== NONE; s = this.next[s]) {
      if (now !== undefined && now > this.stamps[s] + this.ttls[s]) continue;
      if (nameIndex >= 0 && this.nameIdx[s] !== nameIndex) continue;
      out.push(this.describe(s, nameOf, memberOf));
    }
    return out;
  }

  /** Forget every record and every pending change; storage shrinks back to its initial size. */
  clear(): void {
    this.count = 0;
    this.used = 0;
    this.head = this.tail = this.freeHead = NONE;
    this.dirtyCount = 0;
    this.detached = [];
    this.keyTexts = [];
    this.nameIdx = this.members = this.prev = this.next = this.dirtyList = new Int32Array(0);
    this.keys = this.stamps = this.ttls = this.hitCounts = new Float64Array(0);
    this.dirtyState = new Uint8Array(0);
    this.resize(Math.min(this.maxRecords, INITIAL_CAPACITY));
  }

  // ---- internals ----

  private describe(slot: number, nameOf: NameOf, memberOf: MemberOf): PersistRecord {
    const where = memberOf(this.members[slot]);
    return {
      name: nameOf(this.nameIdx[slot]),
      key: this.keys[slot],
      keyText: this.keyTexts[slot],
      pool: where.pool,
      member: where.member,
      ts: this.stamps[slot],
      ttlMs: this.ttls[slot],
      hits: this.hitCounts[slot],
    };
  }

  private write(slot: number, keyText: string, memberIndex: number, ts: number, ttlMs: number, hits: number): void {
    this.keyTexts[slot] = keyText;
    this.members[slot] = memberIndex;
    this.stamps[slot] = ts;
    this.ttls[slot] = ttlMs;
    this.hitCounts[slot] = hits;
  }

  /** Slot for (nameIndex, key): the held one (made most recently used) or a new linked, indexed slot. */
  private upsert(nameIndex: number, key: number): number {
    const cell = this.cellOf(nameIndex, key);
    if (cell >= 0) {
      const slot = this.index[cell] - 1;
      this.touch(slot);
      return slot;
    }
    if (this.count >= this.maxRecords) this.evict();
    if (this.freeHead === NONE && this.used === this.capacity) this.resize(Math.min(this.maxRecords, this.capacity * 2));
    let slot: number;
    if (this.freeHead !== NONE) {
      slot = this.freeHead;
      this.freeHead = this.next[slot];
    } else {
      slot = this.used++;
    }
    this.nameIdx[slot] = nameIndex;
    this.keys[slot] = key;
    this.insertCell(slot);
    this.linkFront(slot);
    this.count++;
    return slot;
  }

  private evict(): void {
    const slot = this.tail;
    if (this.dirtyState[slot] === DIRTY) {
      // Its change has not reached anyone yet: keep it for the next drain.
      this.detach({
        nameIndex: this.nameIdx[slot],
        key: this.keys[slot],
        keyText: this.keyTexts[slot],
        memberIndex: this.members[slot],
        ts: this.stamps[slot],
        ttlMs: this.ttls[slot],
        hits: this.hitCounts[slot],
      });
    }
    this.removeCell(this.cellOf(this.nameIdx[slot], this.keys[slot]));
    this.release(slot);
  }

  private detach(change: DetachedChange): void {
    if (this.detached.length >= this.maxRecords) {
      this.lostChanges++;
      return;
    }
    this.detached.push(change);
  }

  /** Unlink a slot already removed from the index and put it on the free list. */
  private release(slot: number): void {
    this.unlink(slot);
    if (this.dirtyState[slot] === DIRTY) this.dirtyState[slot] = LISTED;
    this.nameIdx[slot] = FREE;
    this.keyTexts[slot] = '';
    this.next[slot] = this.freeHead;
    this.freeHead = slot;
    this.count--;
  }

  private markDirty(slot: number): void {
    const state = this.dirtyState[slot];
    if (state === CLEAN) this.dirtyList[this.dirtyCount++] = slot;
    this.dirtyState[slot] = DIRTY;
  }

  // LRU list

  private touch(slot: number): void {
    if (this.head === slot) return;
    this.unlink(slot);
    this.linkFront(slot);
  }

  private linkFront(slot: number): void {
    this.prev[slot] = NONE;
    this.next[slot] = this.head;
    if (this.head !== NONE) this.prev[this.head] = slot;
    this.head = slot;
    if (this.tail === NONE) this.tail = slot;
  }

  private unlink(slot: number): void {
    const p = this.prev[slot];
    const n = this.next[slot];
    if (p !== NONE) this.next[p] = n;
    else this.head = n;
    if (n !== NONE) this.prev[n] = p;
    else this.tail = p;
    this.prev[slot] = NONE;
    this.next[slot] = NONE;
  }

  // Hash index

  private hash(nameIndex: number, key: number): number {
    const lo = key >>> 0;
    const hi = (key / TWO_POW_32) >>> 0;
    let h = this.seed ^ Math.imul(nameIndex + 1, 0x9e3779b1);
    h = Math.imul(h ^ lo, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h ^ hi, 0xc2b2ae35);
    h ^= h >>> 16;
    h = Math.imul(h, 0x27d4eb2f);
    return h ^ (h >>> 15);
  }

  /** Index cell holding (nameIndex, key), or -1. */
  private cellOf(nameIndex: number, key: number): number {
    const index = this.index;
    const mask = this.mask;
    let cell = this.hash(nameIndex, key) & mask;
    for (;;) {
      const entry = index[cell];
      if (entry === 0) return -1;
      const slot = entry - 1;
      if (this.keys[slot] === key && this.nameIdx[slot] === nameIndex) return cell;
      cell = (cell + 1) & mask;
    }
  }

  private insertCell(slot: number): void {
    const mask = this.mask;
    let cell = this.hash(this.nameIdx[slot], this.keys[slot]) & mask;
    while (this.index[cell] !== 0) cell = (cell + 1) & mask;
    this.index[cell] = slot + 1;
  }

  /** Empty a cell and shift later members of its probe run back, so lookups never need tombstones. */
  private removeCell(cell: number): void {
    const index = this.index;
    const mask = this.mask;
    let hole = cell;
    let probe = cell;
    index[hole] = 0;
    for (;;) {
      probe = (probe + 1) & mask;
      const entry = index[probe];
      if (entry === 0) return;
      const home = this.hash(this.nameIdx[entry - 1], this.keys[entry - 1]) & mask;
      // The entry may move into the hole only if its home is not cyclically within (hole, probe].
      const stays = hole <= probe ? hole < home && home <= probe : hole < home || home <= probe;
      if (stays) continue;
      index[hole] = entry;
      index[probe] = 0;
      hole = probe;
    }
  }

  /** Grow (or initialise, from empty arrays) the slab to `capacity` slots and rebuild the hash index. */
  private resize(capacity: number): void {
    const grow = <T extends Int32Array | Float64Array | Uint8Array>(old: T, fresh: T, fill?: number): T => {
      fresh.set(old);
      if (fill !== undefined) fresh.fill(fill, old.length);
      return fresh;
    };
    this.nameIdx = grow(this.nameIdx, new Int32Array(capacity), FREE);
    this.keys = grow(this.keys, new Float64Array(capacity));
    this.members = grow(this.members, new Int32Array(capacity));
    this.stamps = grow(this.stamps, new Float64Array(capacity));
    this.ttls = grow(this.ttls, new Float64Array(capacity));
    this.hitCounts = grow(this.hitCounts, new Float64Array(capacity));
    this.prev = grow(this.prev, new Int32Array(capacity), NONE);
    this.next = grow(this.next, new Int32Array(capacity), NONE);
    this.dirtyState = grow(this.dirtyState, new Uint8Array(capacity));
    this.dirtyList = grow(this.dirtyList, new Int32Array(capacity));
    for (let i = this.keyTexts.length; i < capacity; i++) this.keyTexts.push('');
    this.capacity = capacity;

    let cells = 16;
    while (cells < capacity * 2) cells *= 2;
    this.index = new Int32Array(cells);
    this.mask = cells - 1;
    for (let s = this.head; s !== NONE; s = this.next[s]) this.insertCell(s);
  }
}
