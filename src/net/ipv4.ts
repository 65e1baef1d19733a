/**
 * IPv4 addresses and prefixes as configuration text ("10.0.0.1", "192.0.2.0/24",
 * "default"). Parsers return a Result: a bad address in a config file or from a
 * peer is a value to report, not an exception.
 */
import { formatIpv4, parseIpv4 as parseCoreIpv4, prefixMask } from '../ppp/ipv4.js';
import { type DecodeError, err, ok, type Result } from '../ppp/result.js';

export interface Ipv4Prefix {
  /** Network address in dotted-quad form, host bits zero. */
  readonly address: string;
  /** Network address as an unsigned 32-bit integer. */
  readonly network: number;
  readonly length: number;
}

/** Parses strict dotted-quad text (no leading zeros), with a reason when it is not one. */
export function parseIpv4(text: string): Result<number, DecodeError> {
  const value = parseCoreIpv4(text);
  if (value !== undefined) return ok(value);
  const parts = text.split('.');
  if (parts.length !== 4) {
    return err('bad-address', `'${text}' is not an IPv4 address (expected four dotted octets)`);
  }
  const bad = parts.find((p) => parseCoreIpv4(`${p}.0.0.0`) === undefined) ?? text;
  return err('bad-address', `'${text}' is not an IPv4 address (bad octet '${bad}')`);
}

export { formatIpv4, prefixMask };

/**
 * Parses "a.b.c.d/len", a bare address (a /32 host route) or "default" (0.0.0.0/0).
 * Host bits beyond the prefix are an error: "10.1.2.3/8" is almost always a typo.
 */
export function parsePrefix(text: string): Result<Ipv4Prefix, DecodeError> {
  if (text === 'default') return ok({ address: '0.0.0.0', network: 0, length: 0 });
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const lengthText = slash < 0 ? '32' : text.slice(slash + 1);
  if (!/^(?:[0-9]|[12][0-9]|3[0-2])$/.test(lengthText)) {
    return err('bad-prefix', `'${text}' has a bad prefix length (expected 0 to 32)`);
  }
  const address = parseIpv4(addressText);
  if (!address.ok) return address;
  const length = Number(lengthText);
  const mask = prefixMask(length);
  if ((address.value & ~mask) >>> 0 !== 0) {
    const network = (address.value & mask) >>> 0;
    return err(
      'host-bits',
      `'${text}' has host bits set beyond /${length} (did you mean ${formatIpv4(network)}/${length}?)`,
    );
  }
  return ok({ address: formatIpv4(address.value), network: address.value, length });
}

export function formatPrefix(prefix: Ipv4Prefix): string {
  return prefix.length === 0 ? 'default' : `${prefix.address}/${prefix.length}`;
}
