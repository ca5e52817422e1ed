// Configuration revisions (SPEC C2): the store holds every declarative configuration that was ever in force; the
// newest is current. Owns: turning the YAML file, `waymark apply`, API writes and rollbacks into validated revisions,
// and the precedence rule between them. A proposal is compiled in full before it is committed, so a revision in
// the store always compiles. Reads for the API take one section of a revision (sections are stored apart, see
// state/content.ts) and diffs compare stored parts by hash, so neither reads a whole large configuration.
import path from 'node:path';
import { StoreError, type RevisionRecord, type RevisionMeta, type RevisionFilter } from '../state/store.js';
import type { StateStore } from '../state/async.js';
import { ContentReader, decodeValue } from '../state/content.js';
import { mergeConfig, declarativeHash, sameDeclarative, splitConfig, carryRegistered, hasDynamicPools, type Declarative, type RawConfig } from './declarative.js';
import { diffRoots, type DiffOptions } from './diff.js';
import type { ConfigError } from './schema.js';
import { compileRaw, type InForce, type LoadedConfig } from './load.js';
import type { RawEdit } from './edit.js';
import type { ZoneCache } from './zone-cache.js';
import type { Snapshot } from '../answer/snapshot.js';
import type { ZoneLayers } from '../dns/zone.js';

/** A configuration that compiles: what was loaded and the snapshot compiled from it (kept: compiling is the cost). */
/**
 * `edit`: the configuration differs from the one in force only by this edit of names and pools (config/edit.ts),
 * and `relaid` gives the zones the edit laid new overlays over (names added or removed), by zone index.
 */
export type Valid = { ok: true; loaded: LoadedConfig; snapshot: Snapshot; edit?: RawEdit; relaid?: ReadonlyMap<number, ZoneLayers> };
export type Validated = Valid | { ok: false; errors: ConfigError[] };

/** Parse and compile a whole raw configuration (bootstrap + declarative) exactly as a worker will. */
export function validateRaw(raw: RawConfig, baseDir: string, file: string | null, prebuilt?: ReadonlyMap<number, ZoneLayers>, cache?: ZoneCache, previous?: InForce): Validated {
  return compileRaw(raw, baseDir, file, { prebuilt, cache, previous });
}

/** Who proposes a change and from where (both audited), what kind it is, and the audit entry's details. */
export interface ProposeMeta {
  author: string;
  /** Where the change came from: `api 127.0.0.1`, `cli user@host`, `file /etc/waymark.yaml`. */
  origin: string;
  source: RevisionRecord['source'];
  comment: string;
  /** The configuration file the change was read from (file and apply). */
  file?: string;
  ifMatch?: number;
  action?: string;
  target?: string;
  before?: unknown;
  after?: unknown;
}

export type ProposeResult =
  /** `valid`: the new configuration as validated and compiled (when it changed), so it is not compiled again. */
  | { ok: true; revision: RevisionRecord; changed: boolean; valid?: Valid }
  | { ok: false; status: 400 | 409 | 404; errors: ConfigError[] };

/**
 * The precedence rule (SPEC C2), in one place for the server and the read-only commands: a file's declarative
 * sections replace the current revision only when they differ from it AND from the last revision made from that
 * file. An unchanged file never undoes API edits.
 */
export function fileWins(current: RevisionMeta, lastFromFile: RevisionMeta | null, file: Declarative): boolean {
  const hash = declarativeHash(file);
  if (sameDeclarative(current.hash, file, hash)) return false;
  return lastFromFile === null || !sameDeclarative(lastFromFile.hash, file, hash);
}

/**
 * fileWins for a file with dynamic pools: a revision made from it holds its sections with the registered members
 * carried (carryRegistered), so each is compared with the file as it would have been carried into it. `poolsOf`: the
 * pools section of a revision.
 */
export function fileWinsCarried(current: RevisionMeta, lastFromFile: RevisionMeta | null, file: Declarative, poolsOf: (id: number) => unknown): boolean {
  if (!hasDynamicPools(file)) return fileWins(current, lastFromFile, file);
  if (sameDeclarative(current.hash, carryRegistered(file, poolsOf(current.id)))) return false;
  return lastFromFile === null || !sameDeclarative(lastFromFile.hash, carryRegistered(file, poolsOf(lastFromFile.id)));
}

export class Revisions {
  /** Compiled zones to reuse when a proposal leaves them unchanged (the supervisor's). */
  cache: ZoneCache | undefined;
  /** The configuration in force (the supervisor's): a proposal that only edits names and pools is compiled as an edit of it. */
  inForce: (() => InForce | undefined) | undefined;
  /** Sections of revisions read for the API, cached by content hash. */
  readonly reader: ContentReader;

  constructor(private readonly store: StateStore, private bootstrap: RawConfig, private readonly baseDir: string) {
    this.reader = new ContentReader(store.blobs.load);
  }

  setBootstrap(bootstrap: RawConfig): void {
    this.bootstrap = bootstrap;
  }

  /** The current revision as last decoded: shared by every reader until another revision is current. */
  private decoded: RevisionRecord | null = null;

  /** The current revision. Shared (decoding a large one costs): never change what it returns; copy to edit. */
  async current(): Promise<RevisionRecord | null> {
    const meta = await this.store.currentRevisionMeta();
    if (meta === null) return null;
    if (this.decoded?.id !== meta.id || this.decoded.hash !== meta.hash) this.decoded = await this.store.currentRevision();
    return this.decoded;
  }

  /** The current revision's id and metadata, without reading its configuration. */
  currentMeta(): Promise<RevisionMeta | null> {
    return this.store.currentRevisionMeta();
  }

  /**
   * One top-level section of revision `id` (undefined when it has none): large nested arrays and texts (a zone's
   * records) are left as Lazy values for `reader` to page through. Shared with other readers: never change it.
   */
  async section(id: number, key: string): Promise<unknown> {
    const root = await this.store.revisionRoot(id);
    if (root === null) return undefined;
    const entries = JSON.parse(root) as Record<string, unknown>;
    if (!Object.hasOwn(entries, key)) return undefined;
    await this.store.blobs.prefetch(entries[key]);
    return this.reader.section(entries[key]);
  }

  /**
   * The YAML file's declarative sections. Precedence: the file wins when it CHANGED since a revision was last made
   * from THIS file; otherwise the current revision (perhaps from the API) stays in force. So API edits survive
   * restarts and reloads, and editing the file still works.
   */
  async fromFile(d: Declarative, file: string, origin: string, valid?: Valid): Promise<ProposeResult & { carried?: boolean }> {
    const cur = await this.store.currentRevisionMeta();
    const wins = cur === null || await this.fileWins(d, file);
    this.lastRead.set(file, declarativeHash(d));
    if (cur && !wins) return { ok: true, revision: (await this.store.revision(cur.id))!, changed: false };
    // Members registered by dynamic update stay in the file's dynamic pools; then the file's compiled form is not it.
    const carried = cur === null ? d : carryRegistered(d, await this.poolsOf(cur.id));
    const res = await this.propose(carried, { author: 'file', origin, file, source: 'file', comment: `configuration file ${path.basename(file)} changed` }, carried === d ? valid : undefined);
    // Without the compiled form: the caller has it already, and a result kept around must not hold a snapshot.
    return res.ok ? { ok: true, revision: res.revision, changed: res.changed, carried: carried !== d } : res;
  }

  /** The pools section of revision `id`, decoded (what carryRegistered takes). */
  private async poolsOf(id: number): Promise<unknown> {
    const root = await this.store.revisionRoot(id);
    if (root === null) return undefined;
    const entries = JSON.parse(root) as Record<string, unknown>;
    if (!Object.hasOwn(entries, 'pools')) return undefined;
    await this.store.blobs.prefetch(entries.pools);
    return decodeValue(entries.pools, this.store.blobs.load);
  }

  /**
   * Cluster mode (several nodes, each with a file of its own): a node's file is compared with what it said when this
   * node last read it, not with the store's history. A node that joins never overrides the cluster with its file;
   * an edited file (reloaded) still wins. Set by the supervisor.
   */
  perNodeFiles = false;
  /** The hash of each file's declarative sections when this process last read it (perNodeFiles). */
  private readonly lastRead = new Map<string, string>();

  /** Whether the file's declarative sections `d` would become a new revision (fromFile's precedence rule). */
  async fileWins(d: Declarative, file: string): Promise<boolean> {
    const cur = await this.store.currentRevisionMeta();
    if (cur === null) return true;
    // With dynamic pools, a revision holds the file's sections with the registered members carried: compare so.
    const asIn = async (id: number): Promise<Declarative> => (hasDynamicPools(d) ? carryRegistered(d, await this.poolsOf(id)) : d);
    if (!this.perNodeFiles) {
      const last = await this.store.lastRevisionFromFile(file);
      const pools = new Map<number, unknown>();
      if (hasDynamicPools(d)) for (const id of [cur.id, last?.id]) if (id !== undefined) pools.set(id, await this.poolsOf(id));
      return fileWinsCarried(cur, last, d, (id) => pools.get(id));
    }
    const seen = this.lastRead.get(file);
    return seen !== undefined && !sameDeclarative(seen, d) && !sameDeclarative(cur.hash, await asIn(cur.id));
  }

  /**
   * Validate and commit a new declarative configuration. `ifMatch` (the revision id the writer based its change on)
   * gives optimistic concurrency: a stale base → 409, also when another node commits between check and write (the
   * store checks the base in the commit's own transaction).
   */
  async propose(d: Declarative, meta: ProposeMeta, valid?: Valid): Promise<ProposeResult> {
    const cur = await this.store.currentRevisionMeta();
    const stale = (now: number): ProposeResult => ({ ok: false, status: 409, errors: [{ path: '(revision)', message: `the configuration changed: current revision is ${now}, not ${meta.ifMatch}; reload and retry` }] });
    if (meta.ifMatch !== undefined && (cur?.id ?? 0) !== meta.ifMatch) return stale(cur?.id ?? 0);
    // `valid`: the caller has just validated exactly this configuration (the file as read): not again.
    const v = valid ?? validateRaw(mergeConfig(this.bootstrap, d), this.baseDir, null, undefined, this.cache, this.inForce?.());
    if (!v.ok) return { ok: false, status: 400, errors: v.errors };
    const hash = declarativeHash(d);
    // Unchanged: the current revision is this configuration (equal hashes), so it is not read back from the store.
    if (cur && sameDeclarative(cur.hash, d, hash) && meta.source !== 'file') return { ok: true, revision: { ...cur, config: d }, changed: false };
    let revision: RevisionRecord;
    try {
      revision = await this.store.addRevision(
        { at: Date.now(), author: meta.author, source: meta.source, comment: meta.comment, hash, file: meta.file ?? null, config: d },
        { at: Date.now(), actor: meta.author, origin: meta.origin, action: meta.action ?? `config.${meta.source}`, target: meta.target ?? 'config', before: meta.before !== undefined ? { revision: cur?.id ?? 0, value: meta.before } : cur ? { revision: cur.id } : null, after: meta.after },
        meta.ifMatch,
      );
    } catch (e) {
      if (e instanceof StoreError && e.code === 'STORE_CONFLICT') return stale((await this.store.currentRevisionMeta())?.id ?? 0);
      throw e;
    }
    // The configuration just stored is the current one: readers share it rather than decode it from the store.
    this.decoded = revision;
    return { ok: true, revision, changed: true, valid: v };
  }

  /** A new revision equal to an older one. */
  async rollback(id: number, author: string, origin: string, ifMatch?: number): Promise<ProposeResult> {
    const old = await this.store.revision(id);
    if (!old) return { ok: false, status: 404, errors: [{ path: 'revision', message: `no revision ${id}` }] };
    return this.propose(old.config, { author, origin, source: 'rollback', comment: `rollback to revision ${id}`, ifMatch, action: 'config.rollback', target: `revision/${id}` });
  }

  list(limit = 50, beforeId?: number, filter?: RevisionFilter): Promise<RevisionMeta[]> {
    return this.store.listRevisions(limit, beforeId, filter);
  }

  count(filter?: RevisionFilter): Promise<number> {
    return this.store.countRevisions(filter);
  }

  get(id: number): Promise<RevisionRecord | null> {
    return this.store.revision(id);
  }

  meta(id: number): Promise<RevisionMeta | null> {
    return this.store.revisionMeta(id);
  }

  /**
   * A line diff of two revisions' YAML (unified-style, +/- lines, "@@ … @@" for unchanged parts left out): what an
   * operator reads before a rollback. `fromId` null: against nothing. Reads only the parts that differ (from a
   * database server, both revisions' parts are fetched first).
   */
  async diff(fromId: number | null, toId: number, opts?: DiffOptions): Promise<string | null> {
    const a = fromId === null ? null : await this.store.revisionRoot(fromId);
    const b = await this.store.revisionRoot(toId);
    if ((fromId !== null && a === null) || b === null) return null;
    if (a !== null) await this.store.blobs.prefetch(a);
    await this.store.blobs.prefetch(b);
    return diffRoots(a, b, this.store.blobs.load, opts).join('\n');
  }
}

export { splitConfig };
