import { describe, expect, it } from 'vitest';
import { encodeChapValue } from '../../src/ppp/auth/chap.js';
import { encodePapRequest } from '../../src/ppp/auth/pap.js';
import { formatPacketLine } from '../../src/ppp/log.js';
import { encodeControlPacket, encodeOptions, option, u16, u32 } from '../../src/ppp/packet.js';
import { Protocol } from '../../src/ppp/protocol.js';

describe('pppd-style packet lines', () => {
  it('prints an LCP Configure-Request as pppd does', () => {
    const data = encodeOptions([
      option(1, u16(1500)),
      option(2, u32(0)),
      option(3, Buffer.from([0xc2, 0x23, 0x81])),
      option(5, u32(0x5c3e1a2b)),
      option(7),
      option(8),
    ]);
    expect(formatPacketLine('sent', Protocol.LCP, encodeControlPacket(1, 1, data))).toBe(
      'sent [LCP ConfReq id=0x1 <mru 1500> <asyncmap 0x0> <auth chap MS-v2> <magic 0x5c3e1a2b> <pcomp> <accomp>]',
    );
  });

  it('prints IPCP addresses and DNS, and CCP MPPE bits', () => {
    const ipcp = encodeControlPacket(
      3,
      2,
      encodeOptions([option(3, u32(0x0a000002)), option(129, u32(0x0a000035))]),
    );
    expect(formatPacketLine('rcvd', Protocol.IPCP, ipcp)).toBe(
      'rcvd [IPCP ConfNak id=0x2 <addr 10.0.0.2> <ms-dns1 10.0.0.53>]',
    );
    const ccp = encodeControlPacket(1, 1, encodeOptions([option(18, u32(0x01000040))]));
    expect(formatPacketLine('sent', Protocol.CCP, ccp)).toBe(
      'sent [CCP ConfReq id=0x1 <mppe +H -M +S -L -D -C>]',
    );
  });

  it('never prints a PAP password', () => {
    const line = formatPacketLine(
      'sent',
      Protocol.PAP,
      encodePapRequest(7, Buffer.from('alice'), Buffer.from('hunter2')),
    );
    expect(line).toBe('sent [PAP AuthReq id=0x7 user="alice" password=<hidden>]');
  });

  it('prints CHAP challenges with value and name, echo with magic, terminate with text', () => {
    expect(
      formatPacketLine(
        'rcvd',
        Protocol.CHAP,
        encodeChapValue(1, 0x4e, Buffer.from('0102', 'hex'), 'hq'),
      ),
    ).toBe('rcvd [CHAP Challenge id=0x4e <0102>, name = "hq"]');
    expect(formatPacketLine('sent', Protocol.LCP, encodeControlPacket(9, 0, u32(0xdeadbeef)))).toBe(
      'sent [LCP EchoReq id=0x0 magic=0xdeadbeef]',
    );
    expect(
      formatPacketLine(
        'sent',
        Protocol.LCP,
        encodeControlPacket(5, 2, Buffer.from('User request')),
      ),
    ).toBe('sent [LCP TermReq id=0x2 "User request"]');
  });
});
