import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { chapMd5Response } from '../../../src/ppp/auth/chap-md5.js';
import { verifyPapOrMd5 } from '../../../src/ppp/auth/verify.js';

describe('CHAP-MD5 response (RFC 1994 §2.2)', () => {
  // Known answers published with PEAR Crypt_CHAP (tests/chaptest.php).
  it('matches the published answer for id 1, "MyPw", challenge 102DB5DF085D3041', () => {
    const r = chapMd5Response(1, 'MyPw', Buffer.from('102DB5DF085D3041', 'hex'));
    expect(r.toString('hex')).toBe('8f028814450d66d94c72331ef455a172');
  });

  it('matches the published answer for id 1, "sepp", challenge 102DB5DF085D3041', () => {
    const r = chapMd5Response(1, 'sepp', Buffer.from('102DB5DF085D3041', 'hex'));
    expect(r.toString('hex')).toBe('d39bfaf5d6855a948c8c81a85947502c');
  });

  it('equals openssl md5 over Identifier || secret || Challenge', () => {
    const challenge = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const input = Buffer.concat([Buffer.from([0xa7]), Buffer.from('s3cret'), challenge]);
    const openssl = execFileSync('openssl', ['dgst', '-md5', '-r'], { input })
      .toString()
      .split(' ')[0];
    expect(chapMd5Response(0xa7, 's3cret', challenge).toString('hex')).toBe(openssl);
  });

  it('verifies a right response and refuses a wrong one without naming the secret', () => {
    const challenge = Buffer.alloc(16, 7);
    const base = {
      method: 'chap-md5',
      identifier: 9,
      challenge,
      peerName: 'alice',
      ourName: 'hq',
      source: 'test',
    } as const;
    const good = verifyPapOrMd5(
      { ...base, response: chapMd5Response(9, 'pw1', challenge) },
      { password: 'pw1' },
    );
    const bad = verifyPapOrMd5(
      { ...base, response: chapMd5Response(9, 'pw2', challenge) },
      { password: 'pw1' },
    );
    expect(good.ok).toBe(true);
    expect(bad.ok).toBe(false);
    expect(JSON.stringify(bad)).not.toContain('pw1');
  });

  it('says which record cannot serve CHAP-MD5', () => {
    const d = verifyPapOrMd5(
      {
        method: 'chap-md5',
        identifier: 1,
        challenge: Buffer.alloc(16),
        response: Buffer.alloc(16),
        peerName: 'bob',
        ourName: 'hq',
        source: 't',
      },
      { ntHash: Buffer.alloc(16) },
    );
    expect(d).toEqual({
      ok: false,
      reason: "the secret for 'bob' holds only an NT hash; chap-md5 needs the password",
    });
  });
});
