/**
 * Control packets shared by LCP, IPCP, CCP, PAP and CHAP (RFC 1661 §5):
 * Code, Identifier, Length, Data; and the option TLVs of Configure-* packets (§6).
 */
import { err, ok, type Result } from './result.js';

export interface ControlPacket {
  readonly code: number;
  readonly identifier: number;
  /** Data field only: bytes beyond Length are padding and already cut off. */
  readonly data: Buffer;
}

export interface ConfigOption {
  readonly type: number;
  /** Option data without the type and length octets. */
  readonly data: Buffer;
}

export const CONTROL_HEADER_LENGTH = 4;

export function decodeControlPacket(bytes: Buffer): Result<ControlPacket> {
  if (bytes.length < CONTROL_HEADER_LENGTH) {
    return err(
      'truncated',
      `control packet of ${bytes.length} octets is shorter than its 4-octet header`,
    );
  }
  const length = bytes.readUInt16BE(2);
  if (length < CONTROL_HEADER_LENGTH) return err('bad-length', `Length field ${length} is below 4`);
  // RFC 1661 §5: octets outside the Length are padding; a Length beyond the frame is invalid.
  if (length > bytes.length) {
    return err('bad-length', `Length field ${length} exceeds the ${bytes.length} octets received`);
  }
  return ok({ code: bytes[0]!, identifier: bytes[1]!, data: bytes.subarray(4, length) });
}

export function encodeControlPacket(
  code: number,
  identifier: number,
  data: Buffer = EMPTY,
): Buffer {
  const out = Buffer.allocUnsafe(CONTROL_HEADER_LENGTH + data.length);
  out[0] = code;
  out[1] = identifier & 0xff;
  out.writeUInt16BE(out.length, 2);
  data.copy(out, CONTROL_HEADER_LENGTH);
  return out;
}

export function decodeOptions(data: Buffer): Result<ConfigOption[]> {
  const options: ConfigOption[] = [];
  let at = 0;
  while (at < data.length) {
    if (data.length - at < 2) return err('truncated', `option at offset ${at} has no length octet`);
    const type = data[at]!;
    const length = data[at + 1]!;
    if (length < 2) return err('bad-length', `option ${type} has length ${length} (< 2)`);
    if (at + length > data.length) {
      return err('bad-length', `option ${type} of length ${length} runs past the packet`);
    }
    options.push({ type, data: data.subarray(at + 2, at + length) });
    at += length;
  }
  return ok(options);
}

export function encodeOptions(options: readonly ConfigOption[]): Buffer {
  let size = 0;
  for (const o of options) size += 2 + o.data.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const o of options) {
    if (o.data.length > 253)
      throw new RangeError(`option ${o.type} data of ${o.data.length} octets does not fit`);
    out[at] = o.type;
    out[at + 1] = o.data.length + 2;
    o.data.copy(out, at + 2);
    at += 2 + o.data.length;
  }
  return out;
}

export function option(type: number, data: Buffer = EMPTY): ConfigOption {
  return { type, data };
}

export function u16(value: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(value & 0xffff, 0);
  return b;
}

export function u32(value: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(value >>> 0, 0);
  return b;
}

export function optionsEqual(a: readonly ConfigOption[], b: readonly ConfigOption[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i]!.type !== b[i]!.type || !a[i]!.data.equals(b[i]!.data)) return false;
  }
  return true;
}

/** RFC 1661 §5.4: a Configure-Reject must name options we sent, unchanged. */
export function rejectNamesOurOptions(
  sent: readonly ConfigOption[],
  rejected: readonly ConfigOption[],
): boolean {
  return rejected.every((o) => sent.some((s) => s.type === o.type && s.data.equals(o.data)));
}

export const EMPTY: Buffer = Buffer.alloc(0);

/** Codes shared by every protocol that uses the RFC 1661 automaton (§5). */
export const Code = {
  CONFIGURE_REQUEST: 1,
  CONFIGURE_ACK: 2,
  CONFIGURE_NAK: 3,
  CONFIGURE_REJECT: 4,
  TERMINATE_REQUEST: 5,
  TERMINATE_ACK: 6,
  CODE_REJECT: 7,
  // LCP only (RFC 1661 §5.7-5.9):
  PROTOCOL_REJECT: 8,
  ECHO_REQUEST: 9,
  ECHO_REPLY: 10,
  DISCARD_REQUEST: 11,
  // RFC 1570:
  IDENTIFICATION: 12,
  TIME_REMAINING: 13,
  // CCP only (RFC 1962 §3):
  RESET_REQUEST: 14,
  RESET_ACK: 15,
} as const;

const CODE_NAMES: Record<number, string> = {
  1: 'ConfReq',
  2: 'ConfAck',
  3: 'ConfNak',
  4: 'ConfRej',
  5: 'TermReq',
  6: 'TermAck',
  7: 'CodeRej',
  8: 'ProtRej',
  9: 'EchoReq',
  10: 'EchoRep',
  11: 'DiscReq',
  12: 'Ident',
  13: 'TimeRem',
  14: 'ResetReq',
  15: 'ResetAck',
};

/** pppd's name for a control code (`code=0x..` when unknown). */
export function codeName(code: number): string {
  return CODE_NAMES[code] ?? `code=0x${code.toString(16)}`;
}
