import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  authenticatorResponseString,
  challengeHash,
  challengeResponse,
  checkAuthenticatorResponse,
  generateAuthenticatorResponse,
  generateNtResponse,
  hashNtPasswordHash,
  ntChallengeResponse,
  ntPasswordHash,
  secretNtHash,
  stripDomain,
} from '../../../src/ppp/auth/mschap-crypto.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** RFC 2759 §9.2 "Hash and Response Values", every intermediate value. */
const RFC2759 = {
  userName: 'User',
  password: 'clientPass',
  authenticatorChallenge: hex('5B5D7C7D7B3F2F3E3C2C602132262628'),
  peerChallenge: hex('21402324255E262A28295F2B3A337C7E'),
  challenge: hex('D02E4386BCE91226'),
  passwordHash: hex('44EBBA8D5312B8D611474411F56989AE'),
  passwordHashHash: hex('41C00C584BD2D91C4017A2A12FA59F3F'),
  ntResponse: hex('82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF'),
  authenticatorResponse: 'S=407A5589115FD0D6209F510FE9C04566932CDA56',
};

describe('RFC 2759 §9.2 worked example', () => {
  it('NtPasswordHash("clientPass") = 44EBBA8D5312B8D611474411F56989AE', () => {
    expect(ntPasswordHash(RFC2759.password)).toEqual(RFC2759.passwordHash);
  });

  it('encodes the password as UTF-16LE ("Unicode") before hashing', () => {
    // RFC 2759 §9.2 lists the password as 63 00 6C 00 69 00 ... (two bytes per character).
    expect(Buffer.from(RFC2759.password, 'utf16le').subarray(0, 4)).toEqual(hex('63006C00'));
  });

  it('HashNtPasswordHash = 41C00C584BD2D91C4017A2A12FA59F3F', () => {
    expect(hashNtPasswordHash(RFC2759.passwordHash)).toEqual(RFC2759.passwordHashHash);
  });

  it('ChallengeHash(PeerChallenge, AuthenticatorChallenge, "User") = D02E4386BCE91226', () => {
    expect(
      challengeHash(RFC2759.peerChallenge, RFC2759.authenticatorChallenge, RFC2759.userName),
    ).toEqual(RFC2759.challenge);
  });

  it('ChallengeResponse(Challenge, PasswordHash) = the NT-Response', () => {
    expect(challengeResponse(RFC2759.challenge, RFC2759.passwordHash)).toEqual(RFC2759.ntResponse);
  });

  it('GenerateNTResponse = 82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF', () => {
    expect(
      generateNtResponse(
        RFC2759.authenticatorChallenge,
        RFC2759.peerChallenge,
        RFC2759.userName,
        RFC2759.passwordHash,
      ),
    ).toEqual(RFC2759.ntResponse);
  });

  it('GenerateAuthenticatorResponse = S=407A5589115FD0D6209F510FE9C04566932CDA56', () => {
    const raw = generateAuthenticatorResponse(
      RFC2759.passwordHash,
      RFC2759.ntResponse,
      RFC2759.peerChallenge,
      RFC2759.authenticatorChallenge,
      RFC2759.userName,
    );
    expect(raw).toHaveLength(20);
    expect(authenticatorResponseString(raw)).toBe(RFC2759.authenticatorResponse);
  });

  it('CheckAuthenticatorResponse accepts the right S= and refuses any other', () => {
    const good = hex(RFC2759.authenticatorResponse.slice(2));
    const args = [
      RFC2759.passwordHash,
      RFC2759.ntResponse,
      RFC2759.peerChallenge,
      RFC2759.authenticatorChallenge,
      RFC2759.userName,
    ] as const;
    expect(checkAuthenticatorResponse(...args, good)).toBe(true);
    const bad = Buffer.from(good);
    bad[19]! ^= 1;
    expect(checkAuthenticatorResponse(...args, bad)).toBe(false);
    expect(checkAuthenticatorResponse(...args, good.subarray(0, 19))).toBe(false);
  });
});

describe('user names', () => {
  it('strips a Windows domain prefix before the challenge hash (RFC 2759 §8.2)', () => {
    expect(stripDomain('BRANCH\\User')).toBe('User');
    expect(stripDomain('User')).toBe('User');
    expect(
      challengeHash(RFC2759.peerChallenge, RFC2759.authenticatorChallenge, 'CORP\\User'),
    ).toEqual(RFC2759.challenge);
  });
});

describe('RFC 2433 MS-CHAPv1', () => {
  it('NtPasswordHash("MyPw") = FC156AF7EDCD6C0EDDE3337D427F4EAC', () => {
    expect(ntPasswordHash('MyPw')).toEqual(hex('FC156AF7EDCD6C0EDDE3337D427F4EAC'));
  });

  it('NtChallengeResponse(102DB5DF085D3041, "MyPw") = 4E9D3C8F…409A3D61', () => {
    expect(ntChallengeResponse(hex('102DB5DF085D3041'), ntPasswordHash('MyPw'))).toEqual(
      hex('4E9D3C8F9CFD385D5BF4D3246791956CA4C351AB409A3D61'),
    );
  });
});

describe('secrets', () => {
  it('uses a stored 16-byte NT hash as is, else hashes the password', () => {
    expect(secretNtHash({ ntHash: RFC2759.passwordHash })).toEqual(RFC2759.passwordHash);
    expect(secretNtHash({ password: RFC2759.password })).toEqual(RFC2759.passwordHash);
    expect(secretNtHash({ ntHash: Buffer.alloc(3), password: 'clientPass' })).toEqual(
      RFC2759.passwordHash,
    );
    expect(secretNtHash({})).toBeUndefined();
  });

  it('hashes non-ASCII passwords as UTF-16LE', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (pw) => {
        expect(ntPasswordHash(pw)).toHaveLength(16);
      }),
    );
    expect(ntPasswordHash('pässwörd')).not.toEqual(ntPasswordHash('passwrd'));
  });
});
