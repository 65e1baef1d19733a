/**
 * IPv4 address text as technicians write it in secrets and config files: single addresses,
 * CIDR blocks, pools ("10.9.0.10-10.9.0.100" or "10.9.0.0/24") and the chap-secrets
 * address column ('*' any, '-' none, or a list). Numbers are unsigned 32-bit, as in the core.
 */
import { formatIpv4, parseIpv4, prefixMask } from '../ppp/ipv4.js';

/** A dotted quad without leading zeros (010.0.0.1 is octal to inet_aton: refuse, don't guess). */
export function isIpv4(text: string): boolean {
  return parseIpv4(text) !== undefined;
}

export interface Cidr {
  /** Network address (host bits cleared). */
  readonly base: number;
  readonly prefix: number;
  /** First and last address of the block, inclusive. */
  readonly first: number;
  readonly last: number;
}

/** "10.0.0.0/24" → block; a bare address is a /32. Undefined when malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  if (!isIpv4(addrText)) return undefined;
  let prefix = 32;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^(3[0-2]|[12]?\d)$/.test(p)) return undefined;
    prefix = Number(p);
  }
  const addr = parseIpv4(addrText)!;
  const mask = prefixMask(prefix);
  const base = (addr & mask) >>> 0;
  return { base, prefix, first: base, last: (base | ~mask) >>> 0 };
}

/** True when the text is an address or a CIDR block. */
export function isIpv4OrCidr(text: string): boolean {
  return parseCidr(text) !== undefined;
}

export interface Pool {
  readonly first: number;
  readonly last: number;
  readonly size: number;
  readonly firstText: string;
  readonly lastText: string;
}

/**
 * "10.9.0.10-10.9.0.100" (inclusive) or "10.9.0.0/24" (usable hosts: the network and
 * broadcast addresses are left out for prefixes up to /30). Returns a reason on error.
 */
export function parsePool(text: string): { ok: true; value: Pool } | { ok: false; reason: string } {
  const dash = text.indexOf('-');
  let first: number;
  let last: number;
  if (dash >= 0) {
    const a = text.slice(0, dash).trim();
    const b = text.slice(dash + 1).trim();
    if (!isIpv4(a)) return { ok: false, reason: 'the start of the range is not an IPv4 address' };
    if (!isIpv4(b)) return { ok: false, reason: 'the end of the range is not an IPv4 address' };
    first = parseIpv4(a)!;
    last = parseIpv4(b)!;
    if (first > last) return { ok: false, reason: `the range starts after it ends (${a} > ${b})` };
  } else if (text.includes('/')) {
    const c = parseCidr(text);
    if (!c) return { ok: false, reason: 'not a CIDR block like 10.9.0.0/24' };
    first = c.first;
    last = c.last;
    if (c.prefix <= 30) {
      first += 1;
      last -= 1;
    }
  } else {
    return { ok: false, reason: 'must be a range "FIRST-LAST" or a CIDR block "NET/PREFIX"' };
  }
  return {
    ok: true,
    value: {
      first,
      last,
      size: last - first + 1,
      firstText: formatIpv4(first),
      lastText: formatIpv4(last),
    },
  };
}

/** The chap-secrets address column: '*' any address, '-' no address, or a list. */
export type AddressSpec = '*' | '-' | readonly string[];

/** pppd auth.c ip_addr_check: is `ip` (dotted quad) permitted by the spec? */
export function addressAllowed(spec: AddressSpec, ip: string): boolean {
  if (spec === '*') return true;
  if (spec === '-') return false;
  const n = parseIpv4(ip);
  if (n === undefined) return false;
  for (const entry of spec) {
    const c = parseCidr(entry);
    if (c && n >= c.first && n <= c.last) return true;
  }
  return false;
}

/**
 * pppd auth.c set_allowed_addrs: the first single-host entry is the address the peer is
 * given ("suggested_ip"); undefined when the spec names no single host.
 */
export function suggestedAddress(spec: AddressSpec): string | undefined {
  if (spec === '*' || spec === '-') return undefined;
  for (const entry of spec) {
    const c = parseCidr(entry);
    if (c && c.prefix === 32) return formatIpv4(c.base);
  }
  return undefined;
}

export { formatIpv4, parseIpv4 };
