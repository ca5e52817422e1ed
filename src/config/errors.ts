// Configuration errors (SPEC C1): one shape for every problem the control plane reports (YAML syntax, schema, zone
// files, compile checks, API requests) and the one formatter that renders them, so an operator reads the same form
// from `waymark check`, `serve`, reload logs and API 400 bodies.
// Owns: ConfigError, its text form, value quoting, "did you mean" suggestions, and zod issues → ConfigErrors.
//
// The text form of one error:
//
//   LOCATION: ["VALUE" ]PROBLEM[; EXPECTED]
//
// LOCATION, from what is known, most specific last:
//   FILE:LINE[:COLUMN]    a line of a file (zone file, or a YAML syntax error)   examples/zones/x.zone:12
//   FILE: FIELD           a field of the YAML file                               examples/demo.yaml: pools[1].members[0].address
//   FILE: FIELD:LINE      a line of master-file text held in a field             demo.yaml: zones[0].text:3
//   FIELD                 no file: an API request (FIELD from the configuration root), or a config given as a value
//   FILE                  the file as a whole                                    examples/zones/x.zone
// VALUE is the offending value as written, JSON-quoted, cut to 60 characters with "…" (objects are not shown: the
// location names them). A PROBLEM that must mention the value elsewhere quotes it itself (quoteValue) and sets no
// `value`. EXPECTED says what would be valid, or suggests the nearest allowed name ("did you mean …?").
// The API (http.ts fieldErrors) sends the same parts: errors[] of { path: LOCATION, field: FIELD relative to the
// object sent, message: ["VALUE" ]PROBLEM[; EXPECTED] }, and the body's message joins them ("field: message; …").
// Every error is reported at once, one line each, in the order found; an error that another one causes is left out
// (e.g. no "zone has no SOA record" after the unclosed parenthesis that swallowed the SOA).
// Examples:
//   examples/demo.yaml: pools[1].members[0].address: "127.0.0.300" is not an IPv4 or IPv6 address
//   examples/demo.yaml: server.workres: unknown key; did you mean "workers"?
//   examples/demo.yaml: zones[0].file: cannot read "zones/missing.zone": no such file
//   examples/zones/x.zone:12: "1.2.3" is not an IPv4 address
//   examples/demo.yaml:3:1: YAML syntax error: flow sequence in block collection must be sufficiently indented and end with a ]
import { redactValue } from '../net/url.js';
import type { z } from 'zod';

export interface ConfigError {
  /** The YAML file, or the zone file a line belongs to; absent for a configuration that came as a value (API). */
  file?: string;
  /** Field path from the configuration root, e.g. `pools[1].members[0].address`; '' when `file` and `line` say where. */
  path: string;
  /** 1-based line (and column) in `file`, or in the master-file text of `path`. */
  line?: number;
  column?: number;
  /** What is wrong. Says the value only when `value` is absent. */
  message: string;
  /** The offending value as written. */
  value?: unknown;
  /** What would be valid: a range, the allowed forms, or "did you mean …?". */
  expected?: string;
}

const MAX_VALUE = 60;

/** A value as an error shows it: JSON, cut to MAX_VALUE characters. */
export function quoteValue(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : typeof v === 'number' || typeof v === 'boolean' || v === null ? String(v) : JSON.stringify(v) ?? String(v);
  if (s.length <= MAX_VALUE) return s;
  return `${s.slice(0, MAX_VALUE - 2)}…${s.startsWith('"') ? '"' : ''}`;
}

/** Values worth repeating in a message: scalars and lists; an object is named by the location already. */
function showable(v: unknown): boolean {
  return v !== undefined && (typeof v !== 'object' || v === null || Array.isArray(v));
}

export function formatLocation(e: ConfigError): string {
  const parts: string[] = [];
  const at = e.line !== undefined ? `:${e.line}${e.column !== undefined ? `:${e.column}` : ''}` : '';
  if (e.file !== undefined) parts.push(e.path === '' ? `${e.file}${at}` : e.file);
  if (e.path !== '') parts.push(`${e.path}${at}`);
  return parts.join(': ') || '(configuration)';
}

/** The error without its location: what an API body puts next to the field it names. */
export function formatProblem(e: ConfigError): string {
  const value = showable(e.value) ? `${quoteValue(e.value)} ` : '';
  return `${value}${e.message}${e.expected ? `; ${e.expected}` : ''}`;
}

export function formatError(e: ConfigError): string {
  return `${formatLocation(e)}: ${formatProblem(e)}`;
}

/** One error per line, in the order found. */
export function formatErrors(errors: readonly ConfigError[]): string {
  return errors.map(formatError).join('\n');
}

/** Errors of a file: those without their own file get `file` (zone-file errors keep theirs). */
export function inFile(errors: readonly ConfigError[], file: string | null): ConfigError[] {
  return file === null ? [...errors] : errors.map((e) => (e.file === undefined ? { ...e, file } : e));
}

// ---------------------------------------------------------------------------------------------------------------
// "Did you mean"

/** Edit distance (insertions, deletions, substitutions, and swaps of two neighbours: "wieght"), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  const d: number[][] = Array.from({ length: x.length + 1 }, (_, i) => Array.from({ length: y.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      const row = d[i]!;
      row[j] = Math.min(d[i - 1]![j]! + 1, row[j - 1]! + 1, d[i - 1]![j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[x.length]![y.length]!;
}

/** The allowed word nearest to `word`, if it is near enough to be a likely typo (a third of its length, at least 1). */
export function nearest(word: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const a of allowed) {
    const d = editDistance(word, a);
    if (d < bestD) {
      best = a;
      bestD = d;
    }
  }
  return best;
}

/** `{ expected: 'did you mean "x"?' }` for a near word, else `{}`: for names defined elsewhere in the configuration. */
export function didYouMean(word: string, allowed: Iterable<string>): Pick<ConfigError, 'expected'> {
  const n = nearest(word, [...allowed]);
  return n === undefined ? {} : { expected: `did you mean ${JSON.stringify(n)}?` };
}

/** `did you mean "x"?` for a near word, else the list of what is allowed. */
export function suggest(word: string, allowed: readonly string[]): string {
  const n = nearest(word, allowed);
  if (n !== undefined) return `did you mean ${JSON.stringify(n)}?`;
  return `use ${allowed.length === 1 ? '' : 'one of '}${allowed.map((a) => JSON.stringify(a)).join(', ')}`;
}

// ---------------------------------------------------------------------------------------------------------------
// zod issues → ConfigErrors

type Key = PropertyKey;

export function formatPath(path: ReadonlyArray<Key>): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : (s ? '.' : '') + String(p);
  return s || '(top level)';
}

/** The schemas a value at `path` of `root` is checked against (several below a union), wrappers removed. */
function schemasAt(root: z.ZodType, path: ReadonlyArray<Key>): z.ZodType[] {
  let current = unwrap(root);
  for (const key of path) {
    const next: z.ZodType[] = [];
    for (const s of current) {
      const def = s._zod.def as { type: string; shape?: Record<string, z.ZodType>; element?: z.ZodType };
      if (def.type === 'object' && typeof key === 'string' && def.shape?.[key]) next.push(...unwrap(def.shape[key]));
      else if (def.type === 'array' && typeof key === 'number' && def.element) next.push(...unwrap(def.element));
    }
    current = next;
  }
  return current;
}

/** Optional, default, pipe (transform) and union wrappers → the schemas underneath. */
function unwrap(s: z.ZodType): z.ZodType[] {
  const def = s._zod.def as { type: string; innerType?: z.ZodType; in?: z.ZodType; options?: z.ZodType[] };
  if (def.innerType) return unwrap(def.innerType);
  if (def.type === 'pipe' && def.in) return unwrap(def.in);
  if (def.type === 'union' && def.options) return def.options.flatMap(unwrap);
  return [s];
}

/**
 * The keys an object at `path` may have. Below a union of objects (monitors by type), the options whose literal
 * fields match the object given; all options when none does.
 */
export function allowedKeys(root: z.ZodType, path: ReadonlyArray<Key>, input: unknown): string[] {
  const objects = schemasAt(root, path).filter((s) => s._zod.def.type === 'object') as z.ZodObject[];
  const given = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  const matching = objects.filter((o) => Object.entries(o.shape).every(([k, f]) => {
    const values = (f as z.ZodType)._zod.def.type === 'literal' ? (f._zod.def as unknown as { values: unknown[] }).values : undefined;
    return values === undefined || values.includes(given[k]);
  }));
  return [...new Set((matching.length > 0 ? matching : objects).flatMap((o) => Object.keys(o.shape)))];
}

const DEFAULT_MESSAGE = /^(Invalid|Too (small|big)|Unrecognized)/;

const KIND: Record<string, string> = {
  string: 'a string', number: 'a number', int: 'a whole number', boolean: 'true or false', array: 'a list', object: 'a mapping (key: value)',
};

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v === 'number' && Number.isInteger(v) ? 'a whole number' : KIND[typeof v] ?? typeof v}`;
}

const listed = (vs: readonly unknown[]): string => vs.map((v) => JSON.stringify(v)).join(', ');

/** One issue (not unrecognized_keys) as a problem and what would be valid. */
function describe(i: z.core.$ZodIssue): Pick<ConfigError, 'message' | 'expected'> {
  const custom = DEFAULT_MESSAGE.test(i.message) ? undefined : i.message;
  // A custom message that only says what to do ("use …", "give …") is the expected part of the default problem.
  const hint = custom && /^(use|give|must) /.test(custom) ? custom : undefined;
  switch (i.code) {
    case 'invalid_type':
      if (i.input === undefined) return { message: 'is required', expected: `give ${KIND[i.expected] ?? i.expected}` };
      return { message: `is ${kindOf(i.input)}`, expected: `expected ${KIND[i.expected] ?? i.expected}` };
    case 'too_small': {
      const n = Number(i.minimum);
      if (i.origin === 'array' || i.origin === 'set') return { message: n === 1 ? 'is empty' : 'has too few items', expected: hint ?? `give at least ${n}` };
      if (i.origin === 'string') return { message: n === 1 ? 'is empty' : 'is too short', expected: hint ?? `use at least ${n} characters` };
      return { message: 'is too small', expected: hint ?? `use ${i.inclusive ? 'at least' : 'more than'} ${n}` };
    }
    case 'too_big': {
      const n = Number(i.maximum);
      if (i.origin === 'array' || i.origin === 'set') return { message: 'has too many items', expected: hint ?? `give at most ${n}` };
      if (i.origin === 'string') return { message: 'is too long', expected: hint ?? `use at most ${n} characters` };
      return { message: 'is too big', expected: hint ?? `use ${i.inclusive ? 'at most' : 'less than'} ${n}` };
    }
    case 'invalid_value': {
      const near = typeof i.input === 'string' ? nearest(i.input, i.values.filter((v): v is string => typeof v === 'string')) : undefined;
      return { message: i.values.length === 1 ? `is not ${JSON.stringify(i.values[0])}` : `is not one of ${listed(i.values)}`, expected: near !== undefined ? `did you mean ${JSON.stringify(near)}?` : undefined };
    }
    case 'invalid_format': {
      if (hint) return { message: 'has the wrong form', expected: hint };
      if (custom) return { message: custom };
      const f = i as z.core.$ZodIssueInvalidStringFormat & { prefix?: string };
      return { message: 'has the wrong form', expected: f.format === 'starts_with' && f.prefix !== undefined ? `start it with ${JSON.stringify(f.prefix)}` : f.pattern ? `match ${f.pattern}` : undefined };
    }
    default:
      return { message: custom ?? i.message };
  }
}

/**
 * Zod issues → ConfigErrors, one per field: unknown keys each named with the nearest allowed key of that object
 * (`root` is the schema parsed, to find them), values as given (parse with `reportInput: true` to have them).
 */
export function zodIssuesToErrors(issues: ReadonlyArray<z.core.$ZodIssue>, root: z.ZodType): ConfigError[] {
  const out: ConfigError[] = [];
  for (const i of issues) {
    for (const e of issueErrors(i, root)) {
      // A TSIG secret is never shown, also not when it is wrong: the message says what is wrong with it.
      if (isSecretPath(i.path)) delete e.value;
      out.push(e);
    }
  }
  return out;
}

function isSecretPath(path: ReadonlyArray<PropertyKey>): boolean {
  return path[0] === 'keys' && path[2] === 'secret';
}

function issueErrors(i: z.core.$ZodIssue, root: z.ZodType): ConfigError[] {
  if (i.code === 'unrecognized_keys') {
    const allowed = allowedKeys(root, i.path, i.input);
    return i.keys.map((k) => ({ path: formatPath([...i.path, k]), message: 'unknown key', expected: allowed.length > 0 ? suggest(k, allowed) : undefined }));
  }
  if (i.code === 'invalid_union') {
    const u = i as z.core.$ZodIssueInvalidUnion & { discriminator?: string; options?: unknown[] };
    if (u.discriminator !== undefined && u.options) {
      // A discriminated union (monitors): the discriminator field is what is wrong, and the path already names it.
      const value = typeof i.input === 'object' && i.input !== null ? (i.input as Record<string, unknown>)[u.discriminator] : i.input;
      const words = u.options.filter((o): o is string => typeof o === 'string');
      if (value === undefined) return [{ path: formatPath(i.path), message: 'is required', expected: `use one of ${listed(u.options)}` }];
      const near = typeof value === 'string' ? nearest(value, words) : undefined;
      return [{ path: formatPath(i.path), value, message: `is not one of ${listed(u.options)}`, expected: near !== undefined ? `did you mean ${JSON.stringify(near)}?` : undefined }];
    }
    // A union of object forms given an object with a key none of them has: name the key, as for any object.
    if (typeof i.input === 'object' && i.input !== null && !Array.isArray(i.input)) {
      const allowed = allowedKeys(root, i.path, undefined);
      const unknown = Object.keys(i.input).filter((k) => !allowed.includes(k));
      if (allowed.length > 0 && unknown.length > 0) {
        return unknown.map((k) => ({ path: formatPath([...i.path, k]), message: 'unknown key', expected: suggest(k, allowed) }));
      }
      if (allowed.length > 0) return [{ path: formatPath(i.path), message: 'matches none of the allowed forms', expected: `give one of ${allowed.join(', ')}` }];
    }
    return [{ path: formatPath(i.path), value: redactValue(i.input), message: 'has the wrong type or form' }];
  }
  return [{ path: formatPath(i.path), value: redactValue(i.input), ...describe(i) }];
}
