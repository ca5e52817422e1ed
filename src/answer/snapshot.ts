// The immutable snapshot every query reads: the served zones (each one compact image) and the compiled policy.
// Owns: finding the most specific served zone for a name. Zones are independent of each other (an image holds no
// reference into another), so a snapshot is cheap to make from images that did not change; names that lead from one
// zone to another (CNAME targets, additional-section targets) are looked up when a query needs them.
// Built by the control plane and swapped in whole; the query path only reads it and never awaits.
import { APEX, type ZoneImage } from '../wire/image.js';
import { encodeName, equalsFoldedRange, hashWireFolded } from '../wire/name.js';
import type { Zone } from '../dns/zone.js';
import type { CompiledPolicy } from './policy.js';

export class Snapshot {
  /** Zones by the hash of their folded apex name (collisions share a list). */
  private readonly byOrigin = new Map<number, Zone[]>();
  /** Fewest and most labels of any apex: suffixes outside that range cannot be an apex. */
  private readonly minLabels: number;
  private readonly maxLabels: number;

  constructor(readonly zones: readonly Zone[], readonly generation: number, readonly policy: CompiledPolicy | null = null) {
    let min = 255;
    let max = 0;
    for (const zone of zones) {
      const img = zone.image;
      const off = img.nameOffset(APEX);
      const h = hashWireFolded(img.names, off, off + img.nameLength(APEX));
      const list = this.byOrigin.get(h);
      if (list) list.push(zone);
      else this.byOrigin.set(h, [zone]);
      const l = img.labels(APEX);
      if (l < min) min = l;
      if (l > max) max = l;
    }
    this.minLabels = min;
    this.maxLabels = max;
  }

  /** The served zone whose apex is exactly buf[off, end), or null. */
  private apexAt(buf: Buffer, off: number, end: number): Zone | null {
    const list = this.byOrigin.get(hashWireFolded(buf, off, end));
    if (list === undefined) return null;
    const len = end - off;
    for (let i = 0; i < list.length; i++) {
      const img = list[i]!.image;
      if (img.nameLength(APEX) === len && equalsFoldedRange(buf, off, img.names, img.nameOffset(APEX), len)) return list[i]!;
    }
    return null;
  }

  /**
   * The most specific served zone containing the wire name buf[off, end) with `labels` labels whose starts are
   * labelOffs[0..labels) (relative to off), or null. Allocation-free.
   */
  zoneOf(buf: Buffer, off: number, end: number, labelOffs: ArrayLike<number>, labels: number): Zone | null {
    const from = labels - this.maxLabels > 0 ? labels - this.maxLabels : 0;
    for (let i = from; i <= labels - this.minLabels; i++) {
      const start = i === labels ? end - 1 : off + labelOffs[i]!;
      const z = this.apexAt(buf, start, end);
      if (z !== null) return z;
    }
    return null;
  }

  /** zoneOf for an uncompressed wire name in a buffer (a CNAME or MX target inside an image): walks its labels. */
  zoneOfWire(buf: Buffer, off: number, end: number): Zone | null {
    let labels = 0;
    for (let p = off; buf[p] !== 0; p += buf[p]! + 1) labels++;
    const from = labels - this.maxLabels > 0 ? labels - this.maxLabels : 0;
    let p = off;
    for (let i = 0; i < from; i++) p += buf[p]! + 1;
    for (let i = from; i <= labels - this.minLabels; i++) {
      const z = this.apexAt(buf, p, end);
      if (z !== null) return z;
      p += buf[p]! + 1;
    }
    return null;
  }

  /** Lookup by presentation name, in the most specific zone containing it (as queries see it): tests and tools. */
  node(name: string): { zone: Zone; image: ZoneImage; node: number } | undefined {
    const wire = encodeName(name);
    const zone = this.zoneOfWire(wire, 0, wire.length);
    if (zone === null) return undefined;
    const node = zone.find(wire, 0, wire.length);
    return node < 0 ? undefined : { zone, image: zone.at, node };
  }
}
