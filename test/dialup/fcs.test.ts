import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FCS16_GOOD,
  FCS16_INIT,
  FCS32_GOOD,
  FCS32_INIT,
  fcs16,
  fcs16Value,
  fcs32,
  fcs32Value,
} from '../../src/dialup/fcs.js';

const CHECK = Buffer.from('123456789', 'ascii');

/** Bit-at-a-time reference straight from RFC 1662 §C.2's description of the polynomial. */
function slowFcs16(data: Uint8Array): number {
  let v = 0xffff;
  for (const b of data) {
    v ^= b;
    for (let i = 0; i < 8; i++) v = v & 1 ? (v >>> 1) ^ 0x8408 : v >>> 1;
  }
  return v;
}

function slowFcs32(data: Uint8Array): number {
  let v = 0xffffffff;
  for (const b of data) {
    v ^= b;
    for (let i = 0; i < 8; i++) v = v & 1 ? (v >>> 1) ^ 0xedb88320 : v >>> 1;
  }
  return v >>> 0;
}

function appendFcs16(data: Uint8Array): Buffer {
  const v = fcs16Value(data);
  return Buffer.concat([data, Buffer.from([v & 0xff, v >>> 8])]);
}

function appendFcs32(data: Uint8Array): Buffer {
  const v = fcs32Value(data);
  const t = Buffer.alloc(4);
  t.writeUInt32LE(v);
  return Buffer.concat([data, t]);
}

describe('FCS-16 (RFC 1662 §C.2)', () => {
  it('has the check value 0x906E over "123456789"', () => {
    expect(fcs16Value(CHECK)).toBe(0x906e);
  });

  it('ends on the good residue 0xF0B8 over a frame with its FCS appended', () => {
    expect(fcs16(appendFcs16(CHECK))).toBe(FCS16_GOOD);
  });

  it('matches the bit-at-a-time definition and the good residue for any data', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
        expect(fcs16(data)).toBe(slowFcs16(data));
        expect(fcs16(appendFcs16(data))).toBe(FCS16_GOOD);
      }),
    );
  });

  it('can be run incrementally over pieces', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(200), (data, cut) => {
        const k = Math.min(cut, data.length);
        expect(fcs16(data, fcs16(data, FCS16_INIT, 0, k), k)).toBe(fcs16(data));
      }),
    );
  });
});

describe('FCS-32 (RFC 1662 §C.3)', () => {
  it('has the check value 0xCBF43926 over "123456789"', () => {
    expect(fcs32Value(CHECK)).toBe(0xcbf43926);
  });

  it('ends on the good residue 0xDEBB20E3 over a frame with its FCS appended', () => {
    expect(fcs32(appendFcs32(CHECK))).toBe(FCS32_GOOD);
  });

  it('matches the bit-at-a-time definition over any range of any data', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(300), fc.nat(300), (data, x, y) => {
        const a = Math.min(x, y, data.length);
        const b = Math.min(Math.max(x, y), data.length);
        expect(fcs32(data, FCS32_INIT, a, b)).toBe(slowFcs32(data.subarray(a, b)));
        expect(fcs16(data, FCS16_INIT, a, b)).toBe(slowFcs16(data.subarray(a, b)));
      }),
    );
  });

  it('ends on the good residue for any data and returns an unsigned value', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
        expect(fcs32(appendFcs32(data))).toBe(FCS32_GOOD);
        expect(fcs32(data, FCS32_INIT)).toBeGreaterThanOrEqual(0);
      }),
    );
  });
});
