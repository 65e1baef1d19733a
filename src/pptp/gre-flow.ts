/**
 * Per-call enhanced-GRE sequencing, sans-I/O (RFC 2637 §4.2-§4.4).
 *
 * Outbound: every payload gets the next 32-bit sequence number (starting at 0, §4.1);
 * an acknowledgment rides on it when one is owed. The number of unacknowledged packets is
 * held to the send window, taken from the peer's Packet Recv. Window Size (§4.2).
 * A payload beyond the window is **queued briefly** (at most `sendQueueMax` packets) and
 * leaves as soon as an ack opens the window; a payload arriving at a full queue is
 * **dropped and counted** (`txWindowDropped`). If the window stays shut for
 * `sendQueueTimeoutMs` the packets in flight are presumed lost (the acknowledgment
 * time-out of §4.4, with a fixed rather than adaptive time-out): the window reopens and
 * the queue is sent, so a lost packet can never wedge the call. `admitData` lets the
 * session driver drop an IP packet before it is framed and encrypted when it would only be
 * dropped here, keeping the last few queue slots for control frames.
 *
 * Inbound: packets are delivered in sequence order (§4.3). A packet ahead of the expected
 * number waits in a small reordering buffer for at most `reorderTimeoutMs`; then the gap is
 * skipped (`rxLost`) and a gap packet arriving later is dropped (`rxLate`). Duplicates and
 * numbers older than the recent history are dropped (`rxDuplicate`, `rxStale`). Sequence
 * numbers compare with serial-number arithmetic, so the 32-bit wraparound is seamless.
 *
 * Acks: an ack owed rides on the next data packet; with no outbound data an ack-only packet
 * leaves `ackDelayMs` after the first unacknowledged packet (the 100 ms Packet
 * Acknowledgment Timer of MS-PTPT §3.1.2; pptpd and pptp-linux behave alike), or at once
 * when half of our advertised receive window (at most 32 packets) is unacknowledged.
 *
 * Driving it (quinn-proto style): call `send` / `receive` / `handleTimeout`, then drain
 * `pollDeliver()` (payloads for PPP, in order) and `pollTransmit()` (GRE packets for the
 * wire) until they return undefined, and sleep until `pollTimeout()`.
 */
import { encodeGre, type GrePacket, greHeaderLength, writeGreHeader } from './gre.js';

/** RFC 1982-style comparison of 32-bit sequence numbers: negative if a is before b. */
export function serialDiff(a: number, b: number): number {
  return (a - b) | 0;
}

export interface GreFlowOptions {
  /** The Call ID the peer assigned: the Key of every packet we send. */
  readonly peerCallId: number;
  /**
   * The peer's Packet Recv. Window Size from the call setup. 0 means the peer set no
   * window (MS-PTPT §3.1.5.7: Windows PNSs send 0 and ignore windows).
   */
  readonly peerReceiveWindow: number;
  /** The Packet Recv. Window Size we advertised; default DEFAULT_RECEIVE_WINDOW (512). */
  readonly receiveWindow?: number;
  /**
   * Floor of the send window; default 64. pptp-linux advertises 3 and pptpd echoes it,
   * though neither enforces a window; a strict window of 3 caps a 30 ms path near 100
   * packets/s. 0 gives the strict RFC 2637 §4.2 window.
   */
  readonly minSendWindow?: number;
  /** Ignore the peer's window entirely (MS-PTPT §3.1.5.7 behaviour); default false. */
  readonly ignorePeerWindow?: boolean;
  /** Delay of an ack-only packet when no data leaves; default 100 ms. */
  readonly ackDelayMs?: number;
  /** Payloads held while the send window is shut; default 64. */
  readonly sendQueueMax?: number;
  /** How long the window may stay shut before in-flight packets count as lost; default 200 ms. */
  readonly sendQueueTimeoutMs?: number;
  /** Out-of-order packets held for reordering; default 32. */
  readonly reorderMax?: number;
  /** How long a gap is waited for; default 50 ms. */
  readonly reorderTimeoutMs?: number;
  /** First sequence number we send; default 0 (RFC 2637 §4.1). Tests cross the wrap with it. */
  readonly initialSequence?: number;
}

export interface GreFlowCounters {
  /** Data packets encoded for the wire. */
  txData: number;
  txAckOnly: number;
  /** Payloads that had to wait for the send window. */
  txQueued: number;
  /** Payloads dropped because the window was shut and the queue full. */
  txWindowDropped: number;
  /** Times the window stayed shut past `sendQueueTimeoutMs` and in-flight packets were written off. */
  txAckTimeouts: number;
  /** Data packets received (before any drop). */
  rxData: number;
  /** Payloads handed to PPP. */
  rxDelivered: number;
  /** Packets that arrived ahead of a gap and waited in the reordering buffer. */
  rxReordered: number;
  rxDuplicate: number;
  /** Older than the recent history (128 sequence numbers). */
  rxStale: number;
  /** Arrived after its gap had been skipped. */
  rxLate: number;
  /** Sequence numbers skipped when a gap timed out or the buffer overflowed. */
  rxLost: number;
  /** Times the reordering buffer was full and its oldest packet was released early. */
  rxOverflow: number;
  rxAckOnly: number;
  /** Acks for sequence numbers we never sent. */
  rxBadAck: number;
}

interface Held {
  readonly seq: number;
  readonly payload: Buffer;
  readonly at: number;
}

interface Queued {
  readonly payload: Buffer;
  readonly at: number;
}

const HISTORY = 128;

/**
 * Packet Recv. Window Size we advertise unless told otherwise (RFC 2637 §2.7, §4.2). 512,
 * not the 64 Windows announces: a peer that honours our window keeps at most this many
 * packets in flight, and 64 is one TUN read batch, so every scheduling hiccup at our end
 * shut the peer's window and made it drop (measured between two branchlink routers: 70%
 * of the packets it had read and encrypted). Our receive path holds no per-window state
 * (the raw socket's 4 MB buffer is the real buffer), so the larger window costs nothing.
 */
export const DEFAULT_RECEIVE_WINDOW = 512;

/** An ack-only packet leaves after at most this many unacknowledged data packets. */
const ACK_EVERY_MAX = 32;

/** Room in the send queue that IP data may not take, so control frames still fit. */
const CONTROL_RESERVE = 8;

export class GreFlow {
  readonly peerCallId: number;
  private readonly sendWindow: number;
  private readonly ackThreshold: number;
  private readonly ackDelayMs: number;
  private readonly sendQueueMax: number;
  private readonly sendQueueTimeoutMs: number;
  private readonly reorderMax: number;
  private readonly reorderTimeoutMs: number;

  // Outbound.
  private nextSeq = 0;
  /** Highest sequence number the peer acknowledged; "-1" (0xFFFFFFFF) before any. */
  private peerAcked = 0xffffffff;
  private sendQueue: Queued[] = [];

  // Inbound.
  private started = false;
  private lastDelivered = 0;
  private lastAckSent: number | undefined;
  private unacked = 0;
  private ackDeadline: number | undefined;
  private held: Held[] = [];
  /** seen[seq % HISTORY] === seq when that number was delivered. */
  private seen = new Float64Array(HISTORY).fill(-1);

  // Output queues.
  private deliverQueue: Buffer[] = [];
  private transmitQueue: Buffer[] = [];

  readonly counters: GreFlowCounters = {
    txData: 0,
    txAckOnly: 0,
    txQueued: 0,
    txWindowDropped: 0,
    txAckTimeouts: 0,
    rxData: 0,
    rxDelivered: 0,
    rxReordered: 0,
    rxDuplicate: 0,
    rxStale: 0,
    rxLate: 0,
    rxLost: 0,
    rxOverflow: 0,
    rxAckOnly: 0,
    rxBadAck: 0,
  };

  constructor(options: GreFlowOptions) {
    this.peerCallId = options.peerCallId & 0xffff;
    const floor = options.minSendWindow ?? 64;
    const peer = options.peerReceiveWindow;
    this.sendWindow =
      options.ignorePeerWindow === true || peer === 0
        ? Number.POSITIVE_INFINITY
        : Math.max(peer, floor);
    const receiveWindow = options.receiveWindow ?? DEFAULT_RECEIVE_WINDOW;
    // Ack alone after half our window, and at least every 32 packets: a peer
    // that keeps its own, smaller send window (64 is common) must not stall waiting for
    // acks sized for the 512 we advertise.
    this.ackThreshold = Math.max(1, Math.min(ACK_EVERY_MAX, Math.floor(receiveWindow / 2)));
    this.ackDelayMs = options.ackDelayMs ?? 100;
    this.sendQueueMax = options.sendQueueMax ?? 64;
    this.sendQueueTimeoutMs = options.sendQueueTimeoutMs ?? 200;
    this.reorderMax = options.reorderMax ?? 32;
    this.reorderTimeoutMs = options.reorderTimeoutMs ?? 50;
    this.nextSeq = (options.initialSequence ?? 0) >>> 0;
    this.peerAcked = (this.nextSeq - 1) >>> 0;
  }

  /** Packets sent and not yet acknowledged. */
  get inFlight(): number {
    return (this.nextSeq - this.peerAcked - 1) >>> 0;
  }

  /** The effective send window (Infinity when the peer's window is ignored). */
  get window(): number {
    return this.sendWindow;
  }

  /**
   * Admission of one more IP packet, asked before it is framed and encrypted: false when
   * the window is shut and the queue is full but for the room kept for control frames
   * (LCP echoes, CCP Reset-Requests), in which case the packet is counted as dropped
   * (`txWindowDropped`) and the caller drops it. Dropping before encryption saves the
   * work, and for stateful MPPE it avoids a coherency-count gap that the peer would have
   * to resynchronise (RFC 3078 §8).
   */
  admitData(): boolean {
    if (this.sendQueue.length === 0 && this.inFlight < this.sendWindow) return true;
    if (this.sendQueue.length < this.sendQueueMax - CONTROL_RESERVE) return true;
    this.counters.txWindowDropped++;
    return false;
  }

  /** Payloads waiting for the window. */
  get queued(): number {
    return this.sendQueue.length;
  }

  /** Packets waiting in the reordering buffer. */
  get reordering(): number {
    return this.held.length;
  }

  /**
   * Encapsulates one PPP frame. Returns the GRE packet to write now, or undefined when the
   * frame was queued behind the window or dropped (see the counters).
   */
  send(payload: Buffer, now: number): Buffer | undefined {
    if (this.sendQueue.length > 0 || this.inFlight >= this.sendWindow) {
      if (this.sendQueue.length >= this.sendQueueMax) {
        this.counters.txWindowDropped++;
        return undefined;
      }
      // The caller may reuse its buffer once send returns: keep our own copy.
      this.sendQueue.push({ payload: Buffer.from(payload), at: now });
      this.counters.txQueued++;
      return undefined;
    }
    return this.encodeData(payload);
  }

  /**
   * Takes one decoded GRE packet of this call. Returns the payload to hand to PPP now when
   * it is the next in sequence; further payloads (released from the reordering buffer) and
   * packets to send (window reopened, ack due) wait in pollDeliver / pollTransmit.
   */
  receive(packet: GrePacket, now: number): Buffer | undefined {
    if (packet.ack !== undefined) this.handleAck(packet.ack);
    const seq = packet.sequence;
    if (seq === undefined) {
      this.counters.rxAckOnly++;
      return undefined;
    }
    this.counters.rxData++;
    if (!this.started) {
      // pptpd starts at 0, some clients at 1 (pptpd's own comment): take the first as given.
      this.started = true;
      this.lastDelivered = (seq - 1) >>> 0;
    }
    const d = serialDiff(seq, (this.lastDelivered + 1) >>> 0);
    if (d === 0) {
      this.accept(seq, now);
      const payload = packet.payload;
      this.releaseConsecutive(now);
      return payload;
    }
    if (d < 0) {
      // Behind the expected number: delivered already, skipped, or ancient.
      if (-d <= HISTORY) {
        if (this.seen[seq % HISTORY] === seq) this.counters.rxDuplicate++;
        else this.counters.rxLate++;
      } else {
        this.counters.rxStale++;
      }
      return undefined;
    }
    // Ahead of a gap: hold it, in order.
    let i = this.held.length;
    while (i > 0 && serialDiff(this.held[i - 1]!.seq, seq) > 0) i--;
    if (i > 0 && this.held[i - 1]!.seq === seq) {
      this.counters.rxDuplicate++;
      return undefined;
    }
    this.held.splice(i, 0, { seq, payload: packet.payload, at: now });
    this.counters.rxReordered++;
    if (this.reorderTimeoutMs <= 0) {
      this.skipToHead(now);
    } else {
      while (this.held.length > this.reorderMax) {
        this.counters.rxOverflow++;
        this.skipToHead(now);
      }
    }
    const first = this.deliverQueue.shift();
    return first;
  }

  /** Runs the timers that are due: ack-only packet, reordering gap, shut window. */
  handleTimeout(now: number): void {
    if (this.ackDeadline !== undefined && now >= this.ackDeadline) this.sendAckOnly();
    while (this.held.length > 0 && now >= this.held[0]!.at + this.reorderTimeoutMs) {
      this.skipToHead(now);
    }
    const head = this.sendQueue[0];
    if (head !== undefined && now >= head.at + this.sendQueueTimeoutMs) {
      // RFC 2637 §4.4: no ack in time; count what is in flight as lost and move on.
      this.counters.txAckTimeouts++;
      this.peerAcked = (this.nextSeq - 1) >>> 0;
      this.flushSendQueue();
    }
  }

  /** The earliest time handleTimeout has work to do, or undefined. */
  pollTimeout(): number | undefined {
    let t = this.ackDeadline;
    const held = this.held[0];
    if (held !== undefined) t = min(t, held.at + this.reorderTimeoutMs);
    const queued = this.sendQueue[0];
    if (queued !== undefined) t = min(t, queued.at + this.sendQueueTimeoutMs);
    return t;
  }

  /** The next payload for PPP, in sequence order. */
  pollDeliver(): Buffer | undefined {
    return this.deliverQueue.shift();
  }

  /** The next GRE packet for the wire. */
  pollTransmit(): Buffer | undefined {
    return this.transmitQueue.shift();
  }

  // -------------------------------------------------------------------------------------

  private encodeData(payload: Buffer): Buffer {
    const ack = this.takeOwedAck();
    const seq = this.nextSeq;
    this.nextSeq = (this.nextSeq + 1) >>> 0;
    this.counters.txData++;
    const headerLength = greHeaderLength(true, ack !== undefined);
    const out = Buffer.allocUnsafe(headerLength + payload.length);
    writeGreHeader(out, this.peerCallId, payload.length, seq, ack);
    payload.copy(out, headerLength);
    return out;
  }

  /** The ack to carry, if one is owed; clears the ack timer. */
  private takeOwedAck(): number | undefined {
    if (!this.started || this.lastAckSent === this.lastDelivered) return undefined;
    this.lastAckSent = this.lastDelivered;
    this.unacked = 0;
    this.ackDeadline = undefined;
    return this.lastDelivered;
  }

  private sendAckOnly(): void {
    const ack = this.takeOwedAck();
    this.ackDeadline = undefined;
    if (ack === undefined) return;
    this.counters.txAckOnly++;
    this.transmitQueue.push(
      encodeGre({ callId: this.peerCallId, sequence: undefined, ack, payload: EMPTY }),
    );
  }

  private handleAck(ack: number): void {
    const last = (this.nextSeq - 1) >>> 0;
    if (serialDiff(ack, last) > 0) {
      this.counters.rxBadAck++;
      return;
    }
    if (serialDiff(ack, this.peerAcked) <= 0) return; // old or repeated ack
    this.peerAcked = ack >>> 0;
    this.flushSendQueue();
  }

  /** Sends queued payloads while the window allows. */
  private flushSendQueue(): void {
    while (this.sendQueue.length > 0 && this.inFlight < this.sendWindow) {
      const q = this.sendQueue.shift()!;
      this.transmitQueue.push(this.encodeData(q.payload));
    }
  }

  /** Records `seq` as delivered; arms or fires the ack. */
  private accept(seq: number, now: number): void {
    this.lastDelivered = seq;
    this.seen[seq % HISTORY] = seq;
    this.counters.rxDelivered++;
    this.unacked++;
    if (this.unacked >= this.ackThreshold) this.sendAckOnly();
    else if (this.ackDeadline === undefined) this.ackDeadline = now + this.ackDelayMs;
  }

  /** Moves held packets that are now next in sequence to the delivery queue. */
  private releaseConsecutive(now: number): void {
    while (this.held.length > 0 && this.held[0]!.seq === (this.lastDelivered + 1) >>> 0) {
      const h = this.held.shift()!;
      this.accept(h.seq, now);
      this.deliverQueue.push(h.payload);
    }
  }

  /** Gives up on the gap before the oldest held packet and releases what follows it. */
  private skipToHead(now: number): void {
    const h = this.held.shift();
    if (h === undefined) return;
    this.counters.rxLost += serialDiff(h.seq, (this.lastDelivered + 1) >>> 0);
    this.accept(h.seq, now);
    this.deliverQueue.push(h.payload);
    this.releaseConsecutive(now);
  }
}

const EMPTY = Buffer.alloc(0);

function min(a: number | undefined, b: number): number {
  return a === undefined || b < a ? b : a;
}
