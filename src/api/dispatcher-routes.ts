// The dispatcher through the REST API (SPEC P2, P6, issue 13): its groups and daemons with their states, connection
// counts and response times; the connection table with filters; drain / undrain (kept in the store as admin states,
// with an optional deadline) and killing connections. Owns: those routes. Every change is audited.
import type { FastifyInstance } from 'fastify';
import { parseDuration } from '../config/schema.js';
import { ADMIN_POOL_PREFIX } from '../forward/dispatcher.js';
import type { ConnectionFilter, Protocol } from '../forward/table.js';
import type { AdminRecord } from '../state/store.js';
import { actorOf, type ApiContext } from './context.js';
import { HttpError } from './http.js';
import { AUTH_ERRORS, ERR, stringParams } from './schemas.js';

const tags = ['dispatcher'];
const anyObject = { type: 'object', additionalProperties: true } as const;
const filterQuery = {
  type: 'object',
  properties: {
    group: { type: 'string', description: 'cluster address and port, e.g. 127.0.0.1:8080' },
    cluster: { type: 'string' }, port: { type: 'integer', minimum: 1, maximum: 65535 },
    daemon: { type: 'string', description: 'address:port' }, client: { type: 'string', description: 'address, or address:port' },
    protocol: { type: 'string', enum: ['tcp', 'udp'] },
  },
  additionalProperties: false,
} as const;
interface FilterQuery { group?: string; cluster?: string; port?: number; daemon?: string; client?: string; protocol?: Protocol }

function filterOf(q: FilterQuery): ConnectionFilter {
  return {
    ...(q.group !== undefined ? { service: q.group } : {}), ...(q.cluster !== undefined ? { cluster: q.cluster } : {}),
    ...(q.port !== undefined ? { clusterPort: q.port } : {}), ...(q.daemon !== undefined ? { target: q.daemon } : {}),
    ...(q.client !== undefined ? { client: q.client } : {}), ...(q.protocol !== undefined ? { protocol: q.protocol } : {}),
  };
}

export function dispatcherRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const d = ctx.sup.dispatcher;
  app.get('/v1/dispatcher', {
    config: { role: 'read' },
    schema: { tags, summary: 'Dispatcher groups and daemons', description: 'Role: read. Each cluster address and port with its method and daemons: state (up, down, drain, quiesced, stopped, full), open connections, connect and monitor response times, selections, spawned copies.', response: { 200: anyObject, ...AUTH_ERRORS } },
  }, async () => ({ groups: d.status(), table: { entries: d.forwarder.table.size, limit: d.forwarder.table.limit } }));

  app.get<{ Querystring: FilterQuery & { limit?: number } }>('/v1/dispatcher/connections', {
    config: { role: 'read' },
    schema: {
      tags, summary: 'The connection table', description: 'Role: read. Open TCP connections and UDP flows, oldest first, filtered by group, cluster, port, daemon, client or protocol; `total` counts every match.',
      querystring: { ...filterQuery, properties: { ...filterQuery.properties, limit: { type: 'integer', minimum: 1, maximum: 10000, default: 100 } } },
      response: { 200: anyObject, ...AUTH_ERRORS, 400: ERR },
    },
  }, async (req) => d.connections(filterOf(req.query), req.query.limit ?? 100));

  app.delete<{ Querystring: FilterQuery }>('/v1/dispatcher/connections', {
    config: { role: 'operator' },
    schema: { tags, summary: 'Kill connections', description: 'Role: operator. Resets every connection matching the filter (at least one of its fields is required).', querystring: filterQuery, response: { 200: anyObject, ...AUTH_ERRORS, 400: ERR } },
  }, async (req) => {
    const f = filterOf(req.query);
    if (Object.keys(f).length === 0) throw new HttpError(400, 'give a filter (group, cluster, port, daemon, client or protocol): killing every connection needs one on purpose', [{ path: 'querystring', field: 'querystring', message: 'no filter' }]);
    const killed = d.closeWhere(f);
    await audit(ctx, req, 'dispatcher.kill', 'dispatcher/connections', null, { filter: f, killed });
    return { killed };
  });

  app.delete<{ Params: { id: string } }>('/v1/dispatcher/connections/:id', {
    config: { role: 'operator' },
    schema: { tags, summary: 'Kill one connection', description: 'Role: operator. Resets the connection (TCP RST to both sides) or ends the UDP flow.', params: stringParams('id'), response: { 200: anyObject, ...AUTH_ERRORS, 404: ERR } },
  }, async (req) => {
    const id = Number(req.params.id);
    const conn = Number.isInteger(id) ? d.forwarder.table.get(id) : undefined;
    if (!conn || !d.forwarder.table.close(id, true)) throw new HttpError(404, `no connection ${req.params.id} in the table`);
    await audit(ctx, req, 'dispatcher.kill', `dispatcher/connections/${id}`, conn, null);
    return { killed: 1, connection: conn };
  });

  app.put<{ Params: { group: string; daemon: string }; Body: { state: 'drain' | 'auto'; deadline?: string | number } }>('/v1/dispatcher/groups/:group/daemons/:daemon/state', {
    config: { role: 'operator' },
    schema: {
      tags, summary: 'Drain or undrain a daemon',
      description: 'Role: operator. drain: no new connections, open ones finish; with `deadline` (e.g. "30s") those still open then are reset. auto: back in rotation. Kept in the store across restarts (the deadline is not: it runs in this process).',
      params: stringParams('group', 'daemon'),
      body: { type: 'object', properties: { state: { type: 'string', enum: ['drain', 'auto'] }, deadline: { type: ['string', 'number'] } }, required: ['state'], additionalProperties: false },
      response: { 200: anyObject, ...AUTH_ERRORS, 400: ERR, 404: ERR },
    },
  }, async (req) => {
    const { group, daemon } = req.params;
    if (!d.has(group)) throw new HttpError(404, `no dispatcher group "${group}" (groups: ${d.status().map((g) => g.group).join(', ') || 'none'})`);
    if (!d.has(group, daemon)) throw new HttpError(404, `group "${group}" has no daemon "${daemon}"`);
    const deadline = req.body.deadline === undefined ? undefined : parseDuration(req.body.deadline);
    if (deadline === undefined && req.body.deadline !== undefined) throw new HttpError(400, 'deadline is not a duration', [{ path: 'body.deadline', field: 'deadline', message: 'is not a duration (e.g. 30s, 5m)' }]);
    const actor = actorOf(req);
    const pool = ADMIN_POOL_PREFIX + group;
    const previous = (await ctx.store.loadAdmin()).find((a) => a.pool === pool && a.member === daemon)?.state ?? 'auto';
    const record: AdminRecord = { pool, member: daemon, state: req.body.state, by: actor.name, at: Date.now() };
    await ctx.store.setAdmin(record);
    await audit(ctx, req, 'dispatcher.daemon.state', `dispatcher/${group}/daemons/${daemon}`, { state: previous }, { state: record.state, ...(deadline !== undefined ? { deadlineMs: deadline } : {}) });
    await ctx.sup.adminChanged();
    if (record.state === 'drain' && deadline !== undefined) d.closeAfter(group, daemon, deadline);
    ctx.log.info({ group, daemon, state: record.state, previous, deadline, actor: actor.name }, 'dispatcher daemon state set through the API');
    return { group, daemon, state: record.state, previous, deadlineMs: deadline ?? null, by: record.by, at: record.at };
  });
}

async function audit(ctx: ApiContext, req: Parameters<typeof actorOf>[0], action: string, target: string, before: unknown, after: unknown): Promise<void> {
  const actor = actorOf(req);
  await ctx.store.addAudit({ at: Date.now(), actor: actor.name, origin: actor.origin, action, target, before, after });
}
