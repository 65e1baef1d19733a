/** PPP protocol numbers (RFC 1661 §2, IANA "PPP DLL Protocol Numbers") used by the core. */
export const Protocol = {
  IP: 0x0021,
  IPV6: 0x0057,
  VJ_COMPRESSED: 0x002d,
  VJ_UNCOMPRESSED: 0x002f,
  /** RFC 3078: an MPPE (or MPPC) datagram. */
  COMPRESSED: 0x00fd,
  IPCP: 0x8021,
  IPV6CP: 0x8057,
  CCP: 0x80fd,
  LCP: 0xc021,
  PAP: 0xc023,
  LQR: 0xc025,
  CHAP: 0xc223,
} as const;

export type ProtocolNumber = number;

const NAMES = new Map<number, string>([
  [Protocol.IP, 'IP'],
  [Protocol.IPV6, 'IPv6'],
  [Protocol.VJ_COMPRESSED, 'VJC_COMP'],
  [Protocol.VJ_UNCOMPRESSED, 'VJC_UNCOMP'],
  [Protocol.COMPRESSED, 'Comp'],
  [Protocol.IPCP, 'IPCP'],
  [Protocol.IPV6CP, 'IPV6CP'],
  [Protocol.CCP, 'CCP'],
  [Protocol.LCP, 'LCP'],
  [Protocol.PAP, 'PAP'],
  [Protocol.LQR, 'LQR'],
  [Protocol.CHAP, 'CHAP'],
]);

/** pppd's short name for a protocol, or `proto=0x....` for one we do not know. */
export function protocolName(protocol: number): string {
  return NAMES.get(protocol) ?? `proto=0x${protocol.toString(16)}`;
}

/** RFC 1661 §2: 0x8000-0xbfff are NCPs of the 0x0000-0x3fff network protocols. */
export function isNetworkControlProtocol(protocol: number): boolean {
  return protocol >= 0x8000 && protocol <= 0xbfff;
}
