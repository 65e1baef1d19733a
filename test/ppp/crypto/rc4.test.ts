import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rc4 } from '../../../src/ppp/crypto/rc4.js';
import { legacyOpenssl } from './legacy-openssl.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Keystream bytes [offset, offset+16) for `key` (encrypting zeros). */
function keystreamAt(key: Buffer, offset: number): string {
  const rc4 = new Rc4(key);
  const stream = rc4.encrypt(Buffer.alloc(offset + 16));
  return stream.subarray(offset).toString('hex');
}

describe('Rc4', () => {
  // RFC 6229 §2 test vectors: keystream at offsets 0, 16, 240, 4096.
  it('produces the RFC 6229 keystream for the 40-bit key 0102030405', () => {
    const key = hex('0102030405');
    expect(keystreamAt(key, 0)).toBe('b2396305f03dc027ccc3524a0a1118a8');
    expect(keystreamAt(key, 16)).toBe('6982944f18fc82d589c403a47a0d0919');
  });

  it('produces the RFC 6229 keystream for the 128-bit key 0102…10', () => {
    const key = hex('0102030405060708090a0b0c0d0e0f10');
    expect(keystreamAt(key, 0)).toBe('9ac7cc9a609d1ef7b2932899cde41b97');
    expect(keystreamAt(key, 16)).toBe('5248c4959014126a6e8a84f11d1a9e1c');
  });

  it('encrypts the classic "Key"/"Plaintext" example', () => {
    const out = new Rc4(Buffer.from('Key')).encrypt(Buffer.from('Plaintext'));
    expect(out.toString('hex')).toBe('bbf316e8d940af0ad3');
  });

  it('continues the keystream across calls, in place or into another buffer', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 32 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.nat({ max: 300 }),
        (key, data, cut) => {
          const whole = new Rc4(key).encrypt(data);
          const split = Math.min(cut, data.length);
          const rc4 = new Rc4(key);
          const buf = Buffer.from(data);
          rc4.process(buf, buf, 0, 0, split); // in place
          const out = Buffer.alloc(data.length + 3);
          rc4.process(buf, out, split, 3, data.length - split); // to another buffer, offset
          expect(
            Buffer.concat([buf.subarray(0, split), out.subarray(3, 3 + data.length - split)]),
          ).toEqual(whole);
        },
      ),
    );
  });

  it('decrypts what it encrypts', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 256 }),
        fc.uint8Array({ maxLength: 500 }),
        (key, data) => {
          const c = new Rc4(key).encrypt(data);
          expect(new Rc4(key).encrypt(c)).toEqual(Buffer.from(data));
        },
      ),
    );
  });

  it('keys with a prefix of a longer buffer when given a length', () => {
    const digest = hex('00112233445566778899aabbccddeeff0123456789');
    const a = new Rc4();
    a.setKey(digest, 16);
    const b = new Rc4(digest.subarray(0, 16));
    expect(a.encrypt(Buffer.alloc(40))).toEqual(b.encrypt(Buffer.alloc(40)));
  });

  it('agrees with OpenSSL legacy RC4 for random keys and lengths', () => {
    const cases = fc.sample(
      fc.tuple(fc.uint8Array({ minLength: 5, maxLength: 32 }), fc.uint8Array({ maxLength: 2000 })),
      { numRuns: 100, seed: 6229 },
    );
    const expected = legacyOpenssl(
      cases.map(([k, d]) => ({
        op: 'rc4',
        key: Buffer.from(k).toString('hex'),
        data: Buffer.from(d).toString('hex'),
      })),
    );
    expect(cases.map(([k, d]) => new Rc4(k).encrypt(d).toString('hex'))).toEqual(expected);
  });

  it('refuses empty keys and ranges outside the buffers', () => {
    expect(() => new Rc4(Buffer.alloc(0))).toThrow(RangeError);
    const rc4 = new Rc4(Buffer.from('k'));
    expect(() => rc4.process(Buffer.alloc(4), Buffer.alloc(3), 0, 0, 4)).toThrow(RangeError);
  });
});
