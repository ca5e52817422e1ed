// `npm run bench:dispatcher` (issue 13): the L4 dispatcher against HAProxy (`mode tcp`, one thread, the same
// backends) and against no proxy at all, in one run on this machine:
//   1. wrk requests/s (Waymark and HAProxy alternated twice, after a warm-up) with a new connection per request (Connection: close) and with keep-alive, to two small HTTP
//      backends: direct, through Waymark's dispatcher, through HAProxy (targets: >= 0.5 x HAProxy's rate with new
//      connections);
//   2. bulk MB/s: wrk fetching an 8 MB body over 4 keep-alive connections (target: >= 0.7 x HAProxy's MB/s);
//   3. UDP datagrams/s: dnsperf through the dispatcher to Waymark's own DNS listener, over dnsperf direct;
//   4. the DNS query path beside the dispatcher: dnsperf q/s of a fresh server with an idle dispatcher, over a fresh
//      server without one (ABAB); and while wrk loads the dispatcher, over while wrk loads HAProxy (the anchor: the same
//      proxy work, outside Waymark's process tree).
// Bounded: each wrk/dnsperf run lasts DISPATCH_SECONDS (default 5); everything started is stopped at the end.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { envNumber, freePort, haveDnsperf, qps, serve, stop } from './lib.mjs';

const SECONDS = envNumber('DISPATCH_SECONDS', 5);
const CONNS = envNumber('DISPATCH_CONNECTIONS', 32);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'waymark-bench-dispatch-'));
const running = [];
const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** A small HTTP backend in its own process: "/" answers "ok", "/bulk" an 8 MB body. */
function backend(address, port) {
  const code = `const big = Buffer.alloc(8 << 20, 120);
require('http').createServer((q, s) => { if (q.url === '/bulk') { s.setHeader('content-length', big.length); s.end(big); } else { s.setHeader('content-length', 2); s.end('ok'); } }).listen(${port}, '${address}', () => console.log('listening'));
setTimeout(() => process.exit(0), 15 * 60 * 1000);`;
  const proc = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  running.push(proc);
  return new Promise((resolve) => proc.stdout.once('data', () => resolve(proc)));
}

/** wrk for SECONDS: requests/s and transfer MB/s. */
function wrk(url, { close = false, connections = CONNS, seconds = SECONDS } = {}) {
  const args = ['-t', '1', '-c', String(connections), '-d', `${seconds}s`, '--timeout', '5s', ...(close ? ['-H', 'Connection: close'] : []), url];
  const r = spawnSync('wrk', args, { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout);
  const tr = /Transfer\/sec:\s+([\d.]+)([KMG]?B)/.exec(r.stdout);
  if (!rps || !tr) throw new Error(`wrk printed no rate for ${url}:\n${r.stdout}\n${r.stderr}`);
  const unit = { B: 1e-6, KB: 1024 / 1e6, MB: 1024 * 1024 / 1e6, GB: 1024 ** 3 / 1e6 }[tr[2]];
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(r.stdout);
  return { rps: Number(rps[1]), mbps: Number(tr[1]) * unit, errors: errors ? errors[0] : null };
}

function haproxyConfig(listen, servers) {
  return `global
  nbthread 1
  maxconn 8000
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend f
  bind ${listen}
  default_backend b
backend b
  balance roundrobin
${servers.map((s, i) => `  server s${i} ${s}`).join('\n')}
`;
}

function startHaproxy(cfgText) {
  const cfg = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(cfg, cfgText);
  const proc = spawn('haproxy', ['-f', cfg, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
  running.push(proc);
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  return new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`haproxy exited (${code}):\n${err}`)));
    setTimeout(() => resolve(proc), 500);
  });
}

const ratio = (a, b) => (b > 0 ? (a / b).toFixed(2) : '-');
const fmt = (n) => Math.round(n).toLocaleString('en-US');

async function main() {
  for (const tool of ['wrk', 'haproxy']) {
    if (!have(tool)) { console.log(`bench:dispatcher: ${tool} is not installed (apt-get install ${tool}); nothing measured`); return; }
  }
  const bport = await freePort();
  const backends = ['127.0.15.2', '127.0.15.3'].map((a) => `${a}:${bport}`);
  await Promise.all(['127.0.15.2', '127.0.15.3'].map((a) => backend(a, bport)));
  const [dnsPort, wmPort, udpPort, haPort, plainDns] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const zone = `zones:
  - origin: bench.test
    ns: [ns1]
    records: [ { name: ns1, type: A, value: 127.0.0.53 }, { name: www, type: A, value: 192.0.2.1 } ]`;
  const cfg = path.join(dir, 'waymark.yaml');
  fs.writeFileSync(cfg, `server: { listen: ["127.0.0.1:${dnsPort}"], workers: 1, rrl: { enabled: false } }
${zone}
dispatcher:
  clusters:
    - address: 127.0.15.1
      ports:
        - port: ${wmPort}
          method: round-robin
          daemons: [ ${backends.map((b) => `{ address: ${b.split(':')[0]}, port: ${bport} }`).join(', ')} ]
        - port: ${udpPort}
          protocol: udp
          daemons: [ { address: 127.0.0.1, port: ${dnsPort} } ]
`);
  const plainCfg = path.join(dir, 'plain.yaml');
  fs.writeFileSync(plainCfg, `server: { listen: ["127.0.0.1:${plainDns}"], workers: 1, rrl: { enabled: false } }\n${zone}\n`);
  // A second server like the first, started fresh for the idle comparison (the first has carried the whole load).
  const [idleDns, idleTcp, idleUdp] = [await freePort(), await freePort(), await freePort()];
  const idleCfg = path.join(dir, 'idle.yaml');
  fs.writeFileSync(idleCfg, fs.readFileSync(cfg, 'utf8').replace(`127.0.0.1:${dnsPort}"`, `127.0.0.1:${idleDns}"`).replace(`port: ${wmPort}`, `port: ${idleTcp}`).replace(`port: ${udpPort}`, `port: ${idleUdp}`).replace('address: 127.0.15.1', 'address: 127.0.15.9'));
  const wm = await serve(cfg);
  running.push(wm);
  await startHaproxy(haproxyConfig(`127.0.15.1:${haPort}`, backends));
  const direct = `http://${backends[0]}`;
  const viaWm = `http://127.0.15.1:${wmPort}`;
  const viaHa = `http://127.0.15.1:${haPort}`;
  console.log(`bench:dispatcher: ${SECONDS} s per run, wrk -t1 -c${CONNS}; HAProxy ${spawnSync('haproxy', ['-v'], { encoding: 'utf8' }).stdout.split('\n')[0].split(' ').slice(0, 3).join(' ')}, nbthread 1, mode tcp`);
  // Warm-up (JIT, connection pools of the kernel) so that the first measured run is not the coldest.
  wrk(viaWm, { close: true, seconds: 1 });
  wrk(viaHa, { close: true, seconds: 1 });
  for (const [label, opts, path_] of [['new connection per request', { close: true }, '/'], ['keep-alive', {}, '/'], ['bulk 8 MB bodies (4 connections)', { connections: 4 }, '/bulk']]) {
    const bulk = path_ === '/bulk';
    const rate = (r) => (bulk ? r.mbps : r.rps);
    // Waymark and HAProxy alternated (ABAB): the machine's drift falls on both.
    const d = wrk(direct + path_, opts);
    const w1 = wrk(viaWm + path_, opts);
    const h1 = wrk(viaHa + path_, opts);
    const w2 = wrk(viaWm + path_, opts);
    const h2 = wrk(viaHa + path_, opts);
    const w = (rate(w1) + rate(w2)) / 2;
    const h = (rate(h1) + rate(h2)) / 2;
    const v = (x) => (bulk ? `${x.toFixed(0)} MB/s` : `${fmt(x)} req/s`);
    const errors = [w1.errors, w2.errors].filter(Boolean).join('; ');
    console.log(`  ${label}: direct ${v(rate(d))}, Waymark ${v(w)}, HAProxy ${v(h)}; Waymark/HAProxy ${ratio(w, h)} (runs ${ratio(rate(w1), rate(h1))}, ${ratio(rate(w2), rate(h2))}), Waymark/direct ${ratio(w, rate(d))}${errors ? ` (Waymark: ${errors})` : ''}`);
  }
  if (haveDnsperf()) {
    const d = qps(dnsPort, 'www.bench.test', SECONDS, dir);
    const u = qps(udpPort, 'www.bench.test', SECONDS, dir, '127.0.15.1');
    console.log(`  UDP through the dispatcher (dnsperf to Waymark's DNS): ${fmt(u)} datagrams answered/s, direct ${fmt(d)} q/s; ratio ${ratio(u, d)}`);
    const plain = await serve(plainCfg);
    running.push(plain);
    const idle = await serve(idleCfg);
    running.push(idle);
    const idleWith = qps(idleDns, 'www.bench.test', SECONDS, dir);
    const without = qps(plainDns, 'www.bench.test', SECONDS, dir);
    const idleWith2 = qps(idleDns, 'www.bench.test', SECONDS, dir);
    const without2 = qps(plainDns, 'www.bench.test', SECONDS, dir);
    console.log(`  DNS q/s with an idle dispatcher / without one (ABAB): ${ratio(idleWith + idleWith2, without + without2)} (${fmt((idleWith + idleWith2) / 2)} vs ${fmt((without + without2) / 2)})`);
    const loadedWm = await whileLoaded(viaWm, () => qps(dnsPort, 'www.bench.test', SECONDS, dir));
    const loadedHa = await whileLoaded(viaHa, () => qps(dnsPort, 'www.bench.test', SECONDS, dir));
    console.log(`  DNS q/s while wrk loads Waymark's dispatcher / while it loads HAProxy (same load outside the tree): ${ratio(loadedWm, loadedHa)} (${fmt(loadedWm)} vs ${fmt(loadedHa)})`);
  } else console.log('  dnsperf is not installed: UDP and DNS-beside-dispatcher parts skipped');
}

/** Run `measure` while wrk (new connections, 8 of them) loads `url` for its whole length. */
async function whileLoaded(url, measure) {
  const load = spawn('wrk', ['-t', '1', '-c', '8', '-d', `${SECONDS + 2}s`, '-H', 'Connection: close', url], { stdio: 'ignore', timeout: (SECONDS + 30) * 1000 });
  running.push(load);
  await new Promise((r) => setTimeout(r, 500));
  const v = measure();
  await new Promise((r) => load.on('close', r));
  return v;
}

try {
  await main();
} finally {
  for (const p of running.reverse()) await stop(p);
  fs.rmSync(dir, { recursive: true, force: true });
}
