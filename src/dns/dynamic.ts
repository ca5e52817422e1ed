// What dynamic update leaves in a served zone: the RRsets UPDATE set (each overriding the configuration's RRset at the
// same owner and type; none: deleted) and the zone's serial, laid over the compiled zone as an overlay (zone.ts
// compileOverlay), so a change costs what it touches, not the zone. Owns the override rule, the serial policies and
// reading a zone's records through its layers. Compile time only.
import { compileOverlay, recordsAt, type ZoneLayers, type ZoneProblem, overlayChanges } from './zone.js';
import { Zone } from './zone.js';
import { decodeBody, type SoaData, type ZoneRecord } from '../wire/rdata.js';
import { canonicalName } from '../wire/name.js';
import { TYPE } from '../wire/types.js';
import { serialGreater } from './update.js';

/** RRsets by canonical owner, then type: the records now ([] for an RRset deleted). */
export type RRsetChanges = Map<string, Map<number, ZoneRecord[]>>;

/** A zone's dynamic data: its serial and the RRsets dynamic update set. */
export interface DynamicZone { origin: string; serial: number; rrsets: RRsetChanges }

export type SerialPolicy = 'increment' | 'unixtime' | 'dateserial';

/** The serial after `current` under `policy` at `now` (ms): always greater in RFC 1982 arithmetic. */
export function nextSerial(policy: SerialPolicy, current: number, now: number): number {
  const plus = (current + 1) >>> 0;
  let candidate = plus;
  if (policy === 'unixtime') candidate = Math.floor(now / 1000) >>> 0;
  else if (policy === 'dateserial') {
    const d = new Date(now);
    candidate = (d.getUTCFullYear() * 10000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate()) * 100;
  }
  return serialGreater(candidate, current) ? candidate : plus;
}

/** The serial a zone serves: its stored one, unless the configuration's SOA has been set past it. */
export function servedSerial(configured: number, stored: number | null): number {
  return stored === null || serialGreater(configured, stored) ? configured : stored;
}

/** Every record the layers hold at `name` (canonical): the overlay's when it has the name, else the image's. */
export function layerRecords(layers: ZoneLayers, name: string): ZoneRecord[] {
  const zone = new Zone(layers.image.origin, '', layers.image, layers.overlay);
  const node = zone.node(name);
  if (node < 0) return [];
  const img = zone.at;
  const out: ZoneRecord[] = [];
  const first = img.firstRRset(node);
  for (let r = first; r < first + img.rrsetCountOf(node); r++) {
    for (let k = 0; k < img.count(r); k++) out.push(decodeBody(name, img.data, img.recOffs[img.base(r) + k]!));
  }
  return out;
}

/** The policy slot of `name` in the layers (-1: not a policy name). */
export function layerPolicySlot(layers: ZoneLayers, name: string): number {
  const zone = new Zone(layers.image.origin, '', layers.image, layers.overlay);
  const node = zone.node(name);
  return node < 0 ? -1 : zone.at.policySlot(node);
}

/** The SOA serial the layers serve. */
export function layerSerial(layers: ZoneLayers): number {
  const soa = layerRecords(layers, canonicalName(layers.image.origin)).find((r) => r.type === TYPE.SOA);
  return soa === undefined ? 0 : (soa.data as SoaData).serial;
}

export type Laid = { layers: ZoneLayers } | { problems: ZoneProblem[] } | { refused: string };

/**
 * `layers` with `changes` laid over them (each RRset replacing the one of its owner and type) and the apex SOA's
 * serial set to `serial`: one overlay over the same image, holding what the layers' overlay held and these names.
 */
export function layDynamic(layers: ZoneLayers, changes: RRsetChanges, serial: number): Laid {
  const origin = canonicalName(layers.image.origin);
  const now = layers.overlay === null ? { changed: new Map<string, ZoneRecord[]>(), policy: new Map<string, number>() } : overlayChanges(layers.overlay);
  const recordsNow = (name: string): ZoneRecord[] => now.changed.get(name) ?? recordsAt(layers.image, name);
  for (const [name, types] of changes) {
    const kept = recordsNow(name).filter((r) => !types.has(r.type));
    for (const records of types.values()) for (const r of records) kept.push(r);
    now.changed.set(name, kept);
  }
  const apex = recordsNow(origin).map((r) => (r.type === TYPE.SOA ? { ...r, data: { ...(r.data as SoaData), serial } } : r));
  now.changed.set(origin, apex);
  const r = compileOverlay(layers.image, now.changed, now.policy);
  if (r.refused !== undefined) return { refused: r.refused };
  if (r.overlay === undefined || r.problems.length > 0) return { problems: r.problems };
  return { layers: { image: layers.image, overlay: r.overlay } };
}

/** Merge `next` into `into` (later RRsets replace earlier ones of the same owner and type). */
export function mergeChanges(into: RRsetChanges, next: RRsetChanges): void {
  for (const [name, types] of next) {
    let m = into.get(name);
    if (m === undefined) into.set(name, (m = new Map()));
    for (const [t, records] of types) m.set(t, records);
  }
}
