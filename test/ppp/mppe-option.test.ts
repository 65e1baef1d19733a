import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeMppeOption,
  decodeMppeOptionValue,
  encodeMppeOption,
  encodeMppeOptionValue,
  formatMppeOption,
  formatMppePolicy,
  MPPE_POLICY_DEFAULT,
  type MppeOptionRepr,
  type MppePolicy,
  mppeAfterNak,
  mppeAgreed,
  mppeOptionFromBits,
  mppeOptionToBits,
  mppeRequestOption,
  negotiateMppe,
  parseMppePolicy,
} from '../../src/ppp/mppe-option.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const opt = (bits: number): MppeOptionRepr => mppeOptionFromBits(bits);
const H = 0x01000000;
const S = 0x40;
const M = 0x80;
const L = 0x20;
const D = 0x10;
const C = 0x01;

describe('CCP option 18 codec (RFC 3078 §2)', () => {
  it("decodes pppd's require-mppe-128 request 12 06 01 00 00 40 as H + S", () => {
    const r = decodeMppeOption(hex('120601000040'));
    expect(r).toEqual({
      ok: true,
      value: {
        stateless: true,
        bits40: false,
        bits56: false,
        bits128: true,
        obsolete: false,
        mppc: false,
        unknownBits: 0,
      },
    });
  });

  it('encodes the whole option and its value', () => {
    const repr = opt(H | S | L);
    expect(encodeMppeOption(repr)).toEqual(hex('120601000060'));
    expect(encodeMppeOptionValue(repr)).toEqual(hex('01000060'));
  });

  it('keeps unknown bits as data', () => {
    const r = decodeMppeOptionValue(hex('02000041'));
    expect(r.ok && r.value.unknownBits).toBe(0x02000000);
    expect(r.ok && r.value.bits128 && r.value.mppc).toBe(true);
    expect(r.ok && encodeMppeOptionValue(r.value)).toEqual(hex('02000041'));
  });

  it('formats a pppd-style log fragment', () => {
    expect(formatMppeOption(opt(H | S))).toBe('<mppe +H -M +S -L -D -C>');
  });

  it('round-trips every 32-bit value', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (bits) => {
        const value = Buffer.alloc(4);
        value.writeUInt32BE(bits);
        const r = decodeMppeOptionValue(value);
        expect(r.ok).toBe(true);
        if (r.ok) {
          expect(encodeMppeOptionValue(r.value)).toEqual(value);
          expect(mppeOptionToBits(r.value)).toBe(bits);
          expect(decodeMppeOption(encodeMppeOption(r.value))).toEqual(r);
        }
      }),
    );
  });

  it('refuses wrong types and lengths, and never throws on random bytes', () => {
    expect(decodeMppeOption(hex('110601000040')).ok).toBe(false);
    expect(decodeMppeOption(hex('1205010000')).ok).toBe(false);
    expect(decodeMppeOption(hex('12')).ok).toBe(false);
    expect(decodeMppeOptionValue(hex('010000')).ok).toBe(false);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), (data) => {
        expect(typeof decodeMppeOption(data).ok).toBe('boolean');
        expect(typeof decodeMppeOptionValue(data).ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseMppePolicy (pppd vocabulary)', () => {
  const parse = (tokens: string[], usesMschapV2 = false) =>
    parseMppePolicy(tokens, { usesMschapV2 });

  it('defaults to require-mppe-128, stateless, wherever MS-CHAPv2 is used', () => {
    expect(parse([], true)).toEqual({ ok: true, value: MPPE_POLICY_DEFAULT });
  });

  it('is off by default without MS-CHAPv2', () => {
    expect(parse([])).toEqual({
      ok: true,
      value: { required: false, bits: [], statefulAllowed: false },
    });
  });

  it('reads require-mppe as 128-bit only: 40 and 56 must be named', () => {
    expect(parse(['require-mppe'])).toEqual({
      ok: true,
      value: { required: true, bits: [128], statefulAllowed: false },
    });
    expect(parse(['require-mppe-40', 'require-mppe-128'])).toEqual({
      ok: true,
      value: { required: true, bits: [128, 40], statefulAllowed: false },
    });
    expect(parse(['require-mppe-56'], true)).toEqual({
      ok: true,
      value: { required: true, bits: [56], statefulAllowed: false },
    });
  });

  it('allows stateful mode only with mppe-stateful', () => {
    expect(parse(['require-mppe-128', 'mppe-stateful'])).toMatchObject({
      ok: true,
      value: { statefulAllowed: true },
    });
    expect(parse(['require-mppe-128', 'nomppe-stateful'])).toMatchObject({
      ok: true,
      value: { statefulAllowed: false },
    });
  });

  it('turns MPPE off with nomppe and removes lengths with nomppe-N', () => {
    expect(parse(['nomppe'], true)).toEqual({
      ok: true,
      value: { required: false, bits: [], statefulAllowed: false },
    });
    expect(parse(['nomppe-40', 'nomppe-56'], true)).toMatchObject({
      ok: true,
      value: { required: true, bits: [128] },
    });
  });

  it('refuses contradictions and unknown tokens with a clear error', () => {
    for (const tokens of [
      ['nomppe', 'require-mppe-128'],
      ['nomppe', 'require-mppe'],
      ['nomppe', 'mppe-stateful'],
      ['mppe-stateful', 'nomppe-stateful'],
      ['require-mppe-128', 'nomppe-128'],
      ['require-mppe', 'nomppe-128'],
    ]) {
      const r = parse(tokens);
      expect(r.ok, tokens.join(' ')).toBe(false);
      if (!r.ok) expect(r.error.kind).toBe('contradiction');
    }
    const r = parse(['require-mppe-64']);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.reason).toContain('require-mppe-64');
  });

  it('formats a policy back to tokens that parse to the same policy', () => {
    const tokenArb = fc.subarray([
      'require-mppe',
      'require-mppe-40',
      'require-mppe-56',
      'require-mppe-128',
      'nomppe',
      'nomppe-40',
      'nomppe-56',
      'nomppe-128',
      'mppe-stateful',
      'nomppe-stateful',
    ]);
    fc.assert(
      fc.property(tokenArb, fc.boolean(), (tokens, v2) => {
        const r = parse(tokens, v2);
        if (!r.ok || r.value.bits.length === 0) return;
        expect(parse(formatMppePolicy(r.value))).toEqual(r);
      }),
    );
  });
});

describe('negotiateMppe (answering the peer, pppd-compatible)', () => {
  const policy128: MppePolicy = MPPE_POLICY_DEFAULT;
  const all: MppePolicy = { required: true, bits: [128, 56, 40], statefulAllowed: true };

  it('requests exactly one key length and H: 01 00 00 40 by default', () => {
    const req = mppeRequestOption(policy128);
    expect(req && encodeMppeOptionValue(req)).toEqual(hex('01000040'));
    expect(
      mppeRequestOption({ required: false, bits: [], statefulAllowed: false }),
    ).toBeUndefined();
    const weak = mppeRequestOption({ required: true, bits: [40, 56], statefulAllowed: true });
    expect(weak && mppeOptionToBits(weak)).toBe(H | M);
  });

  it('acks exactly H + S', () => {
    expect(negotiateMppe(policy128, opt(H | S))).toEqual({
      kind: 'ack',
      bits: 128,
      stateful: false,
    });
  });

  it('naks a Windows-style offer of every length down to the strongest both allow', () => {
    const v = negotiateMppe(policy128, opt(H | S | M | L));
    expect(v.kind).toBe('nak');
    if (v.kind === 'nak') expect(mppeOptionToBits(v.suggest)).toBe(H | S);
    const w = negotiateMppe(
      { required: true, bits: [56, 40], statefulAllowed: false },
      opt(H | S | M | L),
    );
    expect(w.kind === 'nak' && mppeOptionToBits(w.suggest)).toBe(H | M);
  });

  it('naks stateful mode with H unless mppe-stateful, and acks it with mppe-stateful', () => {
    const v = negotiateMppe(policy128, opt(S));
    expect(v.kind === 'nak' && mppeOptionToBits(v.suggest)).toBe(H | S);
    expect(negotiateMppe(all, opt(S))).toEqual({ kind: 'ack', bits: 128, stateful: true });
  });

  it('naks MPPC, D and unknown bits away', () => {
    for (const extra of [C, D, 0x00100000]) {
      const v = negotiateMppe(policy128, opt(H | S | extra));
      expect(v.kind === 'nak' && mppeOptionToBits(v.suggest)).toBe(H | S);
    }
  });

  it('naks an offer with no key length with our strongest', () => {
    const v = negotiateMppe(policy128, opt(H));
    expect(v.kind === 'nak' && mppeOptionToBits(v.suggest)).toBe(H | S);
  });

  it('rejects lengths the policy refuses, and everything when MPPE is off', () => {
    expect(negotiateMppe(policy128, opt(H | L)).kind).toBe('reject');
    expect(negotiateMppe(policy128, opt(H | M | L)).kind).toBe('reject');
    expect(
      negotiateMppe({ required: false, bits: [], statefulAllowed: false }, opt(H | S)).kind,
    ).toBe('reject');
  });

  it('acks only what its policy allows and never throws, for any peer bits', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.subarray([40, 56, 128] as const),
        fc.boolean(),
        (bits, allowed, stateful) => {
          const policy: MppePolicy = { required: true, bits: allowed, statefulAllowed: stateful };
          const v = negotiateMppe(policy, opt(bits));
          if (v.kind === 'ack') {
            expect(allowed).toContain(v.bits);
            if (v.stateful) expect(stateful).toBe(true);
          }
          if (v.kind === 'nak') {
            // A Nak always suggests something we would ack.
            expect(negotiateMppe(policy, v.suggest).kind).toBe('ack');
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('our request after a Nak, and the final agreement', () => {
  it("takes the peer's weaker length if the policy allows it", () => {
    const policy: MppePolicy = { required: true, bits: [128, 40], statefulAllowed: false };
    const r = mppeAfterNak(policy, opt(H | L));
    expect(r.ok && mppeOptionToBits(r.value)).toBe(H | L);
    expect(mppeAfterNak(MPPE_POLICY_DEFAULT, opt(H | L)).ok).toBe(false);
  });

  it('accepts a Nak to stateful mode only with mppe-stateful', () => {
    expect(mppeAfterNak(MPPE_POLICY_DEFAULT, opt(S)).ok).toBe(false);
    const r = mppeAfterNak({ ...MPPE_POLICY_DEFAULT, statefulAllowed: true }, opt(S));
    expect(r.ok && mppeOptionToBits(r.value)).toBe(S);
  });

  it('agrees when both directions chose the same length and mode', () => {
    expect(mppeAgreed(opt(H | S), opt(H | S))).toEqual({
      ok: true,
      value: { bits: 128, stateful: false },
    });
    expect(mppeAgreed(opt(S), opt(S))).toEqual({ ok: true, value: { bits: 128, stateful: true } });
    expect(mppeAgreed(opt(H | S), opt(H | L)).ok).toBe(false);
    expect(mppeAgreed(opt(H | S), opt(S)).ok).toBe(false);
    expect(mppeAgreed(opt(H | S | L), opt(H | S)).ok).toBe(false);
  });
});
