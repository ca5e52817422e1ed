// Authoritative lookup (RFC 1034 §4.3.2, RFC 4592 wildcards, RFC 2308 negative answers, RFC 8482 ANY).
// Owns: deciding rcode, AA and which RRsets go in which section. Both encoders (fast path and general codec) write
// the Resolution this fills, so they cannot disagree on what the answer is. Synchronous, allocation-free.
import { RCODE, TYPE } from '../wire/types.js';
import type { Snapshot } from '../answer/snapshot.js';
import type { AnswerEngine } from '../answer/engine.js';
import type { QuestionName } from '../wire/query.js';
import { Section, type ResponseSections } from '../wire/sections.js';
import type { Zone } from './zone.js';
import { APEX, type ZoneImage } from '../wire/image.js';
import { wireNameLength } from '../wire/name.js';

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

/** Where the target name sits in the RDATA of NS, MX and SRV records (RFC 1035 §3.3, RFC 2782); -1: no target. */
function targetOffset(type: number): number {
  return type === TYPE.NS ? 0 : type === TYPE.MX ? 2 : type === TYPE.SRV ? 6 : -1;
}

/**
 * In-zone A/AAAA RRsets of the names an NS/MX/SRV RRset points to, for the additional section (RFC 1035 §4.3.2,
 * RFC 2782). Looked up per answer in whichever served zone holds the target; below a cut only NS (glue) qualifies.
 */
function addAdditional(res: Resolution, snapshot: Snapshot, img: ZoneImage, rrset: number): void {
  const type = img.type(rrset);
  const at = targetOffset(type);
  if (at < 0) return;
  const data = img.data;
  const base = img.base(rrset);
  const n = img.count(rrset);
  for (let k = 0; k < n; k++) {
    const start = img.rdataOffset(base + k) + at;
    const end = start + wireNameLength(data, start);
    const zone = snapshot.zoneOfWire(data, start, end);
    if (zone === null) continue;
    const node = zone.find(data, start, end);
    const t = zone.at;
    if (node < 0 || (t.cut(node) >= 0 && type !== TYPE.NS)) continue;
    const a = t.rrset(node, TYPE.A);
    const aaaa = t.rrset(node, TYPE.AAAA);
    if (a >= 0 && !res.additional.has(t, a)) res.additional.add(t, node, t, a);
    if (aaaa >= 0 && !res.additional.has(t, aaaa)) res.additional.add(t, node, t, aaaa);
  }
}

/** A referral from the delegation at node `cut` of `img` (one of `zone`'s layers). */
function referral(res: Resolution, snapshot: Snapshot, img: ZoneImage, cut: number): void {
  res.referral = true;
  res.aa = false;
  const ns = img.rrset(cut, TYPE.NS);
  res.authority.add(img, cut, img, ns);
  addAdditional(res, snapshot, img, ns);
}

function negative(res: Resolution, zone: Zone, rcode: number): void {
  res.rcode = rcode;
  const img = zone.top;
  res.authority.add(img, APEX, img, img.negativeSoa);
}

/** RFC 8482 §4.2: answer ANY with one RRset of the name rather than all of them. */
function anyRRset(img: ZoneImage, node: number): number {
  return img.rrsetCountOf(node) > 0 ? img.firstRRset(node) : -1;
}

/**
 * Answer from a node that exists (or a wildcard standing in for the question name). `ownerNode` < 0 when the
 * records are owned by the question name itself; CNAME targets after the first hop are owned by their node.
 */
function fromNode(res: Resolution, snapshot: Snapshot, zone: Zone, at: ZoneImage, node: number, qtype: number, engine: AnswerEngine | null): void {
  res.aa = true;
  let z = zone;
  let img = at;
  let current = node;
  let ownerImg: ZoneImage | null = null;
  for (let hop = 0; hop <= MAX_CNAME_CHAIN; hop++) {
    const slot = img.policySlot(current);
    if (slot >= 0 && engine !== null && (qtype === TYPE.A || qtype === TYPE.AAAA || qtype === TYPE.ANY)) {
      const policy = z.policies[slot] ?? null;
      if (policy !== null) {
        engine.answer(policy, qtype === TYPE.AAAA ? 6 : 4, ownerImg, current, z, res);
        return;
      }
    }
    const rrset = qtype === TYPE.ANY ? anyRRset(img, current) : img.rrset(current, qtype);
    if (rrset >= 0) {
      res.answer.add(ownerImg, current, img, rrset);
      addAdditional(res, snapshot, img, rrset);
      return;
    }
    const cname = qtype === TYPE.CNAME ? -1 : img.rrset(current, TYPE.CNAME);
    if (cname < 0) {
      negative(res, z, RCODE.NOERROR);
      return;
    }
    res.answer.add(ownerImg, current, img, cname);
    const start = img.rdataOffset(img.base(cname));
    const end = start + wireNameLength(img.data, start);
    const tz = snapshot.zoneOfWire(img.data, start, end);
    // Target outside what we serve: the resolver continues from here.
    if (tz === null) return;
    const target = tz.find(img.data, start, end);
    if (target < 0) {
      negative(res, tz, RCODE.NXDOMAIN); // inside a served zone, and it does not exist
      return;
    }
    const timg = tz.at;
    const cut = timg.cut(target);
    if (cut >= 0) {
      referral(res, snapshot, timg, cut);
      res.aa = true; // the CNAME itself is authoritative data
      return;
    }
    z = tz;
    img = timg;
    current = target;
    ownerImg = timg;
  }
  // A loop or an over-long chain: return what we have, as BIND does.
}

/**
 * Resolve `qname`/`qtype` against the snapshot into `res`. Returns false when no served zone contains the name
 * (the caller answers REFUSED).
 */
export function resolve(snapshot: Snapshot, q: QuestionName, qtype: number, res: Resolution, engine: AnswerEngine | null): boolean {
  res.reset();
  const zone = snapshot.zoneOf(q.buf, q.off, q.end, q.labelOffs, q.labelCount);
  if (zone === null) return false;
  res.zone = zone;
  const exact = zone.find(q.buf, q.off, q.end);
  if (exact >= 0) {
    const img = zone.at;
    const cut = img.cut(exact);
    if (cut >= 0 && !(cut === exact && qtype === TYPE.DS)) {
      referral(res, snapshot, img, cut);
      return true;
    }
    if (cut === exact) {
      // DS at a delegation point is parent-side data; we hold none (no DNSSEC): authoritative NODATA.
      res.aa = true;
      negative(res, zone, RCODE.NOERROR);
      return true;
    }
    fromNode(res, snapshot, zone, img, exact, qtype, engine);
    return true;
  }
  // Closest encloser: strip labels from the left until a node exists (the apex always does).
  const apexAt = q.labelCount - zone.image.labels(APEX);
  for (let i = 1; i <= apexAt; i++) {
    const enc = zone.find(q.buf, i === q.labelCount ? q.end - 1 : q.off + q.labelOffs[i]!, q.end);
    if (enc < 0) continue;
    const img = zone.at;
    const cut = img.cut(enc);
    if (cut >= 0) {
      referral(res, snapshot, img, cut);
      return true;
    }
    // The first existing suffix is the closest encloser; its "*" child, if any, answers (RFC 4592 §3.3.1).
    const wild = img.wildcard(enc);
    if (wild >= 0) {
      fromNode(res, snapshot, zone, img, wild, qtype, engine);
      return true;
    }
    res.aa = true;
    negative(res, zone, RCODE.NXDOMAIN);
    return true;
  }
  return false;
}
