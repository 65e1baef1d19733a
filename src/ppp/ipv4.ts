/** IPv4 addresses as unsigned 32-bit numbers inside the core; dotted quads at its edges. */

/** One decimal octet without leading zeros (010 is octal to inet_aton: refuse, don't guess). */
const OCTET = /^(?:0|[1-9][0-9]{0,2})$/;

/** Strict dotted-quad text to a number, or undefined. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!OCTET.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value >>> 0;
}

export function formatIpv4(value: number): string {
  return `${(value >>> 24) & 0xff}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

/** Mask of a prefix length as an unsigned 32-bit integer. */
export function prefixMask(length: number): number {
  return length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
}
