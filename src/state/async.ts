// The store as several nodes can share it (issue 11, SPEC C2): every operation asynchronous, so one backend can be
// a database server (PostgreSQL: state/postgres.ts) and the other the embedded file (SQLite: state/store.ts, whose
// synchronous calls are wrapped here). Owns: the StateStore interface and the SQLite adapter. The same contract
// tests run against both backends (test/state/store-contract.test.ts).
import type { Store } from './store.js';
import type { SqliteStore } from './store.js';

/** Every method of T, returning a promise of what it returned. */
type Async<T> = { [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<R> : never };

/**
 * What every state backend provides, asynchronously. Store's `dataVersion` (SQLite's way of noticing another
 * process's commit) is not part of it.
 */
export type StateOperations = Async<Omit<Store, 'dataVersion'>>;
export interface StateStore extends StateOperations {
  readonly backend: 'sqlite' | 'postgres';
}

/** Every operation by name: the adapter wraps each, and the type check below fails if one is missing. */
const OPERATIONS = [
  'loadPersistence', 'savePersistence', 'purgeExpired', 'loadAdmin', 'setAdmin',
  'currentRevision', 'currentRevisionMeta', 'lastRevisionFromFile', 'revision', 'revisionMeta', 'revisionRoot', 'blob',
  'listRevisions', 'countRevisions', 'addRevision',
  'addToken', 'tokenByHash', 'listTokens', 'revokeToken',
  'addAudit', 'listAudit', 'countAudit', 'changesSince', 'feedHead', 'pruneChanges', 'owner', 'setOwner', 'close',
] as const satisfies ReadonlyArray<keyof StateOperations>;
type Unlisted = Exclude<keyof StateOperations, (typeof OPERATIONS)[number]>;
const everyOperationListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyOperationListed;

/** The SQLite store behind the asynchronous interface: each call runs at once and settles its promise. */
export function sqliteStateStore(store: SqliteStore): StateStore {
  const out: Record<string, unknown> = { backend: 'sqlite' };
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
