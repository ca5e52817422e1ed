// What dynamic update leaves in a served zone: the RRsets UPDATE set (each overriding the configuration's RRset at the
// same owner and type; none: deleted) and the zone's serial, laid over the compiled zone as an overlay (zone.ts
// compileOverlay), so a change costs what it touches, not the zone. Owns the override rule, the serial policies and
// reading a zone's records through its layers. Compile time only.
import net from 'node:net';
import { compileOverlay, compileZone, forEachServedNode, nodeRecords, recordsAt, overlayChanges, OVERLAY_MAX_NAMES, type ZoneLayers, type ZoneProblem } from './zone.js';
import { Zone } from './zone.js';
import type { SoaData, ZoneRecord } from '../wire/rdata.js';
import { canonicalName } from '../wire/name.js';
import { TYPE } from '../wire/types.js';
import type { ZoneImage } from '../wire/image.js';
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
  return node < 0 ? [] : nodeRecords(zone.at, node);
}

/** Addresses as the A and AAAA records of `name` (a policy name's members, as secondaries and UPDATE see them). */
export function addressRecords(name: string, ttl: number, addresses: Iterable<string>): ZoneRecord[] {
  const out: ZoneRecord[] = [];
  for (const a of addresses) out.push({ name, type: net.isIPv6(a) ? TYPE.AAAA : TYPE.A, ttl, data: a });
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
  const known = layers.overlay === null ? undefined : compiledFrom(layers.overlay);
  const now = layers.overlay === null ? { changed: new Map<string, ZoneRecord[]>(), policy: new Map<string, number>() }
    : known !== undefined ? { changed: new Map(known.changed), policy: new Map(known.policy) } : overlayChanges(layers.overlay);
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
  // Kept, so the next change starts from these rather than decoding the overlay again.
  madeFrom.set(r.overlay, now);
  lastMade.set(origin, { bytes: r.overlay.bytes, from: now });
  return { layers: { image: layers.image, overlay: r.overlay } };
}

type OverlayInputs = { changed: Map<string, ZoneRecord[]>; policy: Map<string, number> };
/** What each overlay laid here was compiled from (compileOverlay's inputs). */
const madeFrom = new WeakMap<ZoneImage, OverlayInputs>();
/**
 * The last overlay laid over each zone, by its bytes: the one served comes back mapped from its file (another
 * object, the same bytes), and comparing bytes costs far less than decoding them.
 */
const lastMade = new Map<string, { bytes: Uint8Array; from: OverlayInputs }>();

function compiledFrom(overlay: ZoneImage): OverlayInputs | undefined {
  const hit = madeFrom.get(overlay);
  if (hit !== undefined) return hit;
  const last = lastMade.get(canonicalName(overlay.origin));
  if (last === undefined || !Buffer.from(last.bytes.buffer, last.bytes.byteOffset, last.bytes.byteLength).equals(Buffer.from(overlay.bytes.buffer, overlay.bytes.byteOffset, overlay.bytes.byteLength))) return undefined;
  madeFrom.set(overlay, last.from);
  return last.from;
}

/**
 * Whether the layers' overlay has grown so that each change (which compiles the overlay again) costs more than
 * compiling the zone whole once now and then: past √(2 × the zone's names), at least 32, at most OVERLAY_MAX_NAMES.
 */
export function shouldFold(layers: ZoneLayers): boolean {
  const o = layers.overlay;
  // Each change compiles the overlay (cost ∝ its names), a fold compiles the zone (∝ its names): folding every
  // √(2·zone) names makes the sum per change smallest.
  return o !== null && o.nodeCount > Math.min(OVERLAY_MAX_NAMES, Math.max(32, Math.sqrt(2 * layers.image.nodeCount)));
}

/**
 * The layers compiled whole into one image (no overlay), the policy names in the same slots (a snapshot's policy
 * slots stay valid); null when that cannot be (a slot without a name, a problem in the records).
 */
export function foldLayers(layers: ZoneLayers): ZoneLayers | null {
  const records: ZoneRecord[] = [];
  const slots: string[] = [];
  forEachServedNode(layers, (img, n) => {
    const slot = img.policySlot(n);
    if (slot >= 0) slots[slot] = canonicalName(img.nodeName(n));
    for (const r of nodeRecords(img, n)) records.push(r);
  });
  for (let i = 0; i < slots.length; i++) if (slots[i] === undefined) return null;
  const r = compileZone(layers.image.origin, records, slots);
  return r.zone === undefined || r.problems.length > 0 ? null : { image: r.zone.image, overlay: null };
}

/** Merge `next` into `into` (later RRsets replace earlier ones of the same owner and type). */
export function mergeChanges(into: RRsetChanges, next: RRsetChanges): void {
  for (const [name, types] of next) {
    let m = into.get(name);
    if (m === undefined) into.set(name, (m = new Map()));
    for (const [t, records] of types) m.set(t, records);
  }
}
