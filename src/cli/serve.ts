// `waymark serve`: a supervisor process and N workers sharing the listening sockets (node:cluster).
// Owns: process roles, config loading at start and on reload (SIGHUP), replacing dead workers, shutdown.
// The supervisor validates a config before any worker sees it, so a bad reload never reaches the query path.
import cluster, { type Worker } from 'node:cluster';
import fs from 'node:fs';
import { pino } from 'pino';
import { loadConfigFile, configFromZoneFiles, compileSnapshot, type LoadedConfig, type Result } from '../config/load.js';
import { formatErrors } from '../config/schema.js';
import { DnsServer } from '../dns/server.js';
import type { Responder } from '../dns/responder.js';
import { openStore, PersistenceWriter, STORE_FILE, type Store, type AdminRecord } from '../state/store.js';
import { HealthService } from '../health/service.js';
import type { MemberHealth } from '../health/verdict.js';
import type { PersistRecord } from '../answer/persistence.js';
import path from 'node:path';

/** Where a configuration comes from; sent to workers so each loads and compiles its own snapshot. */
export type ConfigSource =
  | { kind: 'file'; file: string }
  | { kind: 'zones'; zones: string[]; listen: string[]; workers?: number };

export function loadSource(source: ConfigSource): Result<LoadedConfig> {
  return source.kind === 'file' ? loadConfigFile(source.file) : configFromZoneFiles(source.zones, source.listen, source.workers);
}

interface WorkerMessage { type: 'ready' | 'loaded' | 'load-failed' | 'persist'; generation: number; errors?: string; records?: PersistRecord[] }
type PrimaryMessage =
  | { type: 'load'; generation: number }
  | { type: 'persist'; records: PersistRecord[] }
  | { type: 'health'; updates: MemberHealth[] }
  | { type: 'admin'; states: AdminRecord[] };

/** How often a worker hands its changed persistence records to the supervisor (and so to the other workers). */
const PERSIST_SYNC_MS = 100;

/** The store directory of a configuration (relative to the config file), or null when state is memory-only. */
export function storeDir(loaded: LoadedConfig): string | null {
  const s = loaded.config.store;
  if (!s) return null;
  return path.resolve(loaded.file ? path.dirname(path.resolve(loaded.file)) : process.cwd(), s.path);
}

/** Load persistence records saved by earlier runs into a responder's engine (start-up and explain; never per query). */
export function loadPersistedRecords(loaded: LoadedConfig, responder: Responder): number {
  const dir = storeDir(loaded);
  if (!dir || !responder.engine || !fs.existsSync(path.join(dir, STORE_FILE))) return 0;
  const store = openStore(dir, { readonly: true });
  try {
    return responder.engine.applyRecords(store.loadPersistence(Date.now()));
  } finally {
    store.close();
  }
}

const log = pino({ base: { pid: process.pid, role: cluster.isPrimary ? 'supervisor' : 'worker' } });

export interface ServeFlags { workers?: number; pidFile?: string }

/** Entry for the `serve` command in the supervisor. Returns the process exit code when it stops. */
export async function serve(source: ConfigSource, flags: ServeFlags): Promise<number> {
  if (!cluster.isPrimary) return runWorker(source);
  const first = loadAndCompile(source, 1);
  if (!first.ok) {
    process.stderr.write(`waymark: configuration has errors:\n${formatErrors(first.errors)}\n`);
    return 1;
  }
  const server = first.value.config.server;
  const workers = flags.workers ?? server.workers;
  const pidFile = flags.pidFile ?? server.pidFile;
  if (pidFile) fs.writeFileSync(pidFile, `${process.pid}\n`);
  // The supervisor is the single writer of the store; workers send it their changes in batches.
  const dir = storeDir(first.value);
  let store: Store | null = null;
  let writer: PersistenceWriter | null = null;
  if (dir) {
    try {
      store = openStore(dir);
    } catch (e) {
      process.stderr.write(`waymark: store: ${(e as Error).message}\n`);
      return 1;
    }
    writer = new PersistenceWriter(store, { onError: (err) => log.error({ err: err.message }, 'persistence write failed; will retry') });
    const purge = setInterval(() => { try { store?.purgeExpired(Date.now()); } catch (e) { log.error({ err: (e as Error).message }, 'purge failed'); } }, 60_000);
    purge.unref();
  }
  const broadcast = (msg: PrimaryMessage): void => {
    for (const w of Object.values(cluster.workers ?? {})) if (w?.isConnected()) w.send(msg);
  };
  // Health: probes run here (and in joined probers), never in workers; workers get verdicts as they change.
  const health = new HealthService(first.value.config, {
    store,
    onHealth: (updates) => broadcast({ type: 'health', updates }),
    onAdmin: (states) => broadcast({ type: 'admin', states }),
    log: (level, fields, msg) => log[level](fields, msg),
  });
  try {
    await health.start();
  } catch (e) {
    process.stderr.write(`waymark: health: ${(e as Error).message}\n`);
    return 1;
  }
  // Every worker accepts on the shared sockets itself, rather than the supervisor handing out connections.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({ serialization: 'json' });
  let generation = 1;
  let stopping = false;
  const ready = new Set<number>();
  let announced = false;
  const recentDeaths: number[] = [];

  const fork = (): void => {
    const w = cluster.fork({ WAYMARK_WORKER_SOURCE: JSON.stringify(source), WAYMARK_GENERATION: String(generation) });
    w.on('message', (m: WorkerMessage) => onWorkerMessage(w, m));
  };
  const onWorkerMessage = (w: Worker, m: WorkerMessage): void => {
    if (m.type === 'ready') {
      ready.add(w.id);
      w.send({ type: 'health', updates: health.health() } satisfies PrimaryMessage);
      w.send({ type: 'admin', states: health.admin() } satisfies PrimaryMessage);
      if (!announced && ready.size >= workers) {
        announced = true;
        log.info({ listen: server.listen.map((l) => (l.host.includes(':') ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`)), workers, generation }, 'ready');
      }
    } else if (m.type === 'persist' && m.records) {
      writer?.push(m.records);
      const relay: PrimaryMessage = { type: 'persist', records: m.records };
      for (const other of Object.values(cluster.workers ?? {})) if (other && other.id !== w.id && other.isConnected()) other.send(relay);
    } else if (m.type === 'loaded') {
      log.info({ worker: w.process.pid, generation: m.generation }, 'worker swapped snapshot');
      // The new snapshot may have new members: give it the whole health picture.
      w.send({ type: 'health', updates: health.health() } satisfies PrimaryMessage);
      w.send({ type: 'admin', states: health.admin() } satisfies PrimaryMessage);
    } else if (m.type === 'load-failed') {
      log.error({ worker: w.process.pid, generation: m.generation, errors: m.errors }, 'worker kept its previous snapshot');
    }
  };
  cluster.on('exit', (w, code, signal) => {
    ready.delete(w.id);
    if (stopping) return;
    log.warn({ worker: w.process.pid, code, signal }, 'worker died; starting a replacement');
    const now = Date.now();
    recentDeaths.push(now);
    while (recentDeaths.length > 0 && recentDeaths[0]! < now - 10_000) recentDeaths.shift();
    // A crash loop (bad host state, not bad config: config was validated) backs off instead of spinning.
    const delay = recentDeaths.length > 5 ? 1000 : 0;
    setTimeout(() => { if (!stopping) fork(); }, delay);
  });
  for (let i = 0; i < workers; i++) fork();

  const reload = (): void => {
    const next = loadAndCompile(source, generation + 1);
    if (!next.ok) {
      log.error({ errors: formatErrors(next.errors) }, 'reload rejected: configuration has errors; still serving the previous one');
      return;
    }
    generation++;
    health.reload(next.value.config);
    broadcast({ type: 'load', generation });
    log.info({ generation }, 'reload accepted');
  };
  process.on('SIGHUP', reload);

  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping');
      for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
      if (pidFile) fs.rmSync(pidFile, { force: true });
      const finish = (): void => {
        void health.close();
        writer?.close();
        store?.close();
        resolve(0);
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

function loadAndCompile(source: ConfigSource, generation: number): Result<LoadedConfig> {
  const loaded = loadSource(source);
  if (!loaded.ok) return loaded;
  const compiled = compileSnapshot(loaded.value, generation);
  if (!compiled.ok) return compiled;
  return loaded;
}

async function runWorker(source: ConfigSource): Promise<number> {
  const loaded = loadSource(source);
  if (!loaded.ok) {
    log.error({ errors: formatErrors(loaded.errors) }, 'worker could not load configuration');
    return 1;
  }
  let generation = Number(process.env.WAYMARK_GENERATION ?? '1');
  const compiled = compileSnapshot(loaded.value, generation);
  if (!compiled.ok) {
    log.error({ errors: formatErrors(compiled.errors) }, 'worker could not compile configuration');
    return 1;
  }
  const s = loaded.value.config.server;
  const server = await DnsServer.start(compiled.value, {
    listen: s.listen, udpPayload: s.udpPayload, rrl: s.rrl, exclusive: false, maxPersistenceRecords: loaded.value.config.persistence.maxRecords,
    tcp: { idleTimeoutMs: s.tcp.idleTimeout, maxConnections: s.tcp.maxConnections, maxQueriesPerConnection: s.tcp.maxQueriesPerConnection },
  });
  loadPersistedRecords(loaded.value, server.responder);
  const syncPersistence = (done?: () => void): void => {
    const records = server.responder.engine?.drainRecords() ?? [];
    if (records.length > 0 && process.connected) process.send?.({ type: 'persist', generation, records } satisfies WorkerMessage, undefined, {}, () => done?.());
    else done?.();
  };
  setInterval(() => syncPersistence(), PERSIST_SYNC_MS).unref();
  process.on('message', (m: PrimaryMessage) => {
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
    if (m.type !== 'load') return;
    const next = loadSource(source);
    const snap = next.ok ? compileSnapshot(next.value, m.generation) : next;
    if (!snap.ok) {
      process.send?.({ type: 'load-failed', generation: m.generation, errors: formatErrors(snap.errors) } satisfies WorkerMessage);
      return;
    }
    generation = m.generation;
    server.swap(snap.value);
    process.send?.({ type: 'loaded', generation } satisfies WorkerMessage);
  });
  process.send?.({ type: 'ready', generation } satisfies WorkerMessage);
  return new Promise<number>((resolve) => {
    process.on('SIGTERM', () => syncPersistence(() => { void server.close().then(() => resolve(0)); }));
    process.on('disconnect', () => { void server.close().then(() => resolve(0)); });
  });
}

/** In a worker: the source the supervisor passed down. */
export function workerSource(): ConfigSource | undefined {
  const raw = process.env.WAYMARK_WORKER_SOURCE;
  return raw ? (JSON.parse(raw) as ConfigSource) : undefined;
}
