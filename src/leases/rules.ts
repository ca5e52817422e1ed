// The lease rules of seed 000 (SPEC L2, L3) as pure functions of a pool's settings, its leases and the clock, so
// that the query path, the background sweep and the tests share one reading of them. Owns: lease times (FIG. 4's
// 200 s and +60 s, FIG. 6's shortening below low water, FIG. 7's adaptation to a server's requests), the choice
// among a name's leases, which server of a name gets the next address, what an expired lease does, and which lease
// an exhausted pool reclaims. Never reads the clock, the store or the network itself.

export interface PoolRules {
  leaseTtl: number;
  extendBy: number;
  /** Free addresses below which lease times shrink (FIG. 6). */
  lowWater: number;
  cooldown: number;
  onExhausted: 'servfail' | 'reclaim-idlest';
}

/** What the rules read of a lease. */
export interface LeaseView {
  address: string;
  name: string;
  server: string;
  leasedAt: number;
  expiresAt: number;
  /** Requests (TCP connections and UDP flows) its server received through the forwarder, and how many at the last extension. */
  requests: number;
  requestsAtExtension: number;
  open: number;
}

/** Below low water a lease time is scaled by free/lowWater, never below a quarter: addresses come back sooner. */
export function scarcity(rules: PoolRules, free: number): number {
  if (rules.lowWater <= 0 || free >= rules.lowWater) return 1;
  return Math.max(0.25, free / rules.lowWater);
}

/** A new lease's time (FIG. 4: leaseTtl; FIG. 6: shorter below low water). */
export function grantMs(rules: PoolRules, free: number): number {
  return Math.round(rules.leaseTtl * scarcity(rules, free));
}

/**
 * The expiry after one more query for the lease's name (FIG. 4: + extendBy). FIG. 7: a lease whose server received
 * no request through the forwarder since its last extension gets half the step (an idle server gives its address
 * back sooner); FIG. 6 scales the step below low water. An expired-but-kept lease extends from now. The remaining
 * time never exceeds leaseTtl + extendBy (the seed's 260 s), however many queries come.
 */
export function extendedExpiry(rules: PoolRules, lease: LeaseView, now: number, free: number): number {
  const idle = lease.requests === lease.requestsAtExtension;
  const step = rules.extendBy * scarcity(rules, free) * (idle ? 0.5 : 1);
  return Math.min(Math.max(lease.expiresAt, now) + Math.round(step), now + rules.leaseTtl + rules.extendBy);
}

/** The answer's TTL in whole seconds, never past the lease's expiry (rounded down). */
export function answerTtl(expiresAt: number, now: number): number {
  return Math.max(0, Math.floor((expiresAt - now) / 1000));
}

/** Of a name's leases in force, the one to answer with: its server had the fewest requests; ties by address. */
export function chooseLease<L extends LeaseView>(leases: readonly L[]): L | null {
  let best: L | null = null;
  for (const l of leases) {
    if (best === null || l.requests < best.requests || (l.requests === best.requests && l.address < best.address)) best = l;
  }
  return best;
}

/**
 * Which of a name's servers (in configured order) should lease an address now, or null: the first server when the
 * name has no lease; while free addresses stay above low water, the next server without one (so a name served by
 * several servers spreads over them one query at a time); below low water, none (one address per name).
 */
export function serverToLease(servers: readonly string[], leased: ReadonlySet<string>, rules: PoolRules, free: number): string | null {
  if (leased.size === 0) return servers[0] ?? null;
  if (free <= rules.lowWater || free === 0) return null;
  return servers.find((s) => !leased.has(s)) ?? null;
}

/**
 * What an expired lease does (FIG. 5): kept for another leaseTtl when its server still has open connections through
 * the forwarder, else returned (to cool down for `cooldown`).
 */
export function onExpiry(rules: PoolRules, lease: LeaseView, now: number): { keep: true; expiresAt: number } | { keep: false; coolUntil: number } | null {
  if (lease.expiresAt > now) return null;
  return lease.open > 0 ? { keep: true, expiresAt: now + rules.leaseTtl } : { keep: false, coolUntil: now + rules.cooldown };
}

/**
 * The lease an exhausted pool takes back for `forName` (onExhausted: reclaim-idlest): one of another name with no
 * open connection, its server the least requested (then the oldest); null when there is none, or the policy is
 * servfail.
 */
export function reclaimable<L extends LeaseView>(rules: PoolRules, leases: readonly L[], forName: string): L | null {
  if (rules.onExhausted !== 'reclaim-idlest') return null;
  let best: L | null = null;
  for (const l of leases) {
    if (l.open > 0 || l.name === forName) continue;
    if (best === null || l.requests < best.requests || (l.requests === best.requests && l.leasedAt < best.leasedAt)) best = l;
  }
  return best;
}
