/**
 * One-line debug rendering of RADIUS packets, beside the codec (not inside it), in the
 * pppd style: `[RADIUS Access-Accept id=0x12 <Framed-IP-Address 10.9.0.7> <Session-Timeout 3600>]`.
 *
 * Only values that are safe to log are printed: names, numbers, addresses and plain text
 * attributes. Anything derived from a password (User-Password, CHAP-Password, the MS-CHAP
 * responses and success values, MPPE keys) and every attribute not known to be harmless is
 * shown by name and length only. The shared secret never reaches this file.
 */
import {
  ACCT_TERMINATE_CAUSES,
  Attr,
  attributeName,
  codeName,
  decodeVendorSpecific,
  MsAttr,
  msAttributeName,
  type RadiusAttribute,
  type RadiusPacket,
  readAddress,
  readInteger,
  VENDOR_MICROSOFT,
} from './packet.js';

/** Attributes whose text is printed. */
const TEXT: ReadonlySet<number> = new Set([
  Attr.UserName,
  Attr.ReplyMessage,
  Attr.CalledStationId,
  Attr.CallingStationId,
  Attr.NasIdentifier,
  Attr.AcctSessionId,
  11, // Filter-Id
  87, // NAS-Port-Id
]);

/** Attributes whose 32-bit integer is printed. */
const INTEGER: ReadonlySet<number> = new Set([
  Attr.NasPort,
  Attr.ServiceType,
  Attr.FramedProtocol,
  Attr.FramedMtu,
  Attr.SessionTimeout,
  Attr.IdleTimeout,
  Attr.AcctStatusType,
  Attr.AcctDelayTime,
  Attr.AcctInputOctets,
  Attr.AcctOutputOctets,
  Attr.AcctAuthentic,
  Attr.AcctSessionTime,
  Attr.AcctInputPackets,
  Attr.AcctOutputPackets,
  Attr.AcctInputGigawords,
  Attr.AcctOutputGigawords,
  Attr.EventTimestamp,
  Attr.NasPortType,
  Attr.AcctInterimInterval,
  29, // Termination-Action
  62, // Port-Limit
]);

const ADDRESS: ReadonlySet<number> = new Set([
  Attr.NasIpAddress,
  Attr.FramedIpAddress,
  Attr.FramedIpNetmask,
]);

/** Microsoft sub-attributes whose value is printed (as hex or a number). */
const MS_HEX: ReadonlySet<number> = new Set([MsAttr.ChapChallenge]);
const MS_INTEGER: ReadonlySet<number> = new Set([
  MsAttr.MppeEncryptionPolicy,
  MsAttr.MppeEncryptionTypes,
]);

/** A string from the wire, quoted, with anything not printable ASCII as \xNN. */
export function quoteText(value: Buffer, max = 64): string {
  let out = '"';
  const n = Math.min(value.length, max);
  for (let i = 0; i < n; i++) {
    const c = value[i]!;
    if (c === 0x22 || c === 0x5c) out += `\\${String.fromCharCode(c)}`;
    else if (c >= 0x20 && c < 0x7f) out += String.fromCharCode(c);
    else out += `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return `${out}${value.length > max ? '…' : ''}"`;
}

function formatMicrosoft(a: RadiusAttribute): string {
  const name = msAttributeName(a.type);
  if (MS_HEX.has(a.type)) return `${name} 0x${a.value.toString('hex')}`;
  if (MS_INTEGER.has(a.type)) {
    const n = readInteger(a.value);
    if (n !== undefined) return `${name} ${n}`;
  }
  if (a.type === MsAttr.ChapError) {
    // "E=691 R=0 ..." after the ident byte: an error code and a challenge, not a secret.
    return `${name} ${quoteText(a.value.subarray(1))}`;
  }
  return `${name} len=${a.value.length}`;
}

export function formatAttribute(a: RadiusAttribute): string {
  const name = attributeName(a.type);
  if (a.type === Attr.VendorSpecific) {
    const vsa = decodeVendorSpecific(a.value);
    if (!vsa.ok) return `<Vendor-Specific malformed len=${a.value.length}>`;
    if (vsa.value.vendorId !== VENDOR_MICROSOFT) {
      return `<Vendor-Specific vendor=${vsa.value.vendorId} len=${a.value.length}>`;
    }
    return vsa.value.attributes.map((s) => `<${formatMicrosoft(s)}>`).join(' ');
  }
  if (TEXT.has(a.type)) return `<${name} ${quoteText(a.value)}>`;
  if (ADDRESS.has(a.type)) {
    const addr = readAddress(a.value);
    if (addr !== undefined) return `<${name} ${addr}>`;
  }
  if (a.type === Attr.AcctTerminateCause) {
    const n = readInteger(a.value);
    if (n !== undefined) {
      const cause = (ACCT_TERMINATE_CAUSES as Record<number, string>)[n] ?? n;
      return `<${name} ${cause}>`;
    }
  }
  if (INTEGER.has(a.type)) {
    const n = readInteger(a.value);
    if (n !== undefined) return `<${name} ${n}>`;
  }
  if (a.type === Attr.MessageAuthenticator) return `<${name}>`;
  // User-Password, CHAP-Password, State, Class, unknown attributes: length only.
  return `<${name} len=${a.value.length}>`;
}

/** `[RADIUS Access-Request id=0x1f <User-Name "alice"> <User-Password len=16> ...]` */
export function formatPacket(packet: RadiusPacket): string {
  const head = `RADIUS ${codeName(packet.code)} id=0x${packet.identifier.toString(16)}`;
  const attrs = packet.attributes.map(formatAttribute);
  return `[${[head, ...attrs].join(' ')}]`;
}
