/**
 * pppd-style packet lines, e.g. `sent [LCP ConfReq id=0x1 <mru 1500> <magic 0x5c3e1a2b>]`.
 * Formatting lives beside the codecs, never inside them (STYLE.md, smoltcp).
 * Passwords are never printed; PAP shows `<hidden>` as pppd does without show-password.
 */
import { decodeChap } from './auth/chap.js';
import { decodePap } from './auth/pap.js';
import { printable } from './fsm.js';
import { IpcpOption } from './ipcp.js';
import { formatIpv4 } from './ipv4.js';
import { decodeAuthOption, LcpOption } from './lcp.js';
import { Code, type ConfigOption, codeName, decodeControlPacket, decodeOptions } from './packet.js';
import { Protocol, protocolName } from './protocol.js';

export function formatPacketLine(
  direction: 'sent' | 'rcvd',
  protocol: number,
  packet: Buffer,
): string {
  return `${direction} [${formatPacket(protocol, packet)}]`;
}

export function formatPacket(protocol: number, packet: Buffer): string {
  const name = protocolName(protocol);
  const decoded = decodeControlPacket(packet);
  if (!decoded.ok) return `${name} ${hexBytes(packet, 32)}`;
  const p = decoded.value;
  const head = `${name} ${codeNameFor(protocol, p.code)} id=0x${p.identifier.toString(16)}`;
  switch (protocol) {
    case Protocol.PAP:
      return `${head}${formatPapBody(p.code, p.identifier, p.data)}`;
    case Protocol.CHAP:
      return `${head}${formatChapBody(p.code, p.identifier, p.data)}`;
    case Protocol.LCP:
    case Protocol.IPCP:
    case Protocol.CCP:
      return `${head}${formatFsmBody(protocol, p.code, p.data)}`;
    default:
      return `${head}${p.data.length > 0 ? ` ${hexBytes(p.data, 32)}` : ''}`;
  }
}

function codeNameFor(protocol: number, code: number): string {
  if (protocol === Protocol.PAP)
    return ['', 'AuthReq', 'AuthAck', 'AuthNak'][code] || `code=0x${code.toString(16)}`;
  if (protocol === Protocol.CHAP) {
    return (
      ['', 'Challenge', 'Response', 'Success', 'Failure'][code] || `code=0x${code.toString(16)}`
    );
  }
  return codeName(code);
}

function formatFsmBody(protocol: number, code: number, data: Buffer): string {
  switch (code) {
    case Code.CONFIGURE_REQUEST:
    case Code.CONFIGURE_ACK:
    case Code.CONFIGURE_NAK:
    case Code.CONFIGURE_REJECT: {
      const options = decodeOptions(data);
      if (!options.ok) return ` ${hexBytes(data, 32)}`;
      return options.value.map((o) => ` <${formatOption(protocol, o)}>`).join('');
    }
    case Code.TERMINATE_REQUEST:
    case Code.TERMINATE_ACK:
      return data.length > 0 ? ` "${printable(data)}"` : '';
    case Code.ECHO_REQUEST:
    case Code.ECHO_REPLY:
    case Code.DISCARD_REQUEST:
      if (protocol === Protocol.LCP && data.length >= 4) {
        const rest = data.length > 4 ? ` ${hexBytes(data.subarray(4), 16)}` : '';
        return ` magic=0x${data.readUInt32BE(0).toString(16)}${rest}`;
      }
      return data.length > 0 ? ` ${hexBytes(data, 16)}` : '';
    default:
      return data.length > 0 ? ` ${hexBytes(data, 32)}` : '';
  }
}

export function formatOption(protocol: number, o: ConfigOption): string {
  if (protocol === Protocol.LCP) return formatLcpOption(o);
  if (protocol === Protocol.IPCP) return formatIpcpOption(o);
  if (protocol === Protocol.CCP) return formatCcpOption(o);
  return rawOption(o);
}

function formatLcpOption(o: ConfigOption): string {
  const d = o.data;
  switch (o.type) {
    case LcpOption.MRU:
      return d.length === 2 ? `mru ${d.readUInt16BE(0)}` : rawOption(o);
    case LcpOption.ACCM:
      return d.length === 4 ? `asyncmap 0x${d.readUInt32BE(0).toString(16)}` : rawOption(o);
    case LcpOption.AUTH_PROTOCOL: {
      const m = decodeAuthOption(d);
      if (m === 'pap') return 'auth pap';
      if (m === 'chap-md5') return 'auth chap MD5';
      if (m === 'mschap') return 'auth chap MS';
      if (m === 'mschap-v2') return 'auth chap MS-v2';
      return d.length >= 2
        ? `auth ${protocolName(d.readUInt16BE(0))} ${hexBytes(d.subarray(2), 8)}`.trimEnd()
        : rawOption(o);
    }
    case LcpOption.MAGIC_NUMBER:
      return d.length === 4 ? `magic 0x${d.readUInt32BE(0).toString(16)}` : rawOption(o);
    case LcpOption.PFC:
      return 'pcomp';
    case LcpOption.ACFC:
      return 'accomp';
    case LcpOption.QUALITY_PROTOCOL:
      return `quality ${hexBytes(d, 8)}`;
    case LcpOption.CALLBACK:
      return `callback ${hexBytes(d, 8)}`;
    case LcpOption.MRRU:
      return d.length === 2 ? `mrru ${d.readUInt16BE(0)}` : rawOption(o);
    case LcpOption.ENDPOINT_DISCRIMINATOR:
      return `endpoint ${hexBytes(d, 24)}`;
    default:
      return rawOption(o);
  }
}

function formatIpcpOption(o: ConfigOption): string {
  const d = o.data;
  const addr = d.length === 4 ? formatIpv4(d.readUInt32BE(0)) : undefined;
  switch (o.type) {
    case IpcpOption.IP_ADDRESS:
      return addr !== undefined ? `addr ${addr}` : rawOption(o);
    case IpcpOption.IP_COMPRESSION_PROTOCOL:
      return d.length >= 2 && d.readUInt16BE(0) === Protocol.VJ_COMPRESSED
        ? `compress VJ ${hexBytes(d.subarray(2), 4)}`.trimEnd()
        : `compress ${hexBytes(d, 8)}`;
    case IpcpOption.PRIMARY_DNS:
      return addr !== undefined ? `ms-dns1 ${addr}` : rawOption(o);
    case IpcpOption.SECONDARY_DNS:
      return addr !== undefined ? `ms-dns2 ${addr}` : rawOption(o);
    case IpcpOption.PRIMARY_NBNS:
      return addr !== undefined ? `ms-wins ${addr}` : rawOption(o);
    case IpcpOption.SECONDARY_NBNS:
      return addr !== undefined ? `ms-wins ${addr}` : rawOption(o);
    default:
      return rawOption(o);
  }
}

/** RFC 3078 §2: CCP option 18 with its Supported Bits, as pppd prints them. */
function formatCcpOption(o: ConfigOption): string {
  if (o.type === 18 && o.data.length === 4) {
    const bits = o.data.readUInt32BE(0);
    const flag = (set: boolean, c: string): string => `${set ? '+' : '-'}${c}`;
    return [
      'mppe',
      flag((bits & 0x01000000) !== 0, 'H'),
      flag((bits & 0x80) !== 0, 'M'),
      flag((bits & 0x40) !== 0, 'S'),
      flag((bits & 0x20) !== 0, 'L'),
      flag((bits & 0x10) !== 0, 'D'),
      flag((bits & 0x01) !== 0, 'C'),
    ].join(' ');
  }
  return rawOption(o);
}

function formatPapBody(code: number, identifier: number, data: Buffer): string {
  const decoded = decodePap({ code, identifier, data });
  if (!decoded.ok) return ` ${hexBytes(data, 16)}`;
  const m = decoded.value;
  if (m.code === 1) return ` user="${printable(m.peerId)}" password=<hidden>`;
  return m.message.length > 0 ? ` "${printable(m.message)}"` : '';
}

function formatChapBody(code: number, identifier: number, data: Buffer): string {
  const decoded = decodeChap({ code, identifier, data });
  if (!decoded.ok) return ` ${hexBytes(data, 16)}`;
  const m = decoded.value;
  if (m.code === 1 || m.code === 2)
    return ` <${m.value.toString('hex')}>, name = "${printable(m.name)}"`;
  return m.message.length > 0 ? ` "${printable(m.message)}"` : '';
}

function rawOption(o: ConfigOption): string {
  return `option=0x${o.type.toString(16)}${o.data.length > 0 ? ` ${hexBytes(o.data, 16)}` : ''}`;
}

function hexBytes(data: Buffer, limit: number): string {
  const shown = Array.from(data.subarray(0, limit), (b) => b.toString(16).padStart(2, '0')).join(
    ' ',
  );
  return data.length > limit ? `${shown} ...` : shown;
}
