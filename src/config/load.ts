// Loading: YAML text and master files → validated model → compiled Snapshot.
// Owns: turning every problem into a ConfigError with a path (YAML path or file:line), collecting all of them.
// Runs on the control plane (start, reload, `waymark check`), never on the query path.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { configSchema, issuesToErrors, type Config, type ConfigError, type ZoneConfig } from './schema.js';
import { loadZoneFile, parseZoneText } from '../dns/zonefile.js';
import { tokenizeRdata, parseRdata, resolveName } from '../dns/rdata-text.js';
import { compileZone, type Zone } from '../dns/zone.js';
import { Snapshot } from '../answer/snapshot.js';
import { typeNumber, TYPE } from '../wire/types.js';
import { canonicalName, normalizeName, NameError, isAtOrBelow } from '../wire/name.js';
import { compilePolicy } from '../answer/compile.js';
import { validateHealth } from '../health/targets.js';
import type { ZoneRecord } from '../wire/rdata.js';

export type Result<T> = { ok: true; value: T } | { ok: false; errors: ConfigError[] };

export interface LoadedZone { origin: string; records: ZoneRecord[]; source: string }
export interface LoadedConfig { config: Config; zones: LoadedZone[]; file: string | null }

/** Parse YAML text and validate it against the schema (no zone files read yet). */
export function parseConfigText(text: string): Result<Config> {
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    return { ok: false, errors: doc.errors.map((e) => ({ path: `line ${e.linePos?.[0]?.line ?? '?'}`, message: e.message.split('\n')[0]! })) };
  }
  const parsed = configSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) return { ok: false, errors: issuesToErrors(parsed.error.issues) };
  return { ok: true, value: parsed.data };
}

/** Read a config file, its zone files, and validate everything. Every error carries a path. */
export function loadConfigFile(file: string): Result<LoadedConfig> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return { ok: false, errors: [{ path: file, message: `cannot read config: ${(e as Error).message}` }] };
  }
  const parsed = parseConfigText(text);
  if (!parsed.ok) return { ok: false, errors: parsed.errors.map((e) => ({ ...e, path: `${file}: ${e.path}` })) };
  return loadZones(parsed.value, path.dirname(path.resolve(file)), file);
}

/** Resolve every zone of a validated config (files relative to `baseDir`). */
export function loadZones(config: Config, baseDir: string, file: string | null): Result<LoadedConfig> {
  const errors: ConfigError[] = [];
  const zones: LoadedZone[] = [];
  const seen = new Map<string, number>();
  config.zones.forEach((zc, i) => {
    const z = loadZone(zc, i, baseDir, errors);
    if (!z) return;
    const key = canonicalName(z.origin);
    const prev = seen.get(key);
    if (prev !== undefined) {
      errors.push({ path: `zones[${i}].origin`, message: `zone ${z.origin} is already defined by zones[${prev}]` });
      return;
    }
    seen.set(key, i);
    zones.push(z);
  });
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value: { config, zones, file } };
}

function loadZone(zc: ZoneConfig, i: number, baseDir: string, errors: ConfigError[]): LoadedZone | undefined {
  const at = `zones[${i}]`;
  let origin: string | undefined;
  if (zc.origin !== undefined) {
    try {
      origin = normalizeName(zc.origin);
    } catch (e) {
      errors.push({ path: `${at}.origin`, message: e instanceof NameError ? e.message : String(e) });
      return undefined;
    }
  }
  const records: ZoneRecord[] = [];
  let source = `${at}`;
  if (zc.file !== undefined) {
    const full = path.resolve(baseDir, zc.file);
    source = zc.file;
    const parsed = loadZoneFile(full, { origin, defaultTtl: zc.ttl });
    for (const e of parsed.errors) errors.push({ path: `${zc.file}:${e.line}`, message: e.message });
    if (parsed.errors.length > 0) return undefined;
    origin = parsed.origin;
    records.push(...parsed.records);
  } else if (zc.text !== undefined) {
    const parsed = parseZoneText(zc.text, { file: `${at}.text`, origin, defaultTtl: zc.ttl });
    for (const e of parsed.errors) errors.push({ path: `${at}.text:${e.line}`, message: e.message });
    if (parsed.errors.length > 0) return undefined;
    origin = parsed.origin;
    records.push(...parsed.records);
  }
  if (origin === undefined) return undefined;
  const before = errors.length;
  zc.records.forEach((r, j) => {
    const rp = `${at}.records[${j}]`;
    const type = typeNumber(r.type);
    if (type === undefined) {
      errors.push({ path: `${rp}.type`, message: `"${r.type}" is not a supported record type (use TYPEnnn with \\# rdata for others)` });
      return;
    }
    const owner = resolveName(r.name, origin!, 'name');
    if (!owner.ok) {
      errors.push({ path: `${rp}.name`, message: owner.error });
      return;
    }
    const values = r.values ?? [r.value!];
    values.forEach((v, k) => {
      const vp = r.values ? `${rp}.values[${k}]` : `${rp}.value`;
      const tokens = tokenizeRdata(v);
      if (!tokens.ok) {
        errors.push({ path: vp, message: tokens.error });
        return;
      }
      const data = parseRdata(type, tokens.tokens, origin!);
      if (!data.ok) {
        errors.push({ path: vp, message: data.error });
        return;
      }
      records.push({ name: owner.name, type, ttl: r.ttl ?? zc.ttl, data: data.data });
    });
  });
  (zc.ns ?? []).forEach((ns, k) => {
    const target = resolveName(ns, origin!, 'ns');
    if (!target.ok) errors.push({ path: `${at}.ns[${k}]`, message: target.error });
    else records.push({ name: origin!, type: TYPE.NS, ttl: zc.ttl, data: target.name });
  });
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
  return { origin, records, source };
}

/**
 * Compile loaded zones and the policy (names, pools, topology…) into a Snapshot, reporting zone-level problems
 * (CNAME conflicts, missing SOA…) and policy problems with their paths.
 */
export function compileSnapshot(loaded: LoadedConfig, generation: number): Result<Snapshot> {
  const errors: ConfigError[] = [...validateHealth(loaded.config)];
  const policy = compilePolicy(loaded.config);
  if (!policy.ok) errors.push(...policy.errors);
  // Each policy name lives in the most specific served zone containing it.
  const origins = loaded.zones.map((z) => canonicalName(z.origin));
  const extra = loaded.zones.map(() => [] as string[]);
  const homes: number[] = [];
  loaded.config.names.forEach((n, i) => {
    let key: string;
    try {
      key = canonicalName(n.name);
    } catch {
      homes.push(-1);
      return; // reported by compilePolicy
    }
    let best = -1;
    origins.forEach((o, zi) => {
      if (isAtOrBelow(key, o) && (best < 0 || o.length > origins[best]!.length)) best = zi;
    });
    homes.push(best);
    if (best < 0) errors.push({ path: `names[${i}].name`, message: `${n.name} is not inside any zone served here${origins.length ? ` (zones: ${origins.join(', ')})` : ''}` });
    else extra[best]!.push(normalizeName(n.name));
  });
  const zones: Zone[] = [];
  loaded.zones.forEach((z, zi) => {
    const { zone, problems } = compileZone(z.origin, z.records, extra[zi]);
    for (const p of problems) errors.push({ path: z.source, message: p.message });
    if (zone) zones.push(zone);
  });
  // Zones that failed to compile leave nothing to check names against; otherwise check every placed name, so an
  // operator sees all problems at once.
  if (!policy.ok || zones.length !== loaded.zones.length) return { ok: false, errors };
  const snapshot = new Snapshot(zones, generation, policy.policy.names.length > 0 ? policy.policy : null);
  policy.policy.names.forEach((name, i) => {
    if (homes[i]! < 0) return;
    const node = snapshot.node(name.name)!;
    const at = `names[${i}].name`;
    if (node.rrsets.has(TYPE.A) || node.rrsets.has(TYPE.AAAA)) {
      errors.push({ path: at, message: `${name.name} also has static A/AAAA records in zone ${node.zone.origin}; a policy name answers A and AAAA itself` });
    } else if (node.cname) {
      errors.push({ path: at, message: `${name.name} is a CNAME in zone ${node.zone.origin}` });
    } else if (node.cut) {
      errors.push({ path: at, message: `${name.name} is at or below the delegation ${node.cut.name}` });
    }
    node.policy = name;
  });
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value: snapshot };
}

/** Quick start: serve master files with no YAML (origin from each file's $ORIGIN or SOA). */
export function configFromZoneFiles(files: string[], listen: string[], workers?: number): Result<LoadedConfig> {
  const parsed = configSchema.safeParse({
    server: { listen, ...(workers !== undefined ? { workers } : {}) },
    zones: files.map((f) => ({ file: path.resolve(f) })),
  });
  if (!parsed.success) return { ok: false, errors: issuesToErrors(parsed.error.issues) };
  return loadZones(parsed.data, process.cwd(), null);
}
