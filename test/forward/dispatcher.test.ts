// The dispatcher on the L4 data plane (SPEC P1-P6), in this process over real sockets: real TCP and UDP daemons on
// 127.0.13.x, real clients, the real monitors. Each test builds its own dispatcher from configuration.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { configSchema, type Config } from '../../src/config/schema.js';
import { Dispatcher } from '../../src/forward/dispatcher.js';
import { validateDispatcher } from '../../src/forward/validate.js';
import { freePort } from '../harness.js';
import { connect, datagram, tcpDaemon, udpDaemon, waitFor, type TcpDaemon } from './daemons.js';

const CLUSTER = '127.0.13.1';
const cleanups: Array<() => Promise<void>> = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

function config(dispatcher: unknown, monitors: unknown[] = []): Config {
  return configSchema.parse({ dispatcher, monitors });
}

/** What each dispatcher logged (by the dispatcher). */
const logsOf = new Map<Dispatcher, string[]>();

async function dispatcherOf(cfg: Config): Promise<Dispatcher> {
  const logs: string[] = [];
  const d = new Dispatcher(cfg.dispatcher?.maxConnections ?? 100_000, { log: (_l, _f, msg) => { logs.push(msg); } });
  const errors = await d.apply(cfg);
  assert.deepEqual(errors, []);
  cleanups.push(() => d.close());
  logsOf.set(d, logs);
  return d;
}

/** Two TCP daemons A and B on their own addresses (the same port, as seed 003 has them). */
async function twoDaemons(o: { proxy?: boolean } = {}): Promise<[TcpDaemon, TcpDaemon, number]> {
  const port = await freePort();
  const a = await tcpDaemon('A', '127.0.13.2', port, o);
  const b = await tcpDaemon('B', '127.0.13.3', port, o);
  cleanups.push(() => a.close(), () => b.close());
  return [a, b, port];
}

function tcpPort(port: number, daemonPort: number, method: string, extra: Record<string, unknown> = {}, weights: [number, number] = [1, 1], daemonExtra: Record<string, unknown> = {}): unknown {
  return {
    clusters: [{ address: CLUSTER, ports: [{
      port, protocol: 'tcp', method, ...extra,
      daemons: [{ address: '127.0.13.2', port: daemonPort, weight: weights[0], ...daemonExtra }, { address: '127.0.13.3', port: daemonPort, weight: weights[1] }],
    }] }],
  };
}

/** Greetings of `n` connections made one after another (each closed before the next). */
async function sequential(port: number, n: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const c = await connect(CLUSTER, port);
    seen[c.greeting] = (seen[c.greeting] ?? 0) + 1;
    c.socket.end();
    await c.closed;
  }
  return seen;
}

describe('P2: methods choose daemons for new connections', () => {
  test('P2: round robin spreads sequential connections evenly over both daemons', async () => {
    const [, , dp] = await twoDaemons();
    const port = await freePort();
    await dispatcherOf(config(tcpPort(port, dp, 'round-robin')));
    assert.deepEqual(await sequential(port, 40), { A: 20, B: 20 });
  });

  test('P2: weighted round robin gives weights 3:1 exactly 3:1 of the connections', async () => {
    const [, , dp] = await twoDaemons();
    const port = await freePort();
    await dispatcherOf(config(tcpPort(port, dp, 'weighted-round-robin', {}, [3, 1])));
    assert.deepEqual(await sequential(port, 40), { A: 30, B: 10 });
  });

  test('P2: least connections sends a new connection to the daemon with fewer open ones', async () => {
    const [a, b, dp] = await twoDaemons();
    const port = await freePort();
    const d = await dispatcherOf(config(tcpPort(port, dp, 'least-connections')));
    const held = [];
    for (let i = 0; i < 8; i++) held.push(await connect(CLUSTER, port));
    assert.equal(a.open.size, 4);
    assert.equal(b.open.size, 4);
    // Three of A's go: the next three new connections all go to A.
    const onA = held.filter((c) => c.greeting === 'A').slice(0, 3);
    for (const c of onA) { c.socket.end(); await c.closed; }
    await waitFor('the table to drop the closed ones', () => d.forwarder.table.size === 5);
    for (let i = 0; i < 3; i++) held.push(await connect(CLUSTER, port));
    assert.deepEqual(held.slice(8).map((c) => c.greeting), ['A', 'A', 'A']);
    for (const c of held) c.socket.destroy();
  });

  test('P2: weighted least connections keeps open connections in proportion to weights 2:1', async () => {
    const [a, b, dp] = await twoDaemons();
    const port = await freePort();
    await dispatcherOf(config(tcpPort(port, dp, 'weighted-least-connections', {}, [2, 1])));
    const held = [];
    for (let i = 0; i < 12; i++) held.push(await connect(CLUSTER, port));
    assert.equal(a.open.size, 8);
    assert.equal(b.open.size, 4);
    for (const c of held) c.socket.destroy();
  });
});

describe('P2/P3/P4: the connection table', () => {
  test('P2: the table records client, cluster and daemon; a long connection stays with its daemon while weights change', async () => {
    const [a, , dp] = await twoDaemons();
    const port = await freePort();
    const d = await dispatcherOf(config(tcpPort(port, dp, 'weighted-round-robin', {}, [1, 0])));
    const c = await connect(CLUSTER, port);
    assert.equal(c.greeting, 'A');
    const [entry] = d.connections({ service: `${CLUSTER}:${port}` }, 10).connections;
    assert.ok(entry);
    assert.equal(entry.client, c.socket.localAddress);
    assert.equal(entry.clientPort, c.socket.localPort);
    assert.equal(entry.cluster, CLUSTER);
    assert.equal(entry.clusterPort, port);
    assert.equal(entry.target, `127.0.13.2:${dp}`);
    // A quiesced (weight 0), B takes new ones: the open connection still talks to A, and its record stays.
    await d.apply(config(tcpPort(port, dp, 'weighted-round-robin', {}, [0, 1])));
    assert.equal(await c.send('ping'), 'A:ping');
    assert.equal((await connect(CLUSTER, port)).greeting, 'B');
    assert.equal(d.forwarder.table.get(entry.id)?.target, `127.0.13.2:${dp}`);
    assert.equal(a.open.size, 1);
    c.socket.destroy();
  });

  test('P4: a closed connection leaves the table; an idle one is collected after timeouts.tcp', async () => {
    const [, , dp] = await twoDaemons();
    const port = await freePort();
    const d = await dispatcherOf(config(tcpPort(port, dp, 'round-robin', { timeouts: { tcp: '1s' } })));
    const c = await connect(CLUSTER, port);
    c.socket.end();
    await c.closed;
    await waitFor('the closed connection to leave the table', () => d.forwarder.table.size === 0);
    const idle = await connect(CLUSTER, port);
    assert.equal(d.forwarder.table.size, 1);
    assert.equal(await idle.closed, 'reset', 'collected: the client sees a reset');
    await waitFor('the collected connection to leave the table', () => d.forwarder.table.size === 0);
  });

  test('P3/P4: UDP replies come from the cluster address and port; a flow sticks to its daemon; idle flows are collected', async () => {
    const dp = await freePort();
    const ua = await udpDaemon('A', '127.0.13.2', dp);
    const ub = await udpDaemon('B', '127.0.13.3', dp);
    cleanups.push(() => ua.close(), () => ub.close());
    const port = await freePort();
    const cfg = (w: [number, number]): Config => config({ clusters: [{ address: CLUSTER, ports: [{ port, protocol: 'udp', method: 'weighted-round-robin', timeouts: { udp: '300ms' }, daemons: [{ address: '127.0.13.2', port: dp, weight: w[0] }, { address: '127.0.13.3', port: dp, weight: w[1] }] }] }] });
    const d = await dispatcherOf(cfg([1, 1]));
    const sock = dgram.createSocket('udp4');
    cleanups.push(async () => { sock.close(); });
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const first = await datagram(CLUSTER, port, 'q0', sock);
    assert.ok(first);
    assert.equal(first[1], CLUSTER, 'from the cluster address');
    assert.equal(first[2], port, 'and the cluster port');
    const daemon = first[0].split(':')[0]!;
    for (let i = 1; i <= 6; i++) {
      if (i === 3) await d.apply(cfg(daemon === 'A' ? [0, 1] : [1, 0]));
      const r = await datagram(CLUSTER, port, `q${i}`, sock);
      assert.deepEqual(r, [`${daemon}:q${i}`, CLUSTER, port]);
    }
    const other = await datagram(CLUSTER, port, 'new');
    assert.notEqual(other?.[0].split(':')[0], daemon, 'a new flow goes by the new weights');
    const [flow] = d.connections({ protocol: 'udp', client: `127.0.0.1:${sock.address().port}` }, 1).connections;
    assert.equal(flow?.packetsIn, 7);
    assert.equal(flow?.packetsOut, 7);
    await waitFor('idle UDP flows to be collected', () => d.forwarder.table.size === 0, 3000);
  });

  test('P4: with oneReply a UDP flow ends on its reply (Waymark\'s own DNS server as the daemon)', async () => {
    const { startServer, buildQuery, decode } = await import('../harness.js');
    const dns = await startServer(`
zones:
  - origin: example.test
    soa: { mname: ns1, rname: hostmaster, serial: 1, minimum: 30 }
    ns: [ns1]
    records: [ { name: ns1, type: A, value: 192.0.2.53 }, { name: www, type: A, value: 192.0.2.1 } ]
`);
    cleanups.push(() => dns.close());
    const port = await freePort();
    const d = await dispatcherOf(config({ clusters: [{ address: CLUSTER, ports: [{ port, protocol: 'udp', oneReply: true, daemons: [{ address: '127.0.0.1', port: dns.port }] }] }] }));
    const reply = await new Promise<Buffer | null>((resolve) => {
      const s = dgram.createSocket('udp4');
      const t = setTimeout(() => { s.close(); resolve(null); }, 2000);
      s.on('message', (m, r) => { clearTimeout(t); s.close(); assert.equal(r.address, CLUSTER); resolve(m); });
      s.send(buildQuery('www.example.test', { type: 'A' }), port, CLUSTER);
    });
    assert.ok(reply, 'the DNS answer came back through the dispatcher');
    assert.equal(decode(reply).rcode, 'NOERROR');
    assert.ok(decode(reply).answers.length > 0);
    assert.equal(d.forwarder.table.size, 0, 'the flow ended on the reply');
  });
});

describe('P2/P5/P6: health, drain and spawned daemons', () => {
  test('P2: a daemon killed mid-test: open connections see a reset, and after the verdict no new connection goes to it', async () => {
    const [a, b, dp] = await twoDaemons();
    const port = await freePort();
    const d = await dispatcherOf(config(tcpPort(port, dp, 'round-robin', { monitor: 'tcp1' }), [{ name: 'tcp1', type: 'tcp', interval: '1s', timeout: '300ms', rise: 1, fall: 1 }]));
    const held = [await connect(CLUSTER, port), await connect(CLUSTER, port)];
    const onA = held.find((c) => c.greeting === 'A')!;
    await a.kill();
    assert.equal(await onA.closed, 'reset', 'the client sees a reset, not a hang');
    await waitFor('the monitor to judge A down', () => d.status()[0]!.daemons[0]!.state === 'down', 4000);
    assert.deepEqual(await sequential(port, 10), { B: 10 });
    assert.equal(b.open.size, 1, 'B\'s open connection is untouched');
    for (const c of held) c.socket.destroy();
  });

  test('P2: with onDown: close, a daemon judged down has its open connections closed; IPv6 clusters work alike', async () => {
    const dp = await freePort();
    const a = await tcpDaemon('A6', '::1', dp);
    cleanups.push(() => a.close());
    const port = await freePort();
    const d = await dispatcherOf(config({ clusters: [{ address: '::1', ports: [{ port, onDown: 'close', monitor: 'http1', daemons: [{ address: '::1', port: dp }] }] }] }, [{ name: 'http1', type: 'http', path: '/health', interval: '1s', timeout: '300ms', rise: 1, fall: 1 }]));
    const c = await connect('::1', port);
    assert.equal(c.greeting, 'A6');
    assert.equal(d.connections({}, 1).connections[0]!.cluster, '::1');
    // The daemon speaks no HTTP: the monitor judges it down, and its open connection goes.
    assert.equal(await c.closed, 'reset');
    assert.equal(d.status()[0]!.daemons[0]!.state, 'down');
    await assert.rejects(connect('::1', port), 'no daemon: refused');
  });

  test('P6: a drained daemon gets no new connections, its open ones go on, and a deadline closes them', async () => {
    const [, , dp] = await twoDaemons();
    const port = await freePort();
    const d = await dispatcherOf(config(tcpPort(port, dp, 'round-robin')));
    const held = [await connect(CLUSTER, port), await connect(CLUSTER, port)];
    const onA = held.find((c) => c.greeting === 'A')!;
    d.setAdmin([{ pool: `dispatcher/${CLUSTER}:${port}`, member: `127.0.13.2:${dp}`, state: 'drain', by: 'test', at: Date.now() }]);
    assert.equal(d.status()[0]!.daemons[0]!.state, 'drain');
    assert.deepEqual(await sequential(port, 6), { B: 6 });
    assert.equal(await onA.send('still'), 'A:still', 'an open connection of a drained daemon goes on');
    d.closeAfter(`${CLUSTER}:${port}`, `127.0.13.2:${dp}`, 200);
    assert.equal(await onA.closed, 'reset');
    d.setAdmin([]);
    assert.deepEqual(await sequential(port, 4), { A: 2, B: 2 }, 'undrained, it takes its turn again');
    for (const c of held) c.socket.destroy();
  });

  test('P5: spawned copies serve; one killed is restarted, and meanwhile the others take its connections', async () => {
    const base = await freePort();
    const port = await freePort();
    const script = `require('net').createServer((s)=>{s.write(process.argv[1]+'\\n');s.on('data',(d)=>s.write(d));}).listen(Number(process.argv[1]),process.argv[2])`;
    const d = await dispatcherOf(config({ clusters: [{ address: CLUSTER, ports: [{ port, method: 'round-robin', spawn: { command: `exec ${process.execPath} -e "${script}" {port} {address}`, count: 2, address: '127.0.13.10', basePort: base } }] }] }));
    await waitFor('both copies to listen', async () => Object.keys(await sequential(port, 2).catch(() => ({}))).length === 2, 8000);
    const before = d.status()[0]!.daemons.map((x) => x.spawn!);
    assert.equal(before.length, 2);
    process.kill(before[0]!.pid!, 'SIGKILL');
    await waitFor('the copy to be seen gone', () => d.status()[0]!.daemons[0]!.state === 'stopped');
    assert.deepEqual(await sequential(port, 4), { [String(base + 1)]: 4 }, 'the running copy takes every connection');
    await waitFor('the copy to be restarted', () => d.status()[0]!.daemons[0]!.spawn?.state === 'running', 5000);
    const restarted = d.status()[0]!.daemons[0]!.spawn!;
    assert.equal(restarted.restarts, 1);
    assert.notEqual(restarted.pid, before[0]!.pid);
    assert.match(restarted.lastExit ?? '', /SIGKILL/);
    await waitFor('the restarted copy to take connections again', async () => Object.keys(await sequential(port, 2).catch(() => ({}))).length === 2, 5000);
    const pids = d.status()[0]!.daemons.map((x) => x.spawn!.pid!);
    await d.close();
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), 'a stopped dispatcher leaves no copy running');
  });
});

describe('P3: the PROXY protocol, caps and reloads', () => {
  test('P3: daemons learn the real client from PROXY v1 and v2 headers (TCP) and v2 (UDP)', async () => {
    const [a, b, dp] = await twoDaemons({ proxy: true });
    const port = await freePort();
    await dispatcherOf(config({ clusters: [{ address: CLUSTER, ports: [{ port, method: 'round-robin', daemons: [{ address: '127.0.13.2', port: dp, proxyProtocol: 1 }, { address: '127.0.13.3', port: dp, proxyProtocol: 2 }] }] }] }));
    const clients = [await connect(CLUSTER, port, '127.0.13.50'), await connect(CLUSTER, port, '127.0.13.51')];
    assert.equal(await clients[0]!.send('x'), `${clients[0]!.greeting}:x`, 'the header is not passed on as data');
    const seen = [...a.proxies, ...b.proxies].sort((x, y) => x.version - y.version);
    assert.deepEqual(seen.map((p) => [p.version, p.protocol]), [[1, 'TCP4'], [2, 'tcp']]);
    for (const p of seen) {
      const c = clients.find((x) => x.socket.localPort === p.sourcePort)!;
      assert.ok(c, 'the source port is the client\'s');
      assert.equal(p.source, c.socket.localAddress);
      assert.equal(p.destination, CLUSTER);
      assert.equal(p.destinationPort, port);
    }
    const up = await freePort();
    const u = await udpDaemon('U', '127.0.13.4', up, { proxy: true });
    cleanups.push(() => u.close());
    const uport = await freePort();
    await dispatcherOf(config({ clusters: [{ address: CLUSTER, ports: [{ port: uport, protocol: 'udp', daemons: [{ address: '127.0.13.4', port: up, proxyProtocol: 2 }] }] }] }));
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.13.52', () => r()));
    assert.deepEqual(await datagram(CLUSTER, uport, 'hello', sock), ['U:hello', CLUSTER, uport]);
    sock.close();
    assert.deepEqual(u.proxies[0], { version: 2, protocol: 'udp', source: '127.0.13.52', sourcePort: u.proxies[0]!.sourcePort, destination: CLUSTER, destinationPort: uport });
    for (const c of clients) c.socket.destroy();
  });

  test('a flood beyond the caps is refused cleanly: the table stays at its cap, a daemon at its cap gets no more, memory stays bounded', async () => {
    const [a, b, dp] = await twoDaemons();
    const port = await freePort();
    const d = await dispatcherOf(config({ ...(tcpPort(port, dp, 'round-robin', {}, [1, 1], { maxConnections: 5 }) as object), maxConnections: 20 }));
    const rssBefore = process.memoryUsage().rss;
    const outcomes = await Promise.all(Array.from({ length: 300 }, () => connect(CLUSTER, port).then((c) => c, () => null)));
    const held = outcomes.filter((c) => c !== null);
    assert.equal(held.length, 20, 'exactly the table\'s cap is served');
    assert.equal(a.open.size, 5, 'A stops at its own cap');
    assert.equal(b.open.size, 15);
    assert.ok(d.forwarder.table.size <= 20);
    for (const c of held) c.socket.destroy();
    // A second, longer flood with nothing held: memory does not grow with attempts.
    for (let round = 0; round < 5; round++) {
      const r = await Promise.all(Array.from({ length: 300 }, () => connect(CLUSTER, port).then((c) => { c.socket.destroy(); return 1; }, () => 0)));
      assert.ok(r.reduce<number>((x, y) => x + y, 0) >= 20);
    }
    await waitFor('the table to empty', () => d.forwarder.table.size === 0);
    const logs = logsOf.get(d)!;
    assert.ok(logs.some((m) => m.includes('the connection table is full (20 entries)')), 'a log line says the table is full');
    assert.equal(logs.filter((m) => m.includes('at its connection cap')).length, 1, 'A at its cap is logged, once per 10 s');
    const grown = (process.memoryUsage().rss - rssBefore) / 1e6;
    assert.ok(grown < 100, `RSS grew ${grown.toFixed(1)} MB over 1,800 connection attempts`);
  });

  test('a reload keeps open connections and their table entries; a removed port stops listening', async () => {
    const [, , dp] = await twoDaemons();
    const port = await freePort();
    const port2 = await freePort();
    const both = config({ clusters: [{ address: CLUSTER, ports: [(tcpPort(port, dp, 'round-robin') as { clusters: [{ ports: [unknown] }] }).clusters[0].ports[0], { port: port2, daemons: [{ address: '127.0.13.2', port: dp }] }] }] });
    const d = await dispatcherOf(both);
    const c = await connect(CLUSTER, port);
    const id = d.connections({}, 1).connections[0]!.id;
    await d.apply(config(tcpPort(port, dp, 'least-connections')));
    assert.equal(d.forwarder.table.get(id)?.client, c.socket.localAddress);
    assert.equal(await c.send('after'), `${c.greeting}:after`);
    await assert.rejects(connect(CLUSTER, port2), 'the removed port is closed');
    c.socket.destroy();
  });
});

describe('P3: bytes arrive intact both ways', () => {
  test('P3: 24 MB each way through the relay arrive byte for byte, past a reader that stalls and pauses', async () => {
    const crypto = await import('node:crypto');
    const net = await import('node:net');
    const size = 24 << 20;
    const payload = crypto.randomBytes(size);
    const digest = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');
    const dp = await freePort();
    let uploaded: Promise<string> = Promise.resolve('');
    // Half-open: the client's end of its upload must not end the daemon's download.
    const server = net.createServer({ allowHalfOpen: true }, (s) => {
      const chunks: Buffer[] = [];
      uploaded = new Promise((resolve) => { s.on('data', (c: Buffer) => chunks.push(c)); s.on('end', () => resolve(digest(Buffer.concat(chunks)))); });
      // Sent in uneven pieces, so reads and writes interleave with partial buffers.
      let at = 0;
      const next = (): void => {
        while (at < size) {
          const n = Math.min(size - at, 1000 + (at % 70_000));
          const ok = s.write(payload.subarray(at, at + n));
          at += n;
          if (!ok) { s.once('drain', next); return; }
        }
        s.end();
      };
      next();
    });
    await new Promise<void>((r) => server.listen(dp, '127.0.13.5', () => r()));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = await freePort();
    await dispatcherOf(config({ clusters: [{ address: CLUSTER, ports: [{ port, daemons: [{ address: '127.0.13.5', port: dp }] }] }] }));
    const received = await new Promise<Buffer>((resolve, reject) => {
      const c = net.connect(port, CLUSTER);
      const chunks: Buffer[] = [];
      c.on('data', (b: Buffer) => {
        chunks.push(Buffer.from(b));
        // A slow reader now and then: the relay must pause the daemon and resume it.
        if (chunks.length % 10 === 0) { c.pause(); setTimeout(() => c.resume(), 3); }
      });
      c.on('end', () => resolve(Buffer.concat(chunks)));
      c.on('error', reject);
      // Nothing read for a while: the kernel's buffers fill and the relay's writes to the client stay pending.
      c.pause();
      setTimeout(() => c.resume(), 300);
      c.end(payload);
    });
    assert.equal(received.length, size);
    assert.equal(digest(received), digest(payload), 'the download is byte for byte what the daemon sent');
    assert.equal(await uploaded, digest(payload), 'the upload is byte for byte what the client sent');
  });
});

describe('P1: configuration errors name the field', () => {
  test('P1: unknown monitors, ports served twice, PROXY v1 over UDP and a daemon on the cluster address are refused with paths', () => {
    const cfg = config({
      clusters: [
        { address: CLUSTER, ports: [
          { port: 8080, monitor: 'nope', daemons: [{ address: CLUSTER, port: 8080 }] },
          { port: 8080, protocol: 'both', daemons: [{ address: '127.0.13.2', port: 1, proxyProtocol: 1 }, { address: '127.0.13.2', port: 1 }] },
        ] },
      ],
    });
    const errors = validateDispatcher(cfg).map((e) => `${e.path}: ${e.message}`);
    assert.deepEqual(errors, [
      'dispatcher.clusters[0].ports[0].monitor: unknown monitor "nope"',
      `dispatcher.clusters[0].ports[0].daemons[0]: daemon ${CLUSTER}:8080 is the cluster address and port itself`,
      `dispatcher.clusters[0].ports[1].port: ${CLUSTER}:8080/tcp is served twice (also dispatcher.clusters[0].ports[0])`,
      'dispatcher.clusters[0].ports[1].daemons[0].proxyProtocol: PROXY protocol v1 is for TCP only; use 2 for UDP',
      'dispatcher.clusters[0].ports[1].daemons[1]: daemon 127.0.13.2:1 is listed twice',
    ]);
    assert.throws(() => config({ clusters: [{ address: '127.0.0.x', ports: [{ port: 1, daemons: [] }] }] }), /address|daemons/);
  });
});
