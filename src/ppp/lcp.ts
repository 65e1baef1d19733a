/**
 * LCP (RFC 1661 §5-6): the option table fed to the shared automaton, and the
 * LCP-only codes (Protocol-Reject, Echo, Discard). Authentication-Protocol carries
 * PAP (RFC 1334) and CHAP (RFC 1994) with algorithm MD5 (5), MS-CHAP (0x80) or
 * MS-CHAPv2 (0x81).
 */
import type { AuthMethod } from './events.js';
import type { Fsm, FsmHandler, RequestVerdict } from './fsm.js';
import {
  Code,
  type ConfigOption,
  type ControlPacket,
  option,
  rejectNamesOurOptions,
  u16,
  u32,
} from './packet.js';
import { Protocol } from './protocol.js';

export const LcpOption = {
  MRU: 1,
  ACCM: 2,
  AUTH_PROTOCOL: 3,
  QUALITY_PROTOCOL: 4,
  MAGIC_NUMBER: 5,
  PFC: 7,
  ACFC: 8,
  CALLBACK: 13,
  MRRU: 17,
  SHORT_SEQUENCE: 18,
  ENDPOINT_DISCRIMINATOR: 19,
} as const;

export const DEFAULT_MRU = 1500;
/** pppd's MINMRU: a smaller MRU is Nak'd with this value. */
export const MIN_MRU = 128;

/** CHAP algorithm octets (RFC 1994 §3, RFC 2433 §2, RFC 2759 §2). */
export const ChapAlgorithm = { MD5: 5, MSCHAP: 0x80, MSCHAP_V2: 0x81 } as const;

/** Strongest first: CHAP variants are always offered before PAP. */
export const AUTH_STRENGTH: readonly AuthMethod[] = ['mschap-v2', 'mschap', 'chap-md5', 'pap'];

export function sortByStrength(methods: readonly AuthMethod[]): AuthMethod[] {
  return AUTH_STRENGTH.filter((m) => methods.includes(m));
}

export function encodeAuthOption(method: AuthMethod): ConfigOption {
  switch (method) {
    case 'pap':
      return option(LcpOption.AUTH_PROTOCOL, u16(Protocol.PAP));
    case 'chap-md5':
      return option(LcpOption.AUTH_PROTOCOL, Buffer.from([0xc2, 0x23, ChapAlgorithm.MD5]));
    case 'mschap':
      return option(LcpOption.AUTH_PROTOCOL, Buffer.from([0xc2, 0x23, ChapAlgorithm.MSCHAP]));
    case 'mschap-v2':
      return option(LcpOption.AUTH_PROTOCOL, Buffer.from([0xc2, 0x23, ChapAlgorithm.MSCHAP_V2]));
  }
}

/** The method an Authentication-Protocol option names, or undefined when unknown/malformed. */
export function decodeAuthOption(data: Buffer): AuthMethod | undefined {
  if (data.length < 2) return undefined;
  const protocol = data.readUInt16BE(0);
  if (protocol === Protocol.PAP) return data.length === 2 ? 'pap' : undefined;
  if (protocol !== Protocol.CHAP || data.length !== 3) return undefined;
  switch (data[2]) {
    case ChapAlgorithm.MD5:
      return 'chap-md5';
    case ChapAlgorithm.MSCHAP:
      return 'mschap';
    case ChapAlgorithm.MSCHAP_V2:
      return 'mschap-v2';
    default:
      return undefined;
  }
}

export interface LcpConfig {
  /** Our MRU; requested only when it differs from 1500 (as pppd does). */
  readonly mru: number;
  /** Request this async-control-character-map (async links); undefined: do not request. */
  readonly asyncmap: number | undefined;
  readonly magic: boolean;
  readonly pfc: boolean;
  readonly acfc: boolean;
  /** Methods we demand of the peer (we are the authenticator). Empty: no authentication. */
  readonly authRequired: readonly AuthMethod[];
  /** Methods we accept when the peer authenticates us. */
  readonly authAllowed: readonly AuthMethod[];
}

/** What LCP agreed, from both directions. */
export interface LcpNegotiated {
  /** Largest Information field we may receive. */
  mru: number;
  /** Largest Information field we may send (the peer's MRU). */
  peerMru: number;
  /** ACCM the peer uses towards us. */
  recvAccm: number;
  /** ACCM we use towards the peer. */
  sendAccm: number;
  magic: number;
  peerMagic: number;
  /** We authenticate the peer with this method. */
  authPeerWith: AuthMethod | undefined;
  /** The peer authenticates us with this method. */
  authUsWith: AuthMethod | undefined;
  /** We may send compressed protocol / address-control fields. */
  sendPfc: boolean;
  sendAcfc: boolean;
}

export interface LcpEvents {
  up(negotiated: LcpNegotiated): void;
  down(): void;
  started(): void;
  finished(reason: string): void;
  echoReply(identifier: number, magic: number): void;
  protocolRejected(protocol: number): void;
  loopback(): void;
}

/** Loopback is declared after this many consecutive Magic-Number collisions (RFC 1661 §6.4). */
const LOOPBACK_LIMIT = 5;

export class LcpHandler implements FsmHandler {
  readonly name = 'LCP';
  readonly protocol = Protocol.LCP;
  /** Our current wishes; options the peer rejected are switched off. */
  private wantMru: number | undefined;
  private wantAccm: number | undefined;
  private wantMagic = 0;
  private wantPfc = false;
  private wantAcfc = false;
  private authChoices: AuthMethod[] = [];
  private authIndex = 0;
  private magicCollisions = 0;
  readonly negotiated: LcpNegotiated = freshNegotiated();
  /** Peer-side values seen in the request we last acked. */
  private pending: Partial<LcpNegotiated> = {};

  constructor(
    private readonly config: LcpConfig,
    private readonly events: LcpEvents,
    private readonly random32: () => number,
    private readonly canAuthenticateAs: (method: AuthMethod) => boolean,
  ) {
    this.resetOptions();
  }

  resetOptions(): void {
    this.wantMru = this.config.mru !== DEFAULT_MRU ? this.config.mru : undefined;
    this.wantAccm = this.config.asyncmap;
    this.wantMagic = this.config.magic ? this.newMagic() : 0;
    this.wantPfc = this.config.pfc;
    this.wantAcfc = this.config.acfc;
    this.authChoices = sortByStrength(this.config.authRequired);
    this.authIndex = 0;
    this.magicCollisions = 0;
    Object.assign(this.negotiated, freshNegotiated());
    this.pending = {};
  }

  /** The method we currently ask for, if any. */
  get requestedAuth(): AuthMethod | undefined {
    return this.authChoices[this.authIndex];
  }

  ourOptions(): ConfigOption[] {
    const out: ConfigOption[] = [];
    if (this.wantMru !== undefined) out.push(option(LcpOption.MRU, u16(this.wantMru)));
    if (this.wantAccm !== undefined) out.push(option(LcpOption.ACCM, u32(this.wantAccm)));
    const auth = this.requestedAuth;
    if (auth !== undefined) out.push(encodeAuthOption(auth));
    if (this.wantMagic !== 0) out.push(option(LcpOption.MAGIC_NUMBER, u32(this.wantMagic)));
    if (this.wantPfc) out.push(option(LcpOption.PFC));
    if (this.wantAcfc) out.push(option(LcpOption.ACFC));
    return out;
  }

  evaluateRequest(options: readonly ConfigOption[], _allowNak: boolean): RequestVerdict {
    const naks: ConfigOption[] = [];
    const rejects: ConfigOption[] = [];
    const seen: Partial<LcpNegotiated> = {
      peerMru: DEFAULT_MRU,
      sendAccm: 0xffffffff,
      peerMagic: 0,
    };
    for (const o of options) {
      switch (o.type) {
        case LcpOption.MRU: {
          if (o.data.length !== 2) {
            rejects.push(o);
            break;
          }
          const mru = o.data.readUInt16BE(0);
          // pppd: an MRU below MINMRU is Nak'd with MINMRU.
          if (mru < MIN_MRU) naks.push(option(LcpOption.MRU, u16(MIN_MRU)));
          else seen.peerMru = mru;
          break;
        }
        case LcpOption.ACCM:
          if (o.data.length !== 4) rejects.push(o);
          else seen.sendAccm = o.data.readUInt32BE(0);
          break;
        case LcpOption.AUTH_PROTOCOL: {
          const method = decodeAuthOption(o.data);
          const acceptable = sortByStrength(this.config.authAllowed).filter((m) =>
            this.canAuthenticateAs(m),
          );
          if (method !== undefined && acceptable.includes(method)) {
            seen.authUsWith = method;
          } else if (acceptable.length > 0 && o.data.length >= 2) {
            naks.push(encodeAuthOption(acceptable[0]!));
          } else {
            rejects.push(o);
          }
          break;
        }
        case LcpOption.MAGIC_NUMBER: {
          if (o.data.length !== 4) {
            rejects.push(o);
            break;
          }
          const magic = o.data.readUInt32BE(0);
          if (magic === 0 || (this.wantMagic !== 0 && magic === this.wantMagic)) {
            // RFC 1661 §6.4: zero is illegal; an equal number suggests a looped-back line.
            if (magic !== 0) this.noteCollision();
            naks.push(option(LcpOption.MAGIC_NUMBER, u32(this.newMagic())));
          } else {
            seen.peerMagic = magic;
          }
          break;
        }
        case LcpOption.PFC:
          if (o.data.length !== 0) rejects.push(o);
          else seen.sendPfc = true;
          break;
        case LcpOption.ACFC:
          if (o.data.length !== 0) rejects.push(o);
          else seen.sendAcfc = true;
          break;
        default:
          // Quality-Protocol, Callback, multilink and anything unknown (RFC 1661 §5.4).
          rejects.push(o);
      }
    }
    if (rejects.length > 0) return { kind: 'reject', options: rejects };
    if (naks.length > 0) return { kind: 'nak', options: naks };
    this.pending = seen;
    return { kind: 'ack' };
  }

  acked(options: readonly ConfigOption[]): void {
    const n = this.negotiated;
    n.mru = DEFAULT_MRU;
    n.recvAccm = 0xffffffff;
    n.magic = 0;
    n.authPeerWith = undefined;
    for (const o of options) {
      if (o.type === LcpOption.MRU) n.mru = o.data.readUInt16BE(0);
      else if (o.type === LcpOption.ACCM) n.recvAccm = o.data.readUInt32BE(0);
      else if (o.type === LcpOption.MAGIC_NUMBER) n.magic = o.data.readUInt32BE(0);
      else if (o.type === LcpOption.AUTH_PROTOCOL) n.authPeerWith = decodeAuthOption(o.data);
    }
  }

  naked(options: readonly ConfigOption[]): boolean {
    for (const o of options) {
      switch (o.type) {
        case LcpOption.MRU: {
          if (o.data.length !== 2) return false;
          const mru = o.data.readUInt16BE(0);
          // pppd lcp_nakci: take the suggestion if it is no larger than we want or the default.
          if (mru >= MIN_MRU && (mru <= this.config.mru || mru <= DEFAULT_MRU)) this.wantMru = mru;
          break;
        }
        case LcpOption.ACCM:
          if (o.data.length !== 4) return false;
          if (this.wantAccm !== undefined)
            this.wantAccm = (this.wantAccm | o.data.readUInt32BE(0)) >>> 0;
          break;
        case LcpOption.AUTH_PROTOCOL: {
          if (this.requestedAuth === undefined) break;
          const suggested = decodeAuthOption(o.data);
          if (suggested !== undefined && this.authChoices.includes(suggested)) {
            this.authIndex = this.authChoices.indexOf(suggested);
          } else {
            // The peer cannot do what we asked: try our next method (pppd does the same).
            this.authIndex++;
          }
          break;
        }
        case LcpOption.MAGIC_NUMBER:
          if (o.data.length !== 4) return false;
          if (this.wantMagic !== 0) {
            this.noteCollision();
            this.wantMagic = this.newMagic();
          }
          break;
        case LcpOption.PFC:
          this.wantPfc = false;
          break;
        case LcpOption.ACFC:
          this.wantAcfc = false;
          break;
        default:
          // Suggestions for options we did not request are ignored (RFC 1661 §5.3 allows them).
          break;
      }
    }
    return true;
  }

  rejected(options: readonly ConfigOption[]): boolean {
    if (!rejectNamesOurOptions(this.ourOptions(), options)) return false;
    for (const o of options) {
      switch (o.type) {
        case LcpOption.MRU:
          this.wantMru = undefined;
          break;
        case LcpOption.ACCM:
          this.wantAccm = undefined;
          break;
        case LcpOption.AUTH_PROTOCOL:
          this.authIndex = this.authChoices.length;
          break;
        case LcpOption.MAGIC_NUMBER:
          this.wantMagic = 0;
          break;
        case LcpOption.PFC:
          this.wantPfc = false;
          break;
        case LcpOption.ACFC:
          this.wantAcfc = false;
          break;
      }
    }
    return true;
  }

  layerUp(): void {
    const n = this.negotiated;
    n.peerMru = this.pending.peerMru ?? DEFAULT_MRU;
    n.sendAccm = this.pending.sendAccm ?? 0xffffffff;
    n.peerMagic = this.pending.peerMagic ?? 0;
    n.authUsWith = this.pending.authUsWith;
    n.sendPfc = this.pending.sendPfc ?? false;
    n.sendAcfc = this.pending.sendAcfc ?? false;
    this.magicCollisions = 0;
    this.events.up(n);
  }

  layerDown(): void {
    this.events.down();
  }

  layerStarted(): void {
    this.events.started();
  }

  layerFinished(reason: string): void {
    this.events.finished(reason);
  }

  extraCode(packet: ControlPacket, fsm: Fsm): 'handled' | 'unknown' {
    const opened = fsm.state === 'opened';
    switch (packet.code) {
      case Code.PROTOCOL_REJECT:
        // RFC 1661 §5.7: only meaningful in Opened; carries the rejected protocol.
        if (opened && packet.data.length >= 2)
          this.events.protocolRejected(packet.data.readUInt16BE(0));
        return 'handled';
      case Code.ECHO_REQUEST: {
        if (!opened || packet.data.length < 4) return 'handled';
        const magic = packet.data.readUInt32BE(0);
        if (magic !== 0 && magic === this.negotiated.magic) {
          this.events.loopback();
          return 'handled';
        }
        // RXR in Opened: ser. The reply carries our Magic-Number and echoes the rest.
        const reply = Buffer.from(packet.data);
        reply.writeUInt32BE(this.negotiated.magic >>> 0, 0);
        fsm.sendPacket(Code.ECHO_REPLY, packet.identifier, reply);
        return 'handled';
      }
      case Code.ECHO_REPLY:
        if (opened && packet.data.length >= 4)
          this.events.echoReply(packet.identifier, packet.data.readUInt32BE(0));
        return 'handled';
      case Code.DISCARD_REQUEST:
      case Code.IDENTIFICATION:
      case Code.TIME_REMAINING:
        return 'handled';
      default:
        return 'unknown';
    }
  }

  rejectedCodeIsPermitted(code: number): boolean {
    // RFC 1661 §5.6: rejecting Echo/Discard/Identification is survivable; Protocol-Reject is not.
    return code !== Code.PROTOCOL_REJECT;
  }

  private newMagic(): number {
    let m = 0;
    while (m === 0 || m === this.negotiated.peerMagic) m = this.random32() >>> 0;
    return m;
  }

  private noteCollision(): void {
    this.magicCollisions++;
    if (this.magicCollisions >= LOOPBACK_LIMIT) this.events.loopback();
  }
}

function freshNegotiated(): LcpNegotiated {
  return {
    mru: DEFAULT_MRU,
    peerMru: DEFAULT_MRU,
    recvAccm: 0xffffffff,
    sendAccm: 0xffffffff,
    magic: 0,
    peerMagic: 0,
    authPeerWith: undefined,
    authUsWith: undefined,
    sendPfc: false,
    sendAcfc: false,
  };
}
