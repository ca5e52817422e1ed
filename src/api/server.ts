// The REST API and dashboard server of the supervisor (SPEC C1, C4): fastify with every route declared by JSON
// schema (the same schemas validate requests and make the OpenAPI document at /openapi.json), Bearer-token auth with
// roles, everything versioned under /v1, /metrics for Prometheus, and the built dashboard (dist/web) at "/".
// Owns: the HTTP server, its auth hook, error bodies and static files. Routes live in config-routes.ts (the
// declarative configuration) and live-routes.ts (operations). Never runs in a worker.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import { pino } from 'pino';
import type { SupervisorHandle } from '../supervisor/handle.js';
import { Authenticator, BOOTSTRAP_ENV, roleAllows } from './auth.js';
import { configRoutes } from './config-routes.js';
import type { ApiContext } from './context.js';
import { Serial } from '../supervisor/serial.js';
import { StoreError } from '../state/store.js';
import { HttpError, ajvFieldError, errorBody } from './http.js';
import { liveRoutes } from './live-routes.js';
import { dispatcherRoutes } from './dispatcher-routes.js';
import { leaseRoutes } from './lease-routes.js';
import { SHARED } from './schemas.js';

export interface ApiServer {
  close(): Promise<void>;
  address: { host: string; port: number };
}

/** Zones travel inline in configuration bodies: allow large ones. */
const BODY_LIMIT_BYTES = 16 * 1024 * 1024;
const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The dashboard build (another package builds it): dist/web next to dist/src. */
export const WEB_DIR = path.resolve(HERE, '..', '..', 'web');

function packageVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.resolve(HERE, '..', '..', '..', 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json; charset=utf-8', '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.jpg': 'image/jpeg', '.ico': 'image/x-icon', '.webp': 'image/webp',
  '.woff': 'font/woff', '.woff2': 'font/woff2', '.txt': 'text/plain; charset=utf-8',
};

/** A file of the dashboard build for a URL path, `index.html` for paths that are not files (client-side routes). */
async function staticFile(urlPath: string): Promise<{ file: string; size: number } | null> {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath.split('?')[0]!);
  } catch {
    return null;
  }
  if (rel.includes('\0')) return null;
  const candidate = path.resolve(WEB_DIR, `.${path.posix.normalize(`/${rel}`)}`);
  if (candidate !== WEB_DIR && !candidate.startsWith(WEB_DIR + path.sep)) return null;
  for (const file of [candidate, path.join(WEB_DIR, 'index.html')]) {
    try {
      const st = await fs.promises.stat(file);
      if (st.isFile()) return { file, size: st.size };
    } catch {
      // try the next
    }
    // A missing asset (has an extension) is a 404, not the index page.
    if (path.extname(candidate) !== '') return null;
  }
  return null;
}

async function serveStatic(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | null> {
  if ((req.method !== 'GET' && req.method !== 'HEAD') || req.url.startsWith('/v1/') || req.url === '/v1') return null;
  const found = await staticFile(req.url);
  if (!found) return null;
  const ext = path.extname(found.file);
  reply.header('content-type', CONTENT_TYPES[ext] ?? 'application/octet-stream');
  reply.header('content-length', found.size);
  reply.header('x-content-type-options', 'nosniff');
  // Vite names built assets by content hash: cache them for good; the index must be revalidated.
  reply.header('cache-control', found.file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
  if (req.method === 'HEAD') return reply.send();
  return reply.send(fs.createReadStream(found.file));
}

/** Start the API on `listen`; needs the store (tokens, revisions and the audit log live there). */
export async function startApi(sup: SupervisorHandle, listen: { host: string; port: number }): Promise<ApiServer> {
  if (!sup.store || !sup.revisions) throw new Error('api: needs a store (store: { path: ./data } or store: { postgres: URL }) in the configuration (tokens, revisions and the audit log live in the store)');
  const log = pino({ base: { pid: process.pid, role: 'api' } });
  const bootstrap = process.env[BOOTSTRAP_ENV];
  if (bootstrap !== undefined && bootstrap.length > 0 && bootstrap.length < 16) log.warn(`${BOOTSTRAP_ENV} is shorter than 16 characters: easy to guess`);
  const auth = new Authenticator(sup.store, bootstrap || undefined);
  const ctx: ApiContext = { sup, store: sup.store, revisions: sup.revisions, log, writes: new Serial() };

  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT_BYTES,
    return503OnClosing: true,
    // Every bad field at once; nothing silently removed or defaulted in what a client sent.
    ajv: { customOptions: { allErrors: true, removeAdditional: false, useDefaults: false, coerceTypes: 'array' } },
  });
  // Response schemas document; JSON.stringify sends (nothing a schema forgot is silently dropped).
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.decorateRequest('actor', null);
  for (const s of SHARED) app.addSchema(s);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Waymark API', version: packageVersion(),
        description: 'Configuration, operations and audit of a Waymark DNS traffic manager. Send `Authorization: Bearer <token>`; roles: read < operator < admin. '
          + 'Configuration writes create revisions and honour `If-Match: "rev-N"` (the ETag of reads); a stale one gets 412.',
      },
      tags: [
        { name: 'configuration', description: 'The declarative configuration: every write is a new revision' },
        { name: 'operations', description: 'Live state: health, admin states, probers, persistence, explain' },
        { name: 'revisions', description: 'Configuration history, diff and rollback' },
        { name: 'dispatcher', description: 'The L4 dispatcher: daemons, the connection table, drain and kill' },
        { name: 'tokens', description: 'API tokens' },
        { name: 'audit', description: 'Who changed what, when' },
        { name: 'system', description: 'Status, metrics and this document' },
      ],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a token from `waymark token create` or POST /v1/tokens' } } },
      security: [{ bearer: [] }],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });

  // Authentication and roles: routes name the least role they need (config.role); others are public.
  app.addHook('onRequest', async (req) => {
    const role = req.routeOptions.config.role;
    if (!role) return;
    const a = await auth.authenticate(req.headers.authorization, `api ${req.ip}`);
    if (!a.ok) throw new HttpError(401, a.message);
    if (!roleAllows(a.actor.role, role)) throw new HttpError(403, `this needs the ${role} role; token "${a.actor.name}" has ${a.actor.role}`);
    req.actor = a.actor;
  });

  app.setErrorHandler(async (err: Error & { statusCode?: number; validation?: Array<Record<string, unknown>>; validationContext?: string }, _req, reply) => {
    if (err instanceof HttpError) {
      if (err.status === 401) reply.header('www-authenticate', 'Bearer realm="waymark"');
      return reply.code(err.status).send(errorBody(err.status, err.message, err.errors, err.extra));
    }
    if (err.validation) {
      const errors = err.validation.map((v) => ajvFieldError(v as Parameters<typeof ajvFieldError>[0], err.validationContext));
      return reply.code(400).send(errorBody(400, `the request has errors: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, errors));
    }
    if (err instanceof StoreError && err.code === 'STORE_UNAVAILABLE') {
      // Nothing was acknowledged: the client may retry once the database is back (GET /v1/status says when).
      log.warn({ err: err.message }, 'API request refused: the store cannot be reached');
      return reply.code(503).header('retry-after', '5').send(errorBody(503, `the store is unavailable; nothing was changed; retry later (${err.message})`));
    }
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) log.error({ err: err.message, stack: err.stack }, 'API request failed');
    return reply.code(status).send(errorBody(status, status === 500 ? 'internal error (logged by the server)' : err.message));
  });

  app.setNotFoundHandler(async (req, reply) => {
    const served = await serveStatic(req, reply);
    if (served) return served;
    return reply.code(404).send(errorBody(404, `no route ${req.method} ${req.url.split('?')[0]}`));
  });

  app.get('/openapi.json', {
    schema: { tags: ['system'], summary: 'This OpenAPI document', security: [], response: { 200: { type: 'object', additionalProperties: true } } },
  }, async () => app.swagger());

  configRoutes(app, ctx);
  liveRoutes(app, ctx);
  dispatcherRoutes(app, ctx);
  leaseRoutes(app, ctx);

  try {
    await app.listen({ host: listen.host, port: listen.port });
  } catch (e) {
    await app.close().catch(() => undefined);
    throw new Error(`api: cannot listen on ${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}: ${(e as Error).message}`);
  }
  const a = app.server.address();
  const address = a && typeof a === 'object' ? { host: a.address, port: a.port } : listen;
  log.info({ listen: `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`, bootstrapToken: auth.hasBootstrap, dashboard: fs.existsSync(WEB_DIR) }, 'api listening');
  return {
    address,
    close: async () => {
      await app.close();
    },
  };
}
