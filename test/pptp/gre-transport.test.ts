import { describe, expect, it } from 'vitest';
import { maxPppFrame, type PptpCallInfo, PptpCallLink } from '../../src/pptp/call-link.js';
import { encodeGre, type GrePacket } from '../../src/pptp/gre.js';
import { type GreSocket, GreTransport } from '../../src/pptp/gre-transport.js';
import { ipv4Header } from './memory-gre.js';

class FakeSocket implements GreSocket {
  readonly sendErrors = 0;
  sent: { packet: Buffer; address: string }[] = [];
  handler: ((ip: Buffer, source: string) => void) | undefined;
  send(packet: Buffer, address: string): void {
    this.sent.push({ packet, address });
  }
  onPacket(handler: (ip: Buffer, source: string) => void): void {
    this.handler = handler;
  }
  close(): void {}
  /** Delivers GRE from `source` the way the raw socket does: IP header first, reused buffer. */
  deliver(gre: Buffer, source: string, reuse?: Buffer): void {
    const ip = Buffer.concat([ipv4Header(source, '10.0.0.1', gre.length), gre]);
    if (reuse === undefined) return this.handler!(ip, source);
    ip.copy(reuse);
    this.handler!(reuse.subarray(0, ip.length), source);
  }
}

class Recorder {
  packets: GrePacket[] = [];
  handleGre(p: GrePacket): void {
    this.packets.push(p);
  }
}

const data = (callId: number, body: string, sequence = 0) =>
  encodeGre({ callId, sequence, ack: undefined, payload: Buffer.from(body) });

describe('GreTransport demultiplexing', () => {
  it('routes by Call ID to the registered receiver', () => {
    const s = new FakeSocket();
    const t = new GreTransport(s);
    const a = new Recorder();
    const b = new Recorder();
    t.register(10, '192.0.2.1', a);
    t.register(11, '192.0.2.2', b);
    s.deliver(data(10, 'to-a'), '192.0.2.1');
    s.deliver(data(11, 'to-b'), '192.0.2.2');
    expect(a.packets.map((p) => p.payload.toString())).toEqual(['to-a']);
    expect(b.packets.map((p) => p.payload.toString())).toEqual(['to-b']);
  });

  it('drops and counts GRE from an address other than the call peer', () => {
    const s = new FakeSocket();
    const t = new GreTransport(s);
    const a = new Recorder();
    const drops: string[] = [];
    t.onDrop = (why) => drops.push(why);
    t.register(10, '192.0.2.1', a);
    s.deliver(data(10, 'spoofed'), '198.51.100.9');
    expect(a.packets).toEqual([]);
    expect(t.counters.rxWrongSource).toBe(1);
    expect(drops[0]).toBe('GRE for call 10 from 198.51.100.9, not its peer 192.0.2.1');
  });

  it('counts unknown calls, malformed GRE and non-GRE datagrams', () => {
    const s = new FakeSocket();
    const t = new GreTransport(s);
    s.deliver(data(99, 'x'), '192.0.2.1');
    const bad = data(10, 'x');
    bad[1] = 0; // version 0
    s.deliver(bad, '192.0.2.1');
    s.handler!(Buffer.from([0x45, 0, 0]), '192.0.2.1');
    expect(t.counters).toMatchObject({
      rxPackets: 3,
      rxUnknownCall: 1,
      rxMalformed: 1,
      rxNotGre: 1,
    });
  });

  it('stops routing after unregister, but only for the same receiver', () => {
    const s = new FakeSocket();
    const t = new GreTransport(s);
    const a = new Recorder();
    const b = new Recorder();
    t.register(10, '192.0.2.1', a);
    t.unregister(10, b);
    expect(t.registeredCalls).toBe(1);
    t.unregister(10, a);
    s.deliver(data(10, 'x'), '192.0.2.1');
    expect(t.counters.rxUnknownCall).toBe(1);
  });

  it('copies the payload out of the socket buffer it reuses', () => {
    const s = new FakeSocket();
    const t = new GreTransport(s);
    const a = new Recorder();
    t.register(10, '192.0.2.1', a);
    const reused = Buffer.alloc(2048);
    s.deliver(data(10, 'first'), '192.0.2.1', reused);
    s.deliver(data(10, 'later', 1), '192.0.2.1', reused);
    expect(a.packets.map((p) => p.payload.toString())).toEqual(['first', 'later']);
  });

  it('accepts IPv4-mapped IPv6 peer addresses', () => {
    const s = new FakeSocket();
    const t = new GreTransport(s);
    const a = new Recorder();
    t.register(10, '::ffff:192.0.2.1', a);
    s.deliver(data(10, 'x'), '192.0.2.1');
    t.send(Buffer.alloc(12), '::ffff:192.0.2.1');
    expect(a.packets).toHaveLength(1);
    expect(s.sent[0]!.address).toBe('192.0.2.1');
  });
});

describe('PptpCallLink', () => {
  const info: PptpCallInfo = {
    role: 'server',
    peerAddress: '192.0.2.1',
    peerPort: 40000,
    localAddress: '192.0.2.254',
    localPort: 1723,
    call: {
      callId: 10,
      peerCallId: 20,
      peerReceiveWindow: 64,
      peerProcessingDelay: 0,
      connectSpeed: 0,
      callSerialNumber: 1,
      direction: 'incoming',
      phoneNumber: '',
      subaddress: '',
    },
    peerHostName: 'branch',
    peerVendor: 'branchlink',
  };

  function make() {
    const s = new FakeSocket();
    const t = new GreTransport(s);
    let cleared = '';
    const link = new PptpCallLink({
      info,
      transport: t,
      receiveWindow: 64,
      clock: () => 0,
      clear: async (reason) => {
        cleared = reason;
      },
    });
    return { s, t, link, cleared: () => cleared };
  }

  it('leaves room for IPv4 and the largest GRE header on a 1500-octet path', () => {
    expect(maxPppFrame()).toBe(1464);
    expect(maxPppFrame(1400)).toBe(1364);
    expect(make().link.maxFrame).toBe(1464);
  });

  it('sends frames as GRE to the peer with the peer Call ID', () => {
    const { s, link } = make();
    link.send(Buffer.from([0xff, 0x03, 0xc0, 0x21]));
    expect(s.sent).toHaveLength(1);
    expect(s.sent[0]!.address).toBe('192.0.2.1');
    expect(s.sent[0]!.packet.readUInt16BE(6)).toBe(20);
  });

  it('reports down once, even to a session that attaches late', () => {
    const { t, link } = make();
    link.down('call cleared');
    link.down('again');
    expect(t.registeredCalls).toBe(0);
    const downs: string[] = [];
    link.attach({ onFrame: () => {}, onDown: (r) => downs.push(r) });
    expect(downs).toEqual(['call cleared']);
  });

  it('survives a session handler that throws', () => {
    const { s, link } = make();
    link.attach({
      onFrame: () => {
        throw new Error('boom');
      },
      onDown: () => {},
    });
    s.deliver(data(10, 'x'), '192.0.2.1');
    expect(link.counters.handlerErrors).toBe(1);
  });

  it('asks the control connection to clear the call on close', async () => {
    const { link, cleared } = make();
    await link.close('idle timeout');
    expect(cleared()).toBe('idle timeout');
  });
});
