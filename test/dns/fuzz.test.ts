// Fuzzing a live server: random and mutated messages over UDP and TCP against an in-process Waymark, then proof it
// still answers correctly. Every message also goes through a twin Responder directly, because respond() swallows
// exceptions (counted as drops): a swallowed throw or an unreadable reply is reported with the packet that caused it.
// WAYMARK_FUZZ_PACKETS sets the number of messages (default 100000), WAYMARK_FUZZ_SEED replays a run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import dnsPacket from 'dns-packet';
import { TEST_ZONE, tempDir, startServer, buildQuery, query, addresses, tcpExchange, type Decoded, type QueryOptions, header } from '../harness.js';
import { Responder, TRANSPORT_UDP, TRANSPORT_TCP } from '../../src/dns/responder.js';
import { parseConfigText, loadZones, compileSnapshot } from '../../src/config/load.js';
import type { Snapshot } from '../../src/answer/snapshot.js';

const PACKETS = Math.max(1000, Number(process.env.WAYMARK_FUZZ_PACKETS ?? 100_000));
const SEED = Number(process.env.WAYMARK_FUZZ_SEED ?? Math.floor(Math.random() * 0x7fffffff));
/** Share of the messages sent over TCP; the rest go over UDP. */
const TCP_SHARE = 0.2;
/** UDP messages sent but not yet read by the server: small enough that no socket buffer overflows. */
const UDP_WINDOW = 64;
/** Concurrent fuzzing TCP connections. */
const TCP_CLIENTS = 8;
/** The server's advertised EDNS payload (config default). */
const SERVER_PAYLOAD = 1232;

// ---------------------------------------------------------------------------------------------------------------
// A seeded generator (mulberry32): a failing run is replayed with WAYMARK_FUZZ_SEED.

class Rng {
  private s: number;
  constructor(seed: number) { this.s = seed >>> 0; }
  u32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Integer in [0, n). */
  int(n: number): number { return n <= 1 ? 0 : this.u32() % n; }
  range(min: number, max: number): number { return min + this.int(max - min + 1); }
  chance(p: number): boolean { return this.u32() / 0x100000000 < p; }
  pick<T>(a: readonly T[]): T { return a[this.int(a.length)]!; }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Messages: valid queries to start from, and the mutations applied to them.

const NAMES = ['example.test', 'www.example.test', 'WwW.ExAmPlE.tEsT', 'multi.example.test', 'alias.example.test',
  'chain1.example.test', 'dangling.example.test', 'external.example.test', '_sip._udp.example.test', 'x.apps.example.test',
  'a.b.c.ent.example.test', 'c.ent.example.test', 'sub.example.test', 'host.sub.example.test', 'ptr.example.test',
  'unk.example.test', 'nothere.example.test', 'mail.example.test', 'www.elsewhere.invalid', 'test', '.'];
const TYPES = ['A', 'AAAA', 'NS', 'SOA', 'MX', 'TXT', 'SRV', 'CNAME', 'PTR', 'CAA', 'ANY', 'DS', 'UNKNOWN_65280', 'AXFR', 'IXFR', 'HINFO'];

function baseQueries(rng: Rng, n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const o: QueryOptions = { type: rng.pick(TYPES), id: rng.int(65536), rd: rng.chance(0.5) };
    if (rng.chance(0.6)) {
      o.edns = true;
      o.payload = rng.pick([0, 512, 1232, 4096, 65535, rng.int(65536)]);
      o.dnssecOk = rng.chance(0.3);
      if (rng.chance(0.4)) {
        o.ecs = rng.chance(0.5)
          ? { family: 1, sourcePrefixLength: rng.pick([0, 8, 16, 24, 32]), ip: `${rng.int(224)}.${rng.int(256)}.${rng.int(256)}.0` }
          : { family: 2, sourcePrefixLength: rng.pick([0, 32, 48, 56, 64]), ip: `2001:db8:${rng.int(65536).toString(16)}::` };
      }
    }
    out.push(buildQuery(rng.pick(NAMES), o));
  }
  return out;
}


/** Offset just past the question (uncompressed name + type + class), or -1. */
function questionEnd(msg: Buffer): number {
  let p = 12;
  for (let i = 0; i < 128 && p < msg.length; i++) {
    const l = msg[p]!;
    if (l === 0) return p + 5 <= msg.length ? p + 5 : -1;
    if (l > 63) return -1;
    p += l + 1;
  }
  return -1;
}

/** An OPT RR: payload, extended rcode, version, flags, then the raw rdata (with an rdlength that may lie). */
function optRecord(rng: Rng, rdata: Buffer, rdlen = rdata.length): Buffer {
  const h = Buffer.alloc(11);
  h.writeUInt16BE(41, 1);
  h.writeUInt16BE(rng.pick([0, 512, 1232, 4096, 65535]), 3);
  h.writeUInt16BE(rng.chance(0.5) ? 0x8000 : 0, 7);
  h.writeUInt16BE(rdlen & 0xffff, 9);
  return Buffer.concat([h, rdata]);
}

function option(code: number, data: Buffer, len = data.length): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(code, 0);
  h.writeUInt16BE(len & 0xffff, 2);
  return Buffer.concat([h, data]);
}

/** A question section: www.example.test A IN, or the given name bytes. */
const QUESTION = Buffer.from('03777777076578616d706c6504746573740000010001', 'hex');

type Mutation = (rng: Rng, base: Buffer) => Buffer;

const MUTATIONS: ReadonlyArray<[weight: number, name: string, m: Mutation]> = [
  [12, 'valid', (_r, b) => b],
  [4, 'random bytes', (r) => r.bytes(r.range(0, 600))],
  [6, 'bit flips', (r, b) => {
    const m = Buffer.from(b);
    for (let k = r.range(1, 8); k > 0; k--) { const i = r.int(m.length); m[i] = m[i]! ^ (1 << r.int(8)); }
    return m;
  }],
  [6, 'byte substitutions', (r, b) => {
    const m = Buffer.from(b);
    for (let k = r.range(1, 6); k > 0; k--) m[r.int(m.length)] = r.pick([0, 0xff, 0xc0, 0x3f, 0x40, 0x29, r.int(256)]);
    return m;
  }],
  [4, 'truncation', (r, b) => b.subarray(0, r.int(b.length))],
  [4, 'extension', (r, b) => Buffer.concat([b, r.bytes(r.range(1, 120))])],
  [5, 'large header counts', (r, b) => {
    const m = Buffer.from(b);
    if (m.length < 12) return m;
    for (let k = r.range(1, 4); k > 0; k--) m.writeUInt16BE(r.pick([2, 3, 255, 256, 4096, 65535, r.int(65536)]), 4 + 2 * r.int(4));
    return m;
  }],
  [5, 'compression pointers', (r) => {
    const id = r.int(65536);
    const tc = Buffer.from('00010001', 'hex');
    switch (r.int(8)) {
      case 0: return Buffer.concat([header(id, 0x100, 1, 0, 0, 0), Buffer.from('c00c', 'hex'), tc]); // to itself
      case 1: return Buffer.concat([header(id, 0x100, 1, 0, 0, 0), Buffer.from('03777777c00c', 'hex'), tc]); // back to its start
      case 2: return Buffer.concat([header(id, 0x100, 1, 0, 0, 0), Buffer.from('c00ec00c', 'hex'), tc]); // two pointing at each other
      case 3: return Buffer.concat([header(id, 0x100, 1, 0, 0, 0), Buffer.from([0xc0 | r.int(64), r.int(256)]), tc]); // anywhere, past the end
      case 4: return Buffer.concat([header(id, 0x100, 1, 0, 0, 0), Buffer.from([0xc0, r.int(12)]), tc]); // into the header
      case 5: { // an answer whose owner points at itself
        const q = Buffer.concat([header(id, 0x100, 1, 1, 0, 0), QUESTION]);
        const own = 12 + QUESTION.length;
        return Buffer.concat([q, Buffer.from([0xc0 | (own >> 8), own & 0xff]), Buffer.from('00010001000000000004c0000201', 'hex')]);
      }
      case 6: { // a backward chain of pointers through several questions
        const n = r.range(2, 40);
        const parts = [header(id, 0x100, n, 0, 0, 0), QUESTION];
        let prev = 12;
        let off = 12 + QUESTION.length;
        for (let i = 1; i < n; i++) { parts.push(Buffer.from([0xc0 | (prev >> 8), prev & 0xff]), tc); prev = off; off += 6; }
        return Buffer.concat(parts);
      }
      default: { // a pointer in the middle of the name, after real labels, into the name itself
        const target = 12 + r.int(8);
        return Buffer.concat([header(id, 0x100, 1, 0, 0, 0), Buffer.from('0161016201', 'hex'), Buffer.from([0x63, 0xc0, target]), tc]);
      }
    }
  }],
  [4, 'label length over 63', (r, b) => {
    const m = Buffer.from(b);
    if (m.length > 12) m[12] = r.range(64, 255);
    if (r.chance(0.5)) return Buffer.concat([header(r.int(65536), 0x100, 1, 0, 0, 0), Buffer.from([64]), r.bytes(64), Buffer.from('0000010001', 'hex')]);
    return m;
  }],
  [2, 'name over 255 octets', (r) => {
    const labels: Buffer[] = [];
    for (let i = 0; i < r.range(5, 9); i++) labels.push(Buffer.from([63]), Buffer.alloc(63, 0x61));
    return Buffer.concat([header(r.int(65536), 0x100, 1, 0, 0, 0), ...labels, Buffer.from('0000010001', 'hex')]);
  }],
  [5, 'bad OPT', (r, b) => {
    const qe = questionEnd(b);
    const q = qe > 0 ? b.subarray(0, qe) : Buffer.concat([header(r.int(65536), 0x100, 1, 0, 0, 0), QUESTION]);
    const id = q.readUInt16BE(0);
    const ecs = option(8, Buffer.from('0001180000c00002', 'hex').subarray(0, 7));
    const withAr = (ar: number, ...rest: Buffer[]): Buffer => {
      const m = Buffer.concat([q, ...rest]);
      m.writeUInt16BE(ar, 10);
      m.writeUInt16BE(id, 0);
      return m;
    };
    switch (r.int(7)) {
      case 0: return withAr(1, optRecord(r, ecs, r.int(65536))); // rdlength lies
      case 1: return withAr(1, optRecord(r, option(8, Buffer.from('00011800c00002', 'hex'), r.range(8, 300)))); // option length lies
      case 2: return withAr(1, optRecord(r, r.bytes(r.range(1, 3)))); // a partial option header
      case 3: return withAr(2, optRecord(r, Buffer.alloc(0)), optRecord(r, ecs)); // two OPT records
      case 4: { // OPT with a non-root owner
        const opt = optRecord(r, Buffer.alloc(0));
        return withAr(1, Buffer.from('0161', 'hex'), opt);
      }
      case 5: { // version or extended rcode not zero
        const opt = optRecord(r, Buffer.alloc(0));
        opt[5 + r.int(2)] = r.range(1, 255);
        return withAr(1, opt);
      }
      default: { // OPT in the answer section
        const m = Buffer.concat([q, optRecord(r, Buffer.alloc(0))]);
        m.writeUInt16BE(1, 6);
        return m;
      }
    }
  }],
  [5, 'bad ECS', (r, b) => {
    const qe = questionEnd(b);
    const q = qe > 0 ? Buffer.from(b.subarray(0, qe)) : Buffer.concat([header(r.int(65536), 0x100, 1, 0, 0, 0), QUESTION]);
    const family = r.pick([0, 1, 2, 3, 0xffff, r.int(65536)]);
    const source = r.pick([0, 1, 7, 24, 32, 33, 56, 128, 129, 255, r.int(256)]);
    const scope = r.pick([0, 0, 1, 24, 255]);
    const addrLen = r.chance(0.5) ? (source + 7) >> 3 : r.range(0, 20);
    const body = Buffer.concat([Buffer.from([family >> 8, family & 0xff, source, scope]), r.bytes(addrLen)]);
    const options = [option(8, body)];
    if (r.chance(0.2)) options.push(option(8, body)); // two ECS options
    q.writeUInt16BE(1, 10);
    return Buffer.concat([q, optRecord(r, Buffer.concat(options))]);
  }],
  [4, 'odd header', (r, b) => {
    const m = Buffer.from(b);
    if (m.length < 4) return m;
    // Opcodes, QR (responses must get no reply), TC, Z, rcode bits in a query.
    m[2] = r.pick([0x80, 0x81, 0x02, 0x03, 0x08 | (r.int(16) << 3), 0x28, r.int(256)]);
    m[3] = r.int(256);
    return m;
  }],
  [3, 'odd question type or class', (r, b) => {
    const m = Buffer.from(b);
    const qe = questionEnd(m);
    if (qe < 0) return m;
    if (r.chance(0.5)) m.writeUInt16BE(r.pick([0, 41, 251, 252, 255, 65535, r.int(65536)]), qe - 4);
    else m.writeUInt16BE(r.pick([0, 2, 3, 4, 254, 255, 0x8001, r.int(65536)]), qe - 2);
    return m;
  }],
];

const TOTAL_WEIGHT = MUTATIONS.reduce((n, [w]) => n + w, 0);

/** One fuzz message: a base query with one to three mutations. */
function fuzzMessage(rng: Rng, bases: Buffer[]): Buffer {
  let m = rng.pick(bases);
  const rounds = rng.chance(0.8) ? 1 : rng.range(2, 3);
  for (let i = 0; i < rounds; i++) {
    let x = rng.int(TOTAL_WEIGHT);
    for (const [w, , mutate] of MUTATIONS) {
      if (x < w) { m = mutate(rng, m); break; }
      x -= w;
    }
  }
  return m;
}

// ---------------------------------------------------------------------------------------------------------------
// The twin: the same Responder code, called directly, so that each message's outcome can be judged.

interface Finding { packet: string; problem: string; reply?: string }

class Twin {
  readonly findings: Finding[] = [];
  private readonly r: Responder;
  constructor(snapshot: Snapshot) { this.r = new Responder(snapshot, SERVER_PAYLOAD); }

  /** Answer `msg` as the server will and check the outcome; returns the reply (a copy) or null for no reply. */
  check(msg: Buffer, transport: number): Buffer | null {
    const r = this.r;
    const errorsBefore = r.counters.errors;
    const len = r.respond(msg, transport);
    // Only two reasons not to answer: too short to have a header, or it is a response (QR=1).
    const mustDrop = msg.length < 12 || (msg[2]! & 0x80) !== 0;
    if (len < 0) {
      if (!mustDrop) this.report(msg, `no reply (respond() dropped it${r.counters.errors > errorsBefore ? ': an exception was swallowed' : ''})`);
      return null;
    }
    const reply = Buffer.from(r.response.subarray(0, len));
    if (mustDrop) this.report(msg, 'answered a message that must be dropped');
    if (len < 12) { this.report(msg, `reply of ${len} octets`); return reply; }
    if (reply.readUInt16BE(0) !== msg.readUInt16BE(0)) this.report(msg, 'id not echoed');
    if ((reply[2]! & 0x80) === 0) this.report(msg, 'QR not set');
    if ((reply[2]! & 0x78) !== (msg[2]! & 0x78)) this.report(msg, 'opcode not echoed');
    let decoded: { additionals?: Array<{ type: string }> };
    try {
      decoded = dnsPacket.decode(reply);
    } catch (e) {
      this.report(msg, `reply does not decode (${(e as Error).message})`, reply);
      return reply;
    }
    if (transport === TRANSPORT_UDP) {
      const hasOpt = (decoded.additionals ?? []).some((a) => a.type === 'OPT');
      const limit = hasOpt ? SERVER_PAYLOAD : 512;
      if (len > limit) this.report(msg, `UDP reply of ${len} octets over the ${limit} limit`);
    }
    return reply;
  }

  /** The shortest packets found for each problem: the minimal reproductions to report. */
  shortest(perProblem = 3): Finding[] {
    const byProblem = new Map<string, Finding[]>();
    for (const f of [...this.findings].sort((a, b) => a.packet.length - b.packet.length)) {
      const list = byProblem.get(f.problem) ?? [];
      if (list.length < perProblem) list.push(f);
      byProblem.set(f.problem, list);
    }
    return [...byProblem.values()].flat();
  }

  private report(msg: Buffer, problem: string, reply?: Buffer): void {
    if (this.findings.length < 10_000) this.findings.push({ packet: msg.toString('hex'), problem, ...(reply ? { reply: reply.toString('hex') } : {}) });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A watchdog thread: if the event loop stops turning (a message sends the server into a loop), it prints the last
// messages sent and kills the process, instead of the run hanging with nothing to show.

const RING = 32;
const SLOT = 2 + 1024;

class Watchdog {
  private readonly beat: Int32Array;
  private readonly ring: Uint8Array;
  private next = 0;
  private readonly worker: Worker;
  /** Beats while the event loop turns. */
  private readonly pulse: NodeJS.Timeout;

  constructor(stallMs: number) {
    const shared = new SharedArrayBuffer(8 + RING * SLOT);
    this.beat = new Int32Array(shared, 0, 2);
    this.ring = new Uint8Array(shared, 8);
    this.worker = new Worker(`
      const { workerData } = require('node:worker_threads');
      const fs = require('node:fs');
      const beat = new Int32Array(workerData.shared, 0, 2);
      const ring = new Uint8Array(workerData.shared, 8);
      let last = -1, since = Date.now();
      setInterval(() => {
        const now = Atomics.load(beat, 0);
        if (now !== last) { last = now; since = Date.now(); return; }
        if (Date.now() - since < workerData.stallMs) return;
        let out = 'fuzz watchdog: the event loop has not turned for ' + workerData.stallMs + ' ms; last messages (oldest first; ' +
          'each goes through the twin Responder before it is sent, so the last one is the likeliest culprit):\\n';
        const next = Atomics.load(beat, 1);
        for (let i = 0; i < ${RING}; i++) {
          const s = ((next + i) % ${RING}) * ${SLOT};
          const len = ring[s] << 8 | ring[s + 1];
          if (len > 0) out += Buffer.from(ring.subarray(s + 2, s + 2 + len)).toString('hex') + '\\n';
        }
        fs.writeSync(2, out);
        process.kill(process.pid, 'SIGKILL');
      }, 500);
    `, { eval: true, workerData: { shared, stallMs } });
    this.worker.unref();
    this.pulse = setInterval(() => Atomics.add(this.beat, 0, 1), 200);
    this.pulse.unref();
  }

  /** Record a message about to be checked and sent (first 1024 octets). */
  sent(msg: Buffer): void {
    const s = this.next * SLOT;
    const len = Math.min(msg.length, SLOT - 2);
    this.ring[s] = len >> 8;
    this.ring[s + 1] = len & 0xff;
    this.ring.set(msg.subarray(0, len), s + 2);
    this.next = (this.next + 1) % RING;
    Atomics.store(this.beat, 1, this.next);
  }

  stop(): Promise<number> {
    clearInterval(this.pulse);
    return this.worker.terminate();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Senders.

interface UdpResult { sent: number; processed: number; replies: number }

/** Send `count` messages over UDP, keeping at most UDP_WINDOW not yet read by the server; never awaits a reply. */
async function fuzzUdp(port: number, count: number, next: () => Buffer, queries: () => number, dog: Watchdog, twin: Twin): Promise<UdpResult> {
  const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20 });
  let replies = 0;
  sock.on('message', () => { replies++; });
  sock.on('error', () => {});
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const base = queries();
  let sent = 0;
  for (let i = 0; i < count; i++) {
    const msg = next();
    dog.sent(msg);
    twin.check(msg, TRANSPORT_UDP);
    sock.send(msg, port, '127.0.0.1');
    sent++;
    // Let the server catch up; a message lost on the way must not stall the run (bounded wait).
    const deadline = Date.now() + 2000;
    while (sent - (queries() - base) > UDP_WINDOW && Date.now() < deadline) {
      await yieldToLoop();
    }
  }
  const deadline = Date.now() + 3000;
  while (queries() - base < sent && Date.now() < deadline) {
    await sleep(5);
  }
  await sleep(50);
  sock.close();
  return { sent, processed: queries() - base, replies };
}

interface TcpResult { connections: number; frames: number; honestFrames: number; wrongReplies: string[] }

function frame(msg: Buffer, len = msg.length): Buffer {
  const h = Buffer.alloc(2);
  h.writeUInt16BE(len & 0xffff, 0);
  return Buffer.concat([h, msg]);
}

/** Split into 1..n chunks at random points. */
function chunks(rng: Rng, data: Buffer, n: number): Buffer[] {
  const cuts = new Set<number>();
  for (let i = rng.int(n); i > 0; i--) cuts.add(1 + rng.int(Math.max(1, data.length - 1)));
  const sorted = [...cuts].filter((c) => c < data.length).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of sorted) { out.push(data.subarray(prev, c)); prev = c; }
  out.push(data.subarray(prev));
  return out;
}

/**
 * One TCP connection carrying `n` messages. Honest framing: every reply must arrive, in order, equal to the twin's.
 * Lying framing (lengths longer or shorter than the message, closed mid-frame or mid-length, reset): no harm done.
 */
async function tcpConnection(port: number, rng: Rng, n: number, next: () => Buffer, dog: Watchdog, twin: Twin, out: TcpResult): Promise<void> {
  const honest = rng.chance(0.6);
  const msgs: Buffer[] = [];
  const expected: Buffer[] = [];
  const frames: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const msg = next();
    msgs.push(msg);
    dog.sent(msg);
    const reply = twin.check(msg, TRANSPORT_TCP);
    if (honest) {
      if (reply) expected.push(reply);
      frames.push(frame(msg));
    } else {
      const lie = rng.int(4);
      frames.push(lie === 0 ? frame(msg, msg.length + rng.range(1, 300)) : lie === 1 ? frame(msg, rng.int(Math.max(1, msg.length))) : frame(msg));
    }
  }
  let data = Buffer.concat(frames);
  if (!honest && rng.chance(0.5)) data = data.subarray(0, rng.int(data.length + 1)); // close mid-frame or mid-length

  const sock = net.connect({ host: '127.0.0.1', port });
  sock.setNoDelay(true);
  const got: Buffer[] = [];
  let pending = Buffer.alloc(0);
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(() => { sock.destroy(); resolve(); }, honest ? 10_000 : 3000);
    const finish = (): void => { clearTimeout(timer); sock.destroy(); resolve(); };
    sock.on('data', (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      while (pending.length >= 2 && pending.length - 2 >= pending.readUInt16BE(0)) {
        const len = pending.readUInt16BE(0);
        got.push(pending.subarray(2, 2 + len));
        pending = pending.subarray(2 + len);
      }
      if (honest && got.length >= expected.length) finish();
    });
    sock.on('error', finish);
    sock.on('close', finish);
  });
  await new Promise<void>((resolve) => {
    sock.once('connect', resolve);
    sock.once('error', () => resolve());
  });
  for (const c of chunks(rng, data, honest ? 4 : 8)) {
    if (sock.destroyed) break;
    sock.write(c);
    if (rng.chance(0.2)) await yieldToLoop();
  }
  if (honest) {
    if (expected.length === 0) sock.end();
  } else if (rng.chance(0.5)) {
    sock.destroy(); // reset with data in flight
  } else {
    sock.end();
  }
  await done;
  out.connections++;
  out.frames += n;
  if (honest) {
    out.honestFrames += n;
    const same = got.length === expected.length && got.every((g, i) => g.equals(expected[i]!));
    if (!same && out.wrongReplies.length < 5) {
      out.wrongReplies.push(`${got.length}/${expected.length} replies; messages ${msgs.map((m) => m.toString('hex')).join(' ').slice(0, 2000)}`);
    }
  }
}

async function fuzzTcp(port: number, count: number, seed: number, bases: Buffer[], dog: Watchdog, twin: Twin): Promise<TcpResult> {
  const out: TcpResult = { connections: 0, frames: 0, honestFrames: 0, wrongReplies: [] };
  let left = count;
  const client = async (_: unknown, k: number): Promise<void> => {
    // One generator per client, so each client's messages replay from the seed whatever the interleaving.
    const rng = new Rng(seed + 1 + k);
    const next = (): Buffer => fuzzMessage(rng, bases);
    // Each connection takes at least one message from the budget, so this ends.
    while (left > 0) {
      const n = Math.min(left, rng.chance(0.1) ? rng.range(200, 600) : rng.range(1, 60));
      left -= n;
      await tcpConnection(port, rng, n, next, dog, twin, out);
    }
  };
  await Promise.all(Array.from({ length: TCP_CLIENTS }, client));
  return out;
}

// ---------------------------------------------------------------------------------------------------------------

test('D1: random and mutated messages over UDP and TCP neither crash nor stall the server, which still answers', { timeout: 120_000 + PACKETS * 2 }, async (t) => {
  const dir = tempDir('waymark-fuzz-');
  fs.writeFileSync(path.join(dir, 'example.test.zone'), TEST_ZONE);
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown): void => { uncaught.push(e); };
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  const dog = new Watchdog(15_000);
  const srv = await startServer('zones:\n  - file: example.test.zone\n', { baseDir: dir });
  const started = Date.now();
  try {
    const rng = new Rng(SEED);
    t.diagnostic(`seed ${SEED} (WAYMARK_FUZZ_SEED to replay), ${PACKETS} messages`);
    const bases = baseQueries(rng, 400);
    const next = (): Buffer => fuzzMessage(rng, bases);
    const twin = new Twin(srv.server.snapshot);
    const counters = srv.server.responder.counters;

    const tcpCount = Math.round(PACKETS * TCP_SHARE);
    const udp = await fuzzUdp(srv.port, PACKETS - tcpCount, next, () => counters.queries, dog, twin);
    const tcp = await fuzzTcp(srv.port, tcpCount, SEED, bases, dog, twin);
    t.diagnostic(`udp: ${JSON.stringify(udp)}; tcp: ${JSON.stringify({ ...tcp, wrongReplies: tcp.wrongReplies.length })}; ` +
      `server counters: queries ${counters.queries}, fast ${counters.fast}, general ${counters.general}, dropped ${counters.dropped}; ${Date.now() - started} ms`);

    assert.deepEqual(uncaught, [], 'uncaught exceptions during fuzzing');
    assert.deepEqual(twin.shortest(), [], `${twin.findings.length} messages the responder mishandled (shortest shown, hex)`);
    assert.ok(udp.processed >= 0.9 * udp.sent, `the server read ${udp.processed} of ${udp.sent} UDP messages`);
    assert.ok(udp.replies > 0, 'no UDP replies at all');
    assert.deepEqual(tcp.wrongReplies, [], 'TCP connections with honest framing whose replies were missing or wrong');
    assert.ok(tcp.frames >= tcpCount, `sent ${tcp.frames} of ${tcpCount} TCP messages`);
    assert.ok(counters.queries >= udp.processed + tcp.honestFrames, 'TCP messages were not all read');
    assert.ok(counters.fast > 0 && counters.general > 0, 'both the fast path and the general path saw traffic');

    // Still serving, with the right data. UDP from another /24 so response rate limiting (which the fuzz traffic
    // from 127.0.0.1 has certainly triggered) does not apply.
    const overUdp = await query(srv.port, 'www.example.test', { from: '127.1.0.1', timeoutMs: 3000 });
    assert.equal(overUdp.rcode, 'NOERROR');
    assert.equal((overUdp.flags ?? 0) & 0x0400, 0x0400, 'AA');
    assert.deepEqual(addresses(overUdp), ['192.0.2.1']);
    const overTcp = await query(srv.port, 'WWW.example.TEST', { tcp: true, timeoutMs: 3000 });
    assert.equal(overTcp.rcode, 'NOERROR');
    assert.deepEqual(addresses(overTcp), ['192.0.2.1']);
    assert.equal(overTcp.questions?.[0]?.name, 'WWW.example.TEST');
    const pipelined = await tcpExchange(srv.port, [buildQuery('multi.example.test', { id: 1 }), buildQuery('mail.example.test', { id: 2 })]);
    assert.equal(pipelined.length, 2);
    assert.deepEqual(addresses(dnsPacket.decode(pipelined[1]!) as unknown as Decoded), ['127.0.0.25']);
    assert.deepEqual(uncaught, [], 'uncaught exceptions after fuzzing');
  } finally {
    await srv.close();
    await dog.stop();
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** A message of back-to-back questions, each a compression pointer to the one before: dns-packet follows every
 * chain from its start, so decoding costs the square of the number of questions. */
function pointerChainMessage(size: number): Buffer {
  const b = Buffer.alloc(size);
  let off = 12;
  b[off] = 0;
  b.writeUInt32BE(0x00010001, off + 1);
  let prev = off;
  let n = 1;
  off += 5;
  for (; off + 6 <= size; off += 6, n++) {
    b[off] = 0xc0 | (prev >> 8);
    b[off + 1] = prev & 0xff;
    b.writeUInt32BE(0x00010001, off + 2);
    if (off < 0x3fff) prev = off;
  }
  b.writeUInt16BE(n, 4);
  return b.subarray(0, off);
}

test('D7: a 64 KiB message of chained compression pointers is refused from its header, without decoding', () => {
  const parsed = parseConfigText('zones:\n  - origin: example.test\n');
  assert.ok(parsed.ok);
  const loaded = loadZones(parsed.value, '.', null);
  assert.ok(loaded.ok);
  const snap = compileSnapshot(loaded.value, 1);
  assert.ok(snap.ok);
  const r = new Responder(snap.value, SERVER_PAYLOAD);
  const msg = pointerChainMessage(65535);
  const len = r.respond(msg, TRANSPORT_TCP);
  assert.ok(len > 0 && (r.response[3]! & 0xf) === 1, 'FORMERR');
  // Decided from QDCOUNT alone: dns-packet (which follows every pointer chain from its start) never saw it.
  assert.equal(r.counters.early, 1);
  // The same chain in the additional section (ARCOUNT) is refused the same way.
  const ar = Buffer.from(msg);
  ar.writeUInt16BE(1, 4);
  ar.writeUInt16BE(msg.readUInt16BE(4) - 1, 10);
  assert.ok(r.respond(ar, TRANSPORT_TCP) > 0 && (r.response[3]! & 0xf) === 1);
  assert.equal(r.counters.early, 2);
  assert.equal(r.counters.errors, 0);
});
