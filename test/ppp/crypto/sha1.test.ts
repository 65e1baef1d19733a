import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Sha1 } from '../../../src/ppp/crypto/sha1.js';

describe('Sha1', () => {
  // FIPS 180-4 examples.
  it('hashes "abc" to a9993e36…9cd0d89d', () => {
    expect(new Sha1().update(Buffer.from('abc')).digest().toString('hex')).toBe(
      'a9993e364706816aba3e25717850c26c9cd0d89d',
    );
  });

  it('hashes the 448-bit two-block message of FIPS 180-4', () => {
    const msg = Buffer.from('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq');
    expect(new Sha1().update(msg).digest().toString('hex')).toBe(
      '84983e441c3bd26ebaae4aa1f95129e5e54670f1',
    );
  });

  it("agrees with Node's SHA-1 for any split of any input, and resets after a digest", () => {
    const sha = new Sha1();
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 150 }), { maxLength: 6 }), (parts) => {
        for (const p of parts) sha.update(p);
        const expected = createHash('sha1');
        for (const p of parts) expected.update(p);
        const out = Buffer.alloc(25);
        sha.digestInto(out, 5);
        expect(out.subarray(5)).toEqual(expected.digest());
      }),
      { numRuns: 300 },
    );
  });

  it('hashes a sub-range of a buffer', () => {
    const data = Buffer.from('xxhello worldyy');
    const digest = new Sha1().update(data, 2, 11).digest();
    expect(digest).toEqual(createHash('sha1').update('hello world').digest());
  });
});
