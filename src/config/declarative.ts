// The configuration split in two (SPEC C1/C2): bootstrap sections (server, api, store, node, keys, dispatcher) come from the YAML file only;
// declarative sections (zones, names, pools, monitors…) are what revisions hold and the API edits.
// Owns: the split, making a declarative config self-contained (zone files inlined as master-file text), its
// canonical hash and merging back (YAML is written by render.ts). No I/O beyond reading zone files.
import crypto from 'node:crypto';
import path from 'node:path';
import { loadZoneFile, renderZone } from '../dns/zonefile.js';
import { largeDigest, LARGE, ChunkMemo } from '../state/memo.js';
import type { ConfigError } from './schema.js';
import type { LoadedConfig } from './load.js';
import type { ZoneCache } from './zone-cache.js';
import { zoneFileErrors } from './load.js';

export const BOOTSTRAP_KEYS = ['server', 'api', 'store', 'node', 'keys', 'dispatcher'] as const;

/** Declarative sections as written (plain JSON values). */
export type Declarative = Record<string, unknown>;
export type RawConfig = Record<string, unknown>;

export function splitConfig(raw: RawConfig): { bootstrap: RawConfig; declarative: Declarative } {
  const bootstrap: RawConfig = {};
  const declarative: Declarative = {};
  for (const [k, v] of Object.entries(raw)) {
    if ((BOOTSTRAP_KEYS as readonly string[]).includes(k)) bootstrap[k] = v;
    else declarative[k] = v;
  }
  return { bootstrap, declarative };
}

/** A zone file read again and rendered as master-file text (its errors into `errors`). */
function readAndRender(baseDir: string, file: string, z: { origin?: string; ttl?: number }, i: number, errors: ConfigError[]): { origin: string; text: string } {
  const parsed = loadZoneFile(path.resolve(baseDir, file), { origin: z.origin, defaultTtl: z.ttl });
  for (const e of zoneFileErrors(parsed, `zones[${i}]`, file)) errors.push(e); // no spread: a zone may have a million errors
  return { origin: parsed.origin, text: renderZone(parsed.origin, parsed.records) };
}

export function mergeConfig(bootstrap: RawConfig, declarative: Declarative): RawConfig {
  return { ...bootstrap, ...declarative };
}

/**
 * Replace every `file:` zone by its records as inline master-file text (includes expanded), so a revision does not
 * depend on files that may change or vanish. Errors carry the file and line.
 */
export function inlineZoneFiles(d: Declarative, baseDir: string, loaded?: LoadedConfig, cache?: ZoneCache): { ok: true; value: Declarative } | { ok: false; errors: ConfigError[] } {
  const zones = d.zones;
  if (!Array.isArray(zones)) return { ok: true, value: d };
  const errors: ConfigError[] = [];
  const out = zones.map((z: unknown, i: number) => {
    if (typeof z !== 'object' || z === null || typeof (z as { file?: unknown }).file !== 'string') return z;
    const { file, ...rest } = z as { file: string; origin?: string; ttl?: number };
    const lz = loaded?.zones.find((x) => x.index === i);
    const key = lz !== undefined ? cache?.keys.get(i) : undefined;
    // Already read (and validated) from this file: render what was read rather than read it again. A zone reused
    // from the compile cache holds no records, but the cache has its text (or it is read again).
    if (lz !== undefined && (lz.image === undefined || key !== undefined)) {
      const render = (): string => (lz.image === undefined ? renderZone(lz.origin, lz.records.slice(0, lz.fileRecords)) : readAndRender(baseDir, file, rest, i, errors).text);
      return { ...rest, origin: rest.origin ?? lz.origin, text: key !== undefined ? cache!.textOf(key, render) : render() };
    }
    const read = readAndRender(baseDir, file, rest, i, errors);
    return { ...rest, origin: rest.origin ?? read.origin, text: read.text };
  });
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value: { ...d, zones: out } };
}

/** Where canonicalJson writes: a hash, or a string being built. */
interface Sink { update(s: string): unknown }

/** How canonicalJson writes what is large: a large string's digest, a large array's chunk digests (undefined: whole). */
interface Large { text: (s: string) => string; arrays: ChunkMemo<string> | null }

/**
 * JSON with object keys sorted, so equal configurations hash equally whatever the key order; written piece by piece
 * into `out` (a hash) rather than built as one string. `large`: how a large string is written (its digest, so a change
 * elsewhere does not hash a million-record zone's text again) and a large array (the digests of its content-defined
 * chunks, remembered by their elements: an edit of one of 100,000 names digests one chunk), or undefined to write
 * them whole (the legacy hash; v2 digests large strings only).
 */
function canonicalJson(v: unknown, out: Sink, large: Large | undefined, inArray = false): void {
  if (Array.isArray(v)) {
    if (large?.arrays && v.length > LARGE_ARRAY) {
      // '#' never appears in JSON outside a string: a digest cannot be mistaken for a value.
      const chunks = large.arrays.cut(v, (x) => { const b = new TextSink(); canonicalJson(x, b, large, true); return b.text; }, chunkDigest);
      out.update(`[#${chunks.join('#')}#]`);
      return;
    }
    out.update('[');
    v.forEach((x, i) => { if (i > 0) out.update(','); canonicalJson(x, out, large, true); });
    out.update(']');
    return;
  }
  if (v !== null && typeof v === 'object') {
    out.update('{');
    Object.keys(v).sort().forEach((k, i) => {
      out.update(`${i > 0 ? ',' : ''}${JSON.stringify(k)}:`);
      canonicalJson((v as Record<string, unknown>)[k], out, large);
    });
    out.update('}');
    return;
  }
  if (large !== undefined && typeof v === 'string' && v.length >= LARGE) {
    out.update(`#${large.text(v)}#`);
    return;
  }
  // As the joined form always wrote them: a value JSON drops is nothing in an array, "undefined" in an object.
  const json = JSON.stringify(v) as string | undefined;
  out.update(json ?? (inArray ? '' : 'undefined'));
}

class TextSink implements Sink {
  text = '';
  update(s: string): this { this.text += s; return this; }
}

function chunkDigest(texts: string[]): string {
  const h = crypto.createHash('sha256');
  for (const t of texts) h.update(t).update(',');
  return `${h.digest('hex')}:${texts.length}`;
}

/** Arrays longer than this are hashed by chunks (as content.ts stores them). */
const LARGE_ARRAY = 512;
const CHUNKS = new ChunkMemo<string>({ min: 64, mask: 511, max: 2048 });

/** Hashes of these forms (the prefix) digest large strings (v2) and large arrays by chunks (v3); older revisions carry the legacy form (no prefix). */
const HASH_V2 = 'h2:';
const HASH_V3 = 'h3:';

/** The content hash a revision of `d` is stored with: equal configurations, equal hashes. */
export function declarativeHash(d: Declarative): string {
  const h = crypto.createHash('sha256');
  canonicalJson(d, h, { text: largeDigest, arrays: CHUNKS });
  return HASH_V3 + h.digest('hex');
}

/**
 * Whether `d` is the configuration a revision with hash `stored` holds (`hash`: declarativeHash(d), when known).
 * A revision stored with an older form is compared in its own form, so an upgrade never mistakes an unchanged
 * file for a changed one (which would let the file undo API edits).
 */
export function sameDeclarative(stored: string, d: Declarative, hash = declarativeHash(d)): boolean {
  if (stored.startsWith(HASH_V3)) return stored === hash;
  return stored === olderHash(d, stored.startsWith(HASH_V2));
}

/** The hash of an older form (v2, or legacy), remembered for the last configuration asked about. */
let older: { d: Declarative; v2: boolean; hash: string } | null = null;
function olderHash(d: Declarative, v2: boolean): string {
  if (older?.d !== d || older.v2 !== v2) {
    const h = crypto.createHash('sha256');
    canonicalJson(d, h, v2 ? { text: largeDigest, arrays: null } : undefined);
    older = { d, v2, hash: (v2 ? HASH_V2 : '') + h.digest('hex') };
  }
  return older.hash;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether `d` has a pool marked `dynamic: true` (its members may be registered by dynamic update). */
export function hasDynamicPools(d: Declarative): boolean {
  return Array.isArray(d.pools) && d.pools.some((p) => isObj(p) && p.dynamic === true);
}

/**
 * `d` (a configuration file's sections) with the members dynamic update registered in its dynamic pools, as `pools`
 * (the pools section of the revision in force) has them: a file names a dynamic pool's own members, and a reload
 * keeps the registered ones (those marked `registered`), unless the file lists the same address itself. `d` itself
 * when there is nothing to carry.
 */
export function carryRegistered(d: Declarative, pools: unknown): Declarative {
  if (!hasDynamicPools(d) || !Array.isArray(pools)) return d;
  const registered = new Map<string, Obj[]>();
  for (const p of pools) {
    if (!isObj(p) || typeof p.name !== 'string' || !Array.isArray(p.members)) continue;
    const r = p.members.filter((m): m is Obj => isObj(m) && typeof m.registered === 'string');
    if (r.length > 0) registered.set(p.name, r);
  }
  if (registered.size === 0) return d;
  const next = (d.pools as unknown[]).map((p) => {
    if (!isObj(p) || p.dynamic !== true || typeof p.name !== 'string' || !registered.has(p.name)) return p;
    const own = Array.isArray(p.members) ? p.members.filter((m) => !(isObj(m) && typeof m.registered === 'string')) : [];
    const listed = new Set(own.map((m) => (isObj(m) ? m.address : undefined)));
    return { ...p, members: [...own, ...registered.get(p.name)!.filter((m) => !listed.has(m.address))] };
  });
  return { ...d, pools: next };
}
