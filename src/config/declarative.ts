// The configuration split in two (SPEC C1/C2): bootstrap sections (server, api, store) come from the YAML file only;
// declarative sections (zones, names, pools, monitors…) are what revisions hold and the API edits.
// Owns: the split, making a declarative config self-contained (zone files inlined as master-file text), its
// canonical hash and merging back (YAML is written by render.ts). No I/O beyond reading zone files.
import crypto from 'node:crypto';
import path from 'node:path';
import { loadZoneFile, renderZone } from '../dns/zonefile.js';
import { largeDigest, LARGE } from '../state/memo.js';
import type { ConfigError } from './schema.js';
import type { LoadedConfig } from './load.js';
import type { ZoneCache } from './zone-cache.js';
import { zoneFileErrors } from './load.js';

export const BOOTSTRAP_KEYS = ['server', 'api', 'store'] as const;

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

/**
 * JSON with object keys sorted, so equal configurations hash equally whatever the key order; written piece by piece
 * into `out` (a hash) rather than built as one string. `large`: how a large string is written (its digest, so a change
 * elsewhere does not hash a million-record zone's text again), or undefined to write it whole (the legacy hash).
 */
function canonicalJson(v: unknown, out: crypto.Hash, large: ((s: string) => string) | undefined, inArray = false): void {
  if (Array.isArray(v)) {
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
    // '#' never appears in JSON outside a string: a digest cannot be mistaken for a value.
    out.update(`#${large(v)}#`);
    return;
  }
  // As the joined form always wrote them: a value JSON drops is nothing in an array, "undefined" in an object.
  const json = JSON.stringify(v) as string | undefined;
  out.update(json ?? (inArray ? '' : 'undefined'));
}

/** Hashes of this form (the prefix) digest large strings; older revisions carry the legacy form (no prefix). */
const HASH_V2 = 'h2:';

/** The content hash a revision of `d` is stored with: equal configurations, equal hashes. */
export function declarativeHash(d: Declarative): string {
  const h = crypto.createHash('sha256');
  canonicalJson(d, h, largeDigest);
  return HASH_V2 + h.digest('hex');
}

/**
 * Whether `d` is the configuration a revision with hash `stored` holds (`hash`: declarativeHash(d), when known).
 * A revision stored before the v2 form is compared in its own (legacy) form, so an upgrade never mistakes an
 * unchanged file for a changed one (which would let the file undo API edits).
 */
export function sameDeclarative(stored: string, d: Declarative, hash = declarativeHash(d)): boolean {
  return stored.startsWith(HASH_V2) ? stored === hash : stored === legacyHash(d);
}

/** The hash revisions were stored with before v2, remembered for the last configuration asked about. */
let legacy: { d: Declarative; hash: string } | null = null;
function legacyHash(d: Declarative): string {
  if (legacy?.d !== d) {
    const h = crypto.createHash('sha256');
    canonicalJson(d, h, undefined);
    legacy = { d, hash: h.digest('hex') };
  }
  return legacy.hash;
}
