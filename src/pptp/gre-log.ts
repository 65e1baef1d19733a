/**
 * Log formatting for enhanced GRE, kept beside the codec: one line per packet and one
 * line for a flow's counters.
 */
import type { GrePacket } from './gre.js';
import type { GreFlowCounters } from './gre-flow.js';

/** `GRE call=4 seq=12 ack=10 len=1400`. */
export function formatGre(p: GrePacket): string {
  const parts = [`call=${p.callId}`];
  if (p.sequence !== undefined) parts.push(`seq=${p.sequence}`);
  if (p.ack !== undefined) parts.push(`ack=${p.ack}`);
  parts.push(`len=${p.payload.length}`);
  return `GRE ${parts.join(' ')}`;
}

/** `tx 10 data 2 ack-only 0 window-dropped, rx 9 delivered 1 reordered ...`. */
export function formatGreFlowCounters(c: GreFlowCounters): string {
  return [
    `tx ${c.txData} data ${c.txAckOnly} ack-only ${c.txQueued} queued ${c.txWindowDropped} window-dropped`,
    `rx ${c.rxDelivered} delivered ${c.rxReordered} reordered ${c.rxDuplicate} duplicate ${c.rxStale} stale ${c.rxLate} late ${c.rxLost} lost ${c.rxOverflow} overflow ${c.rxAckOnly} ack-only ${c.rxBadAck} bad-ack`,
  ].join(', ');
}
