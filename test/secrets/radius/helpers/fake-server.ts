/**
 * A scriptable RADIUS server on 127.0.0.1 for unit tests: records what it receives and
 * answers with whatever the handler returns (bytes, or nothing). The real-server tests are
 * in test/system/radius against FreeRADIUS.
 */
import dgram from 'node:dgram';
import {
  decodePacket,
  encodeResponse,
  type RadiusAttribute,
  type RadiusPacket,
} from '../../../../src/secrets/radius/packet.js';

export interface FakeRequest {
  readonly packet: RadiusPacket;
  readonly raw: Buffer;
  readonly from: { address: string; port: number };
}

export type FakeHandler = (
  request: FakeRequest,
  server: FakeRadiusServer,
) => Buffer | Buffer[] | undefined;

export class FakeRadiusServer {
  readonly received: FakeRequest[] = [];
  handler: FakeHandler;

  private constructor(
    private readonly socket: dgram.Socket,
    readonly secret: Buffer,
    handler: FakeHandler,
  ) {
    this.handler = handler;
    socket.on('message', (raw, rinfo) => {
      const d = decodePacket(raw);
      if (!d.ok) return;
      const request = { packet: d.value, raw, from: { address: rinfo.address, port: rinfo.port } };
      this.received.push(request);
      const out = this.handler(request, this);
      for (const b of out === undefined ? [] : Array.isArray(out) ? out : [out]) {
        socket.send(b, rinfo.port, rinfo.address);
      }
    });
  }

  static async start(secret: Buffer | string, handler: FakeHandler): Promise<FakeRadiusServer> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new FakeRadiusServer(socket, Buffer.from(secret), handler);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** A correctly signed reply to `request`. */
  reply(
    request: FakeRequest,
    code: number,
    attributes: readonly RadiusAttribute[] = [],
    options: { messageAuthenticator?: boolean; secret?: Buffer } = {},
  ): Buffer {
    const r = encodeResponse({
      code,
      identifier: request.packet.identifier,
      requestAuthenticator: request.packet.authenticator,
      attributes,
      secret: options.secret ?? this.secret,
      messageAuthenticator: options.messageAuthenticator ?? true,
    });
    if (!r.ok) throw new Error(r.error.reason);
    return r.value;
  }

  /** Sends bytes to an address from this server's socket. */
  sendTo(bytes: Buffer, port: number, address = '127.0.0.1'): void {
    this.socket.send(bytes, port, address);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** A UDP port with nobody listening (bound, then closed). */
export async function deadPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
