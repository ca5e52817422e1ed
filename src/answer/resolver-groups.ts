// Resolver groups (SPEC G5): resolvers treated as one for persistence, listed by hand (addresses, CIDRs) or gathered
// automatically by a shared prefix. Owns: the persistence key of an asker or client subnet and its human text.
// Never stores persistence records itself and never allocates in key()/subnetKey()/groupOf().
import type { ConfigError } from '../config/schema.js';
import { PrefixIndex, formatAddress, formatPrefix, parsePrefix, type PrefixEntry } from '../net/prefix.js';
import { mixWord, fmix, fnv1a } from '../net/hash.js';
import { wordMask } from '../net/address.js';

/** `groups` is the config's top-level `resolverGroups` list and `auto` its `resolverGrouping` (error paths say so). */
export interface ResolverGroupsConfig {
  /** Listed groups: members are addresses or CIDRs; the longest listed prefix containing an asker decides. */
  groups: Array<{ name: string; members: string[] }>;
  /**
   * Resolvers sharing this prefix form one group when no listed group matches. A family whose length is absent is
   * not grouped automatically (each resolver is its own key).
   */
  auto?: { ipv4PrefixLength?: number; ipv6PrefixLength?: number };
}

// Key ranges. Every key is an integer in [0, 2^53) and each kind owns a disjoint range, so keys of different kinds
// cannot collide:
//   IPv4 address                    [0, 2^32)                     the address itself
//   listed group g                  2^40 + g
//   IPv4 auto prefix (len, net)     2·2^40 + len·2^32 + net       (len ≤ 32, so < 3·2^40)
//   IPv4 client subnet (len, net)   3·2^40 + len·2^32 + net
//   group gathered from ECS         4·2^40 + FNV-1a of its name (ecs-groups.ts; the same on every node)
//   IPv6 address / prefix / subnet  [2^52, 2^53)                  2^52 + a 52-bit hash of (kind, len, masked words)
// Only the IPv6 range can collide, two IPv6 keys with each other: with n distinct IPv6 keys alive the chance of any
// collision is about n²/2^53 (≈ 1e-4 for a million), and a collision merely lets two askers share a persistence record.
const TWO_32 = 0x100000000;
const TWO_40 = 0x10000000000;
const GROUP_BASE = TWO_40;
const V4_PREFIX_BASE = 2 * TWO_40;
const V4_SUBNET_BASE = 3 * TWO_40;
const ECS_GROUP_BASE = 4 * TWO_40;
const V6_BASE = 2 ** 52;
const TWO_20 = 0x100000;

/** Kind tags mixed into IPv6 hashes so an address, an auto prefix and a subnet of equal bits still differ. */
const KIND_ADDRESS = 1;
const KIND_PREFIX = 2;
const KIND_SUBNET = 3;


/** Resolvers grouped from ECS (ecs-groups.ts), by addressKey: the group's persistence key and name. */
export type ObservedGroups = ReadonlyMap<number, { key: number; name: string }>;

/** The persistence key of a group gathered from ECS, from its name: every worker and node computes the same. */
export function ecsGroupKey(name: string): number {
  return ECS_GROUP_BASE + fnv1a(name);
}

export class ResolverGroups {
  private readonly names: readonly string[];
  private readonly index: PrefixIndex;
  /** Auto-grouping prefix lengths, -1 when off. */
  private readonly auto4: number;
  private readonly auto6: number;
  private readonly hitGroup = new Int32Array(1);
  private readonly hitPrefix = new Int32Array(1);

  private constructor(names: readonly string[], entries: readonly PrefixEntry[], auto4: number, auto6: number) {
    this.names = names;
    this.index = new PrefixIndex(entries);
    this.auto4 = auto4;
    this.auto6 = auto6;
  }

  static empty(): ResolverGroups {
    return new ResolverGroups([], [], -1, -1);
  }

  /** @internal compileResolverGroups's constructor. */
  static fromCompiled(names: readonly string[], entries: readonly PrefixEntry[], auto4: number, auto6: number): ResolverGroups {
    return new ResolverGroups(names, entries, auto4, auto6);
  }

  /** Index of the listed group holding the address (longest listed prefix wins), or -1. */
  private listed(family: 4 | 6, words: Uint32Array): number {
    return this.index.collect(family, words, this.hitGroup, this.hitPrefix) === 1 ? this.hitGroup[0]! : -1;
  }

  /**
   * Persistence key for an asker (allocation-free apart from the number itself): a number in [0, 2^53). Resolvers in
   * the same listed group share a key; with auto grouping, resolvers in the same prefix share one; otherwise the
   * address itself (see the key ranges above).
   */
  key(family: 4 | 6, words: Uint32Array, observed?: ObservedGroups): number {
    const g = this.listed(family, words);
    if (g >= 0) return GROUP_BASE + g;
    if (observed !== undefined && observed.size > 0) {
      const o = observed.get(addressKey(family, words));
      if (o !== undefined) return o.key;
    }
    if (family === 4) {
      const len = this.auto4;
      if (len < 0) return words[0]!;
      return V4_PREFIX_BASE + len * TWO_32 + ((words[0]! & wordMask(len)) >>> 0);
    }
    return this.auto6 < 0 ? addressKey(6, words) : v6Key(KIND_PREFIX, this.auto6, words);
  }

  /** The key of a client subnet (ECS): its masked network and length, never equal to any resolver key. */
  subnetKey(family: 4 | 6, words: Uint32Array, prefix: number): number {
    if (family === 4) {
      const len = prefix < 0 ? 0 : prefix > 32 ? 32 : prefix;
      return V4_SUBNET_BASE + len * TWO_32 + ((words[0]! & wordMask(len)) >>> 0);
    }
    return v6Key(KIND_SUBNET, prefix < 0 ? 0 : prefix > 128 ? 128 : prefix, words);
  }

  /**
   * Human text for what key()/subnetKey() computed: "198.51.100.7", "group:isp-a", "prefix:198.51.100.0/24",
   * "subnet:10.1.0.0/24" (pass `prefix` for a subnet). For explain and for storing persistence records.
   */
  describe(family: 4 | 6, words: Uint32Array, prefix?: number, observed?: ObservedGroups): string {
    if (prefix !== undefined) {
      const max = family === 4 ? 32 : 128;
      return `subnet:${formatPrefix(family, words, prefix < 0 ? 0 : prefix > max ? max : prefix)}`;
    }
    const g = this.listed(family, words);
    if (g >= 0) return `group:${this.names[g]}`;
    const o = observed !== undefined && observed.size > 0 ? observed.get(addressKey(family, words)) : undefined;
    if (o !== undefined) return o.name;
    const len = family === 4 ? this.auto4 : this.auto6;
    if (len >= 0) return `prefix:${formatPrefix(family, words, len)}`;
    return formatAddress(family, words);
  }

  /** Listed group name for an address, or null (auto prefixes are not named groups). */
  groupOf(family: 4 | 6, words: Uint32Array): string | null {
    const g = this.listed(family, words);
    return g >= 0 ? this.names[g]! : null;
  }
}

/** Groups as the supervisor hands them out (resolver address → group name) in the form key() reads. */
export function observedGroupsOf(pairs: ReadonlyArray<readonly [resolver: string, group: string]>): ObservedGroups {
  const out = new Map<number, { key: number; name: string }>();
  for (const [resolver, group] of pairs) {
    const p = parsePrefix(resolver);
    if (p === null) continue;
    out.set(addressKey(p.family, p.words), { key: ecsGroupKey(group), name: group });
  }
  return out;
}

/** An address as its own key: what key() gives with no grouping (and how observed groups are looked up). */
export function addressKey(family: 4 | 6, words: Uint32Array): number {
  return family === 4 ? words[0]! : v6Key(KIND_ADDRESS, 128, words);
}

/** 2^52 + a 52-bit hash (two independent 32-bit murmur3-style hashes) of the kind, length and masked IPv6 words. */
function v6Key(kind: number, len: number, words: Uint32Array): number {
  const w0 = words[0]! & wordMask(len);
  const w1 = words[1]! & wordMask(len - 32);
  const w2 = words[2]! & wordMask(len - 64);
  const w3 = words[3]! & wordMask(len - 96);
  const tag = (kind << 8) | len;
  const a = fmix(mixWord(mixWord(mixWord(mixWord(0x1b873593 ^ tag, w0), w1), w2), w3));
  const b = fmix(mixWord(mixWord(mixWord(mixWord(0x6a09e667 ^ tag, w3), w2), w1), w0));
  return V6_BASE + (a >>> 0) * TWO_20 + (b >>> 12);
}

/**
 * Validates and compiles the resolver groups. Paths name the field: resolverGroups[0].members[1]. A prefix
 * listed twice (in two groups, or twice in one) is an error: its group would depend on list order.
 */
export function compileResolverGroups(
  cfg: ResolverGroupsConfig,
): { ok: true; groups: ResolverGroups } | { ok: false; errors: ConfigError[] } {
  const errors: ConfigError[] = [];
  const names: string[] = [];
  const nameAt = new Map<string, number>();
  const entries: PrefixEntry[] = [];
  /** Canonical prefix text → where it was first listed. */
  const listedAt = new Map<string, { group: string; path: string }>();

  cfg.groups.forEach((group, g) => {
    const at = `resolverGroups[${g}]`;
    if (group.name === '') {
      errors.push({ path: `${at}.name`, message: 'a resolver group needs a name' });
    } else if (nameAt.has(group.name)) {
      errors.push({
        path: `${at}.name`,
        message: `duplicate resolver group "${group.name}" (first defined at resolverGroups[${nameAt.get(group.name)}])`,
      });
    } else {
      nameAt.set(group.name, g);
    }
    if (group.members.length === 0) {
      errors.push({ path: `${at}.members`, message: `resolver group "${group.name}" has no members` });
    }
    names.push(group.name);
    group.members.forEach((text, m) => {
      const path = `${at}.members[${m}]`;
      const p = parsePrefix(text);
      if (!p) {
        errors.push({ path, message: `"${text}" is not an address or a CIDR` });
        return;
      }
      const canonical = formatPrefix(p.family, p.words, p.prefix);
      if (p.hostBits) {
        errors.push({ path, message: `"${text}" has host bits set; did you mean ${canonical}?` });
        return;
      }
      const first = listedAt.get(canonical);
      if (first) {
        errors.push({ path, message: `${canonical} is already listed in resolver group "${first.group}" (${first.path})` });
        return;
      }
      listedAt.set(canonical, { group: group.name, path });
      entries.push({ family: p.family, words: p.words, prefix: p.prefix, value: g });
    });
  });

  const auto4 = autoLength(cfg.auto?.ipv4PrefixLength, 32, 'resolverGrouping.ipv4PrefixLength', errors);
  const auto6 = autoLength(cfg.auto?.ipv6PrefixLength, 128, 'resolverGrouping.ipv6PrefixLength', errors);

  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, groups: ResolverGroups.fromCompiled(names, entries, auto4, auto6) };
}

function autoLength(v: number | undefined, max: number, path: string, errors: ConfigError[]): number {
  if (v === undefined) return -1;
  if (!Number.isInteger(v) || v < 0 || v > max) {
    errors.push({ path, message: `${v} is not a prefix length (an integer from 0 to ${max})` });
    return -1;
  }
  return v;
}
