// The DNS monitor: one query over UDP (or TCP with its 2-byte length) to the target, checked for rcode and address.
// Owns: building the query, accepting only the reply to it (id and question), and judging that reply.
// Must never throw, reject or leave a socket open past the deadline; replies to other queries are ignored, not trusted.
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';
import type { MonitorSpec } from '../../config/schema.js';
import type { MonitorType, ProbeResult, ProbeTarget } from '../monitor.js';
import { isIPv6 } from '../../net/address.js';
import { canonicalIPv6 } from '../../net/prefix.js';
import { boundTimeout, errorWord, runTcpDialog, since, timeoutDetail } from './tcp.js';

type DnsSpec = Extract<MonitorSpec, { type: 'dns' }>;

/** The fields of a decoded reply this monitor reads (dns-packet's typings omit rcode and loosen data). */
interface Reply {
  id: number;
  type: string;
  flags: number;
  rcode: string;
  questions: Array<{ name: string; type: string }>;
  answers: Array<{ name: string; type: string; data?: unknown }>;
}

const FLAG_TC = 0x0200;
/** Largest reply read over TCP (the 2-byte length allows 65535). */
const TCP_REPLY_CAP = 2 + 65535;

/** A name compared case-insensitively, without its trailing dot. */
function normName(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}

/** An address in one canonical spelling ("2001:0db8::0001" → "2001:db8::1"); other text compared as a name. */
export function normAddress(text: string): string {
  const bare = text.replace(/^\[|\]$/g, '');
  return canonicalIPv6(bare) ?? normName(bare);
}

/** The answer data that can be compared with `expect.address`: addresses, and names for NS/CNAME/MX answers. */
function answerValue(rr: Reply['answers'][number]): string | undefined {
  const d = rr.data;
  if (typeof d === 'string') return normAddress(d);
  if (d && typeof d === 'object' && typeof (d as { exchange?: unknown }).exchange === 'string') {
    return normAddress((d as { exchange: string }).exchange);
  }
  if (Array.isArray(d)) return d.map((part) => (Buffer.isBuffer(part) ? part.toString('utf8') : String(part))).join('');
  return undefined;
}

/** Build the query message with a random id. */
export function buildProbeQuery(spec: Pick<DnsSpec, 'qname' | 'qtype'>, id: number): Buffer {
  return dnsPacket.encode({
    id,
    type: 'query',
    flags: 0, // no recursion wanted: the target is asked as an authority
    questions: [{ name: spec.qname, type: spec.qtype, class: 'IN' }],
  });
}

/** Why a message is not the reply to our query, or undefined when it is. */
function notOurs(reply: Reply, id: number, spec: Pick<DnsSpec, 'qname' | 'qtype'>): string | undefined {
  if (reply.id !== id) return 'wrong id';
  if (reply.type !== 'response') return 'not a response';
  const q = reply.questions[0];
  if (reply.questions.length !== 1 || !q || normName(q.name) !== normName(spec.qname) || q.type !== spec.qtype) return 'wrong question';
  return undefined;
}

/** Judge the reply to our query: rcode first, then (if asked) the address among the answers. */
export function judgeReply(reply: Reply, spec: Pick<DnsSpec, 'expect'>, rttMs: number): ProbeResult {
  const want = spec.expect.rcode;
  const truncated = (reply.flags & FLAG_TC) !== 0 ? ', truncated' : '';
  if (reply.rcode !== want) return { ok: false, rttMs, detail: `rcode ${reply.rcode} (expected ${want})` };
  const address = spec.expect.address;
  if (address === undefined || address === '') {
    return { ok: true, rttMs, detail: `rcode ${reply.rcode}, ${reply.answers.length} answer(s)${truncated}` };
  }
  const want2 = normAddress(address);
  const got = reply.answers.map(answerValue).filter((v): v is string => v !== undefined);
  if (got.includes(want2)) return { ok: true, rttMs, detail: `rcode ${reply.rcode}, answer has ${address}` };
  const shown = got.length === 0 ? 'no answers' : `got ${got.slice(0, 4).join(', ')}${got.length > 4 ? ', …' : ''}`;
  return { ok: false, rttMs, detail: `answer lacks ${address} (${shown}${truncated})` };
}

/** Counts of messages set aside, by reason ("wrong id"), for the timeout detail. */
class Ignored {
  private readonly counts = new Map<string, number>();
  add(reason: string): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
  }
  get size(): number {
    return this.counts.size;
  }
  toString(): string {
    return [...this.counts].map(([reason, n]) => `ignored ${n} ${n === 1 ? 'reply' : 'replies'}: ${reason}`).join(', ');
  }
}

/** The reply to our query, or the reason to set the message aside. */
function readReply(msg: Buffer, id: number, spec: Pick<DnsSpec, 'qname' | 'qtype'>): Reply | string {
  const reply = decodeReply(msg);
  if (!reply) return 'undecodable';
  return notOurs(reply, id, spec) ?? reply;
}

function decodeReply(buf: Buffer): Reply | undefined {
  try {
    return dnsPacket.decode(buf) as unknown as Reply;
  } catch {
    return undefined;
  }
}

function probeUdp(spec: DnsSpec, target: ProbeTarget, timeoutMs: number, id: number, query: Buffer): Promise<ProbeResult> {
  const limit = boundTimeout(timeoutMs);
  return new Promise<ProbeResult>((resolve) => {
    const start = performance.now();
    let settled = false;
    const ignored = new Ignored();
    let socket: dgram.Socket | undefined;
    const finish = (result: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
      try {
        socket?.close();
      } catch {
        /* already closed */
      }
    };
    const timer = setTimeout(() => {
      finish({ ok: false, rttMs: since(start), detail: timeoutDetail(limit, ignored.size === 0 ? 'waiting for reply' : ignored.toString()) });
    }, limit);
    try {
      socket = dgram.createSocket(isIPv6(target.address) ? 'udp6' : 'udp4');
    } catch (err) {
      finish({ ok: false, rttMs: since(start), detail: `socket ${errorWord(err)}` });
      return;
    }
    const s = socket;
    s.on('error', (err) => finish({ ok: false, rttMs: since(start), detail: `udp ${errorWord(err)}` }));
    s.on('message', (msg) => {
      const rttMs = since(start);
      const reply = readReply(msg, id, spec);
      if (typeof reply === 'string') ignored.add(reply);
      else finish(judgeReply(reply, spec, rttMs));
    });
    // A connected socket only receives datagrams from the target, and hears ICMP "port unreachable" as ECONNREFUSED.
    try {
      s.connect(target.port, target.address, () => {
        if (settled) return;
        s.send(query, (err) => { if (err) finish({ ok: false, rttMs: since(start), detail: `udp send ${errorWord(err)}` }); });
      });
    } catch (err) {
      finish({ ok: false, rttMs: since(start), detail: `udp connect ${errorWord(err)}` });
    }
  });
}

function probeTcp(spec: DnsSpec, target: ProbeTarget, timeoutMs: number, id: number, query: Buffer): Promise<ProbeResult> {
  let buffered = Buffer.alloc(0);
  const ignored = new Ignored();
  return runTcpDialog(target, timeoutMs, {
    connected(socket) {
      const framed = Buffer.alloc(2 + query.length);
      framed.writeUInt16BE(query.length, 0);
      query.copy(framed, 2);
      socket.write(framed);
      return undefined;
    },
    data(chunk, rttMs) {
      if (buffered.length + chunk.length > TCP_REPLY_CAP) chunk = chunk.subarray(0, TCP_REPLY_CAP - buffered.length);
      buffered = Buffer.concat([buffered, chunk]);
      // Bounded: each pass consumes one framed message; at most TCP_REPLY_CAP bytes are ever buffered.
      while (buffered.length >= 2) {
        const len = buffered.readUInt16BE(0);
        if (buffered.length < 2 + len) return undefined;
        const msg = buffered.subarray(2, 2 + len);
        buffered = buffered.subarray(2 + len);
        const reply = readReply(msg, id, spec);
        if (typeof reply !== 'string') return judgeReply(reply, spec, rttMs);
        ignored.add(reply);
      }
      return undefined;
    },
    ended: (rttMs) => ({ ok: false, rttMs, detail: ignored.size > 0 ? `connection closed (${ignored.toString()})` : 'connection closed without a reply' }),
    waiting: () => (ignored.size > 0 ? ignored.toString() : 'waiting for reply'),
  });
}

export const dnsMonitor: MonitorType<DnsSpec> = {
  type: 'dns',
  defaultPort: 53,
  async probe(spec, target, timeoutMs) {
    try {
      const id = randomInt(0, 65536);
      const query = buildProbeQuery(spec, id);
      return spec.transport === 'tcp'
        ? await probeTcp(spec, target, timeoutMs, id, query)
        : await probeUdp(spec, target, timeoutMs, id, query);
    } catch (err) {
      return { ok: false, rttMs: 0, detail: `probe error: ${errorWord(err)}` };
    }
  },
};
