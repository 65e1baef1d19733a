/**
 * One established PPTP call seen as a `PppLink` (src/runtime/link.ts): PPP frames in and
 * out over enhanced GRE. The frames are synchronous PPP (RFC 2637 §4.1: no HDLC flags,
 * escaping or FCS), so ACCMs are ignored.
 *
 * The per-packet path is one straight chain (boringtun style): `send(frame)` →
 * GreFlow.send → transport.send; transport → `handleGre` → GreFlow.receive → onFrame.
 * GreFlow's timers (ack-only packet, reordering gap, shut window) run on one lazily
 * re-armed timer per call.
 */
import type { AsyncLinkParams, PppLink, PppLinkHandlers } from '../runtime/link.js';
import type { CallParameters } from './call.js';
import type { ControlRole } from './control-connection.js';
import type { GrePacket } from './gre.js';
import { GRE_MAX_HEADER_LENGTH } from './gre.js';
import { GreFlow, type GreFlowCounters, type GreFlowOptions } from './gre-flow.js';
import type { GreReceiver, GreTransport } from './gre-transport.js';

/** IPv4 header without options. */
const IPV4_HEADER = 20;
/** The usual path MTU of broadband. */
export const DEFAULT_PATH_MTU = 1500;

/**
 * Largest PPP frame (protocol field + information, plus address/control if not
 * compressed) that fits a path of `pathMtu` octets after the IP and the largest GRE
 * header: 1500 - 20 - 16 = 1464. An MRU of 1460 leaves room for the 4-octet PPP header.
 */
export function maxPppFrame(pathMtu = DEFAULT_PATH_MTU): number {
  return pathMtu - IPV4_HEADER - GRE_MAX_HEADER_LENGTH;
}

/** GRE tuning a server or client passes down to each call's GreFlow. */
export type GreTuning = Omit<GreFlowOptions, 'peerCallId' | 'peerReceiveWindow' | 'receiveWindow'>;

/** What a call is, for logs, status and the session driver. */
export interface PptpCallInfo {
  /** Which side of the control connection we are (client placed the call). */
  readonly role: ControlRole;
  readonly peerAddress: string;
  readonly peerPort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly call: CallParameters;
  readonly peerHostName: string;
  readonly peerVendor: string;
}

export interface PptpLinkCounters {
  framesIn: number;
  framesOut: number;
  /** Frames that arrived before attach() beyond the few held for it. */
  droppedBeforeAttach: number;
  /** Frames sent after the call went down. */
  droppedDown: number;
  /** Exceptions thrown by the installed onFrame handler (caught, counted). */
  handlerErrors: number;
}

export interface PptpCallLinkInit {
  readonly info: PptpCallInfo;
  readonly transport: GreTransport;
  readonly receiveWindow: number;
  readonly gre?: GreTuning;
  readonly pathMtu?: number;
  /** Monotonic milliseconds. */
  readonly clock: () => number;
  /** Asks the control connection to clear the call; resolves when the medium is released. */
  readonly clear: (reason: string) => Promise<void>;
  /** GRE of this call that arrived before it was up (see EarlyGre); handled first. */
  readonly early?: readonly GrePacket[];
}

/** Frames (and early GRE packets) held for a call until it is ready for them. */
const EARLY_MAX = 8;

/**
 * Holds the GRE of a call we placed that arrives before its Outgoing-Call-Reply has been
 * read. The PAC sends the Reply over TCP and starts PPP over GRE at once; when the GRE is
 * read first its Call ID is still unknown and the peer's first LCP Configure-Request was
 * dropped, which cost a 3 s LCP restart (RFC 1661 §4.6) on most calls placed in a burst.
 * Registered under our Call ID from the Outgoing-Call-Request on; the call's link takes
 * the packets over.
 */
export class EarlyGre implements GreReceiver {
  readonly packets: GrePacket[] = [];
  /** Packets beyond EARLY_MAX, dropped. */
  dropped = 0;

  handleGre(packet: GrePacket): void {
    if (this.packets.length < EARLY_MAX) this.packets.push(packet);
    else this.dropped++;
  }
}

export class PptpCallLink implements PppLink, GreReceiver {
  readonly description: string;
  readonly source: string;
  readonly maxFrame: number;
  readonly info: PptpCallInfo;
  readonly flow: GreFlow;
  readonly counters: PptpLinkCounters = {
    framesIn: 0,
    framesOut: 0,
    droppedBeforeAttach: 0,
    droppedDown: 0,
    handlerErrors: 0,
  };
  private readonly transport: GreTransport;
  private readonly clock: () => number;
  private readonly clearCall: (reason: string) => Promise<void>;
  private handlers: PppLinkHandlers | undefined;
  private downReason: string | undefined;
  private downNotified = false;
  private timer: NodeJS.Timeout | undefined;
  private timerAt: number | undefined;
  private closing: Promise<void> | undefined;
  private readonly downWaiters: ((reason: string) => void)[] = [];
  /** Frames that arrived before attach(), delivered by it (the peer's first LCP packets). */
  private beforeAttach: Buffer[] | undefined = [];

  constructor(init: PptpCallLinkInit) {
    this.info = init.info;
    this.transport = init.transport;
    this.clock = init.clock;
    this.clearCall = init.clear;
    const c = init.info.call;
    this.description = `pptp ${init.info.peerAddress} call ${c.callId}`;
    this.source = init.info.peerAddress;
    this.maxFrame = maxPppFrame(init.pathMtu);
    this.flow = new GreFlow({
      ...init.gre,
      peerCallId: c.peerCallId,
      peerReceiveWindow: c.peerReceiveWindow,
      receiveWindow: init.receiveWindow,
    });
    this.transport.register(c.callId, init.info.peerAddress, this);
    for (const p of init.early ?? []) this.handleGre(p);
  }

  get callId(): number {
    return this.info.call.callId;
  }

  get isDown(): boolean {
    return this.downReason !== undefined;
  }

  get greCounters(): GreFlowCounters {
    return this.flow.counters;
  }

  /** Resolves with the reason once the call is down (for a supervisor's redial loop). */
  whenDown(): Promise<string> {
    if (this.downReason !== undefined) return Promise.resolve(this.downReason);
    return new Promise((resolve) => this.downWaiters.push(resolve));
  }

  attach(handlers: PppLinkHandlers): void {
    this.handlers = handlers;
    const early = this.beforeAttach ?? [];
    this.beforeAttach = undefined;
    // After the caller's own start-up (a session driver attaches, then opens LCP: a
    // Configure-Request handed over before that would meet a closed automaton), and
    // before any later frame, which can only come from an I/O callback.
    if (early.length > 0)
      queueMicrotask(() => {
        for (const frame of early) if (this.downReason === undefined) this.deliver(frame);
      });
    if (this.downReason !== undefined) this.notifyDown();
  }

  send(frame: Buffer): void {
    if (this.downReason !== undefined) {
      this.counters.droppedDown++;
      return;
    }
    this.counters.framesOut++;
    const packet = this.flow.send(frame, this.clock());
    if (packet !== undefined) this.transport.send(packet, this.source);
    this.armTimer();
  }

  /** PppLink.admitIp: the GRE send window's admission check (GreFlow.admitData). */
  admitIp(): boolean {
    return this.flow.admitData();
  }

  /** Synchronous PPP over GRE: ACCMs do not apply (RFC 2637 §2.15 is for the PAC's async line). */
  setAsyncParams(_params: AsyncLinkParams): void {}

  close(reason: string): Promise<void> {
    if (this.downReason !== undefined) return Promise.resolve();
    this.closing ??= this.clearCall(reason);
    return this.closing;
  }

  /** GRE of this call, from the transport. */
  handleGre(packet: GrePacket): void {
    if (this.downReason !== undefined) return;
    const now = this.clock();
    const first = this.flow.receive(packet, now);
    if (first !== undefined) this.deliver(first);
    this.drain();
    this.armTimer();
  }

  /** The call is gone (called by the control driver on `call-down`). Reports once. */
  down(reason: string): void {
    if (this.downReason !== undefined) return;
    this.downReason = reason;
    this.transport.unregister(this.callId, this);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = undefined;
    for (const w of this.downWaiters.splice(0)) w(reason);
    if (this.handlers !== undefined) this.notifyDown();
  }

  private notifyDown(): void {
    if (this.downNotified || this.handlers === undefined || this.downReason === undefined) return;
    this.downNotified = true;
    this.handlers.onDown(this.downReason);
  }

  private deliver(payload: Buffer): void {
    if (this.handlers === undefined) {
      // A session is attached right after the call comes up; keep what the peer sent meanwhile.
      if (this.beforeAttach !== undefined && this.beforeAttach.length < EARLY_MAX)
        this.beforeAttach.push(payload);
      else this.counters.droppedBeforeAttach++;
      return;
    }
    this.counters.framesIn++;
    try {
      this.handlers.onFrame(payload);
    } catch {
      // A throwing session must not take the shared GRE socket's event handler down.
      this.counters.handlerErrors++;
    }
  }

  private drain(): void {
    for (let p = this.flow.pollDeliver(); p !== undefined; p = this.flow.pollDeliver())
      this.deliver(p);
    for (let t = this.flow.pollTransmit(); t !== undefined; t = this.flow.pollTransmit()) {
      this.transport.send(t, this.source);
    }
  }

  /**
   * Keeps one timer at or before the flow's next deadline. A later deadline does not
   * re-arm (the timer fires early and re-arms), so the per-packet cost is one comparison.
   */
  private armTimer(): void {
    const at = this.flow.pollTimeout();
    if (at === undefined || this.downReason !== undefined) return;
    if (this.timerAt !== undefined && this.timerAt <= at) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, at - this.clock()));
    this.timer.unref();
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = undefined;
    if (this.downReason !== undefined) return;
    this.flow.handleTimeout(this.clock());
    this.drain();
    this.armTimer();
  }
}
