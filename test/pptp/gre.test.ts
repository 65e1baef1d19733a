import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeGre, encodeGre, type GrePacket, stripIpv4Header } from '../../src/pptp/gre.js';
import { formatGre } from '../../src/pptp/gre-log.js';

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

const payload12 = Buffer.from('c02101010004abcdef012345', 'hex');

describe('enhanced GRE layout (RFC 2637 §4.1)', () => {
  it('decodes the MS-PTPT §4 example header (flags 0x3081, seq 15, ack 15)', () => {
    const bytes = Buffer.concat([hex('3081 880b 000c faea 0000000f 0000000f'), payload12]);
    expect(decodeGre(bytes)).toEqual({
      ok: true,
      value: { callId: 0xfaea, sequence: 15, ack: 15, payload: payload12 },
    });
  });

  it('encodes a data packet with an ack: K S | A ver 1, Protocol 0x880B, Key = length + Call ID', () => {
    const out = encodeGre({ callId: 0xfaea, sequence: 15, ack: 15, payload: payload12 });
    expect(out.toString('hex')).toBe(
      `3081880b000cfaea0000000f0000000f${payload12.toString('hex')}`,
    );
  });

  it('encodes a data packet without an ack in 12 octets of header', () => {
    const out = encodeGre({
      callId: 4,
      sequence: 0x01020304,
      ack: undefined,
      payload: Buffer.of(0xff, 0x03),
    });
    expect(out.toString('hex')).toBe('3001880b0002000401020304ff03');
  });

  it('encodes an ack-only packet with the Acknowledgment Number right after the Key', () => {
    const out = encodeGre({
      callId: 4,
      sequence: undefined,
      ack: 0xfffffffe,
      payload: Buffer.alloc(0),
    });
    expect(out.toString('hex')).toBe('2081880b00000004fffffffe');
  });

  it('decodes an ack-only packet (S clear, A set, no payload)', () => {
    expect(decodeGre(hex('2081880b00000004 00000009'))).toEqual({
      ok: true,
      value: { callId: 4, sequence: undefined, ack: 9, payload: Buffer.alloc(0) },
    });
  });

  it('ignores octets after Payload Length', () => {
    const r = decodeGre(hex('3001880b00010004 00000001 aa bbcc'));
    expect(r.ok && r.value.payload.toString('hex')).toBe('aa');
  });

  const rejects: [string, string, string][] = [
    ['version 0 (plain GRE)', '3000880b0001000400000001aa', 'bad-version'],
    ['another protocol', '3001080000010004 00000001 aa', 'bad-protocol'],
    ['the C flag', 'b001880b00010004 00000001 aa', 'bad-flags'],
    ['the R flag', '7001880b00010004 00000001 aa', 'bad-flags'],
    ['strict source route', '3801880b00010004 00000001 aa', 'bad-flags'],
    ['a recursion count', '3101880b00010004 00000001 aa', 'bad-flags'],
    ['reserved Flags bits', '3009880b00010004 00000001 aa', 'bad-flags'],
    ['a clear K flag', '1001880b00010004 00000001 aa', 'bad-flags'],
    ['a payload without a sequence number', '2081880b00010004 00000001 aa', 'bad-flags'],
    ['neither payload nor ack', '2001880b00000004', 'bad-flags'],
    ['a payload shorter than Payload Length', '3001880b00050004 00000001 aabb', 'truncated'],
    ['a header cut short', '3081880b00000004 00000001', 'truncated'],
  ];
  for (const [what, bytes, kind] of rejects) {
    it(`rejects ${what}`, () => {
      expect(decodeGre(hex(bytes))).toMatchObject({ ok: false, error: { kind } });
    });
  }

  const arbitraryGre: fc.Arbitrary<GrePacket> = fc.oneof(
    fc.record({
      callId: fc.integer({ min: 0, max: 0xffff }),
      sequence: fc.integer({ min: 0, max: 0xffffffff }),
      ack: fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }),
      payload: fc.uint8Array({ maxLength: 1500 }).map((a) => Buffer.from(a)),
    }),
    fc.record({
      callId: fc.integer({ min: 0, max: 0xffff }),
      sequence: fc.constant(undefined),
      ack: fc.integer({ min: 0, max: 0xffffffff }),
      payload: fc.constant(Buffer.alloc(0)),
    }),
  );

  it('round-trips any packet', () => {
    fc.assert(
      fc.property(arbitraryGre, (p) => {
        expect(decodeGre(encodeGre(p))).toEqual({ ok: true, value: p });
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on random bytes or truncations', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (a) => {
        expect(typeof decodeGre(Buffer.from(a)).ok).toBe('boolean');
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(arbitraryGre, fc.nat(), (p, cut) => {
        const b = encodeGre(p);
        const r = decodeGre(b.subarray(0, cut % (b.length + 1)));
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 1000 },
    );
  });

  it('formats a packet for logs', () => {
    expect(formatGre({ callId: 4, sequence: 12, ack: 10, payload: Buffer.alloc(1400) })).toBe(
      'GRE call=4 seq=12 ack=10 len=1400',
    );
  });
});

describe('IPv4 header stripping', () => {
  const gre = hex('2081880b0000000400000009');
  function ip(ihlWords: number, protocol = 47): Buffer {
    const h = Buffer.alloc(ihlWords * 4);
    h[0] = 0x40 | ihlWords;
    h[9] = protocol;
    return Buffer.concat([h, gre]);
  }

  it('strips a 20-octet header', () => {
    const r = stripIpv4Header(ip(5));
    expect(r.ok && r.value.equals(gre)).toBe(true);
  });

  it('strips a header with options by its IHL', () => {
    const r = stripIpv4Header(ip(6));
    expect(r.ok && r.value.equals(gre)).toBe(true);
  });

  it('rejects another protocol, a bad IHL and IPv6', () => {
    expect(stripIpv4Header(ip(5, 17)).ok).toBe(false);
    const bad = ip(5);
    bad[0] = 0x44;
    expect(stripIpv4Header(bad).ok).toBe(false);
    const v6 = ip(5);
    v6[0] = 0x65;
    expect(stripIpv4Header(v6).ok).toBe(false);
    const huge = ip(5);
    huge[0] = 0x4f;
    expect(stripIpv4Header(huge.subarray(0, 40)).ok).toBe(false);
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (a) => {
        expect(typeof stripIpv4Header(Buffer.from(a)).ok).toBe('boolean');
      }),
    );
  });
});
