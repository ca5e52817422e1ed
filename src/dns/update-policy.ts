// Who may change what in a zone by dynamic update, and who may transfer it: a zone's `update` and `transfer` rules
// compiled for one request (its TSIG key, its address). Owns the matching (keys, addresses, owner forms as fine as
// Knot's update-owner/update-owner-match, types, the per-RRset cap) and the words of a refusal. No rule, no access.
import net from 'node:net';
import { canonicalName, isAtOrBelow } from '../wire/name.js';
import { typeName, typeNumber } from '../wire/types.js';
import type { UpdatePermission } from './update.js';

/** A `transfer` rule, and the "for whom" of an `update` rule: a key, and/or addresses (CIDR). */
export interface AccessRule { key?: readonly string[]; from?: readonly string[] }
/** An `update` rule as the configuration gives it (config/schema.ts validates it). */
export interface UpdateRule extends AccessRule {
  owners?: { exact?: readonly string[]; subtree?: readonly string[]; below?: readonly string[]; pattern?: readonly string[]; keyName?: boolean };
  types?: readonly string[];
  maxRecords?: number;
}

/** Who is asking: the TSIG key the request was verified with (canonical name, or null) and the client's address. */
export interface Requester { key: string | null; address: string }

/** A rule's owner names, canonical; "@" and names relative to nothing are the zone's. */
interface Owners { exact: string[]; subtree: string[]; below: string[]; pattern: string[][]; keyName: boolean; any: boolean }

interface CompiledRule { keys: Set<string> | null; from: net.BlockList | null; owners: Owners; types: Set<number> | null; maxRecords: number; at: string }

function absolute(name: string, origin: string): string {
  return name === '@' ? origin : canonicalName(name);
}

function blockList(prefixes: readonly string[]): net.BlockList {
  const b = new net.BlockList();
  for (const p of prefixes) {
    const [addr, len] = p.split('/') as [string, string | undefined];
    const family = net.isIPv6(addr) ? 'ipv6' : 'ipv4';
    b.addSubnet(addr, len === undefined ? (family === 'ipv6' ? 128 : 32) : Number(len), family);
  }
  return b;
}

function matchesIdentity(keys: Set<string> | null, from: net.BlockList | null, who: Requester): boolean {
  if (keys !== null && (who.key === null || !keys.has(who.key))) return false;
  if (from !== null) {
    const family = net.isIPv6(who.address) ? 'ipv6' : 'ipv4';
    if (!net.isIP(who.address) || !from.check(who.address, family)) return false;
  }
  return true;
}

function keySet(names: readonly string[] | undefined): Set<string> | null {
  return names === undefined ? null : new Set(names.map((k) => canonicalName(k)));
}

/** Does `name` match pattern labels (each "*" one label, else equal)? */
function matchesPattern(name: string, labels: readonly string[]): boolean {
  const parts = name.split('.');
  return parts.length === labels.length && labels.every((l, i) => l === '*' || l === parts[i]);
}

function ownerMatches(o: Owners, name: string, key: string | null): boolean {
  if (o.any) return true;
  if (o.exact.includes(name)) return true;
  if (o.subtree.some((s) => isAtOrBelow(name, s))) return true;
  if (o.below.some((s) => name !== s && isAtOrBelow(name, s))) return true;
  if (o.pattern.some((p) => matchesPattern(name, p))) return true;
  return o.keyName && key !== null && name === key;
}

/** The zone's update rules as one requester's permission (dns/update.ts asks it about each update RR). */
export class UpdatePolicy implements UpdatePermission {
  private readonly mine: CompiledRule[];
  constructor(private readonly origin: string, rules: readonly UpdateRule[], private readonly who: Requester, readonly path: string) {
    const compiled = rules.map((r, i): CompiledRule => ({
      keys: keySet(r.key), from: r.from === undefined ? null : blockList(r.from),
      owners: {
        exact: (r.owners?.exact ?? []).map((n) => absolute(n, origin)), subtree: (r.owners?.subtree ?? []).map((n) => absolute(n, origin)),
        below: (r.owners?.below ?? []).map((n) => absolute(n, origin)), pattern: (r.owners?.pattern ?? []).map((n) => absolute(n, origin).split('.')),
        keyName: r.owners?.keyName ?? false, any: r.owners === undefined,
      },
      types: r.types === undefined ? null : new Set(r.types.map((t) => typeNumber(t)!)),
      maxRecords: r.maxRecords ?? Infinity, at: `${path}[${i}]`,
    }));
    this.mine = compiled.filter((r) => matchesIdentity(r.keys, r.from, who));
  }

  /** Whether any rule is for this requester at all (else the whole request is refused at once). */
  get applies(): boolean { return this.mine.length > 0; }

  /** Why the requester may not update the zone at all, or null. */
  refusal(): string | null {
    if (this.applies) return null;
    const who = this.who.key === null ? `an unsigned request from ${this.who.address}` : `key ${this.who.key} (from ${this.who.address})`;
    return `${who} may not update zone ${this.origin}: no rule of ${this.path} is for it`;
  }

  private permitting(name: string, type: number): CompiledRule[] {
    return this.mine.filter((r) => ownerMatches(r.owners, name, this.who.key) && (r.types === null || r.types.has(type)));
  }

  check(name: string, type: number): string | null {
    if (this.permitting(name, type).length > 0) return null;
    const who = this.who.key === null ? `unsigned requests from ${this.who.address}` : `key ${this.who.key}`;
    return `${who} may not change ${typeName(type)} at ${name} (no rule of ${this.path} permits it)`;
  }

  maxRecords(name: string, type: number): number {
    return Math.max(...this.permitting(name, type).map((r) => r.maxRecords), 0);
  }
}

/** Whether `who` may transfer a zone with these `transfer` rules (none: nobody). */
export function mayTransfer(rules: readonly AccessRule[] | undefined, who: Requester): boolean {
  return (rules ?? []).some((r) => matchesIdentity(keySet(r.key), r.from === undefined ? null : blockList(r.from), who));
}
