/**
 * PPP frame codec (RFC 1661 §2, RFC 1662 §3): optional Address/Control (0xFF 0x03,
 * elided when ACFC applies), the Protocol field (one octet when PFC applies), the
 * Information field. HDLC flags, escaping and FCS belong to the dial-up link.
 */
import { err, ok, type Result } from './result.js';

export interface PppFrame {
  readonly protocol: number;
  /** The Information field (and any padding); a view into the input. */
  readonly information: Buffer;
}

export interface FrameEncodeOptions {
  /** Omit 0xFF 0x03 (the peer agreed to ACFC). */
  readonly acfc: boolean;
  /** Send the protocol in one octet when it fits (the peer agreed to PFC). */
  readonly pfc: boolean;
}

const ADDRESS = 0xff;
const CONTROL = 0x03;

/**
 * Decode one frame. Compressed forms are accepted whether or not they were
 * negotiated (RFC 1661 §6.5, §6.6 allow a receiver to be liberal).
 */
export function decodeFrame(bytes: Buffer): Result<PppFrame> {
  let at = 0;
  if (bytes.length >= 2 && bytes[0] === ADDRESS) {
    if (bytes[1] !== CONTROL)
      return err('bad-control', `control field 0x${hex2(bytes[1]!)} is not 0x03`);
    at = 2;
  }
  if (bytes.length <= at) return err('truncated', 'frame has no protocol field');
  const first = bytes[at]!;
  let protocol: number;
  if ((first & 1) === 1) {
    // RFC 1661 §6.5: a compressed protocol field is the single odd low octet.
    protocol = first;
    at += 1;
  } else {
    if (bytes.length < at + 2) return err('truncated', 'frame ends inside the protocol field');
    const second = bytes[at + 1]!;
    // RFC 1661 §2: the low octet of every protocol number is odd.
    if ((second & 1) === 0)
      return err('bad-protocol', `protocol 0x${hex2(first)}${hex2(second)} has an even low octet`);
    protocol = (first << 8) | second;
    at += 2;
  }
  return ok({ protocol, information: bytes.subarray(at) });
}

/** Header length that `encodeFrame` will use for this protocol. */
export function frameHeaderLength(protocol: number, options: FrameEncodeOptions): number {
  return (options.acfc ? 0 : 2) + (options.pfc && protocol < 0x100 ? 1 : 2);
}

/** Write the frame header into `out` at 0 and return its length. */
export function writeFrameHeader(
  out: Buffer,
  protocol: number,
  options: FrameEncodeOptions,
): number {
  let at = 0;
  if (!options.acfc) {
    out[0] = ADDRESS;
    out[1] = CONTROL;
    at = 2;
  }
  if (options.pfc && protocol < 0x100) {
    out[at] = protocol;
    return at + 1;
  }
  out[at] = protocol >> 8;
  out[at + 1] = protocol & 0xff;
  return at + 2;
}

export function encodeFrame(
  protocol: number,
  information: Buffer,
  options: FrameEncodeOptions,
): Buffer {
  const header = frameHeaderLength(protocol, options);
  const out = Buffer.allocUnsafe(header + information.length);
  writeFrameHeader(out, protocol, options);
  information.copy(out, header);
  return out;
}

/** LCP and anything before LCP is Opened go out uncompressed (RFC 1661 §6.5, §6.6). */
export const UNCOMPRESSED: FrameEncodeOptions = { acfc: false, pfc: false };

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
