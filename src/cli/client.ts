// The CLI's side of the REST API (SPEC C1): `waymark status | nodes | leases | names | pools | members | revisions | diff | rollback |
// audit | api-explain` talk to a running server over HTTP with a token, and print human tables or, with --json, the
// API's JSON. Owns: the HTTP client, table rendering and the mapping of CLI words to API calls. Never opens the
// store (the local commands in main.ts do).
import type { Command } from 'commander';
import { formatExplanation, type Explanation } from '../answer/explain.js';
import { memberKey } from '../answer/compile.js';

export const DEFAULT_API = 'http://127.0.0.1:8053';

export interface ClientOptions { api?: string; token?: string; json?: boolean }

/** An API error a user can act on: the status, the server's message and every bad field. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export class ApiClient {
  readonly base: string;

  constructor(base: string, private readonly token: string | undefined) {
    this.base = base.replace(/\/+$/, '');
  }

  async request<T>(method: string, path: string, o: { body?: unknown; headers?: Record<string, string>; text?: boolean } = {}): Promise<{ status: number; body: T; etag: string | null }> {
    const headers: Record<string, string> = { accept: o.text ? 'text/plain' : 'application/json', ...o.headers };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new ApiError(0, `cannot reach the API at ${this.base} (${cause?.code ?? cause?.message ?? (e as Error).message}); give --api URL or set WAYMARK_API`);
    }
    const raw = await res.text();
    let body: unknown = raw;
    if (!o.text || !res.ok) {
      try { body = raw ? JSON.parse(raw) : null; } catch { /* text */ }
    }
    if (!res.ok) throw new ApiError(res.status, describeError(res.status, body));
    return { status: res.status, body: body as T, etag: res.headers.get('etag') };
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path).then((r) => r.body);
  }
}

function describeError(status: number, body: unknown): string {
  const b = (body && typeof body === 'object' ? body : {}) as { message?: string; errors?: Array<{ path: string; field?: string; message: string }> };
  const hint = status === 401 ? ' (give --token or set WAYMARK_TOKEN)' : '';
  const lines = [`${status}: ${b.message ?? (typeof body === 'string' ? body : 'request failed')}${hint}`];
  for (const e of b.errors ?? []) lines.push(`  ${e.path}: ${e.message}`);
  return lines.join('\n');
}

/** Columns padded to their widest cell. */
export function table(headers: string[], rows: Array<Array<string | number | boolean | null | undefined>>): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

export function when(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function clientOf(opts: ClientOptions): ApiClient {
  return new ApiClient(opts.api ?? process.env.WAYMARK_API ?? DEFAULT_API, opts.token ?? process.env.WAYMARK_TOKEN);
}

/** Every item of a paged list, following `next` a thousand at a time (names and pools print whole lists). */
export async function everything<T>(c: ApiClient, path: string, key: string): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams({ limit: '1000', ...(cursor ? { cursor } : {}) });
    const page: Record<string, unknown> = await c.get<Record<string, unknown>>(`${path}${path.includes('?') ? '&' : '?'}${q.toString()}`);
    for (const x of (page[key] as T[] | undefined) ?? []) out.push(x);
    cursor = typeof page.next === 'string' ? page.next : null;
  } while (cursor !== null);
  return out;
}

export function print(opts: ClientOptions, value: unknown, human: () => string): void {
  process.stdout.write(opts.json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}

export function withApi(cmd: Command): Command {
  return cmd
    .option('--api <url>', `the Waymark API (default: $WAYMARK_API or ${DEFAULT_API})`)
    .option('--token <token>', 'API token (default: $WAYMARK_TOKEN)')
    .option('--json', 'print the API\'s JSON');
}

/** CLI words for admin states: enable forces a member into answers, disable takes it out, auto hands it back to its monitors. */
export const MEMBER_ACTIONS: Record<string, 'up' | 'down' | 'drain' | 'auto'> = { enable: 'up', up: 'up', disable: 'down', down: 'down', drain: 'drain', auto: 'auto' };

interface Pool { name: string; select?: string[]; members: Array<{ address: string; port?: number; weight?: number; enabled?: boolean }> }
interface Health { pool: string; member: string; up: boolean; drain: boolean; weightScale: number; detail: string; admin: string }
interface RevisionMeta { id: number; at: number; author: string; source: string; comment: string; current?: boolean }
interface AuditEntry { id: number; at: number; actor: string; origin: string; action: string; target: string; before: unknown; after: unknown }

/** Register the API client commands on the program. */
export function registerApiCommands(program: Command): void {
  withApi(program.command('status').description('status of a running server (through its API)'))
    .action(async (opts: ClientOptions) => {
      const s = await clientOf(opts).get<{ generation: number; workers: number; revision: RevisionMeta | null; zones: number; names: number; pools: number; members: number; membersUp: number; persistenceRecords: number; uptime: number; node?: string; store?: { backend: string; state: string; since: number | null; error: string | null; queued: number } }>('/v1/status');
      const st = s.store;
      print(opts, s, () => table(['', ''], [
        ['node', s.node ?? '-'],
        ['store', st ? `${st.backend} ${st.state}${st.state === 'degraded' ? ` since ${when(st.since ?? 0)} (${st.error}); ${st.queued} records queued` : ''}` : '-'],
        ['revision', s.revision ? `${s.revision.id} (${s.revision.source}, by ${s.revision.author}, ${when(s.revision.at)})` : 'none'],
        ['generation', s.generation], ['workers', s.workers],
        ['zones', s.zones], ['names', s.names], ['pools', s.pools], ['members', `${s.members} (${s.membersUp} up)`],
        ['persistence records', s.persistenceRecords], ['uptime', `${Math.round(s.uptime)} s`],
      ]).replace(/^\s*\n/, ''));
    });

  withApi(program.command('nodes').description('the nodes sharing the store: revision in force, feed lag, role, last seen'))
    .action(async (opts: ClientOptions) => {
      const r = await clientOf(opts).get<{ nodes: Array<{ name: string; self: boolean; state: string; role: string; revision: number; position: number; lag: number; age: number; host: string; api: string | null }> }>('/v1/nodes');
      print(opts, r, () => table(['NODE', 'STATE', 'ROLE', 'REVISION', 'POSITION', 'LAG', 'SEEN', 'HOST', 'API'], r.nodes.map((n) => [
        `${n.name}${n.self ? ' *' : ''}`, n.state, n.role, n.revision, n.position, n.lag, `${n.age} s ago`, n.host, n.api ?? '-',
      ])));
    });

  withApi(program.command('leases').description('address leases: public address, name, server, TTL left, requests, open connections'))
    .action(async (opts: ClientOptions) => {
      const r = await clientOf(opts).get<{ leases: Array<{ address: string; pool: string; name: string; server: string; private: string; ttl: number; requests: number; bytes: number; open: number }>; pools: Array<{ pool: string; free: number; leased: number; cooling: number }> }>('/v1/leases');
      print(opts, r, () => `${table(['ADDRESS', 'POOL', 'NAME', 'SERVER', 'PRIVATE', 'TTL', 'REQUESTS', 'BYTES', 'OPEN'], r.leases.map((l) => [l.address, l.pool, l.name, l.server, l.private, l.ttl, l.requests, l.bytes, l.open]))}\n${r.pools.map((p) => `pool ${p.pool}: ${p.free} free, ${p.leased} leased, ${p.cooling} cooling`).join('\n')}`);
    });

  withApi(program.command('names').description('policy names and their pools'))
    .action(async (opts: ClientOptions) => {
      const r = { names: await everything<{ name: string; ttl?: number; pools: string[]; select?: string[]; fallback?: unknown }>(clientOf(opts), '/v1/names', 'names') };
      print(opts, r, () => table(['NAME', 'TTL', 'POOLS', 'SELECT', 'FALLBACK'], r.names.map((n) => [n.name, n.ttl ?? 30, n.pools.join(','), (n.select ?? ['global-availability']).join(' > '), n.fallback ? JSON.stringify(n.fallback) : '-'])));
    });

  withApi(program.command('pools').description('pools, their members and live health'))
    .action(async (opts: ClientOptions) => {
      const c = clientOf(opts);
      const [p, h] = await Promise.all([everything<Pool>(c, '/v1/pools', 'pools'), everything<Health>(c, '/v1/health', 'members')]);
      const health = new Map(h.map((m) => [`${m.pool}/${m.member}`, m]));
      const pools = p.map((pool) => ({ ...pool, members: pool.members.map((m) => ({ ...m, id: memberKey(m), health: health.get(`${pool.name}/${memberKey(m)}`) ?? null })) }));
      print(opts, { pools }, () => table(['POOL', 'MEMBER', 'WEIGHT', 'ENABLED', 'HEALTH', 'ADMIN', 'DETAIL'], pools.flatMap((pool) => pool.members.map((m) => [
        pool.name, m.id, m.weight ?? 1, m.enabled !== false, m.health ? (m.health.up ? (m.health.drain ? 'drain' : 'up') : 'down') : '-', m.health?.admin ?? 'auto', m.health?.detail || '-',
      ]))));
    });

  withApi(program.command('members')
    .description('set a member\'s admin state: enable (force up), disable (force down), drain, auto (monitors decide)')
    .argument('<pool>', 'pool name')
    .argument('<action>', 'enable | disable | drain | auto (also up | down)')
    .argument('<member>', 'member address, or address:port'))
    .action(async (pool: string, action: string, member: string, opts: ClientOptions) => {
      const state = MEMBER_ACTIONS[action];
      if (!state) throw new Error(`"${action}" must be enable, disable, drain or auto`);
      const r = await clientOf(opts).request<{ pool: string; member: string; state: string; previous: string }>('PUT', `/v1/pools/${encodeURIComponent(pool)}/members/${encodeURIComponent(member)}/state`, { body: { state } });
      print(opts, r.body, () => `${pool}/${member}: ${r.body.state} (was ${r.body.previous})`);
    });

  withApi(program.command('revisions').description('configuration revisions, newest first')
    .option('--limit <n>', 'how many', '20'))
    .action(async (opts: ClientOptions & { limit: string }) => {
      const r = await clientOf(opts).get<{ current: number; revisions: RevisionMeta[] }>(`/v1/revisions?limit=${encodeURIComponent(opts.limit)}`);
      print(opts, r, () => table(['', 'ID', 'WHEN', 'AUTHOR', 'SOURCE', 'COMMENT'], r.revisions.map((v) => [v.current ? '*' : '', v.id, when(v.at), v.author, v.source, v.comment])));
    });

  program.command('diff').description('what a revision changed (YAML line diff), against the one before or --against')
    .argument('<id>', 'revision id')
    .option('--against <id>', 'revision to compare with')
    .option('--api <url>', `the Waymark API (default: $WAYMARK_API or ${DEFAULT_API})`)
    .option('--token <token>', 'API token (default: $WAYMARK_TOKEN)')
    .action(async (id: string, opts: ClientOptions & { against?: string }) => {
      const q = opts.against ? `?against=${encodeURIComponent(opts.against)}` : '';
      const r = await clientOf(opts).request<string>('GET', `/v1/revisions/${encodeURIComponent(id)}/diff${q}`, { text: true });
      process.stdout.write(r.body);
    });

  withApi(program.command('rollback').description('make an older revision the configuration in force (as a new revision)')
    .argument('<id>', 'revision id to go back to')
    .option('--if-match <rev>', 'only if the current revision is still this one'))
    .action(async (id: string, opts: ClientOptions & { ifMatch?: string }) => {
      const headers: Record<string, string> = opts.ifMatch ? { 'if-match': `"rev-${opts.ifMatch.replace(/^"?rev-|"$/g, '')}"` } : {};
      const r = await clientOf(opts).request<{ changed: boolean; revision: RevisionMeta }>('POST', `/v1/revisions/${encodeURIComponent(id)}/rollback`, { headers });
      print(opts, r.body, () => (r.body.changed ? `rolled back to revision ${id}: now revision ${r.body.revision.id}` : `revision ${id} is already in force (revision ${r.body.revision.id}); nothing changed`));
    });

  withApi(program.command('audit').description('the audit log, newest first')
    .option('--limit <n>', 'how many', '50')
    .option('--target <target>', 'only changes of this target, e.g. pools/eu'))
    .action(async (opts: ClientOptions & { limit: string; target?: string }) => {
      const q = new URLSearchParams({ limit: opts.limit, ...(opts.target ? { target: opts.target } : {}) });
      const r = await clientOf(opts).get<{ entries: AuditEntry[] }>(`/v1/audit?${q.toString()}`);
      print(opts, r, () => table(['ID', 'WHEN', 'ACTOR', 'FROM', 'ACTION', 'TARGET'], r.entries.map((e) => [e.id, when(e.at), e.actor, e.origin, e.action, e.target])));
    });

  withApi(program.command('api-explain').description('what would NAME return to a resolver, and why, as the running server decides now')
    .argument('<name>', 'the name asked')
    .requiredOption('-r, --resolver <ip>', 'the resolver address asking')
    .option('-s, --subnet <cidr>', 'client subnet sent as EDNS Client Subnet')
    .option('-t, --type <type>', 'A or AAAA', 'A'))
    .action(async (name: string, opts: ClientOptions & { resolver: string; subnet?: string; type: string }) => {
      const q = new URLSearchParams({ name, resolver: opts.resolver, type: opts.type, ...(opts.subnet ? { subnet: opts.subnet } : {}) });
      const e = await clientOf(opts).get<Explanation>(`/v1/explain?${q.toString()}`);
      print(opts, e, () => formatExplanation(e));
    });
}
