// Resolver groups gathered from ECS (SPEC G5, issue 11 §3): resolvers seen sending queries for the same client
// subnet serve the same clients (the anycast instances of one public resolver, say), so they share persistence
// records. Two parts:
//   - EcsObservations, in each worker's engine: which resolver sent queries for which client subnet, counted, drained
//     every second (bounded; nothing is allocated for a pair already seen in the interval);
//   - EcsGrouper, in the supervisor: the links (subnet, resolver) of every worker and every node, each with its count
//     and last sighting; resolvers linked through a subnet that each sent at least `threshold` queries for it within
//     `expiry` are one group (and transitively: groups are connected components). A group is named by its smallest
//     member, so every node that knows the same links names the same groups.
// Owns those rules. The keys these groups give are in resolver-groups.ts.

/** [resolver text, subnet text, queries] as workers ship them. */
export type EcsSighting = [resolver: string, subnet: string, n: number];
/** [subnet, resolver, queries, last seen (ms)] as nodes publish them. */
export type EcsLink = [subnet: string, resolver: string, n: number, last: number];

/** Pairs a worker keeps per interval; beyond it new pairs wait for the next interval. */
const OBSERVATION_CAP = 4096;

export class EcsObservations {
  private readonly pairs = new Map<number, Map<number, EcsSighting>>();
  private size = 0;

  /** A query from resolver key `r` carried client subnet key `s`; `text` describes either (called for a new pair only). */
  see(r: number, s: number, text: (which: 'resolver' | 'subnet') => string): void {
    let bySubnet = this.pairs.get(s);
    const have = bySubnet?.get(r);
    if (have !== undefined) {
      have[2]++;
      return;
    }
    if (this.size >= OBSERVATION_CAP) return;
    if (bySubnet === undefined) {
      bySubnet = new Map();
      this.pairs.set(s, bySubnet);
    }
    bySubnet.set(r, [text('resolver'), text('subnet'), 1]);
    this.size++;
  }

  /** What was seen since the last drain. */
  drain(): EcsSighting[] {
    const out: EcsSighting[] = [];
    for (const m of this.pairs.values()) for (const x of m.values()) out.push(x);
    this.pairs.clear();
    this.size = 0;
    return out;
  }
}

interface LinkState { n: number; last: number; byNode: Map<string, { n: number; last: number }> }

export interface EcsGroupingOptions {
  /** Queries a resolver must have sent for a subnet within `expiryMs` for the link to count. */
  threshold: number;
  expiryMs: number;
  /** Most links kept (the oldest go first). */
  maxLinks?: number;
}

export class EcsGrouper {
  /** subnet → resolver → link. */
  private readonly links = new Map<string, Map<string, LinkState>>();
  private count = 0;
  /** Links this node saw since it last published. */
  private fresh = new Map<string, EcsLink>();
  private current = new Map<string, string>();

  constructor(private readonly node: string, private opts: EcsGroupingOptions) {}

  configure(opts: EcsGroupingOptions): void {
    this.opts = opts;
  }

  /** This node's workers saw these. */
  observe(sightings: readonly EcsSighting[], now: number): void {
    for (const [resolver, subnet, n] of sightings) {
      const l = this.add(this.node, subnet, resolver, n, now);
      this.fresh.set(`${subnet}\n${resolver}`, [subnet, resolver, l.byNode.get(this.node)!.n, now]);
    }
  }

  /** Another node's links (its counts replace what it said before). */
  merge(node: string, links: readonly EcsLink[]): void {
    for (const [subnet, resolver, n, last] of links) this.add(node, subnet, resolver, n, last, true);
  }

  /** This node's links seen since the last call, to publish (at most `max`). */
  takeFresh(max = 2000): EcsLink[] {
    const out = [...this.fresh.values()].slice(0, max);
    this.fresh = new Map([...this.fresh].slice(max));
    return out;
  }

  private add(node: string, subnet: string, resolver: string, n: number, at: number, replace = false): LinkState {
    let bySubnet = this.links.get(subnet);
    if (bySubnet === undefined) this.links.set(subnet, bySubnet = new Map());
    let l = bySubnet.get(resolver);
    if (l === undefined) {
      bySubnet.set(resolver, l = { n: 0, last: 0, byNode: new Map() });
      this.count++;
    }
    const mine = l.byNode.get(node) ?? { n: 0, last: 0 };
    mine.n = replace ? n : mine.n + n;
    mine.last = Math.max(mine.last, at);
    l.byNode.set(node, mine);
    l.n = 0;
    for (const x of l.byNode.values()) l.n += x.n;
    l.last = Math.max(l.last, at);
    return l;
  }

  /**
   * The groups at `now`: resolver → group name ("ecs:" and its smallest member). Links past their expiry are
   * dropped first. `changed` says whether the mapping differs from the last call's.
   */
  groups(now: number): { groups: Map<string, string>; changed: boolean } {
    const { threshold, expiryMs } = this.opts;
    const parent = new Map<string, string>();
    const find = (x: string): string => {
      let r = x;
      while (parent.get(r) !== r) r = parent.get(r)!;
      for (let y = x; y !== r;) { const up = parent.get(y)!; parent.set(y, r); y = up; }
      return r;
    };
    for (const [subnet, bySubnet] of this.links) {
      let first: string | null = null;
      for (const [resolver, l] of bySubnet) {
        if (now - l.last > expiryMs) { bySubnet.delete(resolver); this.count--; continue; }
        if (l.n < threshold) continue;
        if (!parent.has(resolver)) parent.set(resolver, resolver);
        if (first === null) { first = resolver; continue; }
        // Union by the smaller name, so a group's root is its smallest member whatever order links came in.
        const a = find(first);
        const b = find(resolver);
        if (a !== b) { if (a < b) parent.set(b, a); else parent.set(a, b); }
      }
      if (bySubnet.size === 0) this.links.delete(subnet);
    }
    this.trim();
    const size = new Map<string, number>();
    for (const r of parent.keys()) size.set(find(r), (size.get(find(r)) ?? 0) + 1);
    const out = new Map<string, string>();
    for (const r of parent.keys()) if ((size.get(find(r)) ?? 0) > 1) out.set(r, `ecs:${find(r)}`);
    const changed = out.size !== this.current.size || [...out].some(([k, v]) => this.current.get(k) !== v);
    this.current = out;
    return { groups: out, changed };
  }

  /** Beyond maxLinks, the links seen longest ago go. */
  private trim(): void {
    const max = this.opts.maxLinks ?? 100_000;
    if (this.count <= max) return;
    const all: Array<[string, string, number]> = [];
    for (const [s, m] of this.links) for (const [r, l] of m) all.push([s, r, l.last]);
    all.sort((a, b) => a[2] - b[2]);
    for (const [s, r] of all.slice(0, this.count - max)) {
      this.links.get(s)?.delete(r);
      if (this.links.get(s)?.size === 0) this.links.delete(s);
    }
    this.count = max;
  }
}
