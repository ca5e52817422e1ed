// The declarative configuration: its schema and defaults. Its errors are shaped and rendered by errors.ts.
// Owns: what a valid waymark.yaml looks like. Knows nothing about sockets or zones' meaning beyond their shape.
import { z } from 'zod';
import os from 'node:os';
import net from 'node:net';
import { TSIG_ALGORITHMS, type TsigAlgorithm } from '../wire/tsig.js';
import { typeNumber } from '../wire/types.js';
import { parsePrefix } from '../net/prefix.js';
import { parseTarget } from '../dns/notify.js';
import { zodIssuesToErrors, type ConfigError } from './errors.js';

/** "10s", "500ms", "2m", "1h" or a number of seconds → milliseconds. */
export function parseDuration(v: string | number): number | undefined {
  if (typeof v === 'number') return v >= 0 ? v * 1000 : undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(v.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit]!;
  return n * scale;
}

/** A duration in milliseconds, at least `minMs` (checked here so an error shows the value as written). */
const durationAtLeast = (minMs: number, expected: string): z.ZodType<number, string | number> => z.union([z.number(), z.string()]).transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', input: v, message: 'is not a duration (use e.g. 500ms, 10s, 5m, or a number of seconds)' });
    return z.NEVER;
  }
  if (ms < minMs) {
    ctx.addIssue({ code: 'custom', input: v, message: `is too short; ${expected}` });
    return z.NEVER;
  }
  return ms;
});
const duration = durationAtLeast(0, '');

/** "127.0.0.1:5300", "[::1]:5300" → host and port. */
export function parseListen(v: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(v.trim());
  if (!m) return undefined;
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (!net.isIP(host) || port < 1 || port > 65535) return undefined;
  return { host, port };
}

const listen = z.string().transform((v, ctx) => {
  const l = parseListen(v);
  if (!l) {
    ctx.addIssue({ code: 'custom', input: v, message: 'is not ADDRESS:PORT (e.g. 127.0.0.1:5300 or [::1]:5300)' });
    return z.NEVER;
  }
  return l;
});

const ttl = z.number().int().min(0).max(2147483647);

/**
 * A default every entry of a large list shares: zod copies a default value for each object it fills in (100,000
 * names made 300,000 copies of the same arrays and objects, which the supervisor keeps). Frozen, so that a change to
 * one entry's default could not change them all: it throws.
 */
function shared<T extends object>(value: T): () => T {
  const frozen = Object.freeze(value);
  return () => frozen;
}

export const rrlSchema = z.object({
  enabled: z.boolean().default(true),
  responsesPerSecond: z.number().int().min(0).max(1_000_000).default(2000),
  nxdomainsPerSecond: z.number().int().min(0).max(1_000_000).default(1000),
  errorsPerSecond: z.number().int().min(0).max(1_000_000).default(500),
  window: z.number().int().min(1).max(3600).default(5),
  slip: z.number().int().min(0).max(10).default(2),
  ipv4PrefixLength: z.number().int().min(8).max(32).default(24),
  ipv6PrefixLength: z.number().int().min(16).max(128).default(56),
  tableSize: z.number().int().min(1024).max(16_777_216).default(65536),
}).strict();

export const serverSchema = z.object({
  listen: z.array(listen).min(1).prefault(['127.0.0.1:5300']),
  workers: z.number().int().min(1).max(256).default(() => Math.max(1, os.availableParallelism())),
  udpPayload: z.number().int().min(512).max(65535).default(1232),
  /** auto: batched recvmmsg/sendmmsg I/O when the native addon is built, else node:dgram. */
  udpTransport: z.enum(['auto', 'batched', 'dgram']).default('auto'),
  tcp: z.object({
    idleTimeout: duration.default(10_000),
    maxConnections: z.number().int().min(1).max(1_000_000).default(1024),
    maxQueriesPerConnection: z.number().int().min(1).max(1_000_000).default(10_000),
  }).strict().default({ idleTimeout: 10_000, maxConnections: 1024, maxQueriesPerConnection: 10_000 }),
  rrl: rrlSchema.default(rrlSchema.parse({})),
  pidFile: z.string().optional(),
}).strict();

export const recordSchema = z.object({
  name: z.string().min(1),
  type: z.string().min(1),
  ttl: ttl.optional(),
  value: z.string().optional(),
  values: z.array(z.string()).min(1).optional(),
}).strict().refine((r) => (r.value === undefined) !== (r.values === undefined), { message: 'give exactly one of value or values' });

const oneOrMany = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).transform((v) => (typeof v === 'string' ? [v] : v));
const cidr = z.string().refine((t) => parsePrefix(t) !== null, { message: 'is not an address or CIDR prefix (192.0.2.0/24, 2001:db8::/32)' });
const notifyAddress = z.string().refine((t) => parseTarget(t) !== null, { message: 'is not an address with an optional port (127.0.0.1:5354, [::1]:53, 192.0.2.1)' });
/** Who a rule is for: requests signed with one of `key`, and/or from an address in `from`. At least one of them. */
const accessFields = { key: oneOrMany.optional(), from: z.union([cidr, z.array(cidr).min(1)]).transform((v) => (typeof v === 'string' ? [v] : v)).optional() };
const accessSchema = z.object(accessFields).strict().refine((r) => r.key !== undefined || r.from !== undefined, { message: 'give key (a TSIG key name) and/or from (addresses)' });
/**
 * A dynamic update rule (like Knot's update ACLs): for whom, which owners (absolute names; "@" is the zone), which
 * types, and a cap on the records of an RRset. Every update RR needs a rule that permits it.
 */
const updateRuleSchema = z.object({
  ...accessFields,
  owners: z.object({
    exact: oneOrMany.optional(),
    subtree: oneOrMany.optional(),
    below: oneOrMany.optional(),
    pattern: oneOrMany.optional(),
    keyName: z.boolean().optional(),
  }).strict().optional(),
  types: z.array(z.string().min(1).refine((t) => typeNumber(t) !== undefined, { message: 'is not a record type (A, AAAA, TXT, TYPE65280…)' })).min(1).optional(),
  maxRecords: z.number().int().min(1).max(65535).optional(),
}).strict().refine((r) => r.key !== undefined || r.from !== undefined, { message: 'give key (a TSIG key name) and/or from (addresses): no key, no update' });
export type UpdateRuleConfig = z.infer<typeof updateRuleSchema>;
export type AccessConfig = z.infer<typeof accessSchema>;

export const zoneSchema = z.object({
  /** Optional when `file` is given: the file's $ORIGIN or SOA owner is used. */
  origin: z.string().min(1).optional(),
  file: z.string().optional(),
  /** The zone as master-file text inline (what revisions and `waymark export` use instead of a file path). */
  text: z.string().optional(),
  ttl: ttl.default(300),
  soa: z.object({
    mname: z.string().optional(),
    rname: z.string().optional(),
    serial: z.number().int().min(0).max(4294967295).optional(),
    refresh: ttl.default(3600),
    retry: ttl.default(600),
    expire: ttl.default(604800),
    minimum: ttl.default(60),
    ttl: ttl.optional(),
  }).strict().optional(),
  ns: z.array(z.string()).optional(),
  records: z.array(recordSchema).default([]),
  /** How the SOA serial advances with each change (UPDATE, a revision that changes the zone). */
  serial: z.enum(['increment', 'unixtime', 'dateserial']).default('increment'),
  /** Who may change what by dynamic update (RFC 2136); without rules, nothing. */
  update: z.array(updateRuleSchema).optional(),
  /** Who may transfer the zone (AXFR/IXFR): by key and/or address; without rules, nobody. */
  transfer: z.array(accessSchema).optional(),
  /** Secondaries sent NOTIFY (RFC 1996) on every change: "host:port" (port 53 when left out). */
  notify: z.array(z.union([
    notifyAddress,
    z.object({ address: notifyAddress, key: z.string().min(1).optional() }).strict(),
  ]).transform((t) => (typeof t === 'string' ? { address: t } : t))).optional(),
  /** Changes kept in the zone's journal for IXFR (older serials get the whole zone). */
  journal: z.number().int().min(1).max(100_000).default(1000),
}).strict()
  .refine((zc) => zc.origin !== undefined || zc.file !== undefined || zc.text !== undefined, { message: 'give origin (or a file or text whose $ORIGIN or SOA names it)' })
  .refine((zc) => !(zc.file !== undefined && zc.text !== undefined), { message: 'give file or text, not both' });

const metricsSchema = z.object({
  'packet-rate': z.number().min(0).optional(),
  cpu: z.number().min(0).optional(),
  connections: z.number().min(0).optional(),
  rtt: z.number().min(0).optional(),
  'packet-loss': z.number().min(0).optional(),
  hops: z.number().min(0).optional(),
  'reported-load': z.number().min(0).optional(),
}).strict();

export const memberSchema = z.object({
  address: z.string().refine((a) => net.isIP(a) !== 0, { message: 'is not an IPv4 or IPv6 address' }),
  port: z.number().int().min(1).max(65535).optional(),
  weight: z.number().min(0).max(1_000_000).default(1),
  enabled: z.boolean().default(true),
  metrics: metricsSchema.optional(),
  /** Check this address/port instead of the answered one (e.g. a health port or a management address). */
  probe: z.object({ address: z.string().refine((a) => net.isIP(a) !== 0, { message: 'is not an IPv4 or IPv6 address' }).optional(), port: z.number().int().min(1).max(65535).optional() }).strict().optional(),
  /** Who registered the member by dynamic update ("key ddns"): set by Waymark in a dynamic pool; a reload keeps it. */
  registered: z.string().min(1).optional(),
}).strict();

// ---- health monitors (SPEC H1) ----
const monitorCommon = {
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: 'use letters, digits, "_", "-" and "."' }),
  interval: durationAtLeast(1000, 'use at least 1s').default(5000),
  timeout: durationAtLeast(1, 'use more than 0').default(1000),
  /** Consecutive successes that bring a down member up, and failures that take an up member down (damping). */
  rise: z.number().int().min(1).max(100).default(2),
  fall: z.number().int().min(1).max(100).default(2),
  /** Port to check; default: the member's port, else the type's usual port. */
  port: z.number().int().min(1).max(65535).optional(),
};
const httpExpect = z.object({
  status: z.array(z.number().int().min(100).max(599)).min(1).default([200]),
  /** Regular expression the body must match. */
  body: z.string().optional(),
}).strict().default({ status: [200] });

export const monitorSchema = z.discriminatedUnion('type', [
  z.object({ ...monitorCommon, type: z.literal('tcp') }).strict(),
  z.object({
    ...monitorCommon, type: z.literal('tcp-send-expect'),
    send: z.string().default(''),
    /** Regular expression the reply must match (matched against the reply decoded as latin1). */
    expect: z.string().min(1),
  }).strict(),
  z.object({
    ...monitorCommon, type: z.literal('http'),
    method: z.enum(['GET', 'HEAD', 'POST', 'OPTIONS']).default('GET'),
    path: z.string().startsWith('/').default('/'),
    host: z.string().optional(),
    expect: httpExpect,
  }).strict(),
  z.object({
    ...monitorCommon, type: z.literal('https'),
    method: z.enum(['GET', 'HEAD', 'POST', 'OPTIONS']).default('GET'),
    path: z.string().startsWith('/').default('/'),
    host: z.string().optional(),
    /** TLS server name (SNI); default: host, else none for an IP address. */
    sni: z.string().optional(),
    /** Accept any certificate (self-signed backends). */
    insecure: z.boolean().default(false),
    expect: httpExpect,
  }).strict(),
  z.object({
    ...monitorCommon, type: z.literal('dns'),
    qname: z.string().min(1),
    qtype: z.enum(['A', 'AAAA', 'SOA', 'NS', 'TXT', 'MX', 'CNAME']).default('A'),
    transport: z.enum(['udp', 'tcp']).default('udp'),
    expect: z.object({
      rcode: z.enum(['NOERROR', 'NXDOMAIN', 'REFUSED', 'SERVFAIL']).default('NOERROR'),
      address: z.string().optional(),
    }).strict().default({ rcode: 'NOERROR' }),
  }).strict(),
  z.object({
    ...monitorCommon, type: z.literal('agent'),
    /** HTTP path of the member's agent endpoint; it answers HAProxy agent-check words: up, down, drain, weight:NN%, load:NN, conns:NN, cpu:NN. */
    path: z.string().startsWith('/').default('/'),
  }).strict(),
]);
export type MonitorSpec = z.infer<typeof monitorSchema>;

export const healthSchema = z.object({
  /** Probers that check each target (primary and backups), when external probers are joined. */
  replicas: z.number().int().min(1).max(9).default(2),
  /** A member is down when at least this many of the probers reporting on it say down (default: majority). */
  quorum: z.number().int().min(1).max(9).optional(),
  /** Run monitors inside the server process (the single-node default). */
  localProber: z.boolean().default(true),
  /** Where external probers join (`waymark prober --join http://ADDR:PORT`). */
  distributor: z.object({ listen: listen, token: z.string().min(16, { message: 'use at least 16 characters' }) }).strict().optional(),
}).strict();

const poolName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: 'use letters, digits, "_", "-" and "."' });

export const poolSchema = z.object({
  name: poolName,
  select: z.array(z.string()).min(1).default(shared(['round-robin'])),
  /** One monitor by name, or several with a rule. */
  monitor: z.string().optional(),
  monitors: z.array(z.string()).min(1).optional(),
  /** With several monitors: up when all pass (default) or when at least N pass. */
  rule: z.union([z.literal('all'), z.object({ atLeast: z.number().int().min(1) }).strict()]).default('all'),
  members: z.array(memberSchema),
  /**
   * Members may also be registered by dynamic update (RFC 2136): A/AAAA adds and deletes at a policy name answered by
   * this pool add and remove members (marked `registered`). It may then start with none.
   */
  dynamic: z.boolean().default(false),
}).strict().refine((p) => !(p.monitor !== undefined && p.monitors !== undefined), { message: 'give monitor or monitors, not both' })
  .refine((p) => p.dynamic || p.members.length > 0, { message: 'give at least one member (or make the pool dynamic: true, for members registered by dynamic update)', path: ['members'] });

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { message: 'is not a time of day HH:MM' });

export const nameSchema = z.object({
  name: z.string().min(1),
  ttl: ttl.default(30),
  pools: z.array(poolName).min(1),
  select: z.array(z.string()).min(1).default(shared(['global-availability'])),
  fallback: z.union([
    z.object({ address: z.string().refine((a) => net.isIP(a) !== 0, { message: 'is not an IPv4 or IPv6 address' }) }).strict(),
    z.object({ addresses: z.array(z.string().refine((a) => net.isIP(a) !== 0, { message: 'is not an IPv4 or IPv6 address' })).min(1) }).strict(),
    z.object({ method: z.literal('round-robin-ignore-health') }).strict(),
    z.object({ rcode: z.enum(['SERVFAIL', 'REFUSED', 'NXDOMAIN', 'NODATA']) }).strict(),
  ]).optional(),
  persistence: z.object({
    ttl: duration,
    schedule: z.array(z.object({ from: hhmm, to: hhmm, ttl: duration }).strict()).default([]),
    key: z.enum(['resolver', 'subnet']).default('resolver'),
  }).strict().optional(),
  answer: z.object({ count: z.number().int().min(1).max(16).default(1) }).strict().default(shared({ count: 1 })),
}).strict();

export const topologySchema = z.object({
  regions: z.array(z.object({ name: z.string().min(1), cidrs: z.array(z.string()).min(1) }).strict()).default([]),
  rules: z.array(z.object({ from: z.string().min(1), to: z.string().min(1), weight: z.number().min(0).optional() }).strict()).default([]),
}).strict();

// ---- the dispatcher (SPEC P1-P6): cluster address → ports → server daemons ----
const ipAddress = z.string().refine((a) => net.isIP(a) !== 0, { message: 'is not an IPv4 or IPv6 address' });
const portNumber = z.number().int().min(1).max(65535);
export const DISPATCH_METHODS = ['round-robin', 'weighted-round-robin', 'least-connections', 'weighted-least-connections'] as const;
export const daemonSchema = z.object({
  address: ipAddress,
  port: portNumber,
  /** Share of new connections (weighted methods); 0 quiesces it (no new connections, as in IPVS). */
  weight: z.number().int().min(0).max(10_000).default(1),
  /** Open connections (and UDP flows) it may have at once; beyond it, it gets no new ones. */
  maxConnections: z.number().int().min(1).max(1_000_000).optional(),
  /** Tell the daemon the real client with a PROXY protocol header (v1: TCP only; v2: TCP and UDP). */
  proxyProtocol: z.union([z.literal(1), z.literal(2)]).optional(),
}).strict();
export const dispatchPortSchema = z.object({
  port: portNumber,
  protocol: z.enum(['tcp', 'udp', 'both']).default('tcp'),
  method: z.enum(DISPATCH_METHODS).default('round-robin'),
  /** A monitor of `monitors:` checking each daemon (spawned daemons without one get a TCP connect check). */
  monitor: z.string().optional(),
  daemons: z.array(daemonSchema).default([]),
  /** Start `count` copies of `command` ({address} and {port} replaced), on address:basePort, basePort+1, …. */
  spawn: z.object({
    command: z.string().min(1),
    count: z.number().int().min(1).max(256),
    address: ipAddress,
    basePort: portNumber,
  }).strict().optional(),
  /** Idle TCP connections and UDP flows are collected after these (IPVS's defaults: 15 min and 5 min). */
  timeouts: z.object({
    tcp: durationAtLeast(1000, 'use at least 1s').default(900_000),
    udp: durationAtLeast(100, 'use at least 100ms').default(300_000),
  }).strict().default({ tcp: 900_000, udp: 300_000 }),
  /** UDP: one reply ends a flow (DNS); otherwise a flow lasts until it is idle for timeouts.udp. */
  oneReply: z.boolean().default(false),
  /** What a daemon judged down does to its open connections: keep them (the default, as IPVS) or close them. */
  onDown: z.enum(['keep', 'close']).default('keep'),
}).strict().refine((p) => p.daemons.length > 0 || p.spawn !== undefined, { message: 'give daemons or spawn', path: ['daemons'] });
export const dispatcherSchema = z.object({
  clusters: z.array(z.object({ address: ipAddress, ports: z.array(dispatchPortSchema).min(1) }).strict()).min(1),
  /** Connections and UDP flows the table holds at most; beyond it new ones are refused. */
  maxConnections: z.number().int().min(1).max(10_000_000).default(100_000),
}).strict();
export type DispatcherConfig = z.infer<typeof dispatcherSchema>;
export type DispatchPort = z.infer<typeof dispatchPortSchema>;
export type DaemonConfig = z.infer<typeof daemonSchema>;

// ---- shared public addresses (SPEC L1-L5): a pool leased on demand to many servers ----
const leaseName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: 'use letters, digits, "_", "-" and "."' });
export const addressPoolSchema = z.object({
  name: leaseName,
  /** CIDRs and single addresses (IPv4 and/or IPv6). */
  addresses: z.array(z.string().min(1)).min(1),
  /** A new lease's time, and what each later query for its name adds (seed defaults: 200 s and 60 s). */
  leaseTtl: durationAtLeast(1000, 'use at least 1s').default(200_000),
  extendBy: durationAtLeast(0, '').default(60_000),
  /** Below this many free addresses (or this share of the pool), lease times are shortened. */
  lowWater: z.union([z.number().int().min(0), z.string().regex(/^\d{1,2}(\.\d+)?%$|^100%$/, 'a number of addresses or a percentage like "20%"')]).default(0),
  /** A returned address waits this long before it is leased again (resolvers that stretch TTLs a little). */
  cooldown: durationAtLeast(0, '').default(30_000),
  onExhausted: z.enum(['servfail', 'reclaim-idlest']).default('servfail'),
  /** What the forwarder carries for each lease: these ports of the public address to the server's private one. */
  forward: z.array(z.object({ port: portNumber, protocol: z.enum(['tcp', 'udp', 'both']).default('tcp') }).strict()).default([]),
}).strict();
export const leasedServerSchema = z.object({ name: leaseName, address: ipAddress }).strict();
export const leasedNameSchema = z.object({ name: z.string().min(1), pool: leaseName, servers: z.array(leaseName).min(1) }).strict();
export type AddressPoolConfig = z.infer<typeof addressPoolSchema>;
export type LeasedNameConfig = z.infer<typeof leasedNameSchema>;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
export const tsigKeySchema = z.object({
  name: z.string().min(1).max(253).regex(/^[A-Za-z0-9_*]([A-Za-z0-9_*-]*\.?)*$/, 'a domain name (letters, digits, "-", "_", dots)'),
  algorithm: z.enum(Object.keys(TSIG_ALGORITHMS) as [TsigAlgorithm, ...TsigAlgorithm[]]),
  // The secret is never echoed in an error: the message says what is wrong with it, not what it is.
  secret: z.string().min(4, 'must be the base64 secret tsig-keygen prints').regex(BASE64, 'must be base64 (as tsig-keygen prints it)'),
}).strict();

function uniqueKeyNames(keys: ReadonlyArray<{ name: string }>, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  keys.forEach((k, i) => {
    const n = k.name.toLowerCase().replace(/\.$/, '');
    if (seen.has(n)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `a second key named ${k.name}` });
    seen.add(n);
  });
}

export const configSchema = z.object({
  server: serverSchema.default(serverSchema.parse({})),
  zones: z.array(zoneSchema).default([]),
  monitors: z.array(monitorSchema).default([]),
  health: healthSchema.default(healthSchema.parse({})),
  names: z.array(nameSchema).default([]),
  pools: z.array(poolSchema).default([]),
  topology: topologySchema.default({ regions: [], rules: [] }),
  resolverGroups: z.array(z.object({ name: z.string().min(1), members: z.array(z.string()).min(1) }).strict()).default([]),
  /** Resolvers sharing these prefixes count as one for persistence when no listed group matches (SPEC G5). */
  resolverGrouping: z.object({
    ipv4PrefixLength: z.number().int().min(1).max(32).optional(),
    ipv6PrefixLength: z.number().int().min(1).max(128).optional(),
    /**
     * Group resolvers seen asking for the same ECS client subnet: each must have sent `threshold` queries for it
     * within `expiry` (issue 11; shared between the nodes of a cluster).
     */
    ecs: z.object({
      threshold: z.number().int().min(1).max(1_000_000).default(3),
      expiry: durationAtLeast(1000, 'use at least 1s').default(3_600_000),
    }).strict().optional(),
  }).strict().optional(),
  /** Persistence records: in memory, bounded, and written to the store when one is configured. */
  persistence: z.object({ maxRecords: z.number().int().min(1000).max(50_000_000).default(1_000_000) }).strict().default({ maxRecords: 1_000_000 }),
  /**
   * Where state lives. `path`: the embedded database directory (SQLite, one node); relative to the config file.
   * `postgres`: a PostgreSQL URL (cluster mode: several nodes share it); its password may be in the URL, in
   * PGPASSWORD or in `passwordFile`. Without a store, state lives in memory only.
   */
  store: z.object({
    path: z.string().min(1).optional(),
    postgres: z.string().min(1).refine(isPostgresUrl, 'must be a URL postgresql://user@host:port/database').optional(),
    passwordFile: z.string().min(1).optional(),
    connections: z.number().int().min(2).max(64).optional(),
  }).strict()
    .refine((s) => (s.path === undefined) !== (s.postgres === undefined), 'give exactly one of path: (SQLite, one node) and postgres: (cluster mode)')
    .refine((s) => s.passwordFile === undefined || s.postgres !== undefined, { message: 'passwordFile is for postgres:', path: ['passwordFile'] })
    .optional(),
  /** This node, as the cluster knows it (the feed, GET /v1/nodes). Default: the host name. */
  node: z.object({ name: z.string().min(1).max(63).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-"') }).strict().optional(),
  /**
   * TSIG keys (RFC 8945), as `tsig-keygen` prints them: name, algorithm, base64 secret. Bootstrap: they live in this
   * file only (never in revisions, never exported or logged in clear).
   */
  keys: z.array(tsigKeySchema).superRefine(uniqueKeyNames).optional(),
  /** The REST API and dashboard (needs store:, where configuration revisions, tokens and the audit log live). */
  api: z.object({ listen: listen }).strict().optional(),
  /** Query log (SPEC C3): one JSON line for a `sample` fraction of the queries of these policy names. */
  /** Public addresses leased on demand (SPEC L1-L5): the pools, the servers (by private address) and the names they host. */
  addressPools: z.array(addressPoolSchema).default([]),
  leasedServers: z.array(leasedServerSchema).default([]),
  leasedNames: z.array(leasedNameSchema).default([]),
  /** The L4 dispatcher of this node (SPEC P1-P6): many daemons behind one address and port. */
  dispatcher: dispatcherSchema.optional(),
  queryLog: z.object({ names: z.array(z.string().min(1)).min(1), sample: z.number().min(0).max(1).default(1) }).strict().optional(),
}).strict();

export type Config = z.infer<typeof configSchema>;

/** Whether `s` is a PostgreSQL connection URL (postgres:// or postgresql://, with a host). */
function isPostgresUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'postgres:' || u.protocol === 'postgresql:') && u.hostname !== '';
  } catch {
    return false;
  }
}
export type ZoneConfig = z.infer<typeof zoneSchema>;
export type ServerConfig = z.infer<typeof serverSchema>;

export type { ConfigError } from './errors.js';
export { formatErrors, formatPath } from './errors.js';

/** Zod issues of a configuration (parsed with `reportInput: true`) → ConfigErrors; see errors.ts. */
export function issuesToErrors(issues: ReadonlyArray<z.core.$ZodIssue>, root: z.ZodType = configSchema): ConfigError[] {
  return zodIssuesToErrors(issues, root);
}
