// YAML of a configuration, line by line (SPEC C2: `waymark export` and revision diffs at provider scale): large
// arrays are written element by element and long master-file texts line by line, so a document is never one string,
// and a revision is read from the store one part at a time. Everything small is written by the yaml package exactly
// as toYaml writes it, so the YAML of a small configuration is what it always was.
// Owns: turning values (plain, or encoded by state/content.ts) into YAML lines. Never decides what is in force.
import YAML from 'yaml';
import { decodeValue, linesOf, specialKind, type ChunkList, type LoadBlob } from '../state/content.js';

export const YAML_OPTIONS = { lineWidth: 0, blockQuote: 'literal' } as const;

/** Arrays longer than this, and strings longer than this many characters, are written in pieces. */
const SPLIT_ITEMS = 64;
const SPLIT_TEXT = 64 * 1024;
/** Characters a literal block scalar cannot hold as they are (the yaml package quotes such strings). */
const NOT_LITERAL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff]/;

export type Shape = 'array' | 'object' | 'text' | 'scalar';

function pad(n: number): string {
  return ' '.repeat(n);
}

/** The yaml package's lines for a small value, indented. */
export function yamlLines(doc: unknown, indent: number): string[] {
  const lines = YAML.stringify(doc, YAML_OPTIONS).replace(/\n$/, '').split('\n');
  if (indent === 0) return lines;
  const p = pad(indent);
  return lines.map((l) => (l === '' ? l : p + l));
}

/** `line` (indented by indent + 2) as the first line of a sequence item at `indent`. */
function dashed(line: string, indent: number): string {
  return `${pad(indent)}- ${line.slice(indent + 2)}`;
}

/**
 * Lines of YAML for values that are either plain (load = null: a configuration in memory) or encoded (a revision in
 * the store: parts are loaded as they are written and let go after).
 */
export class YamlLines {
  private readonly keys = new Map<string, string>();

  constructor(private readonly load: LoadBlob | null) {}

  /** The whole document of top-level entries (bootstrap sections first, as mergeConfig orders them). */
  *document(entries: Iterable<[string, unknown]>): Generator<string> {
    let any = false;
    for (const [k, v] of entries) {
      any = true;
      yield* this.entry(k, v, 0);
    }
    if (!any) yield '{}';
  }

  /** `key: value` at `indent`. */
  *entry(key: string, value: unknown, indent: number): Generator<string> {
    const e = this.resolve(value);
    const shape = this.needsSplit(e) ? this.shape(e) : 'scalar';
    const head = `${pad(indent)}${this.keyText(key)}:`;
    if (shape === 'array') {
      yield head;
      for (const x of this.elements(e)) yield* this.item(x, indent + 2);
    } else if (shape === 'object') {
      yield head;
      for (const [k, v] of this.entries(e)) yield* this.entry(k, v, indent + 2);
    } else {
      const block = shape === 'text' ? this.blockHeader(e) : null;
      if (block !== null) {
        yield `${head} ${block}`;
        yield* this.blockLines(e, indent + 2);
      } else {
        yield* yamlLines({ [key]: this.plain(e) }, indent);
      }
    }
  }

  /** `- value` at `indent`. */
  *item(value: unknown, indent: number): Generator<string> {
    const e = this.resolve(value);
    const shape = this.needsSplit(e) ? this.shape(e) : 'scalar';
    if (shape === 'array' || shape === 'object') {
      let first = true;
      const inner = shape === 'array' ? this.itemsOf(e, indent + 2) : this.entriesLines(e, indent + 2);
      for (const line of inner) {
        yield first ? dashed(line, indent) : line;
        first = false;
      }
    } else {
      const block = shape === 'text' ? this.blockHeader(e) : null;
      if (block !== null) {
        yield `${pad(indent)}- ${block}`;
        yield* this.blockLines(e, indent + 2);
      } else {
        yield* yamlLines([this.plain(e)], indent);
      }
    }
  }

  /** A value with its section reference followed (a revision's root holds references only). */
  resolve(value: unknown): unknown {
    let e = value;
    while (this.load && specialKind(e) === '$ref') e = JSON.parse(this.load((e as { $ref: string }).$ref));
    return e;
  }

  /** Too large to hand to the yaml package whole: chunked, long, or holding something that is. */
  needsSplit(e: unknown): boolean {
    if (typeof e === 'string') return e.length > SPLIT_TEXT;
    if (e === null || typeof e !== 'object') return false;
    const kind = this.kind(e);
    if (kind === '$ref' || kind === '$chunks' || kind === '$lines') return true;
    if (Array.isArray(e)) return e.length > SPLIT_ITEMS || e.some((x) => this.needsSplit(x));
    return Object.values(this.objectOf(e)).some((x) => this.needsSplit(x));
  }

  shape(e: unknown): Shape {
    const kind = this.kind(e);
    if (Array.isArray(e) || kind === '$chunks') return 'array';
    if (typeof e === 'string' || kind === '$lines') return 'text';
    if (e !== null && typeof e === 'object') return 'object';
    return 'scalar';
  }

  /** The elements of an array (inline, or chunk by chunk). */
  *elements(e: unknown): Generator<unknown> {
    if (Array.isArray(e)) { yield* e; return; }
    for (const [hash] of (e as { $chunks: ChunkList }).$chunks) yield* JSON.parse(this.load!(hash)) as unknown[];
  }

  /** The lines of a text, each with its line break (chunk by chunk). */
  *textLines(e: unknown): Generator<string> {
    if (typeof e === 'string') { yield* linesOf(e); return; }
    for (const [hash] of (e as { $lines: ChunkList }).$lines) yield* linesOf(JSON.parse(this.load!(hash)) as string);
  }

  /** The entries of an object (an escaped one unwrapped). */
  entries(e: unknown): Array<[string, unknown]> {
    return Object.entries(this.objectOf(e));
  }

  /** The plain value of something small (decoded when it is encoded). */
  plain(e: unknown): unknown {
    return this.load ? decodeValue(e, this.load) : e;
  }

  private *itemsOf(e: unknown, indent: number): Generator<string> {
    for (const x of this.elements(e)) yield* this.item(x, indent);
  }

  private *entriesLines(e: unknown, indent: number): Generator<string> {
    for (const [k, v] of this.entries(e)) yield* this.entry(k, v, indent);
  }

  private kind(e: unknown): ReturnType<typeof specialKind> {
    return this.load ? specialKind(e) : null;
  }

  objectOf(e: unknown): Record<string, unknown> {
    return (this.kind(e) === '$obj' ? (e as { $obj: Record<string, unknown> }).$obj : e) as Record<string, unknown>;
  }

  /** A key as the yaml package writes it (quoted when it must be). */
  keyText(key: string): string {
    let t = this.keys.get(key);
    if (t === undefined) {
      t = YAML.stringify({ [key]: 0 }, YAML_OPTIONS).replace(/: 0\n$/, '');
      this.keys.set(key, t);
    }
    return t;
  }

  /**
   * The header of a literal block for a long text ("|", "|-", "|+", with "2" when it starts with a space or a line
   * break), or null when the text has characters only a quoted string can hold. Reads the text once more.
   */
  blockHeader(e: unknown): string | null {
    let first: string | null = null;
    let emptyRun = 0;
    let lastEndsWithBreak = false;
    for (const line of this.textLines(e)) {
      if (NOT_LITERAL.test(line)) return null;
      first ??= line[0] ?? '';
      if (line === '\n') emptyRun++;
      else { emptyRun = 0; lastEndsWithBreak = line.endsWith('\n'); }
    }
    const breaks = emptyRun + (lastEndsWithBreak ? 1 : 0);
    const indicator = first === ' ' || first === '\n' ? '2' : '';
    return `|${indicator}${breaks === 0 ? '-' : breaks === 1 ? '' : '+'}`;
  }

  /**
   * The literal block header as blockHeader gives it, from the first and the last chunk only (a diff shows it as
   * context and must not read a 1,000,000-line text for it): the characters in between are not checked.
   */
  blockHeaderOfEnds(e: unknown): string {
    if (typeof e === 'string' || this.kind(e) !== '$lines') return this.blockHeader(e) ?? '|';
    const chunks = (e as { $lines: ChunkList }).$lines;
    const first = JSON.parse(this.load!(chunks[0]![0])) as string;
    const last = chunks.length > 1 ? JSON.parse(this.load!(chunks[chunks.length - 1]![0])) as string : first;
    const breaks = last.length - last.replace(/\n+$/, '').length;
    return `|${first[0] === ' ' || first[0] === '\n' ? '2' : ''}${breaks === 0 ? '-' : breaks === 1 ? '' : '+'}`;
  }

  private *blockLines(e: unknown, indent: number): Generator<string> {
    const p = pad(indent);
    for (const line of this.textLines(e)) {
      const content = line.endsWith('\n') ? line.slice(0, -1) : line;
      yield content === '' ? '' : p + content;
    }
  }
}

/**
 * Write lines to a stream in pieces of about `pieceBytes`, waiting when the stream asks to (a slow reader never
 * makes the writer hold the document). Resolves when everything is handed to the stream.
 */
export async function writeLines(lines: Iterable<string>, out: NodeJS.WritableStream, pieceBytes = 64 * 1024): Promise<void> {
  let buf = '';
  const flush = async (): Promise<void> => {
    const piece = buf;
    buf = '';
    if (!out.write(piece)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  };
  for (const line of lines) {
    buf += `${line}\n`;
    if (buf.length >= pieceBytes) await flush();
  }
  await new Promise<void>((resolve, reject) => out.write(buf, (err) => (err ? reject(err) : resolve())));
}
