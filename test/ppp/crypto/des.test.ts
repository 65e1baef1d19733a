import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { desEncrypt, desEncryptBlock, expandDesKey } from '../../../src/ppp/crypto/des.js';
import { legacyOpenssl } from './legacy-openssl.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

/** Single DES through Node's default provider: 3DES-EDE with K1 = K2 = K3 is single DES. */
function nodeSingleDes(key8: Uint8Array, block: Uint8Array): Buffer {
  const k = Buffer.from(key8);
  const c = createCipheriv('des-ede3-ecb', Buffer.concat([k, k, k]), null);
  c.setAutoPadding(false);
  return c.update(block);
}

describe('desEncryptBlock', () => {
  it('encrypts the classic "Now is t" example (key 0123456789ABCDEF) to 3FA40E8A984D4815', () => {
    expect(desEncryptBlock(hex('0123456789abcdef'), Buffer.from('Now is t')).toString('hex')).toBe(
      '3fa40e8a984d4815',
    );
  });

  // NBS SP 500-20 known-answer tests (variable plaintext and variable key).
  const kat: [string, string, string][] = [
    ['0101010101010101', '8000000000000000', '95f8a5e5dd31d900'],
    ['0101010101010101', '4000000000000000', 'dd7f121ca5015619'],
    ['0101010101010101', '2000000000000000', '2e8653104f3834ea'],
    ['8001010101010101', '0000000000000000', '95a8d72813daa94d'],
    ['4001010101010101', '0000000000000000', '0eec1487dd8c26d5'],
  ];
  for (const [key, clear, cipher] of kat) {
    it(`gives ${cipher} for key ${key} and plaintext ${clear} (NBS SP 500-20)`, () => {
      expect(desEncryptBlock(hex(key), hex(clear)).toString('hex')).toBe(cipher);
    });
  }

  it('ignores the parity bits of the key', () => {
    const a = desEncryptBlock(hex('0123456789abcdef'), hex('0011223344556677'));
    const b = desEncryptBlock(hex('0022446688aaccee'), hex('0011223344556677'));
    expect(b).toEqual(a);
  });

  it('agrees with OpenSSL single DES (3DES K‖K‖K) for random keys and blocks', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 8, maxLength: 8 }),
        fc.uint8Array({ minLength: 8, maxLength: 8 }),
        (key, block) => {
          expect(desEncryptBlock(key, block)).toEqual(nodeSingleDes(key, block));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('agrees with OpenSSL legacy des-ecb', () => {
    const cases = fc.sample(
      fc.tuple(
        fc.uint8Array({ minLength: 8, maxLength: 8 }),
        fc.uint8Array({ minLength: 8, maxLength: 8 }),
      ),
      { numRuns: 50, seed: 46 },
    );
    const expected = legacyOpenssl(
      cases.map(([k, d]) => ({
        op: 'des-ecb',
        key: Buffer.from(k).toString('hex'),
        data: Buffer.from(d).toString('hex'),
      })),
    );
    expect(cases.map(([k, d]) => desEncryptBlock(k, d).toString('hex'))).toEqual(expected);
  });

  it('rejects keys and blocks of the wrong size', () => {
    expect(() => desEncryptBlock(Buffer.alloc(7), Buffer.alloc(8))).toThrow(RangeError);
    expect(() => desEncryptBlock(Buffer.alloc(8), Buffer.alloc(9))).toThrow(RangeError);
  });
});

describe('desEncrypt (RFC 2759 §8.6, 7-byte key)', () => {
  it('spreads 56 key bits over 8 bytes with odd parity in each low bit', () => {
    const k = expandDesKey(hex('ffffffffffffff'));
    expect(k.toString('hex')).toBe('fefefefefefefefe');
    const z = expandDesKey(hex('00000000000000'));
    expect(z.toString('hex')).toBe('0101010101010101');
    for (const byte of expandDesKey(hex('0123456789abcd'))) {
      let ones = 0;
      for (let v = byte; v !== 0; v >>= 1) ones += v & 1;
      expect(ones % 2).toBe(1);
    }
  });

  it('equals DES under the expanded key', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 7, maxLength: 7 }),
        fc.uint8Array({ minLength: 8, maxLength: 8 }),
        (key7, block) => {
          expect(desEncrypt(key7, block)).toEqual(nodeSingleDes(expandDesKey(key7), block));
        },
      ),
      { numRuns: 100 },
    );
  });
});
