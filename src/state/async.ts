// The store as several nodes can share it (issue 11, SPEC C2): every operation asynchronous, so one backend can be
// a database server (PostgreSQL: state/postgres.ts) and the other the embedded file (SQLite: state/store.ts, whose
// synchronous calls are wrapped here). Owns: the StateStore interface and the SQLite adapter. The same contract
// tests run against both backends (test/state/store-contract.test.ts).
import type { Store } from './store.js';
import type { SqliteStore } from './store.js';
import { refsOf, type LoadBlob } from './content.js';

/** Every method of T, returning a promise of what it returned. */
type Async<T> = { [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<R> : never };

/**
 * What every state backend provides, asynchronously. Store's `dataVersion` (SQLite's way of noticing another
 * process's commit) is not part of it.
 */
export type StateOperations = Async<Omit<Store, 'dataVersion'>>;
export interface StateStore extends StateOperations {
  readonly backend: 'sqlite' | 'postgres';
  /** Configuration content read synchronously (the API's paged readers, diffs) once fetched. */
  readonly blobs: BlobSource;
}

/**
 * Content blobs for the synchronous readers of state/content.ts and config/diff.ts: prefetch what a value references
 * (asynchronous, for a database server), then load() hands out what was fetched. SQLite reads at once instead.
 */
export interface BlobSource {
  /** The JSON of a blob; throws when it was not fetched (or, SQLite, is not in the store). */
  load: LoadBlob;
  /** Fetch every blob `encoded` (an encoded value or a root's JSON text) references, transitively. */
  prefetch(encoded: unknown): Promise<void>;
}

/**
 * Blobs fetched from a database server, kept up to `maxBytes` of JSON (oldest dropped first; a hash's content never
 * changes, so what is kept is never stale). A prefetch walks the whole tree again, so a blob dropped is fetched back.
 */
export class FetchedBlobs implements BlobSource {
  private readonly map = new Map<string, string>();
  private bytes = 0;
  constructor(private readonly fetch: (hashes: string[]) => Promise<Map<string, string>>, private readonly missing: (hash: string) => Error, private readonly maxBytes = 256 * 1024 * 1024) {}

  readonly load: LoadBlob = (hash) => {
    const json = this.map.get(hash);
    if (json === undefined) throw this.missing(hash);
    return json;
  };

  async prefetch(encoded: unknown): Promise<void> {
    let want = refsOf(typeof encoded === 'string' ? JSON.parse(encoded) : encoded);
    const seen = new Set<string>();
    while (want.length > 0) {
      const next: string[] = [];
      const fetchNow: string[] = [];
      for (const h of want) {
        if (seen.has(h)) continue;
        seen.add(h);
        const have = this.map.get(h);
        if (have !== undefined) refsOf(JSON.parse(have), next);
        else fetchNow.push(h);
      }
      if (fetchNow.length > 0) {
        for (const [hash, json] of await this.fetch(fetchNow)) {
          this.keep(hash, json);
          refsOf(JSON.parse(json), next);
        }
      }
      want = next;
    }
  }

  private keep(hash: string, json: string): void {
    if (this.map.has(hash)) return;
    this.map.set(hash, json);
    this.bytes += json.length;
    for (const [h, j] of this.map) {
      if (this.bytes <= this.maxBytes || this.map.size <= 1) break;
      this.map.delete(h);
      this.bytes -= j.length;
    }
  }
}

/** Every operation by name: the adapter wraps each, and the type check below fails if one is missing. */
const OPERATIONS = [
  'loadPersistence', 'savePersistence', 'purgeExpired', 'loadAdmin', 'setAdmin',
  'currentRevision', 'currentRevisionMeta', 'lastRevisionFromFile', 'revision', 'revisionMeta', 'revisionRoot', 'blob',
  'listRevisions', 'countRevisions', 'addRevision',
  'addToken', 'tokenByHash', 'listTokens', 'revokeToken',
  'addAudit', 'listAudit', 'countAudit', 'changesSince', 'feedHead', 'pruneChanges', 'heartbeat', 'listNodes', 'claimLeader', 'resignLeader', 'publishHealth', 'loadHealth', 'owner', 'setOwner',
  'loadZoneStates', 'zoneState', 'commitZoneChange', 'zoneJournal',
  'loadLeases', 'acquireLease', 'updateLeases', 'releaseLease', 'leaseHistory', 'close',
] as const satisfies ReadonlyArray<keyof StateOperations>;
type Unlisted = Exclude<keyof StateOperations, (typeof OPERATIONS)[number]>;
const everyOperationListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyOperationListed;

/** The SQLite store behind the asynchronous interface: each call runs at once and settles its promise. */
export function sqliteStateStore(store: SqliteStore): StateStore {
  const blobs: BlobSource = { load: (hash) => store.blob(hash), prefetch: () => Promise.resolve() };
  const out: Record<string, unknown> = { backend: 'sqlite', blobs };
  for (const op of OPERATIONS) {
    const fn = store[op] as (...args: unknown[]) => unknown;
    out[op] = (...args: unknown[]): Promise<unknown> => {
      try {
        return Promise.resolve(fn.apply(store, args));
      } catch (e) {
        return Promise.reject(e);
      }
    };
  }
  return out as unknown as StateStore;
}
