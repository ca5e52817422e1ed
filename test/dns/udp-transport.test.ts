// D2/D6: the UDP transports over real sockets: batched recvmmsg/sendmmsg I/O (native/udp_batch.c) and node:dgram
// give the same bytes; bursts are read in batches; IPv6 senders reach the answer engine; oversize datagrams are
// dropped and counted; the counters reach /metrics.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { startServer, buildQuery, decode, addresses, query, udpExchange, TEST_ZONE, type InProcessServer } from '../harness.js';
import { parseConfigText } from '../../src/config/load.js';
import { formatErrors } from '../../src/config/schema.js';
import { MetricsAggregator } from '../../src/metrics/registry.js';
import { batchAddon, batchUnavailable } from '../../src/dns/udp-batch.js';

const servers: InProcessServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

function zoneYaml(transport: string): string {
  const indented = TEST_ZONE.trim().split('\n').map((l) => `      ${l}`).join('\n');
  return `server: { rrl: { enabled: false }, udpTransport: ${transport}, udpPayload: 4096 }
zones:
  - text: |
${indented}
`;
}

async function serve(yaml: string, ipv6 = false): Promise<InProcessServer> {
  const s = await startServer(yaml, { ipv6 });
  servers.push(s);
  return s;
}

/** Send all messages at once from one socket (they queue in the server's socket), collect replies by message ID. */
async function burst(port: number, msgs: Buffer[], timeoutMs = 3000): Promise<Map<number, Buffer>> {
  const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20 });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const replies = new Map<number, Buffer>();
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    sock.on('message', (m) => {
      replies.set(m.readUInt16BE(0), m);
      if (replies.size === msgs.length) {
        clearTimeout(timer);
        resolve();
      }
    });
    for (const m of msgs) sock.send(m, port, '127.0.0.1');
  });
  sock.close();
  return replies;
}

test('D2: the native batched transport is built and in use; a burst is read in batches and every query answered', async () => {
  assert.ok(batchAddon !== null, `native transport not loaded: ${batchUnavailable}`);
  const s = await serve(zoneYaml('auto'));
  assert.equal(s.server.udp[0]!.transport, 'batched');
  const names = ['www.example.test', 'multi.example.test', 'nothere.example.test', 'mail.example.test'];
  const msgs = Array.from({ length: 120 }, (_, i) => buildQuery(names[i % names.length]!, { id: i + 1 }));
  const replies = await burst(s.port, msgs);
  assert.equal(replies.size, 120, 'every query in the burst answered');
  for (let i = 0; i < 120; i++) {
    const d = decode(replies.get(i + 1)!);
    const name = names[i % names.length]!;
    assert.equal(d.questions[0]!.name, name);
    if (name === 'nothere.example.test') assert.equal(d.rcode, 'NXDOMAIN');
    else assert.ok(d.answers.length >= 1, `${name} answered`);
    if (name === 'multi.example.test') assert.equal(d.answers.length, 4);
  }
  const stats = s.server.udpStats();
  assert.equal(stats.packets, 120);
  // The 120 datagrams were all queued before the server ran: 64 per recvmmsg means a handful of batches, where
  // node:dgram would have taken 120 callbacks.
  assert.ok(stats.batches <= 12, `batches: ${stats.batches}`);
  assert.equal(stats.sendErrors, 0);
});

test('D2: batched and dgram transports answer byte for byte the same', async () => {
  const batched = await serve(zoneYaml('batched'));
  const plain = await serve(zoneYaml('dgram'));
  assert.equal(batched.server.udp[0]!.transport, 'batched');
  assert.equal(plain.server.udp[0]!.transport, 'dgram');
  const cases: Buffer[] = [
    buildQuery('www.example.test', { id: 1 }),
    buildQuery('WwW.ExAmPlE.TeSt', { id: 2, type: 'AAAA' }),
    buildQuery('multi.example.test', { id: 3 }),
    buildQuery('multi.example.test', { id: 4, edns: true, dnssecOk: true }),
    buildQuery('nothere.example.test', { id: 5 }),
    buildQuery('sub.example.test', { id: 6 }),
    buildQuery('example.test', { id: 7, type: 'ANY' }),
    buildQuery('www.elsewhere.invalid', { id: 8 }),
    buildQuery('alias.example.test', { id: 9, payload: 512 }),
    buildQuery('x.apps.example.test', { id: 10, ecs: { family: 1, sourcePrefixLength: 24, ip: '198.51.100.0' } }),
  ];
  // Not plain queries: a runt (dropped by both), a header claiming two questions (FORMERR), opcode 5.
  const notify = buildQuery('example.test', { id: 11 });
  notify[2] = (notify[2]! & 0x87) | (5 << 3);
  const two = buildQuery('www.example.test', { id: 12 });
  two[5] = 2;
  cases.push(notify, two, Buffer.from([0, 13, 0]));
  let answered = 0;
  for (const msg of cases) {
    const a = await udpExchange(batched.port, msg, { timeoutMs: 500 });
    const b = await udpExchange(plain.port, msg, { timeoutMs: 500 });
    assert.deepEqual(a, b, `same response to message ${msg.length >= 2 ? msg.readUInt16BE(0) : -1}`);
    if (a !== null) answered++;
  }
  // Everything but the runt is answered (NOTIMP and FORMERR included).
  assert.equal(answered, cases.length - 1);
  // A TC answer over a 512-byte limit: the big TXT set below only fits the EDNS payload.
  const big = await serve(`server: { rrl: { enabled: false } }
zones:
  - origin: big.test
    ns: [ns1]
    records:
      - { name: ns1, type: A, value: 127.0.0.53 }
      - { name: t, type: TXT, values: [${Array.from({ length: 12 }, (_, i) => `'"${String(i).padStart(60, 'x')}"'`).join(', ')}] }
`);
  const small = decode((await udpExchange(big.port, buildQuery('t.big.test', { id: 20, type: 'TXT' })))!);
  assert.ok((small.flags & 0x0200) !== 0, 'TC set at 512 bytes');
  const large = decode((await udpExchange(big.port, buildQuery('t.big.test', { id: 21, type: 'TXT', payload: 1232 })))!);
  assert.equal(large.answers.length, 12);
});

test('D2: an IPv6 sender reaches the answer engine as its address (topology by resolver)', async () => {
  const s = await serve(`server: { rrl: { enabled: false } }
zones: [ { origin: gslb.test, ns: [ns1], records: [ { name: ns1, type: A, value: 127.0.0.53 } ] } ]
names: [ { name: www.gslb.test, pools: [v6, v4], select: [topology, global-availability] } ]
pools:
  - { name: v6, members: [ { address: 127.0.1.6 } ] }
  - { name: v4, members: [ { address: 127.0.1.4 } ] }
topology:
  rules:
    - { from: "::1/128", to: "pool:v6" }
    - { from: 0.0.0.0/0, to: "pool:v4" }
`, true);
  assert.deepEqual(addresses(await query(s.port, 'www.gslb.test', { host: '::1' })), ['127.0.1.6']);
  assert.deepEqual(addresses(await query(s.port, 'www.gslb.test')), ['127.0.1.4']);
});

test('D6: a datagram longer than a slot is dropped and counted; the server goes on answering', async () => {
  const s = await serve(zoneYaml('batched'));
  const huge = Buffer.concat([buildQuery('www.example.test', { id: 77 }), Buffer.alloc(6000, 0x41)]);
  assert.equal(await udpExchange(s.port, huge, { timeoutMs: 300 }), null);
  assert.equal(s.server.udpStats().truncated, 1);
  assert.equal(s.server.responder.counters.dropped, 1);
  assert.deepEqual(addresses(await query(s.port, 'www.example.test')), ['192.0.2.1']);
});

test('C3: batched transport counters reach /metrics as waymark_udp_io_total', async () => {
  const s = await serve(zoneYaml('batched'));
  s.server.responder.metrics.udp = () => s.server.udpStats();
  s.server.responder.metrics.snapshotAndReset();
  const msgs = Array.from({ length: 30 }, (_, i) => buildQuery('www.example.test', { id: i + 1 }));
  assert.equal((await burst(s.port, msgs)).size, 30);
  const delta = s.server.responder.metrics.snapshotAndReset();
  assert.equal(delta.udp.datagrams, 30);
  assert.ok(delta.udp.batches >= 1 && delta.udp.batches <= 30);
  const agg = new MetricsAggregator({ defaultMetrics: false });
  agg.add(delta);
  const text = await agg.metrics();
  assert.match(text, /waymark_udp_io_total\{event="datagram"\} 30\n/);
  assert.match(text, /waymark_udp_io_total\{event="oversize"\} 0\n/);
});

test('D1: server.udpTransport takes auto, batched or dgram, and names the field when wrong', () => {
  const bad = parseConfigText('server: { udpTransport: fast }\nzones: []\n');
  assert.ok(!bad.ok);
  assert.match(formatErrors(bad.errors), /server\.udpTransport/);
  const good = parseConfigText('server: { udpTransport: dgram }\nzones: []\n');
  assert.ok(good.ok && good.value.server.udpTransport === 'dgram');
  const dflt = parseConfigText('zones: []\n');
  assert.ok(dflt.ok && dflt.value.server.udpTransport === 'auto');
});
