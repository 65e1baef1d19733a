import { describe, expect, it } from 'vitest';
import { decodeAuthOption, type LcpConfig, LcpHandler, LcpOption } from '../../src/ppp/lcp.js';
import { option, u16, u32 } from '../../src/ppp/packet.js';

const noEvents = {
  up: () => {},
  down: () => {},
  started: () => {},
  finished: () => {},
  echoReply: () => {},
  protocolRejected: () => {},
  loopback: () => {},
};

function handler(
  config: Partial<LcpConfig> = {},
  events = noEvents,
  magic = 0x11111111,
): LcpHandler {
  return new LcpHandler(
    {
      mru: 1500,
      asyncmap: 0,
      magic: true,
      pfc: true,
      acfc: true,
      authRequired: [],
      authAllowed: ['chap-md5'],
      ...config,
    },
    events,
    () => magic,
    () => true,
  );
}

describe('LCP options', () => {
  it('naks an MRU below 128 with 128 (pppd MINMRU)', () => {
    expect(handler().evaluateRequest([option(LcpOption.MRU, u16(64))], true)).toEqual({
      kind: 'nak',
      options: [option(LcpOption.MRU, u16(128))],
    });
  });

  it('acks an MRU of 1400 and records it as the peer MRU once up', () => {
    const h = handler();
    expect(h.evaluateRequest([option(LcpOption.MRU, u16(1400))], true)).toEqual({ kind: 'ack' });
    h.layerUp();
    expect(h.negotiated.peerMru).toBe(1400);
  });

  it('rejects Quality-Protocol, Callback, MRRU and unknown options, and only those', () => {
    const bad = [
      option(4, Buffer.from([0xc0, 0x25])),
      option(13, Buffer.from([6])),
      option(17, u16(1600)),
      option(99),
    ];
    expect(handler().evaluateRequest([option(LcpOption.MRU, u16(20)), ...bad], true)).toEqual({
      kind: 'reject',
      options: bad,
    });
  });

  it('rejects an option with a wrong length', () => {
    const broken = option(LcpOption.MAGIC_NUMBER, Buffer.from([1, 2]));
    expect(handler().evaluateRequest([broken], true)).toEqual({
      kind: 'reject',
      options: [broken],
    });
  });

  it('naks a Magic-Number equal to ours and declares loopback after repeated collisions', () => {
    let looped = 0;
    const h = handler({}, { ...noEvents, loopback: () => looped++ }, 0x22222222);
    h.resetOptions();
    const ours = h.ourOptions().find((o) => o.type === LcpOption.MAGIC_NUMBER)!;
    for (let i = 0; i < 5; i++) {
      const v = h.evaluateRequest([option(LcpOption.MAGIC_NUMBER, ours.data)], true);
      expect(v.kind).toBe('nak');
    }
    expect(looped).toBe(1);
  });

  it('naks a zero Magic-Number (RFC 1661 §6.4)', () => {
    expect(handler().evaluateRequest([option(LcpOption.MAGIC_NUMBER, u32(0))], true).kind).toBe(
      'nak',
    );
  });

  it('naks an authentication protocol we do not allow with the strongest we do', () => {
    const h = handler({ authAllowed: ['pap', 'chap-md5', 'mschap-v2'] });
    const v = h.evaluateRequest(
      [option(LcpOption.AUTH_PROTOCOL, Buffer.from([0xc2, 0x23, 0x80]))],
      true,
    );
    expect(v.kind).toBe('nak');
    if (v.kind === 'nak') expect(decodeAuthOption(v.options[0]!.data)).toBe('mschap-v2');
  });

  it('rejects authentication when we accept no method', () => {
    const o = option(LcpOption.AUTH_PROTOCOL, u16(0xc023));
    expect(handler({ authAllowed: [] }).evaluateRequest([o], true)).toEqual({
      kind: 'reject',
      options: [o],
    });
  });

  it('offers CHAP before PAP and moves to the next method when Nak’d', () => {
    const h = handler({ authRequired: ['pap', 'chap-md5'] });
    expect(h.requestedAuth).toBe('chap-md5');
    h.naked([option(LcpOption.AUTH_PROTOCOL, u16(0xc023))]);
    expect(h.requestedAuth).toBe('pap');
    h.naked([option(LcpOption.AUTH_PROTOCOL, Buffer.from([0xc2, 0x23, 0x81]))]);
    expect(h.requestedAuth).toBeUndefined();
  });

  it('refuses a Reject that names an option we did not send', () => {
    const h = handler({ mru: 1500 });
    expect(h.rejected([option(LcpOption.MRU, u16(1500))])).toBe(false);
    expect(h.rejected([option(LcpOption.PFC)])).toBe(true);
    expect(h.ourOptions().some((o) => o.type === LcpOption.PFC)).toBe(false);
  });

  it('merges a Nak’d async map into ours', () => {
    const h = handler({ asyncmap: 0x000a0000 });
    h.naked([option(LcpOption.ACCM, u32(0x00000001))]);
    expect(
      h
        .ourOptions()
        .find((o) => o.type === LcpOption.ACCM)
        ?.data.readUInt32BE(0),
    ).toBe(0x000a0001);
  });
});
