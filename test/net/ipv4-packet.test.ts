import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatIpv4 } from '../../src/net/ipv4.js';
import {
  decodeIcmpEcho,
  decodeIpv4,
  decodeUdp,
  echoReplyFor,
  encodeIcmpEcho,
  encodeIpv4,
  encodeUdp,
  internetChecksum,
  ipVersion,
} from '../../src/net/ipv4-packet.js';

const address = fc.integer({ min: 0, max: 0xffffffff }).map(formatIpv4);
const port = fc.integer({ min: 0, max: 0xffff });

describe('internetChecksum', () => {
  it('matches the worked example of RFC 1071 §3 (sum ddf2, checksum 220d)', () => {
    const bytes = Buffer.from('0001f203f4f5f6f7', 'hex');
    expect(internetChecksum(bytes)).toBe(0x220d);
  });

  it('verifies a published IPv4 header (checksum b861) by summing to zero', () => {
    const header = Buffer.from(
      '450000730000400040 11b861c0a80001c0a800c7'.replace(/ /g, ''),
      'hex',
    );
    expect(internetChecksum(header)).toBe(0);
    const zeroed = Buffer.from(header);
    zeroed.writeUInt16BE(0, 10);
    expect(internetChecksum(zeroed)).toBe(0xb861);
  });

  it('pads an odd final byte with zero', () => {
    expect(internetChecksum(Buffer.from([0x12]))).toBe(~0x1200 & 0xffff);
  });
});

describe('decodeIpv4', () => {
  it('reads the fields of the published header', () => {
    const packet = Buffer.alloc(0x73);
    Buffer.from('4500007300004000401 1b861c0a80001c0a800c7'.replace(/ /g, ''), 'hex').copy(packet);
    const r = decodeIpv4(packet);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.header).toMatchObject({
      headerLength: 20,
      totalLength: 0x73,
      dontFragment: true,
      ttl: 64,
      protocol: 17,
      checksum: 0xb861,
      checksumValid: true,
      source: '192.168.0.1',
      destination: '192.168.0.199',
    });
    expect(r.value.payload.length).toBe(0x73 - 20);
  });

  it('refuses short buffers, other versions and inconsistent lengths', () => {
    expect(decodeIpv4(Buffer.alloc(19))).toMatchObject({ ok: false, error: { kind: 'truncated' } });
    const v6 = Buffer.alloc(40);
    v6[0] = 0x60;
    expect(decodeIpv4(v6)).toMatchObject({ ok: false, error: { kind: 'bad-version' } });
    const ihl = encodeIpv4({
      source: '10.0.0.1',
      destination: '10.0.0.2',
      protocol: 1,
      payload: Buffer.alloc(4),
    });
    ihl[0] = 0x44;
    expect(decodeIpv4(ihl)).toMatchObject({ ok: false, error: { kind: 'bad-length' } });
    const long = encodeIpv4({
      source: '10.0.0.1',
      destination: '10.0.0.2',
      protocol: 1,
      payload: Buffer.alloc(4),
    });
    long.writeUInt16BE(100, 2);
    expect(decodeIpv4(long)).toMatchObject({ ok: false, error: { kind: 'truncated' } });
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 96 }), (bytes) => {
        const ip = decodeIpv4(bytes);
        if (ip.ok) {
          decodeUdp(ip.value);
          decodeIcmpEcho(ip.value);
        }
        echoReplyFor(bytes);
        ipVersion(bytes);
      }),
    );
  });
});

describe('UDP and ICMP echo codecs', () => {
  it('round-trips UDP packets with valid IP and UDP checksums', () => {
    fc.assert(
      fc.property(
        address,
        address,
        port,
        port,
        fc.uint8Array({ maxLength: 1472 }),
        (s, d, sp, dp, payload) => {
          const packet = encodeUdp({
            source: s,
            destination: d,
            sourcePort: sp,
            destinationPort: dp,
            payload,
          });
          const ip = decodeIpv4(packet);
          expect(ip.ok).toBe(true);
          if (!ip.ok) return;
          expect(ip.value.header).toMatchObject({
            source: s,
            destination: d,
            protocol: 17,
            checksumValid: true,
          });
          const udp = decodeUdp(ip.value);
          expect(udp).toMatchObject({
            ok: true,
            value: { sourcePort: sp, destinationPort: dp, checksumValid: true },
          });
          if (udp.ok) expect(Buffer.compare(udp.value.payload, Buffer.from(payload))).toBe(0);
        },
      ),
    );
  });

  it('detects a flipped payload bit through the UDP checksum', () => {
    const packet = encodeUdp({
      source: '10.0.0.1',
      destination: '10.0.0.2',
      sourcePort: 1,
      destinationPort: 2,
      payload: Buffer.from('hello'),
    });
    packet[packet.length - 1]! ^= 0x01;
    const ip = decodeIpv4(packet);
    expect(ip.ok && decodeUdp(ip.value)).toMatchObject({
      ok: true,
      value: { checksumValid: false },
    });
  });

  it('answers an echo request with a reply carrying the same id, sequence and data', () => {
    fc.assert(
      fc.property(
        address,
        address,
        port,
        port,
        fc.uint8Array({ maxLength: 256 }),
        (s, d, id, seq, data) => {
          const request = encodeIcmpEcho({
            source: s,
            destination: d,
            type: 8,
            identifier: id,
            sequence: seq,
            data,
          });
          const reply = echoReplyFor(request);
          expect(reply.ok).toBe(true);
          if (!reply.ok) return;
          const ip = decodeIpv4(reply.value);
          expect(ip.ok).toBe(true);
          if (!ip.ok) return;
          expect(ip.value.header).toMatchObject({ source: d, destination: s, checksumValid: true });
          const echo = decodeIcmpEcho(ip.value);
          expect(echo).toMatchObject({
            ok: true,
            value: { type: 0, code: 0, identifier: id, sequence: seq, checksumValid: true },
          });
          if (echo.ok) expect(Buffer.compare(echo.value.data, Buffer.from(data))).toBe(0);
        },
      ),
    );
  });

  it('does not answer a reply or a non-echo ICMP message', () => {
    const reply = encodeIcmpEcho({
      source: '10.0.0.1',
      destination: '10.0.0.2',
      type: 0,
      identifier: 1,
      sequence: 1,
      data: Buffer.alloc(0),
    });
    expect(echoReplyFor(reply)).toMatchObject({ ok: false, error: { kind: 'not-request' } });
    const unreachable = encodeIpv4({
      source: '10.0.0.1',
      destination: '10.0.0.2',
      protocol: 1,
      payload: Buffer.from([3, 1, 0, 0, 0, 0, 0, 0]),
    });
    expect(echoReplyFor(unreachable)).toMatchObject({ ok: false, error: { kind: 'not-echo' } });
  });

  it('tells IPv4 from IPv6 by the version nibble', () => {
    expect(ipVersion(Buffer.from([0x45]))).toBe(4);
    expect(ipVersion(Buffer.from([0x60]))).toBe(6);
    expect(ipVersion(Buffer.alloc(0))).toBeUndefined();
  });
});
