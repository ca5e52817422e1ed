// Test harness: real servers on loopback and real clients (UDP/TCP sockets, dns-packet to build/read messages).
// Owns: starting Waymark in-process or as the CLI, and sending queries. Nothing here mocks the network.
import dgram from 'node:dgram';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import dnsPacket from 'dns-packet';
import { parseConfigText, loadZones, compileSnapshot } from '../src/config/load.js';
import { formatErrors } from '../src/config/schema.js';
import { DnsServer } from '../src/dns/server.js';
import { TsigKeyring } from '../src/wire/tsig.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');

/** A decoded message as dns-packet returns it (its published typings omit rcode/opcode and per-type data). */
export interface DecodedRecord { name: string; type: string; class?: string; ttl?: number; data?: unknown; flags?: number; udpPayloadSize?: number; extendedRcode?: number; ednsVersion?: number; options?: Array<{ code: number; data?: Buffer; [k: string]: unknown }> }
export interface Decoded {
  id: number; type: string; flags: number; rcode: string; opcode: string;
  questions: Array<{ name: string; type: string; class: string }>;
  answers: DecodedRecord[]; authorities: DecodedRecord[]; additionals: DecodedRecord[];
}
export function decode(buf: Buffer): Decoded {
  return dnsPacket.decode(buf) as unknown as Decoded;
}

/** A temp directory removed by the caller (or left for inspection on failure). */
export function tempDir(prefix = 'waymark-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface InProcessServer { server: DnsServer; port: number; close(): Promise<void> }

/**
 * Start Waymark in this process from YAML text; listen addresses are replaced by 127.0.0.1 (and ::1 when asked)
 * on a free port. Zone `file:` paths resolve against `baseDir`.
 */
export async function startServer(yaml: string, opts: { ipv6?: boolean; baseDir?: string } = {}): Promise<InProcessServer> {
  const parsed = parseConfigText(yaml);
  if (!parsed.ok) throw new Error(formatErrors(parsed.errors));
  const loaded = loadZones(parsed.value, opts.baseDir ?? ROOT, null);
  if (!loaded.ok) throw new Error(formatErrors(loaded.errors));
  const snap = compileSnapshot(loaded.value, 1);
  if (!snap.ok) throw new Error(formatErrors(snap.errors));
  const s = parsed.value.server;
  const listen = [{ host: '127.0.0.1', port: 0 }];
  const server = await DnsServer.start(snap.value, {
    listen, udpPayload: s.udpPayload, udpTransport: s.udpTransport, rrl: s.rrl, exclusive: true,
    tcp: { idleTimeoutMs: s.tcp.idleTimeout, maxConnections: s.tcp.maxConnections, maxQueriesPerConnection: s.tcp.maxQueriesPerConnection },
  });
  if (parsed.value.keys?.length) server.responder.tsig = new TsigKeyring(parsed.value.keys);
  const port = server.bound[0]!.port;
  if (opts.ipv6) {
    // Same port on ::1 so tests can query either family.
    const v6 = await DnsServer.start(snap.value, { ...server.options, listen: [{ host: '::1', port }] });
    return { server, port, close: async () => { await v6.close(); await server.close(); } };
  }
  return { server, port, close: () => server.close() };
}

export interface QueryOptions {
  type?: string;
  id?: number;
  tcp?: boolean;
  host?: string;
  /** Local address to send from (e.g. 127.0.0.7) — the server sees it as the resolver address. */
  from?: string;
  edns?: boolean;
  payload?: number;
  dnssecOk?: boolean;
  ecs?: { family: 1 | 2; sourcePrefixLength: number; ip: string };
  rd?: boolean;
  timeoutMs?: number;
}

export function buildQuery(name: string, o: QueryOptions = {}): Buffer {
  const additionals: unknown[] = [];
  if (o.edns || o.payload !== undefined || o.dnssecOk || o.ecs) {
    const options = o.ecs ? [{ code: 'CLIENT_SUBNET', family: o.ecs.family, sourcePrefixLength: o.ecs.sourcePrefixLength, scopePrefixLength: 0, ip: o.ecs.ip }] : [];
    additionals.push({ name: '.', type: 'OPT', udpPayloadSize: o.payload ?? 1232, flags: o.dnssecOk ? dnsPacket.DNSSEC_OK : 0, options });
  }
  return dnsPacket.encode({
    type: 'query', id: o.id ?? Math.floor(Math.random() * 65536), flags: o.rd === false ? 0 : dnsPacket.RECURSION_DESIRED,
    questions: [{ type: (o.type ?? 'A') as 'A', name }],
    additionals: additionals as dnsPacket.Answer[],
  });
}

/** Send raw bytes over UDP and return the raw reply, or null on timeout. */
export function udpExchange(port: number, msg: Buffer, o: { host?: string; from?: string; timeoutMs?: number } = {}): Promise<Buffer | null> {
  const host = o.host ?? '127.0.0.1';
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  return new Promise((resolve) => {
    const timer = setTimeout(() => { sock.close(); resolve(null); }, o.timeoutMs ?? 2000);
    sock.on('message', (reply) => { clearTimeout(timer); sock.close(); resolve(reply); });
    sock.on('error', () => { clearTimeout(timer); try { sock.close(); } catch { /* closed */ } resolve(null); });
    sock.bind({ address: o.from ?? (host.includes(':') ? '::1' : '127.0.0.1'), port: 0 }, () => sock.send(msg, port, host));
  });
}

/** Send several raw messages on one TCP connection (pipelined, in one write) and collect as many replies. */
export function tcpExchange(port: number, msgs: Buffer[], o: { host?: string; timeoutMs?: number; expect?: number } = {}): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: o.host ?? '127.0.0.1', port });
    const replies: Buffer[] = [];
    const want = o.expect ?? msgs.length;
    let pending = Buffer.alloc(0);
    const timer = setTimeout(() => { sock.destroy(); resolve(replies); }, o.timeoutMs ?? 3000);
    sock.on('connect', () => sock.write(Buffer.concat(msgs.flatMap((m) => { const l = Buffer.alloc(2); l.writeUInt16BE(m.length); return [l, m]; }))));
    sock.on('data', (d) => {
      pending = Buffer.concat([pending, d]);
      while (pending.length >= 2 && pending.length - 2 >= pending.readUInt16BE(0)) {
        const len = pending.readUInt16BE(0);
        replies.push(pending.subarray(2, 2 + len));
        pending = pending.subarray(2 + len);
      }
      if (replies.length >= want) { clearTimeout(timer); sock.destroy(); resolve(replies); }
    });
    sock.on('error', (e) => { clearTimeout(timer); if (replies.length) resolve(replies); else reject(e); });
    sock.on('close', () => { clearTimeout(timer); resolve(replies); });
  });
}

/** One query, decoded reply (throws on timeout so a test names what went wrong). */
export async function query(port: number, name: string, o: QueryOptions = {}): Promise<Decoded> {
  const msg = buildQuery(name, o);
  if (o.tcp) {
    const [reply] = await tcpExchange(port, [msg], { host: o.host, timeoutMs: o.timeoutMs });
    if (!reply) throw new Error(`no TCP reply for ${name}/${o.type ?? 'A'}`);
    return decode(reply);
  }
  const reply = await udpExchange(port, msg, { host: o.host, from: o.from, timeoutMs: o.timeoutMs });
  if (!reply) throw new Error(`no UDP reply for ${name}/${o.type ?? 'A'}`);
  return decode(reply);
}

/** The addresses in the answer section, in order. */
export function addresses(r: Decoded): string[] {
  return (r.answers ?? []).filter((a) => a.type === 'A' || a.type === 'AAAA').map((a) => String((a as { data: unknown }).data));
}

export interface SpawnedWaymark { proc: ChildProcess; stdout: string[]; stderr: string[]; stop(): Promise<number | null> }

/** Run the real CLI; resolves once the supervisor logs "ready" (or rejects with its output). */
export function spawnWaymark(args: string[], o: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<SpawnedWaymark> {
  const proc = spawn(process.execPath, [CLI, ...args], { cwd: o.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: o.env ? { ...process.env, ...o.env } : process.env });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const stop = (): Promise<number | null> => new Promise((resolve) => {
    // Exited already (by itself, or killed by a signal: then exitCode stays null and no 'exit' comes again).
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode);
    const kill = setTimeout(() => proc.kill('SIGKILL'), 5000);
    proc.once('exit', (code) => { clearTimeout(kill); resolve(code); });
    proc.kill('SIGTERM');
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`waymark not ready in time:\n${stdout.join('')}\n${stderr.join('')}`)); }, o.timeoutMs ?? 15000);
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      const s = d.toString();
      stdout.push(s);
      buf += s;
      if (/"msg":"ready"/.test(buf)) { clearTimeout(timer); resolve({ proc, stdout, stderr, stop }); buf = ''; }
    });
    proc.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`waymark exited with ${code}:\n${stdout.join('')}\n${stderr.join('')}`)); });
  });
}

/** Run the CLI to completion. */
export function runWaymark(args: string[], o: { cwd?: string; env?: Record<string, string> } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [CLI, ...args], { cwd: o.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: o.env ? { ...process.env, ...o.env } : process.env });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    proc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    proc.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A free loopback port for both UDP and TCP (bind both, then release). */
/** A deterministic generator (mulberry32): each call gives an integer in [0, n); a failing seed replays. */
export function rng(seed: number): (n: number) => number {
  let a = seed;
  return (n) => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
}

export async function freePort(): Promise<number> {
  for (;;) {
    const srv = net.createServer();
    const port = await new Promise<number>((r) => srv.listen(0, '127.0.0.1', () => r((srv.address() as net.AddressInfo).port)));
    const udp = dgram.createSocket('udp4');
    const ok = await new Promise<boolean>((r) => { udp.once('error', () => r(false)); udp.bind(port, '127.0.0.1', () => r(true)); });
    await new Promise<void>((r) => srv.close(() => r()));
    if (ok) { udp.close(); return port; }
  }
}

/** Standard test zone used by several suites. */
export const TEST_ZONE = `
$ORIGIN example.test.
$TTL 300
@       IN SOA ns1 hostmaster ( 2026112201 3600 600 604800 60 )
        IN NS  ns1
        IN NS  ns2
        IN MX  10 mail
        IN TXT "v=spf1 -all"
        IN CAA 0 issue "ca.example"
ns1     IN A   127.0.0.53
ns2     IN A   127.0.0.54
        IN AAAA ::53
mail    IN A   127.0.0.25
www     30 IN A 192.0.2.1
        IN AAAA 2001:db8::1
multi   IN A   192.0.2.11
        IN A   192.0.2.12
        IN A   192.0.2.13
        IN A   192.0.2.14
alias   IN CNAME www
chain1  IN CNAME chain2
chain2  IN CNAME www
dangling IN CNAME nothere
external IN CNAME www.elsewhere.invalid.
_sip._udp IN SRV 10 60 5060 sip
sip     IN A   192.0.2.60
*.apps  IN A   192.0.2.90
a.b.c.ent IN A 192.0.2.70
sub     IN NS  ns.sub
ns.sub  IN A   192.0.2.55
ptr     IN PTR host.example.test.
unk     IN TYPE65280 \\# 4 0a0b0c0d
`;

/** A raw 12-byte DNS header, for hand-built (often malformed) messages. */
export function header(id: number, flags: number, qd: number, an = 0, ns = 0, ar = 0): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(qd, 4);
  h.writeUInt16BE(an, 6);
  h.writeUInt16BE(ns, 8);
  h.writeUInt16BE(ar, 10);
  return h;
}
