import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rc4 } from '../../src/ppp/crypto/rc4.js';
import {
  changeSessionKey,
  getAsymmetricStartKey,
  getMasterKey,
  getNewKeyFromSha,
  getStartKeyV1,
  initialSessionKey,
  type MppeKeyBits,
  MppeSessionKey,
  mschapV1MppeKeys,
  mschapV2MppeKeys,
  reduceSessionKey,
} from '../../src/ppp/mppe-keys.js';
import { legacyOpenssl } from './crypto/legacy-openssl.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Inputs of RFC 3079 §3.5, which continues the RFC 2759 §9.2 example. */
const PASSWORD_HASH_HASH = hex('41C00C584BD2D91C4017A2A12FA59F3F');
const NT_RESPONSE = hex('82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF');
const MASTER_KEY = hex('FDECE3717A8C838CB388E527AE3CDD31');
const SEND_START_KEY_128 = hex('8B7CDC149B993A1BA118CB153F56DCCB');
const TEST_MESSAGE = Buffer.from('test message', 'ascii');

describe('RFC 3079 §3.5 MS-CHAPv2 key derivation', () => {
  it('GetMasterKey = FDECE3717A8C838CB388E527AE3CDD31', () => {
    expect(getMasterKey(PASSWORD_HASH_HASH, NT_RESPONSE)).toEqual(MASTER_KEY);
  });

  it('GetAsymmetricStartKey(send, server) = 8B7CDC149B993A1BA118CB153F56DCCB (8 bytes for 40/56)', () => {
    expect(getAsymmetricStartKey(MASTER_KEY, 16, true, true)).toEqual(SEND_START_KEY_128);
    expect(getAsymmetricStartKey(MASTER_KEY, 8, true, true)).toEqual(hex('8B7CDC149B993A1B'));
  });

  it('mirrors the keys: server send = client receive, server receive = client send', () => {
    expect(getAsymmetricStartKey(MASTER_KEY, 16, false, false)).toEqual(SEND_START_KEY_128);
    expect(getAsymmetricStartKey(MASTER_KEY, 16, false, true)).toEqual(
      getAsymmetricStartKey(MASTER_KEY, 16, true, false),
    );
    const auth = mschapV2MppeKeys(PASSWORD_HASH_HASH, NT_RESPONSE, 'authenticator');
    const peer = mschapV2MppeKeys(PASSWORD_HASH_HASH, NT_RESPONSE, 'peer');
    expect(auth.send).toEqual(SEND_START_KEY_128);
    expect(peer.recv).toEqual(auth.send);
    expect(peer.send).toEqual(auth.recv);
  });

  const cases: { bits: MppeKeyBits; session: string; cipher?: string }[] = [
    { bits: 40, session: 'D1269EC49FA62E3E', cipher: '929137917E5803D668D75898' },
    // The 56-bit ciphertext printed in RFC 3079 §3.5.2 is a known erratum: the test below
    // recomputes it from the key with OpenSSL's RC4.
    { bits: 56, session: 'D15C00C49FA62E3E' },
    { bits: 128, session: '405CB2247A7956E6E211007AE27B22D4', cipher: '81848317DF68846272FB5ABE' },
  ];
  for (const c of cases) {
    it(`derives the ${c.bits}-bit session key ${c.session}`, () => {
      expect(initialSessionKey(SEND_START_KEY_128, c.bits)).toEqual(hex(c.session));
    });
    if (c.cipher !== undefined) {
      const cipher = c.cipher;
      it(`encrypts "test message" under the ${c.bits}-bit key to ${cipher}`, () => {
        const rc4 = new Rc4(initialSessionKey(SEND_START_KEY_128, c.bits));
        expect(rc4.encrypt(TEST_MESSAGE)).toEqual(hex(cipher));
      });
    }
  }

  it('encrypts "test message" under the 56-bit key as OpenSSL RC4 does (erratum recomputed)', () => {
    const key = initialSessionKey(SEND_START_KEY_128, 56);
    const [expected] = legacyOpenssl([
      { op: 'rc4', key: key.toString('hex'), data: TEST_MESSAGE.toString('hex') },
    ]);
    expect(new Rc4(key).encrypt(TEST_MESSAGE).toString('hex')).toBe(expected);
    expect(expected).toBe('3f106833fa448da842bc57b8');
  });

  it('reduces 40-bit keys to D1 26 9E and 56-bit keys to D1, leaving 128-bit keys alone', () => {
    const k = Buffer.alloc(8, 0x55);
    reduceSessionKey(k, 40);
    expect(k.toString('hex')).toBe('d1269e5555555555');
    const m = Buffer.alloc(8, 0x55);
    reduceSessionKey(m, 56);
    expect(m.toString('hex')).toBe('d155555555555555');
    const s = Buffer.alloc(16, 0x55);
    reduceSessionKey(s, 128);
    expect(s).toEqual(Buffer.alloc(16, 0x55));
  });
});

describe('RFC 3079 §2 MS-CHAPv1 key derivation', () => {
  // RFC 3079 §2.5.3 sample (password "clientPass", challenge 102DB5DF085D3041), values as an
  // independent Node MS-CHAP library's test suite quotes them; pppd's mppe_set_chapv1 and
  // the kernel's initial rekey compute the same chain.
  const challenge = hex('102DB5DF085D3041');

  it('Get_Start_Key = A8947850CFC0ACC1D1789FB62DDCDDB0', () => {
    expect(getStartKeyV1(challenge, PASSWORD_HASH_HASH)).toEqual(
      hex('A8947850CFC0ACC1D1789FB62DDCDDB0'),
    );
  });

  it('gives the 128-bit session key 59D159BC09F76F1DA2A86A28FFEC0B1E', () => {
    const keys = mschapV1MppeKeys(PASSWORD_HASH_HASH, challenge);
    expect(keys.send).toEqual(keys.recv);
    expect(initialSessionKey(keys.send, 128)).toEqual(hex('59D159BC09F76F1DA2A86A28FFEC0B1E'));
  });
});

/** RFC 3078 §7.3 written out with Node's SHA-1: the reference for the key-change tests. */
function referenceChange(start: Buffer, current: Buffer, bits: MppeKeyBits): Buffer {
  const len = bits === 128 ? 16 : 8;
  const interim = createHash('sha1')
    .update(start.subarray(0, len))
    .update(Buffer.alloc(40, 0))
    .update(current.subarray(0, len))
    .update(Buffer.alloc(40, 0xf2))
    .digest()
    .subarray(0, len);
  const next = new Rc4(interim).encrypt(interim);
  if (bits === 40) next.set([0xd1, 0x26, 0x9e], 0);
  if (bits === 56) next[0] = 0xd1;
  return next;
}

describe('session key changes (RFC 3078 §7.3)', () => {
  it('GetNewKeyFromSHA takes keyLength bytes of both keys', () => {
    const a = getNewKeyFromSha(SEND_START_KEY_128, SEND_START_KEY_128, 8);
    expect(a).toHaveLength(8);
    expect(getNewKeyFromSha(SEND_START_KEY_128.subarray(0, 8), SEND_START_KEY_128, 8)).toEqual(a);
  });

  it('the in-place MppeSessionKey follows the reference for a chain of changes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.constantFrom<MppeKeyBits>(40, 56, 128),
        fc.integer({ min: 1, max: 40 }),
        (start, bits, steps) => {
          const s = Buffer.from(start);
          const state = new MppeSessionKey(s, bits);
          let ref = initialSessionKey(s, bits);
          expect(state.sessionKey).toEqual(ref);
          for (let i = 0; i < steps; i++) {
            state.change();
            ref = referenceChange(s, ref, bits);
            expect(state.sessionKey).toEqual(ref);
          }
          expect(changeSessionKey(s, initialSessionKey(s, bits), bits)).toEqual(
            referenceChange(s, initialSessionKey(s, bits), bits),
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses a start key shorter than the key length', () => {
    expect(() => new MppeSessionKey(Buffer.alloc(8), 128)).toThrow(RangeError);
  });
});
