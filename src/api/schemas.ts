// The JSON schemas of the REST API (SPEC C1), declared once and used by fastify for request validation and by
// @fastify/swagger for the OpenAPI document. Configuration objects (zones, names, pools, members, monitors…) are
// derived from the zod schemas of src/config/schema.ts, so the API documents exactly what a YAML file accepts.
// Owns: shapes only. Never handles a request.
import { z } from 'zod';
import { configSchema, memberSchema, monitorSchema, nameSchema, poolSchema, recordSchema, topologySchema, zoneSchema } from '../config/schema.js';

export type JsonSchema = Record<string, unknown>;

/** A zod schema as an OpenAPI 3.0 schema of its input (what a client sends and a YAML file holds). */
function fromZod(schema: z.ZodType, description: string): JsonSchema {
  const j = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'openapi-3.0' }) as JsonSchema;
  delete j.$schema;
  return { ...j, description };
}

const resolverGroupSchema = configSchema.shape.resolverGroups.unwrap().element;
const declarativeSchema = configSchema.omit({ server: true, api: true, store: true, node: true, keys: true });

/** Shared schemas, registered with fastify (`$id`) and listed under components.schemas in the OpenAPI document. */
export const SHARED: JsonSchema[] = [
  { $id: 'Zone', ...fromZod(zoneSchema, 'A zone: inline records and/or master-file `text` (zone `file:` paths are not accepted through the API).') },
  { $id: 'Record', ...fromZod(recordSchema, 'A static record of an inline zone.') },
  { $id: 'Name', ...fromZod(nameSchema, 'A policy name: answered per query from its pools.') },
  { $id: 'Pool', ...fromZod(poolSchema, 'A pool of members.') },
  { $id: 'Member', ...fromZod(memberSchema, 'A pool member; its id in paths is "address" or "address:port" ("[v6]:port").') },
  { $id: 'Monitor', ...fromZod(monitorSchema, 'A health monitor.') },
  { $id: 'Topology', ...fromZod(topologySchema, 'Topology regions and rules.') },
  { $id: 'ResolverGroup', ...fromZod(resolverGroupSchema, 'Resolvers treated as one for persistence.') },
  { $id: 'Declarative', ...fromZod(declarativeSchema, 'The declarative configuration (every section except the bootstrap sections server, api, store, node and keys).') },
  {
    $id: 'ZoneSummary',
    type: 'object',
    description: 'A zone as listed with view=summary: its fields without `records` and `text`, and how many of each it has.',
    properties: {
      origin: { type: 'string' }, recordCount: { type: 'integer', description: 'inline records' },
      textLines: { type: 'integer', description: 'lines of master-file text (absent without text)' },
    },
    additionalProperties: true,
  },
  {
    $id: 'Error',
    type: 'object',
    description: 'An error. Validation errors list every bad field: `path` relative to the whole configuration, `field` relative to the object sent.',
    properties: {
      error: { type: 'string' },
      message: { type: 'string' },
      errors: {
        type: 'array',
        items: {
          type: 'object',
          properties: { path: { type: 'string' }, field: { type: 'string' }, message: { type: 'string' } },
          required: ['path', 'message'],
        },
      },
      revision: { type: 'integer', description: 'with 412: the current revision' },
    },
    required: ['message'],
  },
];

export const ref = (id: string): JsonSchema => ({ $ref: `${id}#` });
/** A page of a list: the items under `key`, the revision read, `next` (cursor of the next page) and `total`. */
export const listOf = (key: string, id: string, extra: Record<string, JsonSchema> = {}): JsonSchema => ({
  type: 'object',
  properties: {
    revision: { type: 'integer' }, [key]: { type: 'array', items: ref(id) },
    next: { type: 'string', nullable: true, description: 'cursor of the next page (pass it as `cursor`); null on the last page' },
    total: { type: 'integer', description: 'how many items match, on all pages' },
    ...extra,
  },
  required: [key],
});

/** An error response with what it means for this status. */
export const errorResponse = (description: string): JsonSchema => ({ ...ref('Error'), description });
export const ERR = errorResponse('see message');
/** Responses every authenticated route can give. */
export const AUTH_ERRORS = { 401: errorResponse('no token, or an unknown or revoked one'), 403: errorResponse("the token's role does not allow this") };
/** Responses of configuration writes. */
export const WRITE_ERRORS = {
  ...AUTH_ERRORS,
  400: errorResponse('the configuration would have errors: every bad field is listed in errors[]'),
  404: errorResponse('no such object'),
  409: errorResponse('it exists already, or the configuration changed concurrently'),
  412: errorResponse('If-Match names a revision that is no longer current; nothing changed'),
};

export const ifMatchHeader: JsonSchema = {
  type: 'object',
  properties: { 'if-match': { type: 'string', description: 'optimistic concurrency: the ETag ("rev-N") the change is based on; stale → 412' } },
};
export const commentQuery: JsonSchema = {
  type: 'object', properties: { comment: { type: 'string', description: 'recorded with the revision' } }, additionalProperties: false,
};
export const stringParams = (...names: string[]): JsonSchema => ({
  type: 'object', properties: Object.fromEntries(names.map((n) => [n, { type: 'string' }])), required: names,
});

export const revisionMeta: JsonSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' }, at: { type: 'integer', description: 'epoch ms' }, author: { type: 'string' },
    source: { type: 'string', enum: ['file', 'api', 'rollback', 'apply', 'update'] }, comment: { type: 'string' }, hash: { type: 'string' }, file: { type: 'string', nullable: true, description: 'the configuration file it was made from (file, apply)' },
    current: { type: 'boolean' },
  },
};

export const memberHealth: JsonSchema = {
  type: 'object',
  properties: {
    pool: { type: 'string' }, member: { type: 'string' },
    up: { type: 'boolean', description: 'monitor verdict' }, drain: { type: 'boolean', description: 'drain asked by the member agent' },
    weightScale: { type: 'number' }, metrics: { type: 'object', additionalProperties: { type: 'number' } },
    detail: { type: 'string' }, since: { type: 'integer' },
    admin: { type: 'string', enum: ['auto', 'up', 'down', 'drain'], description: 'operator admin state' },
    adminBy: { type: 'string' }, adminAt: { type: 'integer' },
  },
};

export const persistRecord: JsonSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' }, key: { type: 'integer' }, keyText: { type: 'string', description: 'resolver, group:NAME, prefix:CIDR or subnet:CIDR' },
    pool: { type: 'string' }, member: { type: 'string' }, ts: { type: 'integer' }, ttlMs: { type: 'integer' }, hits: { type: 'integer' },
    expiresAt: { type: 'integer' },
  },
};

export const explanation: JsonSchema = {
  type: 'object',
  properties: {
    request: { type: 'object', additionalProperties: true },
    rcode: { type: 'string' },
    answers: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, type: { type: 'string' }, ttl: { type: 'integer' }, data: { type: 'string' } } } },
    scope: { type: 'integer', nullable: true },
    policy: { type: 'boolean' },
    steps: { type: 'array', items: { type: 'object', properties: { step: { type: 'string' }, detail: { type: 'string' } } } },
    state: { type: 'object', description: 'whose state decided: live (a worker, named) or not', properties: { live: { type: 'boolean' }, detail: { type: 'string' } } },
  },
};

export const tokenView: JsonSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' }, name: { type: 'string' }, role: { type: 'string', enum: ['read', 'operator', 'admin'] },
    createdAt: { type: 'integer' }, createdBy: { type: 'string' }, revokedAt: { type: 'integer', nullable: true },
  },
};

export const auditEntry: JsonSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' }, at: { type: 'integer' }, actor: { type: 'string' }, origin: { type: 'string', description: 'from where: api ADDRESS, cli USER@HOST, file PATH' },
    action: { type: 'string' }, target: { type: 'string' },
    before: { nullable: true }, after: { nullable: true },
  },
};
