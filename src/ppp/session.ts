/**
 * One PPP session: the RFC 1661 §3.2 phases wired over LCP, authentication, IPCP
 * and CCP/MPPE. Sans-I/O in the quinn-proto manner: it is fed frames and `now`,
 * and polled for frames to send, the next deadline, events and auth requests.
 * The data path (`handleFrame` → IP packet, `encapsulateIp` → frame) is one
 * straight call each way (boringtun's encapsulate/decapsulate).
 */
import { randomBytes } from 'node:crypto';
import type {
  AuthDecision,
  AuthRequest,
  MppeMasterKeys,
  PeerCredentials,
} from './auth/authenticator.js';
import {
  ChapAuthenticatee,
  ChapAuthenticator,
  type ChapResponder,
  type ChapVerification,
} from './auth/chap.js';
import { chapMd5Response } from './auth/chap-md5.js';
import { type AuthContext, type AuthTimers, DEFAULT_AUTH_TIMERS } from './auth/context.js';
import {
  checkMschapV2Success,
  mschapV1PeerResponse,
  mschapV2PeerResponse,
} from './auth/mschap-verify.js';
import { PapAuthenticatee, PapAuthenticator, type PapVerification } from './auth/pap.js';
import { CcpHandler } from './ccp.js';
import type { AuthMethod, Phase, SessionEvent } from './events.js';
import {
  decodeFrame,
  encodeFrame,
  type FrameEncodeOptions,
  frameHeaderLength,
  UNCOMPRESSED,
  writeFrameHeader,
} from './frame.js';
import { DEFAULT_FSM_CONFIG, Fsm, type FsmConfig, type FsmContext } from './fsm.js';
import { IpcpHandler } from './ipcp.js';
import { formatIpv4, parseIpv4 } from './ipv4.js';
import { DEFAULT_MRU, LcpHandler, type LcpNegotiated, sortByStrength } from './lcp.js';
import { formatPacketLine } from './log.js';
import { MppeDecrypter, MppeEncrypter } from './mppe.js';
import type { MppeKeyBits } from './mppe-keys.js';
import { MPPE_POLICY_OFF, type MppePolicy } from './mppe-option.js';
import { Code, type ControlPacket, decodeControlPacket } from './packet.js';
import { Protocol } from './protocol.js';
import { err, ok } from './result.js';

export interface SessionConfig {
  /** Our name: CHAP Name in our Challenges, the "server" column of chap-secrets. */
  readonly ourName: string;
  /** Who we are when the peer authenticates us. */
  readonly credentials?: PeerCredentials;
  /** Methods we demand of the peer; empty means no authentication (pppd noauth). */
  readonly authRequired: readonly AuthMethod[];
  /** Methods we accept when the peer authenticates us. PAP only when listed. */
  readonly authAllowed: readonly AuthMethod[];
  readonly lcp?: {
    readonly mru?: number;
    /** Request an ACCM (async links: pppd's asyncmap); undefined on synchronous links. */
    readonly asyncmap?: number;
    readonly pfc?: boolean;
    readonly acfc?: boolean;
    /** pppd lcp-echo-interval, in ms; 0 disables keepalive. */
    readonly echoIntervalMs?: number;
    /** pppd lcp-echo-failure. */
    readonly echoFailure?: number;
  };
  /** Restart timer and counters of LCP, IPCP and CCP. */
  readonly fsm?: Partial<FsmConfig>;
  readonly ipcp?: {
    readonly localAddress?: string;
    readonly remoteAddress?: string;
    readonly dns?: readonly string[];
    /** pppd usepeerdns. */
    readonly requestDns?: boolean;
  };
  readonly auth?: Partial<AuthTimers> & {
    /** pppd chap-interval in ms; 0: never re-challenge. */
    readonly rechallengeMs?: number;
    /** The whole Authenticate phase must end within this (ms). */
    readonly phaseTimeoutMs?: number;
  };
  /** Where the peer is (IP address or tty), for the Authenticator's lockout and logs. */
  readonly source?: string;
  /** Emit a pppd-style `packet` event for every control packet. */
  readonly trace?: boolean;
  /** Randomness source; a CSPRNG unless a test injects one. */
  readonly random?: (length: number) => Buffer;
  /** How we answer CHAP challenges; the default answers MD5, MS-CHAP and MS-CHAPv2 from `credentials`. */
  readonly chapResponder?: ChapResponder;
  /** MPPE policy (pppd's require-mppe-128 ...); off when absent. */
  readonly mppe?: MppePolicy;
}

export interface SessionCounters {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  ipPacketsIn: number;
  ipPacketsOut: number;
  ipBytesIn: number;
  ipBytesOut: number;
  /** Malformed frames or control packets. */
  malformed: number;
  /** Well-formed packets that arrived in a phase that does not accept them. */
  outOfPhase: number;
  /** IP packets we could not send (network not up, too big for the peer's MRU). */
  ipDropped: number;
  protocolRejectsSent: number;
  /** MPPE packets that could not be decrypted or came out of sequence. */
  mppeDropped: number;
  /** Unencrypted IP received while MPPE is in force. */
  clearDropped: number;
  ccpResetsSent: number;
}

interface PendingAuth {
  readonly token: number;
  readonly request: AuthRequest;
}

const DEFAULT_ECHO_INTERVAL_MS = 30_000;
const DEFAULT_ECHO_FAILURE = 4;
const DEFAULT_AUTH_PHASE_MS = 60_000;

export class PppSession {
  private nowMs = 0;
  private phaseValue: Phase = 'dead';
  private readonly outbox: Buffer[] = [];
  private readonly eventQueue: SessionEvent[] = [];
  private readonly authQueue: PendingAuth[] = [];
  private nextAuthToken = 1;
  private awaitingToken = 0;
  /** The name the peer gave in its last credentials, for events. */
  private authPeerName = '';

  private readonly lcpHandler: LcpHandler;
  readonly lcp: Fsm;
  private readonly ipcpHandler: IpcpHandler;
  readonly ipcp: Fsm;
  private readonly ccpHandler: CcpHandler;
  readonly ccp: Fsm;
  private readonly mppePolicy: MppePolicy;
  private encrypter: MppeEncrypter | undefined;
  private decrypter: MppeDecrypter | undefined;
  /** MPPE keys this session will use, from whichever MS-CHAP exchange produced them. */
  private mppeKeys: MppeMasterKeys | undefined;
  private keysAsAuthenticator: MppeMasterKeys | undefined;
  private keysAsPeer: MppeMasterKeys | undefined;
  /** IP may not flow until CCP settles (MPPE up, or given up when optional). */
  private waitForCcp = false;
  private ipcpOpen = false;
  private lastResetRequest = Number.NEGATIVE_INFINITY;

  private authenticator: PapAuthenticator | ChapAuthenticator | undefined;
  private authenticatee: PapAuthenticatee | ChapAuthenticatee | undefined;
  private authPeerDone = false;
  private authUsDone = false;
  private authDeadline: number | undefined;
  private decision: Extract<AuthDecision, { ok: true }> | undefined;

  private echoDeadline: number | undefined;
  private echoOutstanding = 0;
  private sessionDeadline: number | undefined;
  /** RADIUS Idle-Timeout: checked once per period against the packet counters. */
  private idleDeadline: number | undefined;
  private idleMs = 0;
  private idleSnapshot = -1;

  private pendingClose: string | undefined;
  /** The first reason the session started to end; reported with `terminated`. */
  private endReason = '';
  private sendOptions: FrameEncodeOptions = UNCOMPRESSED;
  private peerMru = DEFAULT_MRU;
  private networkUp = false;

  readonly counters: SessionCounters = {
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    ipPacketsIn: 0,
    ipPacketsOut: 0,
    ipBytesIn: 0,
    ipBytesOut: 0,
    malformed: 0,
    outOfPhase: 0,
    ipDropped: 0,
    protocolRejectsSent: 0,
    mppeDropped: 0,
    clearDropped: 0,
    ccpResetsSent: 0,
  };

  private readonly random: (length: number) => Buffer;
  private readonly authTimers: AuthTimers;
  private readonly fsmConfig: FsmConfig;
  private readonly authCtx: AuthContext;

  constructor(readonly config: SessionConfig) {
    this.random = config.random ?? randomBytes;
    this.fsmConfig = { ...DEFAULT_FSM_CONFIG, ...config.fsm };
    this.authTimers = { ...DEFAULT_AUTH_TIMERS, ...config.auth };
    const fsmCtx: FsmContext = {
      now: () => this.nowMs,
      send: (protocol, packet) => this.sendControl(protocol, packet),
      peerMru: () => this.peerMru,
    };
    this.authCtx = {
      now: () => this.nowMs,
      send: (protocol, packet) => this.sendControl(protocol, packet),
      random: this.random,
    };
    const lcp = config.lcp ?? {};
    this.lcpHandler = new LcpHandler(
      {
        mru: lcp.mru ?? DEFAULT_MRU,
        asyncmap: lcp.asyncmap,
        magic: true,
        pfc: lcp.pfc ?? true,
        acfc: lcp.acfc ?? true,
        authRequired: config.authRequired,
        authAllowed: config.authAllowed,
      },
      {
        up: (n) => this.lcpUp(n),
        down: () => this.lcpDown(),
        started: () => {},
        finished: (reason) => this.lcpFinished(reason),
        echoReply: () => {
          this.echoOutstanding = 0;
        },
        protocolRejected: (protocol) => this.protocolRejected(protocol),
        loopback: () => this.deferClose('the line is looped back (our own Magic-Number came back)'),
      },
      () => this.random(4).readUInt32BE(0),
      (method) => this.canAuthenticateAs(method),
    );
    this.lcp = new Fsm(this.lcpHandler, fsmCtx, this.fsmConfig);
    const ipcp = config.ipcp ?? {};
    this.ipcpHandler = new IpcpHandler(
      {
        localAddress: addressOrZero(ipcp.localAddress),
        remoteAddress: addressOrZero(ipcp.remoteAddress),
        dns: (ipcp.dns ?? []).slice(0, 2).map(addressOrZero),
        requestDns: ipcp.requestDns ?? false,
      },
      {
        up: () => {
          this.ipcpOpen = true;
          this.maybeIpUp();
        },
        down: () => {
          this.ipcpOpen = false;
          this.ipDown();
        },
        finished: (reason) => {
          // pppd: with no network protocol left running, the link has no purpose.
          if (this.phaseValue === 'network')
            this.deferClose(`no network protocols running (${reason})`);
        },
      },
    );
    this.ipcp = new Fsm(this.ipcpHandler, fsmCtx, this.fsmConfig);
    this.mppePolicy = config.mppe ?? MPPE_POLICY_OFF;
    this.ccpHandler = new CcpHandler(this.mppePolicy, {
      up: (agreed) => {
        const keys = this.mppeKeys;
        if (keys === undefined) return;
        this.encrypter = new MppeEncrypter({ startKey: keys.send, ...agreed.send });
        this.decrypter = new MppeDecrypter({ startKey: keys.recv, ...agreed.recv });
        this.waitForCcp = false;
        this.emit({ type: 'mppe-up', ...agreed.send, recv: agreed.recv });
        // pppd with MPPE required opens its IPCP only once CCP is up (auth.c
        // start_networks); until then it answers our Configure-Request with a Terminate-Ack
        // (RFC 1661 §4.1, RCR in Closed) and IP would wait a whole restart time (3 s).
        // Ours is up, so our CCP Configure-Ack has gone out ahead of this: by the time a
        // new Configure-Request arrives, pppd's CCP and IPCP are open. Ask again at once.
        if (this.mppePolicy.required) this.ipcp.retransmitNow();
        this.maybeIpUp();
      },
      down: () => this.mppeDown(),
      finished: (reason) => this.ccpGaveUp(`CCP: ${reason}`),
      resetRequested: () => this.encrypter?.resetRequested(),
      refused: (reason) => this.ccpGaveUp(reason),
    });
    this.ccp = new Fsm(this.ccpHandler, fsmCtx, this.fsmConfig);
  }

  /** MPPE in force on this session, for status. */
  get mppe(): { bits: MppeKeyBits; stateful: boolean } | undefined {
    const e = this.encrypter;
    return e ? { bits: e.bits, stateful: e.stateful } : undefined;
  }

  private maybeIpUp(): void {
    if (this.networkUp || !this.ipcpOpen || this.waitForCcp) return;
    this.networkUp = true;
    const n = this.ipcpHandler.negotiated;
    this.emit({
      type: 'ip-up',
      localAddress: formatIpv4(n.localAddress),
      remoteAddress: formatIpv4(n.remoteAddress),
      dns: n.dns.map(formatIpv4),
    });
  }

  private mppeDown(): void {
    this.encrypter = undefined;
    this.decrypter = undefined;
    if (this.mppePolicy.required && this.phaseValue === 'network') {
      // Never let IP fall back to the clear on a link that requires MPPE.
      this.waitForCcp = true;
      this.ipDown();
    }
  }

  private ccpGaveUp(reason: string): void {
    if (this.mppePolicy.required) {
      this.deferClose(`MPPE is required but could not be negotiated: ${reason}`);
      return;
    }
    this.waitForCcp = false;
    this.maybeIpUp();
  }

  get phase(): Phase {
    return this.phaseValue;
  }

  get addresses(): { local: string; remote: string } | undefined {
    const n = this.ipcpHandler.negotiated;
    return this.networkUp
      ? { local: formatIpv4(n.localAddress), remote: formatIpv4(n.remoteAddress) }
      : undefined;
  }

  /** What LCP agreed (valid from the Authenticate phase on). */
  get linkOptions(): Readonly<LcpNegotiated> {
    return this.lcpHandler.negotiated;
  }

  /** Largest IP packet for the interface: the peer's MRU, capped by RADIUS Framed-MTU. */
  get ipMtu(): number {
    const mru = this.lcpHandler.negotiated.peerMru;
    return this.decision?.mtu ? Math.min(mru, this.decision.mtu) : mru;
  }

  /** The authenticator's decision about the peer, once it authenticated. */
  get peerDecision(): Extract<AuthDecision, { ok: true }> | undefined {
    return this.decision;
  }

  // ── Driving ──────────────────────────────────────────────────────────────

  /** The link is up: start LCP (Dead → Establish). */
  open(now: number): void {
    this.nowMs = now;
    this.endReason = '';
    this.lcp.open();
    this.lcp.up();
    this.syncPhase();
  }

  /** Administrative close: LCP Terminate-Request, then Dead. */
  close(reason: string, now?: number): void {
    if (now !== undefined) this.nowMs = now;
    if (!this.endReason) this.endReason = reason;
    this.lcp.close(reason);
    this.syncPhase();
  }

  /** The medium went away (carrier lost, call cleared). */
  lowerDown(reason: string, now: number): void {
    this.nowMs = now;
    if (!this.endReason) this.endReason = `link down: ${reason}`;
    this.lcp.down();
    this.lcp.close(this.endReason);
    this.syncPhase();
  }

  /** One received PPP frame. Returns the IP packet it carried, if any. */
  handleFrame(frame: Buffer, now: number): Buffer | undefined {
    this.nowMs = now;
    this.counters.framesIn++;
    this.counters.bytesIn += frame.length;
    const decoded = decodeFrame(frame);
    if (!decoded.ok) {
      this.counters.malformed++;
      return undefined;
    }
    const { protocol, information } = decoded.value;
    if (protocol === Protocol.IP) {
      if (!this.networkUp) {
        this.counters.outOfPhase++;
        return undefined;
      }
      if (this.decrypter !== undefined) {
        // RFC 3078 §4: once MPPE is up, clear datagrams are not accepted.
        this.counters.clearDropped++;
        return undefined;
      }
      this.counters.ipPacketsIn++;
      this.counters.ipBytesIn += information.length;
      return information;
    }
    if (protocol === Protocol.COMPRESSED && this.decrypter !== undefined) {
      return this.decrypt(information);
    }
    this.handleControlFrame(protocol, information);
    this.syncPhase();
    return undefined;
  }

  private decrypt(payload: Buffer): Buffer | undefined {
    const result = this.decrypter!.decrypt(payload);
    if (result.kind === 'ok') {
      if (result.protocol !== Protocol.IP || !this.networkUp) {
        this.counters.outOfPhase++;
        return undefined;
      }
      this.counters.ipPacketsIn++;
      this.counters.ipBytesIn += result.information.length;
      return result.information;
    }
    this.counters.mppeDropped++;
    const waiting = result.kind === 'dropped' && result.reason === 'awaiting-flush';
    if (
      result.kind === 'needs-reset' ||
      (waiting && this.nowMs - this.lastResetRequest >= this.fsmConfig.restartMs)
    ) {
      // RFC 3078 §8: ask the sender to flush; it answers with a packet that has A set.
      // A lost Reset-Request is repeated once per restart period while we still wait.
      this.counters.ccpResetsSent++;
      this.lastResetRequest = this.nowMs;
      this.ccp.sendWithNewId(Code.RESET_REQUEST);
    }
    return undefined;
  }

  /** Frame an IP packet for the peer, or undefined when IP cannot flow now. */
  encapsulateIp(packet: Buffer): Buffer | undefined {
    if (!this.networkUp || packet.length > this.peerMru) {
      this.counters.ipDropped++;
      return undefined;
    }
    if (this.encrypter !== undefined) return this.encrypt(packet);
    const header = frameHeaderLength(Protocol.IP, this.sendOptions);
    const out = Buffer.allocUnsafe(header + packet.length);
    writeFrameHeader(out, Protocol.IP, this.sendOptions);
    packet.copy(out, header);
    this.counters.ipPacketsOut++;
    this.counters.ipBytesOut += packet.length;
    this.counters.framesOut++;
    this.counters.bytesOut += out.length;
    return out;
  }

  private encrypt(packet: Buffer): Buffer {
    const header = frameHeaderLength(Protocol.COMPRESSED, this.sendOptions);
    // Header, MPPE header (2), the encrypted 2-octet protocol, the packet.
    const out = Buffer.allocUnsafe(header + 4 + packet.length);
    writeFrameHeader(out, Protocol.COMPRESSED, this.sendOptions);
    const written = this.encrypter!.encryptInto(Protocol.IP, packet, out, header);
    this.counters.ipPacketsOut++;
    this.counters.ipBytesOut += packet.length;
    this.counters.framesOut++;
    const frame = out.subarray(0, header + written);
    this.counters.bytesOut += frame.length;
    return frame;
  }

  handleTimeout(now: number): void {
    this.nowMs = now;
    this.lcp.handleTimeout(now);
    this.ipcp.handleTimeout(now);
    this.ccp.handleTimeout(now);
    this.authenticator?.handleTimeout(now);
    if (this.authenticatee instanceof PapAuthenticatee) this.authenticatee.handleTimeout(now);
    if (this.authDeadline !== undefined && now >= this.authDeadline) {
      this.authDeadline = undefined;
      this.close(
        `authentication did not complete within ${Math.round(this.authPhaseMs() / 1000)} s`,
      );
    }
    if (this.echoDeadline !== undefined && now >= this.echoDeadline) this.keepaliveTick();
    if (this.idleDeadline !== undefined && now >= this.idleDeadline) {
      const c = this.counters;
      const activity = c.ipPacketsIn + c.ipPacketsOut;
      if (activity !== this.idleSnapshot) {
        this.idleSnapshot = activity;
        this.idleDeadline = now + this.idleMs;
      } else {
        this.idleDeadline = undefined;
        this.close('idle timeout: no traffic');
      }
    }
    if (this.sessionDeadline !== undefined && now >= this.sessionDeadline) {
      this.sessionDeadline = undefined;
      this.close('session time limit reached');
    }
    this.syncPhase();
  }

  /** The earliest time `handleTimeout` has work to do. */
  pollTimeout(): number | undefined {
    let t: number | undefined;
    const consider = (d: number | undefined): void => {
      if (d !== undefined && (t === undefined || d < t)) t = d;
    };
    consider(this.lcp.timeout);
    consider(this.ipcp.timeout);
    consider(this.ccp.timeout);
    consider(this.authenticator?.timeout);
    if (this.authenticatee instanceof PapAuthenticatee) consider(this.authenticatee.timeout);
    consider(this.authDeadline);
    consider(this.echoDeadline);
    consider(this.sessionDeadline);
    consider(this.idleDeadline);
    return t;
  }

  pollTransmit(): Buffer | undefined {
    return this.outbox.shift();
  }

  pollEvent(): SessionEvent | undefined {
    return this.eventQueue.shift();
  }

  /** The next credentials check the driver must run through an Authenticator. */
  pollAuthRequest(): PendingAuth | undefined {
    return this.authQueue.shift();
  }

  /** Feed back the Authenticator's decision for the request with this token. */
  completeAuth(token: number, decision: AuthDecision, now: number): void {
    this.nowMs = now;
    if (token !== this.awaitingToken || this.authenticator === undefined) return;
    this.awaitingToken = 0;
    if (decision.ok) this.decision = decision;
    const message = decision.message ?? (decision.ok ? 'Access granted' : 'Access denied');
    const reason = decision.ok ? '' : decision.reason;
    this.authenticator.decide(decision.ok, message, reason);
    this.syncPhase();
  }

  // ── Control protocols ────────────────────────────────────────────────────

  private handleControlFrame(protocol: number, information: Buffer): void {
    if (protocol === Protocol.LCP) return this.receiveControl(this.lcp, protocol, information);
    // RFC 1661 §3.4: until LCP is Opened, everything else is silently discarded.
    if (this.lcp.state !== 'opened') {
      this.counters.outOfPhase++;
      return;
    }
    switch (protocol) {
      case Protocol.PAP:
      case Protocol.CHAP:
        return this.receiveAuth(protocol, information);
      case Protocol.CCP:
        if (this.mppePolicy.bits.length === 0 || this.phaseValue !== 'network') {
          // We do no compression or encryption: RFC 1661 §5.7 Protocol-Reject.
          if (this.mppePolicy.bits.length === 0)
            return this.sendProtocolReject(protocol, information);
          this.counters.outOfPhase++;
          return;
        }
        return this.receiveControl(this.ccp, protocol, information);
      case Protocol.IPCP:
        if (this.phaseValue !== 'network') {
          this.counters.outOfPhase++;
          return;
        }
        return this.receiveControl(this.ipcp, protocol, information);
      default:
        return this.sendProtocolReject(protocol, information);
    }
  }

  /** A packet for one of the automata (LCP, IPCP, CCP). */
  private receiveControl(fsm: Fsm, protocol: number, information: Buffer): void {
    const packet = decodeControlPacket(information);
    if (!packet.ok) {
      this.counters.malformed++;
      return;
    }
    this.trace('rcvd', protocol, information);
    fsm.receive(packet.value);
  }

  private receiveAuth(protocol: number, information: Buffer): void {
    const packet = decodeControlPacket(information);
    if (!packet.ok) {
      this.counters.malformed++;
      return;
    }
    this.trace('rcvd', protocol, information);
    const p: ControlPacket = packet.value;
    if (protocol === Protocol.PAP) {
      if (p.code === 1 && this.authenticator instanceof PapAuthenticator)
        return this.authenticator.receive(p);
      if (p.code !== 1 && this.authenticatee instanceof PapAuthenticatee)
        return this.authenticatee.receive(p);
    } else {
      if (p.code === 2 && this.authenticator instanceof ChapAuthenticator)
        return this.authenticator.receive(p);
      if (p.code !== 2 && this.authenticatee instanceof ChapAuthenticatee)
        return this.authenticatee.receive(p);
    }
    this.counters.outOfPhase++;
  }

  private sendProtocolReject(protocol: number, information: Buffer): void {
    // RFC 1661 §5.7: Rejected-Protocol then as much of the information as fits the peer's MRU.
    const room = Math.max(0, this.peerMru - 4 - 2);
    const data = Buffer.allocUnsafe(2 + Math.min(information.length, room));
    data.writeUInt16BE(protocol, 0);
    information.copy(data, 2, 0, data.length - 2);
    this.counters.protocolRejectsSent++;
    this.lcp.sendWithNewId(Code.PROTOCOL_REJECT, data);
  }

  private protocolRejected(protocol: number): void {
    if (protocol === Protocol.LCP) {
      this.lcp.protocolRejected();
    } else if (protocol === Protocol.IPCP || protocol === Protocol.IP) {
      this.ipcp.protocolRejected();
    } else if (protocol === Protocol.CCP || protocol === Protocol.COMPRESSED) {
      this.ccp.protocolRejected();
    }
  }

  private sendControl(protocol: number, packet: Buffer): void {
    // RFC 1661 §6.6: LCP packets always carry the full Address and Control fields.
    const options = protocol === Protocol.LCP ? UNCOMPRESSED : this.sendOptions;
    const frame = encodeFrame(protocol, packet, options);
    this.counters.framesOut++;
    this.counters.bytesOut += frame.length;
    this.trace('sent', protocol, packet);
    this.outbox.push(frame);
  }

  private trace(direction: 'sent' | 'rcvd', protocol: number, packet: Buffer): void {
    if (this.config.trace)
      this.emit({ type: 'packet', direction, line: formatPacketLine(direction, protocol, packet) });
  }

  // ── LCP layer events ─────────────────────────────────────────────────────

  private lcpUp(n: LcpNegotiated): void {
    this.peerMru = n.peerMru;
    this.sendOptions = { acfc: n.sendAcfc, pfc: n.sendPfc };
    this.emit({
      type: 'link-params',
      sendAccm: n.sendAccm,
      recvAccm: n.recvAccm,
      mru: n.mru,
      peerMru: n.peerMru,
    });
    const interval = this.config.lcp?.echoIntervalMs ?? DEFAULT_ECHO_INTERVAL_MS;
    this.echoOutstanding = 0;
    this.echoDeadline = interval > 0 ? this.nowMs + interval : undefined;

    if (this.config.authRequired.length > 0 && n.authPeerWith === undefined) {
      const wanted = sortByStrength(this.config.authRequired).join(', ');
      this.deferClose(`peer refused to authenticate (we require one of: ${wanted})`);
      return;
    }
    this.startAuthentication(n);
  }

  private lcpDown(): void {
    this.echoDeadline = undefined;
    this.authDeadline = undefined;
    this.sessionDeadline = undefined;
    this.idleDeadline = undefined;
    this.authenticator = undefined;
    this.authenticatee = undefined;
    this.awaitingToken = 0;
    this.authPeerDone = false;
    this.authUsDone = false;
    this.sendOptions = UNCOMPRESSED;
    this.peerMru = DEFAULT_MRU;
    this.ipcp.down();
    this.ipcp.close('LCP down');
    this.ccp.down();
    this.ccp.close('LCP down');
    this.ipcpOpen = false;
    this.waitForCcp = false;
    this.mppeKeys = undefined;
  }

  private lcpFinished(reason: string): void {
    if (!this.endReason) this.endReason = reason;
  }

  private keepaliveTick(): void {
    const failure = this.config.lcp?.echoFailure ?? DEFAULT_ECHO_FAILURE;
    const interval = this.config.lcp?.echoIntervalMs ?? DEFAULT_ECHO_INTERVAL_MS;
    if (this.lcp.state !== 'opened') {
      this.echoDeadline = undefined;
      return;
    }
    if (failure > 0 && this.echoOutstanding >= failure) {
      this.echoDeadline = undefined;
      this.emit({ type: 'keepalive-lost', missed: this.echoOutstanding });
      this.close(`peer not responding: no reply to ${this.echoOutstanding} LCP echo-requests`);
      return;
    }
    const magic = Buffer.allocUnsafe(4);
    magic.writeUInt32BE(this.lcpHandler.negotiated.magic >>> 0, 0);
    this.lcp.sendWithNewId(Code.ECHO_REQUEST, magic);
    this.echoOutstanding++;
    this.echoDeadline = this.nowMs + interval;
  }

  // ── Authentication ───────────────────────────────────────────────────────

  private canAuthenticateAs(method: AuthMethod): boolean {
    const c = this.config.credentials;
    if (c === undefined || !this.config.authAllowed.includes(method)) return false;
    if (this.config.chapResponder !== undefined && method !== 'pap') return true;
    if (method === 'pap' || method === 'chap-md5') return c.password !== undefined;
    return c.password !== undefined || c.ntHash?.length === 16;
  }

  private authPhaseMs(): number {
    return this.config.auth?.phaseTimeoutMs ?? DEFAULT_AUTH_PHASE_MS;
  }

  private startAuthentication(n: LcpNegotiated): void {
    this.authPeerDone = n.authPeerWith === undefined;
    this.authUsDone = n.authUsWith === undefined;
    this.decision = undefined;
    this.mppeKeys = undefined;
    this.keysAsAuthenticator = undefined;
    this.keysAsPeer = undefined;
    if (this.authPeerDone && this.authUsDone) return this.enterNetwork();
    this.authDeadline = this.nowMs + this.authPhaseMs();

    const peerMethod = n.authPeerWith;
    if (peerMethod === 'pap') {
      const pap = new PapAuthenticator(
        this.authCtx,
        this.authTimers,
        (r) => this.requestAuth(r),
        this.authenticatorOutcome('pap'),
      );
      this.authenticator = pap;
      pap.start();
    } else if (peerMethod !== undefined) {
      const chap = new ChapAuthenticator(
        this.authCtx,
        this.authTimers,
        peerMethod,
        this.config.ourName,
        this.config.auth?.rechallengeMs ?? 0,
        (r) => this.requestAuth(r),
        this.authenticatorOutcome(peerMethod),
      );
      this.authenticator = chap;
      chap.start();
    }

    const usMethod = n.authUsWith;
    const credentials = this.config.credentials;
    if (usMethod !== undefined && credentials !== undefined) {
      const outcome = this.authenticateeOutcome(usMethod);
      if (usMethod === 'pap') {
        const pap = new PapAuthenticatee(
          this.authCtx,
          this.authTimers,
          credentials.name,
          credentials.password ?? '',
          outcome,
        );
        this.authenticatee = pap;
        pap.start();
      } else {
        this.authenticatee = new ChapAuthenticatee(
          this.authCtx,
          usMethod,
          credentials.name,
          this.config.chapResponder ?? defaultResponder(credentials, this.random),
          outcome,
        );
      }
    }
  }

  private requestAuth(r: PapVerification | ChapVerification): void {
    const base = {
      peerName: r.peerName,
      ourName: this.config.ourName,
      source: this.config.source ?? 'unknown',
    };
    const request: AuthRequest =
      'method' in r
        ? {
            ...base,
            method: r.method,
            identifier: r.identifier,
            challenge: r.challenge,
            response: r.response,
          }
        : { ...base, method: 'pap', password: r.password };
    const token = this.nextAuthToken++;
    this.awaitingToken = token;
    this.authPeerName = r.peerName;
    this.authQueue.push({ token, request });
  }

  private authenticatorOutcome(method: AuthMethod) {
    return {
      succeeded: (peerName: string) => {
        this.authPeerDone = true;
        this.emit({ type: 'auth-success', role: 'authenticator', method, peerName });
        if (this.decision?.sessionTimeout)
          this.sessionDeadline = this.nowMs + this.decision.sessionTimeout * 1000;
        if (this.decision?.remoteAddress)
          this.ipcpHandler.assignedRemote = addressOrZero(this.decision.remoteAddress);
        if (this.decision?.mppeKeys) this.keysAsAuthenticator = this.decision.mppeKeys;
        if (this.decision?.idleTimeout) {
          this.idleMs = this.decision.idleTimeout * 1000;
          this.idleDeadline = this.nowMs + this.idleMs;
        }
        this.authProgress();
      },
      failed: (reason: string) => {
        this.emit({
          type: 'auth-failure',
          role: 'authenticator',
          method,
          peerName: this.authPeerName,
          reason,
        });
        this.close(`authentication of the peer failed: ${reason}`);
      },
    };
  }

  private authenticateeOutcome(method: AuthMethod) {
    return {
      succeeded: (name: string) => {
        this.authUsDone = true;
        if (this.authenticatee instanceof ChapAuthenticatee)
          this.keysAsPeer = this.authenticatee.mppeKeys;
        this.emit({ type: 'auth-success', role: 'peer', method, peerName: name });
        this.authProgress();
      },
      failed: (reason: string) => {
        this.emit({
          type: 'auth-failure',
          role: 'peer',
          method,
          peerName: this.config.credentials?.name ?? '',
          reason,
        });
        this.close(`the peer did not accept our authentication: ${reason}`);
      },
    };
  }

  private authProgress(): void {
    if (!this.authPeerDone || !this.authUsDone || this.phaseValue === 'network') return;
    this.authDeadline = undefined;
    this.enterNetwork();
  }

  // ── Network ──────────────────────────────────────────────────────────────

  /**
   * RFC 3079 derives keys from one MS-CHAP exchange. When both sides authenticated
   * each other there are two; both ends pick the exchange in which the side with the
   * larger LCP Magic-Number was the authenticator, so they agree without talking.
   */
  private chooseMppeKeys(): MppeMasterKeys | undefined {
    const mine = this.keysAsAuthenticator;
    const theirs = this.keysAsPeer;
    if (mine === undefined || theirs === undefined) return mine ?? theirs;
    const n = this.lcpHandler.negotiated;
    return n.magic >>> 0 > n.peerMagic >>> 0 ? mine : theirs;
  }

  private enterNetwork(): void {
    this.setPhase('network');
    this.mppeKeys = this.chooseMppeKeys();
    const mppeWanted = this.mppePolicy.bits.length > 0;
    if (mppeWanted && this.mppeKeys === undefined) {
      if (this.mppePolicy.required) {
        this.deferClose('MPPE is required but no MS-CHAP authentication gave keys for it');
        return;
      }
    } else if (mppeWanted) {
      this.waitForCcp = true;
      this.ccp.open();
      this.ccp.up();
    }
    this.ipcp.open();
    this.ipcp.up();
  }

  private ipDown(): void {
    if (!this.networkUp) return;
    this.networkUp = false;
    this.emit({ type: 'ip-down' });
  }

  // ── Phases and events ────────────────────────────────────────────────────

  /**
   * Closing LCP from inside an automaton's own transition would re-enter it; such
   * closes wait until the current input has been fully processed.
   */
  private deferClose(reason: string): void {
    if (this.pendingClose === undefined) this.pendingClose = reason;
  }

  private syncPhase(): void {
    if (this.pendingClose !== undefined) {
      const reason = this.pendingClose;
      this.pendingClose = undefined;
      if (this.lcp.state === 'opened') this.close(reason);
    }
    const s = this.lcp.state;
    let next: Phase;
    if (s === 'opened') {
      next =
        this.phaseValue === 'network'
          ? 'network'
          : this.authPeerDone && this.authUsDone
            ? 'network'
            : 'authenticate';
    } else if (s === 'closing' || s === 'stopping') {
      next = 'terminate';
    } else if (s === 'req-sent' || s === 'ack-rcvd' || s === 'ack-sent') {
      next = 'establish';
    } else {
      next = 'dead';
    }
    if (next === this.phaseValue) return;
    this.setPhase(next);
  }

  private setPhase(next: Phase): void {
    const previous = this.phaseValue;
    if (next === previous) return;
    this.phaseValue = next;
    this.emit({ type: 'phase', phase: next, previous });
    if (next === 'dead') {
      this.emit({ type: 'terminated', reason: this.endReason || 'link terminated' });
    }
  }

  private emit(event: SessionEvent): void {
    this.eventQueue.push(event);
  }
}

function addressOrZero(text: string | undefined): number {
  if (text === undefined) return 0;
  return parseIpv4(text) ?? 0;
}

/** The default CHAP responder: MD5 from the password; MS-CHAP from the password or NT hash. */
export function defaultResponder(
  credentials: PeerCredentials,
  random: (n: number) => Buffer,
): ChapResponder {
  return ({ method, identifier, challenge }) => {
    if (method === 'chap-md5') {
      if (credentials.password === undefined)
        return err('no-secret', 'CHAP-MD5 needs the password, not an NT hash');
      return ok({ value: chapMd5Response(identifier, credentials.password, challenge) });
    }
    if (method === 'mschap') {
      const r = mschapV1PeerResponse({ credentials, challenge });
      return r.ok ? ok({ value: r.value.value, mppeKeys: r.value.mppeKeys }) : r;
    }
    const r = mschapV2PeerResponse({
      credentials,
      authenticatorChallenge: challenge,
      peerChallenge: random(16),
      identifier,
    });
    if (!r.ok) return r;
    const expected = r.value.expectedAuthenticatorResponse;
    return ok({
      value: r.value.value,
      mppeKeys: r.value.mppeKeys,
      checkSuccess: (message: Buffer) => checkMschapV2Success(expected, message).ok,
    });
  };
}
