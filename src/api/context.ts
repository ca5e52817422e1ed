// What every API route works with: the supervisor's handle, the store and revisions, the caller, and redaction of
// secrets for callers below admin. Owns: the request's actor and what a role may see. Never handles a route.
import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { SupervisorHandle } from '../supervisor/handle.js';
import type { Revisions } from '../config/revisions.js';
import type { Declarative } from '../config/declarative.js';
import type { StateStore } from '../state/async.js';
import type { Serial } from '../supervisor/serial.js';
import type { Actor, Role } from './auth.js';
import { HttpError } from './http.js';

export interface ApiContext {
  sup: SupervisorHandle;
  store: StateStore;
  revisions: Revisions;
  log: Logger;
  /** Configuration changes of this node, one at a time. */
  writes: Serial;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The least role a route needs; routes without one are public (the OpenAPI document, /metrics, the dashboard). */
    role?: Role;
  }
  interface FastifyRequest {
    actor: Actor | null;
  }
}

/** The authenticated caller (set by the auth hook for every route that names a role). */
export function actorOf(req: FastifyRequest): Actor {
  if (!req.actor) throw new HttpError(401, 'authentication required');
  return req.actor;
}

export const REDACTED = '(redacted: admin only)';

/** The configuration as a role may see it: the prober token (health.distributor.token) is for admins only. */
export function redactConfig(d: Declarative, role: Role): Declarative {
  if (role === 'admin') return d;
  const health = d.health as { distributor?: { token?: unknown } } | undefined;
  if (!health?.distributor || health.distributor.token === undefined) return d;
  return { ...d, health: { ...health, distributor: { ...health.distributor, token: REDACTED } } };
}
