// Dynamic update on the control plane (RFC 2136, SPEC D5): the supervisor decides each UPDATE a worker relays, one at
// a time and in turn with revisions, commits it to the store (RRsets, serial, journal) before it answers, lays it
// over the zone and waits until every worker serves it. Owns: the zones' dynamic state in memory (as the store has
// it), laying it over every newly compiled zone (a reload or revision keeps what UPDATE set), and the log of updates.
// The RFC's rules are dns/update.ts's; who may do what is dns/update-policy.ts's.
import type { Logger } from 'pino';
import { applyUpdates, checkPermission, checkPrerequisites, parseUpdate, prescan, rdataKey, updateFailure, updateResponse, EDE, type UpdateFailure, type UpdateMessage, type ZoneView } from '../dns/update.js';
import { UpdatePolicy } from '../dns/update-policy.js';
import { addressRecords, foldLayers, shouldFold, layDynamic, layerPolicySlot, layerRecords, layerSerial, mergeChanges, nextSerial, servedSerial, type DynamicZone, type RRsetChanges } from '../dns/dynamic.js';
import type { Zone, ZoneLayers } from '../dns/zone.js';
import { decodeBody, encodeBody, encodeRdata, type ZoneRecord } from '../wire/rdata.js';
import { canonicalName } from '../wire/name.js';
import { RCODE, TYPE } from '../wire/types.js';
import { StoreError, type StoredRecord, type StoredRRset, type ZoneState } from '../state/store.js';
import type { StateStore } from '../state/async.js';
import type { ZoneConfig, ConfigError } from '../config/schema.js';
import type { ZoneRequest } from './ipc.js';
import type { Serial } from './serial.js';

/** A served zone as the update service needs it: its index, configuration entry and canonical origin. */
export interface ServedZone { index: number; config: ZoneConfig; origin: string }

/** What the supervisor gives the update service. */
export interface ZoneUpdateHost {
  store: StateStore | null;
  /** The served zone with this canonical origin, or null. */
  zone(origin: string): ServedZone | null;
  /** The layers every worker serves for zone `index` now. */
  layers(index: number): ZoneLayers | undefined;
  /** The policy name's pool(s) at canonical `name`, for a refusal that names them. */
  poolsOf(name: string): string;
  /** Serve `layers` for zone `index` everywhere; resolves once every worker does. */
  publish(index: number, layers: ZoneLayers): Promise<{ ok: true } | { ok: false; errors: ConfigError[] }>;
  /** The queue revisions come into force by: an update never interleaves with one. */
  queue: Serial;
  /** Zone `origin` is served at a new serial everywhere (NOTIFY its secondaries). */
  changed(origin: string): void;
  /**
   * The dynamic pool answering policy name `name` (canonical): its members and the name's TTL; null when none of its
   * pools is dynamic; a string saying why not when it cannot be told which (several are).
   */
  dynamicPool(name: string): DynamicPool | string | null;
  /** Make `members` the registered members of dynamic pool `pool` (a revision), in force everywhere when it resolves. */
  register(pool: string, members: Member[], who: { actor: string; origin: string }): Promise<{ ok: true } | { ok: false; errors: ConfigError[] }>;
  log: Logger;
}

/** A member as the configuration writes it; `registered` says who registered it by dynamic update. */
export interface Member { address: string; registered?: string }
/** A dynamic pool as an UPDATE at one of its policy names sees it. */
export interface DynamicPool { pool: string; ttl: number; members: Member[] }

/** A dynamic pool's members as the A/AAAA records of policy name `name`. */
function memberRecords(name: string, d: DynamicPool): ZoneRecord[] {
  return addressRecords(name, d.ttl, d.members.map((m) => m.address));
}

/** A stored RRset as records. */
export function storedRecords(r: StoredRRset): ZoneRecord[] {
  return r.rdata.map((hex) => recordOf(r.owner, r.type, r.ttl, hex));
}

function recordOf(name: string, type: number, ttl: number, hex: string): ZoneRecord {
  return decodeBody(name, encodeBody(type, ttl, Buffer.from(hex, 'hex')), 0);
}

function stateOf(s: ZoneState): DynamicZone {
  const rrsets: RRsetChanges = new Map();
  for (const r of s.rrsets) {
    let m = rrsets.get(r.owner);
    if (m === undefined) rrsets.set(r.owner, (m = new Map()));
    m.set(r.type, storedRecords(r));
  }
  return { origin: s.zone, serial: s.serial, rrsets };
}

function storedOf(changes: RRsetChanges): StoredRRset[] {
  const out: StoredRRset[] = [];
  for (const [owner, types] of changes) {
    for (const [type, records] of types) out.push({ owner, type, ttl: records[0]?.ttl ?? 0, rdata: records.map((r) => encodeRdata(type, r.data).toString('hex')) });
  }
  return out;
}

/** What an update takes out of and puts into the zone, record by record (SOA aside): its journal entry. */
function difference(view: ZoneView, changes: RRsetChanges): { removed: StoredRecord[]; added: StoredRecord[] } {
  const removed: StoredRecord[] = [];
  const added: StoredRecord[] = [];
  const stored = (r: ZoneRecord): StoredRecord => ({ name: canonicalName(r.name), type: r.type, ttl: r.ttl, rdata: encodeRdata(r.type, r.data).toString('hex') });
  for (const [name, types] of changes) {
    const was = view.records(name);
    for (const [type, now] of types) {
      if (type === TYPE.SOA) continue;
      const before = was.filter((r) => r.type === type);
      const key = (r: ZoneRecord): string => `${r.ttl}/${rdataKey(type, r.data)}`;
      const nowKeys = new Set(now.map(key));
      const beforeKeys = new Set(before.map(key));
      for (const r of before) if (!nowKeys.has(key(r))) removed.push(stored(r));
      for (const r of now) if (!beforeKeys.has(key(r))) added.push(stored(r));
    }
  }
  return { removed, added };
}

type Outcome = { rcode: number; failure?: UpdateFailure };

/** Who made a change, as the journal and the audit log say it. */
function actorOf(req: ZoneRequest): string {
  return req.key !== null ? `key ${req.key}` : `address ${req.client}`;
}

export class ZoneUpdates {
  /** Each zone's dynamic state as committed, by canonical origin. */
  private readonly states = new Map<string, DynamicZone>();
  /** The layers each zone was last compiled to from the configuration (before dynamic data): a new one is a change. */
  private readonly compiled = new Map<string, ZoneLayers>();
  /** Zones a revision or reload changed since the last serial bump. */
  private readonly revised = new Set<string>();
  constructor(private readonly host: ZoneUpdateHost) {}

  /** Read every zone's state from the store (at the start). */
  async load(): Promise<void> {
    if (this.host.store === null) return;
    for (const s of await this.host.store.loadZoneStates()) this.states.set(s.zone, stateOf(s));
  }

  /**
   * Newly compiled zones with what dynamic update set laid over them (a reload or a revision keeps it), serving the
   * stored serial. Errors when the configuration now conflicts with an RRset UPDATE set (a CNAME beside it, say).
   */
  served(zones: readonly Zone[]): { ok: true; zones: Zone[] } | { ok: false; errors: ConfigError[] } {
    const out: Zone[] = [];
    for (const zone of zones) {
      const origin = canonicalName(zone.origin);
      const before = this.compiled.get(origin);
      if (before !== undefined && (before.image !== zone.image || before.overlay !== zone.overlay)) this.revised.add(origin);
      this.compiled.set(origin, zone.layers);
      const state = this.states.get(origin);
      if (state === undefined) { out.push(zone); continue; }
      const laid = layDynamic(zone.layers, state.rrsets, servedSerial(layerSerial(zone.layers), state.serial));
      if (!('layers' in laid)) {
        const why = 'refused' in laid ? laid.refused : laid.problems.map((p) => p.message).join('; ');
        return { ok: false, errors: [{ path: `zones (${zone.origin})`, message: `the configuration conflicts with the records dynamic update set in zone ${zone.origin}: ${why}` }] };
      }
      out.push(zone.relaid(shouldFold(laid.layers) ? foldLayers(laid.layers) ?? laid.layers : laid.layers));
    }
    return { ok: true, zones: out };
  }

  /** Answer one relayed UPDATE (the response, unsigned). Never throws: a failure is SERVFAIL, logged. */
  async handle(req: ZoneRequest): Promise<Buffer> {
    const msg = Buffer.from(req.message, 'base64');
    const u = parseUpdate(msg);
    if ('rcode' in u) return this.answer(null, msg, req, { rcode: u.rcode, failure: u });
    try {
      return this.answer(u, msg, req, await this.host.queue.run(() => this.decide(u, req)));
    } catch (e) {
      this.host.log.error({ zone: u.zone, err: (e as Error).message }, 'dynamic update failed');
      return this.answer(u, msg, req, { rcode: RCODE.SERVFAIL, failure: { rcode: RCODE.SERVFAIL, info: EDE.OTHER, reason: `the update could not be committed: ${(e as Error).message}` } });
    }
  }

  private answer(u: UpdateMessage | null, msg: Buffer, req: ZoneRequest, o: Outcome): Buffer {
    const fields = { zone: u?.zone, key: req.key, client: req.client, rcode: o.rcode };
    if (o.failure !== undefined) this.host.log.warn({ ...fields, reason: o.failure.reason }, 'dynamic update refused');
    return u === null ? updateFailure(msg, o.rcode, o.failure) : updateResponse(u, u.id, o.rcode, o.failure);
  }

  private async decide(u: UpdateMessage, req: ZoneRequest, retried = false): Promise<Outcome> {
    const refuse = (rcode: number, reason: string, info: number = EDE.PROHIBITED): Outcome => ({ rcode, failure: { rcode, info, reason } });
    const zone = this.host.zone(u.zone);
    if (zone === null) return refuse(RCODE.NOTAUTH, `this server is not authoritative for ${u.zone}`, EDE.NOT_AUTHORITATIVE);
    const at = `zones[${zone.index}].update`;
    if (!zone.config.update?.length) return refuse(RCODE.REFUSED, `zone ${zone.origin} takes no dynamic updates (it has no ${at} rules)`);
    const store = this.host.store;
    if (store === null) return refuse(RCODE.REFUSED, 'dynamic update needs a store (store.path or store.postgres) to keep what it changes');
    const policy = new UpdatePolicy(zone.origin, zone.config.update, { key: req.key, address: req.client }, at);
    const refusal = policy.refusal();
    if (refusal !== null) return refuse(RCODE.REFUSED, refusal);
    const layers = this.host.layers(zone.index);
    if (layers === undefined) return refuse(RCODE.SERVFAIL, `zone ${zone.origin} is not loaded yet`, EDE.OTHER);
    // Policy names answered by a dynamic pool: their A/AAAA records are the pool's members.
    const dynamic = new Map<string, DynamicPool>();
    for (const rr of [...u.prereqs, ...u.updates]) {
      if (dynamic.has(rr.name) || layerPolicySlot(layers, rr.name) < 0) continue;
      const d = this.host.dynamicPool(rr.name);
      if (typeof d === 'string') return refuse(RCODE.REFUSED, d);
      if (d !== null) dynamic.set(rr.name, d);
    }
    const view: ZoneView = {
      origin: zone.origin,
      records: (n) => { const d = dynamic.get(n); return d !== undefined ? memberRecords(n, d) : layerRecords(layers, n); },
      policyPool: (n) => (!dynamic.has(n) && layerPolicySlot(layers, n) >= 0 ? this.host.poolsOf(n) : null),
    };
    const onlyAddresses = u.updates.find((rr) => dynamic.has(rr.name) && rr.type !== TYPE.A && rr.type !== TYPE.AAAA && rr.type !== TYPE.ANY);
    if (onlyAddresses !== undefined) return refuse(RCODE.REFUSED, `${onlyAddresses.name} is answered by dynamic pool ${dynamic.get(onlyAddresses.name)!.pool}: UPDATE adds and deletes its A and AAAA records (members) only`);
    const failed = checkPrerequisites(u, view) ?? checkPermission(u, view, policy) ?? prescan(u, zone.origin);
    if (failed !== null) return { rcode: failed.rcode, failure: failed };
    const result = applyUpdates(u, view, policy);
    if ('rcode' in result) return { rcode: result.rcode, failure: result };
    if (result.changed.size === 0) return { rcode: RCODE.NOERROR }; // nothing changed: the serial stays (§3.6)
    const members = [...result.changed.keys()].filter((n) => dynamic.has(n));
    if (members.length > 0) {
      if (members.length < result.changed.size) return refuse(RCODE.REFUSED, 'an update of a dynamic pool\'s policy name changes only its members: send the other changes in another UPDATE');
      return this.register(zone, members.map((n) => [n, dynamic.get(n)!] as const), result.changed, view, req);
    }
    const current = layerSerial(layers);
    const serial = result.soa !== null ? (result.soa.data as { serial: number }).serial : nextSerial(zone.config.serial, current, Date.now());
    const laid = layDynamic(layers, result.changed, serial);
    if (!('layers' in laid)) return refuse(RCODE.REFUSED, 'refused' in laid ? `${laid.refused}: delegations are made in the configuration` : laid.problems.map((p) => p.message).join('; '));
    let published: Awaited<ReturnType<ZoneUpdateHost['publish']>>;
    try {
      published = await this.commitAndServe(zone, laid.layers, current, serial, result.changed, { actor: actorOf(req), reset: false, ...difference(view, result.changed) });
    } catch (e) {
      // Another node changed the zone meanwhile: take its state, and decide again on the zone as it is now.
      if (e instanceof StoreError && e.code === 'STORE_CONFLICT' && !retried) {
        await this.follow(zone.origin);
        return this.decide(u, req, true);
      }
      throw e;
    }
    if (!published.ok) return refuse(RCODE.SERVFAIL, `committed as serial ${serial}, but not every worker serves it: ${published.errors.map((e) => e.message).join('; ')}`, EDE.OTHER);
    this.host.log.info({ zone: zone.origin, serial, key: req.key, client: req.client, rrsets: storedOf(result.changed).map((r) => `${r.owner}/${r.type}:${r.rdata.length}`) }, 'dynamic update applied');
    return { rcode: RCODE.NOERROR };
  }

  /**
   * Commit a change of `zone` as serial `serial` (its RRsets `changes`, perhaps none, and its journal entry), keep it
   * as the zone's state, and serve `layers` everywhere (folded when their overlay has grown large), then NOTIFY.
   * Throws what the store throws (STORE_CONFLICT: another node changed the zone meanwhile).
   */
  private async commitAndServe(zone: ServedZone, layers: ZoneLayers, from: number, serial: number, changes: RRsetChanges, entry: { actor: string; reset: boolean; removed: StoredRecord[]; added: StoredRecord[] }): ReturnType<ZoneUpdateHost['publish']> {
    const state = this.states.get(zone.origin);
    await this.host.store!.commitZoneChange({ zone: zone.origin, base: state?.serial ?? null, from, serial, at: Date.now(), keep: zone.config.journal, rrsets: storedOf(changes), ...entry });
    const next = state ?? { origin: zone.origin, serial, rrsets: new Map() };
    mergeChanges(next.rrsets, changes);
    next.serial = serial;
    this.states.set(zone.origin, next);
    const published = await this.host.publish(zone.index, shouldFold(layers) ? foldLayers(layers) ?? layers : layers);
    if (published.ok) this.host.changed(zone.origin);
    return published;
  }

  /** Advance `zone`'s serial alone (its data changed elsewhere: a revision, a pool's members), with this journal entry. */
  private async advanceSerial(zone: ServedZone, entry: { actor: string; reset: boolean; removed: StoredRecord[]; added: StoredRecord[] }): Promise<number | null> {
    const layers = this.host.layers(zone.index);
    if (layers === undefined) return null;
    const current = layerSerial(layers);
    const serial = nextSerial(zone.config.serial, current, Date.now());
    const laid = layDynamic(layers, new Map(), serial);
    if (!('layers' in laid)) return null;
    await this.commitAndServe(zone, laid.layers, current, serial, new Map(), entry);
    return serial;
  }

  /**
   * Members of dynamic pools registered or deregistered by an UPDATE at their policy names: the pool's registered
   * members become what the update leaves (configured members stay: they belong to the configuration), committed as a
   * revision and in force everywhere; then the zone's serial advances with a journal entry of the A/AAAA records, so
   * secondaries (which serve the name as its members) follow.
   */
  private async register(zone: ServedZone, names: ReadonlyArray<readonly [string, DynamicPool]>, changed: RRsetChanges, view: ZoneView, req: ZoneRequest): Promise<Outcome> {
    const actor = actorOf(req);
    if (new Set(names.map(([, d]) => d.pool)).size < names.length) return { rcode: RCODE.REFUSED, failure: { rcode: RCODE.REFUSED, info: EDE.PROHIBITED, reason: 'one UPDATE changes one policy name of each dynamic pool' } };
    for (const [name, d] of names) {
      const types = changed.get(name)!;
      const now = memberRecords(name, d);
      const addresses = new Set<string>();
      for (const t of [TYPE.A, TYPE.AAAA]) for (const r of types.get(t) ?? now.filter((x) => x.type === t)) addresses.add(String(r.data));
      const configured = d.members.filter((m) => m.registered === undefined);
      const known = new Map(d.members.map((m) => [m.address, m]));
      const next: Member[] = [...addresses].filter((a) => !configured.some((m) => m.address === a)).map((a) => ({ address: a, registered: known.get(a)?.registered ?? actor }));
      const before = d.members.filter((m) => m.registered !== undefined).map((m) => m.address).sort();
      if (JSON.stringify(next.map((m) => m.address).sort()) === JSON.stringify(before)) continue;
      const r = await this.host.register(d.pool, next, { actor, origin: `dns ${req.client}` });
      if (!r.ok) return { rcode: RCODE.SERVFAIL, failure: { rcode: RCODE.SERVFAIL, info: EDE.OTHER, reason: `pool ${d.pool}: ${r.errors.map((e) => `${e.path} ${e.message}`).join('; ')}` } };
      this.host.log.info({ zone: zone.origin, name, pool: d.pool, key: req.key, client: req.client, members: next.map((m) => m.address) }, 'dynamic pool members registered');
    }
    await this.advanceSerial(zone, { actor, reset: false, ...difference(view, changed) });
    return { rcode: RCODE.NOERROR };
  }

  /**
   * Advance the serial of each zone a revision or reload changed that secondaries copy (it has transfer or notify
   * rules), under its serial policy: a journal entry that IXFR cannot step across (it sends the whole zone), the new
   * serial served everywhere, NOTIFY sent. Run in the queue after the change came into force.
   */
  async bumpRevised(): Promise<void> {
    for (const origin of [...this.revised]) {
      this.revised.delete(origin);
      const zone = this.host.zone(origin);
      if (this.host.store === null || zone === null || (zone.config.transfer === undefined && zone.config.notify === undefined)) continue;
      const serial = await this.advanceSerial(zone, { actor: 'revision', reset: true, removed: [], added: [] });
      if (serial !== null) this.host.log.info({ zone: origin, serial }, 'zone changed by the configuration: serial advanced');
    }
  }

  /**
   * Take zone `origin`'s state from the store (a change another node committed: the feed said so) and serve it. Runs
   * in the caller's turn of the queue.
   */
  async follow(origin: string): Promise<void> {
    const store = this.host.store;
    if (store === null) return;
    const s = await store.zoneState(origin);
    if (s === null) return;
    const known = this.states.get(origin);
    if (known !== undefined && known.serial === s.serial) return;
    const state = stateOf(s);
    this.states.set(origin, state);
    const zone = this.host.zone(origin);
    const layers = zone === null ? undefined : this.host.layers(zone.index);
    if (zone === null || layers === undefined) return;
    const laid = layDynamic(layers, state.rrsets, servedSerial(layerSerial(layers), state.serial));
    if (!('layers' in laid)) {
      this.host.log.error({ zone: origin, serial: s.serial }, 'a dynamic update from another node does not fit this node\'s zone');
      return;
    }
    if ((await this.host.publish(zone.index, laid.layers)).ok) this.host.changed(origin);
  }
}
