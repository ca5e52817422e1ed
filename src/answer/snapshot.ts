// The immutable snapshot every query reads: all served zones indexed by case-folded wire name.
// Owns: linking zones together (nested zones, CNAME targets, additional-section targets) and the lookup index.
// Built by the control plane and swapped in whole; the query path only reads it and never awaits.
import { TYPE } from '../wire/types.js';
import { canonicalName, isAtOrBelow, equalsFolded, hashWireFolded } from '../wire/name.js';
import { additionalNames, type NameNode, type Zone } from '../dns/zone.js';
import type { CompiledPolicy } from './policy.js';

export class Snapshot {
  private readonly index = new Map<number, NameNode>();
  private readonly byName = new Map<string, NameNode>();

  constructor(readonly zones: readonly Zone[], readonly generation: number, readonly policy: CompiledPolicy | null = null) {
    // A name belongs to the most specific served zone: a child zone we also serve hides the parent's cut and glue.
    const origins = zones.map((z) => canonicalName(z.origin));
    const owner = (name: string): number => {
      let best = -1;
      for (let i = 0; i < origins.length; i++) {
        if (isAtOrBelow(name, origins[i]!) && (best < 0 || origins[i]!.length > origins[best]!.length)) best = i;
      }
      return best;
    };
    zones.forEach((zone, zi) => {
      for (const [k, node] of zone.nodes) {
        if (owner(k) !== zi) continue;
        this.byName.set(k, node);
        node.nextSameHash = this.index.get(node.hash) ?? null;
        this.index.set(node.hash, node);
      }
    });
    for (const node of this.byName.values()) {
      for (const rrset of node.rrsets.values()) {
        rrset.additional = [];
        for (const target of additionalNames(rrset)) {
          const t = this.byName.get(target);
          if (!t || (t.cut && rrset.type !== TYPE.NS)) continue;
          const a = t.rrsets.get(TYPE.A);
          const aaaa = t.rrsets.get(TYPE.AAAA);
          if (a) rrset.additional.push({ node: t, rrset: a });
          if (aaaa) rrset.additional.push({ node: t, rrset: aaaa });
        }
      }
      if (node.cname) {
        const target = canonicalName(node.cname.records[0]!.data as string);
        node.cname.cnameTarget = this.byName.get(target) ?? null;
        node.cname.cnameTargetZone = node.cname.cnameTarget ? null : this.zoneFor(target) ?? null;
      }
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

  /** Compile-time/API lookup by presentation name. */
  node(name: string): NameNode | undefined {
    return this.byName.get(canonicalName(name));
  }

  /** The most specific served zone containing a canonical name, for answering names we do not have. */
  zoneFor(name: string): Zone | undefined {
    let best: Zone | undefined;
    for (const z of this.zones) {
      const o = canonicalName(z.origin);
      if (isAtOrBelow(name, o) && (!best || o.length > canonicalName(best.origin).length)) best = z;
    }
    return best;
  }
}
