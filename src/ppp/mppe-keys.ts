/**
 * MPPE key derivation: RFC 3079 (master and start keys from MS-CHAP credentials) and the
 * session-key change of RFC 3078 §7.3 ("GetNewKeyFromSHA" then RC4).
 *
 * Vocabulary, as in RFC 3079:
 * - master key: 16 bytes from MS-CHAPv2's NT-Response (GetMasterKey);
 * - start key ("MasterSendKey"/"MasterReceiveKey"): per direction, 16 bytes (the 40/56-bit
 *   modes use the first 8); this is what `MppeMasterKeys` in authenticator.ts carries;
 * - session key: the RC4 key actually in use; it changes during the session.
 */
import { createHash } from 'node:crypto';
import type { MppeMasterKeys } from './auth/authenticator.js';
import { Rc4 } from './crypto/rc4.js';
import { Sha1 } from './crypto/sha1.js';

export type MppeKeyBits = 40 | 56 | 128;

/** Session-key length in bytes: 40 and 56-bit keys are 8 bytes with a fixed prefix. */
export function mppeKeyLength(bits: MppeKeyBits): 8 | 16 {
  return bits === 128 ? 16 : 8;
}

/** RFC 3079 §3.4 SHSpad1 / SHSpad2. */
const SHA_PAD1 = Buffer.alloc(40, 0x00);
const SHA_PAD2 = Buffer.alloc(40, 0xf2);

/** RFC 3079 §3.4 Magic1: "This is the MPPE Master Key". */
const MASTER_MAGIC = Buffer.from('This is the MPPE Master Key', 'ascii');
/** RFC 3079 §3.4 Magic2: the client's send key, the server's receive key. */
const MAGIC2 = Buffer.from(
  'On the client side, this is the send key; on the server side, it is the receive key.',
  'ascii',
);
/** RFC 3079 §3.4 Magic3: the client's receive key, the server's send key. */
const MAGIC3 = Buffer.from(
  'On the client side, this is the receive key; on the server side, it is the send key.',
  'ascii',
);

function sha1(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** RFC 3079 §3.4 GetMasterKey: SHA1(PasswordHashHash ‖ NT-Response ‖ Magic1), first 16 bytes. */
export function getMasterKey(passwordHashHash: Uint8Array, ntResponse: Uint8Array): Buffer {
  return sha1(passwordHashHash, ntResponse, MASTER_MAGIC).subarray(0, 16);
}

/**
 * RFC 3079 §3.4 GetAsymmetricStartKey. The server's send key is the client's receive key
 * (Magic3) and the server's receive key is the client's send key (Magic2).
 */
export function getAsymmetricStartKey(
  masterKey: Uint8Array,
  keyLength: 8 | 16,
  isSend: boolean,
  isServer: boolean,
): Buffer {
  const magic = isSend === isServer ? MAGIC3 : MAGIC2;
  return sha1(masterKey.subarray(0, 16), SHA_PAD1, magic, SHA_PAD2).subarray(0, keyLength);
}

/**
 * RFC 3079 §3.4 / RFC 3078 §7.3 GetNewKeyFromSHA:
 * SHA1(StartKey ‖ SHApad1 ‖ SessionKey ‖ SHApad2), first `keyLength` bytes.
 */
export function getNewKeyFromSha(
  startKey: Uint8Array,
  sessionKey: Uint8Array,
  keyLength: 8 | 16,
): Buffer {
  return sha1(
    startKey.subarray(0, keyLength),
    SHA_PAD1,
    sessionKey.subarray(0, keyLength),
    SHA_PAD2,
  ).subarray(0, keyLength);
}

/**
 * RFC 3079 §3.1/§3.2 (and §2.1/§2.2): reduce the effective length of an 8-byte session key,
 * in place. 40-bit keys start D1 26 9E, 56-bit keys start D1; 128-bit keys are untouched.
 */
export function reduceSessionKey(key: Uint8Array, bits: MppeKeyBits): void {
  if (bits === 40) {
    key[0] = 0xd1;
    key[1] = 0x26;
    key[2] = 0x9e;
  } else if (bits === 56) {
    key[0] = 0xd1;
  }
}

/**
 * RFC 3079 §2.4 Get_Start_Key for MS-CHAPv1: SHA1(PasswordHashHash ‖ PasswordHashHash ‖
 * Challenge), first 16 bytes.
 */
export function getStartKeyV1(challenge: Uint8Array, passwordHashHash: Uint8Array): Buffer {
  return sha1(passwordHashHash, passwordHashHash, challenge).subarray(0, 16);
}

/** Which side of the MS-CHAP exchange this router played. */
export type MschapRole = 'authenticator' | 'peer';

/**
 * RFC 3079 §3: the MPPE start keys of an MS-CHAPv2 session, as seen by `role`. The
 * authenticator is RFC 3079's "server", the peer its "client"; the two sides mirror each
 * other (the authenticator's send key is the peer's receive key).
 */
export function mschapV2MppeKeys(
  passwordHashHash: Uint8Array,
  ntResponse: Uint8Array,
  role: MschapRole,
): MppeMasterKeys {
  const masterKey = getMasterKey(passwordHashHash, ntResponse);
  const isServer = role === 'authenticator';
  return {
    send: getAsymmetricStartKey(masterKey, 16, true, isServer),
    recv: getAsymmetricStartKey(masterKey, 16, false, isServer),
  };
}

/**
 * RFC 3079 §2 for MS-CHAPv1: one start key for both directions, Get_Start_Key from the NT
 * password hash-hash and the authenticator's 8-byte challenge (as RFC 3079 §2.3 for 128-bit
 * keys). RFC 3079 §2.1/§2.2 derive 40/56-bit keys from the LAN Manager hash instead; like
 * pppd (which has no LM hash) this router uses the first 8 bytes of the same NT-based key,
 * so it interoperates with pppd and with the Linux kernel's MPPE.
 */
export function mschapV1MppeKeys(
  passwordHashHash: Uint8Array,
  challenge: Uint8Array,
): MppeMasterKeys {
  const key = getStartKeyV1(challenge, passwordHashHash);
  return { send: key, recv: Buffer.from(key) };
}

/**
 * RFC 3079 §3.1-3.3 (and §2): the first session key of a direction,
 * GetNewKeyFromSHA(StartKey, StartKey), reduced for 40/56 bits.
 */
export function initialSessionKey(startKey: Uint8Array, bits: MppeKeyBits): Buffer {
  const len = mppeKeyLength(bits);
  const key = Buffer.from(getNewKeyFromSha(startKey, startKey, len));
  reduceSessionKey(key, bits);
  return key;
}

/**
 * RFC 3078 §7.3 key change: InterimKey = GetNewKeyFromSHA(StartKey, SessionKey); the new
 * session key is RC4(InterimKey) applied to InterimKey, reduced for 40/56 bits.
 */
export function changeSessionKey(
  startKey: Uint8Array,
  sessionKey: Uint8Array,
  bits: MppeKeyBits,
): Buffer {
  const state = new MppeSessionKey(startKey, bits);
  state.sessionKey.set(sessionKey.subarray(0, state.keyLength));
  state.change();
  return Buffer.from(state.sessionKey);
}

/**
 * The session key of one MPPE direction, changed in place with no allocation: the data
 * path (mppe.ts) changes keys once per packet in stateless mode.
 */
export class MppeSessionKey {
  readonly keyLength: 8 | 16;
  /** The current session key (keyLength bytes). */
  readonly sessionKey: Buffer;
  private readonly startKey: Buffer;
  private readonly sha = new Sha1();
  private readonly digest = Buffer.alloc(20);
  private readonly rc4 = new Rc4();

  constructor(
    startKey: Uint8Array,
    readonly bits: MppeKeyBits,
  ) {
    this.keyLength = mppeKeyLength(bits);
    if (startKey.length < this.keyLength) {
      throw new RangeError(`MPPE ${bits}-bit start key needs ${this.keyLength} bytes`);
    }
    this.startKey = Buffer.from(startKey.subarray(0, this.keyLength));
    this.sessionKey = Buffer.alloc(this.keyLength);
    // RFC 3079: the initial session key is GetNewKeyFromSHA(StartKey, StartKey), no RC4 step.
    this.interim(this.startKey);
    this.sessionKey.set(this.digest.subarray(0, this.keyLength));
    reduceSessionKey(this.sessionKey, bits);
  }

  /** RFC 3078 §7.3: the next session key. */
  change(): void {
    const len = this.keyLength;
    this.interim(this.sessionKey);
    this.rc4.setKey(this.digest, len);
    this.rc4.process(this.digest, this.sessionKey, 0, 0, len);
    reduceSessionKey(this.sessionKey, this.bits);
  }

  /** Leaves GetNewKeyFromSHA(StartKey, current) in the first keyLength bytes of `digest`. */
  private interim(current: Uint8Array): void {
    const len = this.keyLength;
    this.sha
      .update(this.startKey, 0, len)
      .update(SHA_PAD1)
      .update(current, 0, len)
      .update(SHA_PAD2)
      .digestInto(this.digest);
  }
}
