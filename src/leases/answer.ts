// DNS answers for leased names (SPEC L2), made in the supervisor from the lease book's decision: A (or AAAA, for an
// IPv6 pool) with the lease's remaining time as TTL; NODATA for other types; SERVFAIL, with an extended error (RFC
// 8914) saying why, when no address can be leased. Owns: that message. Never answers an address not leased to the
// name: the book's answer is the only source.
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { LeaseAnswer } from './book.js';

const EDE_OTHER = 0;
/** EDNS option code of Extended DNS Errors (RFC 8914). */
const OPT_EDE = 15;

/** The response to `msg` (a query for a leased name) given what the book decided (`decide` gets the name). */
export async function leaseResponse(msg: Buffer, decide: (name: string) => Promise<LeaseAnswer | undefined>): Promise<Buffer> {
  let q: dnsPacket.Packet;
  try {
    q = dnsPacket.decode(msg);
  } catch {
    return formerr(msg);
  }
  const question = q.questions?.[0];
  if (!question) return formerr(msg);
  const edns = (q.additionals ?? []).some((a) => a.type === 'OPT');
  const base = { type: 'response' as const, id: q.id ?? 0, flags: dnsPacket.AUTHORITATIVE_ANSWER | ((q.flags ?? 0) & dnsPacket.RECURSION_DESIRED), questions: [question] };
  const a = await decide(question.name);
  if (a === undefined || !a.ok) {
    const why = a === undefined ? 'not a leased name' : a.reason;
    return dnsPacket.encode({ ...base, flags: base.flags | 2, answers: [], additionals: edns ? [opt(why)] : [] } as dnsPacket.Packet);
  }
  const family = net.isIPv6(a.address) ? 'AAAA' : 'A';
  const wants = question.type === family || (question.type as string) === 'ANY';
  const answers = wants ? [{ type: family, name: question.name, class: 'IN', ttl: a.ttl, data: a.address }] : [];
  return dnsPacket.encode({ ...base, answers, additionals: edns ? [opt(null)] : [] } as dnsPacket.Packet);
}

function opt(why: string | null): dnsPacket.Answer {
  const options = why === null ? [] : [{ code: OPT_EDE, data: Buffer.concat([Buffer.from([0, EDE_OTHER]), Buffer.from(why.slice(0, 200), 'utf8')]) }];
  return { type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options } as unknown as dnsPacket.Answer;
}

function formerr(msg: Buffer): Buffer {
  const out = Buffer.alloc(12);
  if (msg.length >= 2) msg.copy(out, 0, 0, 2);
  out[2] = 0x80;
  out[3] = 1; // FORMERR
  return out;
}
