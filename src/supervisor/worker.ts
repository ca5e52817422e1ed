// A worker process of `waymark serve`: waits for its configuration from the supervisor, serves DNS on the shared
// sockets, swaps snapshots on later loads, applies health, admin states and other workers' persistence records, and
// explains over a copy of its live state. Owns: the worker side of the IPC. Never reads configuration files or the
// store's revisions itself; the supervisor has validated what it is given.
import { LeasedNames } from '../dns/leased-names.js';
import type { Logger } from 'pino';
import { batchUnavailable } from '../dns/udp-batch.js';
import { loadPersistedRecords } from '../config/source.js';
import { EcsObservations } from '../answer/ecs-groups.js';
import { observedGroupsOf } from '../answer/resolver-groups.js';
import { formatErrors } from '../config/schema.js';
import { compileText, type LoadedConfig } from '../config/load.js';
import type { Validated } from '../config/revisions.js';
import { ImageCache } from './images.js';
import { explainLive } from '../answer/explain.js';
import { DnsServer } from '../dns/server.js';
import { releaseAfterLoad } from './memory.js';
import { PERSIST_SYNC_MS, METRICS_SHIP_MS, ZONE_REQUEST_WAIT_MS, LEASE_REQUEST_WAIT_MS, type WorkerMessage, type LoadMessage, type PolicyMessage, type PrimaryMessage, type ZonesMessage } from './ipc.js';
import { applyEdit } from '../config/edit.js';
import { Snapshot } from '../answer/snapshot.js';
import type { Zone, ZoneLayers } from '../dns/zone.js';
import { TsigKeyring } from '../wire/tsig.js';
import { TRANSPORT_TCP, type DeferredHandler } from '../dns/responder.js';
import { updateFailure } from '../dns/update.js';
import { errorTo } from '../dns/transfer.js';
import { RCODE } from '../wire/types.js';
import { canonicalName } from '../wire/name.js';

/** A worker: waits for its configuration from the supervisor, then serves; later loads swap the snapshot. */
export async function runWorker(log: Logger): Promise<number> {
  let first: LoadMessage | null = await new Promise<LoadMessage>((resolve) => {
    const onMessage = (m: PrimaryMessage): void => {
      if (m.type !== 'load') return;
      process.off('message', onMessage);
      resolve(m);
    };
    process.on('message', onMessage);
    process.send?.({ type: 'hello', generation: 0 } satisfies WorkerMessage);
  });
  let generation = first.generation;
  const images = new ImageCache(first.imageDir);
  let v: Validated | null;
  try {
    v = compileText(first.config, first.baseDir, first.file, { prebuilt: images.load(first.images) });
  } catch (e) {
    log.error({ err: (e as Error).message }, 'worker could not map the compiled zones');
    return 1;
  }
  first = null; // the configuration's text: megabytes
  if (!v.ok) {
    log.error({ errors: formatErrors(v.errors) }, 'worker could not compile its configuration');
    return 1;
  }
  const snapshot = v.snapshot;
  let loaded = settingsOf(v.loaded);
  v = null;
  // Not serving yet, so no query waits on this collection (it ran right after 'ready', in the way of the first ones).
  // Compacting: the load's live objects lie among its garbage, and only moving them gives the pages back (100,000
  // names: 270 → 205 MB a worker; the first answer came as soon as before, 3.8 s, since the workers compact side by
  // side while the supervisor finishes its start). V8's memory reducer would do it only after some 20 s idle.
  releaseAfterLoad({ compact: true });
  const s = loaded.config.server;
  const server = await DnsServer.start(snapshot, {
    listen: s.listen, udpPayload: s.udpPayload, udpTransport: s.udpTransport, rrl: s.rrl, exclusive: false, maxPersistenceRecords: loaded.config.persistence.maxRecords,
    tcp: { idleTimeoutMs: s.tcp.idleTimeout, maxConnections: s.tcp.maxConnections, maxQueriesPerConnection: s.tcp.maxQueriesPerConnection },
  });
  loadPersistedRecords(loaded, server.responder);
  if (server.udp.some((u) => u.transport === 'dgram') && s.udpTransport === 'auto') {
    log.warn({ reason: batchUnavailable }, 'batched UDP transport unavailable: answering UDP through node:dgram (slower)');
  }
  const syncPersistence = (done?: () => void): void => {
    const records = server.responder.engine?.drainRecords() ?? [];
    if (records.length > 0 && process.connected) process.send?.({ type: 'persist', generation, records } satisfies WorkerMessage, undefined, {}, () => done?.());
    else done?.();
  };
  setInterval(() => syncPersistence(), PERSIST_SYNC_MS).unref();
  // metrics: the query path's counters go to the supervisor as deltas; the query log writes through pino.
  const queryLogSink = (line: object): void => log.info(line, 'query');
  server.responder.metrics.rrl = server.rrl?.stats ?? null;
  server.responder.metrics.udp = () => server.udpStats();
  server.responder.queryLog.configure(loaded.config.queryLog, queryLogSink);
  server.responder.tsig = keyringOf(loaded.config);
  server.responder.leased = leasedNamesOf(loaded.config);
  // ECS grouping (resolverGrouping.ecs): which resolver asked for which client subnet goes up with the counters.
  const ecsGrouping = (on: boolean): void => {
    const engine = server.responder.engine;
    if (engine) engine.ecsSeen = on ? (engine.ecsSeen ?? new EcsObservations()) : null;
  };
  ecsGrouping(loaded.config.resolverGrouping?.ecs !== undefined);
  setInterval(() => {
    if (!process.connected) return;
    const ecs = server.responder.engine?.ecsSeen?.drain();
    process.send?.({ type: 'metrics', generation, delta: server.responder.metrics.snapshotAndReset(), ...(ecs && ecs.length > 0 ? { ecs } : {}) } satisfies WorkerMessage);
  }, METRICS_SHIP_MS).unref();
  /** Only zone images changed: the zones with new layers are swapped in, the policy and live state stay. */
  const swapZones = (m: ZonesMessage): void => {
    let zones: Zone[] | null;
    try {
      zones = relaid(server.responder.snapshot.zones, images.load(m.images));
    } catch (e) {
      process.send?.({ type: 'load-failed', generation: m.generation, errors: `cannot map the compiled zones: ${(e as Error).message}` } satisfies WorkerMessage);
      return;
    }
    if (zones === null) {
      process.send?.({ type: 'load-failed', generation: m.generation, errors: 'the zones changed under a load of zones only', resend: true } satisfies WorkerMessage);
      return;
    }
    generation = m.generation;
    server.swap(new Snapshot(zones, m.generation, server.responder.snapshot.policy));
    process.send?.({ type: 'loaded', generation, zonesOnly: true } satisfies WorkerMessage);
  };
  /** An edit of names and pools, applied to the snapshot of the generation it was made from. */
  const applyPolicy = (m: PolicyMessage): void => {
    let snapshot: Snapshot | null = server.responder.snapshot;
    if (m.images !== undefined) {
      // Names added or removed: their zones' new overlays first, then the edit places the names in them.
      let zones: Zone[] | null = null;
      try {
        zones = relaid(snapshot.zones, images.load(m.images));
      } catch {
        zones = null; // its files are gone (a load long ago): the whole load instead
      }
      snapshot = zones === null ? null : new Snapshot(zones, snapshot.generation, snapshot.policy);
    }
    const r = m.base === generation && snapshot !== null ? applyEdit({ config: loaded.config, snapshot }, m.edit) : null;
    if (r === null || !r.ok) {
      // Another generation (a load this worker did not take), or the layout has no room: the whole load instead.
      process.send?.({ type: 'load-failed', generation: m.generation, errors: r === null ? 'the edit does not apply here' : formatErrors(r.errors), resend: true } satisfies WorkerMessage);
      return;
    }
    syncPersistence();
    generation = m.generation;
    server.swap(new Snapshot(r.snapshot.zones, m.generation, r.snapshot.policy));
    process.send?.({ type: 'loaded', generation, edited: true } satisfies WorkerMessage);
  };
  // Dynamic updates and zone transfers are answered by the supervisor (the store, the journal); this worker relays
  // them and their answers.
  const requests = new Map<number, { reply: (r: Buffer[] | null) => void; timer: NodeJS.Timeout }>();
  let requestId = 0;
  const relay: DeferredHandler = (d, reply) => {
    const failed = (): Buffer[] => [d.kind === 'update' ? updateFailure(d.message, RCODE.SERVFAIL) : errorTo(d.message, RCODE.SERVFAIL)];
    if (!process.connected) return reply(failed());
    const id = ++requestId;
    const timer = setTimeout(() => {
      requests.delete(id);
      log.error({ client: d.client, kind: d.kind }, 'the supervisor did not answer in time: SERVFAIL');
      reply(failed());
    }, d.kind === 'lease' ? LEASE_REQUEST_WAIT_MS : ZONE_REQUEST_WAIT_MS);
    requests.set(id, { reply, timer });
    const key = d.key === null ? null : canonicalName(d.key.name);
    process.send?.({ type: 'zone-request', generation, id, request: { kind: d.kind, message: d.message.toString('base64'), key, client: d.client, tcp: d.transport === TRANSPORT_TCP } } satisfies WorkerMessage);
  };
  server.responder.deferred = relay;
  process.on('message', (m: PrimaryMessage) => {
    if (m.type === 'zone-answer') {
      const u = requests.get(m.id);
      if (u === undefined) return;
      requests.delete(m.id);
      clearTimeout(u.timer);
      u.reply(m.responses.map((r) => Buffer.from(r, 'base64')));
      return;
    }
    if (m.type === 'policy') {
      applyPolicy(m);
      return;
    }
    if (m.type === 'persist') {
      server.responder.engine?.applyRecords(m.records);
      return;
    }
    if (m.type === 'health') {
      server.responder.engine?.applyHealth(m.updates);
      return;
    }
    if (m.type === 'admin') {
      server.responder.engine?.applyAdmin(m.states);
      return;
    }
    if (m.type === 'requests') {
      server.responder.engine?.applyRequestTotals(m.totals);
      return;
    }
    if (m.type === 'ecs-groups') {
      const engine = server.responder.engine;
      if (engine) engine.observedGroups = observedGroupsOf(m.groups);
      return;
    }
    if (m.type === 'explain') {
      const reply: WorkerMessage = { type: 'explained', generation, id: m.id };
      try {
        reply.explanation = explainLive(server.responder, m.request, s.udpPayload);
      } catch (e) {
        reply.error = (e as Error).message;
      }
      process.send?.(reply);
      return;
    }
    if (m.type === 'zones') {
      swapZones(m);
      return;
    }
    if (m.type !== 'load') return;
    let next: Validated;
    try {
      next = compileText(m.config, m.baseDir, m.file, { prebuilt: images.load(m.images) });
    } catch (e) {
      next = { ok: false, errors: [{ path: '', message: `cannot map the compiled zones: ${(e as Error).message}` }] };
    }
    if (!next.ok) {
      process.send?.({ type: 'load-failed', generation: m.generation, errors: formatErrors(next.errors) } satisfies WorkerMessage);
      return;
    }
    // Changes persistence made under the old snapshot are described with its names: send them first.
    syncPersistence();
    generation = m.generation;
    server.swap(next.snapshot);
    loaded = settingsOf(next.loaded);
    setImmediate(releaseAfterLoad); // the old snapshot and this message are garbage once the handler returns
    server.responder.queryLog.configure(next.loaded.config.queryLog, queryLogSink); // metrics
    server.responder.tsig = keyringOf(next.loaded.config);
    server.responder.leased = leasedNamesOf(next.loaded.config);
    ecsGrouping(next.loaded.config.resolverGrouping?.ecs !== undefined);
    process.send?.({ type: 'loaded', generation } satisfies WorkerMessage);
  });
  // The UDP transport in use (batched or dgram), for the supervisor's "ready" line.
  process.send?.({ type: 'ready', generation, udp: [...new Set(server.udp.map((u) => u.transport))].join(',') } satisfies WorkerMessage);
  return new Promise<number>((resolve) => {
    process.on('SIGTERM', () => syncPersistence(() => { void server.close().then(() => resolve(0)); }));
    process.on('disconnect', () => { void server.close().then(() => resolve(0)); });
  });
}

/**
 * `zones` with the layers of `layers` (by zone index, as the load that made them listed them): a zone whose layers
 * are unchanged is kept as it is; null when they do not correspond (another list of zones), or when a zone holding
 * policy names has a new image: its slots are numbered as that compilation placed the names, which edits laid over
 * the old image may have numbered otherwise (the whole load places them again).
 */
function relaid(zones: readonly Zone[], layers: ReadonlyMap<number, ZoneLayers>): Zone[] | null {
  if (layers.size !== zones.length) return null;
  const out: Zone[] = [];
  for (let i = 0; i < zones.length; i++) {
    const old = zones[i]!;
    const l = layers.get(i);
    if (l === undefined || l.image.origin !== old.image.origin) return null;
    if (l.image !== old.image && old.policies.some((p) => p !== null)) return null;
    out.push(l.image === old.image && l.overlay === old.overlay ? old : old.relaid(l));
  }
  return out;
}

/**
 * What a worker keeps of its configuration besides the snapshot: the settings, not the zones, names and pools that
 * were compiled into it (their parsed form is most of a large configuration).
 */
/** The configuration's TSIG keys, or null without any. */
/** The names the lease book answers (null without any: the query path then checks nothing). */
export function leasedNamesOf(config: LoadedConfig['config']): LeasedNames | null {
  return config.leasedNames.length > 0 ? new LeasedNames(config.leasedNames.map((n) => n.name)) : null;
}

export function keyringOf(config: LoadedConfig['config']): TsigKeyring | null {
  return config.keys && config.keys.length > 0 ? new TsigKeyring(config.keys) : null;
}

function settingsOf(loaded: LoadedConfig): LoadedConfig {
  return { config: { ...loaded.config, zones: [], names: [], pools: [] }, zones: [], file: loaded.file };
}
