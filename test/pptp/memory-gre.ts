/**
 * An in-memory stand-in for the raw GRE socket (no root needed): sockets keyed by their
 * IPv4 address; a packet sent to an address arrives at that socket with an IPv4 header
 * naming the sender, on a later tick, like the real network.
 */
import type { GreSocket } from '../../src/pptp/gre-transport.js';

export function ipv4Header(source: string, destination: string, payloadLength: number): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payloadLength, 2);
  h[8] = 64;
  h[9] = 47;
  Buffer.from(source.split('.').map(Number)).copy(h, 12);
  Buffer.from(destination.split('.').map(Number)).copy(h, 16);
  return h;
}

export class MemoryGreNetwork {
  private readonly sockets = new Map<string, MemoryGreSocket>();
  /** Packets delivered, per destination address. */
  delivered = 0;
  /** Drop every n-th packet (0 = none), to exercise loss. */
  dropEvery = 0;
  private counter = 0;

  socket(address: string): MemoryGreSocket {
    const s = new MemoryGreSocket(this, address);
    this.sockets.set(address, s);
    return s;
  }

  /** Delivers `packet` (GRE) from `source` to `destination` on a later tick. */
  transmit(packet: Buffer, source: string, destination: string): void {
    this.counter++;
    if (this.dropEvery > 0 && this.counter % this.dropEvery === 0) return;
    const to = this.sockets.get(destination);
    if (to === undefined) return;
    const ip = Buffer.concat([ipv4Header(source, destination, packet.length), packet]);
    setImmediate(() => {
      this.delivered++;
      to.receive(ip, source);
    });
  }
}

export class MemoryGreSocket implements GreSocket {
  private handler: ((ipPacket: Buffer, source: string) => void) | undefined;
  readonly sendErrors = 0;
  sent = 0;

  constructor(
    private readonly network: MemoryGreNetwork,
    readonly address: string,
  ) {}

  send(packet: Buffer, address: string): void {
    this.sent++;
    this.network.transmit(packet, this.address, address);
  }

  onPacket(handler: (ipPacket: Buffer, source: string) => void): void {
    this.handler = handler;
  }

  receive(ipPacket: Buffer, source: string): void {
    this.handler?.(ipPacket, source);
  }

  close(): void {
    this.handler = undefined;
  }
}
