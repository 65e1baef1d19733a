/**
 * Minimal IPv4 / UDP / ICMP-echo codecs for what crosses the TUN device: telling
 * IPv4 from IPv6, checking and building test and benchmark traffic, answering
 * echo requests. Decoders take untrusted bytes and return a Result; they check
 * every length before reading and never throw.
 */
import { type DecodeError, err, ok, type Result } from '../ppp/result.js';
import { formatIpv4, parseIpv4 } from './ipv4.js';

/** IANA protocol numbers used here; any other value is carried as a number. */
export const IpProtocol = { icmp: 1, tcp: 6, udp: 17, gre: 47 } as const;

/** RFC 1071 Internet checksum: one's complement of the one's complement sum. */
export function internetChecksum(bytes: Uint8Array, initialSum = 0): number {
  let sum = initialSum;
  const even = bytes.length & ~1;
  for (let i = 0; i < even; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (even !== bytes.length) sum += bytes[even]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** The IP version nibble (4 or 6 for what a TUN delivers), undefined for an empty packet. */
export function ipVersion(packet: Uint8Array): number | undefined {
  return packet.length === 0 ? undefined : packet[0]! >> 4;
}

export interface Ipv4Header {
  readonly headerLength: number;
  readonly tos: number;
  readonly totalLength: number;
  readonly identification: number;
  readonly dontFragment: boolean;
  readonly moreFragments: boolean;
  readonly fragmentOffset: number;
  readonly ttl: number;
  readonly protocol: number;
  readonly checksum: number;
  /** RFC 791 §3.1: the header checksum verifies (sums to zero). */
  readonly checksumValid: boolean;
  readonly source: string;
  readonly destination: string;
}

export interface Ipv4Packet {
  readonly header: Ipv4Header;
  /** The payload up to totalLength (a view, not a copy). */
  readonly payload: Buffer;
}

/** Decodes an IPv4 packet (RFC 791 §3.1). Trailing bytes beyond totalLength are ignored. */
export function decodeIpv4(bytes: Uint8Array): Result<Ipv4Packet, DecodeError> {
  if (bytes.length < 20) return err('truncated', `IPv4 header needs 20 bytes, got ${bytes.length}`);
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = b[0]! >> 4;
  if (version !== 4) return err('bad-version', `IP version ${version}, expected 4`);
  const headerLength = (b[0]! & 0x0f) * 4;
  if (headerLength < 20) return err('bad-length', `IPv4 IHL ${headerLength / 4} is below 5`);
  const totalLength = b.readUInt16BE(2);
  if (totalLength < headerLength) {
    return err('bad-length', `IPv4 total length ${totalLength} is below the header length`);
  }
  if (totalLength > b.length) {
    return err('truncated', `IPv4 total length ${totalLength} exceeds the ${b.length} bytes given`);
  }
  const flagsFragment = b.readUInt16BE(6);
  const header: Ipv4Header = {
    headerLength,
    tos: b[1]!,
    totalLength,
    identification: b.readUInt16BE(4),
    dontFragment: (flagsFragment & 0x4000) !== 0,
    moreFragments: (flagsFragment & 0x2000) !== 0,
    fragmentOffset: (flagsFragment & 0x1fff) * 8,
    ttl: b[8]!,
    protocol: b[9]!,
    checksum: b.readUInt16BE(10),
    checksumValid: internetChecksum(b.subarray(0, headerLength)) === 0,
    source: formatIpv4(b.readUInt32BE(12)),
    destination: formatIpv4(b.readUInt32BE(16)),
  };
  return ok({ header, payload: b.subarray(headerLength, totalLength) });
}

export interface Ipv4PacketRepr {
  readonly source: string;
  readonly destination: string;
  readonly protocol: number;
  readonly payload: Uint8Array;
  readonly ttl?: number;
  readonly identification?: number;
  readonly tos?: number;
  readonly dontFragment?: boolean;
}

function addressValue(text: string): number {
  const parsed = parseIpv4(text);
  if (!parsed.ok) throw new RangeError(parsed.error.reason);
  return parsed.value;
}

/** Builds an IPv4 packet with a 20-byte header and a correct header checksum. */
export function encodeIpv4(repr: Ipv4PacketRepr): Buffer {
  const totalLength = 20 + repr.payload.length;
  if (totalLength > 0xffff) throw new RangeError(`IPv4 packet of ${totalLength} bytes is too long`);
  const b = Buffer.alloc(totalLength);
  b[0] = 0x45;
  b[1] = repr.tos ?? 0;
  b.writeUInt16BE(totalLength, 2);
  b.writeUInt16BE(repr.identification ?? 0, 4);
  b.writeUInt16BE(repr.dontFragment === true ? 0x4000 : 0, 6);
  b[8] = repr.ttl ?? 64;
  b[9] = repr.protocol;
  b.writeUInt32BE(addressValue(repr.source), 12);
  b.writeUInt32BE(addressValue(repr.destination), 16);
  b.writeUInt16BE(internetChecksum(b.subarray(0, 20)), 10);
  b.set(repr.payload, 20);
  return b;
}

/** RFC 768: the pseudo-header sum for UDP over IPv4. */
function pseudoHeaderSum(
  source: string,
  destination: string,
  protocol: number,
  length: number,
): number {
  const s = addressValue(source);
  const d = addressValue(destination);
  return (s >>> 16) + (s & 0xffff) + (d >>> 16) + (d & 0xffff) + protocol + length;
}

export interface UdpDatagram {
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly length: number;
  /** False when the checksum is present and wrong; a zero checksum (none) is valid. */
  readonly checksumValid: boolean;
  readonly payload: Buffer;
}

/** Decodes the UDP datagram carried by an IPv4 packet (RFC 768). */
export function decodeUdp(packet: Ipv4Packet): Result<UdpDatagram, DecodeError> {
  const { header, payload } = packet;
  if (header.protocol !== IpProtocol.udp) {
    return err('bad-protocol', `IP protocol ${header.protocol}, expected UDP (17)`);
  }
  if (payload.length < 8)
    return err('truncated', `UDP header needs 8 bytes, got ${payload.length}`);
  const length = payload.readUInt16BE(4);
  if (length < 8 || length > payload.length) {
    return err('bad-length', `UDP length ${length} does not fit ${payload.length} bytes`);
  }
  const checksum = payload.readUInt16BE(6);
  const datagram = payload.subarray(0, length);
  const checksumValid =
    checksum === 0 ||
    internetChecksum(
      datagram,
      pseudoHeaderSum(header.source, header.destination, IpProtocol.udp, length),
    ) === 0;
  return ok({
    sourcePort: payload.readUInt16BE(0),
    destinationPort: payload.readUInt16BE(2),
    length,
    checksumValid,
    payload: payload.subarray(8, length),
  });
}

export interface UdpPacketRepr {
  readonly source: string;
  readonly destination: string;
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly payload: Uint8Array;
  readonly ttl?: number;
  readonly identification?: number;
}

/** Builds a whole IPv4 packet carrying a UDP datagram with its checksum. */
export function encodeUdp(repr: UdpPacketRepr): Buffer {
  const length = 8 + repr.payload.length;
  const udp = Buffer.alloc(length);
  udp.writeUInt16BE(repr.sourcePort, 0);
  udp.writeUInt16BE(repr.destinationPort, 2);
  udp.writeUInt16BE(length, 4);
  udp.set(repr.payload, 8);
  const sum = internetChecksum(
    udp,
    pseudoHeaderSum(repr.source, repr.destination, IpProtocol.udp, length),
  );
  // RFC 768: a computed zero is sent as all ones (zero means "no checksum").
  udp.writeUInt16BE(sum === 0 ? 0xffff : sum, 6);
  return encodeIpv4({
    source: repr.source,
    destination: repr.destination,
    protocol: IpProtocol.udp,
    payload: udp,
    ...(repr.ttl === undefined ? {} : { ttl: repr.ttl }),
    ...(repr.identification === undefined ? {} : { identification: repr.identification }),
  });
}

export const IcmpType = { echoReply: 0, echoRequest: 8 } as const;

export interface IcmpEcho {
  /** 8 request, 0 reply (RFC 792). */
  readonly type: number;
  readonly code: number;
  readonly identifier: number;
  readonly sequence: number;
  readonly checksumValid: boolean;
  readonly data: Buffer;
}

/** Decodes an ICMP echo request or reply (RFC 792) from an IPv4 packet. */
export function decodeIcmpEcho(packet: Ipv4Packet): Result<IcmpEcho, DecodeError> {
  const { header, payload } = packet;
  if (header.protocol !== IpProtocol.icmp) {
    return err('bad-protocol', `IP protocol ${header.protocol}, expected ICMP (1)`);
  }
  if (payload.length < 8) return err('truncated', `ICMP echo needs 8 bytes, got ${payload.length}`);
  const type = payload[0]!;
  if (type !== IcmpType.echoRequest && type !== IcmpType.echoReply) {
    return err('not-echo', `ICMP type ${type} is not an echo request or reply`);
  }
  return ok({
    type,
    code: payload[1]!,
    identifier: payload.readUInt16BE(4),
    sequence: payload.readUInt16BE(6),
    checksumValid: internetChecksum(payload) === 0,
    data: payload.subarray(8),
  });
}

export interface IcmpEchoRepr {
  readonly source: string;
  readonly destination: string;
  readonly type: number;
  readonly identifier: number;
  readonly sequence: number;
  readonly data: Uint8Array;
  readonly ttl?: number;
}

/** Builds a whole IPv4 packet carrying an ICMP echo request or reply. */
export function encodeIcmpEcho(repr: IcmpEchoRepr): Buffer {
  const icmp = Buffer.alloc(8 + repr.data.length);
  icmp[0] = repr.type;
  icmp.writeUInt16BE(repr.identifier, 4);
  icmp.writeUInt16BE(repr.sequence, 6);
  icmp.set(repr.data, 8);
  icmp.writeUInt16BE(internetChecksum(icmp), 2);
  return encodeIpv4({
    source: repr.source,
    destination: repr.destination,
    protocol: IpProtocol.icmp,
    payload: icmp,
    ...(repr.ttl === undefined ? {} : { ttl: repr.ttl }),
  });
}

/** The echo reply to an echo request (RFC 792: addresses swapped, type 0, same id, seq, data). */
export function echoReplyFor(request: Uint8Array): Result<Buffer, DecodeError> {
  const packet = decodeIpv4(request);
  if (!packet.ok) return packet;
  const echo = decodeIcmpEcho(packet.value);
  if (!echo.ok) return echo;
  if (echo.value.type !== IcmpType.echoRequest) {
    return err('not-request', 'ICMP echo reply, not a request');
  }
  return ok(
    encodeIcmpEcho({
      source: packet.value.header.destination,
      destination: packet.value.header.source,
      type: IcmpType.echoReply,
      identifier: echo.value.identifier,
      sequence: echo.value.sequence,
      data: echo.value.data,
    }),
  );
}
