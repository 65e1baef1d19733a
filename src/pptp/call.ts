/**
 * One PPTP call on a control connection (RFC 2637 §3.2), sans-I/O. The control connection
 * (control-connection.ts) owns its calls, feeds them the call-management messages and
 * polls them for deadlines; this file holds the call's state, its parameters and the
 * Call ID allocator.
 *
 * Roles, as branchlink names them and as pptp-linux and pptpd actually behave:
 * - an **outgoing** call is one we asked for with an Outgoing-Call-Request (the branch
 *   dialling head office; pptp-linux does this and RFC 2637 calls that side the PNS);
 * - an **incoming** call is one we answered with an Outgoing-Call-Reply (our server; pptpd
 *   does this and RFC 2637 calls that side the PAC).
 *
 * Call IDs: RFC 2637 §2.7 only asks for uniqueness within the control connection, but GRE
 * is demultiplexed by Call ID for every connection of the process (several clients behind
 * one NAT share an address), so the allocator is process-wide (gre-transport.ts owns it).
 */
import type { WanErrorNotify } from './control.js';

export type CallDirection = 'outgoing' | 'incoming';

export type CallState =
  /** Outgoing: Outgoing-Call-Request sent, waiting for the Reply. */
  | 'wait-reply'
  /** Call up: GRE flows. */
  | 'established'
  /** Outgoing: Call-Clear-Request sent, waiting for Call-Disconnect-Notify. */
  | 'wait-disconnect'
  | 'closed';

/** What the other side told us at call setup; what a GRE flow needs. */
export interface CallParameters {
  /** Our Call ID: the Key of GRE packets the peer sends us. */
  readonly callId: number;
  /** The peer's Call ID: the Key of GRE packets we send. */
  readonly peerCallId: number;
  /** The peer's Packet Recv. Window Size. */
  readonly peerReceiveWindow: number;
  /** The peer's Packet Processing Delay (1/10 s). */
  readonly peerProcessingDelay: number;
  /** Connect Speed from the Reply (outgoing) or Maximum BPS from the Request (incoming). */
  readonly connectSpeed: number;
  readonly callSerialNumber: number;
  readonly direction: CallDirection;
  /** Phone Number / Subaddress of the Outgoing-Call-Request (logging only). */
  readonly phoneNumber: string;
  readonly subaddress: string;
}

/** RFC 2637 §2.14: the WAN-Error-Notify counters, summed over the call. */
export interface WanErrorCounts {
  notifications: number;
  crcErrors: number;
  framingErrors: number;
  hardwareOverruns: number;
  bufferOverruns: number;
  timeoutErrors: number;
  alignmentErrors: number;
}

export class Call {
  state: CallState;
  readonly callId: number;
  readonly direction: CallDirection;
  readonly callSerialNumber: number;
  peerCallId = 0;
  peerReceiveWindow = 0;
  peerProcessingDelay = 0;
  connectSpeed = 0;
  phoneNumber = '';
  subaddress = '';
  /** Timer for wait-reply / wait-disconnect. */
  deadline: number | undefined;
  /** RFC 2637 §2.15: the ACCMs of the last Set-Link-Info; recorded, not applied (sync PPP). */
  sendAccm = 0xffffffff;
  receiveAccm = 0xffffffff;
  readonly wanErrors: WanErrorCounts = {
    notifications: 0,
    crcErrors: 0,
    framingErrors: 0,
    hardwareOverruns: 0,
    bufferOverruns: 0,
    timeoutErrors: 0,
    alignmentErrors: 0,
  };

  constructor(callId: number, direction: CallDirection, serial: number, state: CallState) {
    this.callId = callId;
    this.direction = direction;
    this.callSerialNumber = serial;
    this.state = state;
  }

  get parameters(): CallParameters {
    return {
      callId: this.callId,
      peerCallId: this.peerCallId,
      peerReceiveWindow: this.peerReceiveWindow,
      peerProcessingDelay: this.peerProcessingDelay,
      connectSpeed: this.connectSpeed,
      callSerialNumber: this.callSerialNumber,
      direction: this.direction,
      phoneNumber: this.phoneNumber,
      subaddress: this.subaddress,
    };
  }

  /** RFC 2637 §2.14: adds one WAN-Error-Notify to the totals. */
  addWanErrors(m: WanErrorNotify): void {
    const w = this.wanErrors;
    w.notifications++;
    w.crcErrors += m.crcErrors;
    w.framingErrors += m.framingErrors;
    w.hardwareOverruns += m.hardwareOverruns;
    w.bufferOverruns += m.bufferOverruns;
    w.timeoutErrors += m.timeoutErrors;
    w.alignmentErrors += m.alignmentErrors;
  }
}

/** Hands out Call IDs; `undefined` when none is free. */
export interface CallIdAllocator {
  allocate(): number | undefined;
  release(callId: number): void;
}

/**
 * Call IDs 1..65535, starting at a random point (pptpd does the same so that clients
 * behind one NAT get distinct IDs across restarts) and skipping IDs in use. 0 is never
 * handed out: some stacks treat it as "no call".
 */
export class SequentialCallIdAllocator implements CallIdAllocator {
  private readonly inUse = new Set<number>();
  private next: number;

  constructor(start: number = 1 + Math.floor(Math.random() * 0xfffe)) {
    this.next = start >= 1 && start <= 0xffff ? start : 1;
  }

  allocate(): number | undefined {
    if (this.inUse.size >= 0xffff) return undefined;
    for (;;) {
      const id = this.next;
      this.next = id >= 0xffff ? 1 : id + 1;
      if (!this.inUse.has(id)) {
        this.inUse.add(id);
        return id;
      }
    }
  }

  release(callId: number): void {
    this.inUse.delete(callId);
  }

  get size(): number {
    return this.inUse.size;
  }
}
