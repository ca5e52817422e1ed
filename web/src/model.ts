// What the dashboard reads from the API, in SPEC vocabulary (name, pool, member, resolver), and the few rules that
// turn raw views into what an operator sees (a member's effective state and colour).
// Owns: the shapes and their normalisation. Never fetches; the views do.

export type AdminState = 'auto' | 'up' | 'down' | 'drain';

export interface NameConfig {
  name: string;
  ttl?: number | string;
  pools: string[];
  select?: string[];
  fallback?: Record<string, unknown>;
  persistence?: { ttl?: number | string; key?: string };
  answer?: { count?: number };
}

export interface MemberConfig {
  address: string;
  port?: number;
  weight?: number;
  enabled?: boolean;
  /** "address" or "address:port" ("[v6]:port"), as in persistence records and the API paths. */
  id: string;
}

export interface PoolConfig {
  name: string;
  select?: string[];
  monitor?: string;
  monitors?: string[];
  members: MemberConfig[];
}

export interface Metrics { rtt?: number; 'packet-loss'?: number; connections?: number; cpu?: number; 'reported-load'?: number; [k: string]: number | undefined }

export interface MemberHealth {
  pool: string;
  member: string;
  up: boolean;
  drain: boolean;
  weightScale: number;
  metrics: Metrics;
  detail: string;
  since: number;
  admin: AdminState;
  adminBy?: string;
  adminAt?: number;
}

export interface ProberView { name: string; state: string; capacity?: number | null; assigned?: number; primaryFor?: number; lastSeen?: number; targets?: unknown[] }

export interface NodeView { name: string; self: boolean; state: 'up' | 'gone'; role: 'leader' | 'follower' | 'single'; revision: number; position: number; lag: number; age: number; seenAt: number; startedAt: number; host: string; api: string | null }

export interface StoreStatusView { backend: string; state: 'ok' | 'degraded'; since: number | null; error: string | null; queued: number; position: number; head: number }

export interface PersistRecordView { name: string; key?: number | string; keyText?: string; resolver?: string; pool: string; member: string; ts?: number; ttlMs?: number; hits?: number; expiresAt?: number }

export interface RevisionMeta { id: number; at: number; author: string; source: string; comment: string; hash?: string; current?: boolean }

export interface AuditEntry { id: number; at: number; actor: string; action: string; target: string; before: unknown; after: unknown }

export interface Series { step: number; names: Record<string, number[]>; members: Record<string, number[]> }

export interface Explanation {
  rcode: string;
  answers: Array<{ name: string; type: string; ttl: number; data: string }>;
  scope: number | null;
  policy: boolean;
  steps: Array<{ step: string; detail: string }>;
}

export function memberKey(m: { address: string; port?: number }): string {
  return m.port !== undefined ? (m.address.includes(':') ? `[${m.address}]:${m.port}` : `${m.address}:${m.port}`) : m.address;
}

function asStringList(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  return v.map((x) => (typeof x === 'string' ? x : x && typeof x === 'object' && 'name' in x ? String((x as { name: unknown }).name) : String(x)));
}

export function normaliseName(raw: Record<string, unknown>): NameConfig {
  return { ...(raw as object), name: String(raw.name), pools: asStringList(raw.pools), select: raw.select ? asStringList(raw.select) : undefined } as NameConfig;
}

export function normalisePool(raw: Record<string, unknown>): PoolConfig {
  const members = Array.isArray(raw.members) ? (raw.members as Array<Record<string, unknown>>) : [];
  return {
    ...(raw as object),
    name: String(raw.name),
    select: raw.select ? asStringList(raw.select) : undefined,
    members: members.map((m) => {
      const address = String(m.address ?? m.member ?? '');
      const port = typeof m.port === 'number' ? m.port : undefined;
      return { ...(m as object), address, port, id: typeof m.id === 'string' ? m.id : typeof m.member === 'string' ? m.member : memberKey({ address, port }) } as MemberConfig;
    }),
  } as PoolConfig;
}

function adminOf(raw: Record<string, unknown>): { state: AdminState; by?: string } {
  const a = raw.admin ?? raw.adminState ?? raw.admin_state;
  const pick = (v: unknown): AdminState => (v === 'up' || v === 'down' || v === 'drain' ? v : 'auto');
  if (a && typeof a === 'object') {
    const o = a as { state?: unknown; by?: unknown };
    return { state: pick(o.state), by: typeof o.by === 'string' ? o.by : undefined };
  }
  return { state: pick(a) };
}

export function normaliseHealth(raw: Record<string, unknown>): MemberHealth {
  const admin = adminOf(raw);
  return {
    pool: String(raw.pool),
    member: String(raw.member),
    up: raw.up !== false,
    drain: raw.drain === true,
    weightScale: typeof raw.weightScale === 'number' ? raw.weightScale : 1,
    metrics: (raw.metrics && typeof raw.metrics === 'object' ? raw.metrics : {}) as Metrics,
    detail: typeof raw.detail === 'string' ? raw.detail : '',
    since: typeof raw.since === 'number' ? raw.since : 0,
    admin: admin.state,
    adminBy: typeof raw.adminBy === 'string' ? raw.adminBy : admin.by,
    adminAt: typeof raw.adminAt === 'number' ? raw.adminAt : undefined,
  };
}

/** What an operator needs to know at a glance: the colour class and a word. */
export interface Effective { tone: 'up' | 'down' | 'warn' | 'off'; label: string; serving: boolean }

export function effectiveState(h: MemberHealth | undefined, enabled: boolean): Effective {
  if (!enabled) return { tone: 'off', label: 'disabled in config', serving: false };
  if (!h) return { tone: 'up', label: 'up', serving: true };
  switch (h.admin) {
    case 'down': return { tone: 'warn', label: 'disabled by operator', serving: false };
    case 'drain': return { tone: 'warn', label: 'draining (operator)', serving: false };
    case 'up': return { tone: 'warn', label: h.up ? 'forced up' : 'forced up (checks fail)', serving: true };
    default: break;
  }
  if (!h.up) return { tone: 'down', label: 'down', serving: false };
  if (h.drain) return { tone: 'warn', label: 'draining (agent)', serving: false };
  return { tone: 'up', label: 'up', serving: true };
}
