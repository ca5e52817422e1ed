// HTTP conventions of the REST API: error values and bodies, revision ETags and If-Match, paths of bad fields.
// Owns: how a problem becomes a status and a JSON body a user can act on. Never touches the store.
import type { ConfigError } from '../config/schema.js';
import { formatLocation, formatProblem } from '../config/errors.js';

/** One bad field: `path` is relative to the whole configuration; `field` to the object the request edits. */
export interface FieldError { path: string; field?: string; message: string }

/** An error a handler throws; the error handler turns it into `{ error, message, errors? }` with its status. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly errors?: FieldError[], readonly extra?: Record<string, unknown>) {
    super(message);
  }
}

export const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 412: 'Precondition Failed',
  413: 'Payload Too Large', 415: 'Unsupported Media Type', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

export function errorBody(status: number, message: string, errors?: FieldError[], extra?: Record<string, unknown>): Record<string, unknown> {
  return { error: STATUS_TEXT[status] ?? 'Error', message, ...(errors ? { errors } : {}), ...extra };
}

/** The ETag of a revision. */
export function etag(revision: number): string {
  return `"rev-${revision}"`;
}

/**
 * The revision an If-Match header names: `"rev-N"` (also weak `W/"rev-N"` and bare `rev-N`); undefined when absent
 * or `*`. A list of several tags is refused: a write is based on exactly one revision.
 */
export function parseIfMatch(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const v = (Array.isArray(header) ? header.join(',') : header).trim();
  if (v === '' || v === '*') return undefined;
  const m = /^(?:W\/)?"?rev-(\d{1,15})"?$/.exec(v);
  if (!m) throw new HttpError(400, `If-Match must be one ETag like "rev-12" (as sent in ETag), not ${JSON.stringify(v)}`, [{ path: 'If-Match', message: 'is not a revision ETag' }]);
  return Number(m[1]);
}

/**
 * Configuration errors as the API reports them: `path` is the error's location (formatLocation: the field from the
 * configuration root, with `:LINE` inside master-file text), `message` the rest of the one text form (formatProblem:
 * the value, what is wrong, what would be valid). `field` is added for those under `prefix` (e.g. prefix "pools[2]"
 * turns "pools[2].members[1].address" into field "members[1].address").
 */
export function fieldErrors(errors: readonly ConfigError[], prefix?: string): FieldError[] {
  return errors.map((e) => {
    const path = formatLocation(e);
    const message = formatProblem(e);
    if (prefix === undefined || e.path === '') return { path, message };
    if (e.path === prefix) return { path, field: '', message };
    const rest = e.path.startsWith(prefix) ? formatLocation({ ...e, file: undefined }).slice(prefix.length) : null;
    if (rest !== null && (rest.startsWith('.') || rest.startsWith('['))) {
      return { path, field: rest.startsWith('.') ? rest.slice(1) : rest, message };
    }
    return { path, message };
  });
}

/** A 400's message: what is wrong in one line, every error listed (by `field` when it has one). */
export function errorsMessage(lead: string, errors: readonly FieldError[]): string {
  return `${lead}: ${errors.map((e) => `${e.field || e.path}: ${e.message}`).join('; ')}`;
}

/** Ajv's error of one field as a FieldError (`/members/1/address` → `members[1].address`). */
export function ajvFieldError(v: { instancePath?: string; message?: string; params?: Record<string, unknown> }, context: string | undefined): FieldError {
  const parts = (v.instancePath ?? '').split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const extra = v.params?.missingProperty ?? v.params?.additionalProperty;
  if (typeof extra === 'string') parts.push(extra);
  let field = '';
  for (const p of parts) field += /^\d+$/.test(p) ? `[${p}]` : (field ? '.' : '') + p;
  const message = v.params?.additionalProperty !== undefined ? 'unknown key' : v.message ?? 'is invalid';
  const where = context && context !== 'body' ? `${context}${field ? '.' : ''}${field}` : field || '(body)';
  return { path: where, field, message };
}
