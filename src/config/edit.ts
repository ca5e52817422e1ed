// Changes to the names and pools sections (an API edit of one member, pool or name; soon leases and site
// registrations), applied without compiling the configuration again. Owns: finding such a change between two raw
// configurations (by identity: an API edit shares every entry it does not touch with the configuration it edits),
// validating only the entries it puts in, and applying it to a compiled snapshot (updatePolicy; names it adds or
// removes laid over their zones as overlays; the zones' policy slots of the names it changed). The supervisor finds
// and applies an edit; workers are sent it (and the overlays) and apply it.
import { issuesToErrors, nameSchema, poolSchema, type Config, type ConfigError } from './schema.js';
import type { RawConfig } from './declarative.js';
import { updatePolicy, spliced, type PolicyEdit, type PolicyOptions, type Splice } from '../answer/compile.js';
import { poolHealthErrors } from '../health/targets.js';
import { canonicalName } from '../wire/name.js';
import { Snapshot } from '../answer/snapshot.js';
import type { CompiledName, CompiledPolicy } from '../answer/policy.js';
import { compileOverlay, homeZone, overlayChanges, policyNameProblem, outsideZones, OVERLAY_MAX_NAMES, Zone, type ZoneLayers } from '../dns/zone.js';
import type { ZoneRecord } from '../wire/rdata.js';
import type { z } from 'zod';

/** An edit as raw configuration entries (JSON, as written): what the supervisor sends its workers. */
export interface RawEdit { names: Splice<unknown> | null; pools: Splice<unknown> | null }

/** The two sections an edit may change. */
const EDITABLE = new Set(['names', 'pools']);

/** The splice that turns `a` into `b`: the common prefix and suffix (by identity) kept; null when they are equal. */
export function spliceBetween<T>(a: readonly T[], b: readonly T[]): Splice<T> | null {
  let pre = 0;
  const min = Math.min(a.length, b.length);
  while (pre < min && a[pre] === b[pre]) pre++;
  if (pre === a.length && pre === b.length) return null;
  let post = 0;
  while (post < min - pre && a[a.length - 1 - post] === b[b.length - 1 - post]) post++;
  return { at: pre, remove: a.length - pre - post, insert: b.slice(pre, b.length - post) };
}

/**
 * The edit that turns raw configuration `before` into `after`, when every other section is the very same value
 * (else null: compile in full). An edit of nothing has both sections null.
 */
export function findEdit(before: RawConfig, after: RawConfig): RawEdit | null {
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (!EDITABLE.has(k) && !sameValue(before[k], after[k])) return null;
  }
  const list = (c: RawConfig, k: string): readonly unknown[] | null => (c[k] === undefined ? [] : Array.isArray(c[k]) ? c[k] as unknown[] : null);
  const [n0, n1, p0, p1] = [list(before, 'names'), list(after, 'names'), list(before, 'pools'), list(after, 'pools')];
  if (n0 === null || n1 === null || p0 === null || p1 === null) return null;
  const edit = { names: spliceBetween(n0, n1), pools: spliceBetween(p0, p1) };
  const size = (s: Splice<unknown> | null): number => (s === null ? 0 : s.remove + s.insert.length);
  return size(edit.names) + size(edit.pools) > MAX_EDIT ? null : edit;
}

/** The same value, or lists of the very same entries (an edit copies the lists it might change). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Entries an edit may take out and put in; beyond that (a file read again: every entry is new) compile in full. */
const MAX_EDIT = 1024;

/**
 * The configuration in force, compiled: what an edit applies to. `layers`: the zones' compiled layers by zone index
 * (the supervisor's, which keeps no zones in its snapshot): an edit that adds or removes policy names lays an overlay
 * over the zones holding them. Without it (a worker), the snapshot's zones must hold them already (the supervisor
 * sends the overlays with the edit).
 */
export interface Compiled { config: Config; snapshot: Snapshot; layers?: () => ReadonlyMap<number, ZoneLayers> }

/** `relaid`: zones (by index) given new layers by the edit (names added or removed): to publish to workers. */
export type EditResult = { ok: true; config: Config; snapshot: Snapshot; relaid: Map<number, ZoneLayers> } | { ok: false; errors: ConfigError[] };

/**
 * Apply `edit` to `prev`: validate the entries it puts in, update the policy, lay the names it adds or removes over
 * their zones, and give the zones whose policy names changed those names. Null when it cannot be applied as a change
 * (the layout has no room, an overlay would grow too large): compile in full. The configuration returned is
 * `prev.config` with the edit.
 */
export function applyEdit(prev: Compiled, edit: RawEdit, opts: PolicyOptions = {}): EditResult | null {
  const policy = prev.snapshot.policy;
  if (policy === null) return null;
  const errors: ConfigError[] = [];
  const names = parsed(edit.names, 'names', nameSchema, errors);
  const pools = parsed(edit.pools, 'pools', poolSchema, errors);
  if (errors.length > 0) return { ok: false, errors };
  if (pools !== null) {
    const monitors = new Map(prev.config.monitors.map((m) => [m.name, m]));
    pools.insert.forEach((p, k) => { for (const e of poolHealthErrors(p, pools.at + k, monitors)) errors.push(e); });
    if (errors.length > 0) return { ok: false, errors };
  }
  const updated = updatePolicy(policy, { names, pools }, prev.config, opts);
  if (updated === null) return null;
  if (!updated.ok) return updated;
  const moved = names === null ? null : movedNames(policy, updated.policy, names);
  let relaid = new Map<number, ZoneLayers>();
  if (moved !== null && (moved.added.length > 0 || moved.removed.length > 0)) {
    const laid = prev.layers !== undefined ? layNames(prev.layers(), moved) : placed(prev.snapshot, moved);
    if (laid === null) return null;
    if (!laid.ok) return laid;
    relaid = laid.relaid;
  }
  const config: Config = { ...prev.config, names: spliced(prev.config.names, names), pools: spliced(prev.config.pools, pools) };
  return { ok: true, config, snapshot: new Snapshot(renamed(prev.snapshot, updated.policy), prev.snapshot.generation, updated.policy), relaid };
}

/** Policy names an edit adds (with their paths) and removes (canonical names). */
interface Moved { added: Array<{ name: string; at: string }>; removed: string[] }

function movedNames(before: CompiledPolicy, after: CompiledPolicy, s: Splice<Config['names'][number]>): Moved {
  const out = new Set(before.ordered.names.slice(s.at, s.at + s.remove).map((n) => canonicalName(n.name)));
  const added: Moved['added'] = [];
  after.ordered.names.slice(s.at, s.at + s.insert.length).forEach((n, k) => {
    const key = canonicalName(n.name);
    if (!out.delete(key)) added.push({ name: n.name, at: `names[${s.at + k}].name` });
  });
  return { added, removed: [...out] };
}

/**
 * The supervisor's half: the names an edit adds and removes laid over the zones holding them, as overlays (merged
 * with the overlay a zone has). Errors as a full compilation words them; null when an overlay would be too large or
 * is refused.
 */
function layNames(layers: ReadonlyMap<number, ZoneLayers>, moved: Moved): { ok: true; relaid: Map<number, ZoneLayers> } | { ok: false; errors: ConfigError[] } | null {
  const origins = new Map<string, number>();
  for (const [i, l] of layers) origins.set(canonicalName(l.image.origin), i);
  const errors: ConfigError[] = [];
  /** Per zone index: policy slots to set (canonical name → slot, -1: no longer a policy name). */
  const slots = new Map<number, Map<string, number>>();
  const next = new Map<number, number>();
  const slotOf = (zi: number): Map<string, number> => {
    let m = slots.get(zi);
    if (m === undefined) {
      m = new Map();
      slots.set(zi, m);
      const l = layers.get(zi)!;
      next.set(zi, Math.max(l.image.policySlots, l.overlay?.policySlots ?? 0));
    }
    return m;
  };
  for (const a of moved.added) {
    const zi = homeZone(canonicalName(a.name), origins);
    if (zi < 0) { errors.push({ path: a.at, message: outsideZones(a.name, [...origins.keys()]) }); continue; }
    const m = slotOf(zi);
    const slot = next.get(zi)!;
    m.set(canonicalName(a.name), slot);
    next.set(zi, slot + 1);
  }
  for (const r of moved.removed) {
    const zi = homeZone(r, origins);
    if (zi >= 0) slotOf(zi).set(r, -1);
  }
  if (errors.length > 0) return { ok: false, errors };
  const relaid = new Map<number, ZoneLayers>();
  for (const [zi, policy] of slots) {
    const l = layers.get(zi)!;
    const merged = l.overlay !== null ? overlayChanges(l.overlay) : { changed: new Map<string, ZoneRecord[]>(), policy: new Map<string, number>() };
    for (const [name, slot] of policy) merged.policy.set(name, slot);
    if (merged.changed.size + merged.policy.size > OVERLAY_MAX_NAMES) return null;
    const r = compileOverlay(l.image, merged.changed, merged.policy);
    if (r.overlay === undefined) {
      if (r.refused !== undefined) return null;
      return { ok: false, errors: r.problems.map((p) => ({ path: '', message: p.message })) };
    }
    const zone = new Zone(l.image.origin, canonicalName(l.image.origin), l.image, r.overlay);
    for (const a of moved.added) {
      if (!policy.has(canonicalName(a.name))) continue;
      const problem = policyNameProblem(zone, a.name);
      if (problem !== null) errors.push({ path: a.at, message: problem });
    }
    relaid.set(zi, zone.layers);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, relaid };
}

/** The worker's half: the zones (relaid with the supervisor's overlays already) hold every added name as a policy name. */
function placed(snapshot: Snapshot, moved: Moved): { ok: true; relaid: Map<number, ZoneLayers> } | null {
  for (const a of moved.added) {
    const found = snapshot.node(a.name);
    if (found === undefined || found.image.policySlot(found.node) < 0) return null;
  }
  return { ok: true, relaid: new Map() };
}

/** A section's splice with its entries validated (errors by their paths after the edit). */
function parsed<T>(s: Splice<unknown> | null, section: string, schema: z.ZodType<T>, errors: ConfigError[]): Splice<T> | null {
  if (s === null) return null;
  const insert: T[] = [];
  s.insert.forEach((raw, k) => {
    const r = schema.safeParse(raw, { reportInput: true });
    if (r.success) insert.push(r.data);
    else for (const e of issuesToErrors(r.error.issues.map((i) => ({ ...i, path: [section, s.at + k, ...i.path] })))) errors.push(e);
  });
  return { at: s.at, remove: s.remove, insert };
}

/** The zones of `snapshot`, those holding a policy name `policy` compiled anew given the new one. */
function renamed(snapshot: Snapshot, policy: CompiledPolicy): readonly Zone[] {
  const old = snapshot.policy!;
  if (snapshot.zones.length === 0) return snapshot.zones;
  const changes = new Map<Zone, Array<[number, CompiledName]>>();
  for (let i = 0; i < policy.names.length; i++) {
    const n = policy.names[i]!;
    if (n === old.names[i]) continue;
    const found = snapshot.node(n.name);
    if (found === undefined) continue;
    const slot = found.image.policySlot(found.node);
    if (slot < 0) continue;
    const list = changes.get(found.zone);
    if (list) list.push([slot, n]);
    else changes.set(found.zone, [[slot, n]]);
  }
  return snapshot.zones.map((z) => { const c = changes.get(z); return c === undefined ? z : z.withNames(c); });
}
