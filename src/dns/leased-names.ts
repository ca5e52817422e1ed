// The names the address-pool lease book answers (SPEC L2), as the query path recognizes them: a set of folded wire
// names. Owns: that match, allocation-free until a name of the right length turns up. The answer itself is the
// supervisor's (the responder defers these queries to it).
import { encodeName, foldWire } from '../wire/name.js';
import type { QuestionName } from '../wire/query.js';

export class LeasedNames {
  private readonly names = new Set<string>();
  /** Wire lengths of the names: most queries are of other lengths and cost one lookup in a small set. */
  private readonly lengths = new Set<number>();

  constructor(names: readonly string[]) {
    for (const n of names) {
      const wire = foldWire(Buffer.from(encodeName(n)));
      this.names.add(wire.toString('latin1'));
      this.lengths.add(wire.length);
    }
  }

  get size(): number {
    return this.names.size;
  }

  /** Whether the question name (wire form, any case) is a leased name. */
  has(q: QuestionName): boolean {
    return this.match(q.buf, q.off, q.end);
  }

  /** Whether the first question of message `msg` names a leased name (uncompressed, as questions are). */
  hasQuestion(msg: Buffer): boolean {
    let p = 12;
    for (let labels = 0; p < msg.length && labels < 128; labels++) {
      const l = msg[p]!;
      if (l === 0) return this.match(msg, 12, p + 1);
      if (l > 63) return false;
      p += l + 1;
    }
    return false;
  }

  private match(buf: Buffer, off: number, end: number): boolean {
    if (!this.lengths.has(end - off)) return false;
    let s = '';
    for (let i = off; i < end; i++) {
      const b = buf[i]!;
      s += String.fromCharCode(b >= 0x41 && b <= 0x5a ? b | 0x20 : b);
    }
    return this.names.has(s);
  }
}
