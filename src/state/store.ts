// The embedded database (SPEC C2): one SQLite file `waymark.db` in WAL mode under a data directory, behind the
// small `Store` interface a replicated database can implement later. Also the batching writer that takes
// persistence changes off the query path. Owns: the schema (versioned by `PRAGMA user_version`) and its SQL.
// Revisions keep their configuration as content-addressed blobs (content.ts): a revision row holds a small root,
// the `blob` table every part once, so twenty small changes of a large configuration store it about once.
// Must never be called per query: the query path hands changes to PersistenceWriter, which writes in batches.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { PersistRecord } from '../answer/persistence.js';
import { decodeRoot, encodeRoot, TextMemo, type LoadBlob, type PutBlob } from './content.js';

export const STORE_FILE = 'waymark.db';

/** What every state backend provides. Records use the PersistRecord shape; `ttlMs = 0` means "deleted". */
export interface Store {
  /** Non-expired records only (now ≤ ts + ttlMs). */
  loadPersistence(now: number): PersistRecord[];
  /** Upsert in ONE transaction; ttlMs = 0 deletes; a record older (by ts) than the stored one is ignored. */
  savePersistence(records: readonly PersistRecord[]): void;
  /** Delete records with now > ts + ttlMs; returns how many. */
  purgeExpired(now: number): number;
  /** Operator admin states of members (SPEC H2); members not listed are automatic. */
  loadAdmin(): AdminRecord[];
  /** Set (or with state 'auto', clear) one member's admin state. Durable when it returns. */
  setAdmin(record: AdminRecord): void;
  /** Changes whenever another connection commits: a cheap way to notice writes by the CLI or other nodes. */
  dataVersion(): number;
  /** Configuration revisions (the newest is current). addRevision is durable when it returns. */
  currentRevision(): RevisionRecord | null;
  /** The current revision without its configuration (cheap: nothing is decoded). */
  currentRevisionMeta(): RevisionMeta | null;
  /** The newest revision made from configuration file `file` (absolute path), or from a file before files were recorded. */
  lastRevisionFromFile(file: string): RevisionMeta | null;
  revision(id: number): RevisionRecord | null;
  revisionMeta(id: number): RevisionMeta | null;
  /** The encoded root of a revision's configuration (content.ts), to read parts of it through blob(). */
  revisionRoot(id: number): string | null;
  /** The JSON of one content blob; throws a StoreError when the store does not have it. */
  blob(hash: string): string;
  /** Newest first, ids below `beforeId`, matching `filter` (q: substring of author or comment). */
  listRevisions(limit: number, beforeId?: number, filter?: RevisionFilter): RevisionMeta[];
  countRevisions(filter?: RevisionFilter): number;
  /** `base`: commit only if revision `base` (0: none) is still the current one, else a StoreError STORE_CONFLICT. */
  addRevision(r: Omit<RevisionRecord, 'id'>, audit: Omit<AuditRecord, 'id' | 'after'> & { after?: unknown }, base?: number): RevisionRecord;
  /** Tokens. */
  addToken(t: Omit<TokenRecord, 'id' | 'revokedAt'>): TokenRecord;
  tokenByHash(hash: string): TokenRecord | null;
  listTokens(): TokenRecord[];
  revokeToken(id: number, at: number): boolean;
  /** The audit log, newest first. */
  addAudit(a: Omit<AuditRecord, 'id'>): void;
  listAudit(limit: number, beforeId?: number, target?: string, filter?: AuditFilter): AuditRecord[];
  countAudit(target?: string, filter?: AuditFilter): number;
  /**
   * The change feed (issue 11, SPEC C2): every revision, admin state and persistence batch committed, each with a
   * position in one order; a node applies them from the last position it applied, so it misses none and applies none
   * twice. Written in the same transaction as the change itself. At most `limit` changes after `position`, oldest
   * first.
   */
  changesSince(position: number, limit: number): Change[];
  /** The position of the newest change (0 before any). */
  feedHead(): number;
  /** Drop changes made before `at` (ms); returns how many. A node further behind must load the state whole. */
  pruneChanges(at: number): number;
  /** Record a node's heartbeat (its row replaced; a 'node' change in the feed, carrying `extra` too). */
  heartbeat(n: NodeRecord, extra?: Record<string, unknown>): void;
  /** Every node that ever heartbeated, by name. */
  listNodes(): NodeRecord[];
  /**
   * Leadership of `role` (the prober distributor) as a lease: taken when free or expired, renewed by its holder, for
   * `ttlMs` from the database's clock. The term grows by one with every new holder: a fencing number that the
   * leader's writes carry (publishHealth), so a leader that lost the lease cannot write over its successor.
   */
  claimLeader(role: string, node: string, ttlMs: number): Lease;
  /** Give the lease up at once (a node stopping), if `node` holds it. */
  resignLeader(role: string, node: string): void;
  /** Health verdicts from the leader holding `term` (kept per member, and a 'health' change); STORE_CONFLICT if it does not. */
  publishHealth(role: string, term: number, verdicts: readonly Verdict[]): void;
  /** Every member's last published verdict. */
  loadHealth(): Verdict[];
  /** The configuration file this store belongs to (absolute path), and since when; null before any server claimed it. */
  owner(): StoreOwner | null;
  setOwner(file: string, at: number): void;
  /**
   * Zones changed by dynamic update (RFC 2136) and zone serials (issue 12): each zone's serial now and the RRsets
   * UPDATE set (which override the configuration's at the same owner and type; no rdata: deleted).
   */
  loadZoneStates(): ZoneState[];
  zoneState(zone: string): ZoneState | null;
  /**
   * Commit one change to a zone in ONE transaction: its RRsets, its new serial, a journal entry (the oldest beyond
   * `change.keep` dropped) and a 'zone' change in the feed. STORE_CONFLICT unless the zone's serial is still
   * `change.base` (null: the zone has no state yet). Durable when it returns.
   */
  commitZoneChange(change: ZoneChange): void;
  /** A zone's journal, oldest first: what IXFR answers from. */
  zoneJournal(zone: string): JournalEntry[];
  /**
   * Address leases (issue 14, SPEC L1/L5): every public address leased now or cooling down. One row per address (the
   * primary key) and at most one lease per (name, server) in force (a unique index): the database itself refuses
   * a second holder, across processes and nodes.
   */
  loadLeases(): AddressLease[];
  /**
   * Lease the first of `r.candidates` that is free (never leased, or cooled down by `r.now`) to r.name and r.server,
   * until r.now + r.ttlMs, in ONE transaction with its history row and a 'lease' change. `created: false`: that
   * server already holds a lease for the name (it is returned as it is). null: none of the candidates was free.
   */
  acquireLease(r: LeaseRequest): { lease: AddressLease; created: boolean } | null;
  /** Batched counts and new expiries of leases in force; the lease ids of those no longer in force are returned. */
  updateLeases(updates: readonly LeaseUpdate[]): number[];
  /** End lease `r.leaseId` (it cools down until r.coolUntil); false when it was not in force (or, with ifExpiredBy, runs later). */
  releaseLease(r: LeaseRelease): boolean;
  /** Every lease ever granted (from, to: null while in force), oldest first: what proves no address had two holders. */
  leaseHistory(): LeaseSpan[];
  close(): void;
}

/** A public address as the lease table holds it (SPEC L1). */
export interface AddressLease {
  pool: string;
  address: string;
  state: 'leased' | 'cooling';
  /** Unique over all leases ever granted: updates and releases name it, so a lease taken over is never touched. */
  leaseId: number;
  name: string;
  server: string;
  /** The server's private address, where the forwarder sends the lease's traffic. */
  private: string;
  node: string;
  leasedAt: number;
  expiresAt: number;
  /** Cooling: free again from then. */
  coolUntil: number;
  requests: number;
  bytes: number;
  open: number;
}
export interface LeaseRequest { pool: string; candidates: readonly string[]; name: string; server: string; private: string; now: number; ttlMs: number }
export interface LeaseUpdate { address: string; leaseId: number; expiresAt: number; requests: number; bytes: number; open: number }
/** `ifExpiredBy`: end it only if its stored expiry is at or before this (another node may have extended it); null: in any case. */
export interface LeaseRelease { address: string; leaseId: number; at: number; coolUntil: number; ifExpiredBy: number | null }
export interface LeaseSpan { leaseId: number; pool: string; address: string; name: string; server: string; from: number; to: number | null }

/** One RRset of a zone's dynamic data: canonical owner, type, TTL and each record's RDATA (hex); none: deleted. */
export interface StoredRRset { owner: string; type: number; ttl: number; rdata: string[] }
/** One record of a journal entry: owner (canonical), type, TTL and RDATA (hex). */
export interface StoredRecord { name: string; type: number; ttl: number; rdata: string }
/** A zone's state: its serial and the RRsets dynamic update set. */
export interface ZoneState { zone: string; serial: number; rrsets: StoredRRset[] }
/**
 * One journalled change of a zone from serial `from` to `serial` (RFC 1995's difference sequence: the records taken
 * out and put in, SOA excepted). `reset`: the change is not known record by record (a revision replaced the zone):
 * IXFR across it falls back to AXFR.
 */
export interface JournalEntry { zone: string; from: number; serial: number; at: number; actor: string; removed: StoredRecord[]; added: StoredRecord[]; reset: boolean }
export interface ZoneChange extends JournalEntry {
  /** The serial the change was made against (null: the zone had no state). */
  base: number | null;
  rrsets: StoredRRset[];
  /** Journal entries kept for the zone. */
  keep: number;
}

/** One committed change in the feed: where it stands, when and on which node it was made, what it was. */
export interface Change {
  position: number;
  at: number;
  node: string;
  kind: ChangeKind;
  /** revision: { id, hash }; admin: an AdminRecord; persistence: the PersistRecord[] of one batch. */
  data: unknown;
}
export type ChangeKind = 'revision' | 'admin' | 'persistence' | 'node' | 'health' | 'zone' | 'lease';

/** A lease on a role: who holds it now, with which term, and whether that is the asking node. */
export interface Lease { holder: string; term: number; expires: number; mine: boolean }
/** One member's health verdict as the store keeps it (health/verdict.ts's MemberHealth; opaque here). */
export type Verdict = { pool: string; member: string } & Record<string, unknown>;

/**
 * A serving node as it last reported itself (issue 11): its revision in force, the feed position it has applied,
 * its health role (the distributor's leader or a follower) and when it was last seen.
 */
export interface NodeRecord {
  name: string;
  startedAt: number;
  seenAt: number;
  revision: number;
  position: number;
  role: 'leader' | 'follower' | 'single';
  pid: number;
  host: string;
  /** Where its API listens (host:port), or null. */
  api: string | null;
}
/** How long the feed keeps a change: a node down for longer loads the state whole instead of catching up. */
export const FEED_RETENTION_MS = 60 * 60 * 1000;

/** Which configuration file feeds a store's revisions (SPEC C2: one store, one configuration). */
export interface StoreOwner { file: string; since: number }

/** An operator's forced state for one member. */
export interface AdminRecord { pool: string; member: string; state: 'auto' | 'up' | 'down' | 'drain'; by: string; at: number }

/** One configuration revision: the declarative sections as a whole (SPEC C2). The newest is in force. */
export interface RevisionRecord {
  id: number;
  at: number;
  author: string;
  /** file: the YAML file changed; api: an API write; rollback: a copy of an older revision; apply: `waymark apply`. */
  source: 'file' | 'api' | 'rollback' | 'apply' | 'update';
  comment: string;
  hash: string;
  /** The configuration file it was made from (source file or apply; absolute path), else null. */
  file: string | null;
  config: Record<string, unknown>;
}
export type RevisionMeta = Omit<RevisionRecord, 'config'>;
/** Which revisions a list shows: q is a substring of the author or the comment (case-insensitive for ASCII). */
export interface RevisionFilter { q?: string; source?: RevisionRecord['source'] }
/** Which audit entries a list shows: q is a substring of the actor, action or target; action and actor are exact. */
export interface AuditFilter { q?: string; action?: string; actor?: string }

/** An API token; only its SHA-256 is stored. */
export interface TokenRecord { id: number; name: string; role: 'read' | 'operator' | 'admin'; hash: string; createdAt: number; createdBy: string; revokedAt: number | null }

/**
 * One audited change (SPEC C3): who (actor), when, what (action, target, before, after) and from where (origin:
 * `api 127.0.0.1`, `cli user@host`, `file /etc/waymark.yaml`).
 */
export interface AuditRecord { id: number; at: number; actor: string; origin: string; action: string; target: string; before: unknown; after: unknown }

export type StoreErrorCode = 'STORE_DIR' | 'STORE_OPEN' | 'STORE_SCHEMA' | 'STORE_DRIVER' | 'STORE_CLOSED' | 'STORE_OWNER' | 'STORE_CORRUPT' | 'STORE_CONFLICT' | 'STORE_UNAVAILABLE';

/** An error a user can act on: what went wrong with which path, and a code for callers to branch on. */
export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

/** How often the background checkpointer runs (checkpointInBackground). */
const CHECKPOINT_INTERVAL_MS = 1000;
/** SQLite's default automatic checkpoint, in WAL pages: what a store falls back to without the background thread. */
const AUTO_CHECKPOINT_PAGES = 1000;

export interface OpenStoreOptions {
  /** Open an existing database for reading only (no directory creation, no migration, no writes). */
  readonly?: boolean;
  /** How long a write waits for another process holding the database lock (default 2000 ms). */
  busyTimeoutMs?: number;
  /** The node name its changes carry in the feed (default: the host name). */
  node?: string;
}

// ---- better-sqlite3, typed to the parts used here (the package ships no typings) ----

interface RunResult {
  changes: number;
}
interface Statement {
  run(...params: unknown[]): RunResult;
  all(...params: unknown[]): unknown[];
  get(...params: unknown[]): unknown;
}
interface Database {
  prepare(sql: string): Statement;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  exec(sql: string): void;
  transaction<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void;
  close(): void;
}
type DatabaseConstructor = new (file: string, options?: { readonly?: boolean; fileMustExist?: boolean; timeout?: number }) => Database;

/**
 * better-sqlite3 compiles SQL on every prepare(): each distinct statement the store runs is compiled once (an API
 * change runs a handful; compiling them was a fifth of its cost).
 */
function withStatementCache(db: Database): Database {
  const cache = new Map<string, Statement>();
  return {
    prepare(sql) {
      let st = cache.get(sql);
      if (st === undefined) cache.set(sql, (st = db.prepare(sql)));
      return st;
    },
    pragma: (source, options) => db.pragma(source, options),
    exec: (sql) => db.exec(sql),
    transaction: (fn) => db.transaction(fn),
    close: () => { cache.clear(); db.close(); },
  };
}

let driver: DatabaseConstructor | undefined;
function loadDriver(): DatabaseConstructor {
  if (driver) return driver;
  try {
    driver = createRequire(import.meta.url)('better-sqlite3') as DatabaseConstructor;
    return driver;
  } catch (err) {
    throw new StoreError('STORE_DRIVER', `cannot load the SQLite driver (better-sqlite3): ${messageOf(err)}; reinstall dependencies (npm ci)`, { cause: err });
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---- schema ----

/** One schema step: SQL, or a function for a step that also rewrites data (run in the step's transaction). */
type Migration = string | ((db: Database) => void);

/** migrations[i] takes the schema from user_version i to i + 1. Append only; never edit a released step. */
const MIGRATIONS: readonly Migration[] = [
  `CREATE TABLE persistence (
     name     TEXT    NOT NULL,
     key      INTEGER NOT NULL,
     key_text TEXT    NOT NULL,
     pool     TEXT    NOT NULL,
     member   TEXT    NOT NULL,
     ts       INTEGER NOT NULL,
     ttl_ms   INTEGER NOT NULL,
     expires  INTEGER NOT NULL,
     hits     INTEGER NOT NULL,
     PRIMARY KEY (name, key)
   ) WITHOUT ROWID;
   CREATE INDEX persistence_expires ON persistence (expires);`,
  `CREATE TABLE member_admin (
     pool   TEXT    NOT NULL,
     member TEXT    NOT NULL,
     state  TEXT    NOT NULL CHECK (state IN ('up', 'down', 'drain')),
     by     TEXT    NOT NULL,
     at     INTEGER NOT NULL,
     PRIMARY KEY (pool, member)
   ) WITHOUT ROWID;`,
  `CREATE TABLE revision (
     id      INTEGER PRIMARY KEY AUTOINCREMENT,
     at      INTEGER NOT NULL,
     author  TEXT    NOT NULL,
     source  TEXT    NOT NULL,
     comment TEXT    NOT NULL,
     hash    TEXT    NOT NULL,
     config  TEXT    NOT NULL
   );
   CREATE TABLE token (
     id         INTEGER PRIMARY KEY AUTOINCREMENT,
     name       TEXT    NOT NULL,
     role       TEXT    NOT NULL CHECK (role IN ('read', 'operator', 'admin')),
     hash       TEXT    NOT NULL UNIQUE,
     created_at INTEGER NOT NULL,
     created_by TEXT    NOT NULL,
     revoked_at INTEGER
   );
   CREATE TABLE audit (
     id     INTEGER PRIMARY KEY AUTOINCREMENT,
     at     INTEGER NOT NULL,
     actor  TEXT    NOT NULL,
     action TEXT    NOT NULL,
     target TEXT    NOT NULL,
     before TEXT,
     after  TEXT
   );
   CREATE INDEX audit_target ON audit (target, id);`,
  // Paths of configuration files are kept relative to the store directory, so a tree moved as a whole keeps them.
  `ALTER TABLE revision ADD COLUMN file TEXT;
   ALTER TABLE audit ADD COLUMN origin TEXT NOT NULL DEFAULT '';
   CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;`,
  // Revisions as content-addressed parts: the whole configuration per row becomes a root over shared blobs.
  (db) => {
    db.exec(`CREATE TABLE blob (hash TEXT PRIMARY KEY, data TEXT NOT NULL);
             ALTER TABLE revision ADD COLUMN root TEXT;`);
    const ids = db.prepare('SELECT id FROM revision ORDER BY id').all() as Array<{ id: number }>;
    const read = db.prepare('SELECT config FROM revision WHERE id = ?');
    const setRoot = db.prepare('UPDATE revision SET root = ? WHERE id = ?');
    const put = blobWriter(db);
    // One revision at a time: a store of many large revisions is never all in memory.
    for (const { id } of ids) setRoot.run(encodeRoot(JSON.parse((read.get(id) as { config: string }).config) as Record<string, unknown>, put), id);
    db.exec('ALTER TABLE revision DROP COLUMN config');
  },
  // The change feed: one row per committed change, in commit order (SQLite has one writer at a time).
  `CREATE TABLE change (
     position INTEGER PRIMARY KEY AUTOINCREMENT,
     at       INTEGER NOT NULL,
     node     TEXT    NOT NULL,
     kind     TEXT    NOT NULL,
     data     TEXT    NOT NULL
   );`,
  // Nodes as they report themselves (one row each; the newest heartbeat).
  `CREATE TABLE node (
     name       TEXT    PRIMARY KEY,
     started_at INTEGER NOT NULL,
     seen_at    INTEGER NOT NULL,
     revision   INTEGER NOT NULL,
     position   INTEGER NOT NULL,
     role       TEXT    NOT NULL,
     pid        INTEGER NOT NULL,
     host       TEXT    NOT NULL,
     api        TEXT
   );`,
  // Leases (the prober distributor's leader) and the last published health verdict of each member.
  `CREATE TABLE lease (role TEXT PRIMARY KEY, holder TEXT NOT NULL, term INTEGER NOT NULL, expires INTEGER NOT NULL);
   CREATE TABLE member_health (pool TEXT NOT NULL, member TEXT NOT NULL, term INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (pool, member));`,
  // Dynamic update (issue 12): each zone's serial, the RRsets UPDATE set, and the journal IXFR answers from.
  `CREATE TABLE zone_state (zone TEXT PRIMARY KEY, serial INTEGER NOT NULL) WITHOUT ROWID;
   CREATE TABLE zone_rrset (zone TEXT NOT NULL, owner TEXT NOT NULL, type INTEGER NOT NULL, ttl INTEGER NOT NULL, rdata TEXT NOT NULL, PRIMARY KEY (zone, owner, type)) WITHOUT ROWID;
   CREATE TABLE zone_journal (seq INTEGER PRIMARY KEY AUTOINCREMENT, zone TEXT NOT NULL, from_serial INTEGER NOT NULL, serial INTEGER NOT NULL, at INTEGER NOT NULL, actor TEXT NOT NULL, reset INTEGER NOT NULL, data TEXT NOT NULL);
   CREATE INDEX zone_journal_zone ON zone_journal (zone, seq);`,
  // Address leases (issue 14): one row per public address; one lease in force per (name, server).
  `CREATE TABLE address_lease (
     address TEXT PRIMARY KEY, pool TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN ('leased', 'cooling')), lease_id INTEGER NOT NULL,
     name TEXT NOT NULL, server TEXT NOT NULL, private TEXT NOT NULL, node TEXT NOT NULL, leased_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
     cool_until INTEGER NOT NULL, requests INTEGER NOT NULL, bytes INTEGER NOT NULL, open INTEGER NOT NULL
   );
   CREATE UNIQUE INDEX address_lease_holder ON address_lease (name, server) WHERE state = 'leased';
   CREATE TABLE lease_history (lease_id INTEGER PRIMARY KEY, pool TEXT NOT NULL, address TEXT NOT NULL, name TEXT NOT NULL, server TEXT NOT NULL, from_at INTEGER NOT NULL, to_at INTEGER);`,
];

/** An address_lease row (either backend) as an AddressLease. */
export function leaseRow(r: Record<string, unknown>): AddressLease {
  return {
    pool: r.pool as string, address: r.address as string, state: r.state as AddressLease['state'], leaseId: Number(r.lease_id), name: r.name as string,
    server: r.server as string, private: r.private as string, node: r.node as string, leasedAt: Number(r.leased_at), expiresAt: Number(r.expires_at),
    coolUntil: Number(r.cool_until), requests: Number(r.requests), bytes: Number(r.bytes), open: Number(r.open),
  };
}

/** A lease_history row (either backend) as a LeaseSpan. */
export function spanRow(r: Record<string, unknown>): LeaseSpan {
  return { leaseId: Number(r.lease_id), pool: r.pool as string, address: r.address as string, name: r.name as string, server: r.server as string, from: Number(r.from_at), to: r.to_at === null ? null : Number(r.to_at) };
}

/** The SQL both backends share (placeholders differ: `?` here, $n there). */
export const LEASE_COLUMNS = 'address, pool, state, lease_id, name, server, private, node, leased_at, expires_at, cool_until, requests, bytes, open';

/** Zone state rows (either backend; rrset rows ordered by zone) as ZoneStates. */
export function zoneStatesOf(states: ReadonlyArray<{ zone: string; serial: number }>, rrsets: ReadonlyArray<Record<string, unknown>>): ZoneState[] {
  const out = new Map<string, ZoneState>(states.map((s) => [s.zone, { zone: s.zone, serial: Number(s.serial), rrsets: [] }]));
  for (const r of rrsets) {
    out.get(r.zone as string)?.rrsets.push({ owner: r.owner as string, type: Number(r.type), ttl: Number(r.ttl), rdata: JSON.parse(r.rdata as string) as string[] });
  }
  return [...out.values()];
}

/** A journal row (either backend) as a JournalEntry. */
export function journalRow(r: Record<string, unknown>): JournalEntry {
  const d = JSON.parse(r.data as string) as { removed: StoredRecord[]; added: StoredRecord[] };
  return { zone: r.zone as string, from: Number(r.from_serial), serial: Number(r.serial), at: Number(r.at), actor: r.actor as string, reset: Boolean(Number(r.reset)), removed: d.removed, added: d.added };
}

/** The error of a zone change made against a serial that is no longer the zone's. */
export function zoneConflict(where: string, c: ZoneChange, now: number | null): StoreError {
  return new StoreError('STORE_CONFLICT', `${where}: zone ${c.zone} is at serial ${now ?? '(none)'}, not ${c.base ?? '(none)'}: changed meanwhile`);
}

/** A node table row (either backend) as a NodeRecord. */
export function nodeRow(r: Record<string, unknown>): NodeRecord {
  return {
    name: r.name as string, startedAt: Number(r.started_at), seenAt: Number(r.seen_at), revision: Number(r.revision), position: Number(r.position),
    role: r.role as NodeRecord['role'], pid: Number(r.pid), host: r.host as string, api: (r.api as string | null) ?? null,
  };
}

/** Stores a blob unless the store has it already (SELECT first: a known part is not even handed to SQLite). */
function blobWriter(db: Database): PutBlob {
  const has = db.prepare('SELECT 1 FROM blob WHERE hash = ?');
  const insert = db.prepare('INSERT INTO blob (hash, data) VALUES (?, ?)');
  const seen = new Set<string>();
  return (hash, json) => {
    if (seen.has(hash)) return;
    seen.add(hash);
    if (!has.get(hash)) insert.run(hash, json);
  };
}
export const SCHEMA_VERSION = MIGRATIONS.length;

/** The columns of a revision's metadata (everything but its configuration's root). */
const META_COLUMNS = 'id, at, author, source, comment, hash, file';

/** SQL LIKE pattern of a substring, with LIKE's wildcards in it matched literally (backslash escapes; both backends). */
export function likeSubstring(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

function revisionWhere(f: RevisionFilter): { sql: string; params: unknown[] } {
  let sql = '';
  const params: unknown[] = [];
  if (f.source !== undefined) { sql += ' AND source = ?'; params.push(f.source); }
  if (f.q !== undefined && f.q !== '') { sql += " AND (author LIKE ? ESCAPE '\\' OR comment LIKE ? ESCAPE '\\')"; params.push(likeSubstring(f.q), likeSubstring(f.q)); }
  return { sql, params };
}

function auditWhere(target: string | undefined, f: AuditFilter): { sql: string; params: unknown[] } {
  let sql = '';
  const params: unknown[] = [];
  if (target !== undefined) { sql += ' AND target = ?'; params.push(target); }
  if (f.action !== undefined) { sql += ' AND action = ?'; params.push(f.action); }
  if (f.actor !== undefined) { sql += ' AND actor = ?'; params.push(f.actor); }
  if (f.q !== undefined && f.q !== '') {
    sql += " AND (actor LIKE ? ESCAPE '\\' OR action LIKE ? ESCAPE '\\' OR target LIKE ? ESCAPE '\\')";
    params.push(likeSubstring(f.q), likeSubstring(f.q), likeSubstring(f.q));
  }
  return { sql, params };
}

interface PersistenceRow {
  name: string;
  key: number;
  key_text: string;
  pool: string;
  member: string;
  ts: number;
  ttl_ms: number;
  hits: number;
}

/** The single-node store: SQLite through better-sqlite3 (synchronous; every call is one short transaction). */
export class SqliteStore implements Store {
  readonly file: string;
  readonly readonly: boolean;
  /** Write transactions committed by savePersistence (for tests and metrics). */
  transactions = 0;

  private db: Database | null;
  private readonly selectLive: Statement;
  private readonly upsert: Statement | null;
  private readonly remove: Statement | null;
  private readonly purge: Statement | null;
  private readonly saveAll: ((records: readonly PersistRecord[]) => void) | null;
  private readonly selectBlob: Statement;
  /** Reads blobs for content.ts (bound once: decoding a large revision calls it thousands of times). */
  readonly loadBlob: LoadBlob = (hash) => this.blob(hash);
  /** Zone texts whose chunks this store holds (content.ts). */
  private readonly texts = new TextMemo();
  /** The background checkpointer (checkpointInBackground), and the last error it reported. */
  private checkpointer: Worker | null = null;
  checkpointError: string | null = null;

  /** The node name this store's changes carry in the feed. */
  readonly node: string;

  constructor(db: Database, file: string, readonly: boolean, node: string = os.hostname()) {
    db = withStatementCache(db);
    this.db = db;
    this.file = file;
    this.readonly = readonly;
    this.node = node;
    this.selectBlob = db.prepare('SELECT data FROM blob WHERE hash = ?');
    this.selectLive = db.prepare(
      'SELECT name, key, key_text, pool, member, ts, ttl_ms, hits FROM persistence WHERE expires >= ? ORDER BY ts',
    );
    if (readonly) {
      this.upsert = this.remove = this.purge = this.saveAll = null;
      return;
    }
    const upsert = db.prepare(
      `INSERT INTO persistence (name, key, key_text, pool, member, ts, ttl_ms, expires, hits)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (name, key) DO UPDATE SET
         key_text = excluded.key_text, pool = excluded.pool, member = excluded.member,
         ts = excluded.ts, ttl_ms = excluded.ttl_ms, expires = excluded.expires, hits = excluded.hits
       WHERE excluded.ts >= persistence.ts`,
    );
    const remove = db.prepare('DELETE FROM persistence WHERE name = ? AND key = ? AND ts <= ?');
    this.upsert = upsert;
    this.remove = remove;
    this.purge = db.prepare('DELETE FROM persistence WHERE expires < ?');
    this.saveAll = db.transaction((records: readonly PersistRecord[]) => {
      for (const r of records) {
        if (r.ttlMs === 0) remove.run(r.name, r.key, r.ts);
        else upsert.run(r.name, r.key, r.keyText, r.pool, r.member, r.ts, r.ttlMs, r.ts + r.ttlMs, r.hits);
      }
      this.append(db, 'persistence', records);
    });
  }

  loadPersistence(now: number): PersistRecord[] {
    this.open();
    return (this.selectLive.all(now) as PersistenceRow[]).map((row) => ({
      name: row.name,
      key: row.key,
      keyText: row.key_text,
      pool: row.pool,
      member: row.member,
      ts: row.ts,
      ttlMs: row.ttl_ms,
      hits: row.hits,
    }));
  }

  savePersistence(records: readonly PersistRecord[]): void {
    this.open();
    if (!this.saveAll) throw new StoreError('STORE_OPEN', `${this.file}: opened read-only, cannot save`);
    if (records.length === 0) return;
    for (const r of records) {
      const bad = invalidField(r);
      if (bad) throw new RangeError(`persistence record for ${JSON.stringify(r.name)} key ${r.key}: invalid ${bad}`);
    }
    this.saveAll(records);
    this.transactions++;
  }

  purgeExpired(now: number): number {
    this.open();
    if (!this.purge) throw new StoreError('STORE_OPEN', `${this.file}: opened read-only, cannot purge`);
    return this.purge.run(now).changes;
  }

  loadAdmin(): AdminRecord[] {
    return this.open().prepare('SELECT pool, member, state, by, at FROM member_admin ORDER BY pool, member').all() as AdminRecord[];
  }

  setAdmin(r: AdminRecord): void {
    const db = this.open();
    if (this.readonly) throw new StoreError('STORE_OPEN', `${this.file}: opened read-only, cannot save`);
    db.transaction(() => {
      if (r.state === 'auto') db.prepare('DELETE FROM member_admin WHERE pool = ? AND member = ?').run(r.pool, r.member);
      else db.prepare('INSERT INTO member_admin (pool, member, state, by, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (pool, member) DO UPDATE SET state = excluded.state, by = excluded.by, at = excluded.at').run(r.pool, r.member, r.state, r.by, r.at);
      this.append(db, 'admin', r);
    })();
  }

  /** Add one change to the feed, inside the caller's transaction. */
  private append(db: Database, kind: ChangeKind, data: unknown): void {
    db.prepare('INSERT INTO change (at, node, kind, data) VALUES (?, ?, ?, ?)').run(Date.now(), this.node, kind, JSON.stringify(data));
  }

  changesSince(position: number, limit: number): Change[] {
    const rows = this.open().prepare('SELECT position, at, node, kind, data FROM change WHERE position > ? ORDER BY position LIMIT ?').all(position, limit) as Array<Record<string, unknown>>;
    return rows.map((r) => ({ position: r.position as number, at: r.at as number, node: r.node as string, kind: r.kind as ChangeKind, data: JSON.parse(r.data as string) as unknown }));
  }

  feedHead(): number {
    // AUTOINCREMENT's counter, not max(position): pruning the feed must not move its head back.
    return ((this.open().prepare("SELECT seq FROM sqlite_sequence WHERE name = 'change'").get() as { seq: number } | undefined)?.seq) ?? 0;
  }

  pruneChanges(at: number): number {
    return this.writable().prepare('DELETE FROM change WHERE at < ?').run(at).changes;
  }

  dataVersion(): number {
    return Number(this.open().pragma('data_version', { simple: true }));
  }

  currentRevision(): RevisionRecord | null {
    return this.revisionRow(this.open().prepare('SELECT * FROM revision ORDER BY id DESC LIMIT 1').get());
  }

  currentRevisionMeta(): RevisionMeta | null {
    return this.metaRow(this.open().prepare(`SELECT ${META_COLUMNS} FROM revision ORDER BY id DESC LIMIT 1`).get());
  }

  lastRevisionFromFile(file: string): RevisionMeta | null {
    const db = this.open();
    const rel = this.relative(file);
    const own = db.prepare(`SELECT ${META_COLUMNS} FROM revision WHERE source = 'file' AND file = ? ORDER BY id DESC LIMIT 1`).get(rel);
    if (own) return this.metaRow(own);
    // Stores written before revisions named their file had one configuration file: its revisions are this file's.
    return this.metaRow(db.prepare(`SELECT ${META_COLUMNS} FROM revision WHERE source = 'file' AND file IS NULL ORDER BY id DESC LIMIT 1`).get());
  }

  heartbeat(n: NodeRecord, extra?: Record<string, unknown>): void {
    const db = this.writable();
    db.transaction(() => {
      db.prepare(`INSERT INTO node (name, started_at, seen_at, revision, position, role, pid, host, api) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (name) DO UPDATE SET started_at = excluded.started_at, seen_at = excluded.seen_at, revision = excluded.revision,
        position = excluded.position, role = excluded.role, pid = excluded.pid, host = excluded.host, api = excluded.api`)
        .run(n.name, n.startedAt, n.seenAt, n.revision, n.position, n.role, n.pid, n.host, n.api);
      this.append(db, 'node', { ...extra, name: n.name, seenAt: n.seenAt });
    })();
  }

  listNodes(): NodeRecord[] {
    return (this.open().prepare('SELECT * FROM node ORDER BY name').all() as Array<Record<string, unknown>>).map(nodeRow);
  }

  claimLeader(role: string, node: string, ttlMs: number): Lease {
    const db = this.writable();
    let lease: Lease | null = null;
    db.transaction(() => {
      const now = Date.now();
      const held = db.prepare('SELECT holder, term, expires FROM lease WHERE role = ?').get(role) as { holder: string; term: number; expires: number } | undefined;
      if (held && held.holder !== node && held.expires >= now) {
        lease = { holder: held.holder, term: held.term, expires: held.expires, mine: false };
        return;
      }
      const term = held === undefined ? 1 : held.holder === node && held.expires >= now ? held.term : held.term + 1;
      db.prepare('INSERT INTO lease (role, holder, term, expires) VALUES (?, ?, ?, ?) ON CONFLICT (role) DO UPDATE SET holder = excluded.holder, term = excluded.term, expires = excluded.expires')
        .run(role, node, term, now + ttlMs);
      lease = { holder: node, term, expires: now + ttlMs, mine: true };
    })();
    return lease!;
  }

  resignLeader(role: string, node: string): void {
    this.writable().prepare('UPDATE lease SET expires = 0 WHERE role = ? AND holder = ?').run(role, node);
  }

  publishHealth(role: string, term: number, verdicts: readonly Verdict[]): void {
    const db = this.writable();
    db.transaction(() => {
      const held = db.prepare('SELECT holder, term FROM lease WHERE role = ?').get(role) as { holder: string; term: number } | undefined;
      if (!held || held.term !== term || held.holder !== this.node) throw new StoreError('STORE_CONFLICT', `${this.file}: term ${term} of ${role} is not this node's (${held ? `${held.holder} holds term ${held.term}` : 'nobody holds it'})`);
      const put = db.prepare('INSERT INTO member_health (pool, member, term, data) VALUES (?, ?, ?, ?) ON CONFLICT (pool, member) DO UPDATE SET term = excluded.term, data = excluded.data');
      for (const v of verdicts) put.run(v.pool, v.member, term, JSON.stringify(v));
      this.append(db, 'health', { term, verdicts });
    })();
  }

  loadHealth(): Verdict[] {
    return (this.open().prepare('SELECT data FROM member_health ORDER BY pool, member').all() as Array<{ data: string }>).map((r) => JSON.parse(r.data) as Verdict);
  }

  loadZoneStates(): ZoneState[] {
    const db = this.open();
    const states = db.prepare('SELECT zone, serial FROM zone_state ORDER BY zone').all() as Array<{ zone: string; serial: number }>;
    const rrsets = db.prepare('SELECT zone, owner, type, ttl, rdata FROM zone_rrset ORDER BY zone, owner, type').all() as Array<Record<string, unknown>>;
    return zoneStatesOf(states, rrsets);
  }

  zoneState(zone: string): ZoneState | null {
    const db = this.open();
    const state = db.prepare('SELECT zone, serial FROM zone_state WHERE zone = ?').get(zone) as { zone: string; serial: number } | undefined;
    if (state === undefined) return null;
    return zoneStatesOf([state], db.prepare('SELECT zone, owner, type, ttl, rdata FROM zone_rrset WHERE zone = ? ORDER BY owner, type').all(zone) as Array<Record<string, unknown>>)[0]!;
  }

  commitZoneChange(c: ZoneChange): void {
    const db = this.writable();
    const q = (sql: string): Statement => db.prepare(sql); // cached: see withStatementCache
    db.transaction(() => {
      const now = q('SELECT serial FROM zone_state WHERE zone = ?').get(c.zone) as { serial: number } | undefined;
      if ((now?.serial ?? null) !== c.base) throw zoneConflict(this.file, c, now?.serial ?? null);
      q('INSERT INTO zone_state (zone, serial) VALUES (?, ?) ON CONFLICT (zone) DO UPDATE SET serial = excluded.serial').run(c.zone, c.serial);
      const put = q('INSERT INTO zone_rrset (zone, owner, type, ttl, rdata) VALUES (?, ?, ?, ?, ?) ON CONFLICT (zone, owner, type) DO UPDATE SET ttl = excluded.ttl, rdata = excluded.rdata');
      for (const r of c.rrsets) put.run(c.zone, r.owner, r.type, r.ttl, JSON.stringify(r.rdata));
      q('INSERT INTO zone_journal (zone, from_serial, serial, at, actor, reset, data) VALUES (?, ?, ?, ?, ?, ?, ?)').run(c.zone, c.from, c.serial, c.at, c.actor, c.reset ? 1 : 0, JSON.stringify({ removed: c.removed, added: c.added }));
      // The oldest entries beyond `keep`, found through the (zone, seq) index: no scan of the journal.
      q('DELETE FROM zone_journal WHERE zone = ? AND seq <= (SELECT seq FROM zone_journal WHERE zone = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)').run(c.zone, c.zone, c.keep);
      this.append(db, 'zone', { zone: c.zone, serial: c.serial });
    })();
  }

  zoneJournal(zone: string): JournalEntry[] {
    return (this.open().prepare('SELECT zone, from_serial, serial, at, actor, reset, data FROM zone_journal WHERE zone = ? ORDER BY seq').all(zone) as Array<Record<string, unknown>>).map(journalRow);
  }

  loadLeases(): AddressLease[] {
    return (this.open().prepare(`SELECT ${LEASE_COLUMNS} FROM address_lease ORDER BY address`).all() as Array<Record<string, unknown>>).map(leaseRow);
  }

  acquireLease(r: LeaseRequest): { lease: AddressLease; created: boolean } | null {
    const db = this.writable();
    const q = (sql: string): Statement => db.prepare(sql);
    let out: { lease: AddressLease; created: boolean } | null = null;
    db.transaction(() => {
      const held = q(`SELECT ${LEASE_COLUMNS} FROM address_lease WHERE name = ? AND server = ? AND state = 'leased'`).get(r.name, r.server) as Record<string, unknown> | undefined;
      if (held) { out = { lease: leaseRow(held), created: false }; return; }
      const id = Number((q('SELECT COALESCE(MAX(lease_id), 0) + 1 AS id FROM lease_history').get() as { id: number }).id);
      for (const address of r.candidates) {
        const took = q(`INSERT INTO address_lease (${LEASE_COLUMNS}) VALUES (?, ?, 'leased', ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, 0)
          ON CONFLICT (address) DO UPDATE SET pool = excluded.pool, state = 'leased', lease_id = excluded.lease_id, name = excluded.name, server = excluded.server,
            private = excluded.private, node = excluded.node, leased_at = excluded.leased_at, expires_at = excluded.expires_at, cool_until = 0, requests = 0, bytes = 0, open = 0
          WHERE address_lease.state = 'cooling' AND address_lease.cool_until <= ?`).run(address, r.pool, id, r.name, r.server, r.private, this.node, r.now, r.now + r.ttlMs, r.now);
        if (took.changes === 0) continue;
        q('INSERT INTO lease_history (lease_id, pool, address, name, server, from_at, to_at) VALUES (?, ?, ?, ?, ?, ?, NULL)').run(id, r.pool, address, r.name, r.server, r.now);
        const lease = leaseRow(q(`SELECT ${LEASE_COLUMNS} FROM address_lease WHERE address = ?`).get(address) as Record<string, unknown>);
        this.append(db, 'lease', { address, leaseId: id, state: 'leased' });
        out = { lease, created: true };
        return;
      }
    })();
    return out;
  }

  updateLeases(updates: readonly LeaseUpdate[]): number[] {
    const db = this.writable();
    const lost: number[] = [];
    db.transaction(() => {
      const st = db.prepare("UPDATE address_lease SET expires_at = ?, requests = ?, bytes = ?, open = ? WHERE address = ? AND lease_id = ? AND state = 'leased'");
      for (const u of updates) if (st.run(u.expiresAt, u.requests, u.bytes, u.open, u.address, u.leaseId).changes === 0) lost.push(u.leaseId);
      if (updates.length > lost.length) this.append(db, 'lease', { updated: updates.length - lost.length });
    })();
    return lost;
  }

  releaseLease(r: LeaseRelease): boolean {
    const db = this.writable();
    let done = false;
    db.transaction(() => {
      done = db.prepare("UPDATE address_lease SET state = 'cooling', cool_until = ?, open = 0 WHERE address = ? AND lease_id = ? AND state = 'leased' AND (? IS NULL OR expires_at <= ?)").run(r.coolUntil, r.address, r.leaseId, r.ifExpiredBy, r.ifExpiredBy).changes > 0;
      if (!done) return;
      db.prepare('UPDATE lease_history SET to_at = ? WHERE lease_id = ?').run(r.at, r.leaseId);
      this.append(db, 'lease', { address: r.address, leaseId: r.leaseId, state: 'cooling' });
    })();
    return done;
  }

  leaseHistory(): LeaseSpan[] {
    return (this.open().prepare('SELECT lease_id, pool, address, name, server, from_at, to_at FROM lease_history ORDER BY lease_id').all() as Array<Record<string, unknown>>).map(spanRow);
  }

  owner(): StoreOwner | null {
    const rows = this.open().prepare("SELECT key, value FROM meta WHERE key IN ('owner', 'owner_since')").all() as Array<{ key: string; value: string }>;
    const file = rows.find((r) => r.key === 'owner')?.value;
    if (file === undefined) return null;
    return { file: this.absolute(file), since: Number(rows.find((r) => r.key === 'owner_since')?.value ?? 0) };
  }

  setOwner(file: string, at: number): void {
    const db = this.writable();
    const put = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    db.transaction(() => { put.run('owner', this.relative(file)); put.run('owner_since', String(at)); })();
  }

  /** The store directory (where waymark.db lives). */
  get dir(): string {
    return path.dirname(this.file);
  }

  private relative(file: string): string {
    return path.relative(this.dir, path.resolve(file));
  }

  private absolute(stored: string): string {
    return path.resolve(this.dir, stored);
  }

  revision(id: number): RevisionRecord | null {
    return this.revisionRow(this.open().prepare('SELECT * FROM revision WHERE id = ?').get(id));
  }

  revisionMeta(id: number): RevisionMeta | null {
    return this.metaRow(this.open().prepare(`SELECT ${META_COLUMNS} FROM revision WHERE id = ?`).get(id));
  }

  revisionRoot(id: number): string | null {
    const row = this.open().prepare('SELECT root FROM revision WHERE id = ?').get(id) as { root: string } | undefined;
    return row?.root ?? null;
  }

  blob(hash: string): string {
    this.open();
    const row = this.selectBlob.get(hash) as { data: string } | undefined;
    if (!row) throw new StoreError('STORE_CORRUPT', `${this.file}: configuration part ${hash} is missing; restore the store from a backup`);
    return row.data;
  }

  listRevisions(limit: number, beforeId = Number.MAX_SAFE_INTEGER, filter: RevisionFilter = {}): RevisionMeta[] {
    const where = revisionWhere(filter);
    const rows = this.open().prepare(`SELECT ${META_COLUMNS} FROM revision WHERE id < ?${where.sql} ORDER BY id DESC LIMIT ?`).all(beforeId, ...where.params, limit);
    return rows.map((r) => this.metaRow(r)!);
  }

  countRevisions(filter: RevisionFilter = {}): number {
    const where = revisionWhere(filter);
    return (this.open().prepare(`SELECT count(*) AS n FROM revision WHERE 1${where.sql}`).get(...where.params) as { n: number }).n;
  }

  addRevision(r: Omit<RevisionRecord, 'id'>, audit: Omit<AuditRecord, 'id' | 'after'> & { after?: unknown }, base?: number): RevisionRecord {
    const db = this.writable();
    let id = 0;
    // The revision, its new parts and its audit entry commit together: an acknowledged change is never without its
    // record, and a revision never references a part that is not there.
    const memo = this.texts;
    const write = db.transaction(() => {
      if (base !== undefined) {
        const now = (db.prepare('SELECT max(id) AS id FROM revision').get() as { id: number | null }).id ?? 0;
        if (now !== base) throw new StoreError('STORE_CONFLICT', `${this.file}: the current revision is ${now}, not ${base}`);
      }
      const root = encodeRoot(r.config, blobWriter(db), memo);
      id = Number((db.prepare('INSERT INTO revision (at, author, source, comment, hash, root, file) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(r.at, r.author, r.source, r.comment, r.hash, root, r.file === null ? null : this.relative(r.file)) as RunResult & { lastInsertRowid: number | bigint }).lastInsertRowid);
      db.prepare('INSERT INTO audit (at, actor, origin, action, target, before, after) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(audit.at, audit.actor, audit.origin, audit.action, audit.target, JSON.stringify(audit.before ?? null), JSON.stringify(audit.after === undefined ? { revision: id } : { revision: id, value: audit.after }));
      this.append(db, 'revision', { id, hash: r.hash });
    });
    try {
      write();
      memo.commit();
    } catch (e) {
      memo.rollback();
      throw e;
    }
    return { ...r, id };
  }

  addToken(t: Omit<TokenRecord, 'id' | 'revokedAt'>): TokenRecord {
    const res = this.writable().prepare('INSERT INTO token (name, role, hash, created_at, created_by) VALUES (?, ?, ?, ?, ?)')
      .run(t.name, t.role, t.hash, t.createdAt, t.createdBy) as RunResult & { lastInsertRowid: number | bigint };
    return { ...t, id: Number(res.lastInsertRowid), revokedAt: null };
  }

  tokenByHash(hash: string): TokenRecord | null {
    return this.tokenRow(this.open().prepare('SELECT * FROM token WHERE hash = ?').get(hash));
  }

  listTokens(): TokenRecord[] {
    return (this.open().prepare('SELECT * FROM token ORDER BY id').all() as unknown[]).map((r) => this.tokenRow(r)!);
  }

  revokeToken(id: number, at: number): boolean {
    return this.writable().prepare('UPDATE token SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at, id).changes === 1;
  }

  addAudit(a: Omit<AuditRecord, 'id'>): void {
    this.writable().prepare('INSERT INTO audit (at, actor, origin, action, target, before, after) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(a.at, a.actor, a.origin, a.action, a.target, JSON.stringify(a.before ?? null), JSON.stringify(a.after ?? null));
  }

  listAudit(limit: number, beforeId = Number.MAX_SAFE_INTEGER, target?: string, filter: AuditFilter = {}): AuditRecord[] {
    const where = auditWhere(target, filter);
    const rows = this.open().prepare(`SELECT * FROM audit WHERE id < ?${where.sql} ORDER BY id DESC LIMIT ?`).all(beforeId, ...where.params, limit) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      id: r.id as number, at: r.at as number, actor: r.actor as string, origin: (r.origin as string | null) ?? '', action: r.action as string, target: r.target as string,
      before: JSON.parse((r.before as string | null) ?? 'null'), after: JSON.parse((r.after as string | null) ?? 'null'),
    }));
  }

  countAudit(target?: string, filter: AuditFilter = {}): number {
    const where = auditWhere(target, filter);
    return (this.open().prepare(`SELECT count(*) AS n FROM audit WHERE 1${where.sql}`).get(...where.params) as { n: number }).n;
  }

  private writable(): Database {
    const db = this.open();
    if (this.readonly) throw new StoreError('STORE_OPEN', `${this.file}: opened read-only, cannot save`);
    return db;
  }

  private metaRow(row: unknown): RevisionMeta | null {
    if (!row) return null;
    const r = row as Record<string, unknown>;
    return { id: r.id as number, at: r.at as number, author: r.author as string, source: r.source as RevisionRecord['source'], comment: r.comment as string, hash: r.hash as string, file: typeof r.file === 'string' ? this.absolute(r.file) : null };
  }

  private revisionRow(row: unknown): RevisionRecord | null {
    const meta = this.metaRow(row);
    if (!meta) return null;
    return { ...meta, config: decodeRoot((row as { root: string }).root, this.loadBlob) };
  }

  private tokenRow(row: unknown): TokenRecord | null {
    if (!row) return null;
    const r = row as Record<string, unknown>;
    return { id: r.id as number, name: r.name as string, role: r.role as TokenRecord['role'], hash: r.hash as string, createdAt: r.created_at as number, createdBy: r.created_by as string, revokedAt: (r.revoked_at as number | null) ?? null };
  }

  /** The journal mode SQLite reports ("wal" for a writable store). */
  journalMode(): string {
    return String(this.open().pragma('journal_mode', { simple: true }));
  }

  /**
   * Checkpoint the WAL from a thread of its own (state/checkpointer.ts) instead of inside whichever commit makes the
   * WAL reach 1,000 pages: for the serving supervisor, whose commits are API changes someone waits for. If the thread
   * fails, SQLite's automatic checkpoint comes back on.
   */
  checkpointInBackground(intervalMs = CHECKPOINT_INTERVAL_MS): void {
    if (this.readonly || this.checkpointer !== null) return;
    const db = this.open();
    const worker = new Worker(new URL('./checkpointer.js', import.meta.url), { workerData: { file: this.file, intervalMs } });
    worker.unref();
    this.checkpointer = worker;
    db.pragma('wal_autocheckpoint = 0');
    const fallBack = (): void => {
      if (this.checkpointer !== worker) return;
      this.checkpointer = null;
      if (this.db) this.db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
    };
    worker.on('message', (m: { error?: string }) => { if (m.error !== undefined) this.checkpointError = m.error; });
    worker.on('error', (e) => { this.checkpointError = e.message; fallBack(); });
    worker.on('exit', fallBack);
  }

  /** Whether the WAL is checkpointed by the background thread (false once it failed: see checkpointError). */
  checkpointsInBackground(): boolean {
    return this.checkpointer !== null;
  }

  close(): void {
    if (!this.db) return;
    const db = this.db;
    this.db = null;
    const w = this.checkpointer;
    this.checkpointer = null;
    // The thread closes its connection itself; whichever connection closes last checkpoints what is left.
    w?.postMessage('stop');
    db.close();
  }

  private open(): Database {
    if (!this.db) throw new StoreError('STORE_CLOSED', `${this.file}: the store is closed`);
    return this.db;
  }
}

/** The first field of `r` that would corrupt the table or make every later batch fail (a "poison" record), or null. */
export function invalidField(r: PersistRecord): string | null {
  return (
    typeof r.name !== 'string' || r.name === '' ? 'name' :
    !Number.isSafeInteger(r.key) || r.key < 0 ? 'key' :
    typeof r.keyText !== 'string' ? 'keyText' :
    typeof r.pool !== 'string' ? 'pool' :
    typeof r.member !== 'string' ? 'member' :
    !Number.isFinite(r.ts) ? 'ts' :
    !Number.isFinite(r.ttlMs) || r.ttlMs < 0 ? 'ttlMs' :
    !Number.isFinite(r.hits) || r.hits < 0 ? 'hits' : null
  );
}

/**
 * Open (creating if needed) `waymark.db` under `dir`, in WAL mode, with the schema migrated to SCHEMA_VERSION.
 * Throws a StoreError naming the path and what to do when the directory or file is unusable.
 */
export function openStore(dir: string, opts: OpenStoreOptions = {}): SqliteStore {
  const readonly = opts.readonly === true;
  const busyTimeoutMs = opts.busyTimeoutMs ?? 2000;
  const absDir = path.resolve(dir);
  const file = path.join(absDir, STORE_FILE);

  try {
    if (!readonly) fs.mkdirSync(absDir, { recursive: true });
    if (!fs.statSync(absDir).isDirectory()) throw new Error('not a directory');
    fs.accessSync(absDir, readonly ? fs.constants.R_OK : fs.constants.R_OK | fs.constants.W_OK);
  } catch (err) {
    throw new StoreError('STORE_DIR', `data directory ${absDir}: unusable (${messageOf(err)}); create it or choose a writable directory`, { cause: err });
  }

  const Database = loadDriver();
  let db: Database;
  try {
    db = new Database(file, { readonly, fileMustExist: readonly, timeout: busyTimeoutMs });
  } catch (err) {
    throw new StoreError('STORE_OPEN', `${file}: cannot open (${messageOf(err)})`, { cause: err });
  }

  try {
    if (!readonly) {
      db.pragma('journal_mode = WAL');
      // FULL: a committed batch survives power loss too (C2 "nothing acknowledged is lost"); batches keep fsyncs rare.
      db.pragma('synchronous = FULL');
    }
    migrate(db, file, readonly);
    return new SqliteStore(db, file, readonly, opts.node);
  } catch (err) {
    db.close();
    if (err instanceof StoreError) throw err;
    throw new StoreError('STORE_OPEN', `${file}: cannot use the database (${messageOf(err)}); if it is not a Waymark database, move it away`, { cause: err });
  }
}

function migrate(db: Database, file: string, readonly: boolean): void {
  const version = Number(db.pragma('user_version', { simple: true }));
  if (version > SCHEMA_VERSION) {
    throw new StoreError('STORE_SCHEMA', `${file}: schema version ${version} is newer than this Waymark understands (${SCHEMA_VERSION}); upgrade Waymark`);
  }
  if (version === SCHEMA_VERSION) return;
  if (readonly) {
    throw new StoreError('STORE_SCHEMA', `${file}: schema version ${version}, expected ${SCHEMA_VERSION}; open it once read-write to migrate`);
  }
  const step = db.transaction((from: number) => {
    const m = MIGRATIONS[from]!;
    if (typeof m === 'string') db.exec(m);
    else m(db);
    db.pragma(`user_version = ${from + 1}`);
  });
  for (let v = version; v < SCHEMA_VERSION; v++) step(v);
}

// ---- batching writer ----

export interface PersistenceWriterOptions {
  /** How often queued records are written (default 200 ms). */
  intervalMs?: number;
  /** Most (name, key) pairs held while the database is slow or failing; beyond it the oldest are dropped (default 200,000). */
  maxQueued?: number;
  /** Where write failures go (default: a process warning). Never throws into the caller. */
  onError?: (err: Error) => void;
}

/**
 * Takes persistence changes from the query side (push, cheap) and writes them with one savePersistence call per
 * interval. Repeated changes of the same (name, key) within a batch coalesce to the newest by ts. A failing batch
 * stays queued and is retried on the next tick; the queue is bounded and drops its oldest entries (counted in
 * `dropped`) rather than growing. Does not own the store: close the writer, then the store.
 */
/** Where a PersistenceWriter writes: either backend (SQLite returns at once, a database server with a promise). */
export interface PersistenceSink { savePersistence(records: readonly PersistRecord[]): void | Promise<void> }

export class PersistenceWriter {
  /** Records dropped because the queue was full or the writer closed. */
  dropped = 0;
  /** Records rejected by push because they were malformed. */
  rejected = 0;
  /** Batches that failed to write (each retried later). */
  failures = 0;
  /** Records written successfully. */
  written = 0;

  private readonly store: PersistenceSink;
  private readonly maxQueued: number;
  private inFlight: Promise<boolean> | null = null;
  private readonly onError: (err: Error) => void;
  private queue = new Map<string, PersistRecord>();
  private timer: NodeJS.Timeout | null;
  private closed = false;

  constructor(store: PersistenceSink, opts: PersistenceWriterOptions = {}) {
    const intervalMs = opts.intervalMs ?? 200;
    if (!(intervalMs > 0)) throw new RangeError(`persistence writer: intervalMs must be > 0, got ${intervalMs}`);
    this.store = store;
    this.maxQueued = Math.max(1, opts.maxQueued ?? 200_000);
    this.onError = opts.onError ?? ((err) => process.emitWarning(err.message, { code: 'WAYMARK_STORE_WRITE' }));
    this.timer = setInterval(() => this.flush(), intervalMs);
    this.timer.unref();
  }

  /** Records waiting for the next write. */
  get queued(): number {
    return this.queue.size;
  }

  push(records: readonly PersistRecord[]): void {
    for (const r of records) {
      if (this.closed) {
        this.dropped++;
        continue;
      }
      if (invalidField(r) !== null) {
        this.rejected++;
        continue;
      }
      const id = `${r.key}\u0000${r.name}`;
      const held = this.queue.get(id);
      if (held !== undefined) {
        if (r.ts < held.ts) continue;
        this.queue.delete(id); // re-insert: the Map's order is the age order used for dropping
      }
      this.queue.set(id, r);
      if (this.queue.size > this.maxQueued) {
        const oldest = this.queue.keys().next().value as string;
        this.queue.delete(oldest);
        this.dropped++;
      }
    }
  }

  /**
   * Write everything queued now, in one transaction. Returns false (and reports the error) if it failed; the records
   * stay queued for the next flush (newer ones pushed meanwhile win). With an asynchronous store, a promise of that,
   * and one write at a time (a flush while one is under way waits for it).
   */
  flush(): boolean | Promise<boolean> {
    if (this.inFlight !== null) return this.inFlight;
    if (this.queue.size === 0) return true;
    const batch = this.queue;
    const records = [...batch.values()];
    this.queue = new Map();
    let pending: void | Promise<void>;
    try {
      pending = this.store.savePersistence(records);
    } catch (err) {
      this.failed(batch, err);
      return false;
    }
    if (!(pending instanceof Promise)) {
      this.written += records.length;
      return true;
    }
    this.inFlight = pending.then(
      () => { this.written += records.length; return true; },
      (err: unknown) => { this.failed(batch, err); return false; },
    ).finally(() => { this.inFlight = null; });
    return this.inFlight;
  }

  /** Stop the timer and write what is queued. Later pushes are dropped. Returns flush()'s result. */
  close(): boolean | Promise<boolean> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.closed = true;
    const inFlight = this.inFlight;
    if (inFlight !== null) return inFlight.then(() => this.flush());
    return this.flush();
  }

  /** A batch that was not written goes back in front of what was pushed since (newer records win). */
  private failed(batch: Map<string, PersistRecord>, err: unknown): void {
    this.failures++;
    for (const [id, r] of this.queue) {
      const old = batch.get(id);
      if (old !== undefined && old.ts > r.ts) continue;
      batch.delete(id);
      batch.set(id, r);
    }
    this.queue = batch;
    while (this.queue.size > this.maxQueued) {
      this.queue.delete(this.queue.keys().next().value as string);
      this.dropped++;
    }
    this.report(err);
  }

  private report(err: unknown): void {
    try {
      this.onError(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // An error handler that throws must not take the process down.
    }
  }
}
