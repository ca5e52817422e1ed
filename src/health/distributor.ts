// The prober distributor (SPEC H3; seed 002's Heartbeat Distribution Server): probers join, report and leave over a
// signed HTTP API; each check target gets `replicas` probers (primary, then backups) by rendezvous hashing within each
// prober's capacity; rebalancing follows joins, leaves, drains and missed heartbeats. Owns: who checks what.
// Never judges up/down (results go to onReport as they come) and never accepts an unsigned or replayed message.
import { createHash } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { CheckTarget } from './targets.js';
import { Prober, type ProbeReport } from './prober.js';
import { NONCE_HEADER, RESPONSE_METHOD, Verifier, responsePath, sign } from './signing.js';

export type AssignmentRole = 'primary' | 'backup';
export type ProberState = 'active' | 'draining' | 'dead' | 'full';

/** One target in a prober's list, as the report response carries it. */
export type AssignedTarget = CheckTarget & { role: AssignmentRole };

export interface DistributorOptions {
  token: string;
  replicas: number;
  heartbeatMs?: number;
  deadAfterMs?: number;
  /** Run an in-process Prober as the prober "local" (unlimited capacity). */
  local: boolean;
  onReport: (proberName: string, r: ProbeReport) => void;
  /** One line per event: joined, left, dead, rejoined, draining, drained, rebalanced. */
  onChange?: (event: string) => void;
}

export interface ProberStatus {
  name: string;
  capacity: number;
  assigned: number;
  primaryFor: number;
  state: ProberState;
  lastSeen: number;
}

export const LOCAL_PROBER = 'local';
export const API_PREFIX = '/v1/probers';

/** Most probers known at once (dead ones are forgotten first). */
const MAX_PROBERS = 1000;
/** Most results accepted in one report. */
const MAX_RESULTS_PER_REPORT = 100_000;
const BODY_LIMIT_BYTES = 16 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------------------------
// Assignment: rendezvous (highest-random-weight) hashing within capacities.

export interface ProberSlot {
  name: string;
  /** Most targets (primary or backup) this prober may hold; Infinity for no limit. */
  capacity: number;
}

/** The weight of a (target, prober) pair: 48 bits of SHA-256, the same on every node and across restarts. */
export function rendezvousWeight(targetId: string, proberName: string): number {
  return createHash('sha256').update(targetId).update('\0').update(proberName).digest().readUIntBE(0, 6);
}

/**
 * Owners of each target, primary first. Each target proposes to probers in its rendezvous order, one rank per round;
 * in a round, a prober accepts the proposals that weigh most for it while it has capacity left. Without capacity
 * limits this is plain rendezvous hashing: adding or removing one of n probers moves about replicas/n of the slots,
 * and only to or from that prober. The result does not depend on the order of the inputs.
 */
export function assignTargets(targetIds: readonly string[], probers: readonly ProberSlot[], replicas: number): Map<string, string[]> {
  const owners = new Map<string, string[]>();
  const ids = [...new Set(targetIds)].sort();
  for (const id of ids) owners.set(id, []);
  const slots = [...probers].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const want = Math.min(Math.max(1, replicas), slots.length);
  if (want === 0) return owners;
  const left = slots.map((p) => p.capacity);
  // Each target's probers by descending weight (ties by name, already sorted).
  const ranked: Array<{ id: string; order: number[]; weights: number[]; next: number }> = ids.map((id) => {
    const weights = slots.map((p) => rendezvousWeight(id, p.name));
    const order = slots.map((_, i) => i).sort((a, b) => weights[b]! - weights[a]! || a - b);
    return { id, order, weights, next: 0 };
  });
  let pending = ranked;
  for (let round = 0; round < slots.length && pending.length > 0; round++) {
    const proposals: Array<Array<{ t: (typeof ranked)[number]; w: number }>> = slots.map(() => []);
    for (const t of pending) {
      const p = t.order[t.next++]!;
      proposals[p]!.push({ t, w: t.weights[p]! });
    }
    proposals.forEach((list, p) => {
      list.sort((a, b) => b.w - a.w || (a.t.id < b.t.id ? -1 : 1));
      for (const { t } of list) {
        if (left[p]! <= 0) break;
        left[p]!--;
        owners.get(t.id)!.push(slots[p]!.name);
      }
    });
    pending = pending.filter((t) => owners.get(t.id)!.length < want && t.next < slots.length);
  }
  return owners;
}

// ---------------------------------------------------------------------------------------------------------------
// Request bodies.

const proberName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,62}$/, { message: 'use up to 63 letters, digits, "_", ".", ":", "@" and "-"' });
const joinBody = z.object({ name: proberName, capacity: z.number().int().min(1).max(10_000_000) });
const agentReport = z.object({
  state: z.enum(['up', 'down', 'drain']).optional(),
  weightPercent: z.number().finite().min(0).max(100_000).optional(),
  load: z.number().finite().optional(),
  conns: z.number().finite().optional(),
  cpu: z.number().finite().optional(),
});
const probeReport = z.object({
  targetId: z.string().min(1).max(1000),
  ok: z.boolean(),
  rttMs: z.number().finite().min(0),
  detail: z.string().max(10_000),
  agent: agentReport.optional(),
  at: z.number().finite().min(0),
});
const reportBody = z.object({
  name: proberName,
  /** Checked one by one: a malformed result is skipped, not the whole report. */
  results: z.array(z.unknown()).max(MAX_RESULTS_PER_REPORT).default([]),
  draining: z.boolean().optional(),
  /** The list version the prober already has; when current, the response leaves `assignments` out. */
  version: z.number().int().optional(),
});
const leaveBody = z.object({ name: proberName });

// ---------------------------------------------------------------------------------------------------------------

interface ProberEntry {
  name: string;
  capacity: number;
  local: boolean;
  state: 'active' | 'draining' | 'dead';
  lastSeen: number;
  /** Targets this prober owns in the current assignment. */
  owned: Map<string, AssignmentRole>;
  /** While draining: moved targets it keeps probing until their new owners have reported (target → since). */
  keeping: Map<string, number>;
  /** Targets it lost recently: its results for them are still accepted until the time given. */
  released: Map<string, number>;
  version: number;
  listKey: string;
  drainedAnnounced: boolean;
  deadSince: number;
}

type Handler = (body: unknown, now: number) => { status: number; body: object };

export class Distributor {
  readonly #opts: DistributorOptions;
  readonly #heartbeatMs: number;
  readonly #deadAfterMs: number;
  readonly #verifier: Verifier;
  readonly #probers = new Map<string, ProberEntry>();
  readonly #targets = new Map<string, CheckTarget>();
  /** Serialised targets, to notice a changed spec on reload. */
  readonly #targetKeys = new Map<string, string>();
  #targetsGeneration = 0;
  /** target → owners, primary first. */
  #assignment = new Map<string, string[]>();
  /** target → prober → when the distributor last received a result (epoch ms). */
  readonly #lastResult = new Map<string, Map<string, number>>();
  #versionCounter = Date.now();
  readonly #localProber: Prober | null = null;
  #app: FastifyInstance | null = null;
  #address: { host: string; port: number } | null = null;
  readonly #sweep: NodeJS.Timeout;
  #closed = false;

  constructor(opts: DistributorOptions) {
    this.#opts = opts;
    this.#heartbeatMs = Math.max(10, opts.heartbeatMs ?? 1000);
    this.#deadAfterMs = Math.max(this.#heartbeatMs, opts.deadAfterMs ?? 3 * this.#heartbeatMs);
    this.#verifier = new Verifier(opts.token);
    if (opts.local) {
      this.#localProber = new Prober({ onResult: (r) => this.#accept(LOCAL_PROBER, r, Date.now()) });
      this.#probers.set(LOCAL_PROBER, this.#entry(LOCAL_PROBER, Infinity, true, Date.now()));
    }
    this.#sweep = setInterval(() => this.#checkHeartbeats(Date.now()), Math.max(5, Math.floor(this.#heartbeatMs / 4)));
    this.#sweep.unref();
  }

  get heartbeatMs(): number {
    return this.#heartbeatMs;
  }

  /** Where the HTTP API listens (after listen()). */
  get address(): { host: string; port: number } | null {
    return this.#address;
  }

  /** The check targets from configuration: on start and on every reload. */
  setTargets(targets: readonly CheckTarget[]): void {
    const next = new Map<string, CheckTarget>();
    for (const t of targets) next.set(t.id, t);
    let changed = next.size !== this.#targets.size;
    for (const id of [...this.#targets.keys()]) {
      if (next.has(id)) continue;
      this.#targets.delete(id);
      this.#targetKeys.delete(id);
      this.#lastResult.delete(id);
      changed = true;
    }
    for (const [id, t] of next) {
      const key = JSON.stringify(t);
      if (this.#targetKeys.get(id) !== key) changed = true;
      this.#targets.set(id, t);
      this.#targetKeys.set(id, key);
    }
    if (changed) this.#targetsGeneration++;
    this.#rebalance('targets changed', Date.now());
  }

  /** Serve the prober API (only when external probers are configured). */
  async listen(host: string, port: number): Promise<void> {
    if (this.#app) throw new Error('the distributor is already listening');
    const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT_BYTES, return503OnClosing: true });
    // Bodies are verified as the exact bytes signed, so they are kept as text and parsed after verification.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    const route = (path: string, handler: Handler): void => {
      app.post(`${API_PREFIX}${path}`, async (req, reply) => this.#handle(req, reply, handler));
    };
    route('/join', (b, now) => this.#join(b, now));
    route('/report', (b, now) => this.#report(b, now));
    route('/leave', (b, now) => this.#leave(b, now));
    app.setNotFoundHandler(async (req, reply) => this.#reply(req, reply, 404, { error: 'not found' }));
    app.setErrorHandler(async (err: { statusCode?: number; message?: string }, req, reply) => {
      const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
      return this.#reply(req, reply, status, { error: status === 500 ? 'internal error' : (err.message ?? 'bad request') });
    });
    try {
      await app.listen({ host, port });
    } catch (e) {
      await app.close();
      throw e;
    }
    const a = app.server.address();
    this.#address = a && typeof a === 'object' ? { host: a.address, port: a.port } : { host, port };
    this.#app = app;
  }

  /** Operator: move a prober's targets to others; it keeps probing them until their new owners have reported. */
  drain(name: string): boolean {
    const e = this.#probers.get(name);
    if (!e || e.state !== 'active') return false;
    this.#startDrain(e, 'operator', Date.now());
    return true;
  }

  status(): ProberStatus[] {
    const now = Date.now();
    return [...this.#probers.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((e) => {
      let primaryFor = 0;
      for (const role of e.owned.values()) if (role === 'primary') primaryFor++;
      const state: ProberState = e.state !== 'active' ? e.state : e.owned.size >= e.capacity ? 'full' : 'active';
      return { name: e.name, capacity: e.capacity, assigned: e.owned.size + e.keeping.size, primaryFor, state, lastSeen: e.local ? now : e.lastSeen };
    });
  }

  assignmentsOf(name: string): Array<{ targetId: string; role: AssignmentRole }> {
    const e = this.#probers.get(name);
    return e ? this.#list(e).map((a) => ({ targetId: a.id, role: a.role })) : [];
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweep);
    const app = this.#app;
    this.#app = null;
    await Promise.all([app?.close(), this.#localProber?.stop()]);
  }

  // -------------------------------------------------------------------------------------------------------------
  // HTTP

  async #handle(req: FastifyRequest, reply: FastifyReply, handler: Handler): Promise<FastifyReply> {
    const now = Date.now();
    const raw = typeof req.body === 'string' ? req.body : '';
    const verdict = this.#verifier.verify(req.method, req.url, raw, req.headers, now);
    if (!verdict.ok) return this.#reply(req, reply, 401, { error: 'unauthorized', reason: verdict.reason });
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return this.#reply(req, reply, 400, { error: 'body is not JSON' });
    }
    const out = handler(body, now);
    return this.#reply(req, reply, out.status, out.body);
  }

  /** Every response is signed, bound to the request's nonce. */
  #reply(req: FastifyRequest, reply: FastifyReply, status: number, body: object): FastifyReply {
    const text = JSON.stringify(body);
    const nonce = req.headers[NONCE_HEADER];
    const path = responsePath(req.url, typeof nonce === 'string' ? nonce : '');
    return reply.code(status).headers({ ...sign(this.#opts.token, RESPONSE_METHOD, path, text), 'content-type': 'application/json; charset=utf-8' }).send(text);
  }

  #join(raw: unknown, now: number): { status: number; body: object } {
    const parsed = joinBody.safeParse(raw);
    if (!parsed.success) return { status: 400, body: { error: describe(parsed.error) } };
    const { name, capacity } = parsed.data;
    if (this.#opts.local && name === LOCAL_PROBER) return { status: 409, body: { error: `the name "${LOCAL_PROBER}" belongs to the built-in prober` } };
    let e = this.#probers.get(name);
    if (!e) {
      if (this.#probers.size >= MAX_PROBERS) this.#forgetDead(now, true);
      if (this.#probers.size >= MAX_PROBERS) return { status: 503, body: { error: `too many probers (${MAX_PROBERS})` } };
      e = this.#entry(name, capacity, false, now);
      this.#probers.set(name, e);
    } else {
      // A prober that joins again starts afresh: active, with the capacity it declares now.
      e.capacity = capacity;
      e.state = 'active';
      e.lastSeen = now;
      e.keeping.clear();
      e.drainedAnnounced = false;
    }
    this.#event(`joined ${name} (capacity ${capacity})`);
    this.#rebalance(`${name} joined`, now);
    return { status: 200, body: { heartbeatMs: this.#heartbeatMs, deadAfterMs: this.#deadAfterMs } };
  }

  #report(raw: unknown, now: number): { status: number; body: object } {
    const parsed = reportBody.safeParse(raw);
    if (!parsed.success) return { status: 400, body: { error: describe(parsed.error) } };
    const { name, results, draining, version } = parsed.data;
    const e = this.#probers.get(name);
    if (!e || e.local) return { status: 404, body: { error: `unknown prober "${name}"; join first`, rejoin: true } };
    e.lastSeen = now;
    if (e.state === 'dead') {
      e.state = 'active';
      e.drainedAnnounced = false;
      this.#event(`rejoined ${name}`);
      this.#rebalance(`${name} rejoined`, now);
    }
    for (const raw of results) {
      const r = probeReport.safeParse(raw);
      if (r.success) this.#accept(name, r.data, now);
    }
    if (draining && e.state === 'active') this.#startDrain(e, 'prober asked', now);
    else if (this.#progressHandoffs(now)) this.#publish();
    const body: { version: number; assignments?: AssignedTarget[] } = { version: e.version };
    if (version !== e.version) {
      body.assignments = this.#list(e).map((a) => ({ ...this.#targets.get(a.id)!, role: a.role }));
    }
    return { status: 200, body };
  }

  #leave(raw: unknown, now: number): { status: number; body: object } {
    const parsed = leaveBody.safeParse(raw);
    if (!parsed.success) return { status: 400, body: { error: describe(parsed.error) } };
    const e = this.#probers.get(parsed.data.name);
    if (!e || e.local) return { status: 200, body: { ok: true } };
    this.#remove(e);
    this.#event(`left ${e.name}`);
    this.#rebalance(`${e.name} left`, now);
    return { status: 200, body: { ok: true } };
  }

  // -------------------------------------------------------------------------------------------------------------
  // State

  #entry(name: string, capacity: number, local: boolean, now: number): ProberEntry {
    return {
      name, capacity, local, state: 'active', lastSeen: now, owned: new Map(), keeping: new Map(), released: new Map(),
      version: 0, listKey: '', drainedAnnounced: false, deadSince: 0,
    };
  }

  #remove(e: ProberEntry): void {
    this.#probers.delete(e.name);
    for (const m of this.#lastResult.values()) m.delete(e.name);
  }

  #event(line: string): void {
    try { this.#opts.onChange?.(line); } catch { /* a logger's failure must not change state */ }
  }

  /** A result from a prober: passed on only for targets it holds (or released moments ago). */
  #accept(name: string, r: ProbeReport, now: number): void {
    const e = this.#probers.get(name);
    if (!e || !this.#targets.has(r.targetId)) return;
    if (!e.owned.has(r.targetId) && !e.keeping.has(r.targetId)) {
      const until = e.released.get(r.targetId);
      if (until === undefined || until < now) return;
    }
    let byProber = this.#lastResult.get(r.targetId);
    if (!byProber) this.#lastResult.set(r.targetId, (byProber = new Map()));
    byProber.set(name, now);
    const report: ProbeReport = { targetId: r.targetId, ok: r.ok, rttMs: r.rttMs, detail: r.detail, at: r.at };
    if (r.agent) report.agent = r.agent;
    try { this.#opts.onReport(name, report); } catch { /* the consumer's failure must not stop the distributor */ }
  }

  #startDrain(e: ProberEntry, why: string, now: number): void {
    e.state = 'draining';
    e.drainedAnnounced = false;
    this.#event(`draining ${e.name} (${why})`);
    this.#rebalance(`${e.name} draining`, now);
  }

  #checkHeartbeats(now: number): void {
    let changed = false;
    for (const e of this.#probers.values()) {
      if (e.local || e.state === 'dead') continue;
      if (now - e.lastSeen <= this.#deadAfterMs) continue;
      e.state = 'dead';
      e.deadSince = now;
      e.keeping.clear();
      e.released.clear();
      this.#event(`dead ${e.name} (no report for ${now - e.lastSeen} ms)`);
      changed = true;
    }
    if (changed) this.#rebalance('missed heartbeats', now);
    this.#forgetDead(now, false);
  }

  /** Dead probers stay listed for a while (status shows them), then are forgotten; all of them when room is needed. */
  #forgetDead(now: number, all: boolean): void {
    const keepMs = Math.max(60_000, 10 * this.#deadAfterMs);
    for (const e of [...this.#probers.values()]) {
      if (e.state === 'dead' && (all || now - e.deadSince > keepMs)) this.#remove(e);
    }
  }

  #rebalance(why: string, now: number): void {
    if (this.#closed) return;
    const eligible: ProberSlot[] = [];
    for (const e of this.#probers.values()) if (e.state === 'active') eligible.push({ name: e.name, capacity: e.local ? Infinity : e.capacity });
    const next = assignTargets([...this.#targets.keys()], eligible, this.#opts.replicas);
    let moved = 0;
    let unassigned = 0;
    for (const [id, owners] of next) {
      const before = this.#assignment.get(id);
      if (!before || before.join('\0') !== owners.join('\0')) moved++;
      if (owners.length === 0) unassigned++;
    }
    const releaseUntil = now + 3 * this.#heartbeatMs;
    for (const e of this.#probers.values()) {
      const owned = new Map<string, AssignmentRole>();
      for (const [id, owners] of next) {
        const i = owners.indexOf(e.name);
        if (i >= 0) owned.set(id, i === 0 ? 'primary' : 'backup');
      }
      for (const id of e.owned.keys()) {
        if (owned.has(id) || !this.#targets.has(id)) continue;
        // A draining prober keeps what it loses until the new owners have reported; others stop at once.
        if (e.state === 'draining') { if (!e.keeping.has(id)) e.keeping.set(id, now); }
        else if (e.state !== 'dead') e.released.set(id, releaseUntil);
      }
      for (const id of e.keeping.keys()) if (owned.has(id) || !this.#targets.has(id)) e.keeping.delete(id);
      for (const [id, until] of e.released) if (until < now || owned.has(id)) e.released.delete(id);
      e.owned = e.state === 'dead' ? new Map() : owned;
    }
    this.#assignment = next;
    if (moved > 0) {
      this.#event(`rebalanced (${why}): ${next.size} targets on ${eligible.length} probers, ${moved} changed, ${unassigned} unassigned`);
    }
    this.#progressHandoffs(now);
    this.#publish();
  }

  /** Release kept targets whose owners have all reported since the hand-off began. Returns whether any list changed. */
  #progressHandoffs(now: number): boolean {
    let changed = false;
    for (const e of this.#probers.values()) {
      if (e.state !== 'draining') continue;
      for (const [id, since] of e.keeping) {
        const owners = this.#assignment.get(id) ?? [];
        if (owners.length === 0) continue; // nobody else can take it: keep probing
        const seen = this.#lastResult.get(id);
        if (!owners.every((o) => (seen?.get(o) ?? -1) > since)) continue;
        e.keeping.delete(id);
        e.released.set(id, now + 3 * this.#heartbeatMs);
        changed = true;
      }
      if (e.keeping.size === 0 && e.owned.size === 0 && !e.drainedAnnounced) {
        e.drainedAnnounced = true;
        this.#event(`drained ${e.name}`);
      }
    }
    return changed;
  }

  /** A prober's list: owned targets (primary first by role) then the ones it keeps during a hand-off. */
  #list(e: ProberEntry): Array<{ id: string; role: AssignmentRole }> {
    const out: Array<{ id: string; role: AssignmentRole }> = [];
    for (const [id, role] of e.owned) out.push({ id, role });
    for (const id of e.keeping.keys()) if (!e.owned.has(id)) out.push({ id, role: 'backup' });
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** New versions for the lists that changed; the local prober applies its list at once. */
  #publish(): void {
    for (const e of this.#probers.values()) {
      const list = this.#list(e);
      const h = createHash('sha256').update(String(this.#targetsGeneration));
      for (const a of list) h.update(`\n${a.id}\t${a.role}`);
      const key = h.digest('hex');
      if (key === e.listKey) continue;
      e.listKey = key;
      e.version = ++this.#versionCounter;
      if (e.local && this.#localProber) this.#localProber.assign(list.map((a) => this.#targets.get(a.id)!));
    }
  }
}

function describe(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`).join('; ');
}
