// `npm run bench:leases` (issue 14): address leases through real `waymark serve` processes.
//   1. leases granted per second for new names (LEASE_NAMES of them, default 1000, LEASE_WINDOW in flight, default
//      8), on SQLite and on PostgreSQL (embedded, loopback), with p50/p99 of the time to an answer;
//   2. dnsperf q/s of one leased name (every query an extension) over q/s of a static name of the same server, same
//      run, alternated twice (target >= 0.8). Needs dnsperf; without it that part is skipped, saying so.
// Bounded: every query waits at most 2 s; dnsperf runs LEASE_QPS_S seconds (default 5); everything started here is
// stopped at the end, also after an error.
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import dnsPacket from 'dns-packet';
import { dist, envNumber, freePort, haveDnsperf, percentile, qps, serve, stop } from './lib.mjs';

const { startEmbeddedPostgres } = await dist('state/embedded-postgres.js');
const NAMES = envNumber('LEASE_NAMES', 1000);
const WINDOW = envNumber('LEASE_WINDOW', 8);
const QPS_S = envNumber('LEASE_QPS_S', 5);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'waymark-bench-leases-'));
const running = [];

/** A server whose pool has an address for every name (127.0.32.0 and up). */
async function server(label, store) {
  const port = await freePort();
  const bits = Math.ceil(Math.log2(NAMES + 1));
  const cfg = path.join(dir, `${label}.yaml`);
  fs.writeFileSync(cfg, `server: { listen: ["127.0.0.1:${port}"], workers: 1, rrl: { enabled: false } }
store: ${store}
zones:
  - origin: lease.bench
    ns: [ns1]
    records: [ { name: ns1, type: A, value: 127.0.0.53 }, { name: static, type: A, value: 192.0.2.1 } ]
addressPools: [ { name: public, addresses: ["127.32.0.0/${32 - bits}"], lowWater: 0 } ]
leasedServers: [ { name: s1, address: 127.0.10.11 } ]
leasedNames:
${Array.from({ length: NAMES }, (_, i) => `  - { name: n${i}.lease.bench, pool: public, servers: [s1] }`).join('\n')}
`);
  const proc = await serve(cfg);
  running.push(proc);
  return { port, proc };
}

/** Query n0..n{NAMES-1} once each, WINDOW at a time: grants/s and latency percentiles. */
async function grants(port) {
  const sock = dgram.createSocket('udp4');
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  const waiting = new Map();
  sock.on('message', (m) => { const id = m.readUInt16BE(0); const w = waiting.get(id); if (w) { waiting.delete(id); w(m); } });
  const lat = [];
  let next = 0;
  let failed = 0;
  const one = async () => {
    while (next < NAMES) {
      const i = next++;
      const id = i & 0xffff;
      const t = performance.now();
      const reply = await new Promise((resolve) => {
        const timer = setTimeout(() => { waiting.delete(id); resolve(null); }, 2000);
        waiting.set(id, (m) => { clearTimeout(timer); resolve(m); });
        sock.send(dnsPacket.encode({ type: 'query', id, questions: [{ type: 'A', name: `n${i}.lease.bench` }] }), port, '127.0.0.1');
      });
      if (reply === null || dnsPacket.decode(reply).answers.length !== 1) failed++;
      else lat.push(performance.now() - t);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: WINDOW }, one));
  const s = (performance.now() - t0) / 1000;
  sock.close();
  lat.sort((a, b) => a - b);
  return { rate: lat.length / s, p50: percentile(lat, 50), p99: percentile(lat, 99), failed };
}

let pg = null;
try {
  console.log(`bench:leases: ${NAMES} names, ${WINDOW} queries in flight`);
  const sqlite = await server('sqlite', '{ path: ./data-sqlite }');
  const a = await grants(sqlite.port);
  console.log(`  SQLite: ${Math.round(a.rate).toLocaleString()} leases granted/s; to the answer p50 ${a.p50.toFixed(1)} ms, p99 ${a.p99.toFixed(1)} ms${a.failed ? `; ${a.failed} unanswered` : ''}`);
  if (haveDnsperf()) {
    const leased = [];
    const plain = [];
    for (let round = 0; round < 2; round++) {
      leased.push(qps(sqlite.port, 'n0.lease.bench', QPS_S, dir));
      plain.push(qps(sqlite.port, 'static.lease.bench', QPS_S, dir));
    }
    const l = (leased[0] + leased[1]) / 2;
    const p = (plain[0] + plain[1]) / 2;
    console.log(`  dnsperf: leased name (extensions) ${Math.round(l).toLocaleString()} q/s, static name ${Math.round(p).toLocaleString()} q/s; ratio ${(l / p).toFixed(2)} (ABAB)`);
  } else console.log('  dnsperf is not installed: the q/s part is skipped');
  await stop(sqlite.proc);
  pg = await startEmbeddedPostgres({ port: await freePort() });
  const pgServer = await server('postgres', `{ postgres: "${pg.url}" }`);
  const b = await grants(pgServer.port);
  console.log(`  PostgreSQL: ${Math.round(b.rate).toLocaleString()} leases granted/s; to the answer p50 ${b.p50.toFixed(1)} ms, p99 ${b.p99.toFixed(1)} ms${b.failed ? `; ${b.failed} unanswered` : ''}`);
  await stop(pgServer.proc);
} finally {
  for (const p of running.reverse()) await stop(p);
  await pg?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
