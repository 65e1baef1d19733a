/**
 * Log formatting for the async HDLC codec, kept beside it (not inside it): pppd-style
 * one-liners for counters and frame errors, and a hex dump for `debug` traces.
 */
import type { DecodeError } from '../ppp/result.js';
import type { HdlcDecoderCounters, HdlcEncoderCounters } from './hdlc.js';

/** e.g. "rx 12 frames 3301 octets, 1 bad FCS, 0 short, 0 oversize, 0 aborted, 4 ACCM-dropped". */
export function formatHdlcCounters(rx: HdlcDecoderCounters, tx?: HdlcEncoderCounters): string {
  const parts = [
    `rx ${rx.frames} frames ${rx.octets} octets`,
    `${rx.badFcs} bad FCS`,
    `${rx.tooShort} short`,
    `${rx.oversize} oversize`,
    `${rx.aborts} aborted`,
    `${rx.accmDiscarded} ACCM-dropped`,
    `${rx.huntDiscarded} hunted`,
  ];
  if (tx) parts.push(`tx ${tx.frames} frames ${tx.octets} octets`);
  return parts.join(', ');
}

/** pppd prints bad frames as "... bad FCS"; this is the one-line form of a decoder error. */
export function formatHdlcError(error: DecodeError): string {
  return `hdlc: ${error.kind}: ${error.reason}`;
}

/** Space-separated hex, 16 octets a line, like pppd's `debug` dumps of raw input. */
export function hexDump(bytes: Uint8Array, max = 256): string {
  const shown = bytes.length > max ? bytes.subarray(0, max) : bytes;
  const lines: string[] = [];
  for (let i = 0; i < shown.length; i += 16) {
    const row = Array.from(shown.subarray(i, i + 16), (b) => b.toString(16).padStart(2, '0'));
    lines.push(row.join(' '));
  }
  if (bytes.length > max) lines.push(`... (${bytes.length - max} more)`);
  return lines.join('\n');
}
