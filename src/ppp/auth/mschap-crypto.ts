/**
 * The cryptographic functions of MS-CHAP: RFC 2759 §8 (MS-CHAPv2) and the NT response of
 * RFC 2433 (MS-CHAPv1). Pure functions over Buffers; no I/O, no state.
 *
 * MD4 and DES come from src/ppp/crypto (Node 20 refuses them without the legacy provider);
 * SHA-1 is Node's. LAN Manager responses are not implemented: this router always sends
 * the NT response with the use-NT flag, as pppd does, and refuses LM-only peers.
 */
import { createHash } from 'node:crypto';
import { constantTimeEqual } from '../crypto/constant-time.js';
import { desEncrypt } from '../crypto/des.js';
import { md4 } from '../crypto/md4.js';

/** RFC 2759 §8.7 Magic1: "Magic server to client signing constant". */
const AUTH_MAGIC1 = Buffer.from('Magic server to client signing constant', 'ascii');
/** RFC 2759 §8.7 Magic2: "Pad to make it do more than one iteration". */
const AUTH_MAGIC2 = Buffer.from('Pad to make it do more than one iteration', 'ascii');

/** What a secrets store can hold for MS-CHAP: the password, or only its NT hash. */
export interface MschapSecret {
  readonly password?: string;
  /** MD4 of the UTF-16LE password, 16 bytes. */
  readonly ntHash?: Buffer;
}

function sha1(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
}

function expectLength(name: string, buf: Uint8Array, length: number): void {
  if (buf.length !== length)
    throw new RangeError(`${name} must be ${length} bytes, got ${buf.length}`);
}

/** RFC 2759 §8.3 NtPasswordHash: MD4 of the password in UTF-16LE ("Unicode"), 16 bytes. */
export function ntPasswordHash(password: string): Buffer {
  return md4(Buffer.from(password, 'utf16le'));
}

/** RFC 2759 §8.4 HashNtPasswordHash: MD4 of the 16-byte NT hash. */
export function hashNtPasswordHash(passwordHash: Uint8Array): Buffer {
  expectLength('PasswordHash', passwordHash, 16);
  return md4(passwordHash);
}

/**
 * The NT hash of a secret: the stored hash when there is one (a store may keep only the
 * hash), else computed from the password. Undefined when the secret has neither.
 */
export function secretNtHash(secret: MschapSecret): Buffer | undefined {
  if (secret.ntHash !== undefined && secret.ntHash.length === 16) return secret.ntHash;
  if (secret.password !== undefined) return ntPasswordHash(secret.password);
  return undefined;
}

/**
 * RFC 2759 §8.2: "Only the user name (as presented by the peer and excluding any prepended
 * domain name) is used". Windows presents "DOMAIN\user"; like pppd, drop everything up to
 * the last backslash.
 */
export function stripDomain(userName: string): string {
  const i = userName.lastIndexOf('\\');
  return i < 0 ? userName : userName.slice(i + 1);
}

function userNameBytes(userName: string | Uint8Array): Uint8Array {
  return typeof userName === 'string' ? Buffer.from(stripDomain(userName), 'utf8') : userName;
}

/**
 * RFC 2759 §8.2 ChallengeHash: the first 8 bytes of
 * SHA1(PeerChallenge ‖ AuthenticatorChallenge ‖ UserName). A string user name has its
 * domain stripped; bytes are used as given.
 */
export function challengeHash(
  peerChallenge: Uint8Array,
  authenticatorChallenge: Uint8Array,
  userName: string | Uint8Array,
): Buffer {
  expectLength('PeerChallenge', peerChallenge, 16);
  expectLength('AuthenticatorChallenge', authenticatorChallenge, 16);
  return sha1(peerChallenge, authenticatorChallenge, userNameBytes(userName)).subarray(0, 8);
}

/**
 * RFC 2759 §8.5 ChallengeResponse (also RFC 2433 §A.5): the 16-byte hash padded with zeros
 * to 21 bytes gives three 7-byte DES keys, each encrypting the 8-byte challenge.
 */
export function challengeResponse(challenge: Uint8Array, passwordHash: Uint8Array): Buffer {
  expectLength('Challenge', challenge, 8);
  expectLength('PasswordHash', passwordHash, 16);
  const z = Buffer.alloc(21);
  z.set(passwordHash, 0);
  return Buffer.concat([
    desEncrypt(z.subarray(0, 7), challenge),
    desEncrypt(z.subarray(7, 14), challenge),
    desEncrypt(z.subarray(14, 21), challenge),
  ]);
}

/**
 * RFC 2759 §8.1 GenerateNTResponse, from the NT password hash (the RFC's function takes the
 * password and hashes it first; taking the hash lets a store keep only hashes).
 */
export function generateNtResponse(
  authenticatorChallenge: Uint8Array,
  peerChallenge: Uint8Array,
  userName: string | Uint8Array,
  passwordHash: Uint8Array,
): Buffer {
  const ch = challengeHash(peerChallenge, authenticatorChallenge, userName);
  return challengeResponse(ch, passwordHash);
}

/**
 * RFC 2759 §8.7 GenerateAuthenticatorResponse, returning the raw 20-byte digest; the
 * Success message carries it as "S=" and 40 uppercase hex digits (see mschap-message.ts).
 */
export function generateAuthenticatorResponse(
  passwordHash: Uint8Array,
  ntResponse: Uint8Array,
  peerChallenge: Uint8Array,
  authenticatorChallenge: Uint8Array,
  userName: string | Uint8Array,
): Buffer {
  expectLength('NT-Response', ntResponse, 24);
  const passwordHashHash = hashNtPasswordHash(passwordHash);
  const digest = sha1(passwordHashHash, ntResponse, AUTH_MAGIC1);
  const ch = challengeHash(peerChallenge, authenticatorChallenge, userName);
  return sha1(digest, ch, AUTH_MAGIC2);
}

/** The Success message form of an authenticator response: "S=" + 40 uppercase hex digits. */
export function authenticatorResponseString(authenticatorResponse: Uint8Array): string {
  return 'S=' + Buffer.from(authenticatorResponse).toString('hex').toUpperCase();
}

/**
 * RFC 2759 §8.8 CheckAuthenticatorResponse, comparing the 20 received bytes with the
 * expected ones in constant time.
 */
export function checkAuthenticatorResponse(
  passwordHash: Uint8Array,
  ntResponse: Uint8Array,
  peerChallenge: Uint8Array,
  authenticatorChallenge: Uint8Array,
  userName: string | Uint8Array,
  received: Uint8Array,
): boolean {
  const expected = generateAuthenticatorResponse(
    passwordHash,
    ntResponse,
    peerChallenge,
    authenticatorChallenge,
    userName,
  );
  return constantTimeEqual(expected, received);
}

/**
 * RFC 2433 §A.5 NtChallengeResponse (MS-CHAPv1): ChallengeResponse of the 8-byte
 * challenge under the NT password hash, 24 bytes.
 */
export function ntChallengeResponse(challenge: Uint8Array, passwordHash: Uint8Array): Buffer {
  return challengeResponse(challenge, passwordHash);
}
