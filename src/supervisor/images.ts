// Handing compiled zones to workers: the supervisor compiles each zone once, writes its image to a file, and every
// worker maps that file (supervisor/mapped.ts), so a million-record zone is in memory once, not once per worker, and
// no worker parses or compiles zones itself.
// Owns: the image directory (content-addressed files, packs of small zones), the references a load message
// carries, and the worker-side mapping cache. Image files are a cache: they can always be rebuilt from the store.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ZoneImage } from '../wire/image.js';
import type { Zone, ZoneLayers } from '../dns/zone.js';
import { mapFile, writeFileAtomic } from './mapped.js';

/** Where one zone's image is: a whole file, or a range of a pack; and its overlay (a change laid over it), if any. */
export interface ImageRef { file: string; offset: number; length: number; overlay?: ImageRef }

/** Images smaller than this share one pack file per load (thousands of small zones are not thousands of files). */
const PACK_BELOW = 256 * 1024;
const SUFFIX = '.wmi';

/** The directory images go to: beside the store, or a private temporary one (removed when the server stops). */
export function imageDir(storeDir: string | null): { dir: string; temporary: boolean } {
  if (storeDir !== null) {
    const dir = path.join(storeDir, 'images');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    return { dir, temporary: false };
  }
  return { dir: fs.mkdtempSync(path.join(os.tmpdir(), 'waymark-images-')), temporary: true };
}

function contentName(parts: readonly Uint8Array[]): string {
  const h = createHash('sha1'); // a cache key, not a security boundary: the directory is the server's own
  for (const p of parts) h.update(p);
  return h.digest('hex') + SUFFIX;
}

/** Names of the big images this process has written (a million-record image takes ~0.1 s to hash). */
const published = new WeakMap<Uint8Array, string>();

/** Write `parts` as a file named by its content, unless one exists (an unchanged zone is not written again). */
function publish(dir: string, parts: readonly Uint8Array[]): string {
  const name = contentName(parts);
  const file = path.join(dir, name);
  if (!fs.existsSync(file)) writeFileAtomic(file, parts, { durable: false });
  return name;
}

/**
 * Write the images of `zones` (by their index in the configuration's zone list) and return where each is, by that
 * index. Big images get a file each; small ones go together into one pack, each at an 8-byte aligned offset.
 */
export function publishImages(dir: string, zones: ReadonlyArray<{ index: number; zone: Zone }>): Array<ImageRef | null> {
  const refs: Array<ImageRef | null> = [];
  const small: Array<{ ref: ImageRef; bytes: Uint8Array }> = [];
  for (const { index, zone } of zones) refs[index] = placeLayers(dir, zone.layers, small);
  pack(dir, small);
  for (let i = 0; i < refs.length; i++) if (refs[i] === undefined) refs[i] = null;
  return refs;
}

/** Where `layers` will be: a big image in a file of its own (written now), small parts queued in `small` for a pack. */
function placeLayers(dir: string, layers: ZoneLayers, small: Array<{ ref: ImageRef; bytes: Uint8Array }>): ImageRef {
  const place = (bytes: Uint8Array): ImageRef => {
    const ref: ImageRef = { file: '', offset: 0, length: bytes.byteLength };
    if (bytes.byteLength < PACK_BELOW) { small.push({ ref, bytes }); return ref; }
    // An image reused from the compile cache was written before: its name is known without hashing it again.
    let name = published.get(bytes);
    if (name === undefined || !fs.existsSync(path.join(dir, name))) published.set(bytes, (name = publish(dir, [bytes])));
    ref.file = name;
    return ref;
  };
  const ref = place(layers.image.bytes);
  if (layers.overlay !== null) ref.overlay = place(layers.overlay.bytes);
  return ref;
}

/** `refs` with some zones (by index) given new layers, image and overlay both (a zone compiled again whole). */
export function publishLayers(dir: string, refs: ReadonlyArray<ImageRef | null>, layers: ReadonlyMap<number, ZoneLayers>): Array<ImageRef | null> {
  const small: Array<{ ref: ImageRef; bytes: Uint8Array }> = [];
  const out = refs.map((r, i) => { const l = layers.get(i); return l === undefined ? r : placeLayers(dir, l, small); });
  pack(dir, small);
  return out;
}

/**
 * `refs` with new overlays for some zones (by index; null: none), their images as they were: the overlays are
 * written (into one pack), the images not even read.
 */
export function publishOverlays(dir: string, refs: ReadonlyArray<ImageRef | null>, overlays: ReadonlyMap<number, ZoneImage | null>): Array<ImageRef | null> {
  const small: Array<{ ref: ImageRef; bytes: Uint8Array }> = [];
  const out = refs.map((r, i) => {
    const overlay = overlays.get(i);
    if (r === null || overlay === undefined) return r;
    const next: ImageRef = { file: r.file, offset: r.offset, length: r.length };
    if (overlay !== null) {
      next.overlay = { file: '', offset: 0, length: overlay.bytes.byteLength };
      small.push({ ref: next.overlay, bytes: overlay.bytes });
    }
    return next;
  });
  pack(dir, small);
  return out;
}

/** Write small images together into one pack file, each at an 8-byte aligned offset, and say where in their refs. */
function pack(dir: string, small: ReadonlyArray<{ ref: ImageRef; bytes: Uint8Array }>): void {
  if (small.length > 0) {
    const parts: Uint8Array[] = [];
    let at = 0;
    for (const { ref, bytes } of small) {
      const pad = (8 - (at % 8)) % 8;
      if (pad > 0) { parts.push(new Uint8Array(pad)); at += pad; }
      ref.offset = at;
      parts.push(bytes);
      at += bytes.byteLength;
    }
    const file = publish(dir, parts);
    for (const { ref } of small) ref.file = file;
  }
}

/** Remove image files no reference in `keep` names (images of older loads); files being mapped stay readable. */
export function pruneImages(dir: string, keep: ReadonlyArray<ReadonlyArray<ImageRef | null>>): void {
  const names = new Set<string>();
  for (const refs of keep) for (const r of refs) if (r !== null) { names.add(r.file); if (r.overlay) names.add(r.overlay.file); }
  for (const f of fs.readdirSync(dir)) if (f.endsWith(SUFFIX) && !names.has(f)) fs.rmSync(path.join(dir, f), { force: true });
}

/**
 * A worker's mappings: each image file is mapped once and kept while a load refers to it, so reloads that leave a
 * zone unchanged reuse the mapping (and the ZoneImage) they have.
 */
export class ImageCache {
  private files = new Map<string, ArrayBuffer>();
  private images = new Map<string, ZoneImage>();

  constructor(private readonly dir: string) {}

  /** The images a load refers to, by zone index (only zones with a reference). Throws naming a bad file. */
  load(refs: ReadonlyArray<ImageRef | null>): Map<number, ZoneLayers> {
    const files = new Map<string, ArrayBuffer>();
    const images = new Map<string, ZoneImage>();
    const out = new Map<number, ZoneLayers>();
    const open = (r: ImageRef): ZoneImage => {
      const key = `${r.file}@${r.offset}`;
      let image = this.images.get(key) ?? images.get(key);
      if (image === undefined) {
        let bytes = files.get(r.file) ?? this.files.get(r.file);
        bytes ??= mapFile(path.join(this.dir, r.file)).bytes;
        files.set(r.file, bytes);
        image = new ZoneImage(new Uint8Array(bytes, r.offset, r.length));
      } else {
        files.set(r.file, this.files.get(r.file) ?? files.get(r.file)!);
      }
      images.set(key, image);
      return image;
    };
    refs.forEach((r, index) => {
      if (r !== null) out.set(index, { image: open(r), overlay: r.overlay ? open(r.overlay) : null });
    });
    // What the previous load used and this one does not is let go (unmapped when collected).
    this.files = files;
    this.images = images;
    return out;
  }
}

/** Keys of a zone entry that describe its data (compiled into the image); the rest (settings) stay. */
const DATA_KEYS = new Set(['file', 'text', 'records', 'ns', 'soa']);

/**
 * The configuration as a worker gets it: zones that have an image lose their data (a million records are not sent
 * over IPC to be parsed again); the image says what they hold.
 */
export function withoutZoneData(raw: Record<string, unknown>, refs: ReadonlyArray<ImageRef | null>, origins: ReadonlyMap<number, string>): Record<string, unknown> {
  const zones = raw.zones;
  if (!Array.isArray(zones)) return raw;
  return {
    ...raw,
    zones: zones.map((z: unknown, i) => {
      if (refs[i] == null || typeof z !== 'object' || z === null) return z;
      const kept = Object.fromEntries(Object.entries(z).filter(([k]) => !DATA_KEYS.has(k)));
      return { ...kept, origin: origins.get(i) };
    }),
  };
}
