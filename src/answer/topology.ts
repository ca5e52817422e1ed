// Topology rules (SPEC G3): named regions (sets of CIDRs) and ordered rules sending resolver addresses or client
// subnets to pools, compiled into a table the query path matches without allocating (longest prefix wins).
// Owns: the rules, regions and their ordering; prefix arithmetic is net/prefix.ts. Never chooses a pool on its own
// (methods/topology.ts does) and never reads live state or sockets.
import type { ConfigError } from '../config/schema.js';
import { didYouMean } from '../config/errors.js';
import { PrefixIndex, parsePrefix, formatPrefix, type ParsedPrefix, type PrefixEntry } from '../net/prefix.js';


// ---------------------------------------------------------------------------------------------------------------
// Topology configuration and the compiled table
// ---------------------------------------------------------------------------------------------------------------

export interface TopologyConfig {
  regions: Array<{ name: string; cidrs: string[] }>;
  /** from: "region:NAME", a CIDR or a single address; to: "pool:NAME"; weight breaks ties between equal prefixes. */
  rules: Array<{ from: string; to: string; weight?: number }>;
}

interface RuleInfo {
  pool: number;
  weight: number;
  text: string;
}

/** How many of a region's CIDRs describe() spells out before summarising the rest. */
const DESCRIBE_CIDRS = 4;

export class TopologyTable {
  readonly ruleCount: number;
  private readonly index: PrefixIndex;
  private readonly pools: Int32Array;
  private readonly weights: Float64Array;
  private readonly texts: readonly string[];
  /** Raw matches from the index (a region rule may appear once per containing CIDR). */
  private readonly rawRules: Int32Array;
  private readonly rawPrefix: Int32Array;
  /** Per rule, the match() call that last saw it: drops a region rule's shorter repeats in O(1). */
  private readonly seen: Uint32Array;
  private epoch = 0;
  /** Prefix lengths of the results of the last match(), for matchedPrefix(). */
  private readonly lastPrefix: Int32Array;
  private lastCount = 0;

  private constructor(index: PrefixIndex, rules: readonly RuleInfo[]) {
    this.index = index;
    this.ruleCount = rules.length;
    this.pools = Int32Array.from(rules, (r) => r.pool);
    this.weights = Float64Array.from(rules, (r) => r.weight);
    this.texts = rules.map((r) => r.text);
    this.rawRules = new Int32Array(index.size);
    this.rawPrefix = new Int32Array(index.size);
    this.seen = new Uint32Array(rules.length);
    this.lastPrefix = new Int32Array(rules.length);
  }

  static empty(): TopologyTable {
    return new TopologyTable(new PrefixIndex([]), []);
  }

  /** @internal compileTopology's constructor. */
  static fromCompiled(entries: readonly PrefixEntry[], rules: readonly RuleInfo[]): TopologyTable {
    return new TopologyTable(new PrefixIndex(entries), rules);
  }

  /**
   * Fill `out` with indices of rules matching the address, best first: longest matching prefix, then higher weight
   * (default 1), then config order. Returns how many (≤ out.length). Allocation-free.
   */
  match(family: 4 | 6, words: Uint32Array, out: Int32Array): number {
    const raw = this.index.collect(family, words, this.rawRules, this.rawPrefix);
    if (++this.epoch === 0x100000000) {
      this.seen.fill(0);
      this.epoch = 1;
    }
    const epoch = this.epoch;
    // Keep each rule's first (longest) match, then order by (prefix desc, weight desc, rule asc). Insertion sort:
    // the number of matching rules is small, and the index already delivers them longest first.
    let n = 0;
    for (let i = 0; i < raw; i++) {
      const rule = this.rawRules[i]!;
      if (this.seen[rule] === epoch) continue;
      this.seen[rule] = epoch;
      const prefix = this.rawPrefix[i]!;
      let j = n;
      while (j > 0 && this.before(rule, prefix, this.rawRules[j - 1]!, this.rawPrefix[j - 1]!)) {
        this.rawRules[j] = this.rawRules[j - 1]!;
        this.rawPrefix[j] = this.rawPrefix[j - 1]!;
        j--;
      }
      this.rawRules[j] = rule;
      this.rawPrefix[j] = prefix;
      n++;
    }
    const k = n < out.length ? n : out.length;
    for (let i = 0; i < k; i++) {
      out[i] = this.rawRules[i]!;
      this.lastPrefix[i] = this.rawPrefix[i]!;
    }
    this.lastCount = k;
    return k;
  }

  /** Whether rule a (matched with prefix pa) ranks before rule b (matched with pb). */
  private before(a: number, pa: number, b: number, pb: number): boolean {
    if (pa !== pb) return pa > pb;
    const wa = this.weights[a]!;
    const wb = this.weights[b]!;
    if (wa !== wb) return wa > wb;
    return a < b;
  }

  /** Pool index a rule sends to. */
  rulePool(rule: number): number {
    return this.pools[rule]!;
  }

  /** A rule's weight (1 when not configured). */
  ruleWeight(rule: number): number {
    return this.weights[rule]!;
  }

  /** Prefix length with which the k-th result of the last match() matched (-1 when k is out of range). */
  matchedPrefix(k: number): number {
    return k >= 0 && k < this.lastCount ? this.lastPrefix[k]! : -1;
  }

  /** "region:europe (10.1.0.0/16) → pool:eu weight 100" for explain. */
  describe(rule: number): string {
    return this.texts[rule] ?? `rule ${rule} (no such rule)`;
  }
}

const REGION = 'region:';
const POOL = 'pool:';

/** The error for a CIDR with host bits set, proposing the network the operator probably meant. */
function hostBitsMessage(text: string, p: ParsedPrefix): string {
  return `"${text}" has host bits set; did you mean ${formatPrefix(p.family, p.words, p.prefix)}?`;
}

/**
 * Validates the meaning of the topology section (regions exist, pools exist, CIDRs are CIDRs) and compiles it.
 * Every problem is reported, each with the path of its field.
 */
export function compileTopology(
  cfg: TopologyConfig,
  poolIndexByName: ReadonlyMap<string, number>,
): { ok: true; table: TopologyTable } | { ok: false; errors: ConfigError[] } {
  const errors: ConfigError[] = [];

  // Regions: name → its (valid) prefixes, in config order.
  const regions = new Map<string, ParsedPrefix[]>();
  const regionAt = new Map<string, number>();
  cfg.regions.forEach((region, r) => {
    const at = `topology.regions[${r}]`;
    if (region.name === '') {
      errors.push({ path: `${at}.name`, message: 'a region needs a name' });
    } else if (regionAt.has(region.name)) {
      errors.push({
        path: `${at}.name`,
        message: `duplicate region "${region.name}" (first defined at topology.regions[${regionAt.get(region.name)}])`,
      });
    }
    if (region.cidrs.length === 0) {
      errors.push({ path: `${at}.cidrs`, message: `region "${region.name}" has no CIDRs` });
    }
    const prefixes: ParsedPrefix[] = [];
    region.cidrs.forEach((text, c) => {
      const p = parsePrefix(text);
      if (!p) errors.push({ path: `${at}.cidrs[${c}]`, message: `"${text}" is not a CIDR` });
      else if (p.hostBits) errors.push({ path: `${at}.cidrs[${c}]`, message: hostBitsMessage(text, p) });
      else prefixes.push(p);
    });
    if (!regionAt.has(region.name)) {
      regionAt.set(region.name, r);
      regions.set(region.name, prefixes);
    }
  });

  const entries: PrefixEntry[] = [];
  const rules: RuleInfo[] = [];
  cfg.rules.forEach((rule, i) => {
    const at = `topology.rules[${i}]`;
    let prefixes: ParsedPrefix[] | undefined;
    let fromText: string;
    if (rule.from.startsWith(REGION)) {
      const name = rule.from.slice(REGION.length);
      prefixes = regions.get(name);
      if (!prefixes) errors.push({ path: `${at}.from`, message: `"${rule.from}" is not a defined region` });
      const shown = (prefixes ?? []).slice(0, DESCRIBE_CIDRS).map((p) => formatPrefix(p.family, p.words, p.prefix));
      const more = (prefixes?.length ?? 0) - shown.length;
      fromText = `${rule.from} (${shown.join(', ')}${more > 0 ? `, … ${more} more` : ''})`;
    } else {
      const p = parsePrefix(rule.from);
      if (!p) {
        errors.push({ path: `${at}.from`, message: `"${rule.from}" is not a CIDR, an address or region:NAME` });
      } else if (p.hostBits) {
        errors.push({ path: `${at}.from`, message: hostBitsMessage(rule.from, p) });
      } else {
        prefixes = [p];
      }
      fromText = p ? formatPrefix(p.family, p.words, p.prefix) : rule.from;
    }

    let pool = -1;
    if (!rule.to.startsWith(POOL)) {
      errors.push({ path: `${at}.to`, message: `"${rule.to}" must be pool:NAME` });
    } else {
      const name = rule.to.slice(POOL.length);
      const found = poolIndexByName.get(name);
      if (found === undefined) errors.push({ path: `${at}.to`, message: `unknown pool "${name}"`, ...didYouMean(name, poolIndexByName.keys()) });
      else pool = found;
    }

    const weight = rule.weight ?? 1;
    if (!Number.isFinite(weight) || weight < 0) {
      errors.push({ path: `${at}.weight`, message: `${weight} is not a weight (a number ≥ 0)` });
    }

    for (const p of prefixes ?? []) entries.push({ family: p.family, words: p.words, prefix: p.prefix, value: i });
    rules.push({ pool, weight, text: `${fromText} → ${rule.to} weight ${weight}` });
  });

  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, table: TopologyTable.fromCompiled(entries, rules) };
}
