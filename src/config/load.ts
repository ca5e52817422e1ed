// Loading: YAML text and master files → validated model → compiled Snapshot.
// Owns: turning every problem into a ConfigError (errors.ts) with its place: the file and field, or file and line;
// collecting all of them, and only the first of a chain (a problem hides those it causes).
// Runs on the control plane (start, reload, `waymark check`), never on the query path.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { configSchema, issuesToErrors, zoneSchema, type Config, type ConfigError, type ZoneConfig } from './schema.js';
import { inFile, quoteValue } from './errors.js';
import { fastYamlValue } from './yaml.js';
import { loadZoneFile, parseZoneText, readFailure, type ParsedZone } from '../dns/zonefile.js';
import { tokenizeRdata, parseRdata, resolveName } from '../dns/rdata-text.js';
import { compileZone, homeZone, policyNameProblem, outsideZones, Zone, type ZoneLayers } from '../dns/zone.js';
import { ZoneCache, zoneKey, baseKey } from './zone-cache.js';
import type { ZoneImage } from '../wire/image.js';
import { Snapshot } from '../answer/snapshot.js';
import { typeNumber, TYPE } from '../wire/types.js';
import { canonicalName, normalizeName, parentOf, NameError } from '../wire/name.js';
import { compilePolicy, type PolicyOptions } from '../answer/compile.js';
import { validateHealth } from '../health/targets.js';
import { validateDispatcher } from '../forward/validate.js';
import { validateLeases } from '../leases/validate.js';
import type { ZoneRecord } from '../wire/rdata.js';
import type { Validated } from './revisions.js';
import type { RawConfig } from './declarative.js';
import { applyEdit, findEdit, type Compiled } from './edit.js';

export type Result<T> = { ok: true; value: T } | { ok: false; errors: ConfigError[] };

/**
 * A zone as loaded: `records` begins with the `fileRecords` records read from its master file (or text), followed by
 * those its configuration entry adds (inline records and `ns`) up to `addedEnd`, then what the loader synthesised (an
 * SOA); `index` is its position in `zones`; `source`: where it was written, for the problems found compiling it.
 */
export interface LoadedZone {
  origin: string; records: ZoneRecord[]; fileRecords: number; addedEnd: number; index: number; source: { file?: string; path: string };
  /**
   * Compiled already (a worker given the supervisor's image, or the supervisor's ZoneCache): `records` is empty and
   * the zone is not compiled again. `overlay`: a change laid over the image (ZoneCache.patch).
   */
  image?: ZoneImage;
  overlay?: ZoneImage | null;
  /** The overlay was made by this load (a change compiled, not a zone reused). */
  patched?: boolean;
  /** For a cached zone: read it again (when the policy names placed in it changed, its image no longer fits). */
  reload?: () => LoadedZone | undefined;
}
export interface LoadedConfig { config: Config; zones: LoadedZone[]; file: string | null }

/**
 * YAML text → a plain value (read by the fast reader when it reads it as `yaml` would: see yaml.ts). A syntax error
 * is reported once, at its line and column; the parser's follow-on complaints about the same line are left out.
 */
export function parseYaml(text: string): Result<unknown> {
  const fast = fastYamlValue(text);
  if (fast !== undefined) return { ok: true, value: fast.value ?? {} };
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length === 0) return { ok: true, value: doc.toJS() ?? {} };
  const errors: ConfigError[] = [];
  const lines = new Set<number>();
  for (const e of doc.errors) {
    const pos = e.linePos?.[0];
    if (pos && lines.has(pos.line)) continue;
    if (pos) lines.add(pos.line);
    // prettyErrors appends " at line L, column C:" and a code excerpt; the location is given once, as file:line:col.
    const what = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '').replace(/:$/, '');
    errors.push({ path: '', line: pos?.line, column: pos?.col, message: `YAML syntax error: ${what.charAt(0).toLowerCase()}${what.slice(1)}` });
  }
  return { ok: false, errors };
}

/** Parse YAML text and validate it against the schema (no zone files read yet). */
export function parseConfigText(text: string): Result<Config> {
  const raw = parseYaml(text);
  return raw.ok ? validateConfig(raw.value) : raw;
}

/**
 * Validate a configuration value against the schema. When the schema finds problems, the zones are still checked
 * as far as they can be (zone files, when `baseDir` is given, and inline records), so every error shows at once.
 */
export function validateConfig(raw: unknown, baseDir?: string): Result<Config> {
  const parsed = configSchema.safeParse(raw, { reportInput: true });
  if (parsed.success) return { ok: true, value: parsed.data };
  const errors = issuesToErrors(parsed.error.issues);
  errors.push(...zoneErrorsOf(raw, baseDir, errors));
  return { ok: false, errors };
}

/** Zone problems the schema cannot see, for a configuration the schema rejected: not already reported, no cascades. */
function zoneErrorsOf(raw: unknown, baseDir: string | undefined, reported: readonly ConfigError[]): ConfigError[] {
  const zones = isObject(raw) && Array.isArray(raw.zones) ? raw.zones : [];
  const flagged = reported.map((e) => e.path).filter((p) => p !== '');
  const covered = (p: string): boolean => flagged.some((f) => f === p || p.startsWith(`${f}.`) || p.startsWith(`${f}[`));
  const out: ConfigError[] = [];
  zones.forEach((z: unknown, i: number) => {
    const at = `zones[${i}]`;
    if (covered(at)) return;
    const zc = zoneSchema.safeParse(z);
    if (zc.success) {
      if (baseDir !== undefined || zc.data.file === undefined) loadZone(zc.data, i, baseDir ?? process.cwd(), out);
      return;
    }
    // The zone itself has schema errors: check the records whose fields have the right types.
    const origin = isObject(z) && typeof z.origin === 'string' ? tryNormalize(z.origin) : undefined;
    const records = isObject(z) && Array.isArray(z.records) ? z.records : [];
    if (origin === undefined) return;
    records.forEach((r: unknown, j: number) => {
      const rp = `${at}.records[${j}]`;
      if (!isObject(r) || covered(rp) || typeof r.name !== 'string' || typeof r.type !== 'string') return;
      const values = typeof r.value === 'string' ? [r.value] : Array.isArray(r.values) && r.values.every((v) => typeof v === 'string') ? r.values as string[] : undefined;
      if (values === undefined) return;
      out.push(...checkRecord({ name: r.name, type: r.type, values, listed: r.values !== undefined }, rp, origin).errors.filter((e) => !covered(e.path)));
    });
  });
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function tryNormalize(name: string): string | undefined {
  try {
    return normalizeName(name);
  } catch {
    return undefined;
  }
}

/** Read a config file, its zone files, and validate everything. Every error carries its file and a path or line. */
export function loadConfigFile(file: string): Result<LoadedConfig> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return { ok: false, errors: [{ file, path: '', message: `cannot read the configuration: ${readFailure(e)}` }] };
  }
  const baseDir = path.dirname(path.resolve(file));
  const raw = parseYaml(text);
  const parsed = raw.ok ? validateConfig(raw.value, baseDir) : raw;
  if (!parsed.ok) return { ok: false, errors: inFile(parsed.errors, file) };
  const loaded = loadZones(parsed.value, baseDir, file);
  return loaded.ok ? loaded : { ok: false, errors: inFile(loaded.errors, file) };
}

/** The zone entries of a raw configuration as validation makes them (defaults applied), or null when one is bad. */
export function zoneEntries(raw: Record<string, unknown>): ZoneConfig[] | null {
  const zones = Array.isArray(raw.zones) ? raw.zones : [];
  const out: ZoneConfig[] = [];
  for (const z of zones) {
    const r = zoneSchema.safeParse(z);
    if (!r.success) return null;
    out.push(r.data);
  }
  return out;
}

/** Resolve every zone of a validated config (files relative to `baseDir`). */
export function loadZones(config: Config, baseDir: string, file: string | null, prebuilt?: ReadonlyMap<number, ZoneLayers>, cache?: ZoneCache): Result<LoadedConfig> {
  const errors: ConfigError[] = keyReferenceErrors(config);
  const zones: LoadedZone[] = [];
  const seen = new Map<string, number>();
  cache?.keys.clear();
  cache?.baseKeys.clear();
  config.zones.forEach((zc, i) => {
    const pre = prebuilt?.get(i);
    const z = pre !== undefined ? compiled(pre, i, false) : cache !== undefined ? fromCache(zc, i, baseDir, cache, errors) : loadZone(zc, i, baseDir, errors);
    if (!z) return;
    const key = canonicalName(z.origin);
    const prev = seen.get(key);
    if (prev !== undefined) {
      errors.push({ path: `zones[${i}].origin`, value: z.origin, message: `is already the origin of zones[${prev}]`, expected: 'give each zone once' });
      return;
    }
    seen.set(key, i);
    zones.push(z);
  });
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value: { config, zones, file } };
}

/** Update and transfer rules that name a TSIG key the configuration's `keys` do not have. */
function keyReferenceErrors(config: Config): ConfigError[] {
  const known = new Set((config.keys ?? []).map((k) => canonicalName(k.name)));
  const errors: ConfigError[] = [];
  config.zones.forEach((zc, i) => {
    (zc.notify ?? []).forEach((t, j) => {
      if (t.key !== undefined && !known.has(canonicalName(t.key))) errors.push({ path: `zones[${i}].notify[${j}].key`, value: t.key, message: 'names no key of keys:', expected: 'a key listed under keys:' });
    });
    for (const [field, rules] of [['update', zc.update], ['transfer', zc.transfer]] as const) {
      (rules ?? []).forEach((r, j) => (r.key ?? []).forEach((k, n) => {
        if (!known.has(canonicalName(k))) {
          errors.push({ path: `zones[${i}].${field}[${j}].key${r.key!.length > 1 ? `[${n}]` : ''}`, value: k, message: `names no key of keys:`, expected: 'a key listed under keys: (name, algorithm, secret as tsig-keygen prints them)' });
        }
      }));
    }
  });
  return errors;
}

/** A zone file's name as an operator can open it: relative to the working directory when below it. */
export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** Master-file errors as ConfigErrors: by file and line for a zone file, by field and line for inline `text`. */
export function zoneFileErrors(parsed: ParsedZone, at: string, written: string | undefined): ConfigError[] {
  if (parsed.unreadable !== undefined && written !== undefined) {
    return [{ path: `${at}.file`, message: `cannot read ${quoteValue(written)}: ${parsed.unreadable}` }];
  }
  return parsed.errors.map((e) => (written !== undefined
    ? { file: displayPath(e.file), path: '', line: e.line, message: e.message }
    : { path: `${at}.text`, line: e.line, message: e.message }));
}

/** A zone compiled already: its layers, nothing to read. */
function compiled(layers: ZoneLayers, i: number, patched: boolean): LoadedZone {
  return { origin: layers.image.origin, records: [], fileRecords: 0, addedEnd: 0, index: i, source: { path: `zones[${i}]` }, image: layers.image, overlay: layers.overlay, patched };
}

/**
 * Zone `i` as the cache has it: compiled from the same entry before; or a change to the inline records of a large
 * zone, laid over its last whole compile; or read and compiled whole. `null`: it has errors (in `errors`).
 */
function fromCache(zc: ZoneConfig, i: number, baseDir: string, cache: ZoneCache, errors: ConfigError[]): LoadedZone | undefined {
  const key = zoneKey(zc, baseDir);
  const bk = baseKey(zc, baseDir);
  if (key !== undefined) cache.keys.set(i, key);
  if (bk !== undefined) cache.baseKeys.set(i, bk);
  const reload = (): LoadedZone | undefined => loadZone(zc, i, baseDir, []);
  const hit = key !== undefined ? cache.get(key) : undefined;
  if (hit !== undefined) {
    if (bk !== undefined) cache.keepBase(bk);
    return { ...compiled(hit, i, false), reload };
  }
  const origin = bk !== undefined ? cache.baseOrigin(bk) : undefined;
  if (origin !== undefined) {
    const at = `zones[${i}]`;
    const before = errors.length;
    const added = addedRecords(zc, at, origin, errors);
    if (errors.length > before) return undefined;
    const p = cache.patch(bk!, added);
    if (p !== null && 'problems' in p) {
      for (const e of p.problems) errors.push({ path: at, message: e.message });
      return undefined;
    }
    if (p !== null) return { ...compiled(p.layers, i, p.layers.overlay !== null), reload };
  }
  return loadZone(zc, i, baseDir, errors);
}

function loadZone(zc: ZoneConfig, i: number, baseDir: string, errors: ConfigError[]): LoadedZone | undefined {
  const at = `zones[${i}]`;
  let origin: string | undefined;
  if (zc.origin !== undefined) {
    try {
      origin = normalizeName(zc.origin);
    } catch (e) {
      errors.push({ path: `${at}.origin`, value: zc.origin, message: e instanceof NameError ? `is not a domain name: ${e.message}` : String(e) });
      return undefined;
    }
  }
  const records: ZoneRecord[] = [];
  let source: LoadedZone['source'] = { path: at };
  if (zc.file !== undefined || zc.text !== undefined) {
    const parsed = zc.file !== undefined
      ? loadZoneFile(path.resolve(baseDir, zc.file), { origin, defaultTtl: zc.ttl })
      : parseZoneText(zc.text!, { file: `${at}.text`, origin, defaultTtl: zc.ttl });
    if (zc.file !== undefined) source = { file: displayPath(path.resolve(baseDir, zc.file)), path: '' };
    // Loops, not push(...spread): a spread of a million records overflows the call stack.
    for (const e of zoneFileErrors(parsed, at, zc.file)) errors.push(e);
    if (parsed.errors.length > 0) return undefined;
    origin = parsed.origin;
    for (const r of parsed.records) records.push(r);
  }
  const fileRecords = records.length;
  if (origin === undefined) return undefined;
  const before = errors.length;
  for (const r of addedRecords(zc, at, origin, errors)) records.push(r);
  const addedEnd = records.length;
  if (!records.some((r) => r.type === TYPE.SOA && canonicalName(r.name) === canonicalName(origin!))) {
    // An inline zone needs no SOA boilerplate: synthesise one from `soa:` (or defaults).
    const s = zc.soa;
    const mname = resolveName(s?.mname ?? 'ns1', origin, 'soa.mname');
    const rname = resolveName(s?.rname ?? 'hostmaster', origin, 'soa.rname');
    if (!mname.ok) errors.push({ path: `${at}.soa.mname`, message: mname.error });
    if (!rname.ok) errors.push({ path: `${at}.soa.rname`, message: rname.error });
    if (mname.ok && rname.ok) {
      records.push({
        name: origin, type: TYPE.SOA, ttl: s?.ttl ?? zc.ttl,
        data: {
          mname: mname.name, rname: rname.name, serial: s?.serial ?? 1,
          refresh: s?.refresh ?? 3600, retry: s?.retry ?? 600, expire: s?.expire ?? 604800, minimum: s?.minimum ?? 60,
        },
      });
    }
  }
  if (errors.length > before) return undefined;
  return { origin, records, fileRecords, addedEnd, index: i, source };
}

/** The records a zone entry adds to its master file: inline records, then `ns` (errors by field). */
function addedRecords(zc: ZoneConfig, at: string, origin: string, errors: ConfigError[]): ZoneRecord[] {
  const records: ZoneRecord[] = [];
  zc.records.forEach((r, j) => {
    const checked = checkRecord({ name: r.name, type: r.type, values: r.values ?? [r.value!], listed: r.values !== undefined }, `${at}.records[${j}]`, origin);
    for (const e of checked.errors) errors.push(e);
    for (const c of checked.records) records.push({ ...c, ttl: r.ttl ?? zc.ttl });
  });
  (zc.ns ?? []).forEach((ns, k) => {
    const target = resolveName(ns, origin, 'ns');
    if (!target.ok) errors.push({ path: `${at}.ns[${k}]`, message: target.error });
    else records.push({ name: origin, type: TYPE.NS, ttl: zc.ttl, data: target.name });
  });
  return records;
}

/** One inline record as written (`values` holds `value` alone when `listed` is false). */
interface RecordInput { name: string; type: string; values: readonly string[]; listed: boolean }

/**
 * Check one inline record: its type, owner and every value, each reported on its own (a value is not judged when
 * the type is unknown: what it should look like depends on the type). Records come back with TTL 0.
 */
function checkRecord(r: RecordInput, rp: string, origin: string): { records: ZoneRecord[]; errors: ConfigError[] } {
  const errors: ConfigError[] = [];
  const records: ZoneRecord[] = [];
  const type = typeNumber(r.type);
  if (type === undefined) {
    errors.push({ path: `${rp}.type`, value: r.type, message: 'is not a supported record type', expected: 'use a type mnemonic such as A, AAAA, CNAME, MX, TXT, or TYPEnnn with \\# rdata for others' });
  }
  const owner = resolveName(r.name, origin, 'name');
  if (!owner.ok) errors.push({ path: `${rp}.name`, message: owner.error });
  if (type === undefined) return { records, errors };
  r.values.forEach((v, k) => {
    const vp = r.listed ? `${rp}.values[${k}]` : `${rp}.value`;
    const tokens = tokenizeRdata(v);
    const data = tokens.ok ? parseRdata(type, tokens.tokens, origin) : tokens;
    if (!data.ok) errors.push({ path: vp, message: data.error });
    else if (owner.ok) records.push({ name: owner.name, type, ttl: 0, data: data.data });
  });
  return { records, errors };
}

/**
 * How a snapshot is compiled: its policy (PolicyOptions); zones compiled already (`prebuilt`: a worker given the
 * supervisor's images, by zone index); and the supervisor's cache of compiled zones.
 */
export interface SnapshotOptions extends PolicyOptions {
  prebuilt?: ReadonlyMap<number, ZoneLayers>;
  cache?: ZoneCache;
  /**
   * The configuration in force as raw and compiled: a configuration that differs from it only in names and pools
   * (by identity: see edit.ts) is compiled as that change, not in full.
   */
  previous?: InForce;
}

/** The configuration in force: raw (as the store and API hold it), validated, and compiled (the zones as loaded). */
export interface InForce extends Compiled { raw: RawConfig; zones: LoadedZone[] }

/**
 * Compile loaded zones and the policy (names, pools, topology…) into a Snapshot, reporting zone-level problems
 * (CNAME conflicts, missing SOA…) and policy problems with their paths. For the supervisor, which never answers,
 * `answers: false` leaves the members' answer RRsets out: everything is checked the same.
 */
export function compileSnapshot(loaded: LoadedConfig, generation: number, opts: SnapshotOptions = {}): Result<Snapshot> {
  const errors: ConfigError[] = [...validateHealth(loaded.config), ...validateDispatcher(loaded.config), ...validateLeases(loaded.config)];
  const cache = opts.cache;
  const policy = compilePolicy(loaded.config, opts);
  if (!policy.ok) errors.push(...policy.errors);
  // Each policy name lives in the most specific served zone containing it.
  const origins = loaded.zones.map((z) => canonicalName(z.origin));
  const originIndex = new Map(origins.map((o, zi) => [o, zi]));
  const extra = loaded.zones.map(() => [] as string[]);
  const homes: number[] = [];
  loaded.config.names.forEach((n, i) => {
    let key: string;
    let name: string;
    try {
      key = canonicalName(n.name);
      name = normalizeName(n.name);
    } catch {
      homes.push(-1);
      return; // reported by compilePolicy
    }
    const best = homeZone(key, originIndex);
    homes.push(best);
    if (best < 0) errors.push({ path: `names[${i}].name`, message: outsideZones(n.name, origins) });
    else extra[best]!.push(name);
  });
  const zones: Zone[] = [];
  loaded.zones.forEach((lz, zi) => {
    let z = lz;
    if (z.image !== undefined && (z.reload === undefined || cache?.fits(z.image, extra[zi]!))) {
      const zone = new Zone(z.image.origin, canonicalName(z.image.origin), z.image, z.overlay ?? null);
      zones.push(zone);
      const key = cache?.keys.get(z.index);
      if (z.patched) {
        cache?.noteCompiled(z.index);
        if (key !== undefined) cache!.put(key, zone.layers, extra[zi]!);
      } else if (z.reload !== undefined) cache?.noteReused(z.index);
      return;
    }
    if (z.reload !== undefined) z = z.reload() ?? z;
    const { zone, problems } = compileZone(z.origin, z.records, extra[zi]);
    cache?.noteCompiled(z.index);
    const key = cache?.keys.get(z.index);
    const bk = cache?.baseKeys.get(z.index);
    if (zone !== undefined && key !== undefined) cache!.put(key, zone.layers, extra[zi]!);
    if (zone !== undefined && bk !== undefined) cache!.putBase(bk, zone.image, z.records, z.fileRecords, z.addedEnd);
    for (const p of problems) errors.push({ ...z.source, message: p.message });
    if (zone) zones.push(zone);
  });
  // Zones that failed to compile leave nothing to check names against; otherwise check every placed name, so an
  // operator sees all problems at once.
  if (!policy.ok || zones.length !== loaded.zones.length) return { ok: false, errors };
  const snapshot = new Snapshot(zones, generation, policy.policy.names.length > 0 ? policy.policy : null);
  policy.policy.names.forEach((name, i) => {
    const home = homes[i]!;
    if (home < 0) return;
    const zone = zones[home]!;
    // Placed by the slot its node has: an image given (a worker's, from the supervisor) may hold names an edit laid
    // over it in an overlay, numbered after the image's own.
    const node = zone.node(name.name);
    const slot = node >= 0 ? zone.at.policySlot(node) : -1;
    if (slot < 0) {
      errors.push({ path: `names[${i}].name`, message: `${name.name} has no place in the compiled zone ${zone.origin}` });
      return;
    }
    const problem = policyNameProblem(zone, name.name, node);
    if (problem !== null) errors.push({ path: `names[${i}].name`, message: problem });
    zone.policies[slot] = name;
  });
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value: snapshot };
}

/**
 * Parse and compile a whole raw configuration (bootstrap + declarative) as validateRaw (revisions.ts) does, with
 * compile options: the supervisor, which never answers, compiles without answer RRsets.
 */
export function compileRaw(raw: unknown, baseDir: string, file: string | null, opts: SnapshotOptions): Validated {
  const prev = opts.previous;
  const edit = prev !== undefined && isObject(raw) ? findEdit(prev.raw, raw) : null;
  if (prev !== undefined && edit !== null) {
    const r = applyEdit(prev, edit, opts);
    if (r !== null) return r.ok ? { ok: true, loaded: { config: r.config, zones: prev.zones, file }, snapshot: r.snapshot, edit, relaid: r.relaid } : r;
  }
  return compileValidated(validateConfig(raw, baseDir), baseDir, file, opts);
}

/**
 * compileRaw of a configuration given as JSON text (what a worker is sent). Its parsed form is garbage once it is
 * validated instead of living through the compilation (100,000 names: 60 MB less at the peak).
 */
export function compileText(json: string, baseDir: string, file: string | null, opts: SnapshotOptions = {}): Validated {
  return compileValidated(validateConfig(JSON.parse(json) as unknown, baseDir), baseDir, file, opts);
}

function compileValidated(parsed: Result<Config>, baseDir: string, file: string | null, opts: SnapshotOptions): Validated {
  if (!parsed.ok) return parsed;
  const loaded = loadZones(parsed.value, baseDir, file, opts.prebuilt, opts.cache);
  if (!loaded.ok) return { ok: false, errors: loaded.errors };
  const snap = compileSnapshot(loaded.value, 0, opts);
  if (!snap.ok) return { ok: false, errors: snap.errors };
  return { ok: true, loaded: loaded.value, snapshot: snap.value };
}

/** Quick start: serve master files with no YAML (origin from each file's $ORIGIN or SOA). */
export function configFromZoneFiles(files: string[], listen: string[], workers?: number): Result<LoadedConfig> {
  const parsed = validateConfig({
    server: { listen, ...(workers !== undefined ? { workers } : {}) },
    zones: files.map((f) => ({ file: path.resolve(f) })),
  }, process.cwd());
  if (!parsed.ok) return parsed;
  return loadZones(parsed.value, process.cwd(), null);
}
