// The cluster store (issue 11, SPEC C2): the same state as the SQLite file (revisions as content-addressed blobs,
// tokens, audit, admin states, persistence records, the store's owner) in a PostgreSQL database that several nodes
// share, through the maintained `pg` driver. Owns: the PostgreSQL schema and its versioned migrations, connecting
// (the password from the URL, PGPASSWORD or a file, never shown), and the SQL of every StateStore operation.
// Never called per query: like the SQLite store, it takes persistence changes in batches.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { PersistRecord } from '../answer/persistence.js';
import { blobsOf, decodeRoot, encodeRoot, TextMemo } from './content.js';
import { FetchedBlobs, type StateStore } from './async.js';
import { redactUrl } from '../net/url.js';

export { redactUrl };
import {
  invalidField, likeSubstring, nodeRow, StoreError, zoneStatesOf, journalRow, zoneConflict, leaseRow, spanRow, LEASE_COLUMNS,
  type AddressLease, type LeaseRequest, type LeaseUpdate, type LeaseRelease, type LeaseSpan,
  type ZoneState, type ZoneChange, type JournalEntry,
  type AdminRecord, type Change, type ChangeKind, type AuditFilter, type AuditRecord, type RevisionFilter, type Lease, type NodeRecord, type RevisionMeta, type Verdict, type RevisionRecord, type StoreOwner, type TokenRecord,
} from './store.js';

/** Where the database is: `url` as `store.postgres` gives it; the password may instead come from a file. */
export interface PostgresOptions {
  url: string;
  /** A file holding the password (its first line), for a URL without one; PGPASSWORD is the other way. */
  passwordFile?: string;
  /** Connections in the pool (default 4). */
  connections?: number;
  /** The node name its changes carry in the feed (default: the host name). */
  node?: string;
}

/** How long a new connection may take before the database counts as unreachable. */
const CONNECT_TIMEOUT_MS = 3000;

/** int8 (counts, ids, millisecond times) as numbers: every one the store keeps is below 2^53. */
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

/** Migrations, one transaction each: MIGRATIONS[i] takes the schema from version i to i + 1. Append only. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE persistence (
     name     text             NOT NULL,
     key      bigint           NOT NULL,
     key_text text             NOT NULL,
     pool     text             NOT NULL,
     member   text             NOT NULL,
     ts       double precision NOT NULL,
     ttl_ms   bigint           NOT NULL,
     expires  double precision NOT NULL,
     hits     bigint           NOT NULL,
     PRIMARY KEY (name, key)
   );
   CREATE INDEX persistence_expires ON persistence (expires);
   CREATE TABLE member_admin (
     pool   text   NOT NULL,
     member text   NOT NULL,
     state  text   NOT NULL CHECK (state IN ('up', 'down', 'drain')),
     by     text   NOT NULL,
     at     bigint NOT NULL,
     PRIMARY KEY (pool, member)
   );
   CREATE TABLE blob (hash text PRIMARY KEY, data text NOT NULL);
   CREATE TABLE revision (
     id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     at      bigint NOT NULL,
     author  text   NOT NULL,
     source  text   NOT NULL,
     comment text   NOT NULL,
     hash    text   NOT NULL,
     root    text   NOT NULL,
     file    text
   );
   CREATE TABLE token (
     id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     name       text   NOT NULL,
     role       text   NOT NULL CHECK (role IN ('read', 'operator', 'admin')),
     hash       text   NOT NULL UNIQUE,
     created_at bigint NOT NULL,
     created_by text   NOT NULL,
     revoked_at bigint
   );
   CREATE TABLE audit (
     id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     at     bigint NOT NULL,
     actor  text   NOT NULL,
     origin text   NOT NULL,
     action text   NOT NULL,
     target text   NOT NULL,
     before text,
     after  text
   );
   CREATE INDEX audit_target ON audit (target, id);
   CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);`,
  // The change feed. A change takes its position from feed_head's one row, updated in the change's own transaction:
  // the row lock makes writers take positions in commit order, so a node reading "after p" never later finds a
  // position below p committed (an identity column would let a later-committing transaction hold a smaller one),
  // and a rolled-back change gives its position back.
  `CREATE TABLE feed_head (position bigint NOT NULL);
   INSERT INTO feed_head (position) VALUES (0);
   CREATE TABLE change (
     position bigint PRIMARY KEY,
     at       bigint NOT NULL,
     node     text   NOT NULL,
     kind     text   NOT NULL,
     data     text   NOT NULL
   );`,
  `CREATE TABLE node (
     name       text    PRIMARY KEY,
     started_at bigint  NOT NULL,
     seen_at    bigint  NOT NULL,
     revision   bigint  NOT NULL,
     position   bigint  NOT NULL,
     role       text    NOT NULL,
     pid        integer NOT NULL,
     host       text    NOT NULL,
     api        text
   );`,
  `CREATE TABLE lease (role text PRIMARY KEY, holder text NOT NULL, term bigint NOT NULL, expires bigint NOT NULL);
   CREATE TABLE member_health (pool text NOT NULL, member text NOT NULL, term bigint NOT NULL, data text NOT NULL, PRIMARY KEY (pool, member));`,
  // Dynamic update (issue 12): each zone's serial, the RRsets UPDATE set, and the journal IXFR answers from.
  `CREATE TABLE zone_state (zone text PRIMARY KEY, serial bigint NOT NULL);
   CREATE TABLE zone_rrset (zone text NOT NULL, owner text NOT NULL, type integer NOT NULL, ttl bigint NOT NULL, rdata text NOT NULL, PRIMARY KEY (zone, owner, type));
   CREATE TABLE zone_journal (seq bigserial PRIMARY KEY, zone text NOT NULL, from_serial bigint NOT NULL, serial bigint NOT NULL, at bigint NOT NULL, actor text NOT NULL, reset integer NOT NULL, data text NOT NULL);
   CREATE INDEX zone_journal_zone ON zone_journal (zone, seq);`,
  // Address leases (issue 14): one row per public address; one lease in force per (name, server).
  `CREATE TABLE address_lease (
     address text PRIMARY KEY, pool text NOT NULL, state text NOT NULL CHECK (state IN ('leased', 'cooling')), lease_id bigint NOT NULL,
     name text NOT NULL, server text NOT NULL, private text NOT NULL, node text NOT NULL, leased_at bigint NOT NULL, expires_at bigint NOT NULL,
     cool_until bigint NOT NULL, requests bigint NOT NULL, bytes bigint NOT NULL, open integer NOT NULL
   );
   CREATE UNIQUE INDEX address_lease_holder ON address_lease (name, server) WHERE state = 'leased';
   CREATE SEQUENCE lease_id_seq;
   CREATE TABLE lease_history (lease_id bigint PRIMARY KEY, pool text NOT NULL, address text NOT NULL, name text NOT NULL, server text NOT NULL, from_at bigint NOT NULL, to_at bigint);`,
];
export const PG_SCHEMA_VERSION = MIGRATIONS.length;
/** The advisory lock nodes take while migrating, so two starting at once do not both apply a step. */
const MIGRATION_LOCK = 0x77_61_79_6d; // "waym"


/** Connect, migrate, and return the store; errors name the setting and never show the password. */
export async function openPostgresStore(opts: PostgresOptions): Promise<PostgresStore> {
  const shown = redactUrl(opts.url);
  let password: string | undefined;
  if (opts.passwordFile !== undefined) {
    try {
      password = fs.readFileSync(opts.passwordFile, 'utf8').split(/\r?\n/)[0];
    } catch (e) {
      throw new StoreError('STORE_OPEN', `store.passwordFile ${opts.passwordFile}: cannot read it (${(e as Error).message})`);
    }
  }
  let url: URL;
  try {
    url = new URL(opts.url); // pg's own parser accepts some malformed URLs silently
  } catch {
    throw new StoreError('STORE_OPEN', `store.postgres: ${shown} is not a postgresql:// URL`);
  }
  if (url.protocol !== 'postgresql:' && url.protocol !== 'postgres:') throw new StoreError('STORE_OPEN', `store.postgres: ${shown} is not a postgresql:// URL`);
  // A password from the file goes into the URL, in memory only (pg lets the URL's fields override separate ones).
  if (password !== undefined && url.password === '') url.password = encodeURIComponent(password);
  const config: pg.PoolConfig = { connectionString: url.toString(), max: opts.connections ?? 4, types, connectionTimeoutMillis: CONNECT_TIMEOUT_MS };
  const pool = new pg.Pool(config);
  // An idle connection the server closes (a restart) is an error event on the pool; the next query reconnects.
  pool.on('error', () => {});
  try {
    await migrate(pool, shown);
  } catch (e) {
    await pool.end().catch(() => {});
    if (e instanceof StoreError) throw e;
    throw new StoreError('STORE_OPEN', `store.postgres ${shown}: cannot use the database (${(e as Error).message})`, { cause: e });
  }
  return new PostgresStore(pool, shown, opts.node ?? os.hostname());
}

async function migrate(pool: pg.Pool, shown: string): Promise<void> {
  const c = await pool.connect();
  const lost = (): void => {}; // as in tx(): the failing statement reports it
  c.on('error', lost);
  try {
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query('CREATE TABLE IF NOT EXISTS waymark_schema (version integer NOT NULL)');
    const row = (await c.query<{ version: number }>('SELECT version FROM waymark_schema')).rows[0];
    let version = row?.version ?? 0;
    if (row === undefined) await c.query('INSERT INTO waymark_schema (version) VALUES (0)');
    if (version > PG_SCHEMA_VERSION) {
      throw new StoreError('STORE_SCHEMA', `store.postgres ${shown}: the schema is version ${version}, newer than this Waymark knows (${PG_SCHEMA_VERSION}); upgrade Waymark on this node`);
    }
    for (; version < PG_SCHEMA_VERSION; version++) await c.query(MIGRATIONS[version]!);
    await c.query('UPDATE waymark_schema SET version = $1', [version]);
    await c.query('COMMIT');
  } catch (e) {
    await c.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    c.removeListener('error', lost);
    c.release();
  }
}

/** The record that wins for each key of a batch: the latest by ts, the later one of equal ts (as one at a time would). */
function lastPerKey(records: readonly PersistRecord[]): PersistRecord[] {
  const byKey = new Map<string, PersistRecord>();
  for (const r of records) {
    const k = `${r.key} ${r.name}`;
    const was = byKey.get(k);
    if (was === undefined || r.ts >= was.ts) byKey.set(k, r);
  }
  return [...byKey.values()];
}

const META_COLUMNS = 'id, at, author, source, comment, hash, file';

interface Where { sql: string; params: unknown[] }
/** SQL for filters, numbering parameters after `first` (LIKE with backslash escapes; ILIKE: case-insensitive). */
function revisionWhere(f: RevisionFilter, first: number): Where {
  const w: Where = { sql: '', params: [] };
  const p = (v: unknown): string => `$${first + w.params.push(v) - 1}`;
  if (f.source !== undefined) w.sql += ` AND source = ${p(f.source)}`;
  if (f.q !== undefined && f.q !== '') { const q = p(likeSubstring(f.q)); w.sql += ` AND (author ILIKE ${q} OR comment ILIKE ${q})`; }
  return w;
}

function auditWhere(target: string | undefined, f: AuditFilter, first: number): Where {
  const w: Where = { sql: '', params: [] };
  const p = (v: unknown): string => `$${first + w.params.push(v) - 1}`;
  if (target !== undefined) w.sql += ` AND target = ${p(target)}`;
  if (f.action !== undefined) w.sql += ` AND action = ${p(f.action)}`;
  if (f.actor !== undefined) w.sql += ` AND actor = ${p(f.actor)}`;
  if (f.q !== undefined && f.q !== '') { const q = p(likeSubstring(f.q)); w.sql += ` AND (actor ILIKE ${q} OR action ILIKE ${q} OR target ILIKE ${q})`; }
  return w;
}

type Row = Record<string, unknown>;

export class PostgresStore implements StateStore {
  readonly backend = 'postgres';
  /** Zone texts and large arrays whose chunks the database holds (content.ts), as the SQLite store keeps them. */
  private readonly texts = new TextMemo();
  private closed = false;

  constructor(private readonly pool: pg.Pool, readonly shown: string, readonly node: string) {}

  /** The pool, unless the store is closed. */
  private open(): pg.Pool {
    if (this.closed) throw new StoreError('STORE_CLOSED', `store.postgres ${this.shown}: the store is closed`);
    return this.pool;
  }

  private async q<R extends Row = Row>(sql: string, params: unknown[] = []): Promise<R[]> {
    try {
      return (await this.open().query<R>(sql, params)).rows;
    } catch (e) {
      throw this.unavailable(e);
    }
  }

  /** A statement's whole result (row counts). */
  private async rows(sql: string, params: unknown[]): Promise<pg.QueryResult> {
    try {
      return await this.open().query(sql, params);
    } catch (e) {
      throw this.unavailable(e);
    }
  }

  /** `fn` in one transaction on one connection. */
  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    let c: pg.PoolClient;
    try {
      c = await this.open().connect();
    } catch (e) {
      throw this.unavailable(e);
    }
    let broken: Error | undefined;
    // A checked-out client has no listener of the pool's: a connection lost between two statements would be an
    // unhandled 'error' event, which ends the process (DNS answers with it). Noted here; the next statement fails.
    const lost = (e: Error): void => { broken = e; };
    c.on('error', lost);
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      if (isConnectionLoss(e)) broken = e as Error;
      throw this.unavailable(e);
    } finally {
      c.removeListener('error', lost);
      c.release(broken); // a connection that broke is dropped from the pool, not reused
    }
  }

  /** A lost or refused connection as a StoreError STORE_UNAVAILABLE (the caller may retry); other errors as they are. */
  private unavailable(e: unknown): unknown {
    if (!isConnectionLoss(e)) return e;
    return new StoreError('STORE_UNAVAILABLE', `store.postgres ${this.shown}: the database cannot be reached (${(e as Error).message || (e as { code?: string }).code})`, { cause: e });
  }

  async loadPersistence(now: number): Promise<PersistRecord[]> {
    const rows = await this.q('SELECT name, key, key_text, pool, member, ts, ttl_ms, hits FROM persistence WHERE expires >= $1 ORDER BY ts', [now]);
    return rows.map((r) => ({
      name: r.name as string, key: r.key as number, keyText: r.key_text as string, pool: r.pool as string, member: r.member as string,
      ts: r.ts as number, ttlMs: r.ttl_ms as number, hits: r.hits as number,
    }));
  }

  async savePersistence(records: readonly PersistRecord[]): Promise<void> {
    for (const r of records) {
      const bad = invalidField(r);
      if (bad) throw new RangeError(`persistence record for ${JSON.stringify(r.name)} key ${r.key}: invalid ${bad}`);
    }
    if (records.length === 0) return;
    const last = lastPerKey(records);
    const put = last.filter((r) => r.ttlMs !== 0);
    const del = last.filter((r) => r.ttlMs === 0);
    await this.tx(async (c) => {
      if (put.length > 0) {
        await c.query(
          `INSERT INTO persistence (name, key, key_text, pool, member, ts, ttl_ms, expires, hits)
           SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::bigint[], $8::float8[], $9::bigint[])
           ON CONFLICT (name, key) DO UPDATE SET
             key_text = excluded.key_text, pool = excluded.pool, member = excluded.member,
             ts = excluded.ts, ttl_ms = excluded.ttl_ms, expires = excluded.expires, hits = excluded.hits
           WHERE excluded.ts >= persistence.ts`,
          [put.map((r) => r.name), put.map((r) => r.key), put.map((r) => r.keyText), put.map((r) => r.pool), put.map((r) => r.member),
            put.map((r) => r.ts), put.map((r) => r.ttlMs), put.map((r) => r.ts + r.ttlMs), put.map((r) => r.hits)],
        );
      }
      if (del.length > 0) {
        await c.query(
          `DELETE FROM persistence p USING unnest($1::text[], $2::bigint[], $3::float8[]) AS d(name, key, ts)
           WHERE p.name = d.name AND p.key = d.key AND p.ts <= d.ts`,
          [del.map((r) => r.name), del.map((r) => r.key), del.map((r) => r.ts)],
        );
      }
      await this.append(c, 'persistence', records);
    });
  }

  async purgeExpired(now: number): Promise<number> {
    return (await this.rows('DELETE FROM persistence WHERE expires < $1', [now])).rowCount ?? 0;
  }

  async loadAdmin(): Promise<AdminRecord[]> {
    return (await this.q('SELECT pool, member, state, by, at FROM member_admin ORDER BY pool, member')) as unknown as AdminRecord[];
  }

  async setAdmin(r: AdminRecord): Promise<void> {
    await this.tx(async (c) => {
      if (r.state === 'auto') await c.query('DELETE FROM member_admin WHERE pool = $1 AND member = $2', [r.pool, r.member]);
      else await c.query('INSERT INTO member_admin (pool, member, state, by, at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (pool, member) DO UPDATE SET state = excluded.state, by = excluded.by, at = excluded.at', [r.pool, r.member, r.state, r.by, r.at]);
      await this.append(c, 'admin', r);
    });
  }

  /** Add one change to the feed, inside the caller's transaction (its position: see the feed migration). */
  private async append(c: pg.PoolClient, kind: ChangeKind, data: unknown): Promise<void> {
    const position = (await c.query<{ position: number }>('UPDATE feed_head SET position = position + 1 RETURNING position')).rows[0]!.position;
    await c.query('INSERT INTO change (position, at, node, kind, data) VALUES ($1, $2, $3, $4, $5)', [position, Date.now(), this.node, kind, JSON.stringify(data)]);
  }

  async changesSince(position: number, limit: number): Promise<Change[]> {
    const rows = await this.q('SELECT position, at, node, kind, data FROM change WHERE position > $1 ORDER BY position LIMIT $2', [position, limit]);
    return rows.map((r) => ({ position: r.position as number, at: r.at as number, node: r.node as string, kind: r.kind as ChangeKind, data: JSON.parse(r.data as string) as unknown }));
  }

  async pruneChanges(at: number): Promise<number> {
    return (await this.rows('DELETE FROM change WHERE at < $1', [at])).rowCount ?? 0;
  }

  async feedHead(): Promise<number> {
    return (await this.q('SELECT position FROM feed_head'))[0]!.position as number;
  }

  async currentRevision(): Promise<RevisionRecord | null> {
    return this.revisionRow((await this.q(`SELECT ${META_COLUMNS}, root FROM revision ORDER BY id DESC LIMIT 1`))[0]);
  }

  async currentRevisionMeta(): Promise<RevisionMeta | null> {
    return metaRow((await this.q(`SELECT ${META_COLUMNS} FROM revision ORDER BY id DESC LIMIT 1`))[0]);
  }

  async lastRevisionFromFile(file: string): Promise<RevisionMeta | null> {
    return metaRow((await this.q(`SELECT ${META_COLUMNS} FROM revision WHERE source = 'file' AND file = $1 ORDER BY id DESC LIMIT 1`, [fileKey(file)]))[0]);
  }

  async revision(id: number): Promise<RevisionRecord | null> {
    return this.revisionRow((await this.q(`SELECT ${META_COLUMNS}, root FROM revision WHERE id = $1`, [id]))[0]);
  }

  async revisionMeta(id: number): Promise<RevisionMeta | null> {
    return metaRow((await this.q(`SELECT ${META_COLUMNS} FROM revision WHERE id = $1`, [id]))[0]);
  }

  async revisionRoot(id: number): Promise<string | null> {
    return ((await this.q('SELECT root FROM revision WHERE id = $1', [id]))[0]?.root as string | undefined) ?? null;
  }

  async blob(hash: string): Promise<string> {
    const row = (await this.q('SELECT data FROM blob WHERE hash = $1', [hash]))[0];
    if (!row) throw this.missing(hash);
    return row.data as string;
  }

  async listRevisions(limit: number, beforeId = Number.MAX_SAFE_INTEGER, filter: RevisionFilter = {}): Promise<RevisionMeta[]> {
    const w = revisionWhere(filter, 3);
    const rows = await this.q(`SELECT ${META_COLUMNS} FROM revision WHERE id < $1${w.sql} ORDER BY id DESC LIMIT $2`, [beforeId, limit, ...w.params]);
    return rows.map((r) => metaRow(r)!);
  }

  async countRevisions(filter: RevisionFilter = {}): Promise<number> {
    const w = revisionWhere(filter, 1);
    return (await this.q(`SELECT count(*) AS n FROM revision WHERE true${w.sql}`, w.params))[0]!.n as number;
  }

  async addRevision(r: Omit<RevisionRecord, 'id'>, audit: Omit<AuditRecord, 'id' | 'after'> & { after?: unknown }, base?: number): Promise<RevisionRecord> {
    // The revision, its new parts and its audit entry commit together, as in the SQLite store.
    const blobs = new Map<string, string>();
    const root = encodeRoot(r.config, (hash, json) => { blobs.set(hash, json); }, this.texts);
    try {
      const id = await this.tx(async (c) => {
        if (base !== undefined) {
          // The feed's row lock first: revisions of other nodes commit before or after this check, never between.
          await c.query('SELECT position FROM feed_head FOR UPDATE');
          const now = (await c.query<{ id: number | null }>('SELECT max(id) AS id FROM revision')).rows[0]!.id ?? 0;
          if (now !== base) throw new StoreError('STORE_CONFLICT', `store.postgres ${this.shown}: the current revision is ${now}, not ${base}`);
        }
        if (blobs.size > 0) {
          await c.query('INSERT INTO blob (hash, data) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (hash) DO NOTHING', [[...blobs.keys()], [...blobs.values()]]);
        }
        const rid = (await c.query<{ id: number }>('INSERT INTO revision (at, author, source, comment, hash, root, file) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id',
          [r.at, r.author, r.source, r.comment, r.hash, root, r.file === null ? null : fileKey(r.file)])).rows[0]!.id;
        await c.query('INSERT INTO audit (at, actor, origin, action, target, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7)',
          [audit.at, audit.actor, audit.origin, audit.action, audit.target, JSON.stringify(audit.before ?? null), JSON.stringify(audit.after === undefined ? { revision: rid } : { revision: rid, value: audit.after })]);
        await this.append(c, 'revision', { id: rid, hash: r.hash });
        return rid;
      });
      this.texts.commit();
      return { ...r, file: r.file === null ? null : fileKey(r.file), id };
    } catch (e) {
      this.texts.rollback();
      throw e;
    }
  }

  async addToken(t: Omit<TokenRecord, 'id' | 'revokedAt'>): Promise<TokenRecord> {
    const id = (await this.q('INSERT INTO token (name, role, hash, created_at, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING id', [t.name, t.role, t.hash, t.createdAt, t.createdBy]))[0]!.id as number;
    return { ...t, id, revokedAt: null };
  }

  async tokenByHash(hash: string): Promise<TokenRecord | null> {
    return tokenRow((await this.q('SELECT * FROM token WHERE hash = $1', [hash]))[0]);
  }

  async listTokens(): Promise<TokenRecord[]> {
    return (await this.q('SELECT * FROM token ORDER BY id')).map((r) => tokenRow(r)!);
  }

  async revokeToken(id: number, at: number): Promise<boolean> {
    return (await this.rows('UPDATE token SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [at, id])).rowCount === 1;
  }

  async addAudit(a: Omit<AuditRecord, 'id'>): Promise<void> {
    await this.q('INSERT INTO audit (at, actor, origin, action, target, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [a.at, a.actor, a.origin, a.action, a.target, JSON.stringify(a.before ?? null), JSON.stringify(a.after ?? null)]);
  }

  async listAudit(limit: number, beforeId = Number.MAX_SAFE_INTEGER, target?: string, filter: AuditFilter = {}): Promise<AuditRecord[]> {
    const w = auditWhere(target, filter, 3);
    const rows = await this.q(`SELECT * FROM audit WHERE id < $1${w.sql} ORDER BY id DESC LIMIT $2`, [beforeId, limit, ...w.params]);
    return rows.map((r) => ({
      id: r.id as number, at: r.at as number, actor: r.actor as string, origin: r.origin as string, action: r.action as string, target: r.target as string,
      before: JSON.parse((r.before as string | null) ?? 'null'), after: JSON.parse((r.after as string | null) ?? 'null'),
    }));
  }

  async countAudit(target?: string, filter: AuditFilter = {}): Promise<number> {
    const w = auditWhere(target, filter, 1);
    return (await this.q(`SELECT count(*) AS n FROM audit WHERE true${w.sql}`, w.params))[0]!.n as number;
  }

  async heartbeat(n: NodeRecord, extra?: Record<string, unknown>): Promise<void> {
    await this.tx(async (c) => {
      await c.query(`INSERT INTO node (name, started_at, seen_at, revision, position, role, pid, host, api) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (name) DO UPDATE SET started_at = excluded.started_at, seen_at = excluded.seen_at, revision = excluded.revision,
        position = excluded.position, role = excluded.role, pid = excluded.pid, host = excluded.host, api = excluded.api`,
      [n.name, n.startedAt, n.seenAt, n.revision, n.position, n.role, n.pid, n.host, n.api]);
      await this.append(c, 'node', { ...extra, name: n.name, seenAt: n.seenAt });
    });
  }

  async listNodes(): Promise<NodeRecord[]> {
    return (await this.q('SELECT * FROM node ORDER BY name')).map(nodeRow);
  }

  async claimLeader(role: string, node: string, ttlMs: number): Promise<Lease> {
    // The database's clock, not the nodes': their clocks may disagree, the lease must not.
    return this.tx(async (c) => {
      const now = (await c.query<{ now: number }>("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now")).rows[0]!.now;
      await c.query('INSERT INTO lease (role, holder, term, expires) VALUES ($1, $2, 0, 0) ON CONFLICT (role) DO NOTHING', [role, node]);
      const held = (await c.query<{ holder: string; term: number; expires: number }>('SELECT holder, term, expires FROM lease WHERE role = $1 FOR UPDATE', [role])).rows[0]!;
      if (held.holder !== node && held.expires >= now) return { holder: held.holder, term: held.term, expires: held.expires, mine: false };
      const term = held.holder === node && held.expires >= now && held.term > 0 ? held.term : held.term + 1;
      await c.query('UPDATE lease SET holder = $2, term = $3, expires = $4 WHERE role = $1', [role, node, term, now + ttlMs]);
      return { holder: node, term, expires: now + ttlMs, mine: true };
    });
  }

  async resignLeader(role: string, node: string): Promise<void> {
    await this.q('UPDATE lease SET expires = 0 WHERE role = $1 AND holder = $2', [role, node]);
  }

  async publishHealth(role: string, term: number, verdicts: readonly Verdict[]): Promise<void> {
    await this.tx(async (c) => {
      // The lease row locked: a successor's claim waits for this commit, or this sees its term and refuses.
      const held = (await c.query<{ holder: string; term: number }>('SELECT holder, term FROM lease WHERE role = $1 FOR UPDATE', [role])).rows[0];
      if (!held || held.term !== term || held.holder !== this.node) throw new StoreError('STORE_CONFLICT', `store.postgres ${this.shown}: term ${term} of ${role} is not this node's (${held ? `${held.holder} holds term ${held.term}` : 'nobody holds it'})`);
      if (verdicts.length > 0) {
        await c.query(`INSERT INTO member_health (pool, member, term, data) SELECT p, m, $4, d FROM unnest($1::text[], $2::text[], $3::text[]) AS v(p, m, d)
          ON CONFLICT (pool, member) DO UPDATE SET term = excluded.term, data = excluded.data`,
        [verdicts.map((v) => v.pool), verdicts.map((v) => v.member), verdicts.map((v) => JSON.stringify(v)), term]);
      }
      await this.append(c, 'health', { term, verdicts });
    });
  }

  async loadHealth(): Promise<Verdict[]> {
    return (await this.q('SELECT data FROM member_health ORDER BY pool, member')).map((r) => JSON.parse(r.data as string) as Verdict);
  }

  /** Blobs for the synchronous readers, fetched in batches and kept (see FetchedBlobs). */
  readonly blobs = new FetchedBlobs(async (hashes) => {
    const rows = await this.q('SELECT hash, data FROM blob WHERE hash = ANY($1::text[])', [hashes]);
    return new Map(rows.map((r) => [r.hash as string, r.data as string]));
  }, (hash) => this.missing(hash));

  async owner(): Promise<StoreOwner | null> {
    const rows = await this.q("SELECT key, value FROM meta WHERE key IN ('owner', 'owner_since')");
    const file = rows.find((r) => r.key === 'owner')?.value as string | undefined;
    if (file === undefined) return null;
    return { file, since: Number(rows.find((r) => r.key === 'owner_since')?.value ?? 0) };
  }

  async setOwner(file: string, at: number): Promise<void> {
    await this.q("INSERT INTO meta (key, value) VALUES ('owner', $1), ('owner_since', $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [path.resolve(file), String(at)]);
  }

  async loadZoneStates(): Promise<ZoneState[]> {
    const states = await this.q('SELECT zone, serial FROM zone_state ORDER BY zone');
    return zoneStatesOf(states as Array<{ zone: string; serial: number }>, await this.q('SELECT zone, owner, type, ttl, rdata FROM zone_rrset ORDER BY zone, owner, type'));
  }

  async zoneState(zone: string): Promise<ZoneState | null> {
    const states = await this.q('SELECT zone, serial FROM zone_state WHERE zone = $1', [zone]);
    if (states.length === 0) return null;
    return zoneStatesOf(states as Array<{ zone: string; serial: number }>, await this.q('SELECT zone, owner, type, ttl, rdata FROM zone_rrset WHERE zone = $1 ORDER BY owner, type', [zone]))[0]!;
  }

  async commitZoneChange(c: ZoneChange): Promise<void> {
    await this.tx(async (t) => {
      // The row exists and is locked before it is read: two nodes changing one zone commit one after the other.
      await t.query('INSERT INTO zone_state (zone, serial) VALUES ($1, -1) ON CONFLICT (zone) DO NOTHING', [c.zone]);
      const held = Number((await t.query<{ serial: string }>('SELECT serial FROM zone_state WHERE zone = $1 FOR UPDATE', [c.zone])).rows[0]!.serial);
      const now = held < 0 ? null : held;
      if (now !== c.base) throw zoneConflict(`store.postgres ${this.shown}`, c, now);
      await t.query('UPDATE zone_state SET serial = $2 WHERE zone = $1', [c.zone, c.serial]);
      for (const r of c.rrsets) {
        await t.query('INSERT INTO zone_rrset (zone, owner, type, ttl, rdata) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (zone, owner, type) DO UPDATE SET ttl = excluded.ttl, rdata = excluded.rdata', [c.zone, r.owner, r.type, r.ttl, JSON.stringify(r.rdata)]);
      }
      await t.query('INSERT INTO zone_journal (zone, from_serial, serial, at, actor, reset, data) VALUES ($1, $2, $3, $4, $5, $6, $7)', [c.zone, c.from, c.serial, c.at, c.actor, c.reset ? 1 : 0, JSON.stringify({ removed: c.removed, added: c.added })]);
      await t.query('DELETE FROM zone_journal WHERE zone = $1 AND seq <= (SELECT seq FROM zone_journal WHERE zone = $1 ORDER BY seq DESC LIMIT 1 OFFSET $2)', [c.zone, c.keep]);
      await this.append(t, 'zone', { zone: c.zone, serial: c.serial });
    });
  }

  async zoneJournal(zone: string): Promise<JournalEntry[]> {
    return (await this.q('SELECT zone, from_serial, serial, at, actor, reset, data FROM zone_journal WHERE zone = $1 ORDER BY seq', [zone])).map(journalRow);
  }

  async loadLeases(): Promise<AddressLease[]> {
    return (await this.q(`SELECT ${LEASE_COLUMNS} FROM address_lease ORDER BY address`, [])).map(leaseRow);
  }

  async acquireLease(r: LeaseRequest): Promise<{ lease: AddressLease; created: boolean } | null> {
    const held = async (): Promise<AddressLease | null> => {
      const rows = await this.q(`SELECT ${LEASE_COLUMNS} FROM address_lease WHERE name = $1 AND server = $2 AND state = 'leased'`, [r.name, r.server]);
      return rows.length > 0 ? leaseRow(rows[0]!) : null;
    };
    const before = await held();
    if (before) return { lease: before, created: false };
    try {
      return await this.tx(async (t) => {
        const id = Number((await t.query<{ id: string }>("SELECT nextval('lease_id_seq') AS id")).rows[0]!.id);
        for (const address of r.candidates) {
          // A row being leased by another node is locked by its upsert: this one waits, then finds it leased.
          const took = await t.query(`INSERT INTO address_lease (${LEASE_COLUMNS}) VALUES ($1, $2, 'leased', $3, $4, $5, $6, $7, $8, $9, 0, 0, 0, 0)
            ON CONFLICT (address) DO UPDATE SET pool = excluded.pool, state = 'leased', lease_id = excluded.lease_id, name = excluded.name, server = excluded.server,
              private = excluded.private, node = excluded.node, leased_at = excluded.leased_at, expires_at = excluded.expires_at, cool_until = 0, requests = 0, bytes = 0, open = 0
            WHERE address_lease.state = 'cooling' AND address_lease.cool_until <= $10
            RETURNING ${LEASE_COLUMNS}`, [address, r.pool, id, r.name, r.server, r.private, this.node, r.now, r.now + r.ttlMs, r.now]);
          if (took.rows.length === 0) continue;
          await t.query('INSERT INTO lease_history (lease_id, pool, address, name, server, from_at, to_at) VALUES ($1, $2, $3, $4, $5, $6, NULL)', [id, r.pool, address, r.name, r.server, r.now]);
          await this.append(t, 'lease', { address, leaseId: id, state: 'leased' });
          return { lease: leaseRow(took.rows[0] as Record<string, unknown>), created: true };
        }
        return null;
      });
    } catch (e) {
      // Another node leased this (name, server) meanwhile: the unique index refused the second; that one stands.
      if ((e as { code?: string }).code === '23505' || (e as { cause?: { code?: string } }).cause?.code === '23505') {
        const now = await held();
        if (now) return { lease: now, created: false };
      }
      throw e;
    }
  }

  async updateLeases(updates: readonly LeaseUpdate[]): Promise<number[]> {
    if (updates.length === 0) return [];
    return this.tx(async (t) => {
      const lost: number[] = [];
      for (const u of updates) {
        const r = await t.query("UPDATE address_lease SET expires_at = $1, requests = $2, bytes = $3, open = $4 WHERE address = $5 AND lease_id = $6 AND state = 'leased'", [u.expiresAt, u.requests, u.bytes, u.open, u.address, u.leaseId]);
        if ((r.rowCount ?? 0) === 0) lost.push(u.leaseId);
      }
      if (updates.length > lost.length) await this.append(t, 'lease', { updated: updates.length - lost.length });
      return lost;
    });
  }

  async releaseLease(r: LeaseRelease): Promise<boolean> {
    return this.tx(async (t) => {
      const done = ((await t.query("UPDATE address_lease SET state = 'cooling', cool_until = $1, open = 0 WHERE address = $2 AND lease_id = $3 AND state = 'leased' AND ($4::bigint IS NULL OR expires_at <= $4::bigint)", [r.coolUntil, r.address, r.leaseId, r.ifExpiredBy])).rowCount ?? 0) > 0;
      if (!done) return false;
      await t.query('UPDATE lease_history SET to_at = $1 WHERE lease_id = $2', [r.at, r.leaseId]);
      await this.append(t, 'lease', { address: r.address, leaseId: r.leaseId, state: 'cooling' });
      return true;
    });
  }

  async leaseHistory(): Promise<LeaseSpan[]> {
    return (await this.q('SELECT lease_id, pool, address, name, server, from_at, to_at FROM lease_history ORDER BY lease_id', [])).map(spanRow);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private missing(hash: string): StoreError {
    return new StoreError('STORE_CORRUPT', `store.postgres ${this.shown}: configuration part ${hash} is missing; restore the database from a backup`);
  }

  /** A revision with its configuration: every blob its root needs, fetched level by level, then decoded. */
  private async revisionRow(row: Row | undefined): Promise<RevisionRecord | null> {
    const meta = metaRow(row);
    if (!meta) return null;
    const root = row!.root as string;
    const have = await blobsOf(root, async (hashes) => {
      const rows = await this.q('SELECT hash, data FROM blob WHERE hash = ANY($1::text[])', [hashes]);
      return new Map(rows.map((r) => [r.hash as string, r.data as string]));
    });
    return { ...meta, config: decodeRoot(root, (hash) => { const json = have.get(hash); if (json === undefined) throw this.missing(hash); return json; }) };
  }
}

/**
 * A revision's configuration file as the cluster knows it: "node:/path" (each node has a file of its own, see
 * supervisor/serve.ts), or a path, made absolute.
 */
function fileKey(file: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9._-]*:\//.test(file) ? file : path.resolve(file);
}

/** Whether an error means the database went away (refused, reset, shut down, timed out), not a bad statement. */
export function isConnectionLoss(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code)) return true;
    // SQLSTATE class 08 (connection exception), 57P01-57P03 (admin shutdown, crash shutdown, cannot connect now)
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return true;
  }
  const msg = e instanceof Error ? e.message : '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(msg);
}

function metaRow(row: Row | undefined): RevisionMeta | null {
  if (!row) return null;
  return { id: row.id as number, at: row.at as number, author: row.author as string, source: row.source as RevisionRecord['source'], comment: row.comment as string, hash: row.hash as string, file: (row.file as string | null) ?? null };
}

function tokenRow(row: Row | undefined): TokenRecord | null {
  if (!row) return null;
  return { id: row.id as number, name: row.name as string, role: row.role as TokenRecord['role'], hash: row.hash as string, createdAt: row.created_at as number, createdBy: row.created_by as string, revokedAt: (row.revoked_at as number | null) ?? null };
}
