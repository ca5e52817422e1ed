// `npm run bench:failover`: time from killing a backend to the DNS answer changing, 10 times, interval 1 s.
// Owns: the measurement only (real HTTP backends on 127.0.5.x, the real CLI, real DNS queries over loopback).
// Bounded: 10 rounds, each capped at 10 s; everything it starts is stopped on exit.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import dnsPacket from 'dns-packet';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.FAILOVER_ROUNDS ?? 10);
const DNS_PORT = 5398;
const FALL = Number(process.env.FAILOVER_FALL ?? 1);

function backend(address, port) {
  const s = http.createServer((_q, r) => r.end('ok'));
  return { start: () => new Promise((res) => s.listen(port, address, res)), stop: () => new Promise((res) => { s.closeAllConnections(); s.close(() => res()); }) };
}

function ask(name) {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    const t = setTimeout(() => { sock.close(); resolve(null); }, 500);
    sock.on('message', (m) => { clearTimeout(t); sock.close(); resolve(dnsPacket.decode(m).answers?.[0]?.data ?? null); });
    sock.send(dnsPacket.encode({ type: 'query', id: 1, questions: [{ type: 'A', name }] }), DNS_PORT, '127.0.0.1');
  });
}

async function until(pred, limitMs) {
  const start = performance.now();
  for (;;) {
    if (pred(await ask('www.failover.test'))) return performance.now() - start;
    if (performance.now() - start > limitMs) throw new Error('answer did not change in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'waymark-failover-'));
const cfg = path.join(dir, 'failover.yaml');
fs.writeFileSync(cfg, `
server: { listen: ["127.0.0.1:${DNS_PORT}"], workers: 1, rrl: { enabled: false } }
zones: [ { origin: failover.test, ns: [ns1], records: [ { name: ns1, type: A, value: 127.0.0.53 } ] } ]
monitors: [ { name: web, type: http, path: /health, interval: 1s, timeout: 300ms, rise: 1, fall: ${FALL} } ]
names: [ { name: www.failover.test, ttl: 1, pools: [p] } ]
pools: [ { name: p, select: [global-availability], monitor: web, members: [ { address: 127.0.5.1, port: 18099 }, { address: 127.0.5.2, port: 18099 } ] } ]
`);
const a = backend('127.0.5.1', 18099);
const b = backend('127.0.5.2', 18099);
await a.start();
await b.start();
const server = spawn(process.execPath, [path.join(ROOT, 'dist/src/cli/main.js'), 'serve', '--config', cfg], { stdio: ['ignore', 'pipe', 'inherit'] });
process.on('exit', () => server.kill('SIGKILL'));
await new Promise((resolve, reject) => {
  server.stdout.on('data', (d) => { if (d.toString().includes('"msg":"ready"')) resolve(); });
  server.on('exit', (c) => reject(new Error(`waymark exited ${c}`)));
});
const times = [];
try {
  await until((x) => x === '127.0.5.1', 10_000);
  for (let i = 0; i < ROUNDS; i++) {
    // Kill at a random point of the probe cycle, as a real failure would.
    await new Promise((r) => setTimeout(r, Math.random() * 1000));
    const killedAt = performance.now();
    await a.stop();
    await until((x) => x === '127.0.5.2', 10_000);
    times.push(performance.now() - killedAt);
    await a.start();
    await until((x) => x === '127.0.5.1', 10_000);
  }
} finally {
  server.kill('SIGTERM');
  await a.stop().catch(() => {});
  await b.stop().catch(() => {});
  fs.rmSync(dir, { recursive: true, force: true });
}
const sorted = [...times].sort((x, y) => x - y);
// The median of any number of rounds (FAILOVER_ROUNDS): the middle one, or the mean of the middle two.
const mid = sorted.length >> 1;
const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
console.log(`kill → answer changed, ${ROUNDS} rounds, interval 1 s, timeout 300 ms, fall ${FALL}:`);
console.log(`  median ${median.toFixed(0)} ms, min ${sorted[0].toFixed(0)} ms, max ${sorted.at(-1).toFixed(0)} ms`);
console.log(`  all: ${times.map((t) => t.toFixed(0)).join(', ')}`);
process.exit(0);
