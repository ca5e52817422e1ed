// The messages between a supervisor and its workers (node:cluster IPC, JSON): configuration loads, health, admin
// states and persistence records down; readiness, persistence changes, counters and explanations up.
// Owns: the vocabulary and its timing constants. Nothing here sends or handles a message.
import type { Explanation, ExplainRequest } from '../answer/explain.js';
import type { PersistRecord } from '../answer/persistence.js';
import type { MemberHealth } from '../health/verdict.js';
import type { CounterDelta } from '../metrics/counters.js';
import type { EcsSighting } from '../answer/ecs-groups.js';
import type { AdminRecord } from '../state/store.js';
import type { ImageRef } from './images.js';
import type { RawEdit } from '../config/edit.js';

export interface WorkerMessage {
  type: 'hello' | 'ready' | 'loaded' | 'load-failed' | 'persist' | 'metrics' | 'explained' | 'zone-request';
  generation: number; errors?: string; records?: PersistRecord[]; delta?: CounterDelta; udp?: string;
  /** metrics: (resolver, ECS client subnet, queries) seen since the last shipment (resolverGrouping.ecs). */
  ecs?: EcsSighting[];
  /** explained: the request it answers, and the explanation or why there is none. */
  id?: number; explanation?: Explanation; error?: string;
  /** loaded: only zone images changed (a ZonesMessage), the policy and its live state are as they were. */
  zonesOnly?: boolean;
  /** loaded: an edit of names and pools (a PolicyMessage) was applied. */
  edited?: boolean;
  /** load-failed: a ZonesMessage did not fit the snapshot it has; it needs the whole load. */
  resend?: boolean;
  /** zone-request: a dynamic update or zone transfer for the supervisor to answer (id: to answer it by). */
  request?: ZoneRequest;
}
/**
 * A message a worker received that the supervisor answers (an UPDATE to decide and commit, an AXFR or IXFR from the
 * zones and journal): the message without its TSIG (base64), the key it was verified with (canonical name; null:
 * unsigned), the client's address and whether it came over TCP.
 */
export interface ZoneRequest { kind: 'update' | 'transfer' | 'lease'; message: string; key: string | null; client: string; tcp: boolean }
/** The supervisor's answer to a ZoneRequest: the response messages (base64, unsigned: the worker signs them). */
export interface ZoneAnswer { type: 'zone-answer'; id: number; responses: string[] }
/**
 * What a worker is given to build its snapshot from: the effective configuration as JSON text, without its zones'
 * data, and where each zone's compiled image is (by zone index, in `imageDir`).
 */
export interface LoadMessage { type: 'load'; generation: number; config: string; baseDir: string; file: string | null; imageDir: string; images: Array<ImageRef | null> }
/**
 * A load whose configuration (without zones' data) is the one the worker has: only zone images changed (a record
 * changed: a new overlay). The worker swaps those zones in, keeping its policy and live state.
 */
export interface ZonesMessage { type: 'zones'; generation: number; images: Array<ImageRef | null> }
/**
 * An edit of names and pools (config/edit.ts) to apply to the snapshot of generation `base`: a worker with another
 * generation asks for the whole load instead (load-failed, resend). `images`: the zones' images, when the edit laid
 * overlays (policy names added or removed).
 */
export interface PolicyMessage { type: 'policy'; generation: number; base: number; edit: RawEdit; images?: Array<ImageRef | null> }
import type { RequestTotal } from './requests.js';

export type PrimaryMessage =
  | LoadMessage
  | ZonesMessage
  | PolicyMessage
  | { type: 'persist'; records: PersistRecord[] }
  | { type: 'health'; updates: MemberHealth[] }
  | { type: 'admin'; states: AdminRecord[] }
  /** Recent answers per member over all workers (supervisor/requests.ts): adopted for least-requests. */
  | { type: 'requests'; totals: RequestTotal[] }
  /** Resolvers grouped from ECS (answer/ecs-groups.ts): [resolver address, group name], the whole mapping. */
  | { type: 'ecs-groups'; groups: Array<[resolver: string, group: string]> }
  | { type: 'explain'; id: number; request: ExplainRequest }
  | ZoneAnswer;

/** How often a worker hands its changed persistence records to the supervisor (and so to the other workers). */
export const PERSIST_SYNC_MS = 100;
/** How long a worker waits for the supervisor to answer a ZoneRequest before it answers SERVFAIL itself. */
export const ZONE_REQUEST_WAIT_MS = 20_000;
/** A query for a leased name waits less: a resolver asks again within a few seconds. */
export const LEASE_REQUEST_WAIT_MS = 2_000;

/** How often a worker ships its query-path counters to the supervisor (summed there for GET /metrics). */
export const METRICS_SHIP_MS = 1000;
