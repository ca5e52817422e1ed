// Pages of the REST API's lists (issue 10, provider scale: 100,000 names, a million records): a list takes `limit`
// and an opaque `cursor`, and answers with `next` (the cursor of the page after, null on the last one) and, when it
// is cheap, `total`. A cursor names the last item of its page by key and position, so the next page starts right
// after that item even when items were added or removed before it meanwhile; if that item is gone, the next page
// starts with what followed it.
// Owns: cursors, limits and paging of lists held in memory. Never reads the store or the configuration.
import { HttpError } from './http.js';
import type { JsonSchema } from './schemas.js';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

/** Where a page ended: `i` is the position after its last item, `k` that item's key. */
export interface Cursor { i: number; k: string }

export interface PageQuery { limit?: number; cursor?: string }

/** `limit` and `cursor` as query-string schema properties (the OpenAPI document is made from them). */
export function pageParams(maxLimit = MAX_LIMIT, defaultLimit = DEFAULT_LIMIT): Record<string, JsonSchema> {
  return {
    limit: { type: 'integer', minimum: 1, maximum: maxLimit, description: `items per page (default ${defaultLimit})` },
    cursor: { type: 'string', description: 'where to continue: the `next` of the previous page' },
  };
}

/** A page's response fields: `next` and `total` (when given). */
export const PAGE_FIELDS: Record<string, JsonSchema> = {
  next: { type: 'string', nullable: true, description: 'cursor of the next page; null on the last page' },
  total: { type: 'integer', description: 'how many items match (all pages)' },
};

export function limitOf(v: number | undefined, dflt = DEFAULT_LIMIT, max = MAX_LIMIT): number {
  return v === undefined ? dflt : Math.max(1, Math.min(max, Math.floor(v)));
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.i, c.k])).toString('base64url');
}

/** The cursor a client sent back; a 400 naming the parameter when it is not one of ours. */
export function decodeCursor(s: string | undefined): Cursor | null {
  if (s === undefined || s === '') return null;
  try {
    const v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && (v[0] as number) >= 0 && typeof v[1] === 'string') return { i: v[0] as number, k: v[1] };
  } catch {
    // reported below
  }
  throw new HttpError(400, 'cursor is not one this API gave: pass the `next` of the previous page as it was', [{ path: 'querystring.cursor', field: 'cursor', message: 'is not a cursor' }]);
}

/**
 * Where the page after `c` starts in a list of `length` items: right after the item with the cursor's key, looked
 * for at its old position first, then ever further away (at most `window` positions either side).
 */
export function resumeAt(c: Cursor | null, length: number, keyAt: (i: number) => string, window = length): number {
  if (!c) return 0;
  const i = Math.min(c.i, length);
  if (i > 0 && keyAt(i - 1) === c.k) return i;
  for (let d = 1; d <= window; d++) {
    const lo = i - 1 - d;
    const hi = i - 1 + d;
    if (lo < 0 && hi >= length) break;
    if (lo >= 0 && keyAt(lo) === c.k) return lo + 1;
    if (hi >= 0 && hi < length && keyAt(hi) === c.k) return hi + 1;
  }
  // The item is gone: most likely removed itself, so what followed it moved up into its place.
  return Math.max(0, i - 1);
}

/** The next page's cursor after the items [start, end) of a list of `length`, or null when the list ends there. */
export function nextCursor(end: number, length: number, lastKey: string | undefined): string | null {
  return end < length && lastKey !== undefined ? encodeCursor({ i: end, k: lastKey }) : null;
}

/** One page of a list held in memory (already filtered), with its total and next cursor. */
export function pageOf<T>(items: readonly T[], keyOf: (t: T) => string, q: PageQuery, defaultLimit = DEFAULT_LIMIT, maxLimit = MAX_LIMIT): { items: T[]; start: number; next: string | null; total: number } {
  const limit = limitOf(q.limit, defaultLimit, maxLimit);
  const start = resumeAt(decodeCursor(q.cursor), items.length, (i) => keyOf(items[i]!));
  const page = items.slice(start, start + limit);
  const end = start + page.length;
  return { items: page, start, next: nextCursor(end, items.length, page.length ? keyOf(page[page.length - 1]!) : undefined), total: items.length };
}

/** A short fingerprint of a value without a key of its own (a zone record), for cursors. */
export function fingerprint(v: unknown): string {
  const s = JSON.stringify(v) ?? '';
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return `${(h >>> 0).toString(36)}.${s.length.toString(36)}`;
}

/** `q`: case-insensitive substring of any of the texts. */
export function matchesQ(q: string | undefined, ...texts: Array<string | undefined>): boolean {
  if (q === undefined || q === '') return true;
  const want = q.toLowerCase();
  return texts.some((t) => t !== undefined && t.toLowerCase().includes(want));
}
