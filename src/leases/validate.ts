// The address-pool sections as configuration sees them (SPEC L1): each pool's addresses expanded from CIDRs and
// single addresses, and the checks the schema alone cannot make (unknown pools or servers, an address in two pools,
// a name leased twice or also a policy name). Owns: those rules and the expansion. Imports only the schema's types.
import type { AddressPoolConfig, Config, ConfigError } from '../config/schema.js';
import { formatAddress, parsePrefix } from '../net/prefix.js';
import { canonicalName } from '../wire/name.js';

/** The most addresses one pool may list (a /16 of IPv4): the lease table holds a row for each one leased. */
export const MAX_POOL_ADDRESSES = 65_536;

/** Every address of `pool`, in the order listed (CIDRs in address order), or the error of the entry at fault. */
export function poolAddresses(pool: Pick<AddressPoolConfig, 'addresses'>): { ok: true; addresses: string[] } | { ok: false; index: number; message: string } {
  const out: string[] = [];
  for (let i = 0; i < pool.addresses.length; i++) {
    const p = parsePrefix(pool.addresses[i]!);
    if (p === null) return { ok: false, index: i, message: `"${pool.addresses[i]}" is not an address or CIDR` };
    const hostBits = (p.family === 4 ? 32 : 128) - p.prefix;
    if (hostBits > 16 || out.length + 2 ** hostBits > MAX_POOL_ADDRESSES) return { ok: false, index: i, message: `a pool holds at most ${MAX_POOL_ADDRESSES.toLocaleString('en-US')} addresses` };
    const words = Uint32Array.from(p.words);
    const last = p.family === 4 ? 0 : 3;
    for (let k = 0; k < 2 ** hostBits; k++) {
      out.push(formatAddress(p.family, words));
      words[last] = (words[last]! + 1) >>> 0;
    }
  }
  return { ok: true, addresses: out };
}

/** Path-named errors of addressPools, leasedServers and leasedNames. */
export function validateLeases(config: Config): ConfigError[] {
  const errors: ConfigError[] = [];
  if (config.addressPools.length > 0 && config.store === undefined) errors.push({ path: 'addressPools', message: 'leases live in the store: add store: (path: for one node, postgres: for several)' });
  const pools = new Map<string, number>();
  const owner = new Map<string, string>();
  config.addressPools.forEach((p, i) => {
    if (pools.has(p.name)) errors.push({ path: `addressPools[${i}].name`, message: `a second pool named ${p.name}` });
    pools.set(p.name, i);
    const a = poolAddresses(p);
    if (!a.ok) { errors.push({ path: `addressPools[${i}].addresses[${a.index}]`, message: a.message }); return; }
    for (const addr of a.addresses) {
      const other = owner.get(addr);
      if (other !== undefined) { errors.push({ path: `addressPools[${i}].addresses`, message: other === `addressPools[${i}]` ? `${addr} is listed twice` : `${addr} is also in ${other}` }); break; }
      owner.set(addr, `addressPools[${i}]`);
    }
    if (typeof p.lowWater === 'number' && p.lowWater > a.addresses.length) errors.push({ path: `addressPools[${i}].lowWater`, message: `${p.lowWater} is more than the pool's ${a.addresses.length} addresses` });
  });
  const servers = new Set<string>();
  config.leasedServers.forEach((s, i) => {
    if (servers.has(s.name)) errors.push({ path: `leasedServers[${i}].name`, message: `a second server named ${s.name}` });
    servers.add(s.name);
  });
  const names = new Set<string>();
  const policyNames = new Set(config.names.map((n) => canonicalName(n.name)));
  config.leasedNames.forEach((n, i) => {
    let key: string;
    try { key = canonicalName(n.name); } catch (e) { errors.push({ path: `leasedNames[${i}].name`, message: `not a domain name: ${(e as Error).message}` }); return; }
    if (names.has(key)) errors.push({ path: `leasedNames[${i}].name`, message: `${n.name} is leased twice` });
    names.add(key);
    if (policyNames.has(key)) errors.push({ path: `leasedNames[${i}].name`, message: `${n.name} is also a policy name (names:); a name is answered one way` });
    if (!pools.has(n.pool)) errors.push({ path: `leasedNames[${i}].pool`, message: `unknown address pool "${n.pool}"` });
    n.servers.forEach((s, j) => { if (!servers.has(s)) errors.push({ path: `leasedNames[${i}].servers[${j}]`, message: `unknown server "${s}" (leasedServers:)` }); });
  });
  return errors;
}

/** lowWater as a number of addresses, for a pool of `size`. */
export function lowWaterOf(pool: Pick<AddressPoolConfig, 'lowWater'>, size: number): number {
  return typeof pool.lowWater === 'number' ? pool.lowWater : Math.ceil((Number(pool.lowWater.slice(0, -1)) / 100) * size);
}
