// The immutable snapshot every query reads: all served zones indexed by case-folded wire name.
// Owns: linking zones together (nested zones, CNAME targets, additional-section targets) and the lookup index.
// Built by the control plane and swapped in whole; the query path only reads it and never awaits.
import { TYPE } from '../wire/types.js';
import { canonicalName, isAtOrBelow, equalsFolded, hashWireFolded } from '../wire/name.js';
import { additionalNames, NO_ADDITIONAL, type NameNode, type Zone } from '../dns/zone.js';
import type { CompiledPolicy } from './policy.js';

export class Snapshot {
  private readonly index = new Map<number, NameNode>();
  private readonly origins: readonly string[];

  constructor(readonly zones: readonly Zone[], readonly generation: number, readonly policy: CompiledPolicy | null = null) {
    // A name belongs to the most specific served zone: a child zone we also serve hides the parent's cut and glue.
    // Only a zone with served zones below it needs the check, and only against those (thousands of zones would
    // otherwise cost nodes × zones).
    this.origins = zones.map((z) => canonicalName(z.origin));
    const children = childOrigins(this.origins);
    const byName = new Map<string, NameNode>();
    zones.forEach((zone, zi) => {
      const below = children[zi]!;
      for (const [k, node] of zone.nodes) {
        if (below.length > 0 && below.some((c) => isAtOrBelow(k, c))) continue;
        byName.set(k, node);
        node.nextSameHash = this.index.get(node.hash) ?? null;
        this.index.set(node.hash, node);
      }
    });
    for (const node of byName.values()) this.link(node, byName);
  }

  /** Additional-section targets of the node's RRsets and its CNAME's target, among the names served here. */
  private link(node: NameNode, byName: ReadonlyMap<string, NameNode>): void {
    for (const rrset of node.rrsets.values()) {
      const targets = additionalNames(rrset);
      if (targets.length === 0) { rrset.additional = NO_ADDITIONAL; continue; }
      rrset.additional = [];
      for (const target of targets) {
        const t = byName.get(target);
        if (!t || (t.cut && rrset.type !== TYPE.NS)) continue;
        const a = t.rrsets.get(TYPE.A);
        const aaaa = t.rrsets.get(TYPE.AAAA);
        if (a) rrset.additional.push({ node: t, rrset: a });
        if (aaaa) rrset.additional.push({ node: t, rrset: aaaa });
      }
    }
    if (node.cname) {
      const target = canonicalName(node.cname.records[0]!.data as string);
      node.cname.cnameTarget = byName.get(target) ?? null;
      node.cname.cnameTargetZone = node.cname.cnameTarget ? null : this.zoneFor(target) ?? null;
    }
  }

  /** The node whose folded wire name equals buf[off, end), or null. Allocation-free. */
  find(buf: Buffer, off: number, end: number): NameNode | null {
    let node = this.index.get(hashWireFolded(buf, off, end)) ?? null;
    while (node !== null) {
      if (equalsFolded(buf, off, end, node.key)) return node;
      node = node.nextSameHash;
    }
    return null;
  }

  /** Compile-time/API lookup by presentation name (in the most specific zone containing it, as queries see it). */
  node(name: string): NameNode | undefined {
    const key = canonicalName(name);
    return this.zoneFor(key)?.nodes.get(key);
  }

  /** The most specific served zone containing a canonical name, for answering names we do not have. */
  zoneFor(name: string): Zone | undefined {
    let best = -1;
    for (let i = 0; i < this.origins.length; i++) {
      const o = this.origins[i]!;
      if (isAtOrBelow(name, o) && (best < 0 || o.length > this.origins[best]!.length)) best = i;
    }
    return best < 0 ? undefined : this.zones[best];
  }
}

/** For each origin, the served origins directly below it (nearest enclosing served zone is the parent). */
function childOrigins(origins: readonly string[]): string[][] {
  const index = new Map(origins.map((o, i) => [o, i]));
  const children: string[][] = origins.map(() => []);
  origins.forEach((o) => {
    for (let p = parentName(o); p !== null; p = parentName(p)) {
      const j = index.get(p);
      if (j !== undefined) { children[j]!.push(o); break; }
    }
  });
  return children;
}

/** The canonical name one label up ("." above a single label, null above the root); escaped dots are not cuts. */
function parentName(name: string): string | null {
  if (name === '.') return null;
  for (let i = 0; i < name.length; i++) {
    if (name[i] === '\\') { i += /\d{3}/.test(name.slice(i + 1, i + 4)) ? 3 : 1; continue; }
    if (name[i] === '.') return name.slice(i + 1);
  }
  return '.';
}
