/**
 * PAP (RFC 1334 §2): the codec and both roles. As the authenticatee we send the
 * Peer-ID and password until acknowledged; as the authenticator we wait for them
 * and hand them to the session's Authenticator. Refusing PAP is the default
 * elsewhere: PAP sends the password in the clear.
 */
import { type ControlPacket, encodeControlPacket } from '../packet.js';
import { Protocol } from '../protocol.js';
import { err, ok, type Result } from '../result.js';
import type { AuthContext, AuthTimers } from './context.js';

export const PapCode = {
  AUTHENTICATE_REQUEST: 1,
  AUTHENTICATE_ACK: 2,
  AUTHENTICATE_NAK: 3,
} as const;

export type PapMessage =
  | {
      readonly code: 1;
      readonly identifier: number;
      readonly peerId: Buffer;
      readonly password: Buffer;
    }
  | { readonly code: 2 | 3; readonly identifier: number; readonly message: Buffer };

export function decodePap(packet: ControlPacket): Result<PapMessage> {
  const d = packet.data;
  if (packet.code === PapCode.AUTHENTICATE_REQUEST) {
    if (d.length < 1) return err('truncated', 'PAP request has no Peer-ID length');
    const idLength = d[0]!;
    if (d.length < 2 + idLength) return err('truncated', 'PAP Peer-ID runs past the packet');
    const pwLength = d[1 + idLength]!;
    if (d.length < 2 + idLength + pwLength)
      return err('truncated', 'PAP password runs past the packet');
    return ok({
      code: 1,
      identifier: packet.identifier,
      peerId: d.subarray(1, 1 + idLength),
      password: d.subarray(2 + idLength, 2 + idLength + pwLength),
    });
  }
  if (packet.code === PapCode.AUTHENTICATE_ACK || packet.code === PapCode.AUTHENTICATE_NAK) {
    // pppd tolerates an Ack without the Msg-Length octet; so do we.
    const length = d.length === 0 ? 0 : d[0]!;
    if (d.length > 0 && d.length < 1 + length)
      return err('truncated', 'PAP message runs past the packet');
    return {
      ok: true,
      value: {
        code: packet.code,
        identifier: packet.identifier,
        message: d.subarray(1, 1 + length),
      },
    };
  }
  return err('unknown-code', `PAP code ${packet.code} is not defined`);
}

export function encodePapRequest(identifier: number, peerId: Buffer, password: Buffer): Buffer {
  if (peerId.length > 255 || password.length > 255)
    throw new RangeError('PAP Peer-ID and password are limited to 255 octets');
  const data = Buffer.concat([
    Buffer.from([peerId.length]),
    peerId,
    Buffer.from([password.length]),
    password,
  ]);
  return encodeControlPacket(PapCode.AUTHENTICATE_REQUEST, identifier, data);
}

export function encodePapReply(code: 2 | 3, identifier: number, message: string): Buffer {
  const text = Buffer.from(message, 'utf8').subarray(0, 255);
  return encodeControlPacket(code, identifier, Buffer.concat([Buffer.from([text.length]), text]));
}

export interface AuthOutcome {
  succeeded(peerName: string, message: string): void;
  failed(reason: string): void;
}

/** We are authenticated by the peer with PAP. */
export class PapAuthenticatee {
  private identifier: number;
  private transmits = 0;
  private deadline: number | undefined;
  private done = false;

  constructor(
    private readonly ctx: AuthContext,
    private readonly timers: AuthTimers,
    private readonly name: string,
    private readonly password: string,
    private readonly outcome: AuthOutcome,
  ) {
    this.identifier = ctx.random(1)[0]!;
  }

  get timeout(): number | undefined {
    return this.deadline;
  }

  start(): void {
    this.transmit();
  }

  handleTimeout(now: number): void {
    if (this.deadline === undefined || now < this.deadline || this.done) return;
    if (this.transmits >= this.timers.maxTransmits) {
      this.deadline = undefined;
      this.done = true;
      this.outcome.failed(`PAP: no answer to ${this.transmits} Authenticate-Requests`);
      return;
    }
    this.transmit();
  }

  receive(packet: ControlPacket): void {
    if (this.done) return;
    const decoded = decodePap(packet);
    if (!decoded.ok || decoded.value.code === 1 || decoded.value.identifier !== this.identifier)
      return;
    this.done = true;
    this.deadline = undefined;
    const message = decoded.value.message.toString('latin1');
    if (decoded.value.code === PapCode.AUTHENTICATE_ACK) this.outcome.succeeded(this.name, message);
    else
      this.outcome.failed(`PAP: peer refused our credentials${message ? ` ("${message}")` : ''}`);
  }

  private transmit(): void {
    // RFC 1334 §2.2.1: the Identifier changes with every Authenticate-Request.
    this.identifier = (this.identifier + 1) & 0xff;
    this.transmits++;
    this.deadline = this.ctx.now() + this.timers.restartMs;
    this.ctx.send(
      Protocol.PAP,
      encodePapRequest(
        this.identifier,
        Buffer.from(this.name, 'utf8'),
        Buffer.from(this.password, 'utf8'),
      ),
    );
  }
}

export interface PapVerification {
  readonly peerName: string;
  readonly password: Buffer;
}

/** We authenticate the peer with PAP; the check itself is the session's Authenticator. */
export class PapAuthenticator {
  private deadline: number | undefined;
  private pending = false;
  private verdict: { code: 2 | 3; message: string } | undefined;
  private done = false;

  constructor(
    private readonly ctx: AuthContext,
    private readonly timers: AuthTimers,
    private readonly verify: (request: PapVerification) => void,
    private readonly outcome: AuthOutcome,
  ) {}

  get timeout(): number | undefined {
    return this.deadline;
  }

  start(): void {
    this.deadline = this.ctx.now() + this.timers.waitMs;
  }

  handleTimeout(now: number): void {
    if (this.deadline === undefined || now < this.deadline || this.done) return;
    this.deadline = undefined;
    this.done = true;
    this.outcome.failed(
      `PAP: peer sent no credentials within ${Math.round(this.timers.waitMs / 1000)} s`,
    );
  }

  private lastName = '';
  private lastIdentifier = -1;

  receive(packet: ControlPacket): void {
    const decoded = decodePap(packet);
    if (!decoded.ok || decoded.value.code !== 1) return;
    const request = decoded.value;
    if (this.verdict !== undefined) {
      // A retransmitted request: the peer lost our answer (RFC 1334 §2.2.2).
      this.ctx.send(
        Protocol.PAP,
        encodePapReply(this.verdict.code, request.identifier, this.verdict.message),
      );
      return;
    }
    if (this.pending) {
      this.lastIdentifier = request.identifier;
      return;
    }
    this.pending = true;
    this.deadline = undefined;
    this.lastIdentifier = request.identifier;
    this.lastName = request.peerId.toString('utf8');
    this.verify({ peerName: this.lastName, password: Buffer.from(request.password) });
  }

  /** The Authenticator's answer for the pending request. */
  decide(accepted: boolean, message: string, reason: string): void {
    if (!this.pending || this.done) return;
    this.pending = false;
    this.done = true;
    this.verdict = { code: accepted ? 2 : 3, message };
    this.ctx.send(Protocol.PAP, encodePapReply(this.verdict.code, this.lastIdentifier, message));
    if (accepted) this.outcome.succeeded(this.lastName, message);
    else this.outcome.failed(reason);
  }
}
