// Helpers the benchmarks share: loopback ports, one DNS question, starting and stopping a real `waymark serve`,
// dnsperf's q/s, and the persistence write rate of a store. Everything is bounded by a timeout.
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import dnsPacket from 'dns-packet';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
export const dist = (p) => import(path.join(ROOT, 'dist', 'src', p));

/** A free loopback TCP port (UDP on the same number is free in practice on a test machine; the server says if not). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** One UDP query to 127.0.0.1:`port`; the decoded answer, or null after `timeoutMs`. */
export function ask(port, name, timeoutMs = 500) {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => { s.close(); resolve(null); }, timeoutMs);
    s.on('message', (m) => { clearTimeout(timer); s.close(); try { resolve(dnsPacket.decode(m)); } catch { resolve(null); } });
    s.send(dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] }), port, '127.0.0.1');
  });
}

/** `waymark serve --config cfg`, resolved once it logs "ready" (rejected after `readyMs`, the process killed). */
export function serve(cfg, { env = {}, readyMs = 60_000 } = {}) {
  const proc = spawn(process.execPath, [CLI, 'serve', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  proc.stderr.on('data', (d) => { err = (err + d).slice(-4000); });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`${cfg}: no "ready" within ${readyMs / 1000} s\n${err}`)); }, readyMs);
    proc.stdout.on('data', (d) => {
      out = (out + d).slice(-4096);
      if (/"msg":"ready"/.test(out)) { clearTimeout(timer); proc.stdout.resume(); out = ''; resolve(proc); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${cfg}: waymark exited (${code}) before "ready"\n${err}`)); });
  });
}

/** SIGTERM, then SIGKILL after 10 s. */
export function stop(proc) {
  return new Promise((resolve) => {
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return resolve();
    const kill = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    proc.once('exit', () => { clearTimeout(kill); resolve(); });
    proc.kill('SIGTERM');
  });
}

export const haveDnsperf = () => spawnSync('sh', ['-c', 'command -v dnsperf'], { stdio: 'ignore' }).status === 0;

/** dnsperf for `seconds` asking `name` at `host`:`port` (default 127.0.0.1); q/s, or null without dnsperf. */
export function qps(port, name, seconds, dir, host = '127.0.0.1') {
  if (!haveDnsperf()) return null;
  const input = path.join(dir, `dnsperf-${port}.txt`);
  fs.writeFileSync(input, `${name} A\n`);
  const r = spawnSync('dnsperf', ['-s', host, '-p', String(port), '-d', input, '-l', String(seconds), '-c', '1', '-q', '200', '-b', '2048'], { encoding: 'utf8', timeout: (seconds + 20) * 1000 });
  const m = /Queries per second:\s+([\d.]+)/.exec(r.stdout);
  if (!m) throw new Error(`dnsperf printed no q/s:\n${(r.stderr || r.stdout).slice(-2000)}`);
  return Number(m[1]);
}

/** p-th percentile (0..100) of sorted numbers. */
export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Batch i of `size` persistence records for distinct resolvers of 100 names, as a node's writer sends them. */
function recordBatch(i, size, t0) {
  const out = [];
  for (let k = 0; k < size; k++) {
    const n = i * size + k;
    out.push({ name: `n${n % 100}.example.test.`, key: n, keyText: `198.51.${(n >> 8) & 255}.${n & 255}/32`, pool: `p${n % 100}`, member: `10.0.${(n >> 8) & 255}.${n & 255}`, ts: t0 + n, ttlMs: 600_000, hits: 1 });
  }
  return out;
}

/**
 * Persistence records written to `store` per second: `records` in batches of `batch`, each one durable transaction
 * with its feed entry, for at most `limitMs`; checked by loading them back. Prints one line and returns the rate.
 */
export async function persistenceRate(label, store, { records, batch, limitMs }) {
  const t0 = Date.now();
  const batches = Math.ceil(records / batch);
  const start = performance.now();
  const lat = [];
  let written = 0;
  for (let i = 0; i < batches && performance.now() - start < limitMs; i++) {
    const b = recordBatch(i, batch, t0);
    const t = performance.now();
    await store.savePersistence(b);
    lat.push(performance.now() - t);
    written += b.length;
  }
  const s = (performance.now() - start) / 1000;
  const loaded = (await store.loadPersistence(t0)).length;
  if (loaded !== written) throw new Error(`${label}: wrote ${written} records, loads ${loaded}`);
  lat.sort((a, b) => a - b);
  const rate = written / s;
  console.log(`  ${label}: ${written.toLocaleString()} records in ${s.toFixed(1)} s: ${Math.round(rate).toLocaleString()} records/s; per batch of ${batch.toLocaleString()} p50 ${lat[lat.length >> 1].toFixed(0)} ms, max ${lat[lat.length - 1].toFixed(0)} ms`);
  return rate;
}

/** `pid` and its descendants, parents before children. */
export function processTree(pid) {
  const out = [];
  const walk = (p) => {
    out.push(p);
    const r = spawnSync('pgrep', ['-P', String(p)], { encoding: 'utf8' });
    for (const k of r.stdout.split('\n').filter(Boolean).map(Number)) walk(k);
  };
  walk(pid);
  return out;
}

/** CPU seconds (user + system) used so far by a process and each of its descendants, in tree order. */
export function treeCpu(pid) {
  const hz = 100; // USER_HZ on Linux
  const out = [];
  for (const p of processTree(pid)) {
    try {
      const st = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      out.push((Number(f[11]) + Number(f[12])) / hz);
    } catch { /* gone meanwhile */ }
  }
  return out;
}

/**
 * A process that is not Waymark spinning `busyMs` every `everyMs` for `seconds` (the anchor of a "same CPU, no
 * Waymark" run); `done` resolves when it exits. Bounded: killed `seconds` + 10 s after it starts.
 */
export function burn(busyMs, everyMs, seconds) {
  const code = `const end = Date.now() + ${seconds * 1000}; const tick = () => { const t = performance.now(); while (performance.now() - t < ${busyMs}); if (Date.now() < end) setTimeout(tick, Math.max(0, ${everyMs} - (performance.now() - t))); }; tick();`;
  const proc = spawn(process.execPath, ['-e', code], { stdio: 'ignore', timeout: (seconds + 10) * 1000, killSignal: 'SIGKILL' });
  return { proc, done: new Promise((resolve) => proc.on('close', () => resolve())) };
}

/** A positive number from environment variable `name` (default `def`); anything else stops the bench, naming it. */
export function envNumber(name, def) {
  const v = Number(process.env[name] ?? def);
  if (!(v > 0)) throw new Error(`${name} must be a positive number`);
  return v;
}
