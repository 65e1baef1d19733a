/**
 * The PPTP control connection state machine (RFC 2637 §3.1) with its calls (§3.2),
 * sans-I/O in the style of quinn-proto: it is fed decoded messages (or raw frames from
 * ControlReader) and `now`, and polled for messages to send (`pollTransmit`), the next
 * deadline (`pollTimeout`) and what happened (`pollEvent`). The I/O driver
 * (control-socket.ts) owns the TCP socket and the clock.
 *
 * States (§3.1.1, both roles):
 *
 *   client: idle --start()--> wait-ctl-reply --SCCRP ok--> established
 *   server: wait-ctl-request --SCCRQ--> established
 *   established --stop()--> wait-stop-reply --StopCCRP / timeout--> closed
 *   any --StopCCRQ (replied) / TCP closed / bad input / timeout--> closed
 *
 * "client" is the side that opened the TCP connection and sends the
 * Start-Control-Connection-Request and the Outgoing-Call-Request (as pptp-linux does);
 * "server" accepted it and answers (as pptpd does). See call.ts for the call roles.
 *
 * Timers: no Start-Control-Connection exchange within `startTimeoutMs` closes (§3.1.4 and
 * MS-PTPT's 30 s Control Connection Idle Timer, which also bounds a half-open server
 * connection); §3.1.4 keepalive: after `echoIntervalMs` (60 s) without any control message
 * an Echo-Request leaves, and no matching Echo-Reply within `echoTimeoutMs` closes;
 * Outgoing-Call-Request, Call-Clear-Request and Stop-Control-Connection-Request each have
 * a reply timeout.
 */
import { err, ok, type Result } from '../ppp/result.js';
import {
  Call,
  type CallIdAllocator,
  type CallParameters,
  SequentialCallIdAllocator,
  type WanErrorCounts,
} from './call.js';
import {
  BEARER_TYPE,
  type ControlMessage,
  codeName,
  DISCONNECT_RESULT,
  decodeControlMessage,
  ECHO_RESULT,
  FRAMING_TYPE,
  GENERAL_ERROR,
  INCOMING_CALL_RESULT,
  OUTGOING_CALL_RESULT,
  PPTP_PROTOCOL_VERSION,
  START_RESULT,
  STOP_REASON,
  STOP_RESULT,
} from './control.js';
import { formatControlLine, quoteWireString } from './control-log.js';
import { DEFAULT_RECEIVE_WINDOW } from './gre-flow.js';

export type ControlRole = 'client' | 'server';

export type ControlState =
  /** Client, before start(). */
  | 'idle'
  /** Server: TCP accepted, waiting for the Start-Control-Connection-Request. */
  | 'wait-ctl-request'
  /** Client: Start-Control-Connection-Request sent. */
  | 'wait-ctl-reply'
  | 'established'
  /** Stop-Control-Connection-Request sent. */
  | 'wait-stop-reply'
  /** RFC 2637 §3.1.3: we won a start collision on the loser's connection: say nothing. */
  | 'collision-silent'
  | 'closed';

/** What the peer said about itself in its Start-Control-Connection message. */
export interface PeerInfo {
  readonly protocolVersion: number;
  readonly framingCapabilities: number;
  readonly bearerCapabilities: number;
  readonly maximumChannels: number;
  readonly firmwareRevision: number;
  readonly hostName: string;
  readonly vendor: string;
}

export type ControlEvent =
  | { readonly type: 'established'; readonly peer: PeerInfo }
  | { readonly type: 'call-up'; readonly call: CallParameters }
  /** A call ended or failed to come up (`established` says which). Once per call. */
  | {
      readonly type: 'call-down';
      readonly callId: number;
      readonly reason: string;
      readonly established: boolean;
    }
  /** RFC 2637 §2.15 Set-Link-Info: recorded; synchronous PPP over GRE ignores ACCMs. */
  | {
      readonly type: 'link-info';
      readonly callId: number;
      readonly sendAccm: number;
      readonly receiveAccm: number;
    }
  /** RFC 2637 §2.14 WAN-Error-Notify: the call's running totals. */
  | { readonly type: 'wan-error'; readonly callId: number; readonly counts: WanErrorCounts }
  /** Something worth a log line that changed nothing (ignored message, unknown call...). */
  | { readonly type: 'warning'; readonly message: string }
  /** A pppd-style packet line; only when `trace` is on. */
  | { readonly type: 'packet'; readonly direction: 'sent' | 'rcvd'; readonly line: string }
  /**
   * The connection is over: the driver writes what pollTransmit still gives (e.g. the
   * Stop-Control-Connection-Reply) and then closes TCP. Once, last.
   */
  | { readonly type: 'closed'; readonly reason: string };

export interface ControlConnectionOptions {
  readonly role: ControlRole;
  /** Our address on this connection (collision rule, logs). */
  readonly localAddress?: string;
  /** The peer's address (collision rule, logs). */
  readonly peerAddress?: string;
  /** Host Name we send; default "branchlink". */
  readonly hostName?: string;
  /** Vendor we send; default "branchlink". */
  readonly vendor?: string;
  readonly firmwareRevision?: number;
  /**
   * Framing / Bearer Capabilities we announce; default 3 / 3 (both bits, as pptp-linux
   * announces). Capabilities are informational; GRE carries synchronous frames.
   */
  readonly framingCapabilities?: number;
  readonly bearerCapabilities?: number;
  /** Start-Control-Connection exchange deadline (and half-open bound); default 30 s. */
  readonly startTimeoutMs?: number;
  /** Silence before an Echo-Request; default 60 s (RFC 2637 §3.1.4). */
  readonly echoIntervalMs?: number;
  /** Echo-Reply deadline; default 60 s (RFC 2637 §3.1.4). */
  readonly echoTimeoutMs?: number;
  /** Outgoing-Call-Reply deadline; default 60 s (pptp-linux's timer). */
  readonly callReplyTimeoutMs?: number;
  /** Call-Disconnect-Notify deadline after our Call-Clear-Request; default 10 s. */
  readonly callClearTimeoutMs?: number;
  /** Stop-Control-Connection-Reply deadline; default 10 s. */
  readonly stopReplyTimeoutMs?: number;
  /** Server: an established connection without calls this long is stopped; default 60 s, 0 = never. */
  readonly idleTimeoutMs?: number;
  /** Calls at once on this connection; default 1 (pptpd's limit, and what Windows uses). */
  readonly maxCalls?: number;
  /** Packet Recv. Window Size we announce; default 512 (Windows announces 64). */
  readonly receiveWindow?: number;
  /** Packet Processing Delay we announce, 1/10 s; default 0. */
  readonly processingDelay?: number;
  /** Call IDs; pass the GRE transport's process-wide allocator. */
  readonly callIds?: CallIdAllocator;
  /** Shared by the connections of one process for the RFC 2637 §3.1.3 collision rule. */
  readonly collision?: CollisionDomain;
  /** Emit `packet` events with pppd-style lines. */
  readonly trace?: boolean;
}

export interface PlaceCallOptions {
  readonly phoneNumber?: string;
  readonly subaddress?: string;
  /** Default 300 (Windows). */
  readonly minimumBps?: number;
  /** Default 100000000 (Windows). */
  readonly maximumBps?: number;
  readonly bearerType?: number;
  readonly framingType?: number;
}

export interface ControlCounters {
  messagesIn: number;
  messagesOut: number;
  /** Well-framed messages we skipped: unknown type, management type, wrong state. */
  ignored: number;
  echoRequestsSent: number;
  callsAccepted: number;
  callsRefused: number;
}

const DEFAULTS = {
  startTimeoutMs: 30_000,
  echoIntervalMs: 60_000,
  echoTimeoutMs: 60_000,
  callReplyTimeoutMs: 60_000,
  callClearTimeoutMs: 10_000,
  stopReplyTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  maxCalls: 1,
  receiveWindow: DEFAULT_RECEIVE_WINDOW,
  processingDelay: 0,
};

export class ControlConnection {
  readonly role: ControlRole;
  readonly localAddress: string | undefined;
  readonly peerAddress: string | undefined;
  private stateValue: ControlState;
  private readonly o: Required<
    Omit<
      ControlConnectionOptions,
      'localAddress' | 'peerAddress' | 'callIds' | 'collision' | 'role'
    >
  >;
  private readonly callIds: CallIdAllocator;
  private readonly collision: CollisionDomain | undefined;
  private readonly calls = new Map<number, Call>();
  /** Why we cleared an outgoing call still waiting for its Call-Disconnect-Notify. */
  private readonly pendingClearReasons = new Map<number, string>();
  private transmitQueue: ControlMessage[] = [];
  private eventQueue: ControlEvent[] = [];
  private startDeadline: number | undefined;
  private stopDeadline: number | undefined;
  private idleSince: number | undefined;
  private lastReceived: number;
  private echoOutstanding: { id: number; sentAt: number } | undefined;
  private nextEchoId: number;
  private nextSerial = 1;
  private closeReason: string | undefined;
  /** Peer information once established. */
  peer: PeerInfo | undefined;
  /** Set by the driver: called when another connection changed this one (collision). */
  onWake: (() => void) | undefined;
  readonly counters: ControlCounters = {
    messagesIn: 0,
    messagesOut: 0,
    ignored: 0,
    echoRequestsSent: 0,
    callsAccepted: 0,
    callsRefused: 0,
  };

  constructor(options: ControlConnectionOptions, now: number) {
    this.role = options.role;
    this.localAddress = options.localAddress;
    this.peerAddress = options.peerAddress;
    this.o = {
      hostName: options.hostName ?? 'branchlink',
      vendor: options.vendor ?? 'branchlink',
      firmwareRevision: options.firmwareRevision ?? 1,
      framingCapabilities: options.framingCapabilities ?? 3,
      bearerCapabilities: options.bearerCapabilities ?? 3,
      startTimeoutMs: options.startTimeoutMs ?? DEFAULTS.startTimeoutMs,
      echoIntervalMs: options.echoIntervalMs ?? DEFAULTS.echoIntervalMs,
      echoTimeoutMs: options.echoTimeoutMs ?? DEFAULTS.echoTimeoutMs,
      callReplyTimeoutMs: options.callReplyTimeoutMs ?? DEFAULTS.callReplyTimeoutMs,
      callClearTimeoutMs: options.callClearTimeoutMs ?? DEFAULTS.callClearTimeoutMs,
      stopReplyTimeoutMs: options.stopReplyTimeoutMs ?? DEFAULTS.stopReplyTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
      maxCalls: options.maxCalls ?? DEFAULTS.maxCalls,
      receiveWindow: options.receiveWindow ?? DEFAULTS.receiveWindow,
      processingDelay: options.processingDelay ?? DEFAULTS.processingDelay,
      trace: options.trace ?? false,
    };
    this.callIds = options.callIds ?? new SequentialCallIdAllocator();
    this.collision = options.collision;
    this.lastReceived = now;
    this.nextEchoId = (Math.random() * 0x100000000) >>> 0;
    if (this.role === 'server') {
      this.stateValue = 'wait-ctl-request';
      this.startDeadline = now + this.o.startTimeoutMs;
    } else {
      this.stateValue = 'idle';
    }
  }

  get state(): ControlState {
    return this.stateValue;
  }

  get isClosed(): boolean {
    return this.stateValue === 'closed';
  }

  /** Calls on this connection, in any state. */
  get callCount(): number {
    return this.calls.size;
  }

  /** Parameters of a call that is up, or undefined. */
  call(callId: number): CallParameters | undefined {
    const c = this.calls.get(callId);
    return c !== undefined && c.state === 'established' ? c.parameters : undefined;
  }

  /** Raw call record, for status and tests. */
  callRecord(callId: number): Call | undefined {
    return this.calls.get(callId);
  }

  // ------------------------------------------------------------------ local commands

  /** Client: sends the Start-Control-Connection-Request (RFC 2637 §2.1). */
  start(now: number): void {
    if (this.stateValue !== 'idle') return;
    this.send({
      type: 'Start-Control-Connection-Request',
      protocolVersion: PPTP_PROTOCOL_VERSION,
      framingCapabilities: this.o.framingCapabilities,
      bearerCapabilities: this.o.bearerCapabilities,
      // RFC 2637 §2.1: a PNS sends 0; the field means nothing in a request.
      maximumChannels: 0,
      firmwareRevision: this.o.firmwareRevision,
      hostName: this.o.hostName,
      vendor: this.o.vendor,
    });
    this.stateValue = 'wait-ctl-reply';
    this.startDeadline = now + this.o.startTimeoutMs;
    if (this.peerAddress !== undefined) this.collision?.enter(this.peerAddress, this);
  }

  /**
   * Sends an Outgoing-Call-Request (RFC 2637 §2.7) and returns the Call ID; `call-up` or
   * `call-down` follows. Errors: `not-established`, `call-limit`, `no-call-id`.
   */
  placeCall(now: number, options: PlaceCallOptions = {}): Result<number> {
    if (this.stateValue !== 'established') {
      return err('not-established', `control connection is ${this.stateValue}`);
    }
    if (this.calls.size >= this.o.maxCalls) {
      return err('call-limit', `${this.calls.size} of ${this.o.maxCalls} calls in use`);
    }
    const callId = this.callIds.allocate();
    if (callId === undefined) return err('no-call-id', 'no free Call ID');
    const serial = this.nextSerial;
    this.nextSerial = (this.nextSerial + 1) & 0xffff;
    const call = new Call(callId, 'outgoing', serial, 'wait-reply');
    call.phoneNumber = options.phoneNumber ?? '';
    call.subaddress = options.subaddress ?? '';
    call.deadline = now + this.o.callReplyTimeoutMs;
    this.calls.set(callId, call);
    this.idleSince = undefined;
    this.send({
      type: 'Outgoing-Call-Request',
      callId,
      callSerialNumber: serial,
      minimumBps: options.minimumBps ?? 300,
      maximumBps: options.maximumBps ?? 100_000_000,
      bearerType: options.bearerType ?? BEARER_TYPE.any,
      framingType: options.framingType ?? FRAMING_TYPE.any,
      receiveWindowSize: this.o.receiveWindow,
      processingDelay: this.o.processingDelay,
      phoneNumberLength: Math.min(call.phoneNumber.length, 64),
      phoneNumber: call.phoneNumber,
      subaddress: call.subaddress,
    });
    return ok(callId);
  }

  /**
   * Hangs up a call. Outgoing: Call-Clear-Request (RFC 2637 §2.12), `call-down` when the
   * Call-Disconnect-Notify arrives or `callClearTimeoutMs` passes. Incoming:
   * Call-Disconnect-Notify (§2.13, Admin-Shutdown) and `call-down` at once.
   */
  clearCall(callId: number, now: number, reason: string): void {
    const call = this.calls.get(callId);
    if (call === undefined || this.stateValue === 'closed') return;
    if (call.direction === 'outgoing') {
      if (call.state === 'wait-disconnect') return;
      this.send({ type: 'Call-Clear-Request', callId: call.callId });
      call.state = 'wait-disconnect';
      call.deadline = now + this.o.callClearTimeoutMs;
      this.pendingClearReasons.set(callId, reason);
    } else {
      this.send({
        type: 'Call-Disconnect-Notify',
        callId: call.callId,
        resultCode: DISCONNECT_RESULT['Admin-Shutdown'],
        errorCode: GENERAL_ERROR.None,
        causeCode: 0,
        callStatistics: '',
      });
      this.removeCall(call, reason, now);
    }
  }

  /**
   * Closes the control connection politely (RFC 2637 §2.3): clears every call, sends a
   * Stop-Control-Connection-Request and waits `stopReplyTimeoutMs` for the Reply. Before
   * the connection is established there is nothing to say: it just closes.
   */
  stop(now: number, reason: string, stopReason: number = STOP_REASON.None): void {
    switch (this.stateValue) {
      case 'closed':
      case 'wait-stop-reply':
        return;
      case 'established':
        for (const call of [...this.calls.values()]) {
          if (call.direction === 'outgoing') {
            if (call.state !== 'wait-disconnect') {
              this.send({ type: 'Call-Clear-Request', callId: call.callId });
            }
          } else {
            this.send({
              type: 'Call-Disconnect-Notify',
              callId: call.callId,
              resultCode: DISCONNECT_RESULT['Admin-Shutdown'],
              errorCode: GENERAL_ERROR.None,
              causeCode: 0,
              callStatistics: '',
            });
          }
          this.removeCall(call, reason, now);
        }
        this.send({ type: 'Stop-Control-Connection-Request', reason: stopReason });
        this.stateValue = 'wait-stop-reply';
        this.stopDeadline = now + this.o.stopReplyTimeoutMs;
        this.closeReason = reason;
        return;
      default:
        this.close(reason);
    }
  }

  /** The TCP connection is gone (FIN, RST, error): every call is down. */
  transportClosed(reason: string): void {
    if (this.stateValue === 'closed') return;
    this.transmitQueue = [];
    this.close(reason);
  }

  /**
   * RFC 2637 §3.1.3: this (originating, wait-ctl-reply) connection lost a start collision:
   * close it without sending anything more; the peer's connection carries on.
   */
  yieldCollision(): void {
    if (this.stateValue !== 'wait-ctl-reply') return;
    this.transmitQueue = [];
    this.close(
      `start collision with ${this.peerAddress ?? 'peer'}: yielded to its connection (lower address)`,
    );
    this.onWake?.();
  }

  // ------------------------------------------------------------------ input

  /**
   * Takes one whole message framed by ControlReader. A message of an unknown type is
   * skipped with a warning (the stream stays in sync); any other decode error closes the
   * connection with the reason.
   */
  handleFrame(frame: Buffer, now: number): void {
    if (this.stateValue === 'closed') return;
    const r = decodeControlMessage(frame);
    if (!r.ok) {
      if (
        r.error.kind === 'unknown-message-type' ||
        r.error.kind === 'unsupported-pptp-message-type'
      ) {
        this.counters.ignored++;
        this.lastReceived = now;
        this.warn(`ignored control message: ${r.error.reason}`);
        return;
      }
      this.close(`bad control message (${r.error.kind}): ${r.error.reason}`);
      return;
    }
    this.handleMessage(r.value, now);
  }

  /** Takes one decoded message. */
  handleMessage(m: ControlMessage, now: number): void {
    if (this.stateValue === 'closed') return;
    this.counters.messagesIn++;
    // RFC 2637 §3.1.4: the keepalive timer counts from the last control message received.
    this.lastReceived = now;
    if (this.o.trace)
      this.eventQueue.push({
        type: 'packet',
        direction: 'rcvd',
        line: formatControlLine('rcvd', m),
      });
    if (this.stateValue === 'collision-silent') {
      // RFC 2637 §3.1.3: "The winner MUST NOT send any messages on the connection the loser initiated."
      this.counters.ignored++;
      return;
    }
    switch (m.type) {
      case 'Start-Control-Connection-Request':
        return this.onStartRequest(m, now);
      case 'Start-Control-Connection-Reply':
        return this.onStartReply(m, now);
      case 'Stop-Control-Connection-Request':
        this.send({
          type: 'Stop-Control-Connection-Reply',
          resultCode: STOP_RESULT.OK,
          errorCode: GENERAL_ERROR.None,
        });
        this.close(
          `peer stopped the control connection (reason ${codeName(STOP_REASON, m.reason)})`,
        );
        return;
      case 'Stop-Control-Connection-Reply':
        if (this.stateValue === 'wait-stop-reply') this.close(this.closeReason ?? 'stopped');
        else this.ignore(m.type);
        return;
      case 'Echo-Request':
        this.send({
          type: 'Echo-Reply',
          identifier: m.identifier,
          resultCode: ECHO_RESULT.OK,
          errorCode: GENERAL_ERROR.None,
        });
        return;
      case 'Echo-Reply':
        if (this.echoOutstanding !== undefined && this.echoOutstanding.id === m.identifier) {
          this.echoOutstanding = undefined;
        } else {
          this.ignore(`${m.type} id=0x${m.identifier.toString(16)}`);
        }
        return;
      case 'Outgoing-Call-Request':
        return this.onOutgoingCallRequest(m);
      case 'Outgoing-Call-Reply':
        return this.onOutgoingCallReply(m, now);
      case 'Incoming-Call-Request':
        // We place no incoming calls (we have no dial-in lines behind PPTP): refuse politely.
        this.send({
          type: 'Incoming-Call-Reply',
          callId: 0,
          peerCallId: m.callId,
          resultCode: INCOMING_CALL_RESULT['Do-Not-Accept'],
          errorCode: GENERAL_ERROR.None,
          receiveWindowSize: this.o.receiveWindow,
          transmitDelay: this.o.processingDelay,
        });
        this.counters.callsRefused++;
        this.warn(
          `refused Incoming-Call-Request for peer call ${m.callId}: incoming calls are not supported`,
        );
        return;
      case 'Incoming-Call-Reply':
      case 'Incoming-Call-Connected':
        this.ignore(m.type);
        return;
      case 'Call-Clear-Request': {
        // RFC 2637 §2.12: the Call ID is the one the sender (the caller) assigned.
        const call = this.findCall((c) => c.peerCallId === m.callId && c.state !== 'wait-reply');
        if (call === undefined) {
          this.ignore(`${m.type} for unknown call ${m.callId}`);
          return;
        }
        this.send({
          type: 'Call-Disconnect-Notify',
          callId: call.callId,
          resultCode: DISCONNECT_RESULT.Request,
          errorCode: GENERAL_ERROR.None,
          causeCode: 0,
          callStatistics: '',
        });
        this.removeCall(call, 'peer cleared the call (Call-Clear-Request)', now);
        return;
      }
      case 'Call-Disconnect-Notify': {
        // RFC 2637 §2.13: the Call ID is the sender's own, which we may not know yet if the
        // call is aborted during setup; older pptp-linux looks calls up by its own ID, so
        // accept ours too.
        const call =
          this.findCall((c) => c.peerCallId === m.callId && c.state !== 'wait-reply') ??
          this.findCall((c) => c.callId === m.callId) ??
          this.soleCallAwaitingReply();
        if (call === undefined) {
          this.ignore(`${m.type} for unknown call ${m.callId}`);
          return;
        }
        const parts = [
          `peer disconnected the call (result ${codeName(DISCONNECT_RESULT, m.resultCode)}`,
        ];
        if (m.errorCode !== 0) parts.push(`, error ${codeName(GENERAL_ERROR, m.errorCode)}`);
        if (m.causeCode !== 0) parts.push(`, cause ${m.causeCode}`);
        if (m.callStatistics !== '')
          parts.push(`, statistics ${quoteWireString(m.callStatistics)}`);
        parts.push(')');
        const local = this.pendingClearReasons.get(call.callId);
        this.removeCall(call, local ?? parts.join(''), now);
        return;
      }
      case 'WAN-Error-Notify': {
        const call =
          this.findCall((c) => c.callId === m.peerCallId) ??
          this.findCall((c) => c.peerCallId === m.peerCallId);
        if (call === undefined) {
          this.ignore(`${m.type} for unknown call ${m.peerCallId}`);
          return;
        }
        call.addWanErrors(m);
        this.eventQueue.push({
          type: 'wan-error',
          callId: call.callId,
          counts: { ...call.wanErrors },
        });
        return;
      }
      case 'Set-Link-Info': {
        // RFC 2637 §2.15: the Peer's Call ID is the receiver's own Call ID.
        const call =
          this.findCall((c) => c.callId === m.peerCallId) ??
          this.findCall((c) => c.peerCallId === m.peerCallId);
        if (call === undefined) {
          this.ignore(`${m.type} for unknown call ${m.peerCallId}`);
          return;
        }
        call.sendAccm = m.sendAccm;
        call.receiveAccm = m.receiveAccm;
        this.eventQueue.push({
          type: 'link-info',
          callId: call.callId,
          sendAccm: m.sendAccm,
          receiveAccm: m.receiveAccm,
        });
        return;
      }
    }
  }

  private onStartRequest(
    m: Extract<ControlMessage, { type: 'Start-Control-Connection-Request' }>,
    now: number,
  ): void {
    if (this.stateValue !== 'wait-ctl-request') {
      this.ignore(`${m.type} in state ${this.stateValue}`);
      return;
    }
    // RFC 2637 §3.1.3: if we are also opening a connection to this peer, the higher address wins.
    const rival =
      this.peerAddress !== undefined ? this.collision?.rival(this.peerAddress) : undefined;
    if (rival !== undefined && rival !== this) {
      const local = this.localAddress ?? rival.localAddress;
      const outcome =
        local !== undefined && this.peerAddress !== undefined
          ? startCollisionWinner(local, this.peerAddress)
          : undefined;
      if (outcome === 'local') {
        this.stateValue = 'collision-silent';
        this.startDeadline = now + this.o.startTimeoutMs;
        this.warn(
          `start collision with ${this.peerAddress}: we win (higher address), waiting for the peer to close this connection`,
        );
        return;
      }
      if (outcome === 'peer') {
        this.warn(
          `start collision with ${this.peerAddress}: the peer wins (higher address), answering its request`,
        );
        rival.yieldCollision();
      }
    }
    if (m.protocolVersion >> 8 !== PPTP_PROTOCOL_VERSION >> 8) {
      // RFC 2637 §2.2: result 5, with the highest version we support.
      this.sendStartReply(START_RESULT['Bad-Protocol-Version']);
      this.close(`peer speaks PPTP version 0x${m.protocolVersion.toString(16)}, not 1.x`);
      return;
    }
    this.sendStartReply(START_RESULT.Successful);
    this.establish(m, now);
  }

  private sendStartReply(resultCode: number): void {
    this.send({
      type: 'Start-Control-Connection-Reply',
      protocolVersion: PPTP_PROTOCOL_VERSION,
      resultCode,
      errorCode: GENERAL_ERROR.None,
      framingCapabilities: this.o.framingCapabilities,
      bearerCapabilities: this.o.bearerCapabilities,
      maximumChannels: this.o.maxCalls,
      firmwareRevision: this.o.firmwareRevision,
      hostName: this.o.hostName,
      vendor: this.o.vendor,
    });
  }

  private onStartReply(
    m: Extract<ControlMessage, { type: 'Start-Control-Connection-Reply' }>,
    now: number,
  ): void {
    if (this.stateValue !== 'wait-ctl-reply') {
      this.ignore(`${m.type} in state ${this.stateValue}`);
      return;
    }
    if (this.peerAddress !== undefined) this.collision?.leave(this.peerAddress, this);
    // pptp-linux also accepts result 0, which some servers send for success.
    if (m.resultCode !== START_RESULT.Successful && m.resultCode !== 0) {
      const error = m.errorCode !== 0 ? `, error ${codeName(GENERAL_ERROR, m.errorCode)}` : '';
      this.close(
        `peer refused the control connection (result ${codeName(START_RESULT, m.resultCode)}${error})`,
      );
      return;
    }
    if (m.protocolVersion >> 8 !== PPTP_PROTOCOL_VERSION >> 8) {
      // RFC 2637 §2.3: Stop-Protocol, "can't support peer's version of the protocol".
      this.establish(m, now);
      this.stop(
        now,
        `peer speaks PPTP version 0x${m.protocolVersion.toString(16)}, not 1.x`,
        STOP_REASON['Stop-Protocol'],
      );
      return;
    }
    this.establish(m, now);
  }

  private establish(m: PeerInfo, now: number): void {
    this.stateValue = 'established';
    this.startDeadline = undefined;
    this.idleSince = now;
    this.peer = {
      protocolVersion: m.protocolVersion,
      framingCapabilities: m.framingCapabilities,
      bearerCapabilities: m.bearerCapabilities,
      maximumChannels: m.maximumChannels,
      firmwareRevision: m.firmwareRevision,
      hostName: m.hostName,
      vendor: m.vendor,
    };
    this.eventQueue.push({ type: 'established', peer: this.peer });
  }

  private onOutgoingCallRequest(
    m: Extract<ControlMessage, { type: 'Outgoing-Call-Request' }>,
  ): void {
    const refuse = (errorCode: number, why: string) => {
      this.send({
        type: 'Outgoing-Call-Reply',
        callId: 0,
        peerCallId: m.callId,
        resultCode: OUTGOING_CALL_RESULT['General-Error'],
        errorCode,
        causeCode: 0,
        connectSpeed: 0,
        receiveWindowSize: this.o.receiveWindow,
        processingDelay: this.o.processingDelay,
        physicalChannelId: 0,
      });
      this.counters.callsRefused++;
      this.warn(`refused Outgoing-Call-Request for peer call ${m.callId}: ${why}`);
    };
    if (this.stateValue !== 'established') {
      refuse(GENERAL_ERROR['Not-Connected'], `control connection is ${this.stateValue}`);
      return;
    }
    if (
      this.findCall((c) => c.peerCallId === m.callId && c.direction === 'incoming') !== undefined
    ) {
      refuse(GENERAL_ERROR['Bad-Call-ID'], `peer call ${m.callId} already exists`);
      return;
    }
    if (this.calls.size >= this.o.maxCalls) {
      refuse(GENERAL_ERROR['No-Resource'], `${this.calls.size} of ${this.o.maxCalls} calls in use`);
      return;
    }
    const callId = this.callIds.allocate();
    if (callId === undefined) {
      refuse(GENERAL_ERROR['No-Resource'], 'no free Call ID');
      return;
    }
    const call = new Call(callId, 'incoming', m.callSerialNumber, 'established');
    call.peerCallId = m.callId;
    call.peerReceiveWindow = m.receiveWindowSize;
    call.peerProcessingDelay = m.processingDelay;
    call.connectSpeed = m.maximumBps;
    call.phoneNumber = m.phoneNumber;
    call.subaddress = m.subaddress;
    this.calls.set(callId, call);
    this.idleSince = undefined;
    this.counters.callsAccepted++;
    this.send({
      type: 'Outgoing-Call-Reply',
      callId,
      peerCallId: m.callId,
      resultCode: OUTGOING_CALL_RESULT.Connected,
      errorCode: GENERAL_ERROR.None,
      causeCode: 0,
      // pptpd answers with the caller's Maximum BPS; there is no line speed behind us.
      connectSpeed: m.maximumBps,
      receiveWindowSize: this.o.receiveWindow,
      processingDelay: this.o.processingDelay,
      physicalChannelId: 0,
    });
    this.eventQueue.push({ type: 'call-up', call: call.parameters });
  }

  private onOutgoingCallReply(
    m: Extract<ControlMessage, { type: 'Outgoing-Call-Reply' }>,
    now: number,
  ): void {
    const call = this.calls.get(m.peerCallId);
    if (call === undefined || call.direction !== 'outgoing' || call.state !== 'wait-reply') {
      this.ignore(`${m.type} for call ${m.peerCallId}, which awaits no reply`);
      return;
    }
    if (m.resultCode !== OUTGOING_CALL_RESULT.Connected) {
      const error = m.errorCode !== 0 ? `, error ${codeName(GENERAL_ERROR, m.errorCode)}` : '';
      const cause = m.causeCode !== 0 ? `, cause ${m.causeCode}` : '';
      this.removeCall(
        call,
        `peer refused the call (result ${codeName(OUTGOING_CALL_RESULT, m.resultCode)}${error}${cause})`,
        now,
      );
      return;
    }
    call.state = 'established';
    call.deadline = undefined;
    call.peerCallId = m.callId;
    call.peerReceiveWindow = m.receiveWindowSize;
    call.peerProcessingDelay = m.processingDelay;
    call.connectSpeed = m.connectSpeed;
    this.eventQueue.push({ type: 'call-up', call: call.parameters });
  }

  // ------------------------------------------------------------------ time

  /** Runs whatever timer is due at `now`. */
  handleTimeout(now: number): void {
    switch (this.stateValue) {
      case 'wait-ctl-request':
        if (this.startDeadline !== undefined && now >= this.startDeadline) {
          this.close(
            `no Start-Control-Connection-Request within ${this.o.startTimeoutMs / 1000} s`,
          );
        }
        return;
      case 'wait-ctl-reply':
        if (this.startDeadline !== undefined && now >= this.startDeadline) {
          this.close(`no Start-Control-Connection-Reply within ${this.o.startTimeoutMs / 1000} s`);
        }
        return;
      case 'collision-silent':
        if (this.startDeadline !== undefined && now >= this.startDeadline) {
          this.close('start collision: the peer did not close its losing connection');
        }
        return;
      case 'wait-stop-reply':
        if (this.stopDeadline !== undefined && now >= this.stopDeadline) {
          this.close(
            `${this.closeReason ?? 'stopped'} (no Stop-Control-Connection-Reply within ${this.o.stopReplyTimeoutMs / 1000} s)`,
          );
        }
        return;
      case 'established':
        break;
      default:
        return;
    }
    // Keepalive, RFC 2637 §3.1.4.
    if (this.echoOutstanding !== undefined) {
      if (now >= this.echoOutstanding.sentAt + this.o.echoTimeoutMs) {
        this.close(`no Echo-Reply within ${this.o.echoTimeoutMs / 1000} s: peer presumed dead`);
        return;
      }
    } else if (now >= this.lastReceived + this.o.echoIntervalMs) {
      const id = this.nextEchoId;
      this.nextEchoId = (this.nextEchoId + 1) >>> 0;
      this.echoOutstanding = { id, sentAt: now };
      this.counters.echoRequestsSent++;
      this.send({ type: 'Echo-Request', identifier: id });
    }
    for (const call of [...this.calls.values()]) {
      if (call.deadline === undefined || now < call.deadline) continue;
      if (call.state === 'wait-reply') {
        // pptp-linux: no reply in time, so clear the half-made call.
        this.send({ type: 'Call-Clear-Request', callId: call.callId });
        this.removeCall(
          call,
          `no Outgoing-Call-Reply within ${this.o.callReplyTimeoutMs / 1000} s`,
          now,
        );
      } else if (call.state === 'wait-disconnect') {
        const reason = this.pendingClearReasons.get(call.callId) ?? 'cleared';
        this.removeCall(
          call,
          `${reason} (no Call-Disconnect-Notify within ${this.o.callClearTimeoutMs / 1000} s)`,
          now,
        );
      }
    }
    if (
      this.role === 'server' &&
      this.o.idleTimeoutMs > 0 &&
      this.idleSince !== undefined &&
      this.calls.size === 0 &&
      now >= this.idleSince + this.o.idleTimeoutMs
    ) {
      this.stop(now, `no call for ${this.o.idleTimeoutMs / 1000} s`);
    }
  }

  /** When handleTimeout next has work, or undefined. */
  pollTimeout(): number | undefined {
    switch (this.stateValue) {
      case 'wait-ctl-request':
      case 'wait-ctl-reply':
      case 'collision-silent':
        return this.startDeadline;
      case 'wait-stop-reply':
        return this.stopDeadline;
      case 'established':
        break;
      default:
        return undefined;
    }
    let t =
      this.echoOutstanding !== undefined
        ? this.echoOutstanding.sentAt + this.o.echoTimeoutMs
        : this.lastReceived + this.o.echoIntervalMs;
    for (const call of this.calls.values()) {
      if (call.deadline !== undefined && call.deadline < t) t = call.deadline;
    }
    if (
      this.role === 'server' &&
      this.o.idleTimeoutMs > 0 &&
      this.idleSince !== undefined &&
      this.calls.size === 0
    ) {
      t = Math.min(t, this.idleSince + this.o.idleTimeoutMs);
    }
    return t;
  }

  // ------------------------------------------------------------------ output

  /** The next message to write to TCP (encode with encodeControlMessage). */
  pollTransmit(): ControlMessage | undefined {
    return this.transmitQueue.shift();
  }

  pollEvent(): ControlEvent | undefined {
    return this.eventQueue.shift();
  }

  // ------------------------------------------------------------------ internals

  private send(m: ControlMessage): void {
    this.transmitQueue.push(m);
    this.counters.messagesOut++;
    if (this.o.trace)
      this.eventQueue.push({
        type: 'packet',
        direction: 'sent',
        line: formatControlLine('sent', m),
      });
  }

  private warn(message: string): void {
    this.eventQueue.push({ type: 'warning', message });
  }

  private ignore(what: string): void {
    this.counters.ignored++;
    this.warn(`ignored ${what}`);
  }

  private findCall(pred: (c: Call) => boolean): Call | undefined {
    for (const c of this.calls.values()) if (pred(c)) return c;
    return undefined;
  }

  private soleCallAwaitingReply(): Call | undefined {
    let found: Call | undefined;
    for (const c of this.calls.values()) {
      if (c.state !== 'wait-reply') continue;
      if (found !== undefined) return undefined;
      found = c;
    }
    return found;
  }

  private removeCall(call: Call, reason: string, now: number): void {
    const wasUp = call.state === 'established' || call.state === 'wait-disconnect';
    call.state = 'closed';
    call.deadline = undefined;
    this.calls.delete(call.callId);
    this.pendingClearReasons.delete(call.callId);
    this.callIds.release(call.callId);
    if (this.calls.size === 0 && this.stateValue === 'established') this.idleSince = now;
    this.eventQueue.push({ type: 'call-down', callId: call.callId, reason, established: wasUp });
  }

  private close(reason: string): void {
    if (this.stateValue === 'closed') return;
    if (this.peerAddress !== undefined) this.collision?.leave(this.peerAddress, this);
    const why = `control connection closed: ${reason}`;
    for (const call of [...this.calls.values()]) {
      const wasUp = call.state === 'established' || call.state === 'wait-disconnect';
      call.state = 'closed';
      this.calls.delete(call.callId);
      this.callIds.release(call.callId);
      this.eventQueue.push({
        type: 'call-down',
        callId: call.callId,
        reason: this.pendingClearReasons.get(call.callId) ?? why,
        established: wasUp,
      });
    }
    this.pendingClearReasons.clear();
    this.stateValue = 'closed';
    this.startDeadline = undefined;
    this.stopDeadline = undefined;
    this.echoOutstanding = undefined;
    this.eventQueue.push({ type: 'closed', reason });
  }
}

// ------------------------------------------------------------------ start collisions

/**
 * RFC 2637 §3.1.3: "The 'winner' of the initiation race is the peer with the higher IP
 * address (compared as 32 bit unsigned values, network number more significant)."
 * Returns undefined when either address is not IPv4 (the rule is defined for IPv4 only).
 */
export function startCollisionWinner(
  localAddress: string,
  peerAddress: string,
): 'local' | 'peer' | undefined {
  const a = ipv4ToNumber(localAddress);
  const b = ipv4ToNumber(peerAddress);
  if (a === undefined || b === undefined || a === b) return undefined;
  return a > b ? 'local' : 'peer';
}

/** Dotted quad (optionally IPv4-mapped "::ffff:a.b.c.d") to an unsigned 32-bit number. */
export function ipv4ToNumber(address: string): number | undefined {
  const s = address.startsWith('::ffff:') ? address.slice(7) : address;
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

/**
 * The connections of one process that are opening towards a peer (client role, waiting
 * for the Start-Control-Connection-Reply), so that a Start-Control-Connection-Request
 * arriving from that same peer on an accepted connection can apply §3.1.3.
 */
export class CollisionDomain {
  private readonly opening = new Map<string, ControlConnection>();

  enter(peerAddress: string, connection: ControlConnection): void {
    this.opening.set(normalise(peerAddress), connection);
  }

  leave(peerAddress: string, connection: ControlConnection): void {
    const key = normalise(peerAddress);
    if (this.opening.get(key) === connection) this.opening.delete(key);
  }

  rival(peerAddress: string): ControlConnection | undefined {
    return this.opening.get(normalise(peerAddress));
  }
}

/** One collision domain for the whole process (server and client connections). */
export const sharedCollisionDomain = new CollisionDomain();

function normalise(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
