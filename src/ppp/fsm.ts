/**
 * The RFC 1661 §4 option-negotiation automaton, written once and shared by LCP,
 * IPCP and CCP. A protocol supplies its option table through `FsmHandler`; the
 * automaton owns states, identifiers, the Restart timer and the counters.
 *
 * Sans-I/O: packets leave through `FsmContext.send`, time comes in through
 * `FsmContext.now()` and `handleTimeout`.
 */
import {
  Code,
  type ConfigOption,
  type ControlPacket,
  decodeOptions,
  encodeControlPacket,
  encodeOptions,
  optionsEqual,
} from './packet.js';

export type FsmState =
  | 'initial'
  | 'starting'
  | 'closed'
  | 'stopped'
  | 'closing'
  | 'stopping'
  | 'req-sent'
  | 'ack-rcvd'
  | 'ack-sent'
  | 'opened';

export const FSM_STATES: readonly FsmState[] = [
  'initial',
  'starting',
  'closed',
  'stopped',
  'closing',
  'stopping',
  'req-sent',
  'ack-rcvd',
  'ack-sent',
  'opened',
];

/** The events of the RFC 1661 §4.1 state transition table. */
export type FsmEvent =
  | 'Up'
  | 'Down'
  | 'Open'
  | 'Close'
  | 'TO+'
  | 'TO-'
  | 'RCR+'
  | 'RCR-'
  | 'RCA'
  | 'RCN'
  | 'RTR'
  | 'RTA'
  | 'RUC'
  | 'RXJ+'
  | 'RXJ-'
  | 'RXR';

export interface FsmConfig {
  /** Restart timer period (RFC 1661 §4.6), milliseconds. pppd default 3 s. */
  readonly restartMs: number;
  /** Configure-Requests sent without an Ack before giving up (pppd default 10). */
  readonly maxConfigure: number;
  /** Terminate-Requests sent without an Ack before finishing (pppd default 2). */
  readonly maxTerminate: number;
  /** Configure-Naks sent before converting further Naks to Rejects (pppd default 5). */
  readonly maxFailure: number;
}

export const DEFAULT_FSM_CONFIG: FsmConfig = {
  restartMs: 3000,
  maxConfigure: 10,
  maxTerminate: 2,
  maxFailure: 5,
};

export type RequestVerdict =
  | { readonly kind: 'ack' }
  | { readonly kind: 'nak'; readonly options: readonly ConfigOption[] }
  | { readonly kind: 'reject'; readonly options: readonly ConfigOption[] };

export interface FsmHandler {
  /** pppd's name for the protocol: 'LCP', 'IPCP', 'CCP'. */
  readonly name: string;
  readonly protocol: number;
  /** Start a fresh negotiation: our wishes back to the configured ones. */
  resetOptions(): void;
  /** The options of our next Configure-Request. */
  ourOptions(): ConfigOption[];
  /**
   * Judge the peer's Configure-Request. The verdict's options are the ones to Nak
   * (with our suggested values) or Reject (as received). `allowNak` is false once
   * Max-Failure Naks were sent without an Ack: the automaton then turns Naks into
   * Rejects itself, but a handler may use it to stop suggesting.
   */
  evaluateRequest(options: readonly ConfigOption[], allowNak: boolean): RequestVerdict;
  /** The peer acknowledged exactly our last request. */
  acked(options: readonly ConfigOption[]): void;
  /** Apply a Nak; return false when it is invalid (the packet is then dropped). */
  naked(options: readonly ConfigOption[]): boolean;
  /** Apply a Reject; return false when it is invalid (names options we did not send). */
  rejected(options: readonly ConfigOption[]): boolean;
  layerUp(): void;
  layerDown(): void;
  layerStarted(): void;
  layerFinished(reason: string): void;
  /**
   * Codes beyond Code-Reject (LCP's Echo, Protocol-Reject...; CCP's Reset-*).
   * Return 'unknown' to have the automaton send Code-Reject (RUC).
   */
  extraCode?(packet: ControlPacket, fsm: Fsm): 'handled' | 'unknown';
  /** Whether a Code-Reject of `code` is acceptable (RXJ+) or catastrophic (RXJ-). */
  rejectedCodeIsPermitted?(code: number): boolean;
}

export interface FsmContext {
  now(): number;
  /** Send one control packet of this protocol. */
  send(protocol: number, packet: Buffer): void;
  /** Largest packet the peer accepts (its MRU), for truncating Code-Rejects. */
  peerMru(): number;
}

export interface FsmCounters {
  configureRequestsSent: number;
  naksSent: number;
  rejectsSent: number;
  terminateRequestsSent: number;
  codeRejectsSent: number;
  /** Packets dropped: wrong identifier, bad options, arrived in Initial/Starting. */
  discarded: number;
}

const TIMER_STATES: ReadonlySet<FsmState> = new Set([
  'closing',
  'stopping',
  'req-sent',
  'ack-rcvd',
  'ack-sent',
]);

export class Fsm {
  private stateValue: FsmState = 'initial';
  private restartCounter = 0;
  private deadline: number | undefined;
  private nextId = 1;
  /** Identifier and options of our outstanding Configure-Request. */
  private requestId = -1;
  private requestOptions: ConfigOption[] = [];
  private naksSinceAck = 0;
  private terminateId = -1;
  private terminateReason = '';
  private finishReason = '';
  readonly counters: FsmCounters = {
    configureRequestsSent: 0,
    naksSent: 0,
    rejectsSent: 0,
    terminateRequestsSent: 0,
    codeRejectsSent: 0,
    discarded: 0,
  };

  constructor(
    readonly handler: FsmHandler,
    private readonly ctx: FsmContext,
    private readonly config: FsmConfig = DEFAULT_FSM_CONFIG,
  ) {}

  get state(): FsmState {
    return this.stateValue;
  }

  /** When the Restart timer fires next, if it runs. */
  get timeout(): number | undefined {
    return this.deadline;
  }

  // ── Administrative and lower-layer events ──────────────────────────────────

  up(): void {
    switch (this.stateValue) {
      case 'initial':
        return this.enter('closed');
      case 'starting':
        this.irc(true);
        this.scr();
        return this.enter('req-sent');
      default:
        // RFC 1661 §4.1: "-" cells cannot happen; tolerate a repeated Up.
        return;
    }
  }

  down(): void {
    switch (this.stateValue) {
      case 'closed':
      case 'closing':
        return this.enter('initial');
      case 'stopped':
        this.handler.layerStarted();
        return this.enter('starting');
      case 'stopping':
      case 'req-sent':
      case 'ack-rcvd':
      case 'ack-sent':
        return this.enter('starting');
      case 'opened':
        this.handler.layerDown();
        return this.enter('starting');
      default:
        return;
    }
  }

  open(): void {
    switch (this.stateValue) {
      case 'initial':
        this.handler.layerStarted();
        return this.enter('starting');
      case 'closed':
        this.irc(true);
        this.scr();
        return this.enter('req-sent');
      case 'closing':
        return this.enter('stopping');
      default:
        // Starting, Stopped, Stopping, Req-Sent, Ack-Rcvd, Ack-Sent, Opened: no change
        // (the optional restart "r" of RFC 1661 §4.1 is not taken).
        return;
    }
  }

  close(reason: string): void {
    this.terminateReason = reason;
    switch (this.stateValue) {
      case 'starting':
        this.finish(reason);
        return this.enter('initial');
      case 'stopped':
        return this.enter('closed');
      case 'stopping':
        return this.enter('closing');
      case 'req-sent':
      case 'ack-rcvd':
      case 'ack-sent':
        this.irc(false);
        this.str();
        return this.enter('closing');
      case 'opened':
        this.handler.layerDown();
        this.irc(false);
        this.str();
        return this.enter('closing');
      default:
        return;
    }
  }

  /**
   * Sends an unanswered Configure-Request again now, as the Restart timer would (TO+),
   * when the caller knows the peer has just become ready for it. No-op in other states.
   */
  retransmitNow(): void {
    if (this.stateValue !== 'req-sent' && this.stateValue !== 'ack-sent') return;
    if (this.restartCounter > 0) this.timeoutPlus();
  }

  handleTimeout(now: number): void {
    if (this.deadline === undefined || now < this.deadline) return;
    this.deadline = undefined;
    if (this.restartCounter > 0) this.timeoutPlus();
    else this.timeoutMinus();
  }

  // ── Received packets ───────────────────────────────────────────────────────

  receive(packet: ControlPacket): void {
    if (this.stateValue === 'initial' || this.stateValue === 'starting') {
      // RFC 1661 §4.1: no packets can be received before the lower layer is up.
      this.counters.discarded++;
      return;
    }
    switch (packet.code) {
      case Code.CONFIGURE_REQUEST:
        return this.receiveConfigureRequest(packet);
      case Code.CONFIGURE_ACK:
        return this.receiveConfigureAck(packet);
      case Code.CONFIGURE_NAK:
      case Code.CONFIGURE_REJECT:
        return this.receiveNakOrReject(packet);
      case Code.TERMINATE_REQUEST:
        return this.receiveTerminateRequest(packet);
      case Code.TERMINATE_ACK:
        return this.receiveTerminateAck();
      case Code.CODE_REJECT:
        return this.receiveCodeReject(packet);
      default: {
        const verdict = this.handler.extraCode?.(packet, this) ?? 'unknown';
        if (verdict === 'unknown') this.receiveUnknownCode(packet);
      }
    }
  }

  /** RXJ- from outside the automaton (LCP Protocol-Reject naming this protocol). */
  protocolRejected(): void {
    this.rejectMinus(`${this.handler.name}: peer rejected the protocol`);
  }

  /** Send a packet of this protocol with a fresh identifier (Echo, Reset-Request...). */
  sendWithNewId(code: number, data?: Buffer): number {
    const id = this.takeId();
    this.ctx.send(this.handler.protocol, encodeControlPacket(code, id, data));
    return id;
  }

  sendPacket(code: number, identifier: number, data?: Buffer): void {
    this.ctx.send(this.handler.protocol, encodeControlPacket(code, identifier, data));
  }

  private receiveConfigureRequest(packet: ControlPacket): void {
    switch (this.stateValue) {
      case 'closed':
        return this.sta(packet.identifier);
      case 'closing':
      case 'stopping':
        return;
      default:
        break;
    }
    const decoded = decodeOptions(packet.data);
    if (!decoded.ok) {
      this.counters.discarded++;
      return;
    }
    if (this.stateValue === 'opened') {
      this.handler.layerDown();
      this.scr();
    } else if (this.stateValue === 'stopped') {
      this.irc(true);
      this.scr();
    }
    const allowNak = this.naksSinceAck < this.config.maxFailure;
    const verdict = this.handler.evaluateRequest(decoded.value, allowNak);
    const good = this.reply(packet, decoded.value, verdict, allowNak);
    switch (this.stateValue) {
      case 'stopped':
      case 'req-sent':
      case 'ack-sent':
      case 'opened':
        return this.enter(good ? 'ack-sent' : 'req-sent');
      case 'ack-rcvd':
        if (good) {
          this.enter('opened');
          this.handler.layerUp();
          return;
        }
        return;
      default:
        return;
    }
  }

  /** sca or scn; returns true for RCR+. */
  private reply(
    packet: ControlPacket,
    options: readonly ConfigOption[],
    verdict: RequestVerdict,
    allowNak: boolean,
  ): boolean {
    if (verdict.kind === 'ack') {
      this.naksSinceAck = 0;
      this.sendPacket(Code.CONFIGURE_ACK, packet.identifier, packet.data);
      return true;
    }
    if (verdict.kind === 'nak' && allowNak) {
      this.naksSinceAck++;
      this.counters.naksSent++;
      this.sendPacket(Code.CONFIGURE_NAK, packet.identifier, encodeOptions(verdict.options));
      return false;
    }
    let rejects: readonly ConfigOption[] = verdict.options;
    if (verdict.kind === 'nak') {
      // RFC 1661 §4.6 Max-Failure: Naks for the peer's own options become Rejects.
      const types = new Set(verdict.options.map((o) => o.type));
      rejects = options.filter((o) => types.has(o.type));
      if (rejects.length === 0) {
        this.naksSinceAck = 0;
        this.sendPacket(Code.CONFIGURE_ACK, packet.identifier, packet.data);
        return true;
      }
    }
    this.counters.rejectsSent++;
    this.sendPacket(Code.CONFIGURE_REJECT, packet.identifier, encodeOptions(rejects));
    return false;
  }

  private receiveConfigureAck(packet: ControlPacket): void {
    if (this.answerWhenNotNegotiating(packet)) return;
    // RFC 1661 §5.2: only a reply to our last Configure-Request is valid. A second
    // valid Ack in Ack-Rcvd or Opened is the table's crossed connection ("x"):
    // renegotiate, as the RFC says (pppd drops it instead; on serial and GRE links,
    // which drop duplicates, the two never differ).
    if (packet.identifier !== this.requestId) {
      this.counters.discarded++;
      return;
    }
    const decoded = decodeOptions(packet.data);
    // RFC 1661 §5.2: the Ack must list exactly the options we requested, in order.
    if (!decoded.ok || !optionsEqual(decoded.value, this.requestOptions)) {
      this.counters.discarded++;
      return;
    }
    switch (this.stateValue) {
      case 'req-sent':
        this.handler.acked(decoded.value);
        this.irc(true);
        return this.enter('ack-rcvd');
      case 'ack-rcvd':
        // Crossed connection (RFC 1661 §4.1 "x").
        this.scr();
        return this.enter('req-sent');
      case 'ack-sent':
        this.handler.acked(decoded.value);
        this.irc(true);
        this.enter('opened');
        this.handler.layerUp();
        return;
      case 'opened':
        this.handler.layerDown();
        this.scr();
        return this.enter('req-sent');
      default:
        return;
    }
  }

  /**
   * RCA/RCN outside a negotiation: Closed and Stopped answer Terminate-Ack (the peer
   * must learn we are not negotiating), Closing and Stopping ignore it (RFC 1661 §4.1).
   */
  private answerWhenNotNegotiating(packet: ControlPacket): boolean {
    switch (this.stateValue) {
      case 'closed':
      case 'stopped':
        this.sta(packet.identifier);
        return true;
      case 'closing':
      case 'stopping':
        return true;
      default:
        return false;
    }
  }

  private receiveNakOrReject(packet: ControlPacket): void {
    if (this.answerWhenNotNegotiating(packet)) return;
    if (packet.identifier !== this.requestId) {
      this.counters.discarded++;
      return;
    }
    const decoded = decodeOptions(packet.data);
    const valid =
      decoded.ok &&
      (packet.code === Code.CONFIGURE_NAK
        ? this.handler.naked(decoded.value)
        : this.handler.rejected(decoded.value));
    if (!valid) {
      this.counters.discarded++;
      return;
    }
    switch (this.stateValue) {
      case 'req-sent':
      case 'ack-sent':
        this.irc(true);
        this.scr();
        return;
      case 'ack-rcvd':
        this.scr();
        return this.enter('req-sent');
      case 'opened':
        this.handler.layerDown();
        this.scr();
        return this.enter('req-sent');
      default:
        return;
    }
  }

  private receiveTerminateRequest(packet: ControlPacket): void {
    const text = packet.data.length > 0 ? ` "${printable(packet.data)}"` : '';
    switch (this.stateValue) {
      case 'opened':
        this.handler.layerDown();
        this.finishReason = `${this.handler.name}: peer sent Terminate-Request${text}`;
        this.restartCounter = 0; // zrc
        this.deadline = this.ctx.now() + this.config.restartMs;
        this.sta(packet.identifier);
        return this.enter('stopping');
      case 'ack-rcvd':
      case 'ack-sent':
        this.sta(packet.identifier);
        return this.enter('req-sent');
      default:
        // Closed, Stopped, Closing, Stopping, Req-Sent: sta, same state.
        return this.sta(packet.identifier);
    }
  }

  private receiveTerminateAck(): void {
    switch (this.stateValue) {
      case 'closing':
        this.finish(this.terminateReason || `${this.handler.name}: closed`);
        return this.enter('closed');
      case 'stopping':
        this.finish(this.finishReason || this.terminateReason || `${this.handler.name}: stopped`);
        return this.enter('stopped');
      case 'ack-rcvd':
        return this.enter('req-sent');
      case 'opened':
        this.handler.layerDown();
        this.scr();
        return this.enter('req-sent');
      default:
        return;
    }
  }

  private receiveCodeReject(packet: ControlPacket): void {
    const rejected = packet.data[0];
    const permitted =
      rejected !== undefined &&
      rejected > Code.CODE_REJECT &&
      (this.handler.rejectedCodeIsPermitted?.(rejected) ?? true);
    if (permitted) return this.rejectPlus();
    this.rejectMinus(`${this.handler.name}: peer rejected code ${rejected ?? '?'}`);
  }

  private receiveUnknownCode(packet: ControlPacket): void {
    // RUC → scj in every state from Closed on (RFC 1661 §4.1).
    const limit = Math.max(4, this.ctx.peerMru() - 4);
    const original = encodeControlPacket(packet.code, packet.identifier, packet.data).subarray(
      0,
      limit,
    );
    this.counters.codeRejectsSent++;
    this.sendWithNewId(Code.CODE_REJECT, original);
  }

  // ── Events that only the automaton raises ──────────────────────────────────

  private timeoutPlus(): void {
    switch (this.stateValue) {
      case 'closing':
      case 'stopping':
        this.str();
        return;
      case 'req-sent':
      case 'ack-rcvd':
        this.scr();
        return this.enter('req-sent');
      case 'ack-sent':
        this.scr();
        return;
      default:
        return;
    }
  }

  private timeoutMinus(): void {
    switch (this.stateValue) {
      case 'closing':
        this.finish(this.terminateReason || `${this.handler.name}: closed`);
        return this.enter('closed');
      case 'stopping':
        this.finish(
          this.finishReason ||
            `${this.handler.name}: no Terminate-Ack after ${this.config.maxTerminate} Terminate-Requests`,
        );
        return this.enter('stopped');
      case 'req-sent':
      case 'ack-rcvd':
      case 'ack-sent':
        this.finish(
          `${this.handler.name}: no agreement after ${this.config.maxConfigure} Configure-Requests (peer silent or not converging)`,
        );
        return this.enter('stopped');
      default:
        return;
    }
  }

  private rejectPlus(): void {
    if (this.stateValue === 'ack-rcvd') this.enter('req-sent');
  }

  private rejectMinus(reason: string): void {
    switch (this.stateValue) {
      case 'closed':
      case 'closing':
        this.finish(reason);
        return this.enter('closed');
      case 'stopped':
      case 'stopping':
      case 'req-sent':
      case 'ack-rcvd':
      case 'ack-sent':
        this.finish(reason);
        return this.enter('stopped');
      case 'opened':
        this.handler.layerDown();
        this.terminateReason = reason;
        this.finishReason = reason;
        this.irc(false);
        this.str();
        return this.enter('stopping');
      default:
        return;
    }
  }

  // ── Actions (RFC 1661 §4.4) ─────────────────────────────────────────────────

  private irc(configure: boolean): void {
    this.restartCounter = configure ? this.config.maxConfigure : this.config.maxTerminate;
  }

  private scr(): void {
    const negotiating =
      this.stateValue === 'req-sent' ||
      this.stateValue === 'ack-rcvd' ||
      this.stateValue === 'ack-sent';
    if (!negotiating) {
      // A fresh negotiation starts from the configured wishes (pppd's resetci).
      this.handler.resetOptions();
      this.naksSinceAck = 0;
    }
    this.requestOptions = this.handler.ourOptions();
    this.requestId = this.takeId();
    this.restartCounter--;
    this.deadline = this.ctx.now() + this.config.restartMs;
    this.counters.configureRequestsSent++;
    this.ctx.send(
      this.handler.protocol,
      encodeControlPacket(
        Code.CONFIGURE_REQUEST,
        this.requestId,
        encodeOptions(this.requestOptions),
      ),
    );
  }

  private str(): void {
    this.terminateId = this.takeId();
    this.restartCounter--;
    this.deadline = this.ctx.now() + this.config.restartMs;
    this.counters.terminateRequestsSent++;
    const text = Buffer.from(this.terminateReason, 'utf8').subarray(0, 64);
    this.ctx.send(
      this.handler.protocol,
      encodeControlPacket(Code.TERMINATE_REQUEST, this.terminateId, text),
    );
  }

  private sta(identifier: number): void {
    this.sendPacket(Code.TERMINATE_ACK, identifier);
  }

  private finish(reason: string): void {
    this.finishReason = '';
    this.terminateReason = '';
    this.handler.layerFinished(reason);
  }

  private enter(state: FsmState): void {
    this.stateValue = state;
    if (!TIMER_STATES.has(state)) this.deadline = undefined;
  }

  private takeId(): number {
    const id = this.nextId;
    this.nextId = (this.nextId + 1) & 0xff;
    return id;
  }
}

/** Terminate-Request text as pppd prints it: printable ASCII, the rest as '.'. */
export function printable(data: Buffer): string {
  let s = '';
  for (const b of data) s += b >= 0x20 && b < 0x7f && b !== 0x22 ? String.fromCharCode(b) : '.';
  return s;
}
