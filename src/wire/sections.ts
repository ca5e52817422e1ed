// What both response encoders read: the three sections of an answer as (owner, RRset) lists reused across queries.
// Owns: the Section list and the standalone RRset shape. Zone data is referenced in place in zone images
// (image.ts); dns/lookup.ts (with the answer engine) fills the sections; nothing here knows about zone semantics.
import type { ZoneImage } from './image.js';

/**
 * A standalone RRset as the encoders see it (policy answers): its records are bodies[bodyOffsets[base + k] …
 * bodyOffsets[base + k + 1]), k < count. Many RRsets share one `bodies`/`bodyOffsets` pair (an arena chunk).
 */
export interface WireRRset {
  readonly type: number;
  readonly ttl: number;
  readonly count: number;
  /** RR bodies without owner: TYPE CLASS TTL RDLENGTH RDATA, concatenated. */
  readonly bodies: Buffer;
  /** Offsets into `bodies` where records start; this RRset's are at base … base + count (the last: its end). */
  readonly bodyOffsets: ArrayLike<number>;
  readonly base: number;
}

/**
 * One section of a response: parallel arrays reused across queries, no object per entry. An entry's RRset is either
 * RRset `rrIdx` of image `rrImg`, or the standalone `rrObj`; its owner is node `ownerNode` of image `ownerImg`, or
 * the question name when `ownerImg` is null.
 */
export class Section {
  readonly ownerImg: Array<ZoneImage | null> = [];
  readonly ownerNode: number[] = [];
  readonly rrImg: Array<ZoneImage | null> = [];
  readonly rrIdx: number[] = [];
  readonly rrObj: Array<WireRRset | null> = [];
  count = 0;
  clear(): void { this.count = 0; }
  /** An RRset of an image, owned by a node of an image (null: the question name). */
  add(ownerImg: ZoneImage | null, ownerNode: number, img: ZoneImage, rrset: number): void {
    const i = this.count++;
    this.ownerImg[i] = ownerImg;
    this.ownerNode[i] = ownerNode;
    this.rrImg[i] = img;
    this.rrIdx[i] = rrset;
    this.rrObj[i] = null;
  }
  /** A standalone RRset (policy answers). */
  addRRset(ownerImg: ZoneImage | null, ownerNode: number, rrset: WireRRset): void {
    const i = this.count++;
    this.ownerImg[i] = ownerImg;
    this.ownerNode[i] = ownerNode;
    this.rrImg[i] = null;
    this.rrIdx[i] = -1;
    this.rrObj[i] = rrset;
  }
  /** Entry i's record bodies are data(i)[offsets(i)[base(i) + k] … offsets(i)[base(i) + k + 1]), k < records(i). */
  data(i: number): Buffer { const img = this.rrImg[i]; return img ? img.data : this.rrObj[i]!.bodies; }
  offsets(i: number): ArrayLike<number> { const img = this.rrImg[i]; return img ? img.recOffs : this.rrObj[i]!.bodyOffsets; }
  base(i: number): number { const img = this.rrImg[i]; return img ? img.base(this.rrIdx[i]!) : this.rrObj[i]!.base; }
  records(i: number): number { const img = this.rrImg[i]; return img ? img.count(this.rrIdx[i]!) : this.rrObj[i]!.count; }
  /** True when image RRset (img, rrset) is already listed (additional targets named twice are written once). */
  has(img: ZoneImage, rrset: number): boolean {
    for (let i = 0; i < this.count; i++) if (this.rrIdx[i] === rrset && this.rrImg[i] === img) return true;
    return false;
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
