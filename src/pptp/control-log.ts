/**
 * pppd-style one-line log formatting for PPTP control messages, kept beside the codec
 * (not inside it): `rcvd [PPTP Start-Control-Connection-Request ver=0x100 framing=3 ...]`.
 */
import type { DecodeError } from '../ppp/result.js';
import {
  type ControlMessage,
  codeName,
  DISCONNECT_RESULT,
  ECHO_RESULT,
  GENERAL_ERROR,
  INCOMING_CALL_RESULT,
  OUTGOING_CALL_RESULT,
  START_RESULT,
  STOP_REASON,
  STOP_RESULT,
} from './control.js';

/** A string from the wire, quoted, with anything not printable ASCII as \xNN. */
export function quoteWireString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) out += `\\${s[i]}`;
    else if (c >= 0x20 && c < 0x7f) out += s[i];
    else out += `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return `${out}"`;
}

const hex = (n: number) => `0x${n.toString(16)}`;

/** Result plus, when the Result is General Error or the Error Code is set, the error. */
function result(table: Parameters<typeof codeName>[0], resultCode: number, errorCode: number) {
  const r = `result=${codeName(table, resultCode)}`;
  return errorCode !== 0 ? `${r} error=${codeName(GENERAL_ERROR, errorCode)}` : r;
}

/** The bracketed body: `[PPTP <Message-Name> field=value ...]`. */
export function formatControlMessage(m: ControlMessage): string {
  let fields: string[];
  switch (m.type) {
    case 'Start-Control-Connection-Request':
    case 'Start-Control-Connection-Reply':
      fields = [`ver=${hex(m.protocolVersion)}`];
      if (m.type === 'Start-Control-Connection-Reply') {
        fields.push(result(START_RESULT, m.resultCode, m.errorCode));
      }
      fields.push(
        `framing=${m.framingCapabilities}`,
        `bearer=${m.bearerCapabilities}`,
        `maxch=${m.maximumChannels}`,
        `fw=${hex(m.firmwareRevision)}`,
        `host=${quoteWireString(m.hostName)}`,
        `vendor=${quoteWireString(m.vendor)}`,
      );
      break;
    case 'Stop-Control-Connection-Request':
      fields = [`reason=${codeName(STOP_REASON, m.reason)}`];
      break;
    case 'Stop-Control-Connection-Reply':
      fields = [result(STOP_RESULT, m.resultCode, m.errorCode)];
      break;
    case 'Echo-Request':
      fields = [`id=${hex(m.identifier)}`];
      break;
    case 'Echo-Reply':
      fields = [`id=${hex(m.identifier)}`, result(ECHO_RESULT, m.resultCode, m.errorCode)];
      break;
    case 'Outgoing-Call-Request':
      fields = [
        `call=${m.callId}`,
        `serial=${m.callSerialNumber}`,
        `bps=${m.minimumBps}-${m.maximumBps}`,
        `bearer=${m.bearerType}`,
        `framing=${m.framingType}`,
        `window=${m.receiveWindowSize}`,
        `delay=${m.processingDelay}`,
        `phone=${quoteWireString(m.phoneNumber)}`,
      ];
      if (m.subaddress !== '') fields.push(`sub=${quoteWireString(m.subaddress)}`);
      break;
    case 'Outgoing-Call-Reply':
      fields = [
        `call=${m.callId}`,
        `peer=${m.peerCallId}`,
        result(OUTGOING_CALL_RESULT, m.resultCode, m.errorCode),
        `cause=${m.causeCode}`,
        `speed=${m.connectSpeed}`,
        `window=${m.receiveWindowSize}`,
        `delay=${m.processingDelay}`,
        `channel=${m.physicalChannelId}`,
      ];
      break;
    case 'Incoming-Call-Request':
      fields = [
        `call=${m.callId}`,
        `serial=${m.callSerialNumber}`,
        `bearer=${m.bearerType}`,
        `channel=${m.physicalChannelId}`,
        `dialed=${quoteWireString(m.dialedNumber)}`,
        `dialing=${quoteWireString(m.dialingNumber)}`,
      ];
      if (m.subaddress !== '') fields.push(`sub=${quoteWireString(m.subaddress)}`);
      break;
    case 'Incoming-Call-Reply':
      fields = [
        `call=${m.callId}`,
        `peer=${m.peerCallId}`,
        result(INCOMING_CALL_RESULT, m.resultCode, m.errorCode),
        `window=${m.receiveWindowSize}`,
        `delay=${m.transmitDelay}`,
      ];
      break;
    case 'Incoming-Call-Connected':
      fields = [
        `peer=${m.peerCallId}`,
        `speed=${m.connectSpeed}`,
        `window=${m.receiveWindowSize}`,
        `delay=${m.transmitDelay}`,
        `framing=${m.framingType}`,
      ];
      break;
    case 'Call-Clear-Request':
      fields = [`call=${m.callId}`];
      break;
    case 'Call-Disconnect-Notify':
      fields = [
        `call=${m.callId}`,
        result(DISCONNECT_RESULT, m.resultCode, m.errorCode),
        `cause=${m.causeCode}`,
      ];
      if (m.callStatistics !== '') fields.push(`stats=${quoteWireString(m.callStatistics)}`);
      break;
    case 'WAN-Error-Notify':
      fields = [
        `peer=${m.peerCallId}`,
        `crc=${m.crcErrors}`,
        `framing=${m.framingErrors}`,
        `hw-overrun=${m.hardwareOverruns}`,
        `buf-overrun=${m.bufferOverruns}`,
        `timeout=${m.timeoutErrors}`,
        `align=${m.alignmentErrors}`,
      ];
      break;
    case 'Set-Link-Info':
      fields = [
        `peer=${m.peerCallId}`,
        `send-accm=${hex(m.sendAccm)}`,
        `recv-accm=${hex(m.receiveAccm)}`,
      ];
      break;
  }
  return `[PPTP ${m.type} ${fields.join(' ')}]`;
}

/** The full log line, pppd style: `sent [PPTP ...]` / `rcvd [PPTP ...]`. */
export function formatControlLine(direction: 'sent' | 'rcvd', m: ControlMessage): string {
  return `${direction} ${formatControlMessage(m)}`;
}

/** One line for a control message that failed to decode. */
export function formatControlError(error: DecodeError): string {
  return `pptp control: ${error.kind}: ${error.reason}`;
}
