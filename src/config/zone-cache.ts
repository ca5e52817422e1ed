// Compiled zones kept across loads, and changes laid over them. Owns: the cache keys (what a zone is compiled from),
// the generations of cached zones (a load keeps what it used), and turning a change to a large zone's inline records
// into an overlay (dns/zone.ts compileOverlay) instead of compiling the zone again.
// Control plane only: the supervisor keeps one ZoneCache; workers get what it compiled as images.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { compileOverlay, recordsAt, OVERLAY_MAX_NAMES, type Zone, type ZoneLayers, type ZoneProblem } from '../dns/zone.js';
import type { ZoneImage } from '../wire/image.js';
import { encodeRdata, type ZoneRecord } from '../wire/rdata.js';
import { TYPE } from '../wire/types.js';
import { canonicalName } from '../wire/name.js';
import { largeDigest, LARGE } from '../state/memo.js';
import type { ZoneConfig } from './schema.js';

/** Zones with fewer records compile in a few milliseconds: changes to them are compiled whole, not overlaid. */
export const OVERLAY_MIN_RECORDS = 20_000;

/**
 * A large zone as last compiled whole, for overlays: its image, the records its configuration entry added to its
 * master file (inline records and `ns`, by canonical owner), and the master file's own records at those owners (an
 * owner can have both; the image holds their union).
 */
interface ZoneBase {
  image: ZoneImage;
  added: Map<string, ZoneRecord[]>;
  fileAt: Map<string, ZoneRecord[]>;
}

/** A zone as a load read it (config/load.ts LoadedZone): its records, empty when it came compiled. */
interface SeedZone { index: number; records: readonly ZoneRecord[]; fileRecords: number; addedEnd: number }

/** The zone a change was laid over, or why it was not (too many names, a delegation changed, a bad record). */
export type Patched = { layers: ZoneLayers } | { problems: ZoneProblem[] } | null;

/**
 * Compiled zones of the last loads, by what they were compiled from (the zone's configuration entry, its file's
 * identity, and the policy names placed in it): a reload or an API change that leaves a zone as it was does not parse
 * or compile it again. The supervisor keeps one; each load keeps only the zones it used.
 */
export class ZoneCache {
  private entries = new Map<string, ZoneLayers>();
  private used = new Map<string, ZoneLayers>();
  private bases = new Map<string, ZoneBase>();
  private usedBases = new Map<string, ZoneBase>();
  /** The policy names each cached image was compiled with (their slots are in the image; an overlay keeps them). */
  private readonly placed = new WeakMap<ZoneImage, string>();
  /** Keys of the zones of the load in progress, by zone index (set by loadZones, read by compileSnapshot). */
  readonly keys = new Map<number, string>();
  /** Keys of the same zones without their inline records: what an overlay is laid over. */
  readonly baseKeys = new Map<number, string>();
  /** Zones (by index) reused and compiled since resetCounts: what a reload reports. */
  private readonly reusedZones = new Set<number>();
  private readonly compiledZones = new Set<number>();
  resetCounts(): void { this.reusedZones.clear(); this.compiledZones.clear(); }
  noteReused(index: number): void { this.reusedZones.add(index); }
  noteCompiled(index: number): void { this.compiledZones.add(index); }
  /** A zone compiled in one pass of a reload and reused in the next counts as compiled. */
  counts(): { reused: number; compiled: number } {
    let reused = 0;
    for (const i of this.reusedZones) if (!this.compiledZones.has(i)) reused++;
    return { reused, compiled: this.compiledZones.size };
  }

  /** A file zone's master-file text as inlined into revisions, by key: an unchanged file is not rendered again. */
  private texts = new Map<string, string>();
  private usedTexts = new Map<string, string>();

  /** The inlined text of the zone with `key`, rendering it with `render` when this cache has none. */
  textOf(key: string, render: () => string): string {
    const text = this.usedTexts.get(key) ?? this.texts.get(key) ?? render();
    this.usedTexts.set(key, text);
    return text;
  }

  get(key: string): ZoneLayers | undefined {
    const hit = this.entries.get(key) ?? this.used.get(key);
    if (hit !== undefined) this.used.set(key, hit);
    return hit;
  }

  put(key: string, layers: ZoneLayers, names: readonly string[]): void {
    this.used.set(key, layers);
    this.placed.set(layers.image, placedKey(names));
  }

  /** True when `image` was compiled with exactly these policy names. */
  fits(image: ZoneImage, names: readonly string[]): boolean { return this.placed.get(image) === placedKey(names); }

  /**
   * Remember a large zone just compiled whole (`records`: the master file's, then `added` from its configuration
   * entry, then what the loader synthesised), so a later change to its inline records becomes an overlay.
   */
  putBase(baseKey: string, image: ZoneImage, records: readonly ZoneRecord[], fileRecords: number, addedEnd: number): void {
    if (records.length < OVERLAY_MIN_RECORDS) return;
    const added = byOwner(records, fileRecords, addedEnd);
    const fileAt = new Map<string, ZoneRecord[]>();
    for (const owner of added.keys()) fileAt.set(owner, []);
    if (added.size > 0) {
      for (let i = 0; i < records.length; i++) {
        if (i === fileRecords) i = addedEnd;
        if (i >= records.length) break;
        fileAt.get(canonicalName(records[i]!.name))?.push(records[i]!);
      }
    }
    this.usedBases.set(baseKey, { image, added, fileAt });
  }

  /** The zone last compiled whole under `baseKey` stays (the zone is reused as it is): later changes lay over it. */
  keepBase(baseKey: string): void {
    const base = this.base(baseKey);
    if (base !== undefined) this.usedBases.set(baseKey, base);
  }

  /** The last whole compile under `baseKey`, from this load or the one in force. */
  private base(baseKey: string): ZoneBase | undefined {
    return this.usedBases.get(baseKey) ?? this.bases.get(baseKey);
  }

  /** The origin of the zone last compiled whole under `baseKey`, when there is one to lay changes over. */
  baseOrigin(baseKey: string): string | undefined {
    return this.base(baseKey)?.image.origin;
  }

  /**
   * The zone with base key `baseKey` and inline records `added` now, as its last whole compile with an overlay of
   * the owners whose records differ; null when there is no such compile or the change is not one for an overlay.
   */
  patch(baseKey: string, added: readonly ZoneRecord[]): Patched {
    const base = this.base(baseKey);
    if (base === undefined) return null;
    const now = byOwner(added, 0, added.length);
    const changed = new Map<string, ZoneRecord[]>();
    for (const owner of new Set([...base.added.keys(), ...now.keys()])) {
      const was = base.added.get(owner) ?? [];
      const is = now.get(owner) ?? [];
      if (sameRecords(was, is)) continue;
      if (was.some((r) => r.type === TYPE.SOA) || is.some((r) => r.type === TYPE.SOA)) return null;
      changed.set(owner, [...(base.fileAt.get(owner) ?? recordsAt(base.image, owner)), ...is]);
      if (changed.size > OVERLAY_MAX_NAMES) return null;
    }
    this.usedBases.set(baseKey, base);
    if (changed.size === 0) return { layers: { image: base.image, overlay: null } };
    const r = compileOverlay(base.image, changed);
    if (r.refused !== undefined) return null;
    if (r.overlay === undefined) return { problems: r.problems };
    return { layers: { image: base.image, overlay: r.overlay } };
  }

  /**
   * Remember the zones of a load compiled without the cache, under the keys of `config`'s zone entries (the same
   * zones, perhaps written differently: a file's zone inlined as text in a revision).
   */
  seed(zoneConfigs: readonly ZoneConfig[], baseDir: string, loaded: readonly SeedZone[], zones: readonly Zone[]): void {
    loaded.forEach((lz, k) => {
      const zc = zoneConfigs[lz.index];
      const zone = zones[k];
      if (zc === undefined || zone === undefined) return;
      const key = zoneKey(zc, baseDir);
      if (key !== undefined) this.put(key, zone.layers, zone.policies.map((p) => p?.name ?? ''));
      const bk = zone.overlay === null && lz.records.length > 0 ? baseKey(zc, baseDir) : undefined;
      if (bk !== undefined) this.putBase(bk, zone.image, lz.records, lz.fileRecords, lz.addedEnd);
    });
  }

  /** A load was put in force: what it did not use is let go. */
  commit(): void {
    this.entries = this.used;
    this.used = new Map();
    this.texts = this.usedTexts;
    this.usedTexts = new Map();
    this.bases = this.usedBases;
    this.usedBases = new Map();
  }
}

function placedKey(names: readonly string[]): string {
  return names.map((n) => n.toLowerCase()).join('\0');
}

/** records[from, to) by canonical owner. */
function byOwner(records: readonly ZoneRecord[], from: number, to: number): Map<string, ZoneRecord[]> {
  const out = new Map<string, ZoneRecord[]>();
  for (let i = from; i < to; i++) {
    const r = records[i]!;
    const owner = canonicalName(r.name);
    const list = out.get(owner);
    if (list) list.push(r);
    else out.set(owner, [r]);
  }
  return out;
}

/** Equal as sets of (type, TTL, rdata): what the compiled zone holds does not depend on their order. */
function sameRecords(a: readonly ZoneRecord[], b: readonly ZoneRecord[]): boolean {
  if (a.length !== b.length) return false;
  const key = (r: ZoneRecord): string => `${r.type}/${r.ttl}/${encodeRdata(r.type, r.data).toString('hex')}`;
  const x = a.map(key).sort();
  const y = b.map(key).sort();
  return x.every((k, i) => k === y[i]);
}

/** What a zone is compiled from, as a cache key (the policy names placed in it are added when they are known). */
export function zoneKey(zc: ZoneConfig, baseDir: string): string | undefined {
  const h = createHash('sha1'); // a cache key within one process, not a security boundary
  // A zone's text (a whole master file) is digested once per process, not on every change elsewhere.
  h.update(JSON.stringify(zc, (_k, v: unknown) => (typeof v === 'string' && v.length >= LARGE ? `\0text ${largeDigest(v)}` : v)));
  if (zc.file !== undefined) {
    const abs = path.resolve(baseDir, zc.file);
    try {
      const st = fs.statSync(abs);
      h.update(`\0${abs}\0${st.ino}\0${st.size}\0${st.mtimeMs}`);
    } catch {
      return undefined; // unreadable: loading it reports why
    }
    // Included files are part of the zone but not of this key: such zones are read every time.
    if (/\$include/i.test(fs.readFileSync(abs, 'latin1'))) return undefined;
  }
  return h.digest('hex');
}

/** The key of the zone without its inline records: the zone an overlay of those records is laid over. */
export function baseKey(zc: ZoneConfig, baseDir: string): string | undefined {
  return zoneKey({ ...zc, records: [] }, baseDir);
}
