// What the supervisor offers the control plane (api/): an interface, so the API depends on it and not on the
// supervisor's implementation (serve.ts). Owns: that contract. Types only.
import type { NodeRecord } from '../state/store.js';
import type { StateStore } from '../state/async.js';
import type { Revisions, Valid } from '../config/revisions.js';
import type { HealthService } from '../health/service.js';
import type { Responder } from '../dns/responder.js';
import type { Declarative, RawConfig } from '../config/declarative.js';
import type { LoadedConfig } from '../config/load.js';
import type { ConfigError } from '../config/schema.js';
import type { PersistRecord } from '../answer/persistence.js';
import type { Explanation, ExplainRequest } from '../answer/explain.js';
import type { MetricsAggregator } from '../metrics/registry.js';
import type { Dispatcher } from '../forward/dispatcher.js';
import type { LeaseBook } from '../leases/book.js';

/**
 * What the supervisor offers the control plane (the REST API): the state, the configuration in force, and a mirror
 * Responder — no sockets, same snapshot and same updates as the workers — for explain and persistence views.
 */
export interface SupervisorHandle {
  readonly store: StateStore | null;
  readonly revisions: Revisions | null;
  readonly health: HealthService;
  readonly mirror: Responder;
  /** The L4 dispatcher of this node (idle without a `dispatcher:` section). */
  readonly dispatcher: Dispatcher;
  /** The address-pool lease book (null without a store). */
  leases(): LeaseBook | null;
  /** The configuration in force, as raw sections (bootstrap + declarative). */
  raw(): RawConfig;
  declarative(): Declarative;
  loaded(): LoadedConfig;
  /** A revision was committed (by the API): make it the one in force everywhere. */
  revisionCommitted(committed?: { revision: number; valid?: Valid }): Promise<{ ok: true } | { ok: false; errors: ConfigError[] }>;
  /** Admin states were changed in the store (by the API): read them and apply them now. */
  adminChanged(): Promise<void>;
  /** This node and the others sharing the store, as they last reported (one, without a cluster). */
  nodes(): Promise<NodeView[]>;
  /** The store's state as this node sees it (degraded: the database cannot be reached). */
  storeStatus(): StoreStatus;
  /** Persistence records changed by the control plane (e.g. deleted): tell every worker and the store. */
  persistenceChanged(records: PersistRecord[]): void;
  workerCount(): number;
  generation(): number;
  /** Explain as a worker's next query would be answered (its live state; the worker changes in nothing). */
  explain(req: ExplainRequest): Promise<Explanation>;
  /** Prometheus text of all workers' counters plus the supervisor's gauges (GET /metrics). */
  metrics(): Promise<string>;
  /** Queries/s per name and answers/s per member over the last hour (the dashboard's charts). */
  series(): ReturnType<MetricsAggregator['series']>;
}

/** A node as GET /v1/nodes shows it: its last report, how far behind the feed it is, and whether it is gone. */
export interface NodeView extends NodeRecord {
  /** Changes in the feed it has not applied yet (by its last report). */
  lag: number;
  /** Seconds since its last heartbeat. */
  age: number;
  state: 'up' | 'gone';
  self: boolean;
}

export interface StoreStatus {
  backend: 'sqlite' | 'postgres' | 'none';
  /** The database as the store last found it: reachable, or not since `since`. */
  state: 'ok' | 'degraded';
  since: number | null;
  error: string | null;
  /** Persistence records waiting to be written. */
  queued: number;
  /** The feed position this node has applied, and the newest it knows. */
  position: number;
  head: number;
}
