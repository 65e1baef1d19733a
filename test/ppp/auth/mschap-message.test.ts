import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeMschapFailure,
  decodeMschapV1Response,
  decodeMschapV2Response,
  decodeMschapV2Success,
  encodeMschapFailure,
  encodeMschapV1Response,
  encodeMschapV2Response,
  encodeMschapV2Success,
  formatMschapFailure,
  type MschapFailure,
  mschapErrorCode,
  mschapErrorName,
} from '../../../src/ppp/auth/mschap-message.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const bytes = (n: number) =>
  fc.uint8Array({ minLength: n, maxLength: n }).map((a) => Buffer.from(a));
/** Printable ASCII text, the kind MS-CHAP messages carry. */
const text = fc.string({ maxLength: 60 }).map((s) => s.replace(/[^\x20-\x7e]/g, 'x'));

describe('MS-CHAPv1 Response Value (RFC 2433 §5)', () => {
  it('lays out LM-Response, NT-Response and Flags in 49 bytes', () => {
    const v = encodeMschapV1Response({
      lmResponse: Buffer.alloc(24),
      ntResponse: hex('4E9D3C8F9CFD385D5BF4D3246791956CA4C351AB409A3D61'),
      flags: 1,
    });
    expect(v).toHaveLength(49);
    expect(v.subarray(0, 24)).toEqual(Buffer.alloc(24));
    expect(v.subarray(24, 48).toString('hex')).toBe(
      '4e9d3c8f9cfd385d5bf4d3246791956ca4c351ab409a3d61',
    );
    expect(v[48]).toBe(1);
  });

  it('round-trips', () => {
    fc.assert(
      fc.property(bytes(24), bytes(24), fc.integer({ min: 0, max: 255 }), (lm, nt, flags) => {
        const repr = { lmResponse: lm, ntResponse: nt, flags };
        const d = decodeMschapV1Response(encodeMschapV1Response(repr));
        expect(d).toEqual({ ok: true, value: repr });
      }),
    );
  });

  it('refuses any length but 49', () => {
    const r = decodeMschapV1Response(Buffer.alloc(48));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.kind).toBe('bad-length');
  });
});

describe('MS-CHAPv2 Response Value (RFC 2759 §4)', () => {
  it('lays out Peer-Challenge, 8 zero bytes, NT-Response and Flags', () => {
    const v = encodeMschapV2Response({
      peerChallenge: hex('21402324255E262A28295F2B3A337C7E'),
      ntResponse: hex('82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF'),
      flags: 0,
    });
    expect(v.toString('hex').toUpperCase()).toBe(
      '21402324255E262A28295F2B3A337C7E' +
        '0000000000000000' +
        '82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF' +
        '00',
    );
  });

  it('round-trips', () => {
    fc.assert(
      fc.property(bytes(16), bytes(24), fc.integer({ min: 0, max: 255 }), (pc, nt, flags) => {
        const repr = { peerChallenge: pc, ntResponse: nt, flags };
        expect(decodeMschapV2Response(encodeMschapV2Response(repr))).toEqual({
          ok: true,
          value: repr,
        });
      }),
    );
  });

  it('ignores nonzero reserved bytes as pppd does', () => {
    const v = Buffer.alloc(49);
    v.fill(0xaa, 16, 24);
    expect(decodeMschapV2Response(v).ok).toBe(true);
  });
});

describe('MS-CHAPv2 Success message (RFC 2759 §5)', () => {
  it('produces "S=<40 uppercase hex> M=<text>"', () => {
    const m = encodeMschapV2Success({
      authenticatorResponse: hex('407A5589115FD0D6209F510FE9C04566932CDA56'),
      message: 'Access granted',
    });
    expect(m.toString()).toBe('S=407A5589115FD0D6209F510FE9C04566932CDA56 M=Access granted');
  });

  it('parses the RFC form, the bare form and pppd\'s space-less "M="', () => {
    const auth = hex('407A5589115FD0D6209F510FE9C04566932CDA56');
    for (const [msg, message] of [
      ['S=407A5589115FD0D6209F510FE9C04566932CDA56 M=Welcome in', 'Welcome in'],
      ['S=407a5589115fd0d6209f510fe9c04566932cda56', undefined],
      ['S=407A5589115FD0D6209F510FE9C04566932CDA56M=hi', 'hi'],
    ] as const) {
      const r = decodeMschapV2Success(Buffer.from(msg));
      expect(r).toEqual({
        ok: true,
        value: { authenticatorResponse: auth, ...(message !== undefined ? { message } : {}) },
      });
    }
  });

  it('refuses messages without S=, with short or non-hex digits, or trailing junk', () => {
    for (const msg of [
      '',
      'M=hello',
      'S=407A5589',
      'S=407A5589115FD0D6209F510FE9C04566932CDAZZ',
      'S=407A5589115FD0D6209F510FE9C04566932CDA56 junk',
    ]) {
      const r = decodeMschapV2Success(Buffer.from(msg));
      expect(r.ok, msg).toBe(false);
    }
  });

  it('round-trips', () => {
    fc.assert(
      fc.property(bytes(20), fc.option(text, { nil: undefined }), (auth, message) => {
        const repr = { authenticatorResponse: auth, ...(message !== undefined ? { message } : {}) };
        expect(decodeMschapV2Success(encodeMschapV2Success(repr))).toEqual({
          ok: true,
          value: repr,
        });
      }),
    );
  });
});

describe('MS-CHAP Failure message (RFC 2433 §6, RFC 2759 §6)', () => {
  it('produces "E=691 R=0 C=<32 hex> V=3 M=<text>"', () => {
    const m = encodeMschapFailure({
      error: 691,
      retry: false,
      challenge: hex('5B5D7C7D7B3F2F3E3C2C602132262628'),
      version: 3,
      message: 'Access denied',
    });
    expect(m.toString()).toBe('E=691 R=0 C=5B5D7C7D7B3F2F3E3C2C602132262628 V=3 M=Access denied');
  });

  it("parses pppd's v1 and v2 failures", () => {
    const v2 = decodeMschapFailure(
      Buffer.from('E=691 R=1 C=5B5D7C7D7B3F2F3E3C2C602132262628 V=0 M=Access denied'),
    );
    expect(v2).toEqual({
      ok: true,
      value: {
        error: 691,
        retry: true,
        challenge: hex('5B5D7C7D7B3F2F3E3C2C602132262628'),
        version: 0,
        message: 'Access denied',
      },
    });
    const v1 = decodeMschapFailure(Buffer.from('E=691 R=1 C=102DB5DF085D3041 V=0'));
    expect(v1.ok && v1.value.challenge).toEqual(hex('102DB5DF085D3041'));
    expect(v1.ok && v1.value.message).toBeUndefined();
  });

  it('keeps spaces and "=" inside the M= text', () => {
    const r = decodeMschapFailure(Buffer.from('E=648 R=0 V=3 M=Password expired: E=2 x M=y'));
    expect(r.ok && r.value.message).toBe('Password expired: E=2 x M=y');
  });

  it('names the error codes and keeps unknown ones as data', () => {
    expect(mschapErrorName(646)).toBe('restricted-logon-hours');
    expect(mschapErrorName(647)).toBe('account-disabled');
    expect(mschapErrorName(648)).toBe('password-expired');
    expect(mschapErrorName(649)).toBe('no-dialin-permission');
    expect(mschapErrorName(691)).toBe('authentication-failure');
    expect(mschapErrorName(709)).toBe('changing-password');
    expect(mschapErrorName(1234)).toBe('unknown');
    expect(mschapErrorCode('password-expired')).toBe(648);
    const r = decodeMschapFailure(Buffer.from('E=1234 M=odd'));
    expect(r.ok && r.value.error).toBe(1234);
  });

  it('formats a log line without the challenge', () => {
    expect(formatMschapFailure({ error: 691, challenge: Buffer.alloc(16), message: 'no' })).toBe(
      'E=691 authentication-failure "no"',
    );
  });

  it('refuses a missing or non-numeric E=, a bad R= and an odd-length C=', () => {
    for (const msg of ['', 'R=0 E=691', 'E=abc', 'E=691 R=2', 'E=691 C=ABC', 'E= R=0']) {
      expect(decodeMschapFailure(Buffer.from(msg)).ok, msg).toBe(false);
    }
  });

  it('round-trips', () => {
    const failure: fc.Arbitrary<MschapFailure> = fc.record(
      {
        error: fc.integer({ min: 0, max: 99999 }),
        retry: fc.boolean(),
        challenge: fc.oneof(bytes(8), bytes(16)),
        version: fc.integer({ min: 0, max: 9 }),
        message: text,
      },
      { requiredKeys: ['error'] },
    );
    fc.assert(
      fc.property(failure, (repr) => {
        expect(decodeMschapFailure(encodeMschapFailure(repr))).toEqual({ ok: true, value: repr });
      }),
    );
  });
});

describe('decoders on random bytes', () => {
  it('never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (data) => {
        for (const decode of [
          decodeMschapV1Response,
          decodeMschapV2Response,
          decodeMschapV2Success,
          decodeMschapFailure,
        ]) {
          const r = decode(data);
          expect(typeof r.ok).toBe('boolean');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never throw on text that looks almost right', () => {
    const near = fc
      .array(
        fc.constantFrom(
          'S=',
          'E=',
          ' R=',
          ' C=',
          ' V=',
          ' M=',
          '691',
          '0',
          '1',
          'AB',
          'zz',
          ' ',
          '=',
        ),
        { maxLength: 20 },
      )
      .map((parts) => Buffer.from(parts.join('')));
    fc.assert(
      fc.property(near, (data) => {
        expect(typeof decodeMschapFailure(data).ok).toBe('boolean');
        expect(typeof decodeMschapV2Success(data).ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });
});
