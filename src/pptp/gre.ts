/**
 * RFC 2637 §4.1: the enhanced GRE header that carries PPP frames of a PPTP call.
 *
 *    0                   1                   2                   3
 *   |C|R|K|S|s|Recur|A| Flags | Ver |         Protocol Type         |
 *   |    Key (HW) Payload Length    |       Key (LW) Call ID        |
 *   |                  Sequence Number (Optional)                   |
 *   |               Acknowledgment Number (Optional)                |
 *
 * C=0 R=0 K=1 s=0 Recur=0 Flags=0 Version=1 Protocol=0x880B; S is set when a payload
 * follows, A when an acknowledgment is carried. An ack-only packet (S=0, A=1) has no
 * Sequence Number field: its Acknowledgment Number sits right after the Key (pptp-linux,
 * pptpd and the kernel all lay it out so).
 *
 * The Call ID in the Key is the *receiver's* Call ID (RFC 2637 §4.1: "Contains the Peer's
 * Call ID for the session to which this packet belongs").
 */
import { err, ok, type Result } from '../ppp/result.js';

/** RFC 2637 §4.1: the Protocol Type of PPP in enhanced GRE. */
export const GRE_PROTOCOL_PPP = 0x880b;
/** RFC 2637 §4.1: enhanced GRE is version 1. */
export const GRE_VERSION = 1;
/** Flags + Protocol + Key. */
export const GRE_BASE_HEADER_LENGTH = 8;
/** The largest header: base + Sequence + Acknowledgment. */
export const GRE_MAX_HEADER_LENGTH = 16;
/** IPv4 protocol number of GRE. */
export const IP_PROTOCOL_GRE = 47;

const FLAG_C = 0x80;
const FLAG_R = 0x40;
const FLAG_K = 0x20;
const FLAG_S = 0x10;
const FLAG_SSR = 0x08;
const RECUR_MASK = 0x07;
const FLAG_A = 0x80;
const RESERVED_FLAGS_MASK = 0x78;
const VERSION_MASK = 0x07;

export interface GrePacket {
  /** The receiver's Call ID (Key, low 16 bits). */
  readonly callId: number;
  /** Present when the packet carries a payload (S flag). */
  readonly sequence: number | undefined;
  /** Present when the packet acknowledges (A flag). */
  readonly ack: number | undefined;
  /** The PPP frame: no HDLC framing, no FCS. Empty in an ack-only packet. */
  readonly payload: Buffer;
}

/** Header length for a packet with/without Sequence and Acknowledgment fields. */
export function greHeaderLength(hasSequence: boolean, hasAck: boolean): number {
  return GRE_BASE_HEADER_LENGTH + (hasSequence ? 4 : 0) + (hasAck ? 4 : 0);
}

/**
 * Decodes one enhanced GRE packet (starting at the GRE header, IP header stripped). The
 * returned payload is a view into `buf`. Octets after Payload Length are ignored (padding).
 */
export function decodeGre(buf: Buffer): Result<GrePacket> {
  if (buf.length < GRE_BASE_HEADER_LENGTH) {
    return err('truncated', `GRE packet of ${buf.length} octets is shorter than its header`);
  }
  const f0 = buf[0]!;
  const f1 = buf[1]!;
  const version = f1 & VERSION_MASK;
  if (version !== GRE_VERSION) {
    return err('bad-version', `GRE version ${version} is not enhanced GRE (1)`);
  }
  const protocol = buf.readUInt16BE(2);
  if (protocol !== GRE_PROTOCOL_PPP) {
    return err('bad-protocol', `GRE Protocol Type 0x${protocol.toString(16)} is not PPP (0x880b)`);
  }
  // RFC 2637 §4.1: C, R, s, Recur and Flags MUST be zero, K MUST be one.
  if ((f0 & (FLAG_C | FLAG_R | FLAG_SSR | RECUR_MASK)) !== 0 || (f1 & RESERVED_FLAGS_MASK) !== 0) {
    return err(
      'bad-flags',
      `GRE flags 0x${((f0 << 8) | f1).toString(16)} set C, R, s, Recur or Flags`,
    );
  }
  if ((f0 & FLAG_K) === 0) {
    return err('bad-flags', 'GRE Key flag (K) is clear: no Call ID');
  }
  const hasSeq = (f0 & FLAG_S) !== 0;
  const hasAck = (f1 & FLAG_A) !== 0;
  const headerLength = greHeaderLength(hasSeq, hasAck);
  if (buf.length < headerLength) {
    return err('truncated', `GRE header needs ${headerLength} octets, got ${buf.length}`);
  }
  const payloadLength = buf.readUInt16BE(4);
  const callId = buf.readUInt16BE(6);
  if (!hasSeq && payloadLength !== 0) {
    // RFC 2637 §4.1: S is set exactly when a payload is present.
    return err(
      'bad-flags',
      `GRE packet carries ${payloadLength} payload octets without a sequence number`,
    );
  }
  if (!hasSeq && !hasAck) {
    return err('bad-flags', 'GRE packet has neither payload nor acknowledgment');
  }
  if (buf.length - headerLength < payloadLength) {
    return err(
      'truncated',
      `GRE Payload Length ${payloadLength} exceeds the ${buf.length - headerLength} octets present`,
    );
  }
  const sequence = hasSeq ? buf.readUInt32BE(8) : undefined;
  const ack = hasAck ? buf.readUInt32BE(hasSeq ? 12 : 8) : undefined;
  const payload = buf.subarray(headerLength, headerLength + payloadLength);
  return ok({ callId, sequence, ack, payload });
}

/**
 * Encodes a packet into one new buffer: header then payload. A packet with a payload must
 * carry a sequence number; one without must carry an ack (an ack-only packet).
 */
export function encodeGre(p: GrePacket): Buffer {
  const hasSeq = p.sequence !== undefined;
  const hasAck = p.ack !== undefined;
  const headerLength = greHeaderLength(hasSeq, hasAck);
  const out = Buffer.allocUnsafe(headerLength + (hasSeq ? p.payload.length : 0));
  writeGreHeader(out, p.callId, hasSeq ? p.payload.length : 0, p.sequence, p.ack);
  if (hasSeq) p.payload.copy(out, headerLength);
  return out;
}

/** Writes the header at the start of `out` and returns its length. */
export function writeGreHeader(
  out: Buffer,
  callId: number,
  payloadLength: number,
  sequence: number | undefined,
  ack: number | undefined,
): number {
  out[0] = FLAG_K | (sequence !== undefined ? FLAG_S : 0);
  out[1] = GRE_VERSION | (ack !== undefined ? FLAG_A : 0);
  out.writeUInt16BE(GRE_PROTOCOL_PPP, 2);
  out.writeUInt16BE(payloadLength & 0xffff, 4);
  out.writeUInt16BE(callId & 0xffff, 6);
  let o = 8;
  if (sequence !== undefined) {
    out.writeUInt32BE(sequence >>> 0, o);
    o += 4;
  }
  if (ack !== undefined) {
    out.writeUInt32BE(ack >>> 0, o);
    o += 4;
  }
  return o;
}

/**
 * Strips an IPv4 header (by IHL) from a packet read off a raw socket. Returns the GRE part
 * as a view, or an error for anything that is not a whole IPv4 GRE datagram.
 */
export function stripIpv4Header(buf: Buffer): Result<Buffer> {
  if (buf.length < 20) return err('truncated', `IP packet of ${buf.length} octets`);
  const version = buf[0]! >> 4;
  if (version !== 4) return err('bad-ip-version', `IP version ${version}, expected 4`);
  const ihl = (buf[0]! & 0x0f) * 4;
  if (ihl < 20 || ihl > buf.length) return err('bad-ip-header', `IPv4 IHL ${ihl} is invalid`);
  if (buf[9] !== IP_PROTOCOL_GRE) return err('bad-ip-protocol', `IP protocol ${buf[9]} is not GRE`);
  return ok(buf.subarray(ihl));
}
