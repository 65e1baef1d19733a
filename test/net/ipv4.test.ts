import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatIpv4,
  formatPrefix,
  parseIpv4,
  parsePrefix,
  prefixMask,
} from '../../src/net/ipv4.js';

describe('parseIpv4', () => {
  it('parses dotted quads to unsigned 32-bit values', () => {
    expect(parseIpv4('0.0.0.0')).toEqual({ ok: true, value: 0 });
    expect(parseIpv4('10.201.0.1')).toEqual({ ok: true, value: 0x0ac90001 });
    expect(parseIpv4('255.255.255.255')).toEqual({ ok: true, value: 0xffffffff });
  });

  it('rejects octets above 255, leading zeros, signs and wrong part counts', () => {
    for (const bad of [
      '256.0.0.1',
      '010.0.0.1',
      '1.2.3',
      '1.2.3.4.5',
      '1.2.3.-4',
      '',
      'a.b.c.d',
      '1.2.3.4 ',
    ]) {
      const r = parseIpv4(bad);
      expect(r.ok, bad).toBe(false);
      if (!r.ok) expect(r.error.kind).toBe('bad-address');
    }
  });

  it('round-trips every 32-bit value through formatIpv4', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (v) => {
        expect(parseIpv4(formatIpv4(v))).toEqual({ ok: true, value: v });
      }),
    );
  });

  it('never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(typeof parseIpv4(s).ok).toBe('boolean');
      }),
    );
  });
});

describe('parsePrefix', () => {
  it('reads "default" as 0.0.0.0/0 and a bare address as a /32', () => {
    expect(parsePrefix('default')).toEqual({
      ok: true,
      value: { address: '0.0.0.0', network: 0, length: 0 },
    });
    expect(parsePrefix('192.0.2.7')).toMatchObject({
      ok: true,
      value: { address: '192.0.2.7', length: 32 },
    });
    expect(parsePrefix('0.0.0.0/0')).toMatchObject({ ok: true, value: { length: 0 } });
  });

  it('refuses host bits beyond the prefix and suggests the network', () => {
    const r = parsePrefix('10.1.2.3/8');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.kind).toBe('host-bits');
      expect(r.error.reason).toContain('did you mean 10.0.0.0/8');
    }
  });

  it('refuses prefix lengths outside 0..32', () => {
    for (const bad of ['10.0.0.0/33', '10.0.0.0/-1', '10.0.0.0/', '10.0.0.0/08x']) {
      expect(parsePrefix(bad)).toMatchObject({ ok: false, error: { kind: 'bad-prefix' } });
    }
  });

  it('round-trips masked networks through formatPrefix', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 32 }),
        (v, len) => {
          const network = (v & prefixMask(len)) >>> 0;
          const text = formatPrefix({ address: formatIpv4(network), network, length: len });
          expect(parsePrefix(text)).toEqual({
            ok: true,
            value: { address: formatIpv4(network), network, length: len },
          });
        },
      ),
    );
  });
});
