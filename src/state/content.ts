// Content-addressed configuration content (SPEC C2 at provider scale): a revision's declarative configuration is a
// tree of blobs, each named by the SHA-256 of its JSON, so revisions share every part they have in common and a
// change to one record of a 1,000,000-record zone stores a few kilobytes instead of the zone again.
// The encoded form ("E") is JSON:
//   - every top-level section is its own blob, referenced as { "$ref": HASH };
//   - an array of more than INLINE_MAX elements is { "$chunks": [[HASH, COUNT], …] }, each chunk a blob holding a
//     JSON array of encoded elements. A chunk ends after an element whose own hash says so (content-defined
//     chunking), so inserting, editing or deleting one element changes one chunk and the chunks after it keep their
//     hashes;
//   - a multi-line string longer than TEXT_INLINE_MAX characters (an inlined master file) is
//     { "$lines": [[HASH, LINES], …] }, cut by lines the same way, each chunk a blob holding a JSON string;
//   - an element of an inline array whose own encoded JSON is ELEMENT_BLOB_MIN characters or more (the entry of a
//     large zone: its chunk list alone is ~150 KB at a million records) is its own blob, referenced as
//     { "$ref": HASH }, so a revision that changes another element stores and hashes a small section, not that list
//     again;
//   - an object with a key starting with "$" is wrapped as { "$obj": { … } }, so no configuration is mistaken for
//     one of the forms above; everything else is as written.
// Decoding gives back exactly the JSON that was encoded, key order included.
// Owns: the encoded form, encoding, decoding and lazy reading. Never does I/O: the store passes `put` and `load`.
import crypto from 'node:crypto';
import { LargeStringMemo, ChunkMemo, boundaryHash } from './memo.js';

/** Stores one blob (its JSON under its hash); called only for blobs the store does not have yet is up to the store. */
export type PutBlob = (hash: string, json: string) => void;
/** The JSON of a blob; throws when it is missing (a store that lost a blob cannot give the revision back). */
export type LoadBlob = (hash: string) => string;

/** Arrays up to this many elements stay inline in their parent. */
export const INLINE_MAX = 512;
/** Content-defined chunks: at least MIN elements, a boundary where an element's hash has these low bits clear, at most MAX. */
const CHUNK_MIN = 64;
const CHUNK_MASK = 511;
const CHUNK_MAX = 2048;
/** Strings longer than this (with line breaks) are cut into line chunks. */
export const TEXT_INLINE_MAX = 64 * 1024;
const LINES_MIN = 64;
const LINES_MASK = 511;
const LINES_MAX = 4096;
/** An inline array's element encoded to at least this many characters is a blob of its own. */
const ELEMENT_BLOB_MIN = 16 * 1024;

export type ChunkList = Array<[hash: string, count: number]>;
export interface RefNode { $ref: string }
export interface ChunksNode { $chunks: ChunkList }
export interface LinesNode { $lines: ChunkList }

export function sha256(json: string): string {
  return crypto.createHash('sha256').update(json).digest('hex');
}


function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The one key of an encoded special node ("$ref", "$chunks", "$lines", "$obj"), or null for a value as written. */
export function specialKind(e: unknown): '$ref' | '$chunks' | '$lines' | '$obj' | null {
  if (!isPlainObject(e)) return null;
  let only: string | null = null;
  for (const k in e) {
    if (only !== null) return null;
    only = k;
  }
  return only === '$ref' || only === '$chunks' || only === '$lines' || only === '$obj' ? only : null;
}

/** Set a key, also "__proto__" (JSON.parse makes it an own property; a plain assignment would set the prototype). */
function setKey(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

/** What JSON.stringify would make of a value before it is encoded (toJSON, non-finite numbers, dropped values). */
function asJson(v: unknown): unknown {
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') return (v as { toJSON(): unknown }).toJSON();
  if (typeof v === 'number' && !Number.isFinite(v)) return null;
  return v;
}

function dropped(v: unknown): boolean {
  return v === undefined || typeof v === 'function' || typeof v === 'symbol';
}

/** Cut `items` (encoded JSON texts) into content-defined chunks and store each one. */
function storeChunks(items: Iterable<string>, join: (texts: string[]) => string, put: PutBlob, min: number, mask: number, max: number): ChunkList {
  const chunks: ChunkList = [];
  let open: string[] = [];
  const close = (): void => {
    if (open.length === 0) return;
    const json = join(open);
    const hash = sha256(json);
    put(hash, json);
    chunks.push([hash, open.length]);
    open = [];
  };
  for (const text of items) {
    open.push(text);
    if ((open.length >= min && (boundaryHash(text) & mask) === 0) || open.length >= max) close();
  }
  close();
  return chunks;
}

/** The lines of a text, each with its line break (the last one without, when the text does not end with one). */
export function* linesOf(text: string): Generator<string> {
  let at = 0;
  while (at < text.length) {
    const nl = text.indexOf('\n', at);
    const end = nl < 0 ? text.length : nl + 1;
    yield text.slice(at, end);
    at = end;
  }
}

function* encodedTexts(arr: readonly unknown[], put: PutBlob, memo?: TextMemo): Generator<string> {
  for (const x of arr) yield JSON.stringify(encodeValue(x, put, memo)) ?? 'null';
}

/**
 * Texts a store has encoded (their chunks are in it), so the same zone text in the next revision is not cut and
 * hashed again. What an encoding adds is pending until the store's transaction commits: a rolled-back write leaves
 * no chunk behind that the memo would claim.
 */
export class TextMemo {
  private readonly known = new LargeStringMemo<LinesNode>(16);
  private pending: Array<[string, LinesNode]> = [];
  /** Elements stored as blobs of their own, by the element (configurations share untouched elements by identity). */
  private readonly elements = new WeakMap<object, RefNode>();
  private pendingElements: Array<[object, RefNode]> = [];
  /** Chunks of large arrays, by their elements: an edit of one name among 100,000 stores (and encodes) one chunk. */
  readonly arrays = new ChunkMemo<[string, number]>({ min: CHUNK_MIN, mask: CHUNK_MASK, max: CHUNK_MAX }, true);
  get(text: string): LinesNode | undefined { return this.known.get(text); }
  add(text: string, node: LinesNode): void { this.pending.push([text, node]); }
  element(x: object): RefNode | undefined { return this.elements.get(x); }
  addElement(x: object, node: RefNode): void { this.pendingElements.push([x, node]); }
  commit(): void {
    for (const [t, n] of this.pending) this.known.set(t, n);
    for (const [x, n] of this.pendingElements) this.elements.set(x, n);
    this.pending = [];
    this.pendingElements = [];
    this.arrays.commit();
  }
  rollback(): void { this.pending = []; this.pendingElements = []; this.arrays.rollback(); }
}

/** A value in encoded form; big arrays and texts are stored through `put` as they are met. */
export function encodeValue(value: unknown, put: PutBlob, memo?: TextMemo): unknown {
  const v = asJson(value);
  if (typeof v === 'string') {
    if (v.length <= TEXT_INLINE_MAX || !v.includes('\n')) return v;
    const known = memo?.get(v);
    if (known !== undefined) return known;
    // A chunk of lines is stored as one JSON string: the pieces concatenate back to the text.
    const node: LinesNode = { $lines: storeChunks(linesOf(v), (ls) => JSON.stringify(ls.join('')), put, LINES_MIN, LINES_MASK, LINES_MAX) };
    memo?.add(v, node);
    return node;
  }
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    if (v.length <= INLINE_MAX) return v.map((x) => (dropped(asJson(x)) ? null : encodeElement(x, put, memo)));
    if (memo === undefined) return { $chunks: storeChunks(encodedTexts(v, put, memo), (ts) => `[${ts.join(',')}]`, put, CHUNK_MIN, CHUNK_MASK, CHUNK_MAX) };
    const text = (x: unknown): string => JSON.stringify(encodeValue(x, put, memo)) ?? 'null';
    return { $chunks: memo.arrays.cut(v, text, (texts) => {
      const json = `[${texts.join(',')}]`;
      const hash = sha256(json);
      put(hash, json);
      return [hash, texts.length];
    }) };
  }
  const out: Record<string, unknown> = {};
  let escape = false;
  for (const k of Object.keys(v)) {
    const x = (v as Record<string, unknown>)[k];
    if (dropped(asJson(x))) continue;
    if (k.startsWith('$')) escape = true;
    setKey(out, k, encodeValue(x, put, memo));
  }
  return escape ? { $obj: out } : out;
}

/** An element of an inline array: encoded in place, or a blob of its own when its encoding is large. */
function encodeElement(x: unknown, put: PutBlob, memo?: TextMemo): unknown {
  const identity = x !== null && typeof x === 'object' ? x : null;
  const known = identity !== null ? memo?.element(identity) : undefined;
  if (known !== undefined) return known;
  const e = encodeValue(x, put, memo);
  if (e === null || typeof e !== 'object' || put === STORE_NOTHING) return e;
  const json = JSON.stringify(e);
  if (json.length < ELEMENT_BLOB_MIN) return e;
  const node: RefNode = { $ref: sha256(json) };
  put(node.$ref, json);
  if (identity !== null) memo?.addElement(identity, node);
  return node;
}

/** A plain value in encoded form without storing anything (it must hold nothing that encoding would cut). */
export function inlineValue(value: unknown): unknown {
  return encodeValue(value, STORE_NOTHING);
}

/** inlineValue's `put`: large elements stay inline; a large array or text cannot. */
const STORE_NOTHING: PutBlob = () => {
  throw new Error('inlineValue: the value is too large to stay inline');
};

/**
 * Encode a declarative configuration: every top-level section in a blob of its own. Returns the root, the small
 * JSON object a revision row keeps ({ "zones": { "$ref": … }, "names": { "$ref": … }, … }).
 */
export function encodeRoot(d: Record<string, unknown>, put: PutBlob, memo?: TextMemo): string {
  const root: Record<string, unknown> = {};
  for (const k of Object.keys(d)) {
    if (dropped(asJson(d[k]))) continue;
    const json = JSON.stringify(encodeValue(d[k], put, memo));
    const hash = sha256(json);
    put(hash, json);
    setKey(root, k, { $ref: hash });
  }
  return JSON.stringify(root);
}

/**
 * Decode in place: `e` comes from a JSON.parse of this call's own (nothing else holds it), so only the special
 * nodes are replaced. Returns the decoded value.
 */
function decodeOwned(e: unknown, load: LoadBlob): unknown {
  if (e === null || typeof e !== 'object') return e;
  if (Array.isArray(e)) {
    for (let i = 0; i < e.length; i++) {
      const x = e[i];
      if (x !== null && typeof x === 'object') e[i] = decodeOwned(x, load);
    }
    return e;
  }
  const o = e as Record<string, unknown>;
  switch (specialKind(o)) {
    case '$ref': return decodeOwned(JSON.parse(load(o.$ref as string)), load);
    case '$chunks': {
      const out: unknown[] = [];
      for (const [hash] of o.$chunks as ChunkList) for (const x of decodeOwned(JSON.parse(load(hash)), load) as unknown[]) out.push(x);
      return out;
    }
    case '$lines': return (o.$lines as ChunkList).map(([hash]) => JSON.parse(load(hash)) as string).join('');
    case '$obj': {
      const inner = o.$obj as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(inner)) setKey(out, k, decodeOwned(inner[k], load));
      return out;
    }
    default:
      for (const k of Object.keys(o)) {
        const x = o[k];
        if (x !== null && typeof x === 'object') {
          const d = decodeOwned(x, load);
          if (d !== x) setKey(o, k, d);
        }
      }
      return o;
  }
}

/** The value an encoded node stands for, loading what it references. `e` is not changed. */
export function decodeValue(e: unknown, load: LoadBlob): unknown {
  return decodeOwned(e !== null && typeof e === 'object' ? JSON.parse(JSON.stringify(e)) : e, load);
}

/** The declarative configuration of a root (what encodeRoot returned). */
export function decodeRoot(rootJson: string, load: LoadBlob): Record<string, unknown> {
  return decodeOwned(JSON.parse(rootJson), load) as Record<string, unknown>;
}

/** The hashes an encoded value references directly (its own blobs; what those reference is in them). */
export function refsOf(e: unknown, out: string[] = []): string[] {
  if (e === null || typeof e !== 'object') return out;
  if (Array.isArray(e)) {
    for (const x of e) refsOf(x, out);
    return out;
  }
  const o = e as Record<string, unknown>;
  switch (specialKind(o)) {
    case '$ref': out.push(o.$ref as string); return out;
    case '$chunks': for (const [hash] of o.$chunks as ChunkList) out.push(hash); return out;
    case '$lines': for (const [hash] of o.$lines as ChunkList) out.push(hash); return out;
    case '$obj': return refsOf(Object.values(o.$obj as Record<string, unknown>), out);
    default: for (const k of Object.keys(o)) refsOf(o[k], out); return out;
  }
}

/**
 * Every blob a root needs, fetched level by level (`fetch` gets the hashes not fetched yet, and returns those it
 * has): for a store whose reads are asynchronous, so decodeRoot can then run on what is in memory. A root a few
 * levels deep (sections, their chunks, the texts in those) takes one fetch per level. Hashes the store does not
 * have are left out of the result; decoding then fails on them through its `load`.
 */
export async function blobsOf(rootJson: string, fetch: (hashes: string[]) => Promise<Map<string, string>>): Promise<Map<string, string>> {
  const have = new Map<string, string>();
  let want = refsOf(JSON.parse(rootJson));
  while (want.length > 0) {
    const missing = [...new Set(want)].filter((h) => !have.has(h));
    if (missing.length === 0) break;
    const got = await fetch(missing);
    want = [];
    for (const [hash, json] of got) {
      have.set(hash, json);
      refsOf(JSON.parse(json), want);
    }
  }
  return have;
}

/** The elements an encoded array node holds (an inline array's length, or the sum of its chunk counts). */
export function countOf(e: unknown): number | null {
  if (Array.isArray(e)) return e.length;
  const kind = specialKind(e);
  if (kind === '$chunks' || kind === '$lines') return ((e as ChunksNode).$chunks ?? (e as LinesNode).$lines).reduce((n, [, c]) => n + c, 0);
  return null;
}

/**
 * A chunked array or text inside a section, not read yet; its length is known from its chunk list. Serialised
 * (JSON.stringify, an API reply) it is read whole, so a value holding one is always sent complete.
 */
export class Lazy {
  readonly count: number;
  constructor(readonly chunks: ChunkList, readonly text: boolean, private readonly load: LoadBlob) {
    this.count = chunks.reduce((n, [, c]) => n + c, 0);
  }

  toJSON(): unknown {
    return decodeOwned(this.text ? { $lines: this.chunks } : { $chunks: this.chunks }, this.load);
  }
}

/**
 * Reads parts of revisions for the API: a section with its large nested arrays and texts left as Lazy (a zone list
 * does not read a million records), elements of a Lazy array read chunk by chunk. Sections are cached by hash (a
 * hash's content never changes) up to `maxBytes` of JSON; what section() returns is shared: never change it.
 */
export class ContentReader {
  private readonly cache = new Map<string, { value: unknown; bytes: number }>();
  private bytes = 0;
  private readonly chunkCache = new Map<string, unknown[]>();

  constructor(private readonly load: LoadBlob, private readonly maxBytes = 64 * 1024 * 1024) {}

  /** The value of a root entry ({ $ref }), the section's own chunks read, nested chunked parts Lazy. */
  section(e: unknown): unknown {
    if (specialKind(e) !== '$ref') return this.shallow(e === null || typeof e !== 'object' ? e : JSON.parse(JSON.stringify(e)), this.load);
    const hash = (e as RefNode).$ref;
    const hit = this.cache.get(hash);
    if (hit) {
      this.cache.delete(hash);
      this.cache.set(hash, hit);
      return hit.value;
    }
    let bytes = 0;
    const load: LoadBlob = (h) => { const json = this.load(h); bytes += json.length; return json; };
    let v: unknown = JSON.parse(load(hash));
    if (specialKind(v) === '$chunks') v = (v as ChunksNode).$chunks.flatMap(([h]) => JSON.parse(load(h)) as unknown[]);
    const value = this.shallow(v, load);
    this.remember(hash, value, bytes);
    return value;
  }

  /** A fresh copy of `v` with every Lazy in it read (safe to change). */
  materialize(v: unknown): unknown {
    if (v instanceof Lazy) return v.toJSON();
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map((x) => this.materialize(x));
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) setKey(out, k, this.materialize((v as Record<string, unknown>)[k]));
    return out;
  }

  /** How many elements an array or a Lazy array has. */
  length(v: unknown): number {
    return v instanceof Lazy ? v.count : Array.isArray(v) ? v.length : 0;
  }

  /** Elements [start, end) of an array or Lazy array, fresh copies; a Lazy one reads only the chunks holding them. */
  slice(v: unknown, start: number, end: number): unknown[] {
    if (!(v instanceof Lazy)) return Array.isArray(v) ? v.slice(start, end).map((x) => this.materialize(x)) : [];
    const out: unknown[] = [];
    let at = 0;
    for (const [hash, count] of v.chunks) {
      if (at + count > start && at < end) {
        const items = this.chunk(hash);
        for (let i = Math.max(0, start - at); i < Math.min(count, end - at); i++) out.push(decodeValue(items[i], this.load));
      }
      at += count;
      if (at >= end) break;
    }
    return out;
  }

  /** Every element of an array or Lazy array, chunk by chunk, as fresh copies. */
  *iterate(v: unknown): Generator<unknown> {
    if (!(v instanceof Lazy)) {
      if (Array.isArray(v)) for (const x of v) yield this.materialize(x);
      return;
    }
    for (const [hash] of v.chunks) yield* decodeOwned(JSON.parse(this.load(hash)), this.load) as unknown[];
  }

  /** A chunk's encoded elements; the last few are kept (paging and resuming read the same chunks again). */
  private chunk(hash: string): unknown[] {
    let items = this.chunkCache.get(hash);
    if (!items) {
      items = JSON.parse(this.load(hash)) as unknown[];
      if (this.chunkCache.size >= 8) this.chunkCache.delete(this.chunkCache.keys().next().value as string);
      this.chunkCache.set(hash, items);
    }
    return items;
  }

  private remember(hash: string, value: unknown, bytes: number): void {
    this.cache.set(hash, { value, bytes });
    this.bytes += bytes;
    for (const [h, c] of this.cache) {
      if (this.bytes <= this.maxBytes || this.cache.size <= 1) break;
      this.cache.delete(h);
      this.bytes -= c.bytes;
    }
  }

  /** Decode in place (the value is this reader's own), leaving nested chunked arrays and texts as Lazy. */
  private shallow(e: unknown, load: LoadBlob): unknown {
    if (e === null || typeof e !== 'object') return e;
    if (Array.isArray(e)) {
      for (let i = 0; i < e.length; i++) e[i] = this.shallow(e[i], load);
      return e;
    }
    const o = e as Record<string, unknown>;
    switch (specialKind(o)) {
      case '$ref': return this.shallow(JSON.parse(load(o.$ref as string)), load);
      case '$chunks': return new Lazy(o.$chunks as ChunkList, false, this.load);
      case '$lines': return new Lazy(o.$lines as ChunkList, true, this.load);
      case '$obj': {
        const inner = o.$obj as Record<string, unknown>;
        const out: Record<string, unknown> = {};
        for (const k of Object.keys(inner)) setKey(out, k, this.shallow(inner[k], load));
        return out;
      }
      default:
        for (const k of Object.keys(o)) {
          const x = o[k];
          if (x !== null && typeof x === 'object') {
            const d = this.shallow(x, load);
            if (d !== x) setKey(o, k, d);
          }
        }
        return o;
    }
  }
}
