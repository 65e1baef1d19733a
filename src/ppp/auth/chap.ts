/**
 * CHAP (RFC 1994) — the codec and both roles, shared by the MD5 algorithm and the
 * Microsoft variants (RFC 2433, RFC 2759), which differ only in challenge size,
 * response computation and the Success/Failure message formats.
 */
import type { AuthMethod } from '../events.js';
import { type ControlPacket, encodeControlPacket } from '../packet.js';
import { Protocol } from '../protocol.js';
import { err, ok, type Result } from '../result.js';
import type { AuthContext, AuthTimers } from './context.js';
import type { AuthOutcome } from './pap.js';

export const ChapCode = { CHALLENGE: 1, RESPONSE: 2, SUCCESS: 3, FAILURE: 4 } as const;

interface ChapValueMessage {
  readonly identifier: number;
  readonly value: Buffer;
  readonly name: Buffer;
}

interface ChapResultMessage {
  readonly identifier: number;
  readonly message: Buffer;
}

export type ChapMessage =
  | (ChapValueMessage & { readonly code: 1 })
  | (ChapValueMessage & { readonly code: 2 })
  | (ChapResultMessage & { readonly code: 3 })
  | (ChapResultMessage & { readonly code: 4 });

export function decodeChap(packet: ControlPacket): Result<ChapMessage> {
  const d = packet.data;
  if (packet.code === ChapCode.CHALLENGE || packet.code === ChapCode.RESPONSE) {
    if (d.length < 1) return err('truncated', 'CHAP packet has no Value-Size');
    const size = d[0]!;
    if (size === 0) return err('bad-length', 'CHAP Value-Size is zero');
    if (d.length < 1 + size)
      return err('truncated', `CHAP Value of ${size} octets runs past the packet`);
    const body = {
      identifier: packet.identifier,
      value: d.subarray(1, 1 + size),
      name: d.subarray(1 + size),
    };
    return ok(packet.code === ChapCode.CHALLENGE ? { code: 1, ...body } : { code: 2, ...body });
  }
  if (packet.code === ChapCode.SUCCESS || packet.code === ChapCode.FAILURE) {
    const body = { identifier: packet.identifier, message: d };
    return ok(packet.code === ChapCode.SUCCESS ? { code: 3, ...body } : { code: 4, ...body });
  }
  return err('unknown-code', `CHAP code ${packet.code} is not defined`);
}

export function encodeChapValue(
  code: 1 | 2,
  identifier: number,
  value: Buffer,
  name: string,
): Buffer {
  if (value.length === 0 || value.length > 255)
    throw new RangeError('CHAP Value must be 1..255 octets');
  return encodeControlPacket(
    code,
    identifier,
    Buffer.concat([Buffer.from([value.length]), value, Buffer.from(name, 'utf8')]),
  );
}

export function encodeChapResult(code: 3 | 4, identifier: number, message: string): Buffer {
  return encodeControlPacket(code, identifier, Buffer.from(message, 'utf8'));
}

type ChapMethod = Exclude<AuthMethod, 'pap'>;

/** Challenge lengths: 16 octets for MD5 (at least) and MS-CHAPv2, 8 for MS-CHAPv1. */
export function challengeLength(method: ChapMethod): number {
  return method === 'mschap' ? 8 : 16;
}

/** The Response Value length each algorithm must produce. */
export function responseLength(method: ChapMethod): number {
  return method === 'chap-md5' ? 16 : 49;
}

export interface ChapVerification {
  readonly method: ChapMethod;
  readonly identifier: number;
  readonly challenge: Buffer;
  readonly response: Buffer;
  readonly peerName: string;
}

/** We authenticate the peer with CHAP (any algorithm). */
export class ChapAuthenticator {
  private identifier: number;
  private challenge: Buffer = Buffer.alloc(0);
  private transmits = 0;
  private deadline: number | undefined;
  private pending = false;
  /** The last verdict and the identifier it answered, for a retransmitted Response. */
  private verdict: { identifier: number; code: 3 | 4; message: string } | undefined;
  private authenticated = false;
  private finished = false;
  private peerName = '';

  constructor(
    private readonly ctx: AuthContext,
    private readonly timers: AuthTimers,
    readonly method: ChapMethod,
    private readonly ourName: string,
    /** Seconds between re-challenges once authenticated (pppd chap-interval); 0 = never. */
    private readonly rechallengeMs: number,
    private readonly verify: (request: ChapVerification) => void,
    private readonly outcome: AuthOutcome,
  ) {
    this.identifier = ctx.random(1)[0]!;
  }

  get timeout(): number | undefined {
    return this.deadline;
  }

  start(): void {
    this.transmits = 0;
    this.sendChallenge();
  }

  handleTimeout(now: number): void {
    if (this.deadline === undefined || now < this.deadline || this.finished) return;
    this.deadline = undefined;
    if (this.authenticated && this.transmits === 0) {
      // The chap-interval timer: challenge again.
      this.sendChallenge();
      return;
    }
    if (this.transmits >= this.timers.maxTransmits) {
      this.finished = true;
      this.outcome.failed(`CHAP: no response to ${this.transmits} Challenges`);
      return;
    }
    this.sendChallenge();
  }

  receive(packet: ControlPacket): void {
    if (packet.code !== ChapCode.RESPONSE || this.finished) return;
    const decoded = decodeChap(packet);
    if (!decoded.ok || decoded.value.code !== ChapCode.RESPONSE) return;
    const response = decoded.value;
    if (this.verdict !== undefined && response.identifier === this.verdict.identifier) {
      // RFC 1994 §4.2: the peer lost our Success/Failure; send it again.
      this.ctx.send(
        Protocol.CHAP,
        encodeChapResult(this.verdict.code, this.verdict.identifier, this.verdict.message),
      );
      return;
    }
    // A Response to an older Challenge, or while one is being verified, is dropped.
    if (response.identifier !== this.identifier || this.pending || this.transmits === 0) return;
    if (response.value.length !== responseLength(this.method)) return;
    this.pending = true;
    this.deadline = undefined;
    this.peerName = response.name.toString('utf8');
    this.verify({
      method: this.method,
      identifier: this.identifier,
      challenge: this.challenge,
      response: Buffer.from(response.value),
      peerName: this.peerName,
    });
  }

  /** The Authenticator's verdict for the pending Response. */
  decide(accepted: boolean, message: string, reason: string): void {
    if (!this.pending || this.finished) return;
    this.pending = false;
    this.transmits = 0;
    this.verdict = { identifier: this.identifier, code: accepted ? 3 : 4, message };
    this.ctx.send(Protocol.CHAP, encodeChapResult(this.verdict.code, this.identifier, message));
    if (!accepted) {
      this.finished = true;
      this.outcome.failed(reason);
      return;
    }
    const first = !this.authenticated;
    this.authenticated = true;
    if (this.rechallengeMs > 0) this.deadline = this.ctx.now() + this.rechallengeMs;
    if (first) this.outcome.succeeded(this.peerName, message);
  }

  private sendChallenge(): void {
    // RFC 1994 §4.1: a new Identifier and a fresh random Value with every Challenge.
    this.identifier = (this.identifier + 1) & 0xff;
    this.challenge = this.ctx.random(challengeLength(this.method));
    this.transmits++;
    this.deadline = this.ctx.now() + this.timers.restartMs;
    this.ctx.send(
      Protocol.CHAP,
      encodeChapValue(ChapCode.CHALLENGE, this.identifier, this.challenge, this.ourName),
    );
  }
}

/** How the authenticatee computes a Response and checks the Success message. */
export interface ChapResponse {
  readonly value: Buffer;
  /** Checks the Success message (MS-CHAPv2's S=); absent: any Success is accepted. */
  readonly checkSuccess?: (message: Buffer) => boolean;
  /** MPPE master keys of this side, valid once Success is accepted (MS-CHAP). */
  readonly mppeKeys?: { readonly send: Buffer; readonly recv: Buffer };
}

export type ChapResponder = (input: {
  readonly method: ChapMethod;
  readonly identifier: number;
  readonly challenge: Buffer;
  readonly authenticatorName: string;
}) => Result<ChapResponse>;

/** We are authenticated by the peer with CHAP. */
export class ChapAuthenticatee {
  private lastIdentifier = -1;
  private lastResponse: ChapResponse | undefined;
  private authenticated = false;
  private finished = false;
  /** MPPE master keys from the last accepted exchange. */
  mppeKeys: { readonly send: Buffer; readonly recv: Buffer } | undefined;

  constructor(
    private readonly ctx: AuthContext,
    readonly method: ChapMethod,
    private readonly name: string,
    private readonly responder: ChapResponder,
    private readonly outcome: AuthOutcome,
  ) {}

  receive(packet: ControlPacket): void {
    if (this.finished) return;
    const decoded = decodeChap(packet);
    if (!decoded.ok) return;
    const m = decoded.value;
    if (m.code === ChapCode.CHALLENGE) {
      if (m.value.length !== challengeLength(this.method) && this.method !== 'chap-md5') return;
      const response = this.responder({
        method: this.method,
        identifier: m.identifier,
        challenge: Buffer.from(m.value),
        authenticatorName: m.name.toString('utf8'),
      });
      if (!response.ok) {
        this.finished = true;
        this.outcome.failed(`CHAP: cannot answer the challenge: ${response.error.reason}`);
        return;
      }
      this.lastIdentifier = m.identifier;
      this.lastResponse = response.value;
      this.ctx.send(
        Protocol.CHAP,
        encodeChapValue(ChapCode.RESPONSE, m.identifier, response.value.value, this.name),
      );
      return;
    }
    if (
      m.code === ChapCode.RESPONSE ||
      m.identifier !== this.lastIdentifier ||
      this.lastResponse === undefined
    )
      return;
    if (m.code === ChapCode.SUCCESS) {
      const check = this.lastResponse.checkSuccess;
      if (check !== undefined && !check(m.message)) {
        // RFC 2759 §5: a wrong authenticator response means the peer does not know the secret.
        this.finished = true;
        this.outcome.failed(
          'CHAP: the authenticator response (S=) is wrong; the peer is not who it claims',
        );
        return;
      }
      this.mppeKeys = this.lastResponse.mppeKeys;
      this.lastResponse = undefined;
      if (!this.authenticated) {
        this.authenticated = true;
        this.outcome.succeeded(this.name, m.message.toString('latin1'));
      }
      return;
    }
    this.finished = true;
    this.outcome.failed(
      `CHAP: peer rejected our response ("${m.message.toString('latin1').slice(0, 120)}")`,
    );
  }
}
