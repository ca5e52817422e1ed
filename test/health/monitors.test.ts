// H1/H4: every monitor type against REAL backends on 127.0.0.x started here (TCP, HTTP, HTTPS with a self-signed
// certificate made by openssl, DNS over UDP and TCP, an HAProxy-style agent). Nothing is mocked; every backend and
// socket is closed in after() so the process ends on its own.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import dnsPacket from 'dns-packet';
import { monitorSchema, type MonitorSpec } from '../../src/config/schema.js';
import type { ProbeResult, ProbeTarget } from '../../src/health/monitor.js';
import { MONITOR_TYPES, runProbe } from '../../src/health/monitors/index.js';
import { parseAgentReply } from '../../src/health/monitors/agent.js';
import { serverName } from '../../src/health/monitors/https.js';
import { normAddress } from '../../src/health/monitors/dns.js';

const TIMEOUT = 300;

// ---- backends and their cleanup ----

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

/** The accepted sockets still open, per backend. */
const openSockets = new WeakMap<net.Server, Set<net.Socket>>();

/** Listen on `host`:0, remember every accepted socket, and register the server for closing in after(). */
async function listen(server: net.Server, host = '127.0.0.1'): Promise<ProbeTarget> {
  const sockets = new Set<net.Socket>();
  openSockets.set(server, sockets);
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('error', () => { /* probes may reset */ });
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  closers.push(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  }));
  return { address: host, port: (server.address() as net.AddressInfo).port };
}

/** A port on `host` where nothing listens (bound once, then released). */
async function closedPort(host = '127.0.0.1'): Promise<ProbeTarget> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, host, () => resolve()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return { address: host, port };
}

/** A TCP backend running `onConnection` for each client. */
function tcpBackend(onConnection: (s: net.Socket) => void, host?: string): Promise<ProbeTarget> {
  return listen(net.createServer(onConnection), host);
}

/** Resolves when `fn` is true, polling; fails after `ms`. */
async function eventually(fn: () => boolean, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > until) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function spec<T extends MonitorSpec['type']>(fields: { type: T } & Record<string, unknown>): Extract<MonitorSpec, { type: T }> {
  return monitorSchema.parse({ name: 'm', ...fields }) as Extract<MonitorSpec, { type: T }>;
}

/** Run a probe that must fail by timeout, checking that it gave up in reasonable time. */
async function expectTimeout(s: MonitorSpec, target: ProbeTarget, mentions?: RegExp): Promise<ProbeResult> {
  const t0 = performance.now();
  const r = await runProbe(s, target, TIMEOUT);
  const elapsed = performance.now() - t0;
  assert.equal(r.ok, false, r.detail);
  assert.match(r.detail, /^timeout after 300 ms/);
  if (mentions) assert.match(r.detail, mentions);
  assert.ok(elapsed >= TIMEOUT - 5, `gave up after ${elapsed} ms, before the timeout`);
  assert.ok(elapsed < TIMEOUT * 5, `took ${elapsed} ms for a ${TIMEOUT} ms timeout`);
  return r;
}

function assertOk(r: ProbeResult): void {
  assert.equal(r.ok, true, r.detail);
  assert.ok(Number.isFinite(r.rttMs) && r.rttMs >= 0 && r.rttMs < TIMEOUT * 5, `rttMs ${r.rttMs}`);
}

// ---- registry ----

describe('H1 monitor registry', () => {
  test('H1: MONITOR_TYPES holds one monitor per configured type, each with its usual port', () => {
    assert.deepEqual([...MONITOR_TYPES.keys()].sort(), ['agent', 'dns', 'http', 'https', 'tcp', 'tcp-send-expect']);
    for (const [key, m] of MONITOR_TYPES) assert.equal(m.type, key);
    assert.equal(MONITOR_TYPES.get('https')!.defaultPort, 443);
    assert.equal(MONITOR_TYPES.get('dns')!.defaultPort, 53);
    assert.equal(MONITOR_TYPES.get('http')!.defaultPort, 80);
  });

  test('H1: runProbe turns an unknown type into a failed result, not an exception', async () => {
    const r = await runProbe({ type: 'smoke-signal' } as unknown as MonitorSpec, { address: '127.0.0.1', port: 1 }, TIMEOUT);
    assert.equal(r.ok, false);
    assert.match(r.detail, /unknown monitor type "smoke-signal"/);
  });

  test('H1: a probe with a bad port fails with a detail instead of throwing', async () => {
    const r = await runProbe(spec({ type: 'tcp' }), { address: '127.0.0.1', port: 70000 }, TIMEOUT);
    assert.equal(r.ok, false);
    assert.match(r.detail, /connect/);
  });
});

// ---- tcp ----

describe('H1 tcp monitor', () => {
  test('H1 tcp: connects, then closes cleanly (the backend sees an orderly end)', async () => {
    let ended = 0;
    const target = await tcpBackend((s) => { s.on('end', () => { ended++; s.end(); }); });
    const r = await runProbe(spec({ type: 'tcp' }), target, TIMEOUT);
    assertOk(r);
    assert.match(r.detail, /^connected in/);
    await eventually(() => ended === 1);
  });

  test('H1 tcp: works on another loopback address (127.0.0.2)', async () => {
    const target = await tcpBackend((s) => s.end(), '127.0.0.2');
    assertOk(await runProbe(spec({ type: 'tcp' }), target, TIMEOUT));
  });

  test('H1 tcp: a closed port fails with "connect ECONNREFUSED"', async () => {
    const r = await runProbe(spec({ type: 'tcp' }), await closedPort(), TIMEOUT);
    assert.equal(r.ok, false);
    assert.equal(r.detail, 'connect ECONNREFUSED');
  });
});

// ---- tcp-send-expect ----

describe('H1 tcp-send-expect monitor', () => {
  let received = Buffer.alloc(0);
  let ping: ProbeTarget, banner: ProbeTarget, wrongClose: ProbeTarget, wrongOpen: ProbeTarget;
  let silent: ProbeTarget, split: ProbeTarget, flood: ProbeTarget;

  before(async () => {
    ping = await tcpBackend((s) => {
      let got = Buffer.alloc(0);
      s.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        received = got;
        if (got.includes('PING\r\n')) s.write('+PONG\r\n');
      });
    });
    banner = await tcpBackend((s) => {
      s.write('220 backend.test ESMTP ready\r\n');
      s.on('data', (d: Buffer) => { if (d.toString().startsWith('QUIT')) s.end('221 bye\r\n'); });
    });
    wrongClose = await tcpBackend((s) => s.end('500 nope\r\n'));
    wrongOpen = await tcpBackend((s) => { s.write('500 nope\r\n'); });
    silent = await tcpBackend(() => { /* accepts, never answers */ });
    split = await tcpBackend((s) => {
      s.on('data', () => {
        s.write('+PO');
        setTimeout(() => { if (!s.destroyed) s.write('NG\r\n'); }, 30);
      });
    });
    flood = await tcpBackend((s) => { s.write(Buffer.alloc(100 * 1024, 'x')); });
  });

  test('H1 send/expect: sends the request bytes as written and matches the reply', async () => {
    const r = await runProbe(spec({ type: 'tcp-send-expect', send: 'PING\r\n', expect: '^\\+PONG' }), ping, TIMEOUT);
    assertOk(r);
    assert.equal(r.detail, 'reply matched /^\\+PONG/');
    assert.equal(received.toString('latin1'), 'PING\r\n');
  });

  test('H1 send/expect: characters below 256 are sent as single bytes (binary requests)', async () => {
    const r = await runProbe(spec({ type: 'tcp-send-expect', send: '\x00\xffPING\r\n', expect: 'PONG' }), ping, TIMEOUT);
    assertOk(r);
    assert.deepEqual([...received.subarray(0, 2)], [0x00, 0xff]);
  });

  test('H1 send/expect: an empty send waits for the banner', async () => {
    assertOk(await runProbe(spec({ type: 'tcp-send-expect', expect: '^220 ' }), banner, TIMEOUT));
  });

  test('H1 send/expect: a reply split across segments is matched once whole', async () => {
    assertOk(await runProbe(spec({ type: 'tcp-send-expect', send: 'x', expect: '^\\+PONG\\r\\n' }), split, TIMEOUT));
  });

  test('H1 send/expect: a wrong banner followed by close fails and shows what came back', async () => {
    const r = await runProbe(spec({ type: 'tcp-send-expect', expect: '^220' }), wrongClose, TIMEOUT);
    assert.equal(r.ok, false);
    assert.equal(r.detail, 'connection closed: reply did not match /^220/, got "500 nope\\r\\n"');
  });

  test('H1 send/expect: a wrong banner on an open connection fails at the timeout, saying why', async () => {
    await expectTimeout(spec({ type: 'tcp-send-expect', expect: '^220' }), wrongOpen, /did not match \/\^220\/, got "500 nope/);
  });

  test('H1 send/expect: a backend that accepts but never answers times out', async () => {
    await expectTimeout(spec({ type: 'tcp-send-expect', send: 'PING\r\n', expect: 'PONG' }), silent, /waiting for reply/);
  });

  test('H1 send/expect: reply accumulation stops at 64 KiB', async () => {
    const r = await runProbe(spec({ type: 'tcp-send-expect', expect: 'DONE' }), flood, TIMEOUT);
    assert.equal(r.ok, false);
    assert.match(r.detail, /did not match \/DONE\/ in the first 65536 bytes/);
  });

  test('H1 send/expect: a closed port fails with ECONNREFUSED', async () => {
    const r = await runProbe(spec({ type: 'tcp-send-expect', expect: 'x' }), await closedPort(), TIMEOUT);
    assert.deepEqual([r.ok, r.detail], [false, 'connect ECONNREFUSED']);
  });

  test('H1 send/expect: an invalid regular expression fails without connecting', async () => {
    const r = await runProbe(spec({ type: 'tcp-send-expect', expect: '(' }), await closedPort(), TIMEOUT);
    assert.equal(r.ok, false);
    assert.match(r.detail, /^invalid regular expression \/\(\//);
  });
});

// ---- http ----

interface SeenRequest { method: string; url: string; host: string | undefined; connection: string | undefined }

function httpRoutes(seen: SeenRequest[]): http.RequestListener {
  return (req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host, connection: req.headers.connection });
    switch (req.url) {
      case '/ok': res.writeHead(200, { 'content-type': 'text/plain' }).end('status: ok\n'); return;
      case '/down': res.writeHead(503).end('maintenance\n'); return;
      case '/redirect': res.writeHead(302, { location: '/ok' }).end(); return;
      case '/nocontent': res.writeHead(204).end(); return;
      case '/big': res.writeHead(200).end(Buffer.concat([Buffer.alloc(100 * 1024, 'a'), Buffer.from('MARKER')])); return;
      case '/slow': return; // never answers
      default: res.writeHead(404).end('no\n');
    }
  };
}

describe('H1 http monitor', () => {
  const seen: SeenRequest[] = [];
  let server: http.Server;
  let web: ProbeTarget, silentTcp: ProbeTarget, notHttp: ProbeTarget;

  before(async () => {
    server = http.createServer(httpRoutes(seen));
    web = await listen(server);
    silentTcp = await tcpBackend(() => { /* accepts, never answers */ });
    notHttp = await tcpBackend((s) => { s.end('SSH-2.0-OpenSSH_9.6\r\n'); });
  });
  const last = (): SeenRequest => seen[seen.length - 1]!;

  test('H1 http: 200 with a matching body passes; Host and Connection: close are sent', async () => {
    const r = await runProbe(spec({ type: 'http', path: '/ok', expect: { status: [200], body: 'status: ok' } }), web, TIMEOUT);
    assertOk(r);
    assert.equal(r.detail, 'HTTP 200, body matched /status: ok/');
    assert.deepEqual(last(), { method: 'GET', url: '/ok', host: `127.0.0.1:${web.port}`, connection: 'close' });
    // No keep-alive socket lingers on either side.
    await eventually(() => openSockets.get(server)!.size === 0);
  });

  test('H1 http: the configured host is sent as the Host header, the method as given', async () => {
    assertOk(await runProbe(spec({ type: 'http', method: 'HEAD', path: '/ok', host: 'www.example.test' }), web, TIMEOUT));
    assert.deepEqual(last(), { method: 'HEAD', url: '/ok', host: 'www.example.test', connection: 'close' });
  });

  test('H1 http: a status outside expect.status fails with "HTTP 503 (expected 200)"', async () => {
    const r = await runProbe(spec({ type: 'http', path: '/down' }), web, TIMEOUT);
    assert.equal(r.ok, false);
    assert.equal(r.detail, 'HTTP 503 (expected 200)');
    assert.ok(r.rttMs >= 0);
  });

  test('H1 http: several accepted statuses', async () => {
    assertOk(await runProbe(spec({ type: 'http', path: '/nocontent', expect: { status: [200, 204] } }), web, TIMEOUT));
    const r = await runProbe(spec({ type: 'http', path: '/missing', expect: { status: [200, 204] } }), web, TIMEOUT);
    assert.equal(r.detail, 'HTTP 404 (expected 200, 204)');
  });

  test('H1 http: a body that does not match fails with "body did not match /…/"', async () => {
    const r = await runProbe(spec({ type: 'http', path: '/ok', expect: { body: 'healthy' } }), web, TIMEOUT);
    assert.equal(r.ok, false);
    assert.match(r.detail, /^body did not match \/healthy\/, got "status: ok\\n"$/);
  });

  test('H1 http: redirects are not followed', async () => {
    const before = seen.length;
    const r = await runProbe(spec({ type: 'http', path: '/redirect' }), web, TIMEOUT);
    assert.equal(r.detail, 'HTTP 302 (expected 200)');
    assertOk(await runProbe(spec({ type: 'http', path: '/redirect', expect: { status: [302] } }), web, TIMEOUT));
    assert.deepEqual(seen.slice(before).map((s) => s.url), ['/redirect', '/redirect']);
  });

  test('H1 http: only the first 64 KiB of a body is matched', async () => {
    assertOk(await runProbe(spec({ type: 'http', path: '/big', expect: { body: '^a{1000}' } }), web, TIMEOUT));
    const r = await runProbe(spec({ type: 'http', path: '/big', expect: { body: 'MARKER' } }), web, TIMEOUT);
    assert.equal(r.ok, false);
    assert.match(r.detail, /^body did not match \/MARKER\/ in the first 65536 bytes/);
  });

  test('H1 http: a server that never answers the request times out', async () => {
    await expectTimeout(spec({ type: 'http', path: '/slow' }), web, /waiting for response/);
  });

  test('H1 http: a TCP backend that accepts but never speaks HTTP times out', async () => {
    await expectTimeout(spec({ type: 'http' }), silentTcp, /waiting for response/);
  });

  test('H1 http: a closed port fails with "connect ECONNREFUSED"', async () => {
    const r = await runProbe(spec({ type: 'http' }), await closedPort(), TIMEOUT);
    assert.deepEqual([r.ok, r.detail], [false, 'connect ECONNREFUSED']);
  });

  test('H1 http: a reply that is not HTTP fails as a bad reply', async () => {
    const r = await runProbe(spec({ type: 'http' }), notHttp, TIMEOUT);
    assert.equal(r.ok, false);
    assert.match(r.detail, /^bad HTTP reply: HPE_/);
  });

  test('H1 http: an invalid body regex fails with a detail', async () => {
    const r = await runProbe(spec({ type: 'http', expect: { body: '[' } }), web, TIMEOUT);
    assert.equal(r.ok, false);
    assert.match(r.detail, /^invalid regular expression/);
  });
});

// ---- https ----

describe('H1 https monitor', () => {
  const seen: SeenRequest[] = [];
  const servernames: Array<string | false> = [];
  let dir = '';
  let secure: ProbeTarget, silentTcp: ProbeTarget, plainHttp: ProbeTarget;

  before(async () => {
    try {
      execFileSync('openssl', ['version'], { stdio: 'pipe' });
    } catch {
      throw new Error('openssl is not installed: it is needed to make the self-signed certificate for the https monitor tests');
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'waymark-monitors-'));
    closers.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=backend.test'], { stdio: 'pipe' });
    const server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, httpRoutes(seen));
    server.on('secureConnection', (s: tls.TLSSocket) => { servernames.push(s.servername ?? false); });
    server.on('tlsClientError', () => { /* the insecure:false probe rejects our certificate */ });
    secure = await listen(server);
    silentTcp = await tcpBackend(() => { /* accepts, never answers */ });
    plainHttp = await listen(http.createServer(httpRoutes([])));
  });
  const lastSeen = (): SeenRequest => seen[seen.length - 1]!;

  test('H1 https: insecure:true accepts the self-signed certificate; SNI comes from host', async () => {
    const r = await runProbe(spec({ type: 'https', path: '/ok', host: 'backend.test', insecure: true, expect: { body: 'ok' } }), secure, TIMEOUT);
    assertOk(r);
    assert.equal(servernames[servernames.length - 1], 'backend.test');
    assert.deepEqual(lastSeen(), { method: 'GET', url: '/ok', host: 'backend.test', connection: 'close' });
  });

  test('H1 https: insecure:false rejects the self-signed certificate with a certificate error', async () => {
    const r = await runProbe(spec({ type: 'https', path: '/ok', host: 'backend.test' }), secure, TIMEOUT);
    assert.equal(r.ok, false);
    assert.match(r.detail, /^certificate rejected: \S*(SELF_SIGNED|CERT)/);
  });

  test('H1 https: sni wins over host for the server name; host stays the Host header', async () => {
    assertOk(await runProbe(spec({ type: 'https', path: '/ok', host: 'www.other.test', sni: 'backend.test', insecure: true }), secure, TIMEOUT));
    assert.equal(servernames[servernames.length - 1], 'backend.test');
    assert.equal(lastSeen().host, 'www.other.test');
  });

  test('H1 https: no SNI is sent for an IP address', async () => {
    const count = servernames.length;
    assertOk(await runProbe(spec({ type: 'https', path: '/ok', insecure: true }), secure, TIMEOUT));
    assertOk(await runProbe(spec({ type: 'https', path: '/ok', host: '127.0.0.1', insecure: true }), secure, TIMEOUT));
    assert.deepEqual(servernames.slice(count), [false, false]);
    assert.equal(lastSeen().host, '127.0.0.1');
  });

  test('H1 https: the server name drops ports and brackets and is never an IP', () => {
    assert.equal(serverName({ host: 'www.example.test:8443' }), 'www.example.test');
    assert.equal(serverName({ host: '[::1]:8443' }), '');
    assert.equal(serverName({ host: '192.0.2.1' }), '');
    assert.equal(serverName({ sni: 'a.test', host: 'b.test' }), 'a.test');
    assert.equal(serverName({}), '');
  });

  test('H1 https: status and body are checked as for http', async () => {
    const r = await runProbe(spec({ type: 'https', path: '/down', host: 'backend.test', insecure: true }), secure, TIMEOUT);
    assert.deepEqual([r.ok, r.detail], [false, 'HTTP 503 (expected 200)']);
  });

  test('H1 https: a backend that accepts but never completes the handshake times out', async () => {
    await expectTimeout(spec({ type: 'https', host: 'backend.test', insecure: true }), silentTcp, /TLS handshake/);
  });

  test('H1 https: a plain-HTTP backend fails the TLS handshake', async () => {
    const r = await runProbe(spec({ type: 'https', host: 'backend.test', insecure: true }), plainHttp, TIMEOUT);
    assert.equal(r.ok, false);
    assert.doesNotMatch(r.detail, /^HTTP /);
  });

  test('H1 https: a closed port fails with "connect ECONNREFUSED"', async () => {
    const r = await runProbe(spec({ type: 'https', insecure: true }), await closedPort(), TIMEOUT);
    assert.deepEqual([r.ok, r.detail], [false, 'connect ECONNREFUSED']);
  });
});

// ---- dns ----

interface DnsQuestion { name: string; type: string }
const NOERROR = 0;
const NXDOMAIN = 3;
const REFUSED = 5;

/** The test zone: answers for www.example.test, REFUSED for refused.test, a wrong id for wrongid.test, NXDOMAIN else. */
function dnsAnswer(query: Buffer): Buffer | undefined {
  const q = dnsPacket.decode(query) as unknown as { id: number; questions: DnsQuestion[] };
  const question = q.questions[0]!;
  const name = question.name.toLowerCase();
  if (name === 'silent.test') return undefined;
  const reply = (rcode: number, answers: dnsPacket.Answer[] = [], id = q.id): Buffer => dnsPacket.encode({
    id, type: 'response', flags: dnsPacket.AUTHORITATIVE_ANSWER | rcode,
    questions: [{ name: question.name, type: question.type as dnsPacket.RecordType, class: 'IN' }], answers,
  });
  if (name === 'wrongid.test') return reply(NOERROR, [], (q.id + 1) & 0xffff);
  if (name === 'refused.test') return reply(REFUSED);
  if (name !== 'www.example.test') return reply(NXDOMAIN);
  if (question.type === 'A') {
    return reply(NOERROR, [
      { name: question.name, type: 'A', ttl: 30, data: '192.0.2.1' },
      { name: question.name, type: 'A', ttl: 30, data: '192.0.2.2' },
    ]);
  }
  if (question.type === 'AAAA') return reply(NOERROR, [{ name: question.name, type: 'AAAA', ttl: 30, data: '2001:db8::1' }]);
  return reply(NOERROR);
}

describe('H1 dns monitor', () => {
  const ids: number[] = [];
  const questions: DnsQuestion[] = [];
  let udp: ProbeTarget, tcp: ProbeTarget, silentUdp: ProbeTarget;

  before(async () => {
    const sock = dgram.createSocket('udp4');
    sock.on('message', (msg, rinfo) => {
      const q = dnsPacket.decode(msg) as unknown as { id: number; questions: DnsQuestion[] };
      ids.push(q.id);
      questions.push(q.questions[0]!);
      const reply = dnsAnswer(msg);
      if (reply) sock.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
    closers.push(() => new Promise<void>((resolve) => sock.close(() => resolve())));
    udp = { address: '127.0.0.1', port: sock.address().port };

    const quiet = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => quiet.bind(0, '127.0.0.1', () => resolve()));
    closers.push(() => new Promise<void>((resolve) => quiet.close(() => resolve())));
    silentUdp = { address: '127.0.0.1', port: quiet.address().port };

    tcp = await tcpBackend((s) => {
      let buf = Buffer.alloc(0);
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
        const reply = dnsAnswer(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        if (!reply) return;
        const framed = Buffer.concat([Buffer.from([reply.length >> 8, reply.length & 0xff]), reply]);
        s.write(framed.subarray(0, 5)); // the reply arrives in two pieces
        setTimeout(() => { if (!s.destroyed) s.write(framed.subarray(5)); }, 20);
      });
    });
  });

  test('H1 dns: NOERROR with the expected address passes; the query asks the configured question', async () => {
    const r = await runProbe(spec({ type: 'dns', qname: 'www.example.test', expect: { address: '192.0.2.2' } }), udp, TIMEOUT);
    assertOk(r);
    assert.equal(r.detail, 'rcode NOERROR, answer has 192.0.2.2');
    assert.deepEqual(questions[questions.length - 1], { name: 'www.example.test', type: 'A', class: 'IN' });
  });

  test('H1 dns: each query carries a random id', async () => {
    const from = ids.length;
    for (let i = 0; i < 4; i++) assertOk(await runProbe(spec({ type: 'dns', qname: 'www.example.test' }), udp, TIMEOUT));
    assert.ok(new Set(ids.slice(from)).size > 1, `ids ${ids.slice(from).join(',')}`);
  });

  test('H1 dns: AAAA addresses are compared in canonical form', async () => {
    assertOk(await runProbe(spec({ type: 'dns', qname: 'www.example.test.', qtype: 'AAAA', expect: { address: '2001:0db8:0:0::0001' } }), udp, TIMEOUT));
  });

  test('H1 dns: an answer without the expected address fails', async () => {
    const r = await runProbe(spec({ type: 'dns', qname: 'www.example.test', expect: { address: '192.0.2.9' } }), udp, TIMEOUT);
    assert.equal(r.ok, false);
    assert.equal(r.detail, 'answer lacks 192.0.2.9 (got 192.0.2.1, 192.0.2.2)');
  });

  test('H1 dns: a wrong rcode fails with "rcode NXDOMAIN (expected NOERROR)"; NXDOMAIN can be expected', async () => {
    const r = await runProbe(spec({ type: 'dns', qname: 'nothere.example.test' }), udp, TIMEOUT);
    assert.deepEqual([r.ok, r.detail], [false, 'rcode NXDOMAIN (expected NOERROR)']);
    assertOk(await runProbe(spec({ type: 'dns', qname: 'nothere.example.test', expect: { rcode: 'NXDOMAIN' } }), udp, TIMEOUT));
    const refused = await runProbe(spec({ type: 'dns', qname: 'refused.test' }), udp, TIMEOUT);
    assert.equal(refused.detail, 'rcode REFUSED (expected NOERROR)');
  });

  test('H1 dns: a reply with another id is ignored, so the probe times out and says why', async () => {
    await expectTimeout(spec({ type: 'dns', qname: 'wrongid.test' }), udp, /ignored 1 reply: wrong id/);
  });

  test('H1 dns: a server that never answers times out', async () => {
    await expectTimeout(spec({ type: 'dns', qname: 'www.example.test' }), silentUdp, /waiting for reply/);
    await expectTimeout(spec({ type: 'dns', qname: 'silent.test' }), udp);
  });

  test('H1 dns: a closed UDP port fails', async () => {
    const closed = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => closed.bind(0, '127.0.0.1', () => resolve()));
    const port = closed.address().port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const r = await runProbe(spec({ type: 'dns', qname: 'www.example.test' }), { address: '127.0.0.1', port }, TIMEOUT);
    assert.equal(r.ok, false);
    assert.match(r.detail, /ECONNREFUSED|timeout/);
  });

  test('H1 dns over TCP: 2-byte framing, a reply in pieces, rcode and address checked', async () => {
    const r = await runProbe(spec({ type: 'dns', transport: 'tcp', qname: 'www.example.test', expect: { address: '192.0.2.1' } }), tcp, TIMEOUT);
    assertOk(r);
    const bad = await runProbe(spec({ type: 'dns', transport: 'tcp', qname: 'refused.test' }), tcp, TIMEOUT);
    assert.deepEqual([bad.ok, bad.detail], [false, 'rcode REFUSED (expected NOERROR)']);
    const wrong = await runProbe(spec({ type: 'dns', transport: 'tcp', qname: 'www.example.test', expect: { address: '192.0.2.7' } }), tcp, TIMEOUT);
    assert.equal(wrong.ok, false);
  });

  test('H1 dns over TCP: a closed port fails with "connect ECONNREFUSED"', async () => {
    const r = await runProbe(spec({ type: 'dns', transport: 'tcp', qname: 'www.example.test' }), await closedPort(), TIMEOUT);
    assert.deepEqual([r.ok, r.detail], [false, 'connect ECONNREFUSED']);
  });
});

// ---- agent ----

describe('H4 agent reply parsing', () => {
  const cases: Array<[string, ReturnType<typeof parseAgentReply>]> = [
    ['up', { state: 'up' }],
    ['ready', { state: 'up' }],
    ['UP\n', { state: 'up' }],
    ['down', { state: 'down' }],
    ['maint', { state: 'down' }],
    ['fail', { state: 'down' }],
    ['stopped', { state: 'down' }],
    ['drain', { state: 'drain' }],
    ['up, weight:50%', { state: 'up', weightPercent: 50 }],
    ['75%', { weightPercent: 75 }],
    ['weight:30', { weightPercent: 30 }],
    ['up 12.5%', { state: 'up', weightPercent: 12.5 }],
    ['load:42', { load: 42 }],
    ['load:42%', { load: 42 }],
    ['cpu:20', { cpu: 20 }],
    ['cpu:20%', { cpu: 20 }],
    ['conns:17', { conns: 17 }],
    ['up, weight:50%, load:30, conns:12, cpu:20%', { state: 'up', weightPercent: 50, load: 30, conns: 12, cpu: 20 }],
    ['up,weight:50%,cpu:5', { state: 'up', weightPercent: 50, cpu: 5 }],
    ['  up   ,  drain  ', { state: 'drain' }],
    ['drain up', { state: 'drain' }],
    ['up maint', { state: 'down' }],
    ['down ready', { state: 'down' }],
    ['down#disk full', { state: 'down' }],
    ['up # fine, but: down', { state: 'up' }],
    ['up\ncpu:10\nconns:3', { state: 'up', cpu: 10, conns: 3 }],
    ['hello world, status=green', {}],
    ['up, maxconn:100, weight:abc, cpu:-5, conns:1.5, conns:2%, load:', { state: 'up' }],
    ['cpu:10 cpu:30', { cpu: 30 }],
    ['', {}],
  ];
  for (const [text, want] of cases) {
    test(`H4: agent text ${JSON.stringify(text)}`, () => {
      assert.deepEqual(parseAgentReply(text), want);
    });
  }
});

describe('H4 agent monitor', () => {
  const bodies: Record<string, string> = {
    '/up': 'up\n',
    '/full': 'up, weight:50%, load:30, conns:12, cpu:20%\n',
    '/down': 'down#disk full\n',
    '/maint': 'maint\n',
    '/drain': 'drain 75%\n',
    '/noise': 'hello world\n',
  };
  let agentBackend: ProbeTarget;

  before(async () => {
    agentBackend = await listen(http.createServer((req, res) => {
      const body = bodies[req.url ?? ''];
      if (req.url === '/silent') return;
      if (body === undefined) { res.writeHead(500).end('broken\n'); return; }
      res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
    }), '127.0.0.3');
  });

  test('H4 agent: "up" with metrics passes and carries the parsed report', async () => {
    const r = await runProbe(spec({ type: 'agent', path: '/full' }), agentBackend, TIMEOUT);
    assertOk(r);
    assert.deepEqual(r.agent, { state: 'up', weightPercent: 50, load: 30, conns: 12, cpu: 20 });
    assert.equal(r.detail, 'agent: up, weight 50%, load 30, conns 12, cpu 20');
  });

  test('H4 agent: "down" fails with "agent: down"', async () => {
    const r = await runProbe(spec({ type: 'agent', path: '/down' }), agentBackend, TIMEOUT);
    assert.deepEqual([r.ok, r.detail, r.agent], [false, 'agent: down', { state: 'down' }]);
  });

  test('H4 agent: "maint" counts as down', async () => {
    const r = await runProbe(spec({ type: 'agent', path: '/maint' }), agentBackend, TIMEOUT);
    assert.deepEqual([r.ok, r.agent], [false, { state: 'down' }]);
  });

  test('H4 agent: "drain" and a reply without state words stay ok', async () => {
    const drain = await runProbe(spec({ type: 'agent', path: '/drain' }), agentBackend, TIMEOUT);
    assertOk(drain);
    assert.deepEqual(drain.agent, { state: 'drain', weightPercent: 75 });
    const noise = await runProbe(spec({ type: 'agent', path: '/noise' }), agentBackend, TIMEOUT);
    assertOk(noise);
    assert.equal(noise.detail, 'agent: no state');
    assertOk(await runProbe(spec({ type: 'agent', path: '/up' }), agentBackend, TIMEOUT));
  });

  test('H4 agent: a non-2xx reply fails', async () => {
    const r = await runProbe(spec({ type: 'agent', path: '/nothing' }), agentBackend, TIMEOUT);
    assert.deepEqual([r.ok, r.detail, r.agent], [false, 'HTTP 500 (expected 2xx)', undefined]);
  });

  test('H4 agent: an agent that never answers times out', async () => {
    await expectTimeout(spec({ type: 'agent', path: '/silent' }), agentBackend);
  });

  test('H4 agent: a closed port fails with "connect ECONNREFUSED"', async () => {
    const r = await runProbe(spec({ type: 'agent' }), await closedPort(), TIMEOUT);
    assert.deepEqual([r.ok, r.detail], [false, 'connect ECONNREFUSED']);
  });
});

test('H1 dns: expected and answered addresses compare in one spelling; a zone index makes the text a name', () => {
  assert.equal(normAddress('[2001:0DB8:0:0::0001]'), '2001:db8::1');
  assert.equal(normAddress('::ffff:192.0.2.1'), '::ffff:c000:201');
  assert.equal(normAddress('192.0.2.1'), '192.0.2.1');
  assert.equal(normAddress('Mail.Example.Test.'), 'mail.example.test');
  // No DNS answer carries a zone index, so such text is compared as written (lower case), never as an address.
  assert.equal(normAddress('FE80::1%ETH0'), 'fe80::1%eth0');
});
