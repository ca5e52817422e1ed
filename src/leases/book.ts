// The lease book of one node (SPEC L1-L4): the address pools' leases as the store holds them, kept in memory so an
// extension never waits on the database; the first lease of a server for a name is one store transaction (the
// database's constraints decide between nodes). Each lease in force is bound on the forwarder (forward/): its
// public address and forwarded ports reach the server's private address, replies leave from the public address,
// and the forwarder's counts (requests, bytes, open connections) feed the rules. Owns: that bookkeeping and the
// background work (expiry, batched writes of counts and expiries). Rules are rules.ts's; the table is the store's.
import type { Config } from '../config/schema.js';
import type { StateStore } from '../state/async.js';
import type { AddressLease } from '../state/store.js';
import { Forwarder, type ForwardEvents, type ServiceSpec } from '../forward/engine.js';
import type { Protocol } from '../forward/table.js';
import { answerTtl, chooseLease, extendedExpiry, grantMs, onExpiry, reclaimable, serverToLease, type LeaseView, type PoolRules } from './rules.js';
import { lowWaterOf, poolAddresses } from './validate.js';
import { canonicalName as canonical } from '../wire/name.js';

interface Pool { name: string; addresses: string[]; rules: PoolRules; forward: Array<{ port: number; protocol: Protocol }> }

/** A lease in force as the book keeps it: the store's row, plus what the forwarder counted since. */
interface Held extends LeaseView { lease: AddressLease; bytes: number; dirty: boolean }

/** What a query for a leased name gets: an address and TTL, or why not (answered SERVFAIL). */
export type LeaseAnswer = { ok: true; address: string; ttl: number; lease: number; created: boolean } | { ok: false; reason: string };

export interface LeaseBookOptions {
  store: StateStore;
  log: (level: 'info' | 'warn' | 'error', fields: object, msg: string) => void;
  now?: () => number;
  /** Connections the lease forwarder holds at most. */
  maxConnections?: number;
}

/** How long past its expiry (in this node's view) a lease is ended: another node's extension lands within a tick. */
const EXPIRY_GRACE_MS = 2000;
/** The pool counts' history: a sample every 10 s, an hour of them. */
const HISTORY_STEP_MS = 10_000;
const HISTORY_STEPS = 360;
/** How many free addresses one acquisition offers the store (the first that is still free when it commits wins). */
const CANDIDATES = 8;

export class LeaseBook {
  readonly forwarder: Forwarder;
  private pools = new Map<string, Pool>();
  private names = new Map<string, { pool: string; servers: string[] }>();
  private servers = new Map<string, string>();
  /** Leases in force, by public address. */
  private held = new Map<string, Held>();
  /** Cooling addresses: free again from `until`. */
  private cooling = new Map<string, { pool: string; until: number }>();
  /** Bumped whenever `held` changes; the per-name index and per-pool counts are rebuilt when it moved. */
  private version = 0;
  private indexed = -1;
  private byName = new Map<string, Held[]>();
  private leasedIn = new Map<string, number>();
  /** Each pool's counts every HISTORY_STEP_MS for the last hour (the dashboard's chart), oldest first. */
  private readonly samples = new Map<string, Array<{ at: number; free: number; leased: number; cooling: number }>>();
  private sampledAt = 0;
  private readonly now: () => number;

  constructor(private readonly opts: LeaseBookOptions) {
    this.now = opts.now ?? Date.now;
    this.forwarder = new Forwarder(opts.maxConnections ?? 100_000, this.events());
  }

  private events(): ForwardEvents {
    return {
      opened: (spec) => { const h = this.held.get(spec.address); if (h) { h.requests++; h.dirty = true; } },
      bytes: (spec, _t, i, o) => { const h = this.held.get(spec.address); if (h) { h.bytes += i + o; h.dirty = true; } },
      closed: () => {}, refused: () => {}, connected: () => {},
    };
  }

  /** Take the configuration's pools, servers and names (leases of names no longer configured run out as usual). */
  async configure(config: Config): Promise<void> {
    this.pools = new Map();
    for (const p of config.addressPools) {
      const a = poolAddresses(p);
      if (!a.ok) continue; // refused by validation before it gets here
      this.pools.set(p.name, {
        name: p.name, addresses: a.addresses,
        rules: { leaseTtl: p.leaseTtl, extendBy: p.extendBy, lowWater: lowWaterOf(p, a.addresses.length), cooldown: p.cooldown, onExhausted: p.onExhausted },
        forward: p.forward.flatMap((f) => (f.protocol === 'both' ? [{ port: f.port, protocol: 'tcp' as const }, { port: f.port, protocol: 'udp' as const }] : [{ port: f.port, protocol: f.protocol }])),
      });
    }
    this.servers = new Map(config.leasedServers.map((s) => [s.name, s.address]));
    this.names = new Map(config.leasedNames.map((n) => [canonical(n.name), { pool: n.pool, servers: n.servers }]));
    await this.bind();
  }

  /** Read the store's leases (at start, and when the store refused a candidate another node took). */
  async load(): Promise<void> {
    const rows = await this.opts.store.loadLeases();
    const next = new Map<string, Held>();
    this.cooling = new Map();
    for (const l of rows) {
      if (l.state === 'cooling') { this.cooling.set(l.address, { pool: l.pool, until: l.coolUntil }); continue; }
      const old = this.held.get(l.address);
      if (old && old.lease.leaseId === l.leaseId) {
        // The same lease: another node may have extended it. Counts stay this node's (each node counts its own).
        old.expiresAt = Math.max(old.expiresAt, l.expiresAt);
        next.set(l.address, old);
      } else next.set(l.address, heldOf(l));
    }
    this.held = next;
    this.version++;
    await this.bind();
  }

  /** L2: the answer for a query of `name` now, or undefined when `name` is not a leased name. */
  async query(name: string): Promise<LeaseAnswer | undefined> {
    const n = this.names.get(canonical(name));
    if (!n) return undefined;
    const pool = this.pools.get(n.pool);
    if (!pool) return { ok: false, reason: `address pool ${n.pool} is not configured` };
    const now = this.now();
    this.reindex();
    const mine = (this.byName.get(canonical(name)) ?? []).filter((h) => h.expiresAt > now);
    const next = serverToLease(n.servers, new Set(mine.map((h) => h.server)), pool.rules, this.freeCount(pool, now));
    if (next !== null) {
      const got = await this.acquire(pool, canonical(name), next, now);
      if (got.ok || mine.length === 0) return got;
    }
    const h = chooseLease(mine)!;
    h.expiresAt = extendedExpiry(pool.rules, h, now, this.freeCount(pool, now));
    h.requestsAtExtension = h.requests;
    h.dirty = true;
    return { ok: true, address: h.address, ttl: answerTtl(h.expiresAt, now), lease: h.lease.leaseId, created: false };
  }

  private async acquire(pool: Pool, name: string, server: string, now: number): Promise<LeaseAnswer> {
    const priv = this.servers.get(server);
    if (priv === undefined) return { ok: false, reason: `server ${server} is not configured` };
    for (let attempt = 0; attempt < 3; attempt++) {
      let free = this.free(pool, now);
      const freeBefore = free.length; // the lease time is that of a pool with this many free (before any reclaim)
      if (free.length === 0) {
        if (!(await this.reclaim(pool, name, now))) return { ok: false, reason: `address pool ${pool.name} is exhausted (onExhausted: ${pool.rules.onExhausted})` };
        free = this.free(pool, now);
      }
      const r = await this.opts.store.acquireLease({ pool: pool.name, candidates: free.slice(0, CANDIDATES), name, server, private: priv, now, ttlMs: grantMs(pool.rules, freeBefore) });
      if (r === null) { await this.load(); continue; } // other nodes took them: read the table again
      const h = this.held.get(r.lease.address) ?? heldOf(r.lease);
      this.held.set(r.lease.address, h);
      this.version++;
      this.cooling.delete(r.lease.address);
      if (r.created) this.opts.log('info', { address: r.lease.address, name, server, private: priv, ttlMs: r.lease.expiresAt - now }, 'address leased');
      await this.bind();
      return { ok: true, address: h.address, ttl: answerTtl(h.expiresAt, now), lease: h.lease.leaseId, created: r.created };
    }
    return { ok: false, reason: `address pool ${pool.name}: every free address was taken by another node meanwhile` };
  }

  /** onExhausted: reclaim-idlest: end the idlest lease of another name (no open connection) so its address is free. */
  private async reclaim(pool: Pool, forName: string, now: number): Promise<boolean> {
    const victim = reclaimable(pool.rules, [...this.held.values()].filter((h) => h.lease.pool === pool.name), forName);
    if (!victim) return false;
    await this.end(victim, now, now, null); // no cooldown: the pool is exhausted, and the lease's TTL was its promise
    this.opts.log('warn', { address: victim.address, name: victim.name, for: forName }, 'address pool exhausted: the idlest lease reclaimed');
    return true;
  }

  /** Addresses of `pool` neither leased nor cooling at `now`, in pool order (a walk of the pool: for acquisitions). */
  private free(pool: Pool, now: number): string[] {
    return pool.addresses.filter((a) => !this.held.has(a) && (this.cooling.get(a)?.until ?? 0) <= now);
  }

  /** How many addresses of `pool` are free at `now`, without walking the pool (every query asks). */
  private freeCount(pool: Pool, now: number): number {
    this.reindex();
    let cooling = 0;
    for (const [a, c] of this.cooling) {
      if (c.until <= now) this.cooling.delete(a);
      else if (c.pool === pool.name) cooling++;
    }
    return pool.addresses.length - (this.leasedIn.get(pool.name) ?? 0) - cooling;
  }

  private reindex(): void {
    if (this.indexed === this.version) return;
    this.byName = new Map();
    this.leasedIn = new Map();
    for (const h of this.held.values()) {
      const list = this.byName.get(h.name);
      if (list) list.push(h);
      else this.byName.set(h.name, [h]);
      this.leasedIn.set(h.lease.pool, (this.leasedIn.get(h.lease.pool) ?? 0) + 1);
    }
    this.indexed = this.version;
  }

  /** L3: expire what is due (or keep it, for open connections) and write counts and expiries in one batch. */
  async tick(): Promise<void> {
    const now = this.now();
    if (now - this.sampledAt >= HISTORY_STEP_MS) this.sample(now);
    for (const h of [...this.held.values()]) {
      h.open = this.forwarder.table.count({ cluster: h.address });
      if (h.expiresAt > now - EXPIRY_GRACE_MS) continue; // its answers ended at expiresAt; the address waits a little more
      const pool = this.pools.get(h.lease.pool);
      const due = pool ? onExpiry(pool.rules, h, now) : (h.expiresAt <= now ? { keep: false as const, coolUntil: now } : null);
      if (due === null) continue;
      if (due.keep) { h.expiresAt = due.expiresAt; h.dirty = true; continue; }
      // Another node may have extended it (its write lands within a tick): the store ends it only if it agrees.
      if (await this.end(h, now, due.coolUntil, now - EXPIRY_GRACE_MS)) this.opts.log('info', { address: h.address, name: h.name, server: h.server }, 'lease expired: address returned');
      else await this.load();
    }
    const dirty = [...this.held.values()].filter((h) => h.dirty);
    if (dirty.length === 0) return;
    for (const h of dirty) h.dirty = false;
    let lost: number[];
    try {
      lost = await this.opts.store.updateLeases(dirty.map((h) => ({ address: h.address, leaseId: h.lease.leaseId, expiresAt: h.expiresAt, requests: h.requests, bytes: h.bytes, open: h.open })));
    } catch (e) {
      for (const h of dirty) h.dirty = true; // written with the next batch, once the store is back
      throw e;
    }
    if (lost.length > 0) await this.load();
  }

  /** End lease `h` in the store and here; false (nothing changed here) when the store says it runs later. */
  private async end(h: Held, now: number, coolUntil: number, ifExpiredBy: number | null): Promise<boolean> {
    if (!(await this.opts.store.releaseLease({ address: h.address, leaseId: h.lease.leaseId, at: now, coolUntil, ifExpiredBy }))) return false;
    this.held.delete(h.address);
    this.version++;
    if (coolUntil > now) this.cooling.set(h.address, { pool: h.lease.pool, until: coolUntil });
    await this.bind(); // the binding goes with the lease: its open connections are reset
    for (const id of this.forwarder.table.ids({ cluster: h.address })) this.forwarder.table.close(id, true);
    return true;
  }

  /** The forwarder serves exactly the leases in force: each public address's forwarded ports to its server. */
  private async bind(): Promise<void> {
    const specs: ServiceSpec[] = [];
    for (const h of this.held.values()) {
      const pool = this.pools.get(h.lease.pool);
      for (const f of pool?.forward ?? []) {
        const target = { key: `${h.lease.private}:${f.port}`, address: h.lease.private, port: f.port };
        specs.push({ id: `${h.address}:${f.port}/${f.protocol}`, name: `lease ${h.address}`, protocol: f.protocol, address: h.address, port: f.port, idleMs: f.protocol === 'tcp' ? 900_000 : 300_000, choose: () => target });
      }
    }
    for (const f of await this.forwarder.apply(specs)) this.opts.log('error', { service: f.id }, f.error);
  }

  /** Every lease in force and cooling, as `waymark leases` shows them. */
  list(): Array<AddressLease & { ttl: number }> {
    const now = this.now();
    return [...this.held.values()].map((h) => ({ ...h.lease, expiresAt: h.expiresAt, requests: h.requests, bytes: h.bytes, open: this.forwarder.table.count({ cluster: h.address }), ttl: answerTtl(h.expiresAt, now) }));
  }

  private sample(now: number): void {
    this.sampledAt = now;
    for (const c of this.counts()) {
      let ring = this.samples.get(c.pool);
      if (!ring) { ring = []; this.samples.set(c.pool, ring); }
      ring.push({ at: now, free: c.free, leased: c.leased, cooling: c.cooling });
      if (ring.length > HISTORY_STEPS) ring.shift();
    }
  }

  /** Each pool's free, leased and cooling counts over the last hour, one sample per HISTORY_STEP_MS. */
  history(): { step: number; pools: Record<string, Array<{ at: number; free: number; leased: number; cooling: number }>> } {
    return { step: HISTORY_STEP_MS / 1000, pools: Object.fromEntries(this.samples) };
  }

  /** Free, leased and cooling addresses of each pool now. */
  counts(): Array<{ pool: string; free: number; leased: number; cooling: number }> {
    const now = this.now();
    return [...this.pools.values()].map((p) => {
      const leased = p.addresses.filter((a) => this.held.has(a)).length;
      const cooling = p.addresses.filter((a) => !this.held.has(a) && (this.cooling.get(a)?.until ?? 0) > now).length;
      return { pool: p.name, free: p.addresses.length - leased - cooling, leased, cooling };
    });
  }

  async close(): Promise<void> {
    await this.forwarder.close();
  }
}

function heldOf(l: AddressLease): Held {
  return { lease: l, address: l.address, name: l.name, server: l.server, leasedAt: l.leasedAt, expiresAt: l.expiresAt, requests: l.requests, requestsAtExtension: l.requests, open: l.open, bytes: l.bytes, dirty: false };
}
