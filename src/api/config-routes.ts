// Configuration through the REST API (SPEC C1/C2): the whole declarative configuration, and create/read/replace/
// delete for each section (zones and their records, names, pools and their members, monitors, topology, resolver
// groups). Every write edits a copy of the current revision and proposes it as a new one; the proposal is validated
// exactly like a YAML file (zod + full compile, every bad field named), committed with its audit entry, then put in
// force on every worker before the reply. If-Match gives optimistic concurrency (stale → 412). Reads take only the
// section they list from the current revision (a zone list reads no records) and answer one page at a time.
// Owns: the mapping from URLs to parts of the declarative configuration. Never writes the store except by proposing.
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import { memberKey } from '../answer/compile.js';
import type { Declarative } from '../config/declarative.js';
import type { ConfigError } from '../config/schema.js';
import { Lazy, linesOf } from '../state/content.js';
import { HttpError, errorsMessage, etag, fieldErrors, parseIfMatch } from './http.js';
import { commentQuery, errorResponse, ifMatchHeader, listOf, ref, stringParams, AUTH_ERRORS, WRITE_ERRORS, type JsonSchema } from './schemas.js';
import { actorOf, redactConfig, type ApiContext } from './context.js';
import { decodeCursor, fingerprint, limitOf, matchesQ, nextCursor, pageOf, pageParams, resumeAt, type PageQuery } from './paging.js';

type Obj = Record<string, unknown>;

/** The result of applying one change to a copy of the configuration. */
interface Edit {
  action: string;
  target: string;
  before: unknown;
  after: unknown;
  /** The reply body, or a function of the new revision id giving it. */
  result: unknown;
  status?: 200 | 201;
  /** Config path of the object edited (to translate error paths); e.g. "pools[2]". */
  prefix?: string;
}

/**
 * Config-object bodies are validated by the configuration's own validator (zod and the compiler, through
 * Revisions.propose) so the API reports every bad field with the same paths and messages as a YAML file; their
 * JSON schemas document them. Parameters of these routes are plain strings.
 */
const byProposal = (): ((data: unknown) => boolean) => () => true;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bodyObject(req: FastifyRequest): Obj {
  if (!isObj(req.body)) throw new HttpError(400, 'the body must be a JSON object', [{ path: '(body)', field: '', message: 'must be an object' }]);
  return req.body;
}

function listIn(d: Declarative, key: string): unknown[] {
  const v = d[key];
  if (!Array.isArray(v)) {
    const arr: unknown[] = [];
    d[key] = arr;
    return arr;
  }
  return v;
}

/** DNS names compare without case and trailing dot. */
export function canonicalDnsName(s: string): string {
  return s.trim().toLowerCase().replace(/\.$/, '');
}

/** The revision the next change is based on: the newest in the store (the truth, even before it is in force here). */
async function baseOf(ctx: ApiContext): Promise<{ id: number; config: Declarative }> {
  const cur = await ctx.revisions.current();
  return cur ? { id: cur.id, config: cur.config } : { id: 0, config: ctx.sup.declarative() };
}

/** Zones sent through the API carry their records; a `file:` would make the server read a path of the client's choosing. */
function zoneProblems(z: unknown, at: string): ConfigError[] {
  if (!isObj(z)) return [];
  const out: ConfigError[] = [];
  if (z.file !== undefined) out.push({ path: `${at}.file`, message: 'zone files cannot be named through the API: send the zone as text (master-file format) or records' });
  if (z.origin === undefined) out.push({ path: `${at}.origin`, message: 'is required through the API' });
  return out;
}

/**
 * A copy of a configuration to edit: objects and arrays copied, strings shared (a string cannot change, and a zone's
 * text may be a whole master file: structuredClone would copy it, and every hash and encoding memo keyed by it would
 * miss).
 */
function editableCopy<T>(v: T): T {
  if (Array.isArray(v)) return v.map(editableCopy) as T;
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) {
      const x = editableCopy((v as Record<string, unknown>)[k]);
      if (k === '__proto__') Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
      else out[k] = x;
    }
    return out as T;
  }
  return v;
}

/**
 * The configuration to edit: its top-level object and lists copied, their entries shared with the current revision
 * (an edit replaces the entry it changes with an editableCopy: see poolOf, zoneOf). So the proposal shares every
 * entry it leaves alone, and is compiled as an edit of the configuration in force (config/edit.ts), not in full.
 */
function editableRoot(d: Declarative): Declarative {
  const out: Declarative = {};
  for (const k of Object.keys(d)) {
    const v = d[k];
    const x = Array.isArray(v) ? v.slice() : v;
    if (k === '__proto__') Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
    else out[k] = x;
  }
  return out;
}

/** Propose `mutate`'s change as a new revision; reply with the result and the new ETag. */
export function commit(ctx: ApiContext, req: FastifyRequest, reply: FastifyReply, mutate: (d: Declarative) => Edit): Promise<FastifyReply> {
  // One change at a time per node: a second request reads the base the first one committed (across nodes, the
  // store's check of the base answers 409 instead).
  return ctx.writes.run(() => commitNow(ctx, req, reply, mutate));
}

async function commitNow(ctx: ApiContext, req: FastifyRequest, reply: FastifyReply, mutate: (d: Declarative) => Edit): Promise<FastifyReply> {
  const ifMatch = parseIfMatch(req.headers['if-match']);
  const base = await baseOf(ctx);
  if (ifMatch !== undefined && ifMatch !== base.id) {
    reply.header('ETag', etag(base.id));
    throw new HttpError(412, `the configuration changed: current revision is ${base.id}, not ${ifMatch}; read it again and retry`, undefined, { revision: base.id });
  }
  const next = editableRoot(base.config);
  const edit = mutate(next);
  const actor = actorOf(req);
  const comment = typeof (req.query as Obj | undefined)?.comment === 'string' ? String((req.query as Obj).comment) : `${edit.action} ${edit.target}`;
  const r = await ctx.revisions.propose(next, {
    author: actor.name, origin: actor.origin, source: 'api', comment, ifMatch: ifMatch ?? base.id,
    action: edit.action, target: edit.target, before: edit.before, after: edit.after,
  });
  if (!r.ok) {
    if (r.status === 409) {
      // Another process committed between our read and our write.
      const cur = (await ctx.revisions.currentMeta())?.id ?? 0;
      reply.header('ETag', etag(cur));
      throw new HttpError(ifMatch !== undefined ? 412 : 409, r.errors[0]?.message ?? 'the configuration changed; retry', undefined, { revision: cur });
    }
    const errors = fieldErrors(r.errors, edit.prefix);
    throw new HttpError(r.status, r.status === 400 ? errorsMessage('the configuration would have errors', errors) : r.errors[0]?.message ?? 'not found', errors);
  }
  if (r.changed) {
    const inForce = await ctx.sup.revisionCommitted({ revision: r.revision.id, valid: r.valid });
    if (!inForce.ok) {
      ctx.log.error({ revision: r.revision.id, errors: inForce.errors }, 'committed revision could not be put in force');
      throw new HttpError(500, `revision ${r.revision.id} was committed but could not be put in force`, fieldErrors(inForce.errors));
    }
    ctx.log.info({ revision: r.revision.id, actor: actor.name, action: edit.action, target: edit.target }, 'configuration changed through the API');
  }
  const result = typeof edit.result === 'function' ? (edit.result as (revision: number) => unknown)(r.revision.id) : edit.result;
  return reply.code(edit.status ?? 200).header('ETag', etag(r.revision.id)).send(result);
}

/**
 * One section of the current revision, and that revision's id (the ETag of the read). Large nested parts (a zone's
 * records) may be Lazy; the value is shared with other reads: never change it.
 */
async function sectionOf(ctx: ApiContext, key: string): Promise<{ id: number; value: unknown }> {
  const cur = await ctx.revisions.currentMeta();
  if (!cur) return { id: 0, value: ctx.sup.declarative()[key] };
  return { id: cur.id, value: await ctx.revisions.section(cur.id, key) };
}

/** A section's elements (an absent or malformed section has none). */
function itemsOf(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

/** A read of one section: the value picked from it and the ETag of the revision it comes from. */
async function read(ctx: ApiContext, reply: FastifyReply, key: string, pick: (section: unknown, revision: number) => unknown): Promise<FastifyReply> {
  const { id, value } = await sectionOf(ctx, key);
  return reply.header('ETag', etag(id)).send(await pick(value, id));
}

interface Section {
  /** URL segment and declarative key ("pools", "resolver-groups" → resolverGroups). */
  url: string;
  key: string;
  param: string;
  schema: string;
  /** Action prefix in the audit log ("pool" → pool.create, pool.update, pool.delete). */
  noun: string;
  /** The identity of an element (normalised), or undefined when it has none. */
  idOf(o: unknown): string | undefined;
  normalise(id: string): string;
  /** The identity field in the object. */
  idField: string;
  problems?(o: unknown, at: string): ConfigError[];
}

const named = (o: unknown): string | undefined => (isObj(o) && typeof o.name === 'string' ? o.name : undefined);

const SECTIONS: Section[] = [
  { url: 'zones', key: 'zones', param: 'origin', schema: 'Zone', noun: 'zone', idField: 'origin', normalise: canonicalDnsName, problems: zoneProblems,
    idOf: (o) => (isObj(o) && typeof o.origin === 'string' ? canonicalDnsName(o.origin) : undefined) },
  { url: 'names', key: 'names', param: 'name', schema: 'Name', noun: 'name', idField: 'name', normalise: canonicalDnsName,
    idOf: (o) => { const n = named(o); return n === undefined ? undefined : canonicalDnsName(n); } },
  { url: 'pools', key: 'pools', param: 'pool', schema: 'Pool', noun: 'pool', idField: 'name', normalise: (s) => s, idOf: named },
  { url: 'monitors', key: 'monitors', param: 'monitor', schema: 'Monitor', noun: 'monitor', idField: 'name', normalise: (s) => s, idOf: named },
  { url: 'resolver-groups', key: 'resolverGroups', param: 'group', schema: 'ResolverGroup', noun: 'resolver-group', idField: 'name', normalise: (s) => s, idOf: named },
];

function findIn(s: Section, arr: readonly unknown[], id: string): number {
  const want = s.normalise(id);
  return arr.findIndex((o) => s.idOf(o) === want);
}

function notFound(s: Section, id: string): HttpError {
  return new HttpError(404, `no ${s.noun} "${id}"`);
}

/** What the list of a section is filtered by (besides paging). */
interface ListQuery extends PageQuery { q?: string; name?: string[]; unused?: boolean; view?: 'full' | 'summary' }

function listQuery(s: Section): JsonSchema {
  const extra: Record<string, JsonSchema> = {};
  if (s.key === 'pools') extra.unused = { type: 'boolean', description: 'only pools that no name lists' };
  if (s.key === 'zones') extra.view = { type: 'string', enum: ['full', 'summary'], description: 'summary: each zone without its records and text, with recordCount and textLines (default full)' };
  return {
    type: 'object', additionalProperties: false,
    properties: {
      ...pageParams(),
      q: { type: 'string', description: `only ${s.url} whose ${s.idField} contains this (case-insensitive)` },
      name: { type: 'array', items: { type: 'string' }, description: `only these ${s.url} (by ${s.idField}; repeat the parameter for several)` },
      ...extra,
    },
  };
}

/** The pools some name lists, per names section (a section is one object per revision content: cached with it). */
const usedPoolsCache = new WeakMap<object, Set<string>>();
function usedPools(names: readonly unknown[]): Set<string> {
  let used = usedPoolsCache.get(names);
  if (!used) {
    used = new Set(names.flatMap((n) => (isObj(n) && Array.isArray(n.pools) ? n.pools.filter((p): p is string => typeof p === 'string') : [])));
    usedPoolsCache.set(names, used);
  }
  return used;
}

/** The elements of a section a list query asks for, in configuration order. */
async function filtered(ctx: ApiContext, s: Section, items: readonly unknown[], q: ListQuery, revision: number): Promise<readonly unknown[]> {
  const names = q.name ? new Set(q.name.map((n) => s.normalise(n))) : null;
  const unused = s.key === 'pools' && q.unused ? usedPools(itemsOf(revision === 0 ? ctx.sup.declarative().names : await ctx.revisions.section(revision, 'names'))) : null;
  if (!names && !unused && !q.q) return items;
  return items.filter((o) => {
    const id = s.idOf(o);
    return matchesQ(q.q, id) && (!names || (id !== undefined && names.has(id))) && (!unused || id === undefined || !unused.has(id));
  });
}

/** A zone as view=summary lists it: no records or text, only how many there are. */
function zoneSummary(ctx: ApiContext, z: unknown): unknown {
  if (!isObj(z)) return z;
  const { records, text, ...rest } = z;
  const textLines = text instanceof Lazy ? text.count : typeof text === 'string' ? [...linesOf(text)].length : undefined;
  return { ...rest, recordCount: ctx.revisions.reader.length(records), ...(textLines !== undefined ? { textLines } : {}) };
}

/** Errors found before proposing (API-only rules), reported like validation errors. */
function precheck(problems: ConfigError[], prefix: string): void {
  if (problems.length === 0) return;
  const errors = fieldErrors(problems, prefix);
  throw new HttpError(400, errorsMessage('the configuration would have errors', errors), errors);
}

function sectionRoutes(app: FastifyInstance, ctx: ApiContext, s: Section): void {
  const tags = ['configuration'];
  const base = `/v1/${s.url}`;
  const one = `${base}/:${s.param}`;
  const writeSchema = (summary: string, extra: FastifySchema): FastifySchema => ({ tags, summary, description: `${summary}. Role: admin.`, headers: ifMatchHeader, querystring: commentQuery, ...extra });

  const listItems = s.key === 'zones' ? { anyOf: [ref('Zone'), ref('ZoneSummary')] } : ref(s.schema);
  app.get<{ Querystring: ListQuery }>(base, {
    config: { role: 'read' },
    schema: {
      tags, summary: `List ${s.url}, a page at a time`, description: `Role: read. ETag: the revision read. In configuration order; \`limit\` per page (default 100, at most 1000), then \`cursor=\` the \`next\` of the reply.`,
      querystring: listQuery(s), response: { 200: { ...listOf(s.key, s.schema), properties: { ...(listOf(s.key, s.schema).properties as object), [s.key]: { type: 'array', items: listItems } } }, ...AUTH_ERRORS, 400: errorResponse('a bad parameter or cursor') },
    },
  }, async (req, reply) => read(ctx, reply, s.key, async (section, revision) => {
    const items = await filtered(ctx, s, itemsOf(section), req.query, revision);
    const page = pageOf(items, (o) => s.idOf(o) ?? fingerprint(o), req.query);
    const shown = s.key === 'zones' && req.query.view === 'summary' ? page.items.map((z) => zoneSummary(ctx, z)) : page.items;
    return { revision, [s.key]: shown, total: page.total, next: page.next };
  }));

  app.get<{ Params: Record<string, string> }>(one, {
    config: { role: 'read' },
    schema: { tags, summary: `Get one ${s.noun}`, description: 'Role: read.', params: stringParams(s.param), response: { 200: ref(s.schema), ...AUTH_ERRORS, 404: errorResponse('no such object') } },
  }, async (req, reply) => read(ctx, reply, s.key, (section) => {
    const arr = itemsOf(section);
    const i = findIn(s, arr, req.params[s.param]!);
    if (i < 0) throw notFound(s, req.params[s.param]!);
    return arr[i];
  }));

  app.post(base, {
    config: { role: 'admin' },
    validatorCompiler: byProposal,
    schema: writeSchema(`Create a ${s.noun}`, { body: ref(s.schema), response: { 201: ref(s.schema), ...WRITE_ERRORS } }),
  }, async (req, reply) => {
    const body = bodyObject(req);
    return commit(ctx, req, reply, (d) => {
      const arr = listIn(d, s.key);
      const id = s.idOf(body);
      const prefix = `${s.key}[${arr.length}]`;
      precheck(s.problems?.(body, prefix) ?? [], prefix);
      if (id !== undefined && findIn(s, arr, id) >= 0) throw new HttpError(409, `${s.noun} "${id}" exists already: replace it with PUT ${base}/${encodeURIComponent(id)}`);
      arr.push(body);
      return { action: `${s.noun}.create`, target: `${s.url}/${id ?? '(new)'}`, before: null, after: body, result: body, status: 201, prefix };
    });
  });

  app.put<{ Params: Record<string, string> }>(one, {
    config: { role: 'admin' },
    validatorCompiler: byProposal,
    schema: writeSchema(`Replace a ${s.noun}`, { params: stringParams(s.param), body: ref(s.schema), response: { 200: ref(s.schema), ...WRITE_ERRORS } }),
  }, async (req, reply) => {
    const sent = bodyObject(req);
    const id = req.params[s.param]!;
    return commit(ctx, req, reply, (d) => {
      const arr = listIn(d, s.key);
      const i = findIn(s, arr, id);
      if (i < 0) throw notFound(s, id);
      const prefix = `${s.key}[${i}]`;
      // The identity may be left out of the body: the URL names it (kept first, where YAML has it).
      const body = sent[s.idField] === undefined ? { [s.idField]: (arr[i] as Obj)[s.idField], ...sent } : sent;
      if (s.idOf(body) !== s.normalise(id)) {
        throw new HttpError(400, `the body's ${s.idField} must be "${id}" (the one in the URL); to rename, create the new one and delete the old`, [{ path: `${prefix}.${s.idField}`, field: s.idField, message: `must be "${id}"` }]);
      }
      precheck(s.problems?.(body, prefix) ?? [], prefix);
      const before = arr[i];
      arr[i] = body;
      return { action: `${s.noun}.update`, target: `${s.url}/${s.idOf(body)}`, before, after: body, result: body, prefix };
    });
  });

  app.delete<{ Params: Record<string, string> }>(one, {
    config: { role: 'admin' },
    validatorCompiler: byProposal,
    schema: writeSchema(`Delete a ${s.noun}`, { params: stringParams(s.param), response: { 200: { type: 'object', properties: { deleted: ref(s.schema) } }, ...WRITE_ERRORS } }),
  }, async (req, reply) => {
    const id = req.params[s.param]!;
    return commit(ctx, req, reply, (d) => {
      const arr = listIn(d, s.key);
      const i = findIn(s, arr, id);
      if (i < 0) throw notFound(s, id);
      const [before] = arr.splice(i, 1);
      return { action: `${s.noun}.delete`, target: `${s.url}/${s.idOf(before)}`, before, after: null, result: { deleted: before } };
    });
  });
}

function memberRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const tags = ['configuration'];
  const base = '/v1/pools/:pool/members';
  const one = `${base}/:member`;
  const poolOf = (d: Declarative, name: string): { pool: Obj; index: number; members: unknown[] } => {
    const pools = listIn(d, 'pools');
    const index = pools.findIndex((p) => named(p) === name);
    if (index < 0) throw new HttpError(404, `no pool "${name}"`);
    const pool = editableCopy(pools[index]) as Obj; // the revision's own entry is shared: never edited in place
    pools[index] = pool;
    if (!Array.isArray(pool.members)) pool.members = [];
    return { pool, index, members: pool.members as unknown[] };
  };
  const keyOf = (m: unknown): string | undefined => (isObj(m) && typeof m.address === 'string' ? memberKey({ address: m.address, port: typeof m.port === 'number' ? m.port : undefined }) : undefined);
  const findMember = (members: unknown[], pool: string, key: string): number => {
    const i = members.findIndex((m) => keyOf(m) === key);
    if (i < 0) throw new HttpError(404, `pool "${pool}" has no member "${key}" (members: ${members.map(keyOf).join(', ') || 'none'})`);
    return i;
  };
  const params = stringParams('pool', 'member');
  const writeSchema = (summary: string, extra: FastifySchema): FastifySchema => ({ tags, summary, description: `${summary}. Members are named "address" or "address:port" ("[v6]:port"). Role: admin.`, headers: ifMatchHeader, querystring: commentQuery, ...extra });

  app.get<{ Params: { pool: string }; Querystring: PageQuery & { q?: string } }>(base, {
    config: { role: 'read' },
    schema: {
      tags, summary: 'List the members of a pool, a page at a time', description: 'Role: read. `q`: only members whose id ("address" or "address:port") contains it.', params: stringParams('pool'),
      querystring: { type: 'object', additionalProperties: false, properties: { ...pageParams(), q: { type: 'string' } } },
      response: { 200: listOf('members', 'Member'), ...AUTH_ERRORS, 400: errorResponse('a bad parameter or cursor'), 404: errorResponse('no such object') },
    },
  }, async (req, reply) => read(ctx, reply, 'pools', (section, revision) => {
    const pool = itemsOf(section).find((p) => named(p) === req.params.pool);
    if (!isObj(pool)) throw new HttpError(404, `no pool "${req.params.pool}"`);
    const all = pool.members instanceof Lazy ? [...ctx.revisions.reader.iterate(pool.members)] : itemsOf(pool.members);
    const members = req.query.q ? all.filter((m) => matchesQ(req.query.q, keyOf(m))) : all;
    const page = pageOf(members, (m) => keyOf(m) ?? fingerprint(m), req.query);
    return { revision, members: page.items, total: page.total, next: page.next };
  }));

  app.post<{ Params: { pool: string } }>(base, {
    config: { role: 'admin' },
    validatorCompiler: byProposal,
    schema: writeSchema('Add a member to a pool', { params: stringParams('pool'), body: ref('Member'), response: { 201: ref('Member'), ...WRITE_ERRORS } }),
  }, async (req, reply) => {
    const body = bodyObject(req);
    return commit(ctx, req, reply, (d) => {
      const { pool, index, members } = poolOf(d, req.params.pool);
      const key = keyOf(body);
      if (key !== undefined && members.some((m) => keyOf(m) === key)) throw new HttpError(409, `pool "${req.params.pool}" already has member "${key}"`);
      const before = structuredClone(pool);
      members.push(body);
      return {
        action: 'pool.member.create', target: `pools/${req.params.pool}/members/${key ?? '(new)'}`, before, after: pool,
        result: body, status: 201, prefix: `pools[${index}].members[${members.length - 1}]`,
      };
    });
  });

  app.put<{ Params: { pool: string; member: string } }>(one, {
    config: { role: 'admin' },
    validatorCompiler: byProposal,
    schema: writeSchema('Replace a member', { params, body: ref('Member'), response: { 200: ref('Member'), ...WRITE_ERRORS } }),
  }, async (req, reply) => {
    const body = bodyObject(req);
    return commit(ctx, req, reply, (d) => {
      const { pool, index, members } = poolOf(d, req.params.pool);
      const j = findMember(members, req.params.pool, req.params.member);
      const before = structuredClone(pool);
      members[j] = body;
      return {
        action: 'pool.member.update', target: `pools/${req.params.pool}/members/${req.params.member}`, before, after: pool,
        result: body, prefix: `pools[${index}].members[${j}]`,
      };
    });
  });

  app.delete<{ Params: { pool: string; member: string } }>(one, {
    config: { role: 'admin' },
    validatorCompiler: byProposal,
    schema: writeSchema('Remove a member from a pool', { params, response: { 200: { type: 'object', properties: { deleted: ref('Member') } }, ...WRITE_ERRORS } }),
  }, async (req, reply) => {
    return commit(ctx, req, reply, (d) => {
      const { pool, members } = poolOf(d, req.params.pool);
      const j = findMember(members, req.params.pool, req.params.member);
      const before = structuredClone(pool);
      const [deleted] = members.splice(j, 1);
      return { action: 'pool.member.delete', target: `pools/${req.params.pool}/members/${req.params.member}`, before, after: pool, result: { deleted } };
    });
  });
}

/** Owners in a zone compare after making them absolute: "www", "www.example.test." and "WWW.example.test" are one. */
function absoluteOwner(name: string, origin: string): string {
  const n = name.trim();
  if (n === '@') return canonicalDnsName(origin);
  if (n.endsWith('.')) return canonicalDnsName(n);
  return canonicalDnsName(`${n}.${canonicalDnsName(origin)}`);
}

interface RecordQuery extends PageQuery { name?: string; type?: string; q?: string }

/** How far from its old position a cursor's record is looked for (records move only by writes around them). */
const RECORD_RESUME_WINDOW = 4096;

/**
 * A page of a zone's records with each one's index. Unfiltered, only the chunks holding the page are read; with
 * filters the records after the cursor are read until the page is full (no total then: it would read them all).
 */
function recordsPage(ctx: ApiContext, zone: Obj, q: RecordQuery): { records: unknown[]; indexes: number[]; next: string | null; total?: number } {
  const reader = ctx.revisions.reader;
  const records = zone.records;
  const length = reader.length(records);
  const limit = limitOf(q.limit);
  const at = (i: number): unknown => reader.slice(records, i, i + 1)[0];
  const start = resumeAt(decodeCursor(q.cursor), length, (i) => fingerprint(at(i)), RECORD_RESUME_WINDOW);
  const origin = String(zone.origin);
  const owner = q.name !== undefined ? absoluteOwner(q.name, origin) : undefined;
  const type = q.type?.toUpperCase();
  if (owner === undefined && type === undefined && !q.q) {
    const page = reader.slice(records, start, start + limit);
    const end = start + page.length;
    return { records: page, indexes: page.map((_, i) => start + i), next: nextCursor(end, length, page.length ? fingerprint(page[page.length - 1]) : undefined), total: length };
  }
  const matches = (r: unknown): boolean => isObj(r) && typeof r.name === 'string' && typeof r.type === 'string'
    && (owner === undefined || absoluteOwner(r.name, origin) === owner) && (type === undefined || r.type.toUpperCase() === type)
    && matchesQ(q.q, absoluteOwner(r.name, origin));
  const found: unknown[] = [];
  const indexes: number[] = [];
  let i = 0;
  for (const r of reader.iterate(records)) {
    if (i >= start && matches(r)) {
      if (found.length === limit) return { records: found, indexes, next: nextCursor(indexes[limit - 1]! + 1, length, fingerprint(found[limit - 1])) };
      found.push(r);
      indexes.push(i);
    }
    i++;
  }
  return { records: found, indexes, next: null };
}

function recordRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const tags = ['configuration'];
  const base = '/v1/zones/:origin/records';
  const zoneOf = (d: Declarative, origin: string): { zone: Obj; index: number; records: unknown[] } => {
    const zones = listIn(d, 'zones');
    const index = zones.findIndex((z) => isObj(z) && typeof z.origin === 'string' && canonicalDnsName(z.origin) === canonicalDnsName(origin));
    if (index < 0) throw new HttpError(404, `no zone "${origin}"`);
    const zone = editableCopy(zones[index]) as Obj; // the revision's own entry is shared: never edited in place
    zones[index] = zone;
    if (!Array.isArray(zone.records)) zone.records = [];
    return { zone, index, records: zone.records as unknown[] };
  };
  const writeSchema = (summary: string, extra: FastifySchema): FastifySchema => ({
    tags, summary, description: `${summary}. Works on the zone's inline \`records\` list (records in its master-file \`text\` are changed by replacing the zone). Role: admin.`,
    headers: ifMatchHeader, ...extra,
  });

  app.get<{ Params: { origin: string }; Querystring: RecordQuery }>(base, {
    config: { role: 'read' },
    schema: {
      tags, summary: "List a zone's inline records, a page at a time",
      description: 'Role: read. `indexes[i]` is the index of `records[i]` in the zone, what DELETE …/records/{index} takes. `name`: one owner (relative or absolute), `type`: one type, `q`: owners containing it. `total` is given without filters.',
      params: stringParams('origin'),
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { ...pageParams(), name: { type: 'string', description: 'owner, relative or absolute' }, type: { type: 'string' }, q: { type: 'string', description: 'owners (absolute, lower case) containing this' } },
      },
      response: { 200: listOf('records', 'Record', { indexes: { type: 'array', items: { type: 'integer' }, description: "each record's index in the zone" } }), ...AUTH_ERRORS, 400: errorResponse('a bad parameter or cursor'), 404: errorResponse('no such object') },
    },
  }, async (req, reply) => read(ctx, reply, 'zones', (section, revision) => {
    const zone = itemsOf(section).find((z) => isObj(z) && typeof z.origin === 'string' && canonicalDnsName(z.origin) === canonicalDnsName(req.params.origin));
    if (!isObj(zone)) throw new HttpError(404, `no zone "${req.params.origin}"`);
    return { revision, ...recordsPage(ctx, zone, req.query) };
  }));

  app.post<{ Params: { origin: string } }>(base, {
    config: { role: 'admin' },
    validatorCompiler: byProposal,
    schema: writeSchema('Add a record to a zone', { params: stringParams('origin'), querystring: commentQuery, body: ref('Record'), response: { 201: ref('Record'), ...WRITE_ERRORS } }),
  }, async (req, reply) => {
    const body = bodyObject(req);
    return commit(ctx, req, reply, (d) => {
      const { zone, index, records } = zoneOf(d, req.params.origin);
      const before = structuredClone(records);
      records.push(body);
      return {
        action: 'zone.record.create', target: `zones/${canonicalDnsName(String(zone.origin))}/records`, before, after: records,
        result: body, status: 201, prefix: `zones[${index}].records[${records.length - 1}]`,
      };
    });
  });

  app.delete<{ Params: { origin: string; index: string } }>(`${base}/:index`, {
    config: { role: 'admin' },
    validatorCompiler: byProposal,
    schema: writeSchema('Delete a record by its index', { params: stringParams('origin', 'index'), querystring: commentQuery, response: { 200: { type: 'object', properties: { deleted: { type: 'array', items: ref('Record') } } }, ...WRITE_ERRORS } }),
  }, async (req, reply) => {
    const i = Number(req.params.index);
    return commit(ctx, req, reply, (d) => {
      const { zone, records } = zoneOf(d, req.params.origin);
      if (!Number.isInteger(i) || i < 0 || i >= records.length) throw new HttpError(404, `zone "${req.params.origin}" has no record ${req.params.index} (it has ${records.length}; send If-Match so an index cannot point to a record that moved)`);
      const before = structuredClone(records);
      const deleted = records.splice(i, 1);
      return { action: 'zone.record.delete', target: `zones/${canonicalDnsName(String(zone.origin))}/records`, before, after: records, result: { deleted } };
    });
  });

  app.delete<{ Params: { origin: string }; Querystring: { name?: string; type?: string; comment?: string } }>(base, {
    config: { role: 'admin' },
    validatorCompiler: byProposal,
    schema: writeSchema('Delete the records of an owner name and type', {
      params: stringParams('origin'),
      querystring: { type: 'object', properties: { name: { type: 'string', description: 'owner, relative or absolute' }, type: { type: 'string' }, comment: { type: 'string' } }, required: ['name', 'type'] },
      response: { 200: { type: 'object', properties: { deleted: { type: 'array', items: ref('Record') } } }, ...WRITE_ERRORS },
    }),
  }, async (req, reply) => {
    const { name, type } = req.query;
    if (!name || !type) throw new HttpError(400, 'give name and type', [{ path: 'querystring', message: 'name and type are required' }]);
    return commit(ctx, req, reply, (d) => {
      const { zone, records } = zoneOf(d, req.params.origin);
      const origin = String(zone.origin);
      const owner = absoluteOwner(name, origin);
      const matches = (r: unknown): boolean => isObj(r) && typeof r.name === 'string' && typeof r.type === 'string' && absoluteOwner(r.name, origin) === owner && r.type.toUpperCase() === type.toUpperCase();
      const deleted = records.filter(matches);
      if (deleted.length === 0) throw new HttpError(404, `zone "${req.params.origin}" has no inline ${type.toUpperCase()} record at ${name}`);
      const before = structuredClone(records);
      zone.records = records.filter((r) => !matches(r));
      return { action: 'zone.record.delete', target: `zones/${canonicalDnsName(origin)}/records`, before, after: zone.records, result: { deleted } };
    });
  });
}

function wholeConfigRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const tags = ['configuration'];
  const withRevision = { type: 'object', properties: { revision: { type: 'integer' }, config: ref('Declarative') } };
  app.get('/v1/config', {
    config: { role: 'read' },
    schema: { tags, summary: 'The declarative configuration in force', description: 'Role: read (secrets such as the prober token are shown to admins only). ETag: the revision.', response: { 200: withRevision, ...AUTH_ERRORS } },
  }, async (req, reply) => {
    const base = await baseOf(ctx);
    return reply.header('ETag', etag(base.id)).send({ revision: base.id, config: redactConfig(base.config, actorOf(req).role) });
  });

  app.put('/v1/config', {
    config: { role: 'admin' },
    validatorCompiler: byProposal,
    schema: { tags, summary: 'Replace the whole declarative configuration', description: 'Role: admin. The bootstrap sections (server, api, store, node, keys) stay in the YAML file.', headers: ifMatchHeader, querystring: commentQuery, body: ref('Declarative'), response: { 200: withRevision, ...WRITE_ERRORS } },
  }, async (req, reply) => {
    const body = bodyObject(req);
    const problems: ConfigError[] = [];
    for (const k of ['server', 'api', 'store']) if (k in body) problems.push({ path: k, message: 'is a bootstrap section: it is set in the YAML file only' });
    if (Array.isArray(body.zones)) body.zones.forEach((z, i) => problems.push(...zoneProblems(z, `zones[${i}]`)));
    precheck(problems, '');
    return commit(ctx, req, reply, (d) => {
      for (const k of Object.keys(d)) delete d[k];
      Object.assign(d, body);
      // Before and after are whole configurations: the audit entry points to the two revisions instead of copying them.
      return { action: 'config.replace', target: 'config', before: undefined, after: undefined, result: (revision: number) => ({ revision, config: body }) };
    });
  });

  app.get('/v1/topology', {
    config: { role: 'read' },
    schema: { tags, summary: 'Topology regions and rules', description: 'Role: read.', response: { 200: ref('Topology'), ...AUTH_ERRORS } },
  }, async (_req, reply) => read(ctx, reply, 'topology', (t) => (isObj(t) ? t : { regions: [], rules: [] })));

  app.put('/v1/topology', {
    config: { role: 'admin' },
    validatorCompiler: byProposal,
    schema: { tags, summary: 'Replace topology regions and rules', description: 'Role: admin.', headers: ifMatchHeader, querystring: commentQuery, body: ref('Topology'), response: { 200: ref('Topology'), ...WRITE_ERRORS } },
  }, async (req, reply) => {
    const body = bodyObject(req);
    return commit(ctx, req, reply, (d) => {
      const before = d.topology ?? null;
      d.topology = body;
      return { action: 'topology.update', target: 'topology', before, after: body, result: body, prefix: 'topology' };
    });
  });
}

export function configRoutes(app: FastifyInstance, ctx: ApiContext): void {
  wholeConfigRoutes(app, ctx);
  for (const s of SECTIONS) sectionRoutes(app, ctx, s);
  memberRoutes(app, ctx);
  recordRoutes(app, ctx);
}
