/**
 * RFC 2637 §2: the PPTP control messages carried on the TCP control connection.
 *
 * smoltcp style: each of the 15 messages has a typed Repr; `decodeControlMessage` checks
 * the header (Length, PPTP Message Type, Magic Cookie) and the exact length of the message
 * before reading a field and returns a Result; `encodeControlMessage` writes the RFC layout.
 * Codes are numbers in the Repr (an unknown value is data) with name tables beside them.
 * The log formatter lives in control-log.ts.
 *
 * Reserved fields are written as zero and ignored on receipt (RFC 2637 §2 says they MUST
 * be sent as zero; MS-PTPT §2.2 says they MUST be ignored when received; pptp-linux only
 * logs a non-zero Reserved0, which some Cisco PACs send).
 */
import { err, ok, type Result } from '../ppp/result.js';

/** RFC 2637 §2: every control message carries this cookie so a receiver can check sync. */
export const PPTP_MAGIC_COOKIE = 0x1a2b3c4d;
/** RFC 2637 §1.4: the control connection's TCP port. */
export const PPTP_TCP_PORT = 1723;
/** RFC 2637 §2.1: version 1, revision 0. */
export const PPTP_PROTOCOL_VERSION = 0x0100;
/** Length, PPTP Message Type, Magic Cookie, Control Message Type, Reserved0. */
export const CONTROL_HEADER_LENGTH = 12;

/** RFC 2637 §2: the PPTP Message Type field. Only control messages are defined. */
export const PPTP_MESSAGE_TYPE = { control: 1, management: 2 } as const;

/** RFC 2637 §2: Control Message Type values, in RFC order. */
export const CONTROL_MESSAGE_TYPE = {
  'Start-Control-Connection-Request': 1,
  'Start-Control-Connection-Reply': 2,
  'Stop-Control-Connection-Request': 3,
  'Stop-Control-Connection-Reply': 4,
  'Echo-Request': 5,
  'Echo-Reply': 6,
  'Outgoing-Call-Request': 7,
  'Outgoing-Call-Reply': 8,
  'Incoming-Call-Request': 9,
  'Incoming-Call-Reply': 10,
  'Incoming-Call-Connected': 11,
  'Call-Clear-Request': 12,
  'Call-Disconnect-Notify': 13,
  'WAN-Error-Notify': 14,
  'Set-Link-Info': 15,
} as const;

export type ControlMessageName = keyof typeof CONTROL_MESSAGE_TYPE;

/** The exact Length of each message (RFC 2637 §2.1-§2.15 field tables, header included). */
export const CONTROL_MESSAGE_LENGTH: Readonly<Record<ControlMessageName, number>> = {
  'Start-Control-Connection-Request': 156,
  'Start-Control-Connection-Reply': 156,
  'Stop-Control-Connection-Request': 16,
  'Stop-Control-Connection-Reply': 16,
  'Echo-Request': 16,
  'Echo-Reply': 20,
  'Outgoing-Call-Request': 168,
  'Outgoing-Call-Reply': 32,
  'Incoming-Call-Request': 220,
  'Incoming-Call-Reply': 24,
  'Incoming-Call-Connected': 28,
  'Call-Clear-Request': 16,
  'Call-Disconnect-Notify': 148,
  'WAN-Error-Notify': 40,
  'Set-Link-Info': 24,
};

/** The longest defined message (Incoming-Call-Request): the reader's bound. */
export const MAX_CONTROL_MESSAGE_LENGTH = 220;

const NAME_BY_TYPE: ReadonlyMap<number, ControlMessageName> = new Map(
  (Object.entries(CONTROL_MESSAGE_TYPE) as [ControlMessageName, number][]).map(([n, t]) => [t, n]),
);

/** The message name for a Control Message Type, or undefined for an unknown type. */
export function controlMessageName(type: number): ControlMessageName | undefined {
  return NAME_BY_TYPE.get(type);
}

// ---------------------------------------------------------------------------------------
// Code tables. Each is name → number; `codeName` gives the name or "unknown(n)".

/** RFC 2637 §2.1: Framing Capabilities bits. */
export const FRAMING_CAPABILITY = { async: 0x1, sync: 0x2 } as const;
/** RFC 2637 §2.1: Bearer Capabilities bits. */
export const BEARER_CAPABILITY = { analog: 0x1, digital: 0x2 } as const;
/** RFC 2637 §2.7: Bearer Type of an Outgoing-Call-Request. */
export const BEARER_TYPE = { analog: 1, digital: 2, any: 3 } as const;
/** RFC 2637 §2.7: Framing Type of an Outgoing-Call-Request / Incoming-Call-Connected. */
export const FRAMING_TYPE = { async: 1, sync: 2, any: 3 } as const;

/** RFC 2637 §2.16: General Error Codes, used when a Result Code is 2 (General Error). */
export const GENERAL_ERROR = {
  None: 0,
  'Not-Connected': 1,
  'Bad-Format': 2,
  'Bad-Value': 3,
  'No-Resource': 4,
  'Bad-Call-ID': 5,
  'PAC-Error': 6,
} as const;

/** RFC 2637 §2.2: Result Code of a Start-Control-Connection-Reply. */
export const START_RESULT = {
  Successful: 1,
  'General-Error': 2,
  'Command-Channel-Exists': 3,
  'Not-Authorized': 4,
  'Bad-Protocol-Version': 5,
} as const;

/** RFC 2637 §2.3: Reason of a Stop-Control-Connection-Request. */
export const STOP_REASON = {
  None: 1,
  'Stop-Protocol': 2,
  'Stop-Local-Shutdown': 3,
} as const;

/** RFC 2637 §2.4: Result Code of a Stop-Control-Connection-Reply. */
export const STOP_RESULT = { OK: 1, 'General-Error': 2 } as const;

/** RFC 2637 §2.6: Result Code of an Echo-Reply. */
export const ECHO_RESULT = { OK: 1, 'General-Error': 2 } as const;

/** RFC 2637 §2.8: Result Code of an Outgoing-Call-Reply. */
export const OUTGOING_CALL_RESULT = {
  Connected: 1,
  'General-Error': 2,
  'No-Carrier': 3,
  Busy: 4,
  'No-Dial-Tone': 5,
  'Time-out': 6,
  'Do-Not-Accept': 7,
} as const;

/** RFC 2637 §2.10: Result Code of an Incoming-Call-Reply. */
export const INCOMING_CALL_RESULT = { Connect: 1, 'General-Error': 2, 'Do-Not-Accept': 3 } as const;

/**
 * RFC 2637 §2.13: Result Code of a Call-Disconnect-Notify. MS-PTPT §3.2.5.5: Windows PACs
 * always send 0, which the RFC does not define; it is named here so logs read well.
 */
export const DISCONNECT_RESULT = {
  Undefined: 0,
  'Lost-Carrier': 1,
  'General-Error': 2,
  'Admin-Shutdown': 3,
  Request: 4,
} as const;

export type CodeTable = Readonly<Record<string, number>>;

const reverseCache = new WeakMap<CodeTable, Map<number, string>>();

/** The name of `code` in `table`, or `unknown(n)`: an unknown value is data, not an error. */
export function codeName(table: CodeTable, code: number): string {
  let reverse = reverseCache.get(table);
  if (reverse === undefined) {
    reverse = new Map(Object.entries(table).map(([name, value]) => [value, name]));
    reverseCache.set(table, reverse);
  }
  return reverse.get(code) ?? `unknown(${code})`;
}

// ---------------------------------------------------------------------------------------
// Reprs. Field names follow the RFC's field tables.

export interface StartControlConnectionRequest {
  readonly type: 'Start-Control-Connection-Request';
  readonly protocolVersion: number;
  readonly framingCapabilities: number;
  readonly bearerCapabilities: number;
  readonly maximumChannels: number;
  readonly firmwareRevision: number;
  readonly hostName: string;
  readonly vendor: string;
}

export interface StartControlConnectionReply {
  readonly type: 'Start-Control-Connection-Reply';
  readonly protocolVersion: number;
  readonly resultCode: number;
  readonly errorCode: number;
  readonly framingCapabilities: number;
  readonly bearerCapabilities: number;
  readonly maximumChannels: number;
  readonly firmwareRevision: number;
  readonly hostName: string;
  readonly vendor: string;
}

export interface StopControlConnectionRequest {
  readonly type: 'Stop-Control-Connection-Request';
  readonly reason: number;
}

export interface StopControlConnectionReply {
  readonly type: 'Stop-Control-Connection-Reply';
  readonly resultCode: number;
  readonly errorCode: number;
}

export interface EchoRequest {
  readonly type: 'Echo-Request';
  readonly identifier: number;
}

export interface EchoReply {
  readonly type: 'Echo-Reply';
  readonly identifier: number;
  readonly resultCode: number;
  readonly errorCode: number;
}

export interface OutgoingCallRequest {
  readonly type: 'Outgoing-Call-Request';
  readonly callId: number;
  readonly callSerialNumber: number;
  readonly minimumBps: number;
  readonly maximumBps: number;
  readonly bearerType: number;
  readonly framingType: number;
  readonly receiveWindowSize: number;
  /** Packet Processing Delay, in 1/10 seconds. */
  readonly processingDelay: number;
  readonly phoneNumberLength: number;
  readonly phoneNumber: string;
  readonly subaddress: string;
}

export interface OutgoingCallReply {
  readonly type: 'Outgoing-Call-Reply';
  readonly callId: number;
  readonly peerCallId: number;
  readonly resultCode: number;
  readonly errorCode: number;
  readonly causeCode: number;
  readonly connectSpeed: number;
  readonly receiveWindowSize: number;
  readonly processingDelay: number;
  readonly physicalChannelId: number;
}

export interface IncomingCallRequest {
  readonly type: 'Incoming-Call-Request';
  readonly callId: number;
  readonly callSerialNumber: number;
  readonly bearerType: number;
  readonly physicalChannelId: number;
  readonly dialedNumberLength: number;
  readonly dialingNumberLength: number;
  readonly dialedNumber: string;
  readonly dialingNumber: string;
  readonly subaddress: string;
}

export interface IncomingCallReply {
  readonly type: 'Incoming-Call-Reply';
  readonly callId: number;
  readonly peerCallId: number;
  readonly resultCode: number;
  readonly errorCode: number;
  readonly receiveWindowSize: number;
  /** Packet Transmit Delay, in 1/10 seconds. */
  readonly transmitDelay: number;
}

export interface IncomingCallConnected {
  readonly type: 'Incoming-Call-Connected';
  readonly peerCallId: number;
  readonly connectSpeed: number;
  readonly receiveWindowSize: number;
  readonly transmitDelay: number;
  readonly framingType: number;
}

export interface CallClearRequest {
  readonly type: 'Call-Clear-Request';
  readonly callId: number;
}

export interface CallDisconnectNotify {
  readonly type: 'Call-Disconnect-Notify';
  readonly callId: number;
  readonly resultCode: number;
  readonly errorCode: number;
  readonly causeCode: number;
  readonly callStatistics: string;
}

export interface WanErrorNotify {
  readonly type: 'WAN-Error-Notify';
  readonly peerCallId: number;
  readonly crcErrors: number;
  readonly framingErrors: number;
  readonly hardwareOverruns: number;
  readonly bufferOverruns: number;
  readonly timeoutErrors: number;
  readonly alignmentErrors: number;
}

export interface SetLinkInfo {
  readonly type: 'Set-Link-Info';
  readonly peerCallId: number;
  readonly sendAccm: number;
  readonly receiveAccm: number;
}

export type ControlMessage =
  | StartControlConnectionRequest
  | StartControlConnectionReply
  | StopControlConnectionRequest
  | StopControlConnectionReply
  | EchoRequest
  | EchoReply
  | OutgoingCallRequest
  | OutgoingCallReply
  | IncomingCallRequest
  | IncomingCallReply
  | IncomingCallConnected
  | CallClearRequest
  | CallDisconnectNotify
  | WanErrorNotify
  | SetLinkInfo;

// ---------------------------------------------------------------------------------------
// Strings: fixed NUL-padded fields.

/** Host Name, Vendor, Phone Number, Subaddress, Dialed/Dialing Number: 64 octets. */
export const STRING_FIELD_LENGTH = 64;
/** Call Statistics of a Call-Disconnect-Notify: 128 octets. */
export const CALL_STATISTICS_LENGTH = 128;

/**
 * RFC 2637 §2.1: "If less than 64 octets in length, the remainder of this field is filled
 * with octets of value 0", so a full field has no terminator. Decoded as latin1 (one char
 * per octet, never a decoding error) up to the first NUL; the log formatter escapes what
 * is not printable.
 */
function readString(buf: Buffer, offset: number, length: number): string {
  const end = offset + length;
  let stop = offset;
  while (stop < end && buf[stop] !== 0) stop++;
  return buf.toString('latin1', offset, stop);
}

/** Writes latin1, truncated to the field, rest left zero (buffers come from Buffer.alloc). */
function writeString(buf: Buffer, offset: number, length: number, value: string): void {
  buf.write(value, offset, length, 'latin1');
}

// ---------------------------------------------------------------------------------------
// Decode.

/**
 * Decodes one whole control message (as delimited by its Length field). Errors:
 * `truncated`, `bad-length`, `bad-cookie`, `unsupported-pptp-message-type` (the PPTP
 * Message Type is not 1) and `unknown-message-type` (a Control Message Type outside 1-15):
 * the last two leave the stream in sync, so a caller may skip them rather than close.
 */
export function decodeControlMessage(buf: Buffer): Result<ControlMessage> {
  if (buf.length < CONTROL_HEADER_LENGTH) {
    return err('truncated', `control message of ${buf.length} octets is shorter than the header`);
  }
  const length = buf.readUInt16BE(0);
  if (length !== buf.length) {
    return err('bad-length', `Length field says ${length} octets but ${buf.length} were given`);
  }
  const cookie = buf.readUInt32BE(4);
  if (cookie !== PPTP_MAGIC_COOKIE) {
    return err('bad-cookie', `Magic Cookie is 0x${cookie.toString(16)}, not 0x1a2b3c4d`);
  }
  const pptpType = buf.readUInt16BE(2);
  if (pptpType !== PPTP_MESSAGE_TYPE.control) {
    return err('unsupported-pptp-message-type', `PPTP Message Type ${pptpType} is not control (1)`);
  }
  const controlType = buf.readUInt16BE(8);
  const name = NAME_BY_TYPE.get(controlType);
  if (name === undefined) {
    return err('unknown-message-type', `Control Message Type ${controlType} is not defined`);
  }
  const expected = CONTROL_MESSAGE_LENGTH[name];
  if (length !== expected) {
    return err('bad-length', `${name} must be ${expected} octets, got ${length}`);
  }
  return ok(decodeBody(name, buf));
}

/** Reads the fields of a message whose length has been checked against the table. */
function decodeBody(name: ControlMessageName, b: Buffer): ControlMessage {
  switch (name) {
    case 'Start-Control-Connection-Request':
      return {
        type: name,
        protocolVersion: b.readUInt16BE(12),
        framingCapabilities: b.readUInt32BE(16),
        bearerCapabilities: b.readUInt32BE(20),
        maximumChannels: b.readUInt16BE(24),
        firmwareRevision: b.readUInt16BE(26),
        hostName: readString(b, 28, STRING_FIELD_LENGTH),
        vendor: readString(b, 92, STRING_FIELD_LENGTH),
      };
    case 'Start-Control-Connection-Reply':
      return {
        type: name,
        protocolVersion: b.readUInt16BE(12),
        resultCode: b[14]!,
        errorCode: b[15]!,
        framingCapabilities: b.readUInt32BE(16),
        bearerCapabilities: b.readUInt32BE(20),
        maximumChannels: b.readUInt16BE(24),
        firmwareRevision: b.readUInt16BE(26),
        hostName: readString(b, 28, STRING_FIELD_LENGTH),
        vendor: readString(b, 92, STRING_FIELD_LENGTH),
      };
    case 'Stop-Control-Connection-Request':
      return { type: name, reason: b[12]! };
    case 'Stop-Control-Connection-Reply':
      return { type: name, resultCode: b[12]!, errorCode: b[13]! };
    case 'Echo-Request':
      return { type: name, identifier: b.readUInt32BE(12) };
    case 'Echo-Reply':
      return { type: name, identifier: b.readUInt32BE(12), resultCode: b[16]!, errorCode: b[17]! };
    case 'Outgoing-Call-Request':
      return {
        type: name,
        callId: b.readUInt16BE(12),
        callSerialNumber: b.readUInt16BE(14),
        minimumBps: b.readUInt32BE(16),
        maximumBps: b.readUInt32BE(20),
        bearerType: b.readUInt32BE(24),
        framingType: b.readUInt32BE(28),
        receiveWindowSize: b.readUInt16BE(32),
        processingDelay: b.readUInt16BE(34),
        phoneNumberLength: b.readUInt16BE(36),
        phoneNumber: readString(b, 40, STRING_FIELD_LENGTH),
        subaddress: readString(b, 104, STRING_FIELD_LENGTH),
      };
    case 'Outgoing-Call-Reply':
      return {
        type: name,
        callId: b.readUInt16BE(12),
        peerCallId: b.readUInt16BE(14),
        resultCode: b[16]!,
        errorCode: b[17]!,
        causeCode: b.readUInt16BE(18),
        connectSpeed: b.readUInt32BE(20),
        receiveWindowSize: b.readUInt16BE(24),
        processingDelay: b.readUInt16BE(26),
        physicalChannelId: b.readUInt32BE(28),
      };
    case 'Incoming-Call-Request':
      return {
        type: name,
        callId: b.readUInt16BE(12),
        callSerialNumber: b.readUInt16BE(14),
        bearerType: b.readUInt32BE(16),
        physicalChannelId: b.readUInt32BE(20),
        dialedNumberLength: b.readUInt16BE(24),
        dialingNumberLength: b.readUInt16BE(26),
        dialedNumber: readString(b, 28, STRING_FIELD_LENGTH),
        dialingNumber: readString(b, 92, STRING_FIELD_LENGTH),
        subaddress: readString(b, 156, STRING_FIELD_LENGTH),
      };
    case 'Incoming-Call-Reply':
      return {
        type: name,
        callId: b.readUInt16BE(12),
        peerCallId: b.readUInt16BE(14),
        resultCode: b[16]!,
        errorCode: b[17]!,
        receiveWindowSize: b.readUInt16BE(18),
        transmitDelay: b.readUInt16BE(20),
      };
    case 'Incoming-Call-Connected':
      return {
        type: name,
        peerCallId: b.readUInt16BE(12),
        connectSpeed: b.readUInt32BE(16),
        receiveWindowSize: b.readUInt16BE(20),
        transmitDelay: b.readUInt16BE(22),
        framingType: b.readUInt32BE(24),
      };
    case 'Call-Clear-Request':
      return { type: name, callId: b.readUInt16BE(12) };
    case 'Call-Disconnect-Notify':
      return {
        type: name,
        callId: b.readUInt16BE(12),
        resultCode: b[14]!,
        errorCode: b[15]!,
        causeCode: b.readUInt16BE(16),
        callStatistics: readString(b, 20, CALL_STATISTICS_LENGTH),
      };
    case 'WAN-Error-Notify':
      return {
        type: name,
        peerCallId: b.readUInt16BE(12),
        crcErrors: b.readUInt32BE(16),
        framingErrors: b.readUInt32BE(20),
        hardwareOverruns: b.readUInt32BE(24),
        bufferOverruns: b.readUInt32BE(28),
        timeoutErrors: b.readUInt32BE(32),
        alignmentErrors: b.readUInt32BE(36),
      };
    case 'Set-Link-Info':
      return {
        type: name,
        peerCallId: b.readUInt16BE(12),
        sendAccm: b.readUInt32BE(16),
        receiveAccm: b.readUInt32BE(20),
      };
  }
}

// ---------------------------------------------------------------------------------------
// Encode.

/**
 * Encodes a message in the RFC layout: header, fields, reserved fields zero. Integers are
 * masked to their field width, strings truncated to their field, so any Repr encodes.
 */
export function encodeControlMessage(m: ControlMessage): Buffer {
  const length = CONTROL_MESSAGE_LENGTH[m.type];
  const b = Buffer.alloc(length);
  b.writeUInt16BE(length, 0);
  b.writeUInt16BE(PPTP_MESSAGE_TYPE.control, 2);
  b.writeUInt32BE(PPTP_MAGIC_COOKIE, 4);
  b.writeUInt16BE(CONTROL_MESSAGE_TYPE[m.type], 8);
  const u8 = (v: number, o: number) => b.writeUInt8(v & 0xff, o);
  const u16 = (v: number, o: number) => b.writeUInt16BE(v & 0xffff, o);
  const u32 = (v: number, o: number) => b.writeUInt32BE(v >>> 0, o);
  switch (m.type) {
    case 'Start-Control-Connection-Request':
    case 'Start-Control-Connection-Reply':
      u16(m.protocolVersion, 12);
      if (m.type === 'Start-Control-Connection-Reply') {
        u8(m.resultCode, 14);
        u8(m.errorCode, 15);
      }
      u32(m.framingCapabilities, 16);
      u32(m.bearerCapabilities, 20);
      u16(m.maximumChannels, 24);
      u16(m.firmwareRevision, 26);
      writeString(b, 28, STRING_FIELD_LENGTH, m.hostName);
      writeString(b, 92, STRING_FIELD_LENGTH, m.vendor);
      break;
    case 'Stop-Control-Connection-Request':
      u8(m.reason, 12);
      break;
    case 'Stop-Control-Connection-Reply':
      u8(m.resultCode, 12);
      u8(m.errorCode, 13);
      break;
    case 'Echo-Request':
      u32(m.identifier, 12);
      break;
    case 'Echo-Reply':
      u32(m.identifier, 12);
      u8(m.resultCode, 16);
      u8(m.errorCode, 17);
      break;
    case 'Outgoing-Call-Request':
      u16(m.callId, 12);
      u16(m.callSerialNumber, 14);
      u32(m.minimumBps, 16);
      u32(m.maximumBps, 20);
      u32(m.bearerType, 24);
      u32(m.framingType, 28);
      u16(m.receiveWindowSize, 32);
      u16(m.processingDelay, 34);
      u16(m.phoneNumberLength, 36);
      writeString(b, 40, STRING_FIELD_LENGTH, m.phoneNumber);
      writeString(b, 104, STRING_FIELD_LENGTH, m.subaddress);
      break;
    case 'Outgoing-Call-Reply':
      u16(m.callId, 12);
      u16(m.peerCallId, 14);
      u8(m.resultCode, 16);
      u8(m.errorCode, 17);
      u16(m.causeCode, 18);
      u32(m.connectSpeed, 20);
      u16(m.receiveWindowSize, 24);
      u16(m.processingDelay, 26);
      u32(m.physicalChannelId, 28);
      break;
    case 'Incoming-Call-Request':
      u16(m.callId, 12);
      u16(m.callSerialNumber, 14);
      u32(m.bearerType, 16);
      u32(m.physicalChannelId, 20);
      u16(m.dialedNumberLength, 24);
      u16(m.dialingNumberLength, 26);
      writeString(b, 28, STRING_FIELD_LENGTH, m.dialedNumber);
      writeString(b, 92, STRING_FIELD_LENGTH, m.dialingNumber);
      writeString(b, 156, STRING_FIELD_LENGTH, m.subaddress);
      break;
    case 'Incoming-Call-Reply':
      u16(m.callId, 12);
      u16(m.peerCallId, 14);
      u8(m.resultCode, 16);
      u8(m.errorCode, 17);
      u16(m.receiveWindowSize, 18);
      u16(m.transmitDelay, 20);
      break;
    case 'Incoming-Call-Connected':
      u16(m.peerCallId, 12);
      u32(m.connectSpeed, 16);
      u16(m.receiveWindowSize, 20);
      u16(m.transmitDelay, 22);
      u32(m.framingType, 24);
      break;
    case 'Call-Clear-Request':
      u16(m.callId, 12);
      break;
    case 'Call-Disconnect-Notify':
      u16(m.callId, 12);
      u8(m.resultCode, 14);
      u8(m.errorCode, 15);
      u16(m.causeCode, 16);
      writeString(b, 20, CALL_STATISTICS_LENGTH, m.callStatistics);
      break;
    case 'WAN-Error-Notify':
      u16(m.peerCallId, 12);
      u32(m.crcErrors, 16);
      u32(m.framingErrors, 20);
      u32(m.hardwareOverruns, 24);
      u32(m.bufferOverruns, 28);
      u32(m.timeoutErrors, 32);
      u32(m.alignmentErrors, 36);
      break;
    case 'Set-Link-Info':
      u16(m.peerCallId, 12);
      u32(m.sendAccm, 16);
      u32(m.receiveAccm, 20);
      break;
  }
  return b;
}
