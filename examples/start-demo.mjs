// `npm start`: two demo web backends on loopback plus `waymark serve --config examples/demo.yaml`.
// Stop a backend to watch failover:   curl -s http://127.0.0.1:18001/stop    (and /start to bring it back)
// Everything stays on 127.0.0.1; Ctrl-C stops all of it.
import crypto from 'node:crypto';
import http from 'node:http';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A backend: /health answers "ok" while running; /stop and /start toggle it (the control port stays open). */
function backend(name, port) {
  let running = true;
  const server = http.createServer((req, res) => {
    if (req.url === '/stop') { running = false; return void res.end(`${name}: stopped (health checks now fail)\n`); }
    if (req.url === '/start') { running = true; return void res.end(`${name}: started\n`); }
    if (!running) { res.statusCode = 503; return void res.end('down\n'); }
    res.end(req.url === '/health' ? 'ok\n' : `hello from ${name}\n`);
  });
  server.listen(port, '127.0.0.1', () => console.log(`demo backend ${name} on http://127.0.0.1:${port} (stop: curl -s http://127.0.0.1:${port}/stop)`));
  return server;
}

const servers = [backend('site-a', 18001), backend('site-b', 18002)];
// A one-off admin token for the demo's dashboard and API (accepted only while this process runs).
const token = process.env.WAYMARK_BOOTSTRAP_TOKEN ?? `demo-${crypto.randomBytes(12).toString('hex')}`;
console.log(`dashboard: http://127.0.0.1:8053/  (admin token for this run: ${token})`);
const waymark = spawn(process.execPath, [path.join(root, 'dist/src/cli/main.js'), 'serve', '--config', path.join(root, 'examples/demo.yaml')], {
  stdio: 'inherit', cwd: root, env: { ...process.env, WAYMARK_BOOTSTRAP_TOKEN: token },
});
const stop = () => { waymark.kill('SIGTERM'); for (const s of servers) s.close(); };
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
waymark.on('exit', (code) => { for (const s of servers) s.close(); process.exit(code ?? 0); });
