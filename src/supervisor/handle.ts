// What the supervisor offers the control plane (api/): an interface, so the API depends on it and not on the
// supervisor's implementation (serve.ts). Owns: that contract. Types only.
import type { Store } from '../state/store.js';
import type { Revisions, Valid } from '../config/revisions.js';
import type { HealthService } from '../health/service.js';
import type { Responder } from '../dns/responder.js';
import type { Declarative, RawConfig } from '../config/declarative.js';
import type { LoadedConfig } from '../config/load.js';
import type { ConfigError } from '../config/schema.js';
import type { PersistRecord } from '../answer/persistence.js';
import type { Explanation, ExplainRequest } from '../answer/explain.js';
import type { MetricsAggregator } from '../metrics/registry.js';

/**
 * What the supervisor offers the control plane (the REST API): the state, the configuration in force, and a mirror
 * Responder — no sockets, same snapshot and same updates as the workers — for explain and persistence views.
 */
export interface SupervisorHandle {
  readonly store: Store | null;
  readonly revisions: Revisions | null;
  readonly health: HealthService;
  readonly mirror: Responder;
  /** The configuration in force, as raw sections (bootstrap + declarative). */
  raw(): RawConfig;
  declarative(): Declarative;
  loaded(): LoadedConfig;
  /** A revision was committed (by the API): make it the one in force everywhere. */
  revisionCommitted(committed?: { revision: number; valid?: Valid }): { ok: true } | { ok: false; errors: ConfigError[] };
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
