// RFC 1035 §5 master ("zone") files → ZoneRecord lists for one zone.
// Owns: the entry lexer (lines, parentheses, comments), $ORIGIN/$TTL/$INCLUDE, owner and TTL inheritance, and the
// zone-level checks (one SOA at the origin, every owner inside the zone). Files are read a chunk at a time through
// zone-text.ts; plain one-line records take the fast path of zonefile-plain.ts and everything else the general
// reader here; rdata fields are parsed by rdata-text.ts. The only I/O is in loadZoneFile and $INCLUDE; parsing
// never throws and reports every problem with its file and line, then keeps going; a zone-level complaint that a
// skipped line may have caused (no SOA, no origin) is left out, so one mistake is one error.
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute as isAbsolutePath, join, resolve as resolvePath } from 'node:path';
import type { SoaData, ZoneRecord, RData, MxData, SrvData, CaaData } from '../wire/rdata.js';
import { TYPE, typeNumber, typeName } from '../wire/types.js';
import { canonicalName, isAtOrBelow, NameError, normalizeName } from '../wire/name.js';
import { parseRdata, parseTtl, readToken, resolveName, unescapeText, type Token } from './rdata-text.js';
import { DEFAULT_CHUNK_BYTES, filePieces, owned, stringPieces, ZoneReadError, ZoneText, type TextPieces } from './zone-text.js';
import { emptyPlainRecord, INCOMPLETE, NOT_PLAIN, PlainZone, readPlainRecord, type PlainScope } from './zonefile-plain.js';

/** One problem in a zone file. `line` is 1-based; 0 means the problem concerns the file as a whole. */
export interface ZoneFileError {
  file: string;
  line: number;
  message: string;
}

/** A parsed zone: `origin` is canonical presentation form without trailing dot ("" when it could not be found). */
export interface ParsedZone {
  origin: string;
  records: ZoneRecord[];
  errors: ZoneFileError[];
  /** Set when the file itself could not be read: why, in a few words ("no such file"); `errors` says it too. */
  unreadable?: string;
}

export interface ParseZoneOptions {
  /** Name shown in errors; $INCLUDE paths are resolved against its directory. */
  file: string;
  /** Zone origin; when absent, the first $ORIGIN before any record, else the SOA owner if written absolute. */
  origin?: string;
  /** TTL for records without one when the file has no $TTL. */
  defaultTtl?: number;
  /** Returns the text of an included file; receives the path already resolved against the including file's directory. */
  readInclude?: (path: string) => string;
}

export interface LoadZoneOptions {
  origin?: string;
  defaultTtl?: number;
  /** Bytes read at a time, for the zone file and its $INCLUDEs (default 1 MiB); tests make it small. */
  chunkBytes?: number;
}

/** $INCLUDE loops would otherwise recurse forever; real zones nest one or two levels. */
const MAX_INCLUDE_DEPTH = 8;

/** What the parser reads from: the options, and how an $INCLUDE is opened (undefined: no file access). */
interface ParseContext {
  file: string;
  origin: string | undefined;
  defaultTtl: number | undefined;
  /** The included file's text; throws what opening it throws. */
  openInclude: ((path: string) => TextPieces) | undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Lexer: one logical entry (a line, or several lines joined by parentheses) from the window

interface Entry {
  line: number;
  /** The entry's first line starts with a space or tab: the owner is the previous one (RFC 1035 §5.1). */
  blankOwner: boolean;
  tokens: Token[];
  /** Syntax problems found while reading the entry; an entry with any is skipped, but reported in reading order. */
  problems: Array<{ line: number; message: string }>;
}

interface Lexed {
  /** Undefined for a line with nothing on it but blanks and comments. */
  entry: Entry | undefined;
  /** Where the next entry starts, and its line number. */
  end: number;
  line: number;
}

/**
 * The entry that starts at `start` (always the start of a line), or undefined when it runs past the end of `src`
 * and more input may follow: the caller then widens the window and asks again.
 */
function lexEntry(src: string, start: number, startLine: number, eof: boolean): Lexed | undefined {
  const entry: Entry = { line: startLine, blankOwner: src[start] === ' ' || src[start] === '\t', tokens: [], problems: [] };
  let i = start;
  let line = startLine;
  let depth = 0;
  let openedOn = 0;
  let ended = false;
  while (i < src.length) {
    const ch = src[i]!;
    if (ch === '\n') {
      line++;
      i++;
      if (depth === 0) {
        ended = true;
        break;
      }
    } else if (ch === ' ' || ch === '\t' || ch === '\r') {
      i++;
    } else if (ch === ';') {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (ch === '(') {
      // RFC 1035 §5.1 groups lines with parentheses; a group inside a group is a typo. Said once per entry.
      if (depth === 1 && !entry.problems.some((p) => p.message.startsWith('nested'))) {
        entry.problems.push({ line, message: `nested "(" inside the group opened at line ${openedOn}: parentheses do not nest` });
      }
      if (depth === 0) openedOn = line;
      depth++;
      i++;
    } else if (ch === ')') {
      if (depth === 0) {
        entry.problems.push({ line, message: '")" without a matching "("' });
      } else {
        depth--;
      }
      i++;
    } else {
      const r = readToken(src, i);
      if (r.ok) {
        // Tokens are cut from the window; what a record keeps of them must not keep the window.
        r.token.text = owned(r.token.text);
        entry.tokens.push(r.token);
      } else {
        entry.problems.push({ line, message: r.error });
      }
      i = r.end;
    }
  }
  if (!ended && !eof) return undefined;
  if (depth > 0) {
    entry.problems.push({ line: openedOn, message: '"(" is never closed by a matching ")"' });
  }
  const some = entry.problems.length > 0 || entry.tokens.length > 0;
  return { entry: some ? entry : undefined, end: i, line };
}

/** lexNext's answer when the window ends inside an entry: more text was read in, lex again. */
const MORE = Symbol('more');

/** The entry at the window's position (undefined for a blank or comment-only one), moving past it; or MORE. */
function lexNext(zt: ZoneText): Entry | undefined | typeof MORE {
  const lexed = lexEntry(zt.text, zt.pos, zt.line, zt.eof);
  if (lexed === undefined) {
    zt.more();
    return MORE;
  }
  zt.pos = lexed.end;
  zt.line = lexed.line;
  return lexed.entry;
}

/** The entries of a window from its start, for a look through a file that is not parsed (findOrigin). */
function* entriesOf(zt: ZoneText): Generator<Entry> {
  for (;;) {
    if (zt.pos >= zt.text.length && !zt.more()) return;
    const entry = lexNext(zt);
    if (entry !== MORE && entry !== undefined) yield entry;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Record heads: [owner] [ttl] [class] type, with TTL and class in either order

interface Head {
  owner: Token | undefined;
  ttl: number | undefined;
  type: number;
  rest: Token[];
}

const CLASS_RE = /^(IN|CH|CS|HS|NONE|ANY|CLASS\d+)$/i;

function parseHead(entry: Entry): { ok: true; head: Head } | { ok: false; error: string } {
  const t = entry.tokens;
  let i = 0;
  const owner = entry.blankOwner ? undefined : t[i++];
  let ttl: number | undefined;
  let cls: string | undefined;
  while (i < t.length && !t[i]!.quoted) {
    const text = t[i]!.text;
    if (ttl === undefined && /^\d/.test(text)) {
      ttl = parseTtl(text);
      if (ttl === undefined) return { ok: false, error: `TTL "${text}" is not a duration 0-2147483647 (seconds, or units like 1h or 1w2d)` };
      i++;
    } else if (cls === undefined && CLASS_RE.test(text)) {
      cls = text.toUpperCase();
      if (cls !== 'IN' && cls !== 'CLASS1') return { ok: false, error: `class ${text} is not supported: Waymark serves class IN only` };
      i++;
    } else {
      break;
    }
  }
  const typeTok = t[i];
  if (typeTok === undefined) return { ok: false, error: 'record has no type (expected [owner] [ttl] [class] type rdata)' };
  const type = typeTok.quoted ? undefined : typeNumber(typeTok.text);
  if (type === undefined) return { ok: false, error: `unknown record type "${typeTok.text}" (use a known mnemonic or TYPEnnn)` };
  return { ok: true, head: { owner, ttl, type, rest: t.slice(i + 1) } };
}

/** The entry has this word (a type or directive) as one of its unquoted fields. */
function mentions(entry: Entry, word: string): boolean {
  return entry.tokens.some((t) => !t.quoted && t.text.toUpperCase() === word);
}

function isDirective(entry: Entry): boolean {
  const first = entry.tokens[0]!;
  return !entry.blankOwner && !first.quoted && first.text.startsWith('$');
}

/**
 * Zone origin when the caller gave none: the first $ORIGIN that comes before any record, otherwise the owner of
 * the first SOA if it is written absolute. Anything else would guess. Reads only as far as it must (usually one
 * entry). `hidden`: no origin was found and an entry that could not be read may have held it.
 */
function findOrigin(zt: ZoneText): { origin: string | undefined; hidden: boolean } {
  let sawRecord = false;
  let hidden = false;
  for (const e of entriesOf(zt)) {
    if (e.problems.length > 0) {
      if (mentions(e, 'SOA') || mentions(e, '$ORIGIN')) hidden = true;
      continue;
    }
    if (isDirective(e)) {
      if (!sawRecord && e.tokens[0]!.text.toUpperCase() === '$ORIGIN' && e.tokens.length === 2) {
        const r = resolveName(e.tokens[1]!.text, '', '$ORIGIN');
        if (r.ok) return { origin: r.name, hidden };
      }
      continue;
    }
    sawRecord = true;
    const h = parseHead(e);
    if (h.ok && h.head.type === TYPE.SOA && h.head.owner !== undefined && h.head.owner.text !== '@') {
      const r = resolveName(h.head.owner.text, '', 'owner');
      if (r.ok) return { origin: r.name, hidden };
    }
  }
  return { origin: undefined, hidden };
}

// ---------------------------------------------------------------------------------------------------------------
// Parser

/** Where something was read; `seq` is the position in reading order across all files, so errors can be reported in the order a reader meets them. */
interface Place { file: string; line: number; seq: number }
interface Located<T> extends Place { value: T }

interface ZoneState {
  ctx: ParseContext;
  errors: Located<ZoneFileError>[];
  /** Entries read so far, across all files. */
  seq: number;
  /** Every well-formed record in file order; SOA checks and TTL fill-in happen once the whole zone is read. */
  records: ZoneRecord[];
  /** Canonical zone origin, "" when unknown. */
  zoneOrigin: string;
  /** Lower-case zone origin for the at-or-below check. */
  zoneKey: string;
  /** The same zone key and the address strings the plain path shares between records. */
  plainZone: PlainZone;
  /** Last $TTL seen, in file order across includes (a $TTL inside an included file stays in force after it, as in BIND). */
  dollarTtl: number | undefined;
  soas: Located<ZoneRecord>[];
  /** An entry was skipped that could have been the SOA: the zone-level SOA checks would only repeat its error. */
  maybeSoaSkipped: boolean;
  /** Records that found no TTL anywhere, in file order; they get the SOA minimum once the SOA is known. */
  needTtl: ZoneRecord[];
  /** Where the first of needTtl was read, for the error when there is no SOA to take the minimum from. */
  firstNeedTtl: Place | undefined;
}

/** Per-file position: RFC 1035 §5.1 says an $INCLUDE never changes the origin or current owner of the including file. */
interface FileScope extends PlainScope {
  file: string;
  origin: string;
  relativeSuffix: string | undefined;
  lastOwner: string | undefined;
  lastOwnerInZone: boolean;
  depth: number;
  /** The files being read, outermost first (this one last): an $INCLUDE of one of them is a loop. */
  chain: readonly string[];
}

function newScope(st: ZoneState, file: string, origin: string, lastOwner: string | undefined, depth: number, chain: readonly string[]): FileScope {
  const scope: FileScope = { file, origin: '', relativeSuffix: undefined, lastOwner: undefined, lastOwnerInZone: false, depth, chain };
  setOrigin(st, scope, origin);
  setLastOwner(st, scope, lastOwner);
  return scope;
}

function inZone(st: ZoneState, name: string): boolean {
  return st.zoneKey === '' || isAtOrBelow(canonicalName(name), st.zoneKey);
}

function setOrigin(st: ZoneState, scope: FileScope, origin: string): void {
  scope.origin = origin;
  // The plain path completes relative owners only where that cannot leave the zone or need escapes. The origin is
  // canonical (normalizeName's output escapes every character a plain name may not hold), so no "\\" means plain.
  const usable = origin !== '' && !origin.includes('\\') && inZone(st, origin);
  scope.relativeSuffix = !usable ? undefined : origin === '.' ? '' : `.${origin}`;
}

function setLastOwner(st: ZoneState, scope: FileScope, owner: string | undefined, knownInZone?: boolean): void {
  scope.lastOwner = owner;
  scope.lastOwnerInZone = owner !== undefined && (knownInZone ?? inZone(st, owner));
}

/** The plain path's result, one object reused for every line: reading a plain line allocates only what is kept. */
const plain = emptyPlainRecord();

/** Read the entries of one file (the zone file or an $INCLUDE) to its end. */
function readEntries(st: ZoneState, zt: ZoneText, scope: FileScope): void {
  for (;;) {
    if (zt.pos >= zt.text.length && !zt.more()) return;
    const end = readPlainRecord(zt.text, zt.pos, zt.eof, scope, st.plainZone, plain);
    if (end === INCOMPLETE) {
      zt.more();
      continue;
    }
    if (end !== NOT_PLAIN) {
      const line = zt.line;
      zt.pos = end;
      if (zt.text.charCodeAt(end - 1) === 0x0a) zt.line++;
      if (!plain.blank) {
        // A plain owner is inside the zone by construction (zonefile-plain.ts refuses the rest).
        if (plain.ownerWritten) setLastOwner(st, scope, plain.owner, true);
        addRecord(st, scope.file, line, st.seq++, plain.owner, plain.type, plain.ttl, plain.data);
      }
      continue;
    }
    const entry = lexNext(zt);
    if (entry !== MORE && entry !== undefined) parseEntry(st, entry, scope);
  }
}

/**
 * Keep a well-formed record. TTL rule: the record's own TTL, else the $TTL in force, else opts.defaultTtl, else the
 * SOA MINIMUM. We deliberately do not inherit the previous record's TTL (RFC 1035 §5.1's "last stated TTL"): with
 * $TTL (RFC 2308) that rule only makes a record's TTL depend on which line happens to precede it.
 */
function addRecord(st: ZoneState, file: string, line: number, seq: number, name: string, type: number, ttl: number | undefined, data: RData): void {
  const chosenTtl = ttl ?? st.dollarTtl ?? st.ctx.defaultTtl;
  const rec: ZoneRecord = { name, type, ttl: chosenTtl ?? 0, data };
  st.records.push(rec);
  // Where a record was read is kept only for the few that may need it in an error (not one object per record).
  if (type === TYPE.SOA) {
    st.soas.push({ file, line, seq, value: rec });
    if (chosenTtl === undefined) rec.ttl = (data as SoaData).minimum;
  } else if (chosenTtl === undefined) {
    if (st.needTtl.length === 0) st.firstNeedTtl = { file, line, seq };
    st.needTtl.push(rec);
  }
}

/** One entry the general way: directives, and every record the plain path did not take (with all the errors). */
function parseEntry(st: ZoneState, e: Entry, scope: FileScope): void {
  const seq = st.seq++;
  const fail = (line: number, message: string): void => {
    st.errors.push({ file: scope.file, line, seq, value: { file: scope.file, line, message } });
  };
  if (e.problems.length > 0) {
    for (const p of e.problems) fail(p.line, p.message);
    if (mentions(e, 'SOA')) st.maybeSoaSkipped = true;
    return;
  }
  if (isDirective(e)) {
    directive(st, e, scope, fail);
    return;
  }
  const h = parseHead(e);
  if (!h.ok) {
    if (mentions(e, 'SOA')) st.maybeSoaSkipped = true;
    // The owner still becomes the current owner, so following blank-owner lines are not blamed for this line.
    if (!e.blankOwner) {
      const o = resolveName(e.tokens[0]!.text, scope.origin, 'owner');
      if (o.ok) setLastOwner(st, scope, o.name);
    }
    fail(e.line, h.error);
    return;
  }
  const { owner: ownerTok, ttl, type, rest } = h.head;
  const skip = (line: number, message: string): void => {
    if (type === TYPE.SOA) st.maybeSoaSkipped = true;
    fail(line, message);
  };
  let owner: string;
  if (ownerTok === undefined) {
    if (scope.lastOwner === undefined) {
      skip(e.line, 'line starts with whitespace, so it reuses the previous owner name, but there is none yet');
      return;
    }
    owner = scope.lastOwner;
  } else {
    const o = resolveName(ownerTok.text, scope.origin, 'owner');
    if (!o.ok) {
      skip(e.line, o.error);
      return;
    }
    owner = o.name;
    setLastOwner(st, scope, owner);
  }
  if (!(ownerTok === undefined ? scope.lastOwnerInZone : inZone(st, owner))) {
    skip(e.line, `owner "${owner}" is outside the zone "${st.zoneOrigin}"`);
    return;
  }
  const rd = parseRdata(type, rest, scope.origin);
  if (!rd.ok) {
    skip(e.line, rd.error);
    return;
  }
  addRecord(st, scope.file, e.line, seq, owner, type, ttl, rd.data);
}

function directive(st: ZoneState, e: Entry, scope: FileScope, fail: (line: number, message: string) => void): void {
  const [first, ...args] = e.tokens;
  const name = first!.text.toUpperCase();
  switch (name) {
    case '$ORIGIN': {
      if (args.length !== 1) return fail(e.line, `$ORIGIN needs exactly one domain name, got ${args.length}`);
      const r = resolveName(args[0]!.text, scope.origin, '$ORIGIN');
      if (!r.ok) return fail(e.line, r.error);
      setOrigin(st, scope, r.name);
      return;
    }
    case '$TTL': {
      if (args.length !== 1) return fail(e.line, `$TTL needs exactly one TTL, got ${args.length}`);
      const v = parseTtl(args[0]!.text);
      if (v === undefined) return fail(e.line, `$TTL "${args[0]!.text}" is not a duration 0-2147483647 (seconds, or units like 1h or 1w2d)`);
      st.dollarTtl = v;
      return;
    }
    case '$INCLUDE':
      return include(st, e, args, scope, fail);
    default:
      return fail(e.line, `unknown directive "${first!.text}" (supported: $ORIGIN, $TTL, $INCLUDE)`);
  }
}

function include(st: ZoneState, e: Entry, args: Token[], scope: FileScope, fail: (line: number, message: string) => void): void {
  if (args.length < 1 || args.length > 2) return fail(e.line, `$INCLUDE needs a file name and optionally an origin, got ${args.length} fields`);
  const open = st.ctx.openInclude;
  if (open === undefined) return fail(e.line, '$INCLUDE is not available here: the zone text was given without file access');
  if (scope.depth >= MAX_INCLUDE_DEPTH) return fail(e.line, `$INCLUDE nested more than ${MAX_INCLUDE_DEPTH} deep (does a file include itself?)`);
  const rawPath = unescapeText(args[0]!.text);
  if (!rawPath.ok) return fail(e.line, `$INCLUDE file name: ${rawPath.error}`);
  const written = rawPath.bytes.toString('utf8');
  const path = isAbsolutePath(written) ? written : join(dirname(scope.file), written);
  let origin = scope.origin;
  if (args.length === 2) {
    const r = resolveName(args[1]!.text, scope.origin, '$INCLUDE origin');
    if (!r.ok) return fail(e.line, r.error);
    origin = r.name;
  }
  const loop = scope.chain.indexOf(resolvePath(path));
  if (loop >= 0) return fail(e.line, `$INCLUDE loop: "${written}" is ${loop === scope.chain.length - 1 ? 'this file' : 'already being read'} (${[...scope.chain.slice(loop), resolvePath(path)].join(' → ')})`);
  let zt: ZoneText;
  try {
    zt = new ZoneText(open(path));
  } catch (err) {
    return fail(e.line, `cannot read $INCLUDE file "${path}": ${readFailure(err instanceof ZoneReadError ? err.cause : err)}`);
  }
  try {
    readEntries(st, zt, newScope(st, path, origin, scope.lastOwner, scope.depth + 1, [...scope.chain, resolvePath(path)]));
  } catch (err) {
    // The file went unreadable part way (an I/O error): what was read stays, and the $INCLUDE line says why.
    if (!(err instanceof ZoneReadError)) throw err;
    fail(e.line, `cannot read $INCLUDE file "${path}": ${readFailure(err.cause)}`);
  } finally {
    zt.close();
  }
}

/**
 * Parse one zone from `open` (called once to find the origin when none is given, and once to read the zone).
 * Throws only ZoneReadError, when the text cannot be read.
 */
function parseZone(open: () => TextPieces, ctx: ParseContext): ParsedZone {
  // Whole-file problems (line 0) come first; everything else is reported in reading order.
  const errors: Located<ZoneFileError>[] = [];
  const fileError = (message: string): void => {
    errors.push({ file: ctx.file, line: 0, seq: -1, value: { file: ctx.file, line: 0, message } });
  };

  let zoneOrigin = '';
  if (ctx.origin !== undefined) {
    try {
      zoneOrigin = normalizeName(ctx.origin);
    } catch (err) {
      if (!(err instanceof NameError)) throw err;
      fileError(`origin "${ctx.origin}": ${err.message}`);
    }
  } else {
    const look = new ZoneText(open());
    let found: { origin: string | undefined; hidden: boolean };
    try {
      found = findOrigin(look);
    } finally {
      look.close();
    }
    zoneOrigin = found.origin ?? '';
    // An entry that could not be read may hold the $ORIGIN or SOA; its own error is the one to fix.
    if (zoneOrigin === '' && !found.hidden) {
      fileError('cannot tell the zone origin: add "$ORIGIN example.com." at the top, or write the SOA owner as an absolute name');
    }
  }

  const zoneKey = zoneOrigin === '' ? '' : canonicalName(zoneOrigin);
  const st: ZoneState = {
    ctx, errors, seq: 0, records: [], zoneOrigin, zoneKey, plainZone: new PlainZone(zoneKey),
    dollarTtl: undefined, soas: [], maybeSoaSkipped: false, needTtl: [], firstNeedTtl: undefined,
  };
  const zt = new ZoneText(open());
  try {
    readEntries(st, zt, newScope(st, ctx.file, zoneOrigin, undefined, 0, [resolvePath(ctx.file)]));
  } finally {
    zt.close();
  }
  return finishZone(st, fileError);
}

/** Zone-level checks once everything is read: exactly one SOA, at the origin; TTLs from its minimum. */
function finishZone(st: ZoneState, fileError: (message: string) => void): ParsedZone {
  const { errors, zoneOrigin } = st;
  // Rejected SOAs (and records left without a TTL) are left out of the records.
  const rejected = new Set<ZoneRecord>();
  let soa: SoaData | undefined;
  if (st.soas.length === 0 && !st.maybeSoaSkipped) {
    fileError('zone has no SOA record; add one at the zone origin');
  }
  for (const [n, s] of st.soas.entries()) {
    if (n > 0) {
      const first = st.soas[0]!;
      errors.push({ ...s, value: { file: s.file, line: s.line, message: `second SOA record (the first is in ${first.file} line ${first.line}); a zone has exactly one` } });
      rejected.add(s.value);
    } else if (st.zoneKey !== '' && canonicalName(s.value.name) !== st.zoneKey) {
      errors.push({ ...s, value: { file: s.file, line: s.line, message: `SOA owner "${s.value.name}" is not the zone origin "${zoneOrigin}"` } });
      rejected.add(s.value);
    } else {
      soa = s.value.data as SoaData;
    }
  }

  const needing = st.needTtl;
  if (needing.length > 0) {
    if (soa !== undefined) {
      for (const r of needing) r.ttl = soa.minimum;
    } else if (!(st.soas.length === 0 && st.maybeSoaSkipped)) {
      const first = st.firstNeedTtl!;
      const more = needing.length > 1 ? ` (and ${needing.length - 1} more)` : '';
      errors.push({ ...first, value: { file: first.file, line: first.line, message: `record has no TTL${more}: give it a TTL or add a $TTL line (the SOA minimum would apply, but there is no usable SOA)` } });
      for (const r of needing) rejected.add(r);
    }
  }

  errors.sort((a, b) => a.seq - b.seq || a.line - b.line);
  const records = rejected.size === 0 ? st.records : st.records.filter((r) => !rejected.has(r));
  return { origin: zoneOrigin, records, errors: errors.map((e) => e.value) };
}

/** Parse master-file text for one zone. Never throws; see ParsedZone.errors. */
export function parseZoneText(text: string, opts: ParseZoneOptions): ParsedZone {
  const readInclude = opts.readInclude;
  return parseZone(() => stringPieces(text), {
    file: opts.file, origin: opts.origin, defaultTtl: opts.defaultTtl,
    openInclude: readInclude === undefined ? undefined : (path) => stringPieces(readInclude(path)),
  });
}

/** Why a file could not be read, in a few words ("no such file"); the system's message for unusual errors. */
export function readFailure(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const known: Record<string, string> = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'is a directory, not a file', ENOTDIR: 'a part of the path is not a directory' };
  if (code !== undefined && known[code] !== undefined) return known[code];
  return err instanceof Error ? err.message : String(err);
}

/**
 * The zone file's text, a chunk at a time. A regular file is opened again for each pass; anything else (a pipe,
 * /dev/stdin) can be read only once, so it is read whole, as before streaming.
 */
function mainPieces(path: string, chunkBytes: number): () => TextPieces {
  let regular: boolean;
  try {
    regular = statSync(path).isFile();
  } catch (err) {
    throw new ZoneReadError(err);
  }
  if (regular) return () => filePieces(path, chunkBytes);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ZoneReadError(err);
  }
  return () => stringPieces(text);
}

/** Read and parse a zone file, a chunk at a time; an unreadable file is reported in `errors`, never thrown. */
export function loadZoneFile(path: string, opts: LoadZoneOptions = {}): ParsedZone {
  const chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  try {
    return parseZone(mainPieces(path, chunkBytes), {
      file: path, origin: opts.origin, defaultTtl: opts.defaultTtl,
      openInclude: (p) => filePieces(p, chunkBytes),
    });
  } catch (err) {
    if (!(err instanceof ZoneReadError)) throw err;
    const unreadable = readFailure(err.cause);
    const message = `cannot read zone file: ${unreadable}`;
    let origin = '';
    try {
      if (opts.origin !== undefined) origin = normalizeName(opts.origin);
    } catch {
      // The unreadable file is the error worth reporting; a bad origin will show up once it can be read.
    }
    return { origin, records: [], errors: [{ file: path, line: 0, message }], unreadable };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering: records back to master-file text (revisions store zones self-contained; `waymark export` prints them).

function quoteText(b: Buffer): string {
  let s = '"';
  for (const c of b) {
    if (c === 0x22 || c === 0x5c) s += `\\${String.fromCharCode(c)}`;
    else if (c < 0x20 || c > 0x7e) s += `\\${String(c).padStart(3, '0')}`;
    else s += String.fromCharCode(c);
  }
  return `${s}"`;
}

const abs = (name: string): string => (name === '.' ? '.' : `${name}.`);

/** Presentation form of one record's data (RFC 1035 §5.1; RFC 3597 for types without a typed form). */
export function rdataToText(type: number, data: RData): string {
  switch (type) {
    case TYPE.A: case TYPE.AAAA: return data as string;
    case TYPE.NS: case TYPE.CNAME: case TYPE.PTR: return abs(data as string);
    case TYPE.MX: { const d = data as MxData; return `${d.preference} ${abs(d.exchange)}`; }
    case TYPE.SRV: { const d = data as SrvData; return `${d.priority} ${d.weight} ${d.port} ${abs(d.target)}`; }
    case TYPE.TXT: return (data as Buffer[]).map(quoteText).join(' ');
    case TYPE.CAA: { const d = data as CaaData; return `${d.flags} ${d.tag} ${quoteText(Buffer.from(d.value))}`; }
    case TYPE.SOA: {
      const d = data as SoaData;
      return `${abs(d.mname)} ${abs(d.rname)} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
    }
    default: {
      const b = data as Buffer;
      return `\\# ${b.length}${b.length ? ` ${b.toString('hex')}` : ''}`;
    }
  }
}

/** A whole zone as master-file text that parseZoneText reads back to the same records. */
export function renderZone(origin: string, records: readonly ZoneRecord[]): string {
  const lines = [`$ORIGIN ${abs(origin)}`];
  const soa = records.filter((r) => r.type === TYPE.SOA);
  for (const r of [...soa, ...records.filter((x) => x.type !== TYPE.SOA)]) {
    lines.push(`${abs(r.name)} ${r.ttl} IN ${typeName(r.type)} ${rdataToText(r.type, r.data)}`);
  }
  return `${lines.join('\n')}\n`;
}
