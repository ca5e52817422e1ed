// The configuration split in two (SPEC C1/C2): bootstrap sections (server, api, store) come from the YAML file only;
// declarative sections (zones, names, pools, monitors…) are what revisions hold and the API edits.
// Owns: the split, making a declarative config self-contained (zone files inlined as master-file text), its
// canonical hash and merging back (YAML is written by render.ts). No I/O beyond reading zone files.
import crypto from 'node:crypto';
import path from 'node:path';
import { loadZoneFile, renderZone } from '../dns/zonefile.js';
import type { ConfigError } from './schema.js';
import type { LoadedConfig, ZoneCache } from './load.js';
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
 * into `out` (a hash) rather than built as one string.
 */
function canonicalJson(v: unknown, out: crypto.Hash, inArray = false): void {
  if (Array.isArray(v)) {
    out.update('[');
    v.forEach((x, i) => { if (i > 0) out.update(','); canonicalJson(x, out, true); });
    out.update(']');
    return;
  }
  if (v !== null && typeof v === 'object') {
    out.update('{');
    Object.keys(v).sort().forEach((k, i) => {
      out.update(`${i > 0 ? ',' : ''}${JSON.stringify(k)}:`);
      canonicalJson((v as Record<string, unknown>)[k], out);
    });
    out.update('}');
    return;
  }
  // As the joined form always wrote them: a value JSON drops is nothing in an array, "undefined" in an object.
  const json = JSON.stringify(v) as string | undefined;
  out.update(json ?? (inArray ? '' : 'undefined'));
}

export function declarativeHash(d: Declarative): string {
  const h = crypto.createHash('sha256');
  canonicalJson(d, h);
  return h.digest('hex');
}
