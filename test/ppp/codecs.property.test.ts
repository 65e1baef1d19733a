import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeChap, encodeChapResult, encodeChapValue } from '../../src/ppp/auth/chap.js';
import { decodePap, encodePapReply, encodePapRequest } from '../../src/ppp/auth/pap.js';
import { decodeFrame, encodeFrame } from '../../src/ppp/frame.js';
import { formatPacket } from '../../src/ppp/log.js';
import {
  decodeControlPacket,
  decodeOptions,
  encodeControlPacket,
  encodeOptions,
} from '../../src/ppp/packet.js';
import { Protocol } from '../../src/ppp/protocol.js';

const bytes = (max = 300) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
/** Valid PPP protocol numbers: low octet odd, high octet even (RFC 1661 §2). */
const protocolNumber = fc
  .tuple(fc.integer({ min: 0, max: 127 }), fc.integer({ min: 0, max: 127 }))
  .map(([hi, lo]) => ((hi * 2) << 8) | (lo * 2 + 1));
const option = fc.record({ type: fc.integer({ min: 0, max: 255 }), data: bytes(40) });

describe('PPP codecs', () => {
  it('frames round-trip with and without ACFC and PFC', () => {
    fc.assert(
      fc.property(
        protocolNumber,
        bytes(),
        fc.boolean(),
        fc.boolean(),
        (protocol, info, acfc, pfc) => {
          const decoded = decodeFrame(encodeFrame(protocol, info, { acfc, pfc }));
          expect(decoded.ok && decoded.value.protocol).toBe(protocol);
          expect(decoded.ok && decoded.value.information.equals(info)).toBe(true);
        },
      ),
    );
  });

  it('control packets round-trip and padding beyond Length is ignored', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 255 }),
        bytes(),
        bytes(8),
        (code, id, data, pad) => {
          const decoded = decodeControlPacket(
            Buffer.concat([encodeControlPacket(code, id, data), pad]),
          );
          expect(decoded.ok).toBe(true);
          if (decoded.ok) expect(decoded.value).toEqual({ code, identifier: id, data });
        },
      ),
    );
  });

  it('option lists round-trip', () => {
    fc.assert(
      fc.property(fc.array(option, { maxLength: 8 }), (options) => {
        const decoded = decodeOptions(encodeOptions(options));
        expect(decoded.ok && decoded.value).toEqual(options);
      }),
    );
  });

  it('PAP and CHAP packets round-trip', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        bytes(255),
        bytes(255),
        fc.string({ maxLength: 60 }),
        (id, a, b, text) => {
          const req = decodeControlPacket(encodePapRequest(id, a, b));
          const pap = req.ok ? decodePap(req.value) : undefined;
          expect(pap?.ok && pap.value).toEqual({ code: 1, identifier: id, peerId: a, password: b });
          if (a.length > 0) {
            const ch = decodeControlPacket(encodeChapValue(1, id, a, text));
            const chap = ch.ok ? decodeChap(ch.value) : undefined;
            expect(chap?.ok && chap.value).toEqual({
              code: 1,
              identifier: id,
              value: a,
              name: Buffer.from(text),
            });
          }
          const ack = decodeControlPacket(encodePapReply(2, id, text));
          const ackPap = ack.ok ? decodePap(ack.value) : undefined;
          expect(ackPap?.ok && ackPap.value.code === 2 && ackPap.value.message.toString()).toBe(
            Buffer.from(text).subarray(0, 255).toString(),
          );
          const fail = decodeControlPacket(encodeChapResult(4, id, text));
          const failChap = fail.ok ? decodeChap(fail.value) : undefined;
          expect(
            failChap?.ok && failChap.value.code === 4 && failChap.value.message.toString(),
          ).toBe(text);
        },
      ),
    );
  });

  it('random bytes never make a decoder or the packet formatter throw', () => {
    const protocols = [
      Protocol.LCP,
      Protocol.IPCP,
      Protocol.CCP,
      Protocol.PAP,
      Protocol.CHAP,
      0x8057,
    ];
    fc.assert(
      fc.property(bytes(), fc.constantFrom(...protocols), (input, protocol) => {
        decodeFrame(input);
        decodeOptions(input);
        const p = decodeControlPacket(input);
        if (p.ok) {
          decodePap(p.value);
          decodeChap(p.value);
        }
        expect(typeof formatPacket(protocol, input)).toBe('string');
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects a Length beyond the received bytes with a typed error', () => {
    const r = decodeControlPacket(Buffer.from([1, 1, 0, 40, 1, 4, 5, 220]));
    expect(r).toEqual({
      ok: false,
      error: { kind: 'bad-length', reason: 'Length field 40 exceeds the 8 octets received' },
    });
  });

  it('rejects an option that runs past the packet', () => {
    const r = decodeOptions(Buffer.from([1, 4, 5]));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.kind).toBe('bad-length');
  });

  it('decodes a compressed protocol field and elided address/control', () => {
    const r = decodeFrame(Buffer.from([0x21, 0x45, 0x00]));
    expect(r.ok && r.value.protocol).toBe(0x21);
    expect(decodeFrame(Buffer.from([0xff, 0x03, 0xc0, 0x21, 1])).ok).toBe(true);
    expect(decodeFrame(Buffer.from([0xff, 0x05, 0xc0, 0x21])).ok).toBe(false);
    expect(decodeFrame(Buffer.from([0xc0, 0x20])).ok).toBe(false);
  });
});
