// What both response encoders read: the three sections of an answer as (owner, RRset) lists reused across queries.
// Owns: the Section list and the RRset/owner shapes the encoders copy onto the wire. dns/zone.ts compiles values of
// these shapes and dns/lookup.ts (with the answer engine) fills the sections; nothing here knows about zones.
import type { ZoneRecord } from './rdata.js';

/** One RRset as the encoders see it: its records, and the same records precompiled to wire fragments. */
export interface WireRRset {
  readonly type: number;
  readonly ttl: number;
  readonly records: readonly ZoneRecord[];
  /** RR bodies without owner: TYPE CLASS TTL RDLENGTH RDATA, concatenated. */
  readonly bodies: Buffer;
  /** Offsets into `bodies` where each record starts, plus the end. */
  readonly bodyOffsets: readonly number[];
  /**
   * The whole RRset with the owner compressed to the question name (pointer to offset 12), once per rotation:
   * rotations[k] starts at record k, so multi-address answers spread over resolvers without per-query work.
   */
  readonly rotations: readonly Buffer[];
}

/** An owner name other than the question name, as the encoders write or point to it. */
export interface WireOwner {
  /** Canonical presentation form, case as written in the zone. */
  readonly name: string;
  /** Uncompressed wire form, case as written. */
  readonly wire: Buffer;
  /** Case-folded wire form: the index key. */
  readonly key: Buffer;
  readonly labels: number;
}

/** One section of a response: parallel arrays reused across queries. owner null = the question name. */
export class Section {
  readonly owners: Array<WireOwner | null> = [];
  readonly rrsets: WireRRset[] = [];
  count = 0;
  clear(): void { this.count = 0; }
  add(owner: WireOwner | null, rrset: WireRRset): void {
    this.owners[this.count] = owner;
    this.rrsets[this.count] = rrset;
    this.count++;
  }
}

/** A resolved answer as the encoders read it (dns/lookup.ts's Resolution is the one implementation). */
export interface ResponseSections {
  readonly rcode: number;
  readonly aa: boolean;
  /** True for referrals: glue in the additional section is required, so it is never dropped to fit. */
  readonly referral: boolean;
  readonly answer: Section;
  readonly authority: Section;
  readonly additional: Section;
}
