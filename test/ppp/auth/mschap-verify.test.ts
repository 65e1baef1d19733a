import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AuthRequest } from '../../../src/ppp/auth/authenticator.js';
import { ntPasswordHash } from '../../../src/ppp/auth/mschap-crypto.js';
import {
  decodeMschapFailure,
  encodeMschapV2Response,
} from '../../../src/ppp/auth/mschap-message.js';
import {
  checkMschapV2Success,
  mschapV1PeerResponse,
  mschapV2PeerResponse,
  verifyMschapLocally,
} from '../../../src/ppp/auth/mschap-verify.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const fixedRandom = (n: number): Buffer => Buffer.alloc(n, 0xab);

const AUTH_CHALLENGE = hex('5B5D7C7D7B3F2F3E3C2C602132262628');
const PEER_CHALLENGE = hex('21402324255E262A28295F2B3A337C7E');
const NT_RESPONSE = hex('82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF');

function v2Request(response: Buffer, peerName = 'User', challenge = AUTH_CHALLENGE): AuthRequest {
  return {
    method: 'mschap-v2',
    peerName,
    ourName: 'branch',
    source: '192.0.2.7',
    identifier: 1,
    challenge,
    response,
  };
}

function v1Request(response: Buffer, challenge = hex('102DB5DF085D3041')): AuthRequest {
  return {
    method: 'mschap',
    peerName: 'User',
    ourName: 'branch',
    source: '/dev/ttyUSB0',
    identifier: 2,
    challenge,
    response,
  };
}

const RFC2759_RESPONSE = encodeMschapV2Response({
  peerChallenge: PEER_CHALLENGE,
  ntResponse: NT_RESPONSE,
  flags: 0,
});

describe('verifyMschapLocally, MS-CHAPv2', () => {
  it('accepts the RFC 2759 §9.2 response with S=407A… M=Access granted and the MPPE keys', () => {
    const d = verifyMschapLocally(v2Request(RFC2759_RESPONSE), { password: 'clientPass' });
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.message).toBe('S=407A5589115FD0D6209F510FE9C04566932CDA56 M=Access granted');
    // RFC 3079 §3.5: the authenticator (server) send key is 8B7CDC14…, the RFC's SendStartKey.
    expect(d.mppeKeys?.send.toString('hex')).toBe('8b7cdc149b993a1ba118cb153f56dccb');
    expect(d.mppeKeys?.recv).toHaveLength(16);
    expect(d.mppeKeys?.recv).not.toEqual(d.mppeKeys?.send);
  });

  it('accepts the same response from a secret that holds only the NT hash', () => {
    const d = verifyMschapLocally(v2Request(RFC2759_RESPONSE), {
      ntHash: hex('44EBBA8D5312B8D611474411F56989AE'),
    });
    expect(d.ok).toBe(true);
  });

  it('accepts a DOMAIN\\user name, hashing only the user part', () => {
    const d = verifyMschapLocally(v2Request(RFC2759_RESPONSE, 'BRANCH\\User'), {
      password: 'clientPass',
    });
    expect(d.ok).toBe(true);
  });

  it('leaves M= out when the peer set Flags, as pppd does for Windows 98', () => {
    const withFlags = Buffer.from(RFC2759_RESPONSE);
    withFlags[48] = 4;
    const d = verifyMschapLocally(v2Request(withFlags), { password: 'clientPass' });
    expect(d.ok && d.message).toBe('S=407A5589115FD0D6209F510FE9C04566932CDA56');
  });

  it('fails a wrong password with E=691 R=0 C=<32 hex> V=3 M=...', () => {
    const d = verifyMschapLocally(
      v2Request(RFC2759_RESPONSE),
      { password: 'wrong' },
      { randomBytes: fixedRandom },
    );
    expect(d.ok).toBe(false);
    if (d.ok) return;
    expect(d.message).toBe(`E=691 R=0 C=${'AB'.repeat(16)} V=3 M=Access denied`);
    expect(d.reason).not.toContain('wrong');
    const parsed = decodeMschapFailure(Buffer.from(d.message ?? ''));
    expect(parsed.ok && parsed.value.error).toBe(691);
  });

  it('puts a fresh random challenge in each failure', () => {
    const a = verifyMschapLocally(v2Request(RFC2759_RESPONSE), { password: 'x' });
    const b = verifyMschapLocally(v2Request(RFC2759_RESPONSE), { password: 'x' });
    expect(a.ok || b.ok).toBe(false);
    if (!a.ok && !b.ok) expect(a.message).not.toBe(b.message);
  });

  it('fails without a secret, on a short response and on a wrong-size challenge', () => {
    expect(verifyMschapLocally(v2Request(RFC2759_RESPONSE), {}).ok).toBe(false);
    expect(
      verifyMschapLocally(v2Request(RFC2759_RESPONSE.subarray(0, 48)), { password: 'clientPass' })
        .ok,
    ).toBe(false);
    expect(
      verifyMschapLocally(v2Request(RFC2759_RESPONSE, 'User', Buffer.alloc(8)), {
        password: 'clientPass',
      }).ok,
    ).toBe(false);
  });

  it('refuses other methods', () => {
    const d = verifyMschapLocally(
      { method: 'pap', peerName: 'u', ourName: 'b', source: 's', password: Buffer.from('p') },
      { password: 'p' },
    );
    expect(d.ok).toBe(false);
  });

  it('never throws and never accepts random response bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const d = verifyMschapLocally(v2Request(Buffer.from(bytes)), { password: 'clientPass' });
        expect(d.ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});

describe('MS-CHAPv2 peer side', () => {
  it('answers the RFC 2759 challenge with the RFC NT-Response', () => {
    const r = mschapV2PeerResponse({
      credentials: { name: 'User', password: 'clientPass' },
      authenticatorChallenge: AUTH_CHALLENGE,
      peerChallenge: PEER_CHALLENGE,
      identifier: 7,
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.value).toEqual(RFC2759_RESPONSE);
    expect(r.value.name).toBe('User');
    expect(r.value.identifier).toBe(7);
    expect(r.value.expectedAuthenticatorResponse.toString('hex').toUpperCase()).toBe(
      '407A5589115FD0D6209F510FE9C04566932CDA56',
    );
  });

  it('checks the S= of the Success message and refuses a wrong one', () => {
    const expected = hex('407A5589115FD0D6209F510FE9C04566932CDA56');
    const good = Buffer.from('S=407A5589115FD0D6209F510FE9C04566932CDA56 M=Access granted');
    expect(checkMschapV2Success(expected, good)).toEqual({
      ok: true,
      value: { message: 'Access granted' },
    });
    const wrong = Buffer.from('S=407A5589115FD0D6209F510FE9C04566932CDA57 M=Access granted');
    const r = checkMschapV2Success(expected, wrong);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.kind).toBe('bad-authenticator');
    expect(checkMschapV2Success(expected, Buffer.from('E=691')).ok).toBe(false);
  });

  it('fails without a password or NT hash', () => {
    const r = mschapV2PeerResponse({
      credentials: { name: 'User' },
      authenticatorChallenge: AUTH_CHALLENGE,
    });
    expect(r.ok).toBe(false);
  });

  it('agrees with the authenticator for any name and password, with mirrored MPPE keys', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !s.includes('\\')),
        fc.string({ maxLength: 30 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.boolean(),
        (name, password, challenge, hashOnly) => {
          const authenticatorChallenge = Buffer.from(challenge);
          const credentials = hashOnly
            ? { name, ntHash: ntPasswordHash(password) }
            : { name, password };
          const peer = mschapV2PeerResponse({ credentials, authenticatorChallenge });
          expect(peer.ok).toBe(true);
          if (!peer.ok) return;
          const d = verifyMschapLocally(v2Request(peer.value.value, name, authenticatorChallenge), {
            password,
          });
          expect(d.ok).toBe(true);
          if (!d.ok) return;
          expect(
            checkMschapV2Success(
              peer.value.expectedAuthenticatorResponse,
              Buffer.from(d.message ?? ''),
            ).ok,
          ).toBe(true);
          expect(d.mppeKeys?.send).toEqual(peer.value.mppeKeys.recv);
          expect(d.mppeKeys?.recv).toEqual(peer.value.mppeKeys.send);
          const wrong = verifyMschapLocally(
            v2Request(peer.value.value, name, authenticatorChallenge),
            { password: `${password}!` },
          );
          expect(wrong.ok).toBe(false);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('MS-CHAPv1 (RFC 2433)', () => {
  const challenge = hex('102DB5DF085D3041');

  it('answers with zero LM-Response, the RFC NT-Response and the use-NT flag', () => {
    const r = mschapV1PeerResponse({ credentials: { name: 'User', password: 'MyPw' }, challenge });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.value.subarray(0, 24)).toEqual(Buffer.alloc(24));
    expect(r.value.value.subarray(24, 48)).toEqual(
      hex('4E9D3C8F9CFD385D5BF4D3246791956CA4C351AB409A3D61'),
    );
    expect(r.value.value[48]).toBe(1);
  });

  it('verifies the RFC response and gives the same MPPE key both ways', () => {
    const r = mschapV1PeerResponse({ credentials: { name: 'User', password: 'MyPw' }, challenge });
    if (!r.ok) throw new Error('peer response failed');
    const d = verifyMschapLocally(v1Request(r.value.value), { password: 'MyPw' });
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.message).toBe('Access granted');
    expect(d.mppeKeys?.send).toEqual(d.mppeKeys?.recv);
    expect(d.mppeKeys?.send).toEqual(r.value.mppeKeys.send);
  });

  it('fails a wrong password with E=691 R=0 C=<16 hex> V=2', () => {
    const r = mschapV1PeerResponse({ credentials: { name: 'User', password: 'MyPw' }, challenge });
    if (!r.ok) throw new Error('peer response failed');
    const d = verifyMschapLocally(
      v1Request(r.value.value),
      { password: 'other' },
      { randomBytes: fixedRandom },
    );
    expect(d).toMatchObject({ ok: false, message: `E=691 R=0 C=${'AB'.repeat(8)} V=2` });
  });

  it('refuses a LAN Manager-only response (Flags 0)', () => {
    const r = mschapV1PeerResponse({ credentials: { name: 'User', password: 'MyPw' }, challenge });
    if (!r.ok) throw new Error('peer response failed');
    const lmOnly = Buffer.from(r.value.value);
    lmOnly[48] = 0;
    const d = verifyMschapLocally(v1Request(lmOnly), { password: 'MyPw' });
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.reason).toContain('LAN Manager');
  });

  it('refuses an 8-byte challenge of the wrong size for the peer', () => {
    expect(
      mschapV1PeerResponse({
        credentials: { name: 'u', password: 'p' },
        challenge: Buffer.alloc(16),
      }).ok,
    ).toBe(false);
  });
});
