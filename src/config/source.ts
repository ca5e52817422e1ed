// Where a configuration comes from and what is in force: the YAML file (or master files for the quick start), zone
// files inlined, validated by path; with a store, the current revision (SPEC C2). Also where the store lives.
// Owns: reading sources. Used at start-up, by `check`, `explain`, `member` and the supervisor; never per query.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseYaml, compileRaw, validateConfig, type LoadedConfig, type Result } from './load.js';
import type { SnapshotOptions } from './load.js';
import type { ConfigError } from './schema.js';
import { inFile } from './errors.js';
import { readFailure } from '../dns/zonefile.js';
import { splitConfig, mergeConfig, inlineZoneFiles, type Declarative, type RawConfig } from './declarative.js';
import { validateRaw, fileWinsCarried, type Valid } from './revisions.js';
import { openStore, StoreError, STORE_FILE, type SqliteStore, type AdminRecord } from '../state/store.js';
import type { Responder } from '../dns/responder.js';
import { sqliteStateStore, type StateStore } from '../state/async.js';
import { openPostgresStore } from '../state/postgres.js';
import { redactUrl } from '../net/url.js';
import type { LoadBlob } from '../state/content.js';

/** Where a configuration comes from. */
export type ConfigSource =
  | { kind: 'file'; file: string }
  | { kind: 'zones'; zones: string[]; listen: string[]; workers?: number };

/** A configuration read from its source, zone files inlined: what workers are given (they read no files). */
export interface SourceConfig {
  raw: RawConfig; bootstrap: RawConfig; declarative: Declarative; baseDir: string; file: string | null;
  /** The source validated and compiled as written (equal to `raw`'s): callers reuse it instead of compiling again. */
  valid: Valid;
}

/** The source as written (YAML parsed, or the quick start's zone list), validated and compiled once. */
type AsWritten = { ok: true; raw: RawConfig; baseDir: string; file: string | null; valid: Valid } | { ok: false; errors: ConfigError[] };

/** How a source is read: how it is compiled, and who hears of it as soon as it is parsed (before it is validated). */
export interface SourceOptions extends SnapshotOptions {
  parsed?: (raw: RawConfig) => void;
}

function readAsWritten(source: ConfigSource, opts: SourceOptions = {}): AsWritten {
  let raw: RawConfig;
  let baseDir: string;
  let file: string | null = null;
  if (source.kind === 'file') {
    let text: string;
    try {
      text = fs.readFileSync(source.file, 'utf8');
    } catch (e) {
      return { ok: false, errors: [{ file: source.file, path: '', message: `cannot read the configuration: ${readFailure(e)}` }] };
    }
    const parsed = parseYaml(text);
    if (!parsed.ok) return { ok: false, errors: inFile(parsed.errors, source.file) };
    raw = (parsed.value ?? {}) as RawConfig;
    baseDir = path.dirname(path.resolve(source.file));
    file = source.file;
  } else {
    raw = { server: { listen: source.listen, ...(source.workers !== undefined ? { workers: source.workers } : {}) }, zones: source.zones.map((f) => ({ file: path.resolve(f) })) };
    baseDir = process.cwd();
  }
  opts.parsed?.(raw);
  // Validate as written: every error at once, each with its file (zone-file errors with theirs, and their line).
  const valid = compileRaw(raw, baseDir, file, opts);
  if (!valid.ok) return { ok: false, errors: source.kind === 'file' ? inFile(valid.errors, file) : byZoneFile(valid.errors, source.zones) };
  return { ok: true, raw, baseDir, file, valid };
}

/**
 * Read the source (YAML file, or master files for the quick start), inline zone files, report errors by path.
 * `opts`: how `valid` is compiled (the supervisor's has no answer RRsets; with its zone cache, zones unchanged since
 * they were last compiled are neither parsed nor compiled again).
 */
export function readSource(source: ConfigSource, opts: SourceOptions = {}): { ok: true; value: SourceConfig } | { ok: false; errors: ConfigError[] } {
  const w = readSourceAsWritten(source, opts);
  if (!w.ok) return w;
  const inlined = w.value.inline();
  if (!inlined.ok) return inlined;
  const { bootstrap, baseDir, file, valid } = w.value;
  return { ok: true, value: { raw: mergeConfig(bootstrap, inlined.value), bootstrap, declarative: inlined.value, baseDir, file, valid } };
}

/** A source read and compiled as written (`file:` zones as files), and how to inline its zone files when needed. */
export interface WrittenSource extends SourceConfig {
  /** The declarative sections with zone files inlined as text, as a revision holds them (computed once). */
  inline(): Result<Declarative>;
}

/**
 * readSource without inlining yet: the server's start hands the workers a configuration without zones' data, so the
 * text of a million-record zone (half a second to render) is made after they serve.
 */
export function readSourceAsWritten(source: ConfigSource, opts: SourceOptions = {}): { ok: true; value: WrittenSource } | { ok: false; errors: ConfigError[] } {
  const w = readAsWritten(source, opts);
  if (!w.ok) return w;
  const { bootstrap, declarative } = splitConfig(w.raw);
  let inlined: Result<Declarative> | null = null;
  const inline = (): Result<Declarative> => {
    if (inlined === null) {
      const r = inlineZoneFiles(declarative, w.baseDir, w.valid.loaded, opts.cache);
      inlined = r.ok ? r : { ok: false, errors: inFile(r.errors, w.file) };
    }
    return inlined;
  };
  return { ok: true, value: { raw: w.raw, bootstrap, declarative, baseDir: w.baseDir, file: w.file, valid: w.valid, inline } };
}

/** Quick-start errors: there is no YAML, so `zones[i].file` means the i-th --zone file as given. */
function byZoneFile(errors: readonly ConfigError[], zones: readonly string[]): ConfigError[] {
  return errors.map((e) => {
    const m = /^zones\[(\d+)\]\.file$/.exec(e.path);
    const given = m ? zones[Number(m[1])] : undefined;
    return given === undefined ? e : { ...e, file: given, path: '', message: e.message.replace(/^cannot read "[^"]*"/, 'cannot read the zone file') };
  });
}

/** Read and fully validate a source (for `check`, `explain` and start-up). */
export function loadSource(source: ConfigSource): Result<Valid> {
  const w = readAsWritten(source);
  return w.ok ? { ok: true, value: w.valid } : w;
}

/**
 * The configuration in force for a source: with a store, the current revision's declarative sections (the file's
 * only when it changed since last applied); without, the file itself, with `valid` for what is in force. Read-only:
 * for `explain`, `member` and `export`.
 */
export function effectiveSource(source: ConfigSource): { ok: true; value: SourceConfig } | { ok: false; errors: ConfigError[] } {
  const src = readSource(source);
  if (!src.ok) return src;
  const dir = storeDir(src.value.valid.loaded);
  if (!dir || !fs.existsSync(path.join(dir, STORE_FILE))) return src;
  const store = openConfigStore(dir, src.value.file, { readonly: true });
  try {
    const cur = store.currentRevisionMeta();
    const lastFile = src.value.file ? store.lastRevisionFromFile(path.resolve(src.value.file)) : null;
    // The file wins when it changed since it was last applied (the same precedence the server uses at start).
    if (!cur || fileWinsCarried(cur, lastFile, src.value.declarative, (id) => store.revision(id)?.config.pools)) return src;
    // The revision in force, validated and compiled as such (`valid` must describe `raw`, not the file).
    const declarative = store.revision(cur.id)!.config;
    const raw = mergeConfig(src.value.bootstrap, declarative);
    const valid = validateRaw(raw, src.value.baseDir, src.value.file);
    if (!valid.ok) return { ok: false, errors: valid.errors };
    return { ok: true, value: { ...src.value, declarative, raw, valid } };
  } finally {
    store.close();
  }
}

/**
 * What `waymark export` writes: the revision in force read from the store part by part (`root`, with the store left
 * open for reading its blobs: the caller closes it), or the file's own configuration when it is what is in force.
 * Unlike effectiveSource nothing is compiled on the way: a revision in the store compiled when it was committed,
 * and a file that changed since its last revision is validated in full as before.
 */
export type ExportSource =
  | { kind: 'revision'; bootstrap: RawConfig; root: string; store: { load: LoadBlob; close(): unknown } }
  | { kind: 'file'; raw: RawConfig };

/**
 * What `waymark export` prints: the bootstrap sections from the file (a store.postgres password shown as ***), the
 * rest from the revision in force (SQLite: by the file's precedence rule; a cluster's: its current revision).
 */
export async function exportSource(file: string): Promise<Result<ExportSource>> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return { ok: false, errors: [{ file, path: '', message: `cannot read the configuration: ${readFailure(e)}` }] };
  }
  const parsed = parseYaml(text);
  if (!parsed.ok) return { ok: false, errors: inFile(parsed.errors, file) };
  const raw = (parsed.value ?? {}) as RawConfig;
  const baseDir = path.dirname(path.resolve(file));
  const checked = validateConfig(raw, baseDir);
  if (!checked.ok) return { ok: false, errors: inFile(checked.errors, file) };
  const split = splitConfig(raw);
  const bootstrap = redactBootstrap(split.bootstrap);
  const inlined = inlineZoneFiles(split.declarative, baseDir);
  if (!inlined.ok) return { ok: false, errors: inFile(inlined.errors, file) };
  const pgUrl = checked.value.store?.postgres;
  if (pgUrl !== undefined) {
    const s = checked.value.store!;
    const store = await openPostgresStore({ url: pgUrl, passwordFile: s.passwordFile === undefined ? undefined : configRelative(file, s.passwordFile), connections: 2 });
    const cur = await store.currentRevisionMeta();
    const root = cur ? await store.revisionRoot(cur.id) : null;
    if (root !== null) {
      await store.blobs.prefetch(root);
      return { ok: true, value: { kind: 'revision', bootstrap, root, store: { load: store.blobs.load, close: () => store.close() } } };
    }
    await store.close();
  }
  const dir = checked.value.store?.path !== undefined ? configRelative(file, checked.value.store.path) : null;
  if (dir && fs.existsSync(path.join(dir, STORE_FILE))) {
    const store = openConfigStore(dir, file, { readonly: true });
    const cur = store.currentRevisionMeta();
    const root = cur && !fileWinsCarried(cur, store.lastRevisionFromFile(path.resolve(file)), inlined.value, (id) => store.revision(id)?.config.pools) ? store.revisionRoot(cur.id) : null;
    if (root !== null) return { ok: true, value: { kind: 'revision', bootstrap, root, store: { load: (h: string) => store.blob(h), close: () => store.close() } } };
    store.close();
  }
  // The file is what is in force (it changed, or there is no store): only if it compiles, as a server would take it.
  const merged = mergeConfig(split.bootstrap, inlined.value);
  const valid = validateRaw(merged, baseDir, file);
  if (!valid.ok) return { ok: false, errors: inFile(valid.errors, file) };
  return { ok: true, value: { kind: 'file', raw: { ...merged, ...bootstrap } } };
}

/** A TSIG secret as `waymark export` shows it: never in clear. */
export const REDACTED_SECRET = '(secret not shown)';

/** Bootstrap sections as they may be shown: a store.postgres URL without its password, TSIG keys without secrets. */
function redactBootstrap(b: RawConfig): RawConfig {
  let out = b;
  const store = b.store as Record<string, unknown> | undefined;
  if (typeof store?.postgres === 'string') out = { ...out, store: { ...store, postgres: redactUrl(store.postgres) } };
  if (Array.isArray(b.keys)) out = { ...out, keys: b.keys.map((k: unknown) => (typeof k === 'object' && k !== null ? { ...k, secret: REDACTED_SECRET } : k)) };
  return out;
}

/** The store directory of a configuration (relative to the config file), or null when state is memory-only. */
export function storeDir(loaded: LoadedConfig): string | null {
  const s = loaded.config.store;
  return s?.path !== undefined ? configRelative(loaded.file, s.path) : null;
}

/** Where a configuration keeps its state: an SQLite directory (one node), a PostgreSQL database (cluster), or nowhere. */
export type StoreSettings =
  | { kind: 'sqlite'; dir: string }
  | { kind: 'postgres'; url: string; passwordFile?: string; connections?: number };
export function storeSettings(loaded: LoadedConfig): StoreSettings | null {
  const s = loaded.config.store;
  if (s?.postgres !== undefined) {
    return { kind: 'postgres', url: s.postgres, passwordFile: s.passwordFile === undefined ? undefined : configRelative(loaded.file, s.passwordFile), connections: s.connections };
  }
  const dir = storeDir(loaded);
  return dir === null ? null : { kind: 'sqlite', dir };
}

/** This node's name in the cluster (node.name, default the host name). */
export function nodeName(loaded: LoadedConfig): string {
  return loaded.config.node?.name ?? os.hostname();
}

/**
 * Open a configuration's state store, either backend, behind the asynchronous interface. SQLite: as openConfigStore
 * (the store belongs to one configuration file; `sqlite` is the store itself, for what only SQLite has). PostgreSQL:
 * shared by the nodes of a cluster, each with a configuration file of its own, so no file owns it.
 */
export async function openStateStore(settings: StoreSettings, file: string | null, opts: { claim?: boolean; adopt?: boolean; node?: string } = {}): Promise<{ state: StateStore; sqlite: SqliteStore | null }> {
  if (settings.kind === 'postgres') {
    const pg = await openPostgresStore({ url: settings.url, passwordFile: settings.passwordFile, connections: settings.connections, node: opts.node });
    return { state: pg, sqlite: null };
  }
  const sqlite = openConfigStore(settings.dir, file, opts);
  return { state: sqliteStateStore(sqlite), sqlite };
}

/** A path written in configuration file `file`: relative to that file's directory (to the working one without). */
export function configRelative(file: string | null, p: string): string {
  return path.resolve(file ? path.dirname(path.resolve(file)) : process.cwd(), p);
}

/** The pid file of a configuration: server.pidFile, relative to the config file (like zone files and the store). */
export function pidFileOf(loaded: LoadedConfig): string | null {
  const p = loaded.config.server.pidFile;
  return p ? configRelative(loaded.file, p) : null;
}

/**
 * Open the store of configuration file `file`, making sure the store belongs to it (SPEC C2: one store holds the
 * revisions of ONE configuration; two configurations sharing a store would silently adopt each other's zones).
 * `claim` (a serving supervisor): an unclaimed store becomes this file's; `adopt`: take over a store that another
 * file fed (that file was replaced). Everything else refuses a store that belongs to another file, naming both.
 */
export function openConfigStore(dir: string, file: string | null, opts: { claim?: boolean; adopt?: boolean; readonly?: boolean; node?: string } = {}): SqliteStore {
  const store = openStore(dir, { readonly: opts.readonly, node: opts.node });
  if (file === null) return store;
  const mine = path.resolve(file);
  const owner = store.owner();
  if (owner && owner.file !== mine && !opts.adopt) {
    store.close();
    throw new StoreError('STORE_OWNER', `store ${store.dir} belongs to ${owner.file} (since ${new Date(owner.since).toISOString()}); ${mine} cannot share it: `
      + `give ${path.basename(mine)} a store of its own (store: { path: ./data/${path.basename(mine, path.extname(mine))} }), or, if ${path.basename(mine)} replaces ${path.basename(owner.file)}, start it once with --adopt-store`);
  }
  if ((opts.claim || opts.adopt) && owner?.file !== mine) store.setOwner(mine, Date.now());
  return store;
}

/** Load persistence records saved by earlier runs into a responder's engine (start-up and explain; never per query). */
export function loadPersistedRecords(loaded: LoadedConfig, responder: Responder): number {
  const engine = responder.engine;
  return engine ? readStore(loaded, 0, (store) => engine.applyRecords(store.loadPersistence(Date.now()))) : 0;
}

/** Admin states saved in a configuration's store by earlier runs (none without a store). */
export function loadAdminStates(loaded: LoadedConfig): AdminRecord[] {
  return readStore(loaded, [], (store) => store.loadAdmin());
}

/** `read` over the configuration's store opened read-only, or `none` when it has no store or the store is not there yet. */
function readStore<T>(loaded: LoadedConfig, none: T, read: (store: SqliteStore) => T): T {
  const dir = storeDir(loaded);
  if (!dir || !fs.existsSync(path.join(dir, STORE_FILE))) return none;
  const store = openStore(dir, { readonly: true });
  try {
    return read(store);
  } finally {
    store.close();
  }
}
