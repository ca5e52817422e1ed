// D1/D2/D6: the answers an authoritative server must give, each checked over a real socket on loopback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import dnsPacket from 'dns-packet';
import { decode, startServer, query, addresses, udpExchange, tcpExchange, buildQuery, tempDir, TEST_ZONE, type InProcessServer } from '../harness.js';

let srv: InProcessServer;
let dir: string;

const bigRecords = Array.from({ length: 40 }, (_, i) => `big IN A 198.51.100.${i + 1}`).join('\n');

before(async () => {
  dir = tempDir();
  fs.writeFileSync(path.join(dir, 'example.test.zone'), `${TEST_ZONE}\n${bigRecords}\n`);
  srv = await startServer(`
server: { rrl: { enabled: false }, tcp: { idleTimeout: 300ms, maxQueriesPerConnection: 5, maxConnections: 4 } }
zones:
  - file: ${path.join(dir, 'example.test.zone')}
  - origin: inline.test
    ns: [ns1]
    records:
      - { name: ns1, type: A, value: 127.0.0.53 }
      - { name: fast, type: A, ttl: 1, value: 192.0.2.200 }
      - { name: zero, type: A, ttl: 0, value: 192.0.2.201 }
`, { ipv6: true });
});

after(async () => {
  await srv.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const flagAA = (r: { flags?: number }): boolean => ((r.flags ?? 0) & dnsPacket.AUTHORITATIVE_ANSWER) !== 0;
const flagTC = (r: { flags?: number }): boolean => ((r.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE) !== 0;

test('D1: authoritative data is answered with AA set', async () => {
  const r = await query(srv.port, 'www.example.test');
  assert.equal(r.rcode, 'NOERROR');
  assert.ok(flagAA(r));
  assert.deepEqual(addresses(r), ['192.0.2.1']);
  assert.equal(r.answers![0]!.ttl, 30);
});

test('D2: every served type answers with its data', async () => {
  const cases: Array<[string, string, unknown]> = [
    ['example.test', 'MX', { preference: 10, exchange: 'mail.example.test' }],
    ['example.test', 'TXT', [Buffer.from('v=spf1 -all')]],
    ['example.test', 'CAA', { flags: 0, tag: 'issue', value: 'ca.example', issuerCritical: false }],
    ['_sip._udp.example.test', 'SRV', { priority: 10, weight: 60, port: 5060, target: 'sip.example.test' }],
    ['ptr.example.test', 'PTR', 'host.example.test'],
    ['www.example.test', 'AAAA', '2001:db8::1'],
  ];
  for (const [name, type, data] of cases) {
    const r = await query(srv.port, name, { type });
    assert.equal(r.rcode, 'NOERROR', `${name} ${type}`);
    assert.deepEqual(r.answers![0]!.data, data, `${name} ${type}`);
  }
  const soa = await query(srv.port, 'example.test', { type: 'SOA' });
  assert.equal((soa.answers![0]!.data as { serial: number }).serial, 2026112201);
  const ns = await query(srv.port, 'example.test', { type: 'NS' });
  assert.deepEqual(ns.answers!.map((a) => a.data).sort(), ['ns1.example.test', 'ns2.example.test']);
  // NS answers carry the in-zone addresses of the name servers.
  assert.deepEqual(ns.additionals!.filter((a) => a.type !== 'OPT').map((a) => `${a.name} ${a.type}`).sort(),
    ['ns1.example.test A', 'ns2.example.test A', 'ns2.example.test AAAA']);
});

test('D2: unknown types answer in RFC 3597 form', async () => {
  const reply = await udpExchange(srv.port, buildQuery('unk.example.test', { type: 'UNKNOWN_65280' as string }));
  const r = decode(reply!);
  assert.equal(r.answers!.length, 1);
  assert.equal(r.answers![0]!.type, 'UNKNOWN_65280');
  assert.deepEqual(r.answers![0]!.data, Buffer.from('0a0b0c0d', 'hex'));
});

test('D1: NXDOMAIN carries the zone SOA with the negative TTL (RFC 2308)', async () => {
  const r = await query(srv.port, 'nothing.example.test');
  assert.equal(r.rcode, 'NXDOMAIN');
  assert.ok(flagAA(r));
  assert.equal(r.answers!.length, 0);
  assert.equal(r.authorities!.length, 1);
  assert.equal(r.authorities![0]!.type, 'SOA');
  assert.equal(r.authorities![0]!.name, 'example.test');
  assert.equal(r.authorities![0]!.ttl, 60, 'min(SOA TTL 300, MINIMUM 60)');
});

test('D1: NODATA is NOERROR with no answer and the SOA', async () => {
  const r = await query(srv.port, 'mail.example.test', { type: 'AAAA' });
  assert.equal(r.rcode, 'NOERROR');
  assert.ok(flagAA(r));
  assert.equal(r.answers!.length, 0);
  assert.equal(r.authorities![0]!.type, 'SOA');
});

test('D1: an empty non-terminal is NODATA, not NXDOMAIN (RFC 8020)', async () => {
  const r = await query(srv.port, 'c.ent.example.test');
  assert.equal(r.rcode, 'NOERROR');
  assert.equal(r.answers!.length, 0);
  assert.equal(r.authorities![0]!.type, 'SOA');
  const below = await query(srv.port, 'x.a.b.c.ent.example.test');
  assert.equal(below.rcode, 'NXDOMAIN');
});

test('D1: CNAME chains are followed inside the zone', async () => {
  const r = await query(srv.port, 'chain1.example.test');
  assert.equal(r.rcode, 'NOERROR');
  assert.deepEqual(r.answers!.map((a) => `${a.name} ${a.type} ${String(a.data)}`), [
    'chain1.example.test CNAME chain2.example.test',
    'chain2.example.test CNAME www.example.test',
    'www.example.test A 192.0.2.1',
  ]);
  const cname = await query(srv.port, 'alias.example.test', { type: 'CNAME' });
  assert.deepEqual(cname.answers!.map((a) => a.type), ['CNAME']);
  const dangling = await query(srv.port, 'dangling.example.test');
  assert.equal(dangling.rcode, 'NXDOMAIN', 'RFC 6604: rcode of the last name in the chain');
  assert.equal(dangling.answers![0]!.type, 'CNAME');
  const external = await query(srv.port, 'external.example.test');
  assert.equal(external.rcode, 'NOERROR');
  assert.deepEqual(external.answers!.map((a) => a.type), ['CNAME']);
});

test('D1: names below a delegation get a referral with glue and AA clear', async () => {
  for (const name of ['sub.example.test', 'deep.host.sub.example.test', 'ns.sub.example.test']) {
    const r = await query(srv.port, name);
    assert.equal(r.rcode, 'NOERROR', name);
    assert.equal(flagAA(r), false, name);
    assert.equal(r.answers!.length, 0, name);
    assert.deepEqual(r.authorities!.map((a) => `${a.name} ${a.type} ${String(a.data)}`), ['sub.example.test NS ns.sub.example.test'], name);
    assert.deepEqual(r.additionals!.filter((a) => a.type === 'A').map((a) => `${a.name} ${String(a.data)}`), ['ns.sub.example.test 192.0.2.55'], name);
  }
});

test('D2: wildcards synthesise answers owned by the question name (RFC 4592)', async () => {
  const r = await query(srv.port, 'anything.apps.example.test');
  assert.deepEqual(r.answers!.map((a) => `${a.name} ${String(a.data)}`), ['anything.apps.example.test 192.0.2.90']);
  const nodata = await query(srv.port, 'anything.apps.example.test', { type: 'MX' });
  assert.equal(nodata.rcode, 'NOERROR');
  assert.equal(nodata.answers!.length, 0);
});

test('D1: names in no served zone are REFUSED', async () => {
  const r = await query(srv.port, 'www.example.org');
  assert.equal(r.rcode, 'REFUSED');
  assert.equal(flagAA(r), false);
  assert.equal(r.answers!.length, 0);
});

test('D1: malformed queries get FORMERR, unsupported opcodes NOTIMP, QDCOUNT≠1 FORMERR', async () => {
  const good = buildQuery('www.example.test', { id: 0x1234 });
  const truncated = good.subarray(0, good.length - 3);
  const r1 = decode((await udpExchange(srv.port, truncated))!);
  assert.equal(r1.rcode, 'FORMERR');
  assert.equal(r1.id, 0x1234);

  const two = dnsPacket.encode({ type: 'query', id: 7, questions: [{ type: 'A', name: 'www.example.test' }, { type: 'A', name: 'mail.example.test' }] });
  assert.equal(decode((await udpExchange(srv.port, two))!).rcode, 'FORMERR');
  const none = dnsPacket.encode({ type: 'query', id: 8, questions: [] });
  assert.equal(decode((await udpExchange(srv.port, none))!).rcode, 'FORMERR');

  const notify = Buffer.from(good);
  notify[2] = (notify[2]! & 0x87) | (2 << 3); // opcode 2 (STATUS)
  const r3 = decode((await udpExchange(srv.port, notify))!);
  assert.equal(r3.rcode, 'NOTIMP');
  assert.equal(r3.opcode, 'STATUS');

  // A response is never answered (no reflection loops between servers).
  const response = Buffer.from(good);
  response[2]! |= 0x80;
  assert.equal(await udpExchange(srv.port, response, { timeoutMs: 300 }), null);
});

test('D1: EDNS0: OPT echoed with our payload size, DO bit copied, BADVERS for version 1', async () => {
  const plain = await query(srv.port, 'www.example.test');
  assert.equal(plain.additionals!.length, 0, 'no OPT without EDNS in the query');
  const e = await query(srv.port, 'www.example.test', { edns: true, dnssecOk: true });
  const opt = e.additionals!.find((a) => a.type === 'OPT') as unknown as { udpPayloadSize: number; flags: number; ednsVersion: number };
  assert.ok(opt);
  assert.equal(opt.udpPayloadSize, 1232);
  assert.equal(opt.flags & dnsPacket.DNSSEC_OK, dnsPacket.DNSSEC_OK);
  assert.equal(e.answers!.filter((a) => a.type === 'RRSIG').length, 0);

  const v1 = dnsPacket.encode({ type: 'query', id: 9, questions: [{ type: 'A', name: 'www.example.test' }], additionals: [{ name: '.', type: 'OPT', udpPayloadSize: 1232, ednsVersion: 1, options: [] } as unknown as dnsPacket.Answer] });
  const r = (await udpExchange(srv.port, v1))!;
  const d = decode(r);
  const o = d.additionals!.find((a) => a.type === 'OPT') as unknown as { extendedRcode: number; ednsVersion: number };
  assert.equal(o.extendedRcode, 1, 'BADVERS = 16: upper bits 1 in OPT');
  assert.equal(r[3]! & 0xf, 0, 'lower bits 0 in the header');
  assert.equal(o.ednsVersion, 0);
  assert.equal(d.answers!.length, 0);
});

test('D1: TC when the UDP answer does not fit; the same query over TCP returns it whole', async () => {
  const small = await query(srv.port, 'big.example.test');
  assert.ok(flagTC(small), 'no EDNS: 512 bytes');
  assert.equal(small.answers!.length, 0);
  const ednsSmall = await query(srv.port, 'big.example.test', { payload: 512 });
  assert.ok(flagTC(ednsSmall));
  const ednsBig = await query(srv.port, 'big.example.test', { payload: 4096 });
  assert.equal(flagTC(ednsBig), false, '40 A records fit in 1232 bytes');
  assert.equal(ednsBig.answers!.length, 40);
  const tcp = await query(srv.port, 'big.example.test', { tcp: true });
  assert.equal(flagTC(tcp), false);
  assert.equal(tcp.answers!.length, 40);
});

test('D1: names keep the query case (0x20) in question and answer', async () => {
  const reply = (await udpExchange(srv.port, buildQuery('WwW.ExAmPlE.tEsT')))!;
  const r = decode(reply);
  assert.equal(r.questions![0]!.name, 'WwW.ExAmPlE.tEsT');
  assert.equal(r.answers![0]!.name, 'WwW.ExAmPlE.tEsT');
  assert.deepEqual(addresses(r), ['192.0.2.1']);
});

test('D7: ANY is answered minimally with one RRset (RFC 8482)', async () => {
  const r = await query(srv.port, 'example.test', { type: 'ANY' });
  assert.equal(r.rcode, 'NOERROR');
  const types = new Set(r.answers!.map((a) => a.type));
  assert.equal(types.size, 1, `one RRset, got ${[...types].join(',')}`);
  const tcp = await query(srv.port, 'example.test', { type: 'ANY', tcp: true });
  assert.equal(new Set(tcp.answers!.map((a) => a.type)).size, 1);
});

test('D6: per-record TTLs down to 0 and 1 second are served as configured', async () => {
  assert.equal((await query(srv.port, 'fast.inline.test')).answers![0]!.ttl, 1);
  assert.equal((await query(srv.port, 'zero.inline.test')).answers![0]!.ttl, 0);
});

test('D1: multi-address RRsets rotate across queries', async () => {
  const firsts = new Set<string>();
  for (let id = 0; id < 8; id++) {
    const r = await query(srv.port, 'multi.example.test', { id });
    assert.deepEqual([...addresses(r)].sort(), ['192.0.2.11', '192.0.2.12', '192.0.2.13', '192.0.2.14']);
    firsts.add(addresses(r)[0]!);
  }
  assert.equal(firsts.size, 4);
});

test('D1: IPv6 listener answers the same data', async () => {
  const r = await query(srv.port, 'www.example.test', { host: '::1', type: 'AAAA' });
  assert.deepEqual(addresses(r), ['2001:db8::1']);
});

test('D1 (RFC 7766): pipelined TCP queries on one connection are all answered', async () => {
  const names = ['www.example.test', 'mail.example.test', 'nothing.example.test', 'www.example.org'];
  const msgs = names.map((n, i) => buildQuery(n, { id: 100 + i }));
  const replies = await tcpExchange(srv.port, msgs);
  assert.equal(replies.length, 4);
  const decoded = replies.map((b) => decode(b));
  assert.deepEqual(decoded.map((d) => d.id), [100, 101, 102, 103]);
  assert.deepEqual(decoded.map((d) => d.rcode), ['NOERROR', 'NOERROR', 'NXDOMAIN', 'REFUSED']);
});

test('D7: a TCP connection is closed after its query cap and after the idle timeout', async () => {
  const msgs = Array.from({ length: 8 }, (_, i) => buildQuery('www.example.test', { id: i }));
  const replies = await tcpExchange(srv.port, msgs, { timeoutMs: 2000 });
  assert.equal(replies.length, 5, 'maxQueriesPerConnection: 5');

  // Idle means without a query: one every 200 ms keeps a connection past the 300 ms timeout; after the last one it
  // is closed, not before 300 ms of silence (250: timers may fire a little early relative to our clock).
  const net = await import('node:net');
  const s = net.connect({ host: '127.0.0.1', port: srv.port });
  s.on('error', () => {});
  const frames: Buffer[] = [];
  s.on('data', (d: Buffer) => frames.push(d));
  let closedAt = -1;
  const closed = new Promise<void>((resolve) => { s.on('close', () => { closedAt = Date.now(); resolve(); }); });
  await new Promise<void>((r) => s.once('connect', () => r()));
  const ask = (id: number): void => { const q = buildQuery('www.example.test', { id }); const len = Buffer.alloc(2); len.writeUInt16BE(q.length); s.write(Buffer.concat([len, q])); };
  let lastQuery = 0;
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(closedAt, -1, `closed ${i * 200} ms into a connection that was never idle for 300 ms`);
    ask(100 + i);
    lastQuery = Date.now();
  }
  const guard = setTimeout(() => s.destroy(), 3000);
  await closed;
  clearTimeout(guard);
  assert.ok(Buffer.concat(frames).length > 0, 'the queries were answered');
  const idle = closedAt - lastQuery;
  assert.ok(idle >= 250 && idle < 3000, `closed ${idle} ms after the last query (idle timeout 300 ms; 3000: our guard)`);
});

test('D7: connections beyond the cap are refused while the cap is held', async () => {
  const net = await import('node:net');
  const open: Array<import('node:net').Socket> = [];
  for (let i = 0; i < 4; i++) {
    const s = net.connect({ host: '127.0.0.1', port: srv.port });
    s.on('error', () => {});
    await new Promise((r) => s.once('connect', r));
    open.push(s);
  }
  // The fifth connection is accepted by the kernel and then closed by the server at once, unanswered.
  const replies = await tcpExchange(srv.port, [buildQuery('www.example.test')], { timeoutMs: 1000 });
  assert.equal(replies.length, 0);
  for (const s of open) s.destroy();
  await new Promise((r) => setTimeout(r, 50));
  const ok = await tcpExchange(srv.port, [buildQuery('www.example.test')]);
  assert.equal(ok.length, 1);
});
