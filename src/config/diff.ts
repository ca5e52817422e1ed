// What a revision changed, as a line diff of its YAML (SPEC C2: what an operator reads before a rollback), computed
// on the encoded revisions (state/content.ts): parts with equal hashes are skipped without being read, so a change to
// one record of a 1,000,000-record zone reads and compares about one chunk of it. Lines are "  " (unchanged),
// "- " (only in the older revision), "+ " (only in the newer); "@@ … @@" stands for unchanged parts left out.
// Small sections are diffed line by line exactly as a whole-document diff would show them.
// Owns: aligning two encoded trees and the line diff. Never opens the store (it is given `load`).
import { countOf, decodeValue, inlineValue, specialKind, type ChunkList, type LoadBlob } from '../state/content.js';
import { YamlLines } from './render.js';

/** A diff stops after this many lines (and says so): a browser or terminal still shows it. */
export const DIFF_MAX_LINES = 20_000;
/** Unchanged elements (or text lines) shown on each side of a change inside a large part. */
const CONTEXT = 3;
/** A longest-common-subsequence table beyond this many cells is not built: the lines are listed as removed and added. */
const LCS_MAX_CELLS = 4_000_000;

export type Op = ' ' | '+' | '-';

/** Longest-common-subsequence line diff (common ends trimmed first); past LCS_MAX_CELLS, all removed then all added. */
export function lineOps(a: readonly string[], b: readonly string[]): Array<[Op, string]> {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) { endA--; endB--; }
  const out: Array<[Op, string]> = [];
  for (let i = 0; i < start; i++) out.push([' ', a[i]!]);
  const n = endA - start;
  const m = endB - start;
  if ((n + 1) * (m + 1) > LCS_MAX_CELLS) {
    for (let i = start; i < endA; i++) out.push(['-', a[i]!]);
    for (let j = start; j < endB; j++) out.push(['+', b[j]!]);
  } else {
    const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i]![j] = a[start + i] === b[start + j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[start + i] === b[start + j]) { out.push([' ', a[start + i]!]); i++; j++; } else if (j < m && (i >= n || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) { out.push(['+', b[start + j]!]); j++; } else { out.push(['-', a[start + i]!]); i++; }
    }
  }
  for (let i = endA; i < a.length; i++) out.push([' ', a[i]!]);
  return out;
}

/** A run of an array or text: a stored chunk (compared by hash, read only when it differs) or one inline element. */
interface Segment { key: string; count: number; chunk?: string; item?: unknown }

function pad(n: number): string {
  return ' '.repeat(n);
}

function same(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/** The lines of a diff, cut at `max`. */
class Lines {
  readonly lines: string[] = [];
  cut = false;
  constructor(private readonly max: number) {}

  get full(): boolean {
    return this.lines.length >= this.max;
  }

  push(op: Op, text: string): void {
    if (this.full) { this.cut = true; return; }
    this.lines.push(`${op} ${text}`);
  }

  skipped(n: number, what: string): void {
    if (n <= 0) return;
    if (this.full) { this.cut = true; return; }
    this.lines.push(`@@ ${n.toLocaleString('en-US')} unchanged ${what}${n === 1 ? '' : 's'} @@`);
  }
}

class TreeDiff {
  readonly out: Lines;
  private readonly y: YamlLines;

  constructor(private readonly load: LoadBlob, max: number) {
    this.out = new Lines(max);
    this.y = new YamlLines(load);
  }

  /** The entries of two objects: the newer one's keys in its order, then those only the older one has. */
  object(a: Record<string, unknown>, b: Record<string, unknown>, indent: number, dashAt: number | null): void {
    const keys = [...Object.keys(b), ...Object.keys(a).filter((k) => !Object.hasOwn(b, k))];
    keys.forEach((k, i) => {
      const mark = this.out.lines.length;
      this.entry(k, Object.hasOwn(a, k) ? a[k] : undefined, Object.hasOwn(b, k) ? b[k] : undefined, indent);
      if (dashAt !== null && i === 0) this.dash(mark, dashAt);
    });
  }

  entry(key: string, a: unknown, b: unknown, indent: number): void {
    if (a === undefined && b === undefined) return;
    if (a === undefined) return this.all('+', this.y.entry(key, b, indent));
    if (b === undefined) return this.all('-', this.y.entry(key, a, indent));
    if (same(a, b)) return this.unchangedEntry(key, a, indent);
    const ra = this.y.resolve(a);
    const rb = this.y.resolve(b);
    if (same(ra, rb)) return this.unchangedEntry(key, ra, indent);
    if (!this.y.needsSplit(ra) && !this.y.needsSplit(rb)) return this.ops([...this.y.entry(key, ra, indent)], [...this.y.entry(key, rb, indent)]);
    const shape = this.y.shape(ra);
    const head = `${pad(indent)}${this.y.keyText(key)}:`;
    if (shape !== this.y.shape(rb) || shape === 'scalar') {
      this.all('-', this.y.entry(key, ra, indent));
      return this.all('+', this.y.entry(key, rb, indent));
    }
    if (shape === 'text') {
      this.out.push(' ', `${head} ${this.y.blockHeaderOfEnds(rb)}`);
      return this.text(ra, rb, indent + 2);
    }
    this.out.push(' ', head);
    if (shape === 'array') this.array(ra, rb, indent + 2);
    else this.object(this.y.objectOf(ra), this.y.objectOf(rb), indent + 2, null);
  }

  /** Two arrays: equal chunks skipped unread, equal elements at both ends shown as context, the rest compared. */
  array(a: unknown, b: unknown, indent: number): void {
    const mid = this.middle(this.segments(a), this.segments(b));
    const A = this.items(mid.a);
    const B = this.items(mid.b);
    const keyA = A.map((x) => JSON.stringify(x));
    const keyB = B.map((x) => JSON.stringify(x));
    let p = 0;
    while (p < A.length && p < B.length && keyA[p] === keyB[p]) p++;
    let s = 0;
    while (s < A.length - p && s < B.length - p && keyA[A.length - 1 - s] === keyB[B.length - 1 - s]) s++;
    const before = A.slice(0, p);
    this.out.skipped(mid.before + Math.max(0, before.length - CONTEXT), 'item');
    this.contextItems(before.slice(-CONTEXT), indent);
    const ca = A.slice(p, A.length - s);
    const cb = B.slice(p, B.length - s);
    const paired = ca.length === cb.length && ca.every((x, i) => this.y.shape(x) === 'object' && this.y.shape(cb[i]) === 'object'
      && (this.y.needsSplit(x) || this.y.needsSplit(cb[i])));
    if (paired) ca.forEach((x, i) => this.pairedItem(x, cb[i], indent));
    else this.changedItems(ca, cb, indent);
    const after = A.slice(A.length - s);
    this.contextItems(after.slice(0, CONTEXT), indent);
    this.out.skipped(mid.after + Math.max(0, after.length - CONTEXT), 'item');
  }

  /** Two texts line by line, the same way as arrays. */
  text(a: unknown, b: unknown, indent: number): void {
    const mid = this.middle(this.textSegments(a), this.textSegments(b));
    const A = this.textItems(mid.a);
    const B = this.textItems(mid.b);
    let p = 0;
    while (p < A.length && p < B.length && A[p] === B[p]) p++;
    let s = 0;
    while (s < A.length - p && s < B.length - p && A[A.length - 1 - s] === B[B.length - 1 - s]) s++;
    const line = (l: string): string => {
      const content = l.endsWith('\n') ? l.slice(0, -1) : l;
      return content === '' ? '' : pad(indent) + content;
    };
    this.out.skipped(mid.before + Math.max(0, p - CONTEXT), 'line');
    for (const l of A.slice(Math.max(0, p - CONTEXT), p)) this.out.push(' ', line(l));
    this.ops(A.slice(p, A.length - s).map(line), B.slice(p, B.length - s).map(line));
    for (const l of A.slice(A.length - s, A.length - s + CONTEXT)) this.out.push(' ', line(l));
    this.out.skipped(mid.after + Math.max(0, s - CONTEXT), 'line');
  }

  private pairedItem(a: unknown, b: unknown, indent: number): void {
    if (same(a, b)) return this.contextItems([a], indent);
    this.object(this.y.objectOf(a), this.y.objectOf(b), indent + 2, indent);
  }

  private changedItems(a: unknown[], b: unknown[], indent: number): void {
    const la = this.collect(a, indent);
    const lb = this.collect(b, indent);
    if (la && lb) return this.ops(la, lb);
    for (const x of a) this.all('-', this.y.item(x, indent));
    for (const x of b) this.all('+', this.y.item(x, indent));
  }

  /** The lines of some elements, or null when there are more than a diff shows (they are then streamed). */
  private collect(items: unknown[], indent: number): string[] | null {
    const lines: string[] = [];
    for (const x of items) {
      for (const l of this.y.item(x, indent)) {
        lines.push(l);
        if (lines.length > DIFF_MAX_LINES) return null;
      }
    }
    return lines;
  }

  private contextItems(items: unknown[], indent: number): void {
    for (const x of items) {
      if (this.y.needsSplit(x)) this.out.skipped(1, 'item');
      else for (const l of this.y.item(x, indent)) this.out.push(' ', l);
    }
  }

  private unchangedEntry(key: string, e: unknown, indent: number): void {
    const r = this.y.resolve(e);
    if (!this.y.needsSplit(r)) {
      for (const l of this.y.entry(key, r, indent)) this.out.push(' ', l);
      return;
    }
    this.out.push(' ', `${pad(indent)}${this.y.keyText(key)}:`);
    const shape = this.y.shape(r);
    const n = shape === 'object' ? Object.keys(this.y.objectOf(r)).length : countOf(r) ?? (typeof r === 'string' ? r.split('\n').length : 1);
    this.out.skipped(n, shape === 'text' ? 'line' : shape === 'object' ? 'key' : 'item');
  }

  /** Mark the first line of each side since `mark` as the start of a sequence item at `indent`. */
  private dash(mark: number, indent: number): void {
    for (const side of ['-', '+'] as const) {
      const i = this.out.lines.findIndex((l, k) => k >= mark && (l[0] === ' ' || l[0] === side) && !l.startsWith('@@'));
      if (i < 0) continue;
      const l = this.out.lines[i]!;
      const text = l.slice(2);
      if (!text.startsWith(pad(indent + 2)) || text.slice(indent, indent + 2) !== '  ') continue;
      this.out.lines[i] = `${l.slice(0, 2)}${pad(indent)}- ${text.slice(indent + 2)}`;
    }
  }

  private ops(a: string[], b: string[]): void {
    for (const [op, text] of lineOps(a, b)) this.out.push(op, text);
  }

  private all(op: Op, lines: Iterable<string>): void {
    for (const l of lines) {
      if (this.out.full) { this.out.cut = true; return; }
      this.out.push(op, l);
    }
  }

  private segments(e: unknown): Segment[] {
    if (Array.isArray(e)) return e.map((x) => ({ key: JSON.stringify(x), count: 1, item: x }));
    return (e as { $chunks: ChunkList }).$chunks.map(([hash, count]) => ({ key: hash, count, chunk: hash }));
  }

  private textSegments(e: unknown): Segment[] {
    if (typeof e === 'string') return [...this.y.textLines(e)].map((l) => ({ key: l, count: 1, item: l }));
    return (e as { $lines: ChunkList }).$lines.map(([hash, count]) => ({ key: hash, count, chunk: hash }));
  }

  /** Drop the stored chunks both sides share at their starts and ends; count the elements dropped. */
  private middle(a: Segment[], b: Segment[]): { a: Segment[]; b: Segment[]; before: number; after: number } {
    let i = 0;
    let before = 0;
    while (i < a.length && i < b.length && a[i]!.chunk !== undefined && a[i]!.key === b[i]!.key) before += a[i++]!.count;
    let j = 0;
    let after = 0;
    while (j < a.length - i && j < b.length - i && a[a.length - 1 - j]!.chunk !== undefined && a[a.length - 1 - j]!.key === b[b.length - 1 - j]!.key) after += a[a.length - 1 - j++]!.count;
    return { a: a.slice(i, a.length - j), b: b.slice(i, b.length - j), before, after };
  }

  private items(segments: Segment[]): unknown[] {
    const out: unknown[] = [];
    for (const s of segments) {
      if (s.chunk === undefined) out.push(s.item);
      else for (const x of JSON.parse(this.load(s.chunk)) as unknown[]) out.push(x);
    }
    return out;
  }

  private textItems(segments: Segment[]): string[] {
    const out: string[] = [];
    for (const s of segments) {
      if (s.chunk === undefined) out.push(s.item as string);
      else for (const l of this.y.textLines(JSON.parse(this.load(s.chunk)) as string)) out.push(l);
    }
    return out;
  }
}

export interface DiffOptions {
  /** Sections shown changed by a function of their value (e.g. secrets redacted for a role). */
  sections?: Record<string, (value: unknown) => unknown>;
  maxLines?: number;
}

/** The root with the sections `opts` names replaced by what their functions make of them (inline, not stored). */
function viewOf(rootJson: string | null, load: LoadBlob, opts: DiffOptions): Record<string, unknown> {
  const root = (rootJson === null ? {} : JSON.parse(rootJson)) as Record<string, unknown>;
  for (const [k, f] of Object.entries(opts.sections ?? {})) if (Object.hasOwn(root, k)) root[k] = inlineValue(f(decodeValue(root[k], load)));
  return root;
}

/**
 * The line diff of two encoded revisions (`from` null: the first revision, everything added). Lines come without a
 * trailing newline; a diff longer than maxLines ends with a line saying it was cut.
 */
export function diffRoots(from: string | null, to: string, load: LoadBlob, opts: DiffOptions = {}): string[] {
  const max = opts.maxLines ?? DIFF_MAX_LINES;
  const d = new TreeDiff(load, max);
  const a = viewOf(from, load, opts);
  const b = viewOf(to, load, opts);
  if (specialKind(a) !== null || specialKind(b) !== null) throw new Error('diffRoots: a root is an object of sections');
  d.object(a, b, 0, null);
  if (d.out.cut) d.out.lines.push(`@@ the diff is cut at ${max.toLocaleString('en-US')} lines: read both revisions (GET /v1/revisions/ID) for the rest @@`);
  return d.out.lines;
}
