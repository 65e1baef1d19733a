import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { md4 } from '../../../src/ppp/crypto/md4.js';
import { legacyOpenssl } from './legacy-openssl.js';

describe('md4', () => {
  // RFC 1320 §A.5 test suite.
  const suite: [string, string][] = [
    ['', '31d6cfe0d16ae931b73c59d7e0c089c0'],
    ['a', 'bde52cb31de33e46245e05fbdbd6fb24'],
    ['abc', 'a448017aaf21d8525fc10ae87aa6729d'],
    ['message digest', 'd9130a8164549fe818874806e1c7014b'],
    ['abcdefghijklmnopqrstuvwxyz', 'd79e1c308aa5bbcdeea8ed63df412da9'],
    [
      'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789',
      '043f8582f241db351ce627e153e7f0e4',
    ],
    [
      '12345678901234567890123456789012345678901234567890123456789012345678901234567890',
      'e33b4ddc9c38f2199c3e7b164fcc0536',
    ],
  ];
  for (const [input, digest] of suite) {
    it(`hashes ${JSON.stringify(input)} as RFC 1320 §A.5 prints`, () => {
      expect(md4(Buffer.from(input, 'ascii')).toString('hex')).toBe(digest);
    });
  }

  it('agrees with OpenSSL legacy MD4 on lengths around every padding boundary', () => {
    const inputs = Array.from({ length: 140 }, (_, n) => Buffer.alloc(n, n & 0xff));
    const expected = legacyOpenssl(inputs.map((d) => ({ op: 'md4', data: d.toString('hex') })));
    expect(inputs.map((d) => md4(d).toString('hex'))).toEqual(expected);
  });

  it('agrees with OpenSSL legacy MD4 on random inputs', () => {
    const inputs = fc.sample(fc.uint8Array({ maxLength: 600 }), { numRuns: 200, seed: 1320 });
    const expected = legacyOpenssl(
      inputs.map((d) => ({ op: 'md4', data: Buffer.from(d).toString('hex') })),
    );
    expect(inputs.map((d) => md4(d).toString('hex'))).toEqual(expected);
  });
});
