// YAML text → a plain value, by the fastest reader that reads it exactly as the `yaml` package would.
// Owns: which parser reads a configuration. js-yaml with the YAML 1.2 core schema (the one `yaml` uses) reads a
// 100,000-name configuration in about 1 s, where `yaml` takes 8 (it keeps a concrete syntax tree of the whole
// document). Whatever js-yaml refuses, and everything the two might read differently — directives, explicit tags,
// aliases, null or complex keys, duplicate keys — is left to `yaml` (yamlDocument), which also words every error.
import { load, CORE_SCHEMA, NOT_RESOLVED, defineMappingTag, defineSequenceTag, nullCoreTag, boolCoreTag, intCoreTag, floatCoreTag, strTag, type ScalarTagDefinition } from 'js-yaml';

/** A scalar tag that refuses an explicit tag (`!!int 0b1`): `yaml` resolves those by its own rules. */
function implicitOnly<T>(tag: ScalarTagDefinition<T>): ScalarTagDefinition<T> {
  return { ...tag, resolve: (source, isExplicit, tagName) => (isExplicit ? NOT_RESOLVED : tag.resolve(source, isExplicit, tagName)) };
}

/** V8 makes a substring of at least this many characters a view into the string it was cut from. */
const SLICE_MIN = 13;

/**
 * Strings as strings of their own. A scalar is cut from the document's text; as a view, every name kept from a large
 * configuration (the supervisor keeps them) kept the whole file's text alive (13 MB for 100,000 names).
 */
const ownStr: ScalarTagDefinition<string> = {
  ...implicitOnly(strTag),
  resolve: (source, isExplicit) => {
    if (isExplicit) return NOT_RESOLVED;
    // A JSON round trip is an exact copy of any string, and a flat one (50 bytes for a 16-character name).
    return source.length < SLICE_MIN ? source : JSON.parse(JSON.stringify(source)) as string;
  },
};

/**
 * Mappings as plain objects, keyed the way `yaml`'s toJS keys them for every key accepted here: strings as they are,
 * numbers and booleans by String(). A null key (`yaml` makes it "") or a collection key is refused.
 */
const plainMap = defineMappingTag<Record<string, unknown>>('tag:yaml.org,2002:map', {
  create: () => ({}),
  identify: () => false,
  addPair: (map, key, value) => {
    if (key === null || typeof key === 'object') return 'left to the yaml package';
    const k = String(key);
    // A "__proto__" key is an own property, as `yaml` makes it (assigning would set the prototype).
    if (k === '__proto__') Object.defineProperty(map, k, { value, enumerable: true, configurable: true, writable: true });
    else map[k] = value;
    return '';
  },
  has: (map, key) => key !== null && typeof key !== 'object' && Object.prototype.hasOwnProperty.call(map, String(key)),
  keys: (map) => Object.keys(map),
  get: (map, key) => map[String(key)],
});

/** Plain scalars the core schema reads as numbers (`yaml`'s patterns). */
const CORE_NUMBER = /^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)$/;

/**
 * The core float tag, tried after the int tag. A number out of range (1e400) is a string to js-yaml and Infinity to
 * `yaml`: the read stops here, and `yaml` reads it.
 */
const coreFloat: ScalarTagDefinition<number> = {
  ...implicitOnly(floatCoreTag),
  resolve: (source, isExplicit, tagName) => {
    if (isExplicit) return NOT_RESOLVED;
    const v = floatCoreTag.resolve(source, isExplicit, tagName);
    if (v === NOT_RESOLVED && CORE_NUMBER.test(source)) throw new RangeError('number out of range: left to the yaml package');
    return v;
  },
};

/**
 * Sequences as arrays of exactly their length: grown by push, each kept room for 16 elements (a 100,000-name
 * configuration held 25 MB of empty slots in the supervisor, which keeps the configuration it serves).
 */
const exactSeq = defineSequenceTag<unknown[]>('tag:yaml.org,2002:seq', {
  create: () => [],
  addItem: (seq, item) => { seq.push(item); },
  finalize: (seq) => seq.slice(),
  identify: () => false,
});

const SCHEMA = CORE_SCHEMA.withTags(ownStr, implicitOnly(nullCoreTag), implicitOnly(boolCoreTag), implicitOnly(intCoreTag), coreFloat, plainMap, exactSeq);

/**
 * Texts left to `yaml` from the outset: a directive (`%YAML 1.1` switches `yaml` to another schema; js-yaml reads on
 * with the core one), and a block scalar with an explicit indentation indicator (`|1`: the two indent the content of
 * a top-level one differently). Seen in a quoted string too, it only costs the fast read.
 */
const LEFT_TO_YAML = /^%|[|>][-+]?[1-9]/m;

/**
 * The document's value when the fast reader can vouch that `yaml` would read the same; undefined when it cannot
 * (including every text with an error): then the caller reads it with `yaml`.
 */
export function fastYamlValue(text: string): { value: unknown } | undefined {
  if (LEFT_TO_YAML.test(text)) return undefined;
  try {
    // maxAliases 0: an alias makes js-yaml stop, so `yaml` applies its own alias limits.
    return { value: load(text, { schema: SCHEMA, maxAliases: 0 }) };
  } catch {
    return undefined;
  }
}
