/**
 * The RADIUS packet codec: RFC 2865 (packets, attributes, User-Password hiding, Request and
 * Response Authenticators), RFC 2866 (Accounting-Request authenticator), RFC 3579 §3.2
 * (Message-Authenticator) and the Microsoft vendor attributes of RFC 2548 (with the salted
 * encryption of MS-MPPE-Send-Key / MS-MPPE-Recv-Key).
 *
 * Written here rather than taken from npm: the `radius` package has no Microsoft dictionary.
 * Decoders take untrusted bytes and return a Result; they never throw and check every length
 * before reading. Codes and attribute types are const tables; an unknown number is data.
 * The log formatter lives beside this file (packet-log.ts).
 */
import { createHash, createHmac } from 'node:crypto';
import { constantTimeEqual } from '../../ppp/crypto/constant-time.js';
import { err, ok, type Result } from '../../ppp/result.js';

// ---------------------------------------------------------------------------------------------
// Numbers

/** RFC 2865 §3 (and RFC 2866 §3, RFC 5176 §3, RFC 5997) packet codes. */
export const RADIUS_CODES = {
  1: 'Access-Request',
  2: 'Access-Accept',
  3: 'Access-Reject',
  4: 'Accounting-Request',
  5: 'Accounting-Response',
  11: 'Access-Challenge',
  12: 'Status-Server',
  13: 'Status-Client',
  40: 'Disconnect-Request',
  41: 'Disconnect-ACK',
  42: 'Disconnect-NAK',
  43: 'CoA-Request',
  44: 'CoA-ACK',
  45: 'CoA-NAK',
} as const;

export const Code = {
  AccessRequest: 1,
  AccessAccept: 2,
  AccessReject: 3,
  AccountingRequest: 4,
  AccountingResponse: 5,
  AccessChallenge: 11,
  StatusServer: 12,
} as const;

/** The name of a code, or `Unknown-Code-N`: an unknown code is data, not an error. */
export function codeName(code: number): string {
  return (RADIUS_CODES as Record<number, string>)[code] ?? `Unknown-Code-${code}`;
}

/** RFC 2865 §5, RFC 2866 §5, RFC 2869 §5, RFC 3579 §3 attribute types (the ones used here). */
export const RADIUS_ATTRIBUTES = {
  1: 'User-Name',
  2: 'User-Password',
  3: 'CHAP-Password',
  4: 'NAS-IP-Address',
  5: 'NAS-Port',
  6: 'Service-Type',
  7: 'Framed-Protocol',
  8: 'Framed-IP-Address',
  9: 'Framed-IP-Netmask',
  10: 'Framed-Routing',
  11: 'Filter-Id',
  12: 'Framed-MTU',
  13: 'Framed-Compression',
  18: 'Reply-Message',
  22: 'Framed-Route',
  24: 'State',
  25: 'Class',
  26: 'Vendor-Specific',
  27: 'Session-Timeout',
  28: 'Idle-Timeout',
  29: 'Termination-Action',
  30: 'Called-Station-Id',
  31: 'Calling-Station-Id',
  32: 'NAS-Identifier',
  33: 'Proxy-State',
  40: 'Acct-Status-Type',
  41: 'Acct-Delay-Time',
  42: 'Acct-Input-Octets',
  43: 'Acct-Output-Octets',
  44: 'Acct-Session-Id',
  45: 'Acct-Authentic',
  46: 'Acct-Session-Time',
  47: 'Acct-Input-Packets',
  48: 'Acct-Output-Packets',
  49: 'Acct-Terminate-Cause',
  50: 'Acct-Multi-Session-Id',
  51: 'Acct-Link-Count',
  52: 'Acct-Input-Gigawords',
  53: 'Acct-Output-Gigawords',
  55: 'Event-Timestamp',
  60: 'CHAP-Challenge',
  61: 'NAS-Port-Type',
  62: 'Port-Limit',
  79: 'EAP-Message',
  80: 'Message-Authenticator',
  85: 'Acct-Interim-Interval',
  87: 'NAS-Port-Id',
} as const;

export const Attr = {
  UserName: 1,
  UserPassword: 2,
  ChapPassword: 3,
  NasIpAddress: 4,
  NasPort: 5,
  ServiceType: 6,
  FramedProtocol: 7,
  FramedIpAddress: 8,
  FramedIpNetmask: 9,
  FramedMtu: 12,
  ReplyMessage: 18,
  State: 24,
  Class: 25,
  VendorSpecific: 26,
  SessionTimeout: 27,
  IdleTimeout: 28,
  CalledStationId: 30,
  CallingStationId: 31,
  NasIdentifier: 32,
  ProxyState: 33,
  AcctStatusType: 40,
  AcctDelayTime: 41,
  AcctInputOctets: 42,
  AcctOutputOctets: 43,
  AcctSessionId: 44,
  AcctAuthentic: 45,
  AcctSessionTime: 46,
  AcctInputPackets: 47,
  AcctOutputPackets: 48,
  AcctTerminateCause: 49,
  AcctInputGigawords: 52,
  AcctOutputGigawords: 53,
  EventTimestamp: 55,
  ChapChallenge: 60,
  NasPortType: 61,
  MessageAuthenticator: 80,
  AcctInterimInterval: 85,
} as const;

export function attributeName(type: number): string {
  return (RADIUS_ATTRIBUTES as Record<number, string>)[type] ?? `Attr-${type}`;
}

/** RFC 2548 §1: the Microsoft vendor id. */
export const VENDOR_MICROSOFT = 311;

/** RFC 2548 §2 Microsoft sub-attribute types. */
export const MS_ATTRIBUTES = {
  1: 'MS-CHAP-Response',
  2: 'MS-CHAP-Error',
  3: 'MS-CHAP-CPW-1',
  4: 'MS-CHAP-CPW-2',
  5: 'MS-CHAP-LM-Enc-PW',
  6: 'MS-CHAP-NT-Enc-PW',
  7: 'MS-MPPE-Encryption-Policy',
  8: 'MS-MPPE-Encryption-Types',
  10: 'MS-CHAP-Domain',
  11: 'MS-CHAP-Challenge',
  12: 'MS-CHAP-MPPE-Keys',
  16: 'MS-MPPE-Send-Key',
  17: 'MS-MPPE-Recv-Key',
  25: 'MS-CHAP2-Response',
  26: 'MS-CHAP2-Success',
  27: 'MS-CHAP2-CPW',
} as const;

export const MsAttr = {
  ChapResponse: 1,
  ChapError: 2,
  MppeEncryptionPolicy: 7,
  MppeEncryptionTypes: 8,
  ChapChallenge: 11,
  ChapMppeKeys: 12,
  MppeSendKey: 16,
  MppeRecvKey: 17,
  Chap2Response: 25,
  Chap2Success: 26,
} as const;

export function msAttributeName(type: number): string {
  return (MS_ATTRIBUTES as Record<number, string>)[type] ?? `MS-Attr-${type}`;
}

/** RFC 2865 §5.6 Service-Type values used here. */
export const ServiceType = { Login: 1, Framed: 2 } as const;
/** RFC 2865 §5.7 Framed-Protocol. */
export const FramedProtocol = { Ppp: 1 } as const;
/** RFC 2865 §5.41 NAS-Port-Type values used here. */
export const NasPortType = { Async: 0, Sync: 1, Isdn: 2, Virtual: 5 } as const;

/** RFC 2866 §5.1 Acct-Status-Type. */
export const AcctStatusType = { Start: 1, Stop: 2, InterimUpdate: 3 } as const;
/** RFC 2866 §5.6 Acct-Authentic. */
export const AcctAuthentic = { Radius: 1, Local: 2, Remote: 3 } as const;

/** RFC 2866 §5.10 Acct-Terminate-Cause. */
export const ACCT_TERMINATE_CAUSES = {
  1: 'User-Request',
  2: 'Lost-Carrier',
  3: 'Lost-Service',
  4: 'Idle-Timeout',
  5: 'Session-Timeout',
  6: 'Admin-Reset',
  7: 'Admin-Reboot',
  8: 'Port-Error',
  9: 'NAS-Error',
  10: 'NAS-Request',
  11: 'NAS-Reboot',
  12: 'Port-Unneeded',
  13: 'Port-Preempted',
  14: 'Port-Suspended',
  15: 'Service-Unavailable',
  16: 'Callback',
  17: 'User-Error',
  18: 'Host-Request',
} as const;

// ---------------------------------------------------------------------------------------------
// Packets

/** RFC 2865 §3: Code, Identifier, Length (2), Authenticator (16). */
export const HEADER_LENGTH = 20;
/** RFC 2865 §3: "The maximum length is 4096". */
export const MAX_PACKET_LENGTH = 4096;
/** RFC 2865 §5: an attribute's Length covers Type and Length, at most 255. */
export const MAX_ATTRIBUTE_VALUE = 253;
export const AUTHENTICATOR_LENGTH = 16;
const MESSAGE_AUTHENTICATOR_LENGTH = 18;

export interface RadiusAttribute {
  readonly type: number;
  readonly value: Buffer;
}

export interface RadiusPacket {
  readonly code: number;
  readonly identifier: number;
  /** Request or Response Authenticator (16 bytes). */
  readonly authenticator: Buffer;
  readonly attributes: readonly RadiusAttribute[];
}

/**
 * RFC 2865 §3. Octets past Length are padding and ignored; a Length below 20 or above 4096,
 * or beyond the datagram, makes the packet invalid, as does an attribute that runs past
 * Length or has a Length below 2 (§5). Attribute values are views into `bytes`.
 */
export function decodePacket(bytes: Uint8Array): Result<RadiusPacket> {
  if (bytes.length < HEADER_LENGTH) {
    return err('truncated', `RADIUS packet of ${bytes.length} bytes is shorter than its header`);
  }
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const length = b.readUInt16BE(2);
  if (length < HEADER_LENGTH || length > MAX_PACKET_LENGTH) {
    return err('bad-length', `RADIUS Length ${length} is outside 20..4096`);
  }
  if (length > b.length) {
    return err('truncated', `RADIUS Length ${length} exceeds the ${b.length} bytes received`);
  }
  const attributes: RadiusAttribute[] = [];
  let i = HEADER_LENGTH;
  while (i < length) {
    if (i + 2 > length) return err('bad-attribute', `attribute at offset ${i} has no Length`);
    const alen = b[i + 1]!;
    if (alen < 2 || i + alen > length) {
      return err('bad-attribute', `attribute at offset ${i} has Length ${alen}`);
    }
    attributes.push({ type: b[i]!, value: b.subarray(i + 2, i + alen) });
    i += alen;
  }
  return ok({
    code: b[0]!,
    identifier: b[1]!,
    authenticator: b.subarray(4, HEADER_LENGTH),
    attributes,
  });
}

/** Encodes a packet as given (the Authenticator is the caller's). */
export function encodePacket(packet: RadiusPacket): Result<Buffer> {
  let length = HEADER_LENGTH;
  for (const a of packet.attributes) {
    if (a.type < 0 || a.type > 255) return err('bad-attribute', `attribute type ${a.type}`);
    if (a.value.length > MAX_ATTRIBUTE_VALUE) {
      return err(
        'too-long',
        `${attributeName(a.type)} value of ${a.value.length} bytes exceeds 253`,
      );
    }
    length += 2 + a.value.length;
  }
  if (length > MAX_PACKET_LENGTH) return err('too-long', `RADIUS packet of ${length} bytes`);
  if (packet.authenticator.length !== AUTHENTICATOR_LENGTH) {
    return err('bad-authenticator', 'the Authenticator must be 16 bytes');
  }
  const out = Buffer.alloc(length);
  out[0] = packet.code & 0xff;
  out[1] = packet.identifier & 0xff;
  out.writeUInt16BE(length, 2);
  packet.authenticator.copy(out, 4);
  let i = HEADER_LENGTH;
  for (const a of packet.attributes) {
    out[i] = a.type;
    out[i + 1] = a.value.length + 2;
    a.value.copy(out, i + 2);
    i += 2 + a.value.length;
  }
  return ok(out);
}

// ---------------------------------------------------------------------------------------------
// Attribute values

export function textAttribute(type: number, text: string): RadiusAttribute {
  return { type, value: Buffer.from(text, 'utf8') };
}

/** RFC 2865 §5: "integer" is 32 bits, big-endian. */
export function integerAttribute(type: number, n: number): RadiusAttribute {
  const value = Buffer.alloc(4);
  value.writeUInt32BE(n >>> 0);
  return { type, value };
}

/** RFC 2865 §5: "address" is 32 bits. `address` must be a dotted IPv4 address. */
export function addressAttribute(type: number, address: string): RadiusAttribute {
  const value = Buffer.alloc(4);
  const parts = address.split('.');
  for (let i = 0; i < 4; i++) value[i] = Number(parts[i] ?? 0) & 0xff;
  return { type, value };
}

/** An "integer" value: exactly 4 bytes, else undefined. */
export function readInteger(value: Buffer): number | undefined {
  return value.length === 4 ? value.readUInt32BE(0) : undefined;
}

/** An "address" value: exactly 4 bytes, else undefined. */
export function readAddress(value: Buffer): string | undefined {
  return value.length === 4 ? `${value[0]}.${value[1]}.${value[2]}.${value[3]}` : undefined;
}

/** The first attribute of a type. */
export function findAttribute(packet: RadiusPacket, type: number): Buffer | undefined {
  return packet.attributes.find((a) => a.type === type)?.value;
}

export function findAttributes(packet: RadiusPacket, type: number): Buffer[] {
  return packet.attributes.filter((a) => a.type === type).map((a) => a.value);
}

// ---------------------------------------------------------------------------------------------
// Vendor-Specific (RFC 2865 §5.26)

export interface VendorSpecific {
  readonly vendorId: number;
  readonly attributes: readonly RadiusAttribute[];
}

/**
 * RFC 2865 §5.26: Vendor-Id (4), then the vendor's String. Microsoft (RFC 2548 §2) and most
 * vendors use the suggested format of Vendor-Type (1), Vendor-Length (1, including both) and
 * the value; a String that does not parse that way is an error.
 */
export function decodeVendorSpecific(value: Uint8Array): Result<VendorSpecific> {
  if (value.length < 4) {
    return err('truncated', `Vendor-Specific of ${value.length} bytes has no Vendor-Id`);
  }
  const b = Buffer.from(value.buffer, value.byteOffset, value.length);
  const vendorId = b.readUInt32BE(0);
  const attributes: RadiusAttribute[] = [];
  let i = 4;
  while (i < b.length) {
    if (i + 2 > b.length) return err('bad-attribute', `vendor attribute at ${i} has no Length`);
    const vlen = b[i + 1]!;
    if (vlen < 2 || i + vlen > b.length) {
      return err('bad-attribute', `vendor ${vendorId} attribute at ${i} has Length ${vlen}`);
    }
    attributes.push({ type: b[i]!, value: b.subarray(i + 2, i + vlen) });
    i += vlen;
  }
  return ok({ vendorId, attributes });
}

/** One Vendor-Specific attribute carrying `attributes` (each at most 247 bytes of value). */
export function vendorAttribute(
  vendorId: number,
  attributes: readonly RadiusAttribute[],
): Result<RadiusAttribute> {
  let length = 4;
  for (const a of attributes) length += 2 + a.value.length;
  if (length > MAX_ATTRIBUTE_VALUE) {
    return err('too-long', `Vendor-Specific of ${length} bytes exceeds 253`);
  }
  const value = Buffer.alloc(length);
  value.writeUInt32BE(vendorId >>> 0, 0);
  let i = 4;
  for (const a of attributes) {
    value[i] = a.type;
    value[i + 1] = a.value.length + 2;
    a.value.copy(value, i + 2);
    i += 2 + a.value.length;
  }
  return ok({ type: Attr.VendorSpecific, value });
}

/** A Microsoft (311) Vendor-Specific attribute with one sub-attribute. */
export function microsoftAttribute(type: number, value: Buffer): Result<RadiusAttribute> {
  return vendorAttribute(VENDOR_MICROSOFT, [{ type, value }]);
}

/**
 * Every sub-attribute of every Vendor-Specific attribute of `vendorId`. Malformed
 * Vendor-Specific attributes are skipped (they are counted in `skipped`).
 */
export function vendorAttributes(
  packet: RadiusPacket,
  vendorId: number,
): { attributes: RadiusAttribute[]; skipped: number } {
  const attributes: RadiusAttribute[] = [];
  let skipped = 0;
  for (const a of packet.attributes) {
    if (a.type !== Attr.VendorSpecific) continue;
    const vsa = decodeVendorSpecific(a.value);
    if (!vsa.ok) {
      skipped++;
      continue;
    }
    if (vsa.value.vendorId === vendorId) attributes.push(...vsa.value.attributes);
  }
  return { attributes, skipped };
}

// ---------------------------------------------------------------------------------------------
// Hidden values

function md5(...parts: Uint8Array[]): Buffer {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** RFC 2865 §5.2: the password is at most 128 octets. */
export const MAX_PASSWORD_LENGTH = 128;

/**
 * RFC 2865 §5.2 User-Password hiding: the password, padded with zeros to a multiple of 16,
 * XORed block by block with MD5(secret ‖ previous), where previous is the Request
 * Authenticator for the first block and the previous ciphertext block after.
 */
export function hidePassword(
  password: Uint8Array,
  secret: Uint8Array,
  requestAuthenticator: Uint8Array,
): Result<Buffer> {
  if (password.length > MAX_PASSWORD_LENGTH) {
    return err('too-long', `password of ${password.length} bytes exceeds 128`);
  }
  const padded = Buffer.alloc(Math.max(16, Math.ceil(password.length / 16) * 16));
  padded.set(password);
  return ok(xorChain(padded, secret, requestAuthenticator, true));
}

/** RFC 2865 §5.2, the server side (tests): the password with its zero padding removed. */
export function unhidePassword(
  hidden: Uint8Array,
  secret: Uint8Array,
  requestAuthenticator: Uint8Array,
): Result<Buffer> {
  if (hidden.length === 0 || hidden.length % 16 !== 0 || hidden.length > MAX_PASSWORD_LENGTH) {
    return err('bad-length', `hidden password of ${hidden.length} bytes`);
  }
  const plain = xorChain(hidden, secret, requestAuthenticator, false);
  let end = plain.length;
  while (end > 0 && plain[end - 1] === 0) end--;
  return ok(plain.subarray(0, end));
}

/**
 * The MD5 XOR chain shared by RFC 2865 §5.2 and RFC 2548 §2.4.1/§2.4.2. `first` is what
 * follows the secret in the first block's hash; each later block hashes the previous
 * ciphertext block (`encrypting` says whether the output or the input is ciphertext).
 */
function xorChain(
  data: Uint8Array,
  secret: Uint8Array,
  first: Uint8Array,
  encrypting: boolean,
): Buffer {
  const out = Buffer.alloc(data.length);
  let previous: Uint8Array = first;
  for (let i = 0; i < data.length; i += 16) {
    const b = md5(secret, previous);
    for (let j = 0; j < 16; j++) out[i + j] = data[i + j]! ^ b[j]!;
    previous = encrypting ? out.subarray(i, i + 16) : data.subarray(i, i + 16);
  }
  return out;
}

/**
 * RFC 2548 §2.4.2 (MS-MPPE-Send-Key / MS-MPPE-Recv-Key): Salt (2 bytes, high bit set) then
 * the String: Key-Length (1), Key, zero padding to a multiple of 16, encrypted with
 * b(1) = MD5(secret ‖ Request-Authenticator ‖ Salt), b(i) = MD5(secret ‖ c(i-1)).
 */
export function encryptSaltedKey(
  key: Uint8Array,
  secret: Uint8Array,
  requestAuthenticator: Uint8Array,
  salt: Uint8Array,
): Result<Buffer> {
  if (salt.length !== 2) return err('bad-salt', 'the salt must be 2 bytes');
  if ((salt[0]! & 0x80) === 0) return err('bad-salt', 'the salt must have its high bit set');
  if (key.length > 240) return err('too-long', `key of ${key.length} bytes`);
  const plain = Buffer.alloc(Math.ceil((key.length + 1) / 16) * 16);
  plain[0] = key.length;
  plain.set(key, 1);
  const first = Buffer.concat([requestAuthenticator, salt]);
  return ok(Buffer.concat([Buffer.from(salt), xorChain(plain, secret, first, true)]));
}

export function decryptSaltedKey(
  value: Uint8Array,
  secret: Uint8Array,
  requestAuthenticator: Uint8Array,
): Result<Buffer> {
  if (value.length < 18 || (value.length - 2) % 16 !== 0) {
    return err('bad-length', `encrypted key attribute of ${value.length} bytes`);
  }
  // RFC 2548 §2.4.2: "The most significant bit (leftmost) of the Salt field MUST be set".
  if ((value[0]! & 0x80) === 0) return err('bad-salt', 'the salt lacks its high bit');
  const salt = value.subarray(0, 2);
  const first = Buffer.concat([requestAuthenticator, salt]);
  const plain = xorChain(value.subarray(2), secret, first, false);
  const keyLength = plain[0]!;
  if (keyLength + 1 > plain.length) {
    return err('bad-key', `Key-Length ${keyLength} exceeds the decrypted ${plain.length - 1}`);
  }
  return ok(Buffer.from(plain.subarray(1, 1 + keyLength)));
}

/**
 * RFC 2548 §2.4.1 MS-CHAP-MPPE-Keys (MS-CHAPv1): 32 bytes hidden like a User-Password
 * (RFC 2865 §5.2). Plaintext: LM key (8), NT key (16), padding (8). FreeRADIUS (like Windows
 * in practice, an acknowledged deviation from the RFC) puts the NT password hash-hash into
 * the NT key field, which is what RFC 3079's Get_Start_Key takes.
 */
export function decryptMsChapMppeKeys(
  value: Uint8Array,
  secret: Uint8Array,
  requestAuthenticator: Uint8Array,
): Result<{ lmKey: Buffer; ntKey: Buffer }> {
  if (value.length !== 32) return err('bad-length', `MS-CHAP-MPPE-Keys of ${value.length} bytes`);
  const plain = xorChain(value, secret, requestAuthenticator, false);
  return ok({ lmKey: plain.subarray(0, 8), ntKey: plain.subarray(8, 24) });
}

export function encryptMsChapMppeKeys(
  lmKey: Uint8Array,
  ntKey: Uint8Array,
  secret: Uint8Array,
  requestAuthenticator: Uint8Array,
): Buffer {
  const plain = Buffer.alloc(32);
  plain.set(lmKey.subarray(0, 8), 0);
  plain.set(ntKey.subarray(0, 16), 8);
  return xorChain(plain, secret, requestAuthenticator, true);
}

// ---------------------------------------------------------------------------------------------
// Authenticators

/**
 * RFC 2865 §3 Response Authenticator: MD5(Code ‖ ID ‖ Length ‖ RequestAuth ‖ Attributes ‖
 * Secret), over the packet's first Length bytes with the Request Authenticator in place.
 */
export function responseAuthenticator(
  packet: Uint8Array,
  requestAuthenticator: Uint8Array,
  secret: Uint8Array,
): Buffer {
  const length = Buffer.from(packet.buffer, packet.byteOffset, packet.length).readUInt16BE(2);
  return md5(
    packet.subarray(0, 4),
    requestAuthenticator,
    packet.subarray(HEADER_LENGTH, length),
    secret,
  );
}

/**
 * RFC 2866 §3 Accounting-Request Authenticator: MD5 of the packet with 16 zero octets in the
 * Authenticator field, followed by the secret. (RFC 5176 §3 uses the same for CoA.)
 */
export function accountingRequestAuthenticator(packet: Uint8Array, secret: Uint8Array): Buffer {
  return responseAuthenticator(packet, Buffer.alloc(AUTHENTICATOR_LENGTH), secret);
}

/** Offset of the (single) Message-Authenticator in raw packet bytes; errors when malformed. */
function messageAuthenticatorOffset(b: Buffer, length: number): Result<number | undefined> {
  let found: number | undefined;
  let i = HEADER_LENGTH;
  while (i + 2 <= length) {
    const alen = b[i + 1]!;
    if (alen < 2 || i + alen > length) return err('bad-attribute', `bad attribute at ${i}`);
    if (b[i] === Attr.MessageAuthenticator) {
      if (alen !== MESSAGE_AUTHENTICATOR_LENGTH) {
        return err('bad-message-authenticator', `Message-Authenticator of Length ${alen}`);
      }
      // RFC 3579 §3.2: at most one.
      if (found !== undefined) {
        return err('bad-message-authenticator', 'more than one Message-Authenticator');
      }
      found = i;
    }
    i += alen;
  }
  return ok(found);
}

/**
 * RFC 3579 §3.2: HMAC-MD5 keyed with the secret over the packet with the Message-Authenticator
 * value zeroed and, in a response, the Request Authenticator in the Authenticator field.
 * `authenticator` is what goes in that field for the computation (the packet's own for an
 * Access-Request).
 */
function messageAuthenticatorOf(
  packet: Buffer,
  length: number,
  offset: number,
  authenticator: Uint8Array,
  secret: Uint8Array,
): Buffer {
  const copy = Buffer.from(packet.subarray(0, length));
  copy.set(authenticator, 4);
  copy.fill(0, offset + 2, offset + MESSAGE_AUTHENTICATOR_LENGTH);
  return createHmac('md5', secret).update(copy).digest();
}

export type MessageAuthenticatorCheck = 'absent' | 'valid';

/**
 * Checks the Message-Authenticator of a received packet, if it has one. For a response,
 * `requestAuthenticator` is the Request Authenticator of the request it answers; for a
 * request, pass undefined (its own Authenticator is used).
 */
export function checkMessageAuthenticator(
  packet: Uint8Array,
  secret: Uint8Array,
  requestAuthenticator?: Uint8Array,
): Result<MessageAuthenticatorCheck> {
  if (packet.length < HEADER_LENGTH) return err('truncated', 'packet shorter than its header');
  const b = Buffer.from(packet.buffer, packet.byteOffset, packet.length);
  const length = b.readUInt16BE(2);
  if (length < HEADER_LENGTH || length > b.length) return err('bad-length', `Length ${length}`);
  const at = messageAuthenticatorOffset(b, length);
  if (!at.ok) return at;
  if (at.value === undefined) return ok('absent');
  const expected = messageAuthenticatorOf(
    b,
    length,
    at.value,
    requestAuthenticator ?? b.subarray(4, HEADER_LENGTH),
    secret,
  );
  const received = b.subarray(at.value + 2, at.value + MESSAGE_AUTHENTICATOR_LENGTH);
  return constantTimeEqual(expected, received)
    ? ok('valid')
    : err('bad-message-authenticator', 'Message-Authenticator does not match');
}

/**
 * Verifies a response: its Response Authenticator (RFC 2865 §3) always, and its
 * Message-Authenticator (RFC 3579 §3.2) when present. The caller decides whether an absent
 * Message-Authenticator is acceptable.
 */
export function verifyResponse(
  packet: Uint8Array,
  requestAuthenticator: Uint8Array,
  secret: Uint8Array,
): Result<MessageAuthenticatorCheck> {
  if (packet.length < HEADER_LENGTH) return err('truncated', 'packet shorter than its header');
  const b = Buffer.from(packet.buffer, packet.byteOffset, packet.length);
  const length = b.readUInt16BE(2);
  if (length < HEADER_LENGTH || length > b.length) return err('bad-length', `Length ${length}`);
  const expected = responseAuthenticator(b, requestAuthenticator, secret);
  if (!constantTimeEqual(expected, b.subarray(4, HEADER_LENGTH))) {
    return err('bad-authenticator', 'Response Authenticator does not match');
  }
  return checkMessageAuthenticator(b, secret, requestAuthenticator);
}

/** Verifies an Accounting-Request's authenticator (RFC 2866 §3); the server side (tests). */
export function verifyAccountingRequest(packet: Uint8Array, secret: Uint8Array): boolean {
  if (packet.length < HEADER_LENGTH) return false;
  const b = Buffer.from(packet.buffer, packet.byteOffset, packet.length);
  const length = b.readUInt16BE(2);
  if (length < HEADER_LENGTH || length > b.length) return false;
  return constantTimeEqual(accountingRequestAuthenticator(b, secret), b.subarray(4, HEADER_LENGTH));
}

// ---------------------------------------------------------------------------------------------
// Building requests and responses

/** A placeholder Message-Authenticator, filled in once the packet is laid out. */
function placeholder(): RadiusAttribute {
  return { type: Attr.MessageAuthenticator, value: Buffer.alloc(16) };
}

/** Fills the Message-Authenticator at its offset in an encoded packet. */
function signInPlace(packet: Buffer, authenticator: Uint8Array, secret: Uint8Array): void {
  const at = messageAuthenticatorOffset(packet, packet.length);
  if (!at.ok || at.value === undefined) return;
  const mac = messageAuthenticatorOf(packet, packet.length, at.value, authenticator, secret);
  mac.copy(packet, at.value + 2);
}

export interface AccessRequestInput {
  readonly identifier: number;
  /** The random 16-byte Request Authenticator (RFC 2865 §3: unpredictable and unique). */
  readonly authenticator: Buffer;
  /** Attributes, without User-Password and Message-Authenticator. */
  readonly attributes: readonly RadiusAttribute[];
  /** Plain password: hidden into User-Password (RFC 2865 §5.2). */
  readonly userPassword?: Uint8Array;
  readonly secret: Uint8Array;
}

/**
 * An Access-Request with a Message-Authenticator. RFC 3579 §3.2 lets it go anywhere; it is
 * put first, which the BlastRADIUS advisory (CVE-2024-3596) recommends.
 */
export function encodeAccessRequest(input: AccessRequestInput): Result<Buffer> {
  const attributes: RadiusAttribute[] = [placeholder()];
  if (input.userPassword !== undefined) {
    const hidden = hidePassword(input.userPassword, input.secret, input.authenticator);
    if (!hidden.ok) return hidden;
    attributes.push({ type: Attr.UserPassword, value: hidden.value });
  }
  for (const a of input.attributes) {
    if (a.type === Attr.MessageAuthenticator || a.type === Attr.UserPassword) continue;
    attributes.push(a);
  }
  const encoded = encodePacket({
    code: Code.AccessRequest,
    identifier: input.identifier,
    authenticator: input.authenticator,
    attributes,
  });
  if (!encoded.ok) return encoded;
  signInPlace(encoded.value, input.authenticator, input.secret);
  return encoded;
}

export interface AccountingRequestInput {
  readonly identifier: number;
  readonly attributes: readonly RadiusAttribute[];
  readonly secret: Uint8Array;
}

/** An Accounting-Request with its RFC 2866 §3 Request Authenticator. */
export function encodeAccountingRequest(input: AccountingRequestInput): Result<Buffer> {
  const encoded = encodePacket({
    code: Code.AccountingRequest,
    identifier: input.identifier,
    authenticator: Buffer.alloc(AUTHENTICATOR_LENGTH),
    attributes: input.attributes,
  });
  if (!encoded.ok) return encoded;
  accountingRequestAuthenticator(encoded.value, input.secret).copy(encoded.value, 4);
  return encoded;
}

export interface ResponseInput {
  readonly code: number;
  readonly identifier: number;
  readonly requestAuthenticator: Buffer;
  readonly attributes: readonly RadiusAttribute[];
  readonly secret: Uint8Array;
  /** Add a Message-Authenticator (first). */
  readonly messageAuthenticator: boolean;
}

/**
 * A response, as a server builds it (tests, fake servers): Message-Authenticator computed
 * with the Request Authenticator in place (RFC 3579 §3.2), then the Response Authenticator
 * over the result (RFC 2865 §3).
 */
export function encodeResponse(input: ResponseInput): Result<Buffer> {
  const attributes = input.messageAuthenticator
    ? [placeholder(), ...input.attributes]
    : [...input.attributes];
  const encoded = encodePacket({
    code: input.code,
    identifier: input.identifier,
    authenticator: input.requestAuthenticator,
    attributes,
  });
  if (!encoded.ok) return encoded;
  signInPlace(encoded.value, input.requestAuthenticator, input.secret);
  responseAuthenticator(encoded.value, input.requestAuthenticator, input.secret).copy(
    encoded.value,
    4,
  );
  return encoded;
}
