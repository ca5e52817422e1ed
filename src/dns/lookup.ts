// Authoritative lookup (RFC 1034 §4.3.2, RFC 4592 wildcards, RFC 2308 negative answers, RFC 8482 ANY).
// Owns: deciding rcode, AA and which RRsets go in which section. Both encoders (fast path and general codec) write
// the Resolution this fills, so they cannot disagree on what the answer is. Synchronous, allocation-free.
import { RCODE, TYPE } from '../wire/types.js';
import type { Snapshot } from '../answer/snapshot.js';
import type { AnswerEngine } from '../answer/engine.js';
import type { QuestionName } from '../wire/query.js';
import { Section, type ResponseSections } from '../wire/sections.js';
import type { NameNode, RRset, Zone } from './zone.js';

export class Resolution implements ResponseSections {
  rcode = 0;
  aa = false;
  referral = false;
  readonly answer = new Section();
  readonly authority = new Section();
  readonly additional = new Section();
  /** ECS scope prefix length to return (RFC 7871 §7.2.1): non-zero only when the answer depended on the subnet. */
  ecsScope = 0;
  /** The served zone holding the question name (metrics); null when none does (REFUSED) or nothing was looked up. */
  zone: Zone | null = null;
  reset(): void {
    this.rcode = 0;
    this.zone = null;
    this.ecsScope = 0;
    this.aa = false;
    this.referral = false;
    this.answer.clear();
    this.authority.clear();
    this.additional.clear();
  }
}

const MAX_CNAME_CHAIN = 8;

function addAdditional(res: Resolution, rrset: RRset): void {
  const add = rrset.additional;
  for (let i = 0; i < add.length; i++) {
    const a = add[i]!;
    res.additional.add(a.node, a.rrset);
  }
}

function referral(res: Resolution, cut: NameNode): void {
  res.referral = true;
  res.aa = false;
  const ns = cut.rrsets.get(TYPE.NS)!;
  res.authority.add(cut, ns);
  addAdditional(res, ns);
}

function negative(res: Resolution, zone: Zone, rcode: number): void {
  res.rcode = rcode;
  res.authority.add(zone.apex, zone.negativeSoa);
}

/** RFC 8482 §4.2: answer ANY with one RRset of the name rather than all of them. */
function anyRRset(node: NameNode): RRset | null {
  if (node.cname) return node.cname;
  for (const rrset of node.rrsets.values()) return rrset;
  return null;
}

/**
 * Answer from a node that exists (or a wildcard standing in for the question name).
 * `owner` is null when the records are owned by the question name itself.
 */
function fromNode(res: Resolution, node: NameNode, owner: NameNode | null, qtype: number, engine: AnswerEngine | null): void {
  res.aa = true;
  let current = node;
  let currentOwner = owner;
  for (let hop = 0; hop <= MAX_CNAME_CHAIN; hop++) {
    const policy = current.policy;
    if (policy !== null && engine !== null && (qtype === TYPE.A || qtype === TYPE.AAAA || qtype === TYPE.ANY)) {
      engine.answer(policy, qtype === TYPE.AAAA ? 6 : 4, currentOwner, current.zone, res);
      return;
    }
    const rrset = qtype === TYPE.ANY ? anyRRset(current) : qtype === TYPE.CNAME ? current.cname : current.rrsets.get(qtype);
    if (rrset !== undefined && rrset !== null) {
      res.answer.add(currentOwner, rrset);
      addAdditional(res, rrset);
      return;
    }
    const cname = current.cname;
    if (cname === null || qtype === TYPE.CNAME) {
      negative(res, current.zone, RCODE.NOERROR);
      return;
    }
    res.answer.add(currentOwner, cname);
    const target = cname.cnameTarget;
    if (target === null) {
      // Target outside what we serve: the resolver continues from here. Inside a served zone: it does not exist.
      if (cname.cnameTargetZone !== null) negative(res, cname.cnameTargetZone, RCODE.NXDOMAIN);
      return;
    }
    if (target.cut !== null) {
      referral(res, target.cut);
      res.aa = true; // the CNAME itself is authoritative data
      return;
    }
    current = target;
    currentOwner = target;
  }
  // A loop or an over-long chain: return what we have, as BIND does.
}

/**
 * Resolve `qname`/`qtype` against the snapshot into `res`. Returns false when no served zone contains the name
 * (the caller answers REFUSED).
 */
export function resolve(snapshot: Snapshot, q: QuestionName, qtype: number, res: Resolution, engine: AnswerEngine | null): boolean {
  res.reset();
  const exact = snapshot.find(q.buf, q.off, q.end);
  if (exact !== null) {
    res.zone = exact.zone;
    const cut = exact.cut;
    if (cut !== null && !(cut === exact && qtype === TYPE.DS)) {
      referral(res, cut);
      return true;
    }
    if (cut === exact) {
      // DS at a delegation point is parent-side data; we hold none (no DNSSEC): authoritative NODATA.
      res.aa = true;
      negative(res, exact.zone, RCODE.NOERROR);
      return true;
    }
    fromNode(res, exact, null, qtype, engine);
    return true;
  }
  // Closest encloser: strip labels from the left until a node exists.
  for (let i = 1; i < q.labelCount; i++) {
    const enc = snapshot.find(q.buf, q.off + q.labelOffs[i]!, q.end);
    if (enc === null) continue;
    res.zone = enc.zone;
    if (enc.cut !== null) {
      referral(res, enc.cut);
      return true;
    }
    // The first existing suffix is the closest encloser; its "*" child, if any, answers (RFC 4592 §3.3.1).
    if (enc.wildcard !== null) {
      fromNode(res, enc.wildcard, null, qtype, engine);
      return true;
    }
    res.aa = true;
    negative(res, enc.zone, RCODE.NXDOMAIN);
    return true;
  }
  return false;
}

