// `npm run bench:update` (issue 12): the dynamic update path and zone transfer, on real `waymark serve` processes.
//   1. updates/s: TSIG-signed UPDATEs (each adds one A record), UPDATE_WINDOW in flight, UPDATE_COUNT of them
//      (default 2000), each answered only once committed and served by every worker; on SQLite and on PostgreSQL
//      (embedded, loopback); with p50/p99 of the time to NOERROR.
//   2. q/s while updates stream in at UPDATE_RATE/s (default 100), over q/s without them, same run, alternated twice
//      (ABAB) on one server (target >= 0.9). Needs dnsperf; without it that part is skipped, saying so.
//   3. AXFR of a zone of AXFR_RECORDS records (default 100,000) with kdig and TSIG: time, and the peak RSS the
//      supervisor and worker grew by meanwhile.
// Bounded: every UPDATE waits at most 5 s, dnsperf runs UPDATE_QPS_S seconds (default 5); everything started here is
// stopped at the end, also after an error.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { burn, dist, freePort, haveDnsperf, percentile, serve, stop, treeCpu, envNumber } from './lib.mjs';

const { signRequest, TsigKeyring } = await dist('wire/tsig.js');
const { encodeName } = await dist('wire/name.js');
const { startEmbeddedPostgres } = await dist('state/embedded-postgres.js');

const num = envNumber;
const COUNT = num('UPDATE_COUNT', 2000);
const WINDOW = num('UPDATE_WINDOW', 8);
const RATE = num('UPDATE_RATE', 100);
const QPS_S = num('UPDATE_QPS_S', 5);
const AXFR_RECORDS = num('AXFR_RECORDS', 100_000);
const SECRET = crypto.randomBytes(32).toString('base64');
const KEY = new TsigKeyring([{ name: 'ddns', algorithm: 'hmac-sha256', secret: SECRET }]).find(Buffer.from(encodeName('ddns')));

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'waymark-bench-update-'));
const running = [];

async function server(name, store, zoneFile, workers = 1) {
  const port = await freePort();
  const cfg = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(cfg, `server: { listen: ["127.0.0.1:${port}"], workers: ${workers}, rrl: { enabled: false } }
store: ${store}
keys: [{ name: ddns, algorithm: hmac-sha256, secret: "${SECRET}" }]
zones:
  - file: ${zoneFile}
    origin: upd.test
    update: [{ key: ddns, types: [A] }]
    transfer: [{ key: ddns }]
    journal: 1000
`);
  const proc = await serve(cfg);
  running.push(proc);
  return { port, proc };
}

function zoneText(records) {
  const lines = ['$ORIGIN upd.test.', '$TTL 300', '@ IN SOA ns1 hostmaster 1 3600 600 604800 60', '@ IN NS ns1', 'ns1 IN A 127.0.0.1', 'www IN A 192.0.2.1'];
  for (let i = 0; i < records; i++) lines.push(`h${i} IN A 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  return `${lines.join('\n')}\n`;
}

/** A signed UPDATE adding u<i>.upd.test A. */
function updateMessage(i) {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(i & 0xffff, 0);
  head.writeUInt16BE(5 << 11, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(1, 8);
  const rr = Buffer.alloc(14);
  rr.writeUInt16BE(1, 0); rr.writeUInt16BE(1, 2); rr.writeUInt32BE(60, 4); rr.writeUInt16BE(4, 8);
  rr.writeUInt32BE((198 << 24 | 18 << 16 | (i >> 8 & 255) << 8 | (i & 255)) >>> 0, 10);
  return signRequest(Buffer.concat([head, encodeName('upd.test'), Buffer.from([0, 6, 0, 1]), encodeName(`u${i}.upd.test`), rr]), KEY, Math.floor(Date.now() / 1000)).message;
}

/** One socket for a stream of UPDATEs: send(i) resolves with ms to the answer (rejects on a non-NOERROR or timeout). */
function updater(port) {
  const sock = dgram.createSocket('udp4');
  const waiting = new Map();
  sock.on('message', (m) => {
    const w = waiting.get(m.readUInt16BE(0));
    if (!w) return;
    waiting.delete(m.readUInt16BE(0));
    clearTimeout(w.timer);
    if ((m[3] & 0xf) !== 0) w.reject(new Error(`UPDATE answered rcode ${m[3] & 0xf}`));
    else w.resolve(performance.now() - w.t0);
  });
  return {
    send: (i) => new Promise((resolve, reject) => {
      const t0 = performance.now();
      const timer = setTimeout(() => { waiting.delete(i & 0xffff); reject(new Error(`UPDATE ${i} not answered in 5 s`)); }, 5000);
      waiting.set(i & 0xffff, { resolve, reject, timer, t0 });
      sock.send(updateMessage(i), port, '127.0.0.1');
    }),
    close: () => sock.close(),
  };
}

/** COUNT updates with WINDOW in flight: updates/s and latencies. */
async function throughput(port, from) {
  const u = updater(port);
  const lat = [];
  let next = 0;
  const t0 = performance.now();
  const lane = async () => { while (next < COUNT) { const i = from + next++; lat.push(await u.send(i)); } };
  await Promise.all(Array.from({ length: WINDOW }, lane));
  const s = (performance.now() - t0) / 1000;
  u.close();
  lat.sort((a, b) => a - b);
  return { rate: COUNT / s, p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

/** dnsperf for QPS_S seconds, not blocking this process (so updates can stream meanwhile). */
function dnsperf(port) {
  const input = path.join(dir, `q-${port}.txt`);
  fs.writeFileSync(input, 'www.upd.test A\n');
  return new Promise((resolve, reject) => {
    const p = spawn('dnsperf', ['-s', '127.0.0.1', '-p', String(port), '-d', input, '-l', String(QPS_S), '-c', '1', '-q', '200', '-b', '2048']);
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), (QPS_S + 20) * 1000);
    p.on('exit', () => {
      clearTimeout(timer);
      const m = /Queries per second:\s+([\d.]+)/.exec(out);
      if (m) resolve(Number(m[1])); else reject(new Error(`dnsperf printed no q/s:\n${out.slice(-1500)}`));
    });
  });
}

/** q/s with updates streaming at RATE/s meanwhile (each one waited for); how many went in. */
async function qpsUnderUpdates(port, from) {
  const u = updater(port);
  let sent = 0;
  let failed = 0;
  const pending = [];
  const timer = setInterval(() => { pending.push(u.send(from + sent++).catch(() => { failed++; })); }, 1000 / RATE);
  const q = await dnsperf(port);
  clearInterval(timer);
  await Promise.all(pending);
  u.close();
  return { q, sent, failed };
}

/** Peak RSS (kB) of the processes `pids` while `run` runs, sampled every 20 ms, over their RSS before it. */
async function peakRss(pids, run) {
  const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  const before = pids.map(rss);
  const peak = [...before];
  const timer = setInterval(() => pids.forEach((p, i) => { try { peak[i] = Math.max(peak[i], rss(p)); } catch { /* gone */ } }), 20);
  try { await run(); } finally { clearInterval(timer); }
  return pids.map((_, i) => (peak[i] - before[i]) / 1024);
}

const children = (pid) => {
  try { return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number); } catch { return []; }
};

let pg = null;
try {
  fs.writeFileSync(path.join(dir, 'small.zone'), zoneText(100));
  console.log(`update: ${os.cpus().length} cores; ${COUNT} TSIG-signed UPDATEs, ${WINDOW} in flight, each answered once committed and served by every worker`);
  // 1. updates/s, SQLite then PostgreSQL.
  const sqlite = await server('sqlite', '{ path: ./sqlite-state }', 'small.zone');
  const a = await throughput(sqlite.port, 0);
  console.log(`  SQLite:     ${Math.round(a.rate).toLocaleString()} updates/s; to NOERROR p50 ${a.p50.toFixed(1)} ms, p99 ${a.p99.toFixed(1)} ms`);
  pg = await startEmbeddedPostgres({ port: await freePort() });
  const pgServer = await server('postgres', `{ postgres: "${pg.url}" }`, 'small.zone');
  const b = await throughput(pgServer.port, 0);
  console.log(`  PostgreSQL: ${Math.round(b.rate).toLocaleString()} updates/s; to NOERROR p50 ${b.p50.toFixed(1)} ms, p99 ${b.p99.toFixed(1)} ms`);
  await stop(pgServer.proc);

  // 2. q/s with and without an update stream, alternated on the SQLite server.
  if (!haveDnsperf()) console.log('  q/s under updates: dnsperf not installed, skipped');
  else {
    const without = [];
    const withUpdates = [];
    const anchored = [];
    const cpu = [];
    let from = COUNT;
    for (let round = 0; round < 2; round++) {
      const idle0 = treeCpu(sqlite.proc.pid);
      without.push(await dnsperf(sqlite.port));
      const before = treeCpu(sqlite.proc.pid);
      const idle = ((before[0] - idle0[0]) * 1000) / QPS_S; // the supervisor's CPU per second without updates
      const r = await qpsUnderUpdates(sqlite.port, from);
      const after = treeCpu(sqlite.proc.pid);
      from += r.sent;
      withUpdates.push(r.q);
      // CPU per update: the supervisor's, and the workers' beyond what answering queries took in the run before.
      cpu.push({ supervisor: ((after[0] - before[0]) * 1000 - idle * QPS_S) / r.sent, sent: r.sent, idle });
      // The anchor: the supervisor's CPU per update burnt RATE times a second by a process that is not Waymark.
      const b = burn(Math.max(0.1, cpu[round].supervisor), 1000 / RATE, QPS_S);
      anchored.push(await dnsperf(sqlite.port));
      await b.done;
      console.log(`    round ${round + 1}: ${Math.round(without[round]).toLocaleString()} q/s alone, ${Math.round(r.q).toLocaleString()} q/s with ${r.sent} updates in ${QPS_S} s (${r.failed} failed; supervisor CPU ${cpu[round].supervisor.toFixed(2)} ms per update beyond its ${cpu[round].idle.toFixed(0)} ms/s without), ${Math.round(anchored[round]).toLocaleString()} q/s beside a process burning that CPU ${RATE} times a second`);
    }
    const sum = (x) => x.reduce((p, q) => p + q, 0);
    const ratio = sum(withUpdates) / sum(without);
    const anchor = sum(anchored) / sum(without);
    console.log(`  q/s with ${RATE} updates/s over q/s without, same run: ${ratio.toFixed(2)}; target >= 0.9: ${ratio >= 0.9 ? 'met' : 'not met'} (anchor: the same CPU burnt elsewhere gives ${anchor.toFixed(2)})`);
  }
  await stop(sqlite.proc);

  // 3. AXFR of a large zone with kdig.
  fs.writeFileSync(path.join(dir, 'large.zone'), zoneText(AXFR_RECORDS));
  const big = await server('axfr', '{ path: ./axfr-state }', 'large.zone');
  const pids = [big.proc.pid, ...children(big.proc.pid)];
  let took = 0;
  let lines = 0;
  const grown = await peakRss(pids, () => new Promise((resolve, reject) => {
    const t0 = performance.now();
    const k = spawn('kdig', ['@127.0.0.1', '-p', String(big.port), '-y', `hmac-sha256:ddns:${SECRET}`, '+time=30', 'upd.test', 'AXFR']);
    let buf = '';
    k.stdout.on('data', (d) => { buf += d; const n = buf.lastIndexOf('\n'); lines += buf.slice(0, n + 1).split('\n').filter((l) => /\sIN\s/.test(l)).length; buf = buf.slice(n + 1); });
    k.on('error', reject);
    k.on('exit', (code) => { took = performance.now() - t0; if (code === 0) resolve(); else reject(new Error(`kdig AXFR exited ${code}`)); });
  }));
  console.log(`  AXFR of ${AXFR_RECORDS.toLocaleString()} records (kdig, TSIG on every message): ${lines.toLocaleString()} records in ${(took / 1000).toFixed(2)} s; peak RSS growth: supervisor ${grown[0].toFixed(0)} MB, worker ${grown.slice(1).map((g) => g.toFixed(0)).join(', ')} MB`);
} finally {
  for (const p of running) await stop(p);
  await pg?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
