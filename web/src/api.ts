// The dashboard's client for Waymark's REST API (/v1, Bearer tokens; SPEC C1, C4).
// Owns: the token (sessionStorage, so it ends with the tab), requests, and turning HTTP failures into ApiError values.
// A 401 anywhere forgets the token and sends the user back to the login form.

const TOKEN_KEY = 'waymark.token';

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly body: unknown = null) {
    super(message);
  }
}

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

let onUnauthorized: () => void = () => {};
/** Called when the API answers 401 (token missing, wrong, or revoked). */
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

/** A readable message from an error body: `{ message }`, `{ error }`, or `{ errors: [{ path, message }] }`. */
function messageOf(status: number, body: unknown, fallback: string): string {
  if (body && typeof body === 'object') {
    const b = body as { message?: unknown; error?: unknown; errors?: unknown };
    if (Array.isArray(b.errors) && b.errors.length) {
      return b.errors.map((e: { path?: string; message?: string }) => (e.path ? `${e.path}: ${e.message ?? ''}` : String(e.message ?? JSON.stringify(e)))).join('; ');
    }
    if (typeof b.message === 'string') return b.message;
    if (typeof b.error === 'string') return b.error;
  }
  if (typeof body === 'string' && body.trim()) return body.trim().slice(0, 300);
  return `${status} ${fallback}`;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  /** Return the body as text (diffs). */
  text?: boolean;
  token?: string;
  /** The ETag ("rev-N") a configuration write is based on: the API answers 412 when the configuration moved on. */
  ifMatch?: string | null;
}

/** Call the API; resolves with the parsed body, rejects with ApiError. */
export async function api<T = unknown>(path: string, o: RequestOptions = {}): Promise<T> {
  return (await apiWithEtag<T>(path, o)).body;
}

/** Like api(), and also the ETag of the reply (the configuration revision a read came from). */
export async function apiWithEtag<T = unknown>(path: string, o: RequestOptions = {}): Promise<{ body: T; etag: string | null }> {
  const token = o.token ?? getToken();
  const headers: Record<string, string> = { accept: o.text ? 'text/plain, */*' : 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  if (o.ifMatch) headers['if-match'] = o.ifMatch;
  let res: Response;
  try {
    res = await fetch(path, { method: o.method ?? 'GET', headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
  } catch (e) {
    throw new ApiError(0, `cannot reach the Waymark API (${(e as Error).message})`);
  }
  const raw = await res.text();
  let body: unknown = raw;
  if (!o.text || !res.ok) {
    try { body = raw ? JSON.parse(raw) : null; } catch { /* plain text */ }
  }
  if (res.status === 401) {
    onUnauthorized();
    throw new ApiError(401, messageOf(401, body, 'token missing, wrong or revoked'), body);
  }
  if (res.status === 403) throw new ApiError(403, `not allowed for this token's role (${messageOf(403, body, 'forbidden')})`, body);
  if (!res.ok) throw new ApiError(res.status, messageOf(res.status, body, res.statusText), body);
  return { body: body as T, etag: res.headers.get('etag') };
}

/** One bad field of a 400 reply: `path` in the whole configuration, `field` relative to the object sent. */
export interface FieldProblem { path: string; field: string | null; message: string }

/** Every bad field an error carries (`errors: [{ path, field?, message }]`); empty when it names none. */
export function fieldProblems(e: unknown): FieldProblem[] {
  if (!(e instanceof ApiError) || !e.body || typeof e.body !== 'object') return [];
  const list = (e.body as { errors?: unknown }).errors;
  if (!Array.isArray(list)) return [];
  return list.filter((x): x is Record<string, unknown> => !!x && typeof x === 'object').map((x) => ({
    path: typeof x.path === 'string' ? x.path : '',
    field: typeof x.field === 'string' ? x.field : null,
    message: typeof x.message === 'string' ? x.message : JSON.stringify(x),
  }));
}

/** Query string from the non-empty values; a list repeats its parameter (name=a&name=b). */
export function qs(params: Record<string, string | number | readonly string[] | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (Array.isArray(v)) for (const x of v) p.append(k, x);
    else if (v !== undefined && v !== null && String(v) !== '') p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** Every item of a paged list (following `next`): for the few lists a view needs whole, such as one page's health. */
export async function allPages<T>(path: string, params: Record<string, string | number | readonly string[] | undefined>, key: string): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  for (;;) {
    const body = await api<Record<string, unknown>>(`${path}${qs({ ...params, limit: 1000, cursor })}`);
    for (const x of listOf<T>(body, key)) out.push(x);
    if (typeof body.next !== 'string') return out;
    cursor = body.next;
  }
}

/** A list from either a bare array or an object holding one under `key` (or under the only array it has). */
export function listOf<T>(body: unknown, key: string): T[] {
  if (Array.isArray(body)) return body as T[];
  if (body && typeof body === 'object') {
    const o = body as Record<string, unknown>;
    if (Array.isArray(o[key])) return o[key] as T[];
    const arrays = Object.values(o).filter(Array.isArray);
    if (arrays.length === 1) return arrays[0] as T[];
  }
  return [];
}
