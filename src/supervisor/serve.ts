// `waymark serve`: a supervisor process and N workers (worker.ts, forked by workers.ts) sharing the listening
// sockets (node:cluster). Owns: the supervisor: config loading at start and on reload (SIGHUP, control socket),
// revisions coming into force, explain requests handed to a worker, replacing dead workers, shutdown. The supervisor
// validates a config before any worker sees it (workers forked early wait for it), so a bad reload never reaches
// the query path. It keeps settings, policy and health, never zones or answer RRsets.
import cluster, { type Worker } from 'node:cluster';
import fs from 'node:fs';
import os from 'node:os';
import { pino } from 'pino';
import path from 'node:path';
import { readSource, readSourceAsWritten, storeDir, storeSettings, nodeName, openStateStore, pidFileOf, type ConfigSource, type SourceConfig } from '../config/source.js';
import { Snapshot } from '../answer/snapshot.js';
import { listenControl, controlPaths, type ControlReply, type ControlRequest } from './control.js';
import { ExplainError, type Explanation, type ExplainRequest } from '../answer/explain.js';
import { runWorker } from './worker.js';
import { WorkerForks } from './workers.js';
import { WorkerGenerations } from './acks.js';
import { releaseAfterLoad } from './memory.js';
import { imageDir, ImageCache, publishImages, publishOverlays, publishLayers, pruneImages, withoutZoneData, type ImageRef } from './images.js';
import { METRICS_SHIP_MS, type WorkerMessage, type LoadMessage, type PrimaryMessage } from './ipc.js';
import { formatErrors, serverSchema, type ConfigError } from '../config/schema.js';
import { splitConfig, mergeConfig, declarativeHash, hasDynamicPools, type Declarative, type RawConfig } from '../config/declarative.js';
import { Revisions, type Valid, type Validated } from '../config/revisions.js';
import { compileRaw, zoneEntries, type InForce, type LoadedConfig, type Result, type SnapshotOptions } from '../config/load.js';
import { ZoneCache } from '../config/zone-cache.js';
import { withoutAnswers } from '../answer/compile.js';
import { Responder } from '../dns/responder.js';
import { FEED_RETENTION_MS, PersistenceWriter, StoreError, type AdminRecord, type Change, type NodeRecord, type Verdict } from '../state/store.js';
import type { MemberHealth } from '../health/verdict.js';
import type { StateStore } from '../state/async.js';
import { redactUrl } from '../state/postgres.js';
import { FeedFollower } from './follower.js';
import { Serial } from './serial.js';
import { HealthService } from '../health/service.js';
import type { PersistRecord } from '../answer/persistence.js';
import { MetricsAggregator } from '../metrics/registry.js';
import type { SupervisorHandle } from './handle.js';
import { HEARTBEAT_MS, nodeViews } from './nodes.js';
import { RequestTotals, type RequestTotal } from './requests.js';
import { EcsGrouper, type EcsGroupingOptions, type EcsLink } from '../answer/ecs-groups.js';
import { observedGroupsOf } from '../answer/resolver-groups.js';
import { ZoneUpdates, type DynamicPool, type Member, type ServedZone, type ZoneUpdateHost } from './zone-updates.js';
import { ZoneTransfers, type ZoneTransferHost } from './zone-transfers.js';
import { Notifier, parseTarget, type NotifyOutcome } from '../dns/notify.js';
import { soaOf } from '../dns/transfer.js';
import { keyringOf } from './worker.js';
import { encodeName, foldWire } from '../wire/name.js';
import { addressRecords, layerPolicySlot } from '../dns/dynamic.js';
import type { ZoneRecord } from '../wire/rdata.js';
import type { Zone, ZoneLayers } from '../dns/zone.js';
import { canonicalName } from '../wire/name.js';
import { hostPort } from '../net/address.js';
import { Dispatcher } from '../forward/dispatcher.js';
import { DispatcherMetrics } from '../forward/metrics.js';
import { LeaseBook } from '../leases/book.js';
import { leaseResponse } from '../leases/answer.js';


export type { SupervisorHandle } from './handle.js';

const log = pino({ base: { pid: process.pid, role: cluster.isPrimary ? 'supervisor' : 'worker' } });

export interface ServeFlags { workers?: number; pidFile?: string; adoptStore?: boolean }

/** What a reload did: the configuration now in force, or why the previous one still is. */
export type ReloadOutcome =
  /** `zones`: how many zones were taken as compiled before (unchanged) and how many were compiled for this reload. */
  | { ok: true; generation: number; revision: number | null; changed: boolean; zones: { reused: number; compiled: number }; warnings?: string[] }
  | { ok: false; errors: ConfigError[] };

/** How often leases are expired and their counts written (batched). */
const LEASE_TICK_MS = 1000;
/** How long the file's first revision waits for a worker to serve before it is written anyway. */
const FIRST_READY_WAIT_MS = 30_000;
/**
 * How long a change waits for every worker to report it before it is answered anyway. A zones-only swap or an edit
 * takes a worker well under a millisecond; a whole load of 100,000 names takes it seconds.
 */
const WORKER_ACK_MS = 10_000;

/** Hooks other control-plane modules register on the supervisor (the API starts here). */
export const supervisorHooks: Array<(sup: SupervisorHandle) => Promise<void> | void> = [];

/** Entry for the `serve` command in the supervisor. Returns the process exit code when it stops. */
export async function serve(source: ConfigSource, flags: ServeFlags): Promise<number> {
  if (!cluster.isPrimary) return runWorker(log);
  // Workers are forked as soon as the file is parsed: they boot while it is validated here, and are given it after.
  const forks = new WorkerForks();
  const early = (raw: RawConfig): void => {
    const n = flags.workers ?? workersOf(raw);
    if (n !== null) forks.ensure(n);
  };
  /** Give up before serving: the workers forked early go too. */
  const abandon = (): number => {
    forks.killAll();
    return 1;
  };
  let src: ReturnType<typeof readSourceAsWritten> | null = readSourceAsWritten(source, { ...SUPERVISOR, parsed: early });
  if (!src.ok) {
    process.stderr.write(`waymark: configuration has errors:\n${formatErrors(src.errors)}\n`);
    return abandon();
  }
  // Compiled once here and reused below: with a million records, every compile costs seconds and memory. Once the
  // first snapshot is made, these are let go (set to null): the supervisor keeps settings and policy, not zones.
  let checked: Valid | null = src.value.valid;
  let source0 = kept(src.value);
  // The file's declarative sections as written, until it is settled which configuration is in force (the file's or a
  // revision's); and inlined (its zone files as text, as a revision holds them), made when first needed.
  let fileDeclarative: Declarative | null = src.value.declarative;
  let inlineFile: (() => Result<Declarative>) | null = src.value.inline;
  src = null;
  const inlined = (): Declarative | null => {
    const r = inlineFile!();
    if (r.ok) return r.value;
    process.stderr.write(`waymark: configuration has errors:\n${formatErrors(r.errors)}\n`);
    return null;
  };
  const server = checked.loaded.config.server;
  const workers = flags.workers ?? server.workers;
  const pidFile = flags.pidFile ? path.resolve(flags.pidFile) : pidFileOf(checked.loaded);
  const configFile = source0.file ? path.resolve(source0.file) : null;
  // The supervisor is the single writer of the store; workers send it their changes in batches.
  const dir = storeDir(checked.loaded);
  const settings = storeSettings(checked.loaded);
  const node = nodeName(checked.loaded);
  /** Cluster mode: the store is shared with other nodes. */
  const shared = settings?.kind === 'postgres';
  // Each node of a cluster has a configuration file of its own: a revision made from one is known by node and path,
  // so a node's unchanged file never undoes what another node's file (or the API) put in force.
  const fileKey = configFile && shared ? `${node}:${configFile}` : configFile;
  let store: StateStore | null = null;
  let writer: PersistenceWriter | null = null;
  let revisions: Revisions | null = null;
  let declarative = fileDeclarative;
  let startRevision: number | null = null;
  /** Makes the file's configuration a revision (deferred until the workers have it), or null. */
  let applyFile: (() => ReturnType<Revisions['fromFile']>) | null = null;
  /** Resolves the wait for the first worker to serve (set while the file's revision waits for it). */
  let firstReady: (() => void) | null = null;
  /** The feed position the state read at the start is at least as new as (changes after it are followed). */
  let startPosition = 0;
  let admin0: AdminRecord[] = [];
  if (settings) {
    try {
      const opened = await openStateStore(settings, configFile, { claim: true, adopt: flags.adoptStore, node });
      // API changes are commits someone waits for: none of them pays for a WAL checkpoint.
      opened.sqlite?.checkpointInBackground();
      store = opened.state;
      // Read before the state: a change committed meanwhile is applied again from the feed (applying is idempotent).
      startPosition = await store.feedHead();
      admin0 = await store.loadAdmin();
    } catch (e) {
      process.stderr.write(`waymark: ${(e as Error).message}\n`);
      return abandon();
    }
    writer = new PersistenceWriter(store, { onError: (err) => log.error({ err: err.message }, 'persistence write failed; will retry') });
    const purge = setInterval(() => {
      store?.purgeExpired(Date.now()).then(() => store?.pruneChanges(Date.now() - FEED_RETENTION_MS))
        .catch((e: Error) => log.error({ err: e.message }, 'purge failed'));
    }, 60_000);
    purge.unref();
    revisions = new Revisions(store, source0.bootstrap, source0.baseDir);
    revisions.perNodeFiles = shared;
    try {
      const fresh = (await revisions.currentMeta()) === null;
      // A store without revisions takes the file as it is: nothing to compare, so nothing inlined yet.
      const asRevision = configFile && !fresh ? inlined() : null;
      if (configFile && !fresh && asRevision === null) return abandon();
      if (fileKey && (fresh || await revisions.fileWins(asRevision!, fileKey))) {
        // The file is in force and becomes a new revision: written once the workers have it (inlining and storing a
        // million-record zone's text takes most of a second, which the first answer need not wait for).
        const r0 = revisions;
        const valid = checked;
        const key = fileKey;
        applyFile = () => {
          const d = inlined();
          return d === null ? Promise.resolve({ ok: false, status: 400, errors: [] }) : r0.fromFile(d, key, `file ${configFile}`, valid);
        };
      } else if (fileKey) {
        const r = await revisions.fromFile(asRevision!, fileKey, `file ${configFile}`, checked);
        if (!r.ok) {
          process.stderr.write(`waymark: configuration has errors:\n${formatErrors(r.errors)}\n`);
          return abandon();
        }
        if (r.changed) log.info({ revision: r.revision.id, file: configFile }, 'configuration file applied as a new revision');
        else if (shared && r.revision.hash !== declarativeHash(asRevision!)) log.warn({ revision: r.revision.id, file: configFile }, `the cluster's revision ${r.revision.id} is in force; this node's file says otherwise (edit it and reload, or waymark apply it, to make it the cluster's)`);
        else log.info({ revision: r.revision.id, file: configFile }, 'configuration file unchanged since it was last applied: the current revision stays in force');
        startRevision = r.revision.id;
        // A revision made from this file is in force (just now, or before and the file has not changed since: else the
        // file would have won): it says what the file says, so the file's compiled form serves, not a second
        // compilation of the same configuration read back from the store (a second or more at 100,000 names).
        // (Not when the file has dynamic pools: the revision holds their registered members too.)
        declarative = r.revision.source === 'file' && r.revision.file === fileKey && !hasDynamicPools(fileDeclarative!) ? fileDeclarative : r.revision.config;
      }
    } catch (e) {
      process.stderr.write(`waymark: ${(e as Error).message}\n`);
      return abandon();
    }
  }
  // Workers get it without zones' data: the file's as written does (its zone files are not inlined yet).
  const raw0 = mergeConfig(source0.bootstrap, declarative);
  const fileInForce = declarative === fileDeclarative;
  // Zones compiled once are reused while their configuration stays the same (API changes, reloads, revisions that
  // inline a file's zone as text).
  const zoneCache = new ZoneCache();
  if (revisions) revisions.cache = zoneCache;
  let current: Validated | null = fileInForce ? checked : compileRaw(raw0, source0.baseDir, source0.file, { ...SUPERVISOR, cache: zoneCache });
  // The configuration in force is kept as JSON text: a large one is a fifth of the size of its parsed form (a hundred
  // thousand names: 13 MB, not 64), and parsed again only when asked for. After a change it is the parsed form the
  // current revision shares (serialised when asked for: a million-record zone's text costs 50 ms to). Set once the
  // workers serve (the file's zones inlined then).
  let configJson: string | null = fileInForce ? null : JSON.stringify(raw0);
  let configRaw: RawConfig | null = null;
  const configText = (): string => (configJson ??= JSON.stringify(configRaw));
  /** The zone cache learns the zones of the start, as written and as inlined (deferred with the inlining). */
  let seedCache: (() => boolean) | null = (() => {
    const c = checked;
    return (): boolean => {
      zoneCache.seed(c.loaded.config.zones, source0.baseDir, c.loaded.zones, c.snapshot.zones);
      if (!fileInForce) return true;
      // The file's configuration in force, its zones inlined as text (as revisions and API edits hold them): the
      // same zones under other keys. (A revision from elsewhere holds other zones: compiled from what it says.)
      const d = inlined();
      if (d === null) return false;
      const inlinedRaw = mergeConfig(source0.bootstrap, d);
      const entries = zoneEntries(inlinedRaw);
      if (entries !== null) zoneCache.seed(entries, source0.baseDir, c.loaded.zones, c.snapshot.zones);
      configJson = JSON.stringify(inlinedRaw);
      return true;
    };
  })();
  fileDeclarative = null;
  declarative = {};
  if (!current.ok) {
    const rev = await revisions?.currentMeta().catch(() => null);
    const which = rev ? `revision ${rev.id} in the store ${dir ?? redactUrl(settings?.kind === 'postgres' ? settings.url : '')}` : 'the configuration in force';
    const fix = configFile ? `\nto put the file's configuration in force instead: waymark apply ${configFile} --config ${configFile}` : '';
    process.stderr.write(`waymark: ${which} does not compile:\n${formatErrors(current.errors)}${fix}\n`);
    return abandon();
  }
  if (pidFile) fs.writeFileSync(pidFile, `${process.pid}\n`);
  // Zones are compiled here once; workers map the images (one copy in memory for all of them).
  const images = imageDir(dir);
  // Dynamic update: what UPDATE set is laid over the zones as compiled (the host is complete once the rest exists).
  const zoneHost: ZoneUpdateHost = {
    store, queue: new Serial(), log,
    zone: () => null, layers: () => undefined, poolsOf: () => '', publish: () => Promise.resolve({ ok: true }), changed: () => {},
    dynamicPool: () => null, register: () => Promise.resolve({ ok: true }),
  };
  const zoneUpdates = new ZoneUpdates(zoneHost);
  const transferHost: ZoneTransferHost = { store, log, zone: (o) => zoneHost.zone(o), layers: (i) => zoneHost.layers(i), policyRecords: () => [] };
  const zoneTransfers = new ZoneTransfers(transferHost);
  const firstServed = await loadServed(zoneUpdates, current.snapshot.zones);
  if (!firstServed.ok) {
    process.stderr.write(`waymark: ${formatErrors(firstServed.errors)}\n`);
    return abandon();
  }
  let handOver = handOverOf(images.dir, raw0, current, firstServed.zones);
  pruneImages(images.dir, [handOver.images]);
  /**
   * The images of the last few loads: a worker still busy with an older load may map those files yet (a change a
   * second, or a hundred, each an overlay: small files, kept for KEEP_LOADS loads).
   */
  const recent: Array<ReadonlyArray<ImageRef | null>> = [handOver.images];
  let unpruned = 0;
  const keepImages = (refs: ReadonlyArray<ImageRef | null>): void => {
    recent.push(refs);
    if (recent.length > KEEP_LOADS) recent.shift();
    // Pruning lists the directory: once every few loads is enough (a hundred updates a second make a load each).
    if (++unpruned >= KEEP_LOADS / 2) { unpruned = 0; pruneImages(images.dir, recent); }
  };
  let first: ReturnType<typeof lighten> | null = lighten(current);
  let loaded = first.loaded;
  const firstPolicy = first.policy;
  first = null;
  checked = null;
  current = null;
  let generation = 1;
  const broadcast = (msg: PrimaryMessage): void => {
    for (const w of Object.values(cluster.workers ?? {})) if (w?.isConnected()) w.send(msg);
  };
  const loadMessage = (): LoadMessage => ({ type: 'load', generation, config: handOverJson(handOver), baseDir: source0.baseDir, file: source0.file, imageDir: images.dir, images: handOver.images });
  const mirror = new Responder(firstPolicy, loaded.config.server.udpPayload, loaded.config.persistence.maxRecords);
  // Workers of an SQLite node read the records from the file themselves; a cluster node's get them from here.
  try {
    if (store) mirror.engine?.applyRecords(await store.loadPersistence(Date.now()));
  } catch (e) {
    process.stderr.write(`waymark: ${(e as Error).message}\n`);
    return abandon();
  }
  // Health: probes run here (and in joined probers), never in workers; workers get verdicts as they change.
  // Cluster: the leader's verdicts go to the store in order (one write at a time), carrying its lease's term.
  const publishing = new Serial();
  let term = 0;
  /** The L4 dispatcher (SPEC P1-P6), started once the node is up; it follows reloads and admin states. */
  let dispatcher: Dispatcher | null = null;
  const dispatching = new Serial();
  /** The address-pool leases of this node (SPEC L1-L4): answers for leased names, their forwarder, expiry. */
  let leaseBook: LeaseBook | null = null;
  const leasing = new Serial();
  const answerLease = (message: string): Promise<Buffer[]> => {
    const msg = Buffer.from(message, 'base64');
    const book = leaseBook;
    return leaseResponse(msg, (name) => (book ? leasing.run(() => book.query(name)) : Promise.resolve({ ok: false as const, reason: 'leases are starting' })))
      .then((r) => [r], (e: Error) => {
        log.error({ err: e.message }, 'lease decision failed: SERVFAIL');
        return leaseResponse(msg, () => Promise.resolve({ ok: false as const, reason: `the store: ${e.message}` })).then((r) => [r]);
      });
  };
  /** What the dispatcher said about the configuration put in force last: the ports it could not listen on. */
  let lastDispatch: Promise<string[]> = Promise.resolve([]);
  const health = new HealthService(loaded.config, {
    admin: admin0,
    onHealth: (updates) => { mirror.engine?.applyHealth(updates); broadcast({ type: 'health', updates }); },
    onAdmin: (states) => { mirror.engine?.applyAdmin(states); broadcast({ type: 'admin', states }); dispatcher?.setAdmin(states); },
    publish: shared ? (updates) => { void publishing.run(() => publishVerdicts(updates)); } : undefined,
    log: (level, fields, msg) => log[level](fields, msg),
  });
  const publishVerdicts = async (updates: MemberHealth[]): Promise<void> => {
    if (!store || !health.leading) return;
    try {
      await store.publishHealth(LEADER_ROLE, term, updates as unknown as Verdict[]);
    } catch (e) {
      if (e instanceof StoreError && e.code === 'STORE_CONFLICT') {
        log.warn({ err: e.message }, 'another node leads health now: this one stops probing');
        await health.follow();
      } else log.error({ err: (e as Error).message }, 'health verdicts not published; the next lead publishes them all');
    }
  };
  try {
    // A cluster node starts from the verdicts in force (published by the leader), not from "all up".
    if (shared && store) health.adopt((await store.loadHealth()) as unknown as MemberHealth[]);
    await health.start();
  } catch (e) {
    process.stderr.write(`waymark: health: ${(e as Error).message}\n`);
    return abandon();
  }

  /**
   * The configuration in force, raw and compiled, once it is known raw (after the first change: at the start it is
   * kept as JSON text only): a change to its names and pools is compiled as an edit of it (config/edit.ts).
   */
  const inForceNow = (): InForce | undefined => (configRaw === null ? undefined : { raw: configRaw, config: loaded.config, snapshot: mirror.snapshot, zones: loaded.zones, layers: () => servedLayers() });
  /** The zones in force as the workers map them (an edit that adds a policy name lays an overlay over its zone). */
  const mapped = new ImageCache(images.dir);
  /**
   * The layers of the images in force, by zone index: mapped once per hand-over, and a zone this process just laid a
   * change over (publish) kept as the object it made, not mapped back from the file it wrote.
   */
  let served: { refs: ReadonlyArray<ImageRef | null>; layers: Map<number, ZoneLayers> } | null = null;
  const servedLayers = (): Map<number, ZoneLayers> => {
    if (served?.refs !== handOver.images) served = { refs: handOver.images, layers: mapped.load(handOver.images) };
    return served.layers;
  };
  if (revisions) revisions.inForce = inForceNow;
  /** The mirror takes a new compiled configuration, and health its targets. */
  const mirrorOf = (v: Valid): void => {
    const light = lighten(v);
    loaded = light.loaded;
    mirror.setSnapshot(light.policy);
    // After an edit the mirror's live state carried over (as the workers' did); a new one must be told.
    if (v.edit === undefined) mirror.engine?.applyHealth(health.healthForNewState());
    mirror.engine?.applyAdmin(health.admin());
    health.reload(v.loaded.config);
    configureEcs(v.loaded.config);
    const d = dispatcher;
    if (d) lastDispatch = dispatching.run(() => d.apply(v.loaded.config)).catch((e: Error) => [e.message]);
    const book = leaseBook;
    if (book) void leasing.run(() => book.configure(v.loaded.config)).catch((e: Error) => log.error({ err: e.message }, 'leases not reconfigured'));
  };
  /** Make `raw` the configuration in force: validate, then every worker and the mirror swap snapshots. */
  const putInForce = (nextRaw: RawConfig, valid?: Valid): { ok: true } | { ok: false; errors: ConfigError[] } => {
    const v = valid ?? compileRaw(nextRaw, source0.baseDir, source0.file, { ...SUPERVISOR, cache: zoneCache, previous: inForceNow() });
    if (!v.ok) return v;
    if (v.edit !== undefined) {
      // Names and pools edited: workers are sent the edit (not the configuration), and the new overlays of the
      // zones that gained or lost policy names; other zones and their images stay.
      let refs = handOver.images;
      if (v.relaid !== undefined && v.relaid.size > 0) {
        try {
          refs = publishOverlays(images.dir, handOver.images, new Map([...v.relaid].map(([i, l]) => [i, l.overlay])));
        } catch (e) {
          return { ok: false, errors: [{ path: '', message: `cannot write the compiled zones to ${images.dir}: ${(e as Error).message}` }] };
        }
        keepImages(refs);
      }
      handOver = { ...handOver, raw: nextRaw, config: null, images: refs };
      generation++;
      configJson = null;
      configRaw = nextRaw;
      // The edit first: the health the reload reports (of the members it adds) must find them in the workers.
      broadcast({ type: 'policy', generation, base: generation - 1, edit: v.edit, ...(v.relaid !== undefined && v.relaid.size > 0 ? { images: refs } : {}) });
      mirrorOf(v);
      return { ok: true };
    }
    const served = zoneUpdates.served(v.snapshot.zones);
    if (!served.ok) return served;
    let next: HandOver;
    try {
      next = handOverOf(images.dir, nextRaw, v, served.zones);
    } catch (e) {
      return { ok: false, errors: [{ path: '', message: `cannot write the compiled zones to ${images.dir}: ${(e as Error).message}` }] };
    }
    // Workers still loading an older generation may map its files: the last few loads keep theirs.
    keepImages(next.images);
    const zonesOnly = handOverJson(next) === handOverJson(handOver);
    handOver = next;
    zoneCache.seed(v.loaded.config.zones, source0.baseDir, v.loaded.zones, v.snapshot.zones);
    zoneCache.commit();
    generation++;
    configJson = null;
    configRaw = nextRaw;
    mirrorOf(v);
    broadcast(zonesOnly ? { type: 'zones', generation, images: handOver.images } : loadMessage());
    setImmediate(() => releaseAfterLoad({ compact: true }));
    // Zones this change recompiled get a new serial (and their secondaries a NOTIFY), after it is in force.
    void zoneHost.queue.run(() => zoneUpdates.bumpRevised().catch((e: Error) => log.error({ err: e.message }, 'zone serials not advanced')));
    return { ok: true };
  };

  let stopping = false;
  const ready = new Set<number>();
  const generations = new WorkerGenerations();
  /**
   * Resolves once every serving worker reports the generation just put in force, so the caller's reply means "every
   * worker answers it". A worker that could not apply it is an error; one that is slow (a whole load of a large
   * configuration) is logged and catches up by itself: its messages are taken in order.
   */
  const everyWorker = async (): Promise<{ ok: true } | { ok: false; errors: ConfigError[] }> => {
    const g = generation;
    const r = await generations.reached(g, ready, WORKER_ACK_MS);
    const pid = (id: number): number | undefined => cluster.workers?.[id]?.process.pid;
    if (r.failed.length > 0) return { ok: false, errors: r.failed.map((f) => ({ path: '', message: `worker ${pid(f.worker) ?? f.worker} kept its previous snapshot: ${f.errors}` })) };
    if (!r.ok) log.warn({ generation: g, behind: r.behind.map((id) => pid(id) ?? id), waitedMs: WORKER_ACK_MS }, 'not every worker reported the new generation in time; it comes into force there when they do');
    return { ok: true };
  };
  let announced = false;
  /** Set once the start is complete (the file's revision stored, the API listening): "ready" means all of it. */
  let started = false;
  const announce = (): void => {
    if (announced || !started || ready.size < workers) return;
    announced = true;
    log.info({ listen: server.listen.map((l) => hostPort(l.host, l.port)), workers, generation, udpTransport }, 'ready');
  };
  let udpTransport = '';
  const recentDeaths: number[] = [];
  // metrics
  const metrics = new MetricsAggregator();
  metrics.setSources({
    health: () => health, workers: () => ready.size,
    store: () => (follower ? { state: follower.error ? 'degraded' : 'ok', queued: writer?.queued ?? 0, lag: follower.head - follower.position } : null),
  });

  // Explain runs in a worker, over a copy of that worker's live state: what its next query would get.
  const explaining = new Map<number, { resolve: (e: Explanation) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  let explainId = 0;
  const explainInWorker = (req: ExplainRequest): Promise<Explanation> => {
    const w = Object.values(cluster.workers ?? {}).find((x) => x !== undefined && ready.has(x.id) && x.isConnected());
    if (!w) return Promise.reject(new Error('no worker is ready to explain yet; try again in a moment'));
    const id = ++explainId;
    return new Promise<Explanation>((resolve, reject) => {
      const timer = setTimeout(() => { explaining.delete(id); reject(new Error(`worker ${w.process.pid} did not explain within 3 s`)); }, 3000);
      explaining.set(id, {
        resolve: (e) => resolve({ ...e, state: { live: true, detail: `live: worker pid ${w.process.pid} (of ${ready.size}; each worker rotates its own counters), with the health verdicts, admin states and persistence records it holds now` } }),
        reject, timer,
      });
      w.send({ type: 'explain', id, request: req } satisfies PrimaryMessage);
    });
  };
  const onExplained = (m: WorkerMessage): void => {
    const p = explaining.get(m.id ?? -1);
    if (!p) return;
    explaining.delete(m.id!);
    clearTimeout(p.timer);
    if (m.explanation) p.resolve(m.explanation);
    else p.reject(new ExplainError(m.error ?? 'the worker could not explain'));
  };
  // Resolver groups gathered from ECS (resolverGrouping.ecs): from what every worker, and every node, saw.
  const ecsOptions = (c: LoadedConfig['config']): EcsGroupingOptions | null => {
    const e = c.resolverGrouping?.ecs;
    return e ? { threshold: e.threshold, expiryMs: e.expiry } : null;
  };
  let grouper: EcsGrouper | null = null;
  let ecsPairs: Array<[string, string]> = [];
  const configureEcs = (c: LoadedConfig['config']): void => {
    const o = ecsOptions(c);
    if (o === null) grouper = null;
    else if (grouper === null) grouper = new EcsGrouper(node, o);
    else grouper.configure(o);
  };
  const ecsMessage = (): PrimaryMessage => ({ type: 'ecs-groups', groups: ecsPairs });
  const shareEcsGroups = (): void => {
    const next = grouper?.groups(Date.now());
    if (next === undefined ? ecsPairs.length === 0 : !next.changed) return;
    ecsPairs = next === undefined ? [] : [...next.groups];
    if (mirror.engine) mirror.engine.observedGroups = observedGroupsOf(ecsPairs);
    log.info({ groups: new Set(ecsPairs.map((p) => p[1])).size, resolvers: ecsPairs.length }, 'resolver groups from ECS');
    broadcast(ecsMessage());
  };
  configureEcs(loaded.config);
  /** The generation each worker was last sent a whole load for, when it asked for one. */
  const resent = new Map<number, number>();
  // least-requests compares what the whole node answered: totals back to every worker each time workers ship counts.
  const requestTotals = new RequestTotals();
  const shareRequests = setInterval(() => {
    shareEcsGroups();
    const totals = requestTotals.take(Date.now());
    if (totals === null) return;
    mirror.engine?.applyRequestTotals(totals);
    broadcast({ type: 'requests', totals });
  }, METRICS_SHIP_MS);
  shareRequests.unref();
  const onWorkerMessage = (w: Worker, m: WorkerMessage): void => {
    if (m.type === 'metrics') { // metrics
      if (m.delta) {
        metrics.add(m.delta, w.id);
        requestTotals.add(m.delta.answers ?? [], Date.now());
      }
      if (m.ecs) grouper?.observe(m.ecs, Date.now());
      return;
    }
    if (m.type === 'explained') return onExplained(m);
    if (m.type === 'zone-request' && m.request !== undefined) {
      const id = m.id!;
      const answer = m.request.kind === 'lease' ? answerLease(m.request.message)
        : m.request.kind === 'update' ? zoneUpdates.handle(m.request).then((r) => [r]) : zoneTransfers.handle(m.request);
      void answer.then((responses) => {
        if (w.isConnected()) w.send({ type: 'zone-answer', id, responses: responses.map((r) => r.toString('base64')) } satisfies PrimaryMessage);
      });
      return;
    }
    if (m.type === 'hello') {
      // The worker is listening for messages now (earlier ones would be lost): give it its configuration.
      w.send(loadMessage());
    } else if (m.type === 'ready') {
      ready.add(w.id);
      udpTransport = m.udp ?? udpTransport;
      w.send({ type: 'health', updates: health.healthForNewState() } satisfies PrimaryMessage);
      w.send({ type: 'admin', states: health.admin() } satisfies PrimaryMessage);
      if (ecsPairs.length > 0) w.send(ecsMessage());
      // A worker reads an SQLite store's records itself; a cluster node's come from the mirror, which holds them all.
      if (shared) for (const records of chunks(mirror.engine?.records(Date.now()) ?? [], 10_000)) w.send({ type: 'persist', records } satisfies PrimaryMessage);
      // The garbage of the first load goes once a worker serves: collecting (and compacting) earlier held up handing
      // the workers their configuration and took a core from their compiling. Later loads collect in putInForce.
      if (ready.size === 1 && !announced) setImmediate(() => releaseAfterLoad({ compact: true }));
      if (ready.size === 1) firstReady?.();
      announce();
    } else if (m.type === 'persist' && m.records) {
      writer?.push(m.records);
      mirror.engine?.applyRecords(m.records);
      const relay: PrimaryMessage = { type: 'persist', records: m.records };
      for (const other of Object.values(cluster.workers ?? {})) if (other && other.id !== w.id && other.isConnected()) other.send(relay);
    }
    if (m.type === 'loaded') generations.loaded(w.id, m.generation);
    if (m.type === 'loaded' && m.zonesOnly) {
      // A record changed (perhaps a hundred times a second): its policy and live state are as they were.
      log.debug({ worker: w.process.pid, generation: m.generation }, 'worker swapped zones');
    } else if (m.type === 'loaded') {
      if (m.edited) log.debug({ worker: w.process.pid, generation: m.generation }, 'worker applied an edit of names and pools');
      else log.info({ worker: w.process.pid, generation: m.generation }, 'worker swapped snapshot');
      // The new snapshot may have new members: tell it every member a new LiveState does not already agree with.
      // After an edit its live state carried over, and the health of the members the edit added comes with the
      // health service's reload (every member it reports changed); admin states may name them already.
      if (!m.edited) w.send({ type: 'health', updates: health.healthForNewState() } satisfies PrimaryMessage);
      w.send({ type: 'admin', states: health.admin() } satisfies PrimaryMessage);
      if (ecsPairs.length > 0) w.send(ecsMessage());
    } else if (m.type === 'load-failed' && m.resend) {
      // Once per generation: the edits queued behind the first one that did not apply fail too, and the whole load
      // sent now covers them all.
      if (resent.get(w.id) === generation) return;
      resent.set(w.id, generation);
      w.send(loadMessage());
    } else if (m.type === 'load-failed') {
      generations.failedAt(w.id, m.generation, m.errors ?? 'no reason given');
      log.error({ worker: w.process.pid, generation: m.generation, errors: m.errors }, 'worker kept its previous snapshot');
    }
  };
  cluster.on('exit', (w, code, signal) => {
    ready.delete(w.id);
    generations.left(w.id);
    if (stopping) return;
    log.warn({ worker: w.process.pid, code, signal }, 'worker died; starting a replacement');
    const now = Date.now();
    recentDeaths.push(now);
    while (recentDeaths.length > 0 && recentDeaths[0]! < now - 10_000) recentDeaths.shift();
    // A crash loop (bad host state, not bad config: config was validated) backs off instead of spinning.
    const delay = recentDeaths.length > 5 ? 1000 : 0;
    setTimeout(() => { if (!stopping) forks.fork(); }, delay);
  });
  forks.handOver(onWorkerMessage);
  forks.ensure(workers);
  // After the first worker serves: workers get their sockets through this process (node:cluster), so a second spent
  // inlining and storing the file's zones before then is a second without answers.
  await new Promise<void>((resolve) => {
    firstReady = resolve;
    setTimeout(resolve, FIRST_READY_WAIT_MS).unref();
  });
  firstReady = null;
  if (!seedCache()) {
    await health.close();
    return abandon();
  }
  seedCache = null;
  if (applyFile !== null) {
    let r: Awaited<ReturnType<Revisions['fromFile']>>;
    try {
      r = await applyFile();
    } catch (e) {
      r = { ok: false, status: 400, errors: [{ path: 'store', message: (e as Error).message }] };
    }
    applyFile = null;
    if (!r.ok) {
      process.stderr.write(`waymark: cannot record the configuration file as a revision:\n${formatErrors(r.errors)}\n`);
      await health.close();
      return abandon();
    }
    // Not changed: another node or process committed a revision meanwhile. It is in the feed after the start's
    // position, and comes into force from there (the file's configuration serves until then).
    // Registered members carried into it: the revision is not the file's compiled form; it comes into force from the feed.
    startRevision = r.changed && r.carried !== true ? r.revision.id : -1;
    log.info({ revision: r.revision.id, file: configFile }, r.changed ? 'configuration file applied as a new revision' : 'another revision was committed meanwhile: it comes into force');
  }
  inlineFile = null; // the file's inlined form is the revision's now (or not needed)

  /** Re-read the source (SIGHUP, `waymark reload`): the file's changes come into force, or nothing changes. */
  const reload = async (): Promise<ReloadOutcome> => {
    const rejected = (errors: ConfigError[]): ReloadOutcome => {
      log.error({ errors: formatErrors(errors) }, 'reload rejected: configuration has errors; still serving the previous one');
      return { ok: false, errors };
    };
    zoneCache.resetCounts();
    const next = readSource(source, { ...SUPERVISOR, cache: zoneCache });
    if (!next.ok) return rejected(next.errors);
    let nextDeclarative = next.value.declarative;
    let changed = true;
    if (revisions && configFile) {
      revisions.setBootstrap(next.value.bootstrap);
      let r: Awaited<ReturnType<Revisions['fromFile']>>;
      try {
        r = await revisions.fromFile(next.value.declarative, fileKey!, `file ${configFile}`, next.value.valid);
      } catch (e) {
        return rejected([{ path: 'store', message: (e as Error).message }]);
      }
      if (!r.ok) return rejected(r.errors);
      nextDeclarative = r.revision.config;
      changed = r.changed;
    }
    const prev = source0;
    source0 = kept(next.value);
    const res = putInForce(mergeConfig(next.value.bootstrap, nextDeclarative), nextDeclarative === next.value.declarative ? next.value.valid : undefined);
    if (!res.ok) {
      source0 = prev;
      return rejected(res.errors);
    }
    inForce = (revisions ? (await revisions.currentMeta().catch(() => null))?.id : undefined) ?? inForce;
    const workersHave = await everyWorker();
    if (!workersHave.ok) return rejected(workersHave.errors);
    const zones = zoneCache.counts();
    // In force all the same (DNS and the other ports serve it): a port that could not listen is the reply's warning.
    const warnings = await lastDispatch;
    log.info({ generation, revision: revisions ? inForce : undefined, fileChanged: changed, zones }, 'reload accepted');
    return { ok: true, generation, revision: revisions ? inForce : null, changed, zones, ...(warnings.length > 0 ? { warnings } : {}) };
  };
  const reloadInTurn = (): Promise<ReloadOutcome> => inForceQueue.run(reload);
  process.on('SIGHUP', () => { void reloadInTurn(); });

  // Known from the start when a file was applied: reading the current revision parses all of it (13 MB at 100,000 names).
  let inForce = startRevision ?? (revisions ? (await revisions.currentMeta().catch(() => null))?.id : undefined) ?? 0;
  let refused = 0;
  /** Revisions come into force one at a time (the API's, the feed's, a reload's): an older read never undoes a newer one. */
  const inForceQueue = new Serial();
  Object.assign(zoneHost, {
    queue: inForceQueue,
    zone: (origin: string): ServedZone | null => {
      for (const [index, o] of handOver.origins) {
        const config = loaded.config.zones[index];
        if (canonicalName(o) === origin && config !== undefined) return { index, config, origin };
      }
      return null;
    },
    layers: (index: number) => servedLayers().get(index),
    poolsOf: (name: string) => loaded.config.names.find((n) => canonicalName(n.name) === name)?.pools.join(', ') ?? '(unknown)',
    publish: async (index: number, layers: ZoneLayers) => {
      let refs: Array<ImageRef | null>;
      try {
        // The same image with another overlay (a change laid over it), or the zone compiled whole again.
        const sameImage = servedLayers().get(index)?.image === layers.image;
        refs = sameImage ? publishOverlays(images.dir, handOver.images, new Map([[index, layers.overlay]])) : publishLayers(images.dir, handOver.images, new Map([[index, layers]]));
      } catch (e) {
        return { ok: false, errors: [{ path: '', message: `cannot write the compiled zones to ${images.dir}: ${(e as Error).message}` }] };
      }
      keepImages(refs);
      const next = new Map(servedLayers()).set(index, layers);
      handOver = { ...handOver, images: refs };
      served = { refs, layers: next };
      generation++;
      broadcast({ type: 'zones', generation, images: refs });
      return everyWorker();
    },
    dynamicPool: (name: string) => dynamicPoolOf(loaded.config, name),
    register: async (pool: string, members: Member[], who: { actor: string; origin: string }) => {
      const cur = await revisions?.current();
      if (!revisions || !cur) return { ok: false, errors: [{ path: 'store', message: 'no store configured' }] };
      const next = withRegistered(cur.config, pool, members);
      if (next === null) return { ok: false, errors: [{ path: 'pools', message: `no pool ${pool} in revision ${cur.id}` }] };
      const r = await revisions.propose(next.d, {
        author: who.actor, origin: who.origin, source: 'update', comment: `dynamic update: members of pool ${pool}`, ifMatch: cur.id,
        action: 'pool.member.register', target: `pools/${pool}/members`, before: next.before, after: next.after,
      });
      if (!r.ok) return { ok: false, errors: r.errors };
      if (!r.changed) return { ok: true };
      const res = putInForce(mergeConfig(source0.bootstrap, r.revision.config), r.valid);
      if (!res.ok) return res;
      inForce = r.revision.id;
      return everyWorker();
    },
  } satisfies Partial<ZoneUpdateHost>);
  transferHost.policyRecords = (layers) => policyRecords(loaded.config, layers);
  // NOTIFY (RFC 1996): every change of a zone's serial is told to the secondaries its `notify` lists.
  const notifier = new Notifier((level, fields, msg) => log[level](fields, msg));
  const notifyZone = (origin: string): Promise<NotifyOutcome[]> => {
    const zone = zoneHost.zone(origin);
    if (zone === null || (zone.config.notify ?? []).length === 0) return Promise.resolve([]);
    const layers = zoneHost.layers(zone.index);
    const soa = layers === undefined ? null : soaOf(layers);
    if (soa === null) return Promise.resolve([]);
    const keys = keyringOf(loaded.config);
    const targets = (zone.config.notify ?? []).map((t) => ({ ...parseTarget(t.address)!, key: t.key === undefined ? null : keys?.find(foldWire(encodeName(t.key))) ?? null }));
    return notifier.notify(zone.origin, soa, targets);
  };
  zoneHost.changed = (origin) => { void notifyZone(origin); };
  /** The newest revision in the store, in force here (unless it is what is in force already, or refused). */
  const followRevision = (): Promise<void> => inForceQueue.run(async () => {
    const cur = await revisions!.current();
    if (!cur || cur.id === inForce) return;
    if (!shared && cur.source === 'file' && configFile && cur.file !== null && cur.file !== configFile) {
      // Another configuration file fed this store (it should have a store of its own): never adopt its zones.
      if (refused !== cur.id) log.error({ revision: cur.id, from: cur.file, serving: configFile, store: dir }, `revision ${cur.id} was made from ${cur.file}, but this server serves ${configFile}: refused; still serving revision ${inForce}. Give each configuration its own store.path`);
      refused = cur.id;
      return;
    }
    const res = putInForce(mergeConfig(source0.bootstrap, cur.config));
    if (res.ok) { inForce = cur.id; log.info({ revision: cur.id, generation }, 'revision in force'); }
    else log.error({ revision: cur.id, errors: formatErrors(res.errors) }, 'revision does not compile; still serving the previous one');
  });
  /** The newest health term seen in the feed. */
  let seenTerm = 0;
  /** What this node does with changes committed elsewhere (the CLI, another node) and here. */
  const applyChanges = async (changes: Change[]): Promise<void> => {
    let lastRevision: Change | undefined;
    for (const c of changes) if (c.kind === 'revision') lastRevision = c;
    let admin = false;
    let leases = false;
    for (const c of changes) {
      if (c.kind === 'lease' && c.node !== node) leases = true;
      if (c.kind === 'revision' && c === lastRevision && (c.data as { id: number }).id !== inForce) await followRevision();
      else if (c.kind === 'admin') admin = true;
      else if (c.kind === 'node' && c.node !== node) {
        const { requests, ecsLinks } = c.data as { requests?: RequestTotal[]; ecsLinks?: EcsLink[] };
        if (Array.isArray(requests)) requestTotals.addRemote(c.node, requests, Date.now());
        if (Array.isArray(ecsLinks)) grouper?.merge(c.node, ecsLinks);
      } else if (c.kind === 'health') {
        const h = c.data as { term: number; verdicts: MemberHealth[] };
        // A deposed leader cannot commit (its term is checked in the store); older terms are ignored all the same.
        if (h.term >= seenTerm) { seenTerm = h.term; health.adopt(h.verdicts); }
      }
      else if (c.kind === 'zone' && c.node !== node) {
        const z = (c.data as { zone: string }).zone;
        await inForceQueue.run(() => zoneUpdates.follow(z));
      } else if (c.kind === 'persistence' && c.node !== node) {
        // This node's own batches came from its workers; another node's reach the mirror and every worker.
        const records = c.data as PersistRecord[];
        mirror.engine?.applyRecords(records);
        broadcast({ type: 'persist', records });
      }
    }
    if (admin) health.setAdmin(await store!.loadAdmin());
    // Another node leased, extended or returned addresses: this node's book reads the table again.
    const book = leaseBook;
    if (leases && book) await leasing.run(() => book.load());
  };
  const follower = store ? new FeedFollower(store, startPosition, {
    intervalMs: shared ? CLUSTER_POLL_MS : LOCAL_POLL_MS,
    apply: applyChanges,
    onState: (err) => {
      if (err) log.error({ err: err.message }, 'store unreachable: serving from memory; writes are refused or queued until it is back');
      else log.info('store reachable again: catching up from the feed');
    },
  }) : null;
  follower?.start();
  const startedAt = Date.now();
  const role = (): NodeRecord['role'] => (!shared ? 'single' : health.leading ? 'leader' : 'follower');
  // Cluster: one node runs the prober distributor, by a lease in the store (the database's clock; a term per holder).
  let leaseAt = 0;
  const claimLead = async (): Promise<void> => {
    if (!store || stopping) return;
    try {
      const lease = await store.claimLeader(LEADER_ROLE, node, LEASE_MS);
      leaseAt = Date.now();
      if (lease.mine && !health.leading) {
        term = lease.term;
        try {
          await health.lead();
          log.info({ term }, 'this node leads health: it runs the prober distributor');
        } catch (e) {
          log.error({ err: (e as Error).message }, 'cannot run the prober distributor; leaving the lead to another node');
          await store.resignLeader(LEADER_ROLE, node).catch(() => {});
        }
      } else if (!lease.mine && health.leading) {
        log.warn({ leader: lease.holder, term: lease.term }, 'another node leads health now: this one stops probing');
        await health.follow();
      }
    } catch (e) {
      follower?.failed(e as Error);
      // A lease it cannot renew may be another's by now: stop before it could have run out.
      if (health.leading && Date.now() - leaseAt > LEASE_MS - CLAIM_MS) {
        log.warn('cannot renew the health lead: this node stops probing');
        await health.follow();
      }
    }
  };
  const leadTimer = shared ? setInterval(() => { void claimLead(); }, CLAIM_MS) : null;
  leadTimer?.unref();
  if (shared) await claimLead();
  const apiAddress = (): string | null => {
    const a = loaded.config.api?.listen;
    return a ? hostPort(a.host, a.port) : null;
  };
  const heartbeat = async (): Promise<void> => {
    if (!store || !follower) return;
    try {
      // The feed's newest position, once a second: how far behind this node (and every node listed) is.
      follower.head = Math.max(follower.head, await store.feedHead());
      const now = Date.now();
      // A cluster node's answer counts go with it: least-requests on every node compares what the cluster answered.
      const extra = shared ? { requests: requestTotals.own(now), ...(grouper ? { ecsLinks: grouper.takeFresh() } : {}) } : undefined;
      await store.heartbeat({ name: node, startedAt, seenAt: now, revision: inForce, position: follower.position, role: role(), pid: process.pid, host: os.hostname(), api: apiAddress() }, extra);
      follower.healthy();
    } catch (e) {
      follower.failed(e as Error);
    }
  };
  const beat = setInterval(() => { void heartbeat(); }, HEARTBEAT_MS);
  beat.unref();
  // Listed among the nodes before it says "ready" (a failed beat is the store's degraded state, not a failed start).
  await heartbeat();

  // The dispatcher listens once this node serves DNS; a cluster port it cannot bind fails the start.
  const dispatcherMetrics = new DispatcherMetrics(metrics.registry);
  dispatcher = new Dispatcher(loaded.config.dispatcher?.maxConnections ?? 100_000, { log: (level, fields, msg) => log[level](fields, msg), ...dispatcherMetrics.events() });
  dispatcherMetrics.watch(dispatcher);
  dispatcher.setAdmin(health.admin());
  const dispatchErrors = await dispatching.run(() => dispatcher!.apply(loaded.config));
  if (dispatchErrors.length > 0) {
    process.stderr.write(`waymark: dispatcher:\n${dispatchErrors.map((e) => `  ${e}`).join('\n')}\n`);
    await dispatcher.close();
    await health.close();
    return abandon();
  }
  const dispatcherNow = dispatcher;
  // Leases (addressPools:) need the store; validation refused a configuration with pools and no store.
  if (store) {
    const book = new LeaseBook({ store, log: (level, fields, msg) => log[level](fields, msg) });
    try {
      await book.configure(loaded.config);
      await book.load();
    } catch (e) {
      process.stderr.write(`waymark: leases: ${(e as Error).message}\n`);
      await book.close();
      await dispatcherNow.close();
      await health.close();
      return abandon();
    }
    leaseBook = book;
  }
  const leaseTimer = setInterval(() => {
    const book = leaseBook;
    if (book) void leasing.run(() => book.tick()).catch((e: Error) => log.warn({ err: e.message }, 'lease upkeep failed; retried in a second'));
  }, LEASE_TICK_MS);
  leaseTimer.unref();

  const handle: SupervisorHandle = {
    store, revisions, health, mirror, dispatcher: dispatcherNow, leases: () => leaseBook,
    raw: () => JSON.parse(configText()) as RawConfig,
    declarative: () => splitConfig(JSON.parse(configText()) as RawConfig).declarative,
    loaded: () => loaded,
    revisionCommitted: (committed) => inForceQueue.run(async () => {
      // One read of the current revision (a large zone makes it megabytes of JSON).
      const cur = await revisions?.current();
      if (!cur) return { ok: false, errors: [{ path: 'store', message: 'no store configured' }] };
      // The feed may have brought it into force already.
      if (cur.id === inForce) return { ok: true };
      const eff = mergeConfig(source0.bootstrap, cur.config);
      // The caller's compiled configuration is reused only if its revision is still the current one.
      const res = putInForce(eff, committed && cur.id === committed.revision ? committed.valid : undefined);
      if (!res.ok) return res;
      inForce = cur.id;
      log.info({ generation, revision: inForce }, 'revision in force');
      return everyWorker();
    }),
    adminChanged: async () => { health.setAdmin(await store!.loadAdmin()); },
    nodes: async () => nodeViews(store ? await store.listNodes() : [], node, follower?.head ?? 0),
    storeStatus: () => ({
      backend: store?.backend ?? 'none', state: follower?.error ? 'degraded' : 'ok', since: follower?.since ?? null,
      error: follower?.error?.message ?? null, queued: writer?.queued ?? 0, position: follower?.position ?? 0, head: follower?.head ?? 0,
    }),
    persistenceChanged: (records) => {
      writer?.push(records);
      mirror.engine?.applyRecords(records);
      broadcast({ type: 'persist', records });
    },
    workerCount: () => Object.keys(cluster.workers ?? {}).length,
    generation: () => generation,
    metrics: () => metrics.metrics(),
    series: () => metrics.series(),
    explain: explainInWorker,
  };
  const control = await startControl(controlPaths(dir, pidFile), { file: configFile, reload: reloadInTurn, explain: explainInWorker, notify: (zone) => notifyZone(zone), status: () => ({ pid: process.pid, generation, revision: revisions ? inForce : null, file: configFile, workers: ready.size }) });
  if (!control) return abandon();
  for (const hook of supervisorHooks) {
    try {
      await hook(handle);
    } catch (e) {
      process.stderr.write(`waymark: ${(e as Error).message}\n`);
      return abandon();
    }
  }
  started = true;
  announce();

  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping');
      for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
      if (pidFile) fs.rmSync(pidFile, { force: true });
      if (images.temporary) fs.rmSync(images.dir, { recursive: true, force: true });
      control.close();
      const finish = (): void => {
        void (async () => {
          if (leadTimer) clearInterval(leadTimer);
          if (health.leading && shared) await store?.resignLeader(LEADER_ROLE, node).catch(() => {});
          await health.close();
          await dispatcherNow.close();
          clearInterval(leaseTimer);
          await leasing.run(async () => { await leaseBook?.tick().catch(() => {}); await leaseBook?.close(); });
          clearInterval(beat);
          await follower?.stop();
          await writer?.close();
          await store?.close().catch(() => {});
          resolve(0);
        })();
      };
      const deadline = setTimeout(finish, 3000);
      cluster.on('exit', () => {
        if (Object.keys(cluster.workers ?? {}).length === 0) {
          clearTimeout(deadline);
          finish();
        }
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}

/**
 * What workers get for one load: the configuration without zone data (as JSON text, made when first asked for:
 * after an edit of names and pools only a worker that starts needs it), and where the zones' images are.
 */
/**
 * The policy names placed in a zone as secondaries can serve them: each name's enabled members (of all its pools) as
 * plain A and AAAA records with the name's TTL. Health is not part of it: a secondary cannot follow it.
 */
function policyRecords(config: LoadedConfig['config'], layers: ZoneLayers): ZoneRecord[] {
  const pools = new Map(config.pools.map((p) => [p.name, p]));
  const out: ZoneRecord[] = [];
  for (const n of config.names) {
    const name = canonicalName(n.name);
    if (layerPolicySlot(layers, name) < 0) continue;
    const enabled = new Set(n.pools.flatMap((p) => (pools.get(p)?.members ?? []).filter((m) => m.enabled).map((m) => m.address)));
    for (const r of addressRecords(name, n.ttl, enabled)) out.push(r);
  }
  return out;
}

/** The dynamic pool answering policy name `name` (UPDATE registers its members), null, or why it cannot be told. */
function dynamicPoolOf(config: LoadedConfig['config'], name: string): DynamicPool | string | null {
  const n = config.names.find((x) => canonicalName(x.name) === name);
  if (n === undefined) return null;
  const dynamic = n.pools.map((p) => config.pools.find((q) => q.name === p)).filter((p) => p !== undefined && p.dynamic);
  if (dynamic.length === 0) return null;
  if (dynamic.length > 1) return `${name} is answered by several dynamic pools (${dynamic.map((p) => p!.name).join(', ')}): UPDATE cannot tell which to register members in`;
  return { pool: dynamic[0]!.name, ttl: n.ttl, members: dynamic[0]!.members.map((m) => ({ address: m.address, ...(m.registered !== undefined ? { registered: m.registered } : {}) })) };
}

/** Declarative sections `d` with pool `pool`'s registered members replaced by `members` (null: no such pool). */
function withRegistered(d: Declarative, pool: string, members: Member[]): { d: Declarative; before: unknown; after: unknown } | null {
  const pools = Array.isArray(d.pools) ? [...d.pools] : [];
  const i = pools.findIndex((p) => typeof p === 'object' && p !== null && (p as { name?: unknown }).name === pool);
  if (i < 0) return null;
  const entry = pools[i] as Record<string, unknown>;
  const before = Array.isArray(entry.members) ? entry.members : [];
  const own = before.filter((m) => !(typeof m === 'object' && m !== null && typeof (m as { registered?: unknown }).registered === 'string'));
  const after = [...own, ...members];
  pools[i] = { ...entry, members: after };
  return { d: { ...d, pools }, before, after };
}

/** The dynamic state read from the store, laid over the zones of the start. */
async function loadServed(updates: ZoneUpdates, zones: readonly Zone[]): Promise<ReturnType<ZoneUpdates['served']>> {
  try {
    await updates.load();
  } catch (e) {
    return { ok: false, errors: [{ path: 'store', message: `cannot read the zones' dynamic data: ${(e as Error).message}` }] };
  }
  return updates.served(zones);
}

interface HandOver { raw: RawConfig | null; config: string | null; images: Array<ImageRef | null>; origins: ReadonlyMap<number, string> }
/** What workers are given: `served`, v's zones with what dynamic update set laid over them. */
function handOverOf(dir: string, raw: RawConfig, v: Valid, served: readonly Zone[]): HandOver {
  const zones = served.map((zone, k) => ({ index: v.loaded.zones[k]!.index, zone }));
  const refs = publishImages(dir, zones);
  return { raw, config: null, images: refs, origins: new Map(zones.map((z) => [z.index, z.zone.origin])) };
}

function handOverJson(h: HandOver): string {
  if (h.config === null) {
    h.config = JSON.stringify(withoutZoneData(h.raw!, h.images, h.origins));
    h.raw = null; // the text is a fifth of the parsed form's size (the file's, at the start, is held by nothing else)
  }
  return h.config;
}

/** The worker count a parsed, not yet validated, configuration asks for (null when its server.workers is invalid). */
function workersOf(raw: RawConfig): number | null {
  const server = raw.server;
  const given = typeof server === 'object' && server !== null ? (server as Record<string, unknown>).workers : undefined;
  const n = serverSchema.shape.workers.safeParse(given);
  return n.success ? n.data : null;
}

/**
 * A source as the supervisor keeps it between reloads: where it is and its bootstrap sections; neither its compiled
 * form nor its declarative sections (the configuration in force is kept as JSON text).
 */
type KeptSource = Pick<SourceConfig, 'bootstrap' | 'baseDir' | 'file'>;
function kept(s: SourceConfig): KeptSource {
  return { bootstrap: s.bootstrap, baseDir: s.baseDir, file: s.file };
}

/**
 * What the supervisor keeps of a compiled configuration: its settings and its policy (the mirror's engine holds
 * health, admin states and persistence for the API), not its zones: the workers serve those, and a million-record
 * zone would otherwise be held once more here.
 */
function lighten(v: Valid): { loaded: LoadedConfig; policy: Snapshot } {
  const policy = v.snapshot.policy;
  // An edit is made from the mirror's policy, which has no answers already (the scan is a pass over every name).
  return { loaded: { ...v.loaded, zones: [] }, policy: new Snapshot([], v.snapshot.generation, policy && (v.edit !== undefined ? policy : withoutAnswers(policy))) };
}

/**
 * How the supervisor compiles a configuration: checked in full, but without the members' answer RRsets (most of a
 * policy name's size) and without indexing its zones: the supervisor never answers a query (explain runs in a worker).
 */
const SUPERVISOR: SnapshotOptions = { answers: false };

/** How often a node reads the feed: a change made elsewhere is in force within this plus its apply. */
const CLUSTER_POLL_MS = 100;
/** One node: the CLI's changes (waymark apply, admin states) are noticed within this. */
const LOCAL_POLL_MS = 200;
/** The lease that makes a cluster node the one running the prober distributor; renewed every CLAIM_MS. */
const LEADER_ROLE = 'distributor';
const LEASE_MS = 2000;
const CLAIM_MS = 500;

function* chunks<T>(items: T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

/** Loads whose image files stay on disk (see keepImages). */
const KEEP_LOADS = 8;

/** The control socket's operations, as the supervisor offers them. */
interface ControlOps { file: string | null; reload: () => Promise<ReloadOutcome>; explain: (req: ExplainRequest) => Promise<Explanation>; notify: (zone: string) => Promise<NotifyOutcome[]>; status: () => Record<string, unknown> }

/** Listen on the control sockets; null (after saying why on stderr) when another server already answers there. */
async function startControl(paths: string[], ops: ControlOps): Promise<{ close(): void } | null> {
  const handle = async (req: ControlRequest): Promise<ControlReply> => {
    if (req.file !== undefined && req.file !== ops.file) return { ok: false, error: `this server serves ${ops.file ?? 'master files given with --zone'}, not ${req.file}` };
    if (req.op === 'reload') {
      const r = await ops.reload();
      return r.ok ? { ...r } : { ok: false, error: 'reload rejected: configuration has errors; still serving the previous one', errors: formatErrors(r.errors).split('\n') };
    }
    if (req.op === 'explain') return { ok: true, explanation: await ops.explain(req.request) };
    if (req.op === 'notify') {
      const outcomes = await ops.notify(req.zone);
      return outcomes.length === 0 ? { ok: false, error: `zone ${req.zone} is not served here, or lists no secondaries under notify:` } : { ok: true, outcomes };
    }
    return { ok: true, ...ops.status() };
  };
  try {
    return await listenControl(paths, handle, (msg) => log.warn(msg));
  } catch (e) {
    process.stderr.write(`waymark: ${(e as Error).message}\n`);
    return null;
  }
}
