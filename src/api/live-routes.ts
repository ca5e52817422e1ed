// Operations through the REST API (SPEC C1, G7, H2, H3, G5): member admin state, live health with history, probers,
// persistence records, decision explain, configuration revisions (diff, rollback), status, tokens and the audit log.
// Owns: reading the supervisor's live state for people. Every change it makes is audited; it never edits the
// declarative configuration (config-routes.ts does).
import { hostname } from 'node:os';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { memberKey } from '../answer/compile.js';
import { ExplainError } from '../answer/explain.js';
import type { PersistRecord } from '../answer/persistence.js';
import { parseAddress } from '../net/address.js';
import type { AdminRecord, RevisionMeta } from '../state/store.js';
import { newToken } from './auth.js';
import { actorOf, redactConfig, type ApiContext } from './context.js';
import { HttpError, etag, fieldErrors, parseIfMatch } from './http.js';
import { canonicalDnsName } from './config-routes.js';
import { AUTH_ERRORS, ERR, auditEntry, explanation, memberHealth, persistRecord, revisionMeta, stringParams, tokenView, ifMatchHeader } from './schemas.js';
import { PAGE_FIELDS, decodeCursor, encodeCursor, limitOf, matchesQ, pageOf, pageParams, type PageQuery } from './paging.js';

const ADMIN_STATES = ['up', 'down', 'drain', 'auto'] as const;

/** The id a cursor of an id-ordered list (revisions, audit) continues below. */
function beforeOf(cursor: string | undefined, before: number | undefined): number | undefined {
  const c = decodeCursor(cursor);
  if (!c) return before;
  if (!/^\d{1,15}$/.test(c.k)) throw new HttpError(400, 'cursor is not one of this list: pass the `next` of its previous page', [{ path: 'querystring.cursor', field: 'cursor', message: 'is not a cursor of this list' }]);
  return Number(c.k);
}

/** A page of an id-ordered list read with one row more than asked: the rows to show and the next page's cursor. */
function idPage<T extends { id: number }>(rows: T[], limit: number): { rows: T[]; next: string | null } {
  const shown = rows.slice(0, limit);
  return { rows: shown, next: rows.length > limit ? encodeCursor({ i: 0, k: String(shown[shown.length - 1]!.id) }) : null };
}

function memberStateRoute(app: FastifyInstance, ctx: ApiContext): void {
  app.put<{ Params: { pool: string; member: string }; Body: { state: AdminRecord['state'] } }>('/v1/pools/:pool/members/:member/state', {
    config: { role: 'operator' },
    schema: {
      tags: ['operations'], summary: "Set a member's admin state",
      description: 'Role: operator. up forces the member into answers whatever its monitors say, down takes it out, drain takes no new resolvers but keeps those persisting on it, auto returns it to its monitors. Kept in the store across restarts; every worker has it within 200 ms.',
      params: stringParams('pool', 'member'),
      body: { type: 'object', properties: { state: { type: 'string', enum: [...ADMIN_STATES] } }, required: ['state'], additionalProperties: false },
      response: { 200: { type: 'object', properties: { pool: { type: 'string' }, member: { type: 'string' }, state: { type: 'string' }, previous: { type: 'string' }, by: { type: 'string' }, at: { type: 'integer' } } }, ...AUTH_ERRORS, 400: ERR, 404: ERR },
    },
  }, async (req) => {
    const { pool, member } = req.params;
    const p = ctx.sup.loaded().config.pools.find((x) => x.name === pool);
    if (!p) throw new HttpError(404, `no pool "${pool}"`);
    if (!p.members.some((m) => memberKey(m) === member)) throw new HttpError(404, `pool "${pool}" has no member "${member}" (members: ${p.members.map(memberKey).join(', ')})`);
    const actor = actorOf(req);
    const previous = (await ctx.store.loadAdmin()).find((a) => a.pool === pool && a.member === member)?.state ?? 'auto';
    const record: AdminRecord = { pool, member, state: req.body.state, by: actor.name, at: Date.now() };
    await ctx.store.setAdmin(record);
    await ctx.store.addAudit({ at: record.at, actor: actor.name, origin: actor.origin, action: 'member.state', target: `pools/${pool}/members/${member}`, before: { state: previous }, after: { state: record.state } });
    await ctx.sup.adminChanged();
    ctx.log.info({ pool, member, state: record.state, previous, actor: actor.name }, 'member admin state set through the API');
    return { ...record, previous };
  });
}

function healthRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const tags = ['operations'];
  app.get<{ Querystring: PageQuery & { pool?: string[]; q?: string } }>('/v1/health', {
    config: { role: 'read' },
    schema: {
      tags, summary: 'Health of the members, a page at a time',
      description: 'Role: read. Monitor verdicts, agent drain and weight, measured metrics, and the operator admin state. `pool` (repeatable): only members of these pools; `q`: members whose id contains it.',
      querystring: { type: 'object', additionalProperties: false, properties: { ...pageParams(), pool: { type: 'array', items: { type: 'string' } }, q: { type: 'string' } } },
      response: { 200: { type: 'object', properties: { members: { type: 'array', items: memberHealth }, ...PAGE_FIELDS } }, ...AUTH_ERRORS, 400: ERR },
    },
  }, async (req) => {
    const pools = req.query.pool ? new Set(req.query.pool) : null;
    const all = ctx.sup.health.health().filter((h) => (!pools || pools.has(h.pool)) && matchesQ(req.query.q, h.member));
    const page = pageOf(all, (h) => `${h.pool}/${h.member}`, req.query);
    const admin = new Map((await ctx.store.loadAdmin()).map((a) => [`${a.pool}/${a.member}`, a]));
    return {
      members: page.items.map((h) => {
        const a = admin.get(`${h.pool}/${h.member}`);
        return { ...h, admin: a?.state ?? 'auto', ...(a ? { adminBy: a.by, adminAt: a.at } : {}) };
      }),
      total: page.total, next: page.next,
    };
  });

  app.get<{ Querystring: { limit?: number; pool?: string } }>('/v1/health/history', {
    config: { role: 'read' },
    schema: {
      tags, summary: 'Recent health verdict changes, newest first', description: 'Role: read.',
      querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 10000 }, pool: { type: 'string' } } },
      response: { 200: { type: 'object', properties: { events: { type: 'array', items: { type: 'object', properties: { at: { type: 'integer' }, pool: { type: 'string' }, member: { type: 'string' }, up: { type: 'boolean' }, detail: { type: 'string' } } } } } }, ...AUTH_ERRORS },
    },
  }, async (req) => {
    const events = [...ctx.sup.health.history()].reverse().filter((e) => req.query.pool === undefined || e.pool === req.query.pool);
    return { events: events.slice(0, limitOf(req.query.limit, 200, 10000)) };
  });

  app.get('/v1/probers', {
    config: { role: 'read' },
    schema: {
      tags, summary: 'Probers and their work', description: 'Role: read. capacity null means unlimited (the built-in prober).',
      response: { 200: { type: 'object', properties: { probers: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, capacity: { type: 'number', nullable: true }, assigned: { type: 'integer' }, primaryFor: { type: 'integer' }, state: { type: 'string' }, lastSeen: { type: 'integer' } } } } } }, ...AUTH_ERRORS },
    },
  }, async () => ({ probers: ctx.sup.health.probers().map((p) => ({ ...p, capacity: Number.isFinite(p.capacity) ? p.capacity : null })) }));

  app.post<{ Params: { name: string } }>('/v1/probers/:name/drain', {
    config: { role: 'operator' },
    schema: { tags, summary: 'Drain a prober', description: 'Role: operator. Its checks move to other probers (with a hand-off) so it can be taken down for maintenance.', params: stringParams('name'), response: { 200: { type: 'object', properties: { name: { type: 'string' }, state: { type: 'string' } } }, ...AUTH_ERRORS, 404: ERR } },
  }, async (req) => {
    const actor = actorOf(req);
    if (!ctx.sup.health.drainProber(req.params.name)) throw new HttpError(404, `no active prober "${req.params.name}"`);
    await ctx.store.addAudit({ at: Date.now(), actor: actor.name, origin: actor.origin, action: 'prober.drain', target: `probers/${req.params.name}`, before: { state: 'active' }, after: { state: 'draining' } });
    return { name: req.params.name, state: 'draining' };
  });
}

/** The persistence records held by the supervisor's mirror (every worker's changes reach it within ~100 ms). */
function persistenceRecords(ctx: ApiContext): PersistRecord[] {
  return ctx.sup.mirror.engine?.records(Date.now()) ?? [];
}

/** What a `resolver` or `key` filter matches: the key text of that resolver (its group or prefix), or the text as given. */
function keyTextFor(ctx: ApiContext, v: string): string {
  const policy = ctx.sup.mirror.snapshot.policy;
  const words = new Uint32Array(4);
  const family = parseAddress(v.trim(), words);
  if (!policy || family === 0) return v.trim();
  return policy.groups.describe(family, words);
}

function persistenceRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const tags = ['operations'];
  const matching = (q: { name?: string; resolver?: string; key?: string; pool?: string; member?: string }): PersistRecord[] => {
    const name = q.name !== undefined ? canonicalDnsName(q.name) : undefined;
    const keyText = q.resolver !== undefined ? keyTextFor(ctx, q.resolver) : q.key !== undefined && !/^\d+$/.test(q.key) ? keyTextFor(ctx, q.key) : undefined;
    const keyNumber = q.key !== undefined && /^\d+$/.test(q.key) ? Number(q.key) : undefined;
    return persistenceRecords(ctx).filter((r) => (name === undefined || canonicalDnsName(r.name) === name)
      && (keyText === undefined || r.keyText === keyText) && (keyNumber === undefined || r.key === keyNumber)
      && (q.pool === undefined || r.pool === q.pool) && (q.member === undefined || r.member === q.member));
  };

  app.get<{ Querystring: { name?: string; resolver?: string; key?: string; pool?: string; member?: string } & PageQuery }>('/v1/persistence', {
    config: { role: 'read' },
    schema: {
      tags, summary: 'Persistence records, most recently used first, a page at a time',
      description: 'Role: read. `resolver` is an address (matched through its resolver group or prefix when grouped); `key` a key text such as group:isp-a or subnet:10.1.0.0/24, or the numeric key. Records are reordered as they are used: a cursor continues after the record its page ended with.',
      querystring: { type: 'object', properties: { name: { type: 'string' }, resolver: { type: 'string' }, key: { type: 'string' }, pool: { type: 'string' }, member: { type: 'string' }, ...pageParams(100000) } },
      response: { 200: { type: 'object', properties: { records: { type: 'array', items: persistRecord }, ...PAGE_FIELDS } }, ...AUTH_ERRORS, 400: ERR },
    },
  }, async (req) => {
    const page = pageOf(matching(req.query), (r) => `${r.key}\u0000${r.name}`, req.query, 100, 100000);
    return { total: page.total, records: page.items.map((r) => ({ ...r, expiresAt: r.ts + r.ttlMs })), next: page.next };
  });

  app.delete<{ Querystring: { name: string; resolver?: string; key?: string } }>('/v1/persistence', {
    config: { role: 'operator' },
    schema: {
      tags, summary: 'Delete persistence records of a name', description: 'Role: operator. With resolver or key: that record; without: every record of the name. The next query balances anew.',
      querystring: { type: 'object', properties: { name: { type: 'string', minLength: 1 }, resolver: { type: 'string' }, key: { type: 'string' } }, required: ['name'] },
      response: { 200: { type: 'object', properties: { deleted: { type: 'integer' }, records: { type: 'array', items: persistRecord } } }, ...AUTH_ERRORS, 400: ERR, 404: ERR },
    },
  }, async (req) => {
    const actor = actorOf(req);
    const found = matching(req.query);
    if (found.length === 0) throw new HttpError(404, `no persistence record for ${req.query.name}${req.query.resolver ?? req.query.key ? ` and ${req.query.resolver ?? req.query.key}` : ''}`);
    const now = Date.now();
    const deletions = found.map((r) => ({ ...r, ttlMs: 0, ts: Math.max(now, r.ts) }));
    // Durable before the reply; then every worker and the mirror drop them.
    await ctx.store.savePersistence(deletions);
    ctx.sup.persistenceChanged(deletions);
    await ctx.store.addAudit({ at: now, actor: actor.name, origin: actor.origin, action: 'persistence.delete', target: `persistence/${canonicalDnsName(req.query.name)}`, before: found, after: null });
    return { deleted: found.length, records: found };
  });
}

function explainRoute(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Querystring: { name: string; resolver: string; subnet?: string; type?: 'A' | 'AAAA' } }>('/v1/explain', {
    config: { role: 'read' },
    schema: {
      tags: ['operations'], summary: 'What would NAME return to a resolver (and client subnet), and why',
      description: 'Role: read. The same code path as `waymark explain`: a real DNS message through the parser, lookup, answer engine and encoder, with a trace, run by a worker over a copy of its live state (health, admin states, rotation and ratio counters, stripe marks, persistence records): what its next query would get. Changes nothing.',
      querystring: { type: 'object', properties: { name: { type: 'string', minLength: 1 }, resolver: { type: 'string', minLength: 1 }, subnet: { type: 'string' }, type: { type: 'string', enum: ['A', 'AAAA'] } }, required: ['name', 'resolver'] },
      response: { 200: explanation, ...AUTH_ERRORS, 400: ERR, 503: ERR },
    },
  }, async (req) => {
    const q = req.query;
    // A worker explains over a copy of its own live state (counters included): what its next query would get.
    try {
      return await ctx.sup.explain({ name: q.name, type: q.type ?? 'A', resolver: q.resolver, subnet: q.subnet });
    } catch (e) {
      if (e instanceof ExplainError) throw new HttpError(400, e.message.replace(/^--/, ''));
      // No worker ready yet, or it did not answer in time: the server is there but cannot say now.
      throw new HttpError(503, (e as Error).message);
    }
  });
}

function revisionRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const tags = ['revisions'];
  const idParam = { type: 'object', properties: { id: { type: 'integer', minimum: 1 } }, required: ['id'] };
  const currentId = async (): Promise<number> => (await ctx.revisions.currentMeta())?.id ?? 0;

  app.get<{ Querystring: PageQuery & { before?: number; q?: string; source?: RevisionMeta['source'] } }>('/v1/revisions', {
    config: { role: 'read' },
    schema: {
      tags, summary: 'Configuration revisions, newest first, a page at a time', description: 'Role: read. `limit` per page (default 50), then `cursor=` the `next` of the reply (before=ID also works). `q`: author or comment contains it; `source`: one kind.',
      querystring: { type: 'object', properties: { ...pageParams(1000, 50), before: { type: 'integer', minimum: 1 }, q: { type: 'string' }, source: { type: 'string', enum: ['file', 'api', 'rollback', 'apply', 'update'] } } },
      response: { 200: { type: 'object', properties: { current: { type: 'integer' }, revisions: { type: 'array', items: revisionMeta }, ...PAGE_FIELDS } }, ...AUTH_ERRORS, 400: ERR },
    },
  }, async (req, reply) => {
    const cur = await currentId();
    reply.header('ETag', etag(cur));
    const limit = limitOf(req.query.limit, 50);
    const filter = { q: req.query.q, source: req.query.source };
    const page = idPage(await ctx.revisions.list(limit + 1, beforeOf(req.query.cursor, req.query.before), filter), limit);
    return { current: cur, revisions: page.rows.map((r) => ({ ...r, current: r.id === cur })), total: await ctx.revisions.count(filter), next: page.next };
  });

  app.get<{ Params: { id: number } }>('/v1/revisions/:id', {
    config: { role: 'read' },
    schema: {
      tags, summary: 'One revision with its configuration', description: 'Role: read.', params: idParam,
      response: { 200: { type: 'object', properties: { ...(revisionMeta.properties as object), config: { $ref: 'Declarative#' } } }, ...AUTH_ERRORS, 404: ERR },
    },
  }, async (req) => {
    const r = await ctx.revisions.get(req.params.id);
    if (!r) throw new HttpError(404, `no revision ${req.params.id}`);
    return { ...r, current: r.id === await currentId(), config: redactConfig(r.config, actorOf(req).role) };
  });

  app.get<{ Params: { id: number }; Querystring: { against?: number } }>('/v1/revisions/:id/diff', {
    config: { role: 'read' },
    schema: {
      tags, summary: 'What revision ID changed, as a line diff of the YAML', description: 'Role: read. Lines starting "- " are only in `against` (default: the revision before ID), "+ " only in ID.',
      params: idParam, querystring: { type: 'object', properties: { against: { type: 'integer', minimum: 1 } } },
      response: { 200: { description: 'unified-style line diff', content: { 'text/plain': { schema: { type: 'string' } } } }, ...AUTH_ERRORS, 404: ERR },
    },
  }, async (req, reply) => {
    const role = actorOf(req).role;
    const to = await ctx.revisions.meta(req.params.id);
    if (!to) throw new HttpError(404, `no revision ${req.params.id}`);
    const againstId = req.query.against ?? (await ctx.revisions.list(1, to.id))[0]?.id ?? null;
    if (againstId !== null && !(await ctx.revisions.meta(againstId))) throw new HttpError(404, `no revision ${againstId}`);
    // Only the parts that differ are read; a reader below admin sees the prober token redacted on both sides.
    const redacted = role === 'admin' ? undefined : { health: (h: unknown) => redactConfig({ health: h }, role).health };
    const body = await ctx.revisions.diff(againstId, to.id, { sections: redacted }) ?? '';
    reply.header('content-type', 'text/plain; charset=utf-8');
    return `--- revision ${againstId ?? '(none)'}\n+++ revision ${to.id}\n${body}\n`;
  });

  app.post<{ Params: { id: number } }>('/v1/revisions/:id/rollback', {
    config: { role: 'admin' },
    schema: {
      tags, summary: 'Roll back to revision ID', description: 'Role: admin. Makes a new revision equal to ID and puts it in force. Honours If-Match (stale → 412).',
      params: idParam, headers: ifMatchHeader,
      response: { 200: { type: 'object', properties: { changed: { type: 'boolean' }, revision: revisionMeta } }, ...AUTH_ERRORS, 404: ERR, 409: ERR, 412: ERR },
    },
  }, async (req, reply) => ctx.writes.run(async () => {
    const actor = actorOf(req);
    const ifMatch = parseIfMatch(req.headers['if-match']);
    const cur = await currentId();
    if (ifMatch !== undefined && ifMatch !== cur) {
      reply.header('ETag', etag(cur));
      throw new HttpError(412, `the configuration changed: current revision is ${cur}, not ${ifMatch}; read it again and retry`, undefined, { revision: cur });
    }
    const r = await ctx.revisions.rollback(req.params.id, actor.name, actor.origin, ifMatch ?? cur);
    if (!r.ok) {
      if (r.status === 409) throw new HttpError(ifMatch !== undefined ? 412 : 409, r.errors[0]?.message ?? 'the configuration changed; retry', undefined, { revision: await currentId() });
      throw new HttpError(r.status, r.errors[0]?.message ?? 'rollback failed', fieldErrors(r.errors));
    }
    if (r.changed) {
      const inForce = await ctx.sup.revisionCommitted({ revision: r.revision.id, valid: r.valid });
      if (!inForce.ok) throw new HttpError(500, `revision ${r.revision.id} was committed but could not be put in force`, fieldErrors(inForce.errors));
      ctx.log.info({ revision: r.revision.id, to: req.params.id, actor: actor.name }, 'rolled back through the API');
    }
    const { config: _config, ...meta } = r.revision;
    reply.header('ETag', etag(r.revision.id));
    return { changed: r.changed, revision: { ...meta, current: true } };
  }));
}

function tokenRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const tags = ['tokens'];
  const view = (t: { id: number; name: string; role: string; createdAt: number; createdBy: string; revokedAt: number | null }): object => ({ id: t.id, name: t.name, role: t.role, createdAt: t.createdAt, createdBy: t.createdBy, revokedAt: t.revokedAt });

  app.post<{ Body: { name: string; role: 'read' | 'operator' | 'admin' } }>('/v1/tokens', {
    config: { role: 'admin' },
    schema: {
      tags, summary: 'Create an API token', description: 'Role: admin. The token is in this response only; the store keeps its SHA-256.',
      body: { type: 'object', properties: { name: { type: 'string', minLength: 1, maxLength: 100 }, role: { type: 'string', enum: ['read', 'operator', 'admin'] } }, required: ['name', 'role'], additionalProperties: false },
      response: { 201: { type: 'object', properties: { ...(tokenView.properties as object), token: { type: 'string', description: 'shown once' } } }, ...AUTH_ERRORS, 400: ERR },
    },
  }, async (req, reply) => {
    const actor = actorOf(req);
    const { token, hash } = newToken();
    const t = await ctx.store.addToken({ name: req.body.name, role: req.body.role, hash, createdAt: Date.now(), createdBy: actor.name });
    await ctx.store.addAudit({ at: t.createdAt, actor: actor.name, origin: actor.origin, action: 'token.create', target: `tokens/${t.id}`, before: null, after: view(t) });
    return reply.code(201).send({ ...view(t), token });
  });

  app.get('/v1/tokens', {
    config: { role: 'admin' },
    schema: { tags, summary: 'List API tokens (never their values)', description: 'Role: admin.', response: { 200: { type: 'object', properties: { tokens: { type: 'array', items: tokenView } } }, ...AUTH_ERRORS } },
  }, async () => ({ tokens: (await ctx.store.listTokens()).map(view) }));

  app.delete<{ Params: { id: number } }>('/v1/tokens/:id', {
    config: { role: 'admin' },
    schema: { tags, summary: 'Revoke an API token', description: 'Role: admin. Requests with it are refused from now on.', params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } }, required: ['id'] }, response: { 200: tokenView, ...AUTH_ERRORS, 404: ERR } },
  }, async (req) => {
    const actor = actorOf(req);
    const now = Date.now();
    if (!await ctx.store.revokeToken(req.params.id, now)) throw new HttpError(404, `no active token ${req.params.id}`);
    const t = (await ctx.store.listTokens()).find((x) => x.id === req.params.id)!;
    await ctx.store.addAudit({ at: now, actor: actor.name, origin: actor.origin, action: 'token.revoke', target: `tokens/${t.id}`, before: { ...view(t), revokedAt: null }, after: view(t) });
    return view(t);
  });
}

function auditRoute(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Querystring: PageQuery & { before?: number; target?: string; q?: string; action?: string; actor?: string } }>('/v1/audit', {
    config: { role: 'read' },
    schema: {
      tags: ['audit'], summary: 'The audit log, newest first, a page at a time',
      description: 'Role: read. Every change: who (token name), when, what, before and after. `limit` per page (default 100), then `cursor=` the `next` of the reply (before=ID also works). `target` (e.g. pools/eu), `action` and `actor` match exactly; `q` is a substring of any of them. `total` is given without `q`.',
      querystring: { type: 'object', properties: { ...pageParams(), before: { type: 'integer', minimum: 1 }, target: { type: 'string' }, q: { type: 'string' }, action: { type: 'string' }, actor: { type: 'string' } } },
      response: { 200: { type: 'object', properties: { entries: { type: 'array', items: auditEntry }, ...PAGE_FIELDS } }, ...AUTH_ERRORS, 400: ERR },
    },
  }, async (req) => {
    const q = req.query;
    const limit = limitOf(q.limit);
    const filter = { q: q.q, action: q.action, actor: q.actor };
    const page = idPage(await ctx.store.listAudit(limit + 1, beforeOf(q.cursor, q.before), q.target, filter), limit);
    // Counting a substring match reads the whole log: only exact filters (indexed or cheap) get a total.
    return { entries: page.rows, next: page.next, ...(q.q ? {} : { total: await ctx.store.countAudit(q.target, filter) }) };
  });
}

function statusRoute(app: FastifyInstance, ctx: ApiContext, startedAt: number): void {
  app.get('/v1/status', {
    config: { role: 'read' },
    schema: {
      tags: ['system'], summary: 'Server status', description: 'Role: read.',
      response: {
        200: {
          type: 'object',
          properties: {
            generation: { type: 'integer', description: 'snapshot generation in force' }, workers: { type: 'integer' },
            revision: { ...revisionMeta, nullable: true }, zones: { type: 'integer' }, names: { type: 'integer' }, pools: { type: 'integer' },
            members: { type: 'integer' }, membersUp: { type: 'integer' }, overrides: { type: 'integer', description: 'members with an operator admin state' }, persistenceRecords: { type: 'integer' },
            uptime: { type: 'number', description: 'seconds since the supervisor started' }, apiStartedAt: { type: 'integer' }, pid: { type: 'integer' },
            node: { type: 'string', description: 'this node (node.name, default the host name)' },
            store: {
              type: 'object', description: 'the store as this node sees it: degraded while the database cannot be reached (DNS answers from memory; writes get 503)',
              properties: {
                backend: { type: 'string', enum: ['sqlite', 'postgres', 'none'] }, state: { type: 'string', enum: ['ok', 'degraded'] },
                since: { type: 'integer', nullable: true }, error: { type: 'string', nullable: true }, queued: { type: 'integer', description: 'persistence records waiting to be written' },
                position: { type: 'integer', description: 'feed position applied' }, head: { type: 'integer', description: 'newest feed position seen' },
              },
            },
            caller: {
              type: 'object', description: 'who is asking: the dashboard greys out what this role may not do',
              properties: { name: { type: 'string' }, role: { type: 'string', enum: ['read', 'operator', 'admin'] } },
            },
          },
        },
        ...AUTH_ERRORS,
      },
    },
  }, async (req) => {
    const caller = actorOf(req);
    const c = ctx.sup.loaded().config;
    // The metadata only: the status is asked every few seconds and must not read the configuration. It answers while
    // the store is unreachable (then without the revision's metadata), saying so.
    const cur = await ctx.revisions.currentMeta().catch(() => null);
    const health = ctx.sup.health.health();
    const meta = cur ? { ...cur, current: true } : null;
    return {
      generation: ctx.sup.generation(), workers: ctx.sup.workerCount(), revision: meta,
      zones: c.zones.length, names: c.names.length, pools: c.pools.length, members: c.pools.reduce((n, p) => n + p.members.length, 0),
      membersUp: health.filter((h) => h.up).length, overrides: ctx.sup.health.admin().length, persistenceRecords: ctx.sup.mirror.engine?.persistence.size ?? 0,
      store: ctx.sup.storeStatus(), node: c.node?.name ?? hostname(),
      uptime: Math.round(process.uptime() * 10) / 10, apiStartedAt: startedAt, pid: process.pid,
      caller: { name: caller.name, role: caller.role },
    };
  });
}

/** A page of the dashboard asks for the rates of what it shows: the series of these names and of these pools' members. */
function onlySeries<S extends { names: Record<string, number[]>; members: Record<string, number[]> }>(s: S, names?: string[], pools?: string[]): S {
  const keep = (m: Record<string, number[]>, ok: (k: string) => boolean): Record<string, number[]> => Object.fromEntries(Object.entries(m).filter(([k]) => ok(k)));
  if (names === undefined && pools === undefined) return s;
  // Filtered: exactly what was named (a page with names and no pools gets no member series).
  const wantNames = new Set((names ?? []).map(canonicalDnsName));
  const wantPools = new Set(pools ?? []);
  return {
    ...s,
    names: keep(s.names, (k) => wantNames.has(canonicalDnsName(k))),
    members: keep(s.members, (k) => wantPools.has(k.slice(0, k.indexOf('/')))),
  };
}

/** Metrics: every worker's counters, added up by the supervisor, and its gauges. */
function metricsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/metrics', {
    schema: {
      tags: ['system'], summary: 'Prometheus metrics', security: [],
      description: 'No authentication, like most exporters: expose the API address only where scrapers may reach it.',
      response: { 200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } },
    },
  }, async (_req, reply: FastifyReply) => {
    return reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8').send(await ctx.sup.metrics());
  });

  app.get<{ Querystring: { name?: string[]; pool?: string[] } }>('/v1/metrics/series', {
    config: { role: 'read' },
    schema: {
      tags: ['system'], summary: 'Rates over the last hour for the dashboard',
      description: 'Role: read. Queries per second per name and answers per second per member ("pool/member"), one value per `step` seconds, oldest first. With `name` or `pool` (each repeatable), only what they name: those names, the members of those pools.',
      querystring: { type: 'object', properties: { name: { type: 'array', items: { type: 'string' } }, pool: { type: 'array', items: { type: 'string' } } } },
      response: { 200: { type: 'object', properties: { step: { type: 'number' }, names: { type: 'object', additionalProperties: { type: 'array', items: { type: 'number' } } }, members: { type: 'object', additionalProperties: { type: 'array', items: { type: 'number' } } } } }, ...AUTH_ERRORS },
    },
  }, async (req) => {
    return onlySeries(ctx.sup.series(), req.query.name, req.query.pool);
  });
}

function nodesRoute(app: FastifyInstance, ctx: ApiContext): void {
  const nodeView = {
    type: 'object',
    properties: {
      name: { type: 'string' }, self: { type: 'boolean', description: 'the node answering this request' },
      state: { type: 'string', enum: ['up', 'gone'], description: 'gone: no heartbeat for 5 s (nothing waits on it)' },
      role: { type: 'string', enum: ['leader', 'follower', 'single'], description: 'health role: the leader runs the prober distributor' },
      revision: { type: 'integer', description: 'revision in force' }, position: { type: 'integer', description: 'feed position applied' },
      lag: { type: 'integer', description: 'feed changes not applied yet, by its last heartbeat' }, age: { type: 'number', description: 'seconds since its last heartbeat' },
      seenAt: { type: 'integer' }, startedAt: { type: 'integer' }, pid: { type: 'integer' }, host: { type: 'string' }, api: { type: 'string', nullable: true },
    },
  };
  app.get('/v1/nodes', {
    config: { role: 'read' },
    schema: {
      tags: ['system'], summary: 'The nodes sharing the store', description: 'Role: read. Every node that ever heartbeated: its revision in force, feed position and lag, last seen, health role.',
      response: { 200: { type: 'object', properties: { nodes: { type: 'array', items: nodeView } } }, ...AUTH_ERRORS, 503: ERR },
    },
  }, async () => ({ nodes: await ctx.sup.nodes() }));
}

export function liveRoutes(app: FastifyInstance, ctx: ApiContext): void {
  nodesRoute(app, ctx);
  memberStateRoute(app, ctx);
  healthRoutes(app, ctx);
  persistenceRoutes(app, ctx);
  explainRoute(app, ctx);
  revisionRoutes(app, ctx);
  tokenRoutes(app, ctx);
  auditRoute(app, ctx);
  statusRoute(app, ctx, Date.now());
  metricsRoutes(app, ctx);
}
