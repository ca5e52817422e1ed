// DNS numeric constants (RFC 1035, 3596, 2782, 8659, 6891) used by both the fast path and the general codec.
// Owns: type/class/rcode/opcode numbers and the mapping between type numbers and mnemonics.
export const TYPE = {
  A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, HINFO: 13, MX: 15, TXT: 16, AAAA: 28, SRV: 33,
  OPT: 41, DS: 43, IXFR: 251, AXFR: 252, ANY: 255, CAA: 257,
} as const;

export const CLASS_IN = 1;

export const RCODE = {
  NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, NOTAUTH: 9,
  /** Extended rcode 16 (RFC 6891): upper 8 bits live in the OPT TTL. */
  BADVERS: 16,
} as const;

export const OPCODE = { QUERY: 0, NOTIFY: 4, UPDATE: 5 } as const;

/** The record types Waymark serves with a typed presentation format; anything else uses RFC 3597 `\# len hex`. */
export const KNOWN_TYPES: Record<string, number> = {
  A: TYPE.A, NS: TYPE.NS, CNAME: TYPE.CNAME, SOA: TYPE.SOA, PTR: TYPE.PTR, MX: TYPE.MX,
  TXT: TYPE.TXT, AAAA: TYPE.AAAA, SRV: TYPE.SRV, CAA: TYPE.CAA,
};

const NAMES_BY_TYPE = new Map<number, string>(Object.entries(KNOWN_TYPES).map(([k, v]) => [v, k]));

/** Mnemonic for a type number: "A", or "TYPE65280" (RFC 3597 §5) for types without a typed format. */
export function typeName(type: number): string {
  return NAMES_BY_TYPE.get(type) ?? `TYPE${type}`;
}

/** Type number for a mnemonic ("A", "aaaa", "TYPE65280"); undefined when unknown. */
export function typeNumber(name: string): number | undefined {
  const upper = name.toUpperCase();
  const known = KNOWN_TYPES[upper];
  if (known !== undefined) return known;
  const m = /^TYPE(\d{1,5})$/.exec(upper);
  if (m) {
    const n = Number(m[1]);
    if (n <= 0xffff) return n;
  }
  return undefined;
}
