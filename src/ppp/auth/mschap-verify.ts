/**
 * MS-CHAP in both roles, as pure functions over the CHAP Value fields:
 * - `verifyMschapLocally`: the authenticator checks a peer's Response against a local secret
 *   (password or NT hash) and produces the AuthDecision the session sends back
 *   (Success "S=... M=..." with the MPPE keys, or Failure "E=691 R=0 C=... V=3 M=...");
 * - `mschapV2PeerResponse` / `mschapV1PeerResponse`: this router answering a Challenge, with
 *   what it needs to verify the authenticator's S= later and its own MPPE keys.
 * RADIUS does the authenticator side remotely; this file is for the local secrets store.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { constantTimeEqual } from '../crypto/constant-time.js';
import { mschapV1MppeKeys, mschapV2MppeKeys } from '../mppe-keys.js';
import { err, ok, type Result } from '../result.js';
import type {
  AuthDecision,
  AuthRequest,
  MppeMasterKeys,
  PeerCredentials,
} from './authenticator.js';
import {
  authenticatorResponseString,
  generateAuthenticatorResponse,
  generateNtResponse,
  hashNtPasswordHash,
  type MschapSecret,
  ntChallengeResponse,
  secretNtHash,
  stripDomain,
} from './mschap-crypto.js';
import {
  decodeMschapV1Response,
  decodeMschapV2Response,
  decodeMschapV2Success,
  encodeMschapFailure,
  encodeMschapV1Response,
  encodeMschapV2Response,
} from './mschap-message.js';

export interface MschapVerifyOptions {
  /** Randomness for the new challenge in a Failure message; tests inject a fixed one. */
  readonly randomBytes?: (length: number) => Buffer;
  /** M= text of a Success (MS-CHAPv2) or the text of an MS-CHAPv1 Success. */
  readonly successText?: string;
  /** M= text of an MS-CHAPv2 Failure. */
  readonly failureText?: string;
}

const DEFAULT_SUCCESS = 'Access granted';
const DEFAULT_FAILURE = 'Access denied';
/** RFC 2759 §6: V=3 is the only password-change version MS-CHAPv2 knows. */
const V2_FAILURE_VERSION = 3;
/** RFC 2433 §6: V= "SHOULD always contain a value greater than or equal to 2". */
const V1_FAILURE_VERSION = 2;
const ERROR_AUTHENTICATION_FAILURE = 691;

/**
 * Verifies an MS-CHAPv1 ('mschap') or MS-CHAPv2 ('mschap-v2') Response against a local
 * secret. Never throws on the peer's bytes; a malformed response is a failure.
 */
export function verifyMschapLocally(
  request: AuthRequest,
  secret: MschapSecret,
  options: MschapVerifyOptions = {},
): AuthDecision {
  if (request.method !== 'mschap' && request.method !== 'mschap-v2') {
    return { ok: false, reason: `MS-CHAP verifier cannot check ${request.method}` };
  }
  const v2 = request.method === 'mschap-v2';
  const random = options.randomBytes ?? nodeRandomBytes;
  // R=0: this router does not accept a second response on the same link (pppd behaves
  // the same in practice); C= still carries a fresh challenge as RFC 2759 §6 asks.
  const fail = (reason: string): AuthDecision => ({
    ok: false,
    reason,
    message: encodeMschapFailure(
      v2
        ? {
            error: ERROR_AUTHENTICATION_FAILURE,
            retry: false,
            challenge: random(16),
            version: V2_FAILURE_VERSION,
            message: options.failureText ?? DEFAULT_FAILURE,
          }
        : {
            error: ERROR_AUTHENTICATION_FAILURE,
            retry: false,
            challenge: random(8),
            version: V1_FAILURE_VERSION,
          },
    ).toString('utf8'),
  });

  const expectedChallenge = v2 ? 16 : 8;
  if (request.challenge.length !== expectedChallenge) {
    return fail(`${request.method} challenge is ${request.challenge.length} bytes`);
  }
  const passwordHash = secretNtHash(secret);
  if (passwordHash === undefined)
    return fail(`no MS-CHAP secret for ${JSON.stringify(request.peerName)}`);

  if (!v2) {
    const decoded = decodeMschapV1Response(request.response);
    if (!decoded.ok) return fail(`malformed MS-CHAPv1 response: ${decoded.error.reason}`);
    // RFC 2433 §5: Flags 1 = use the NT response. LAN Manager responses are refused.
    if (decoded.value.flags !== 1) return fail('MS-CHAPv1 peer sent only a LAN Manager response');
    const expected = ntChallengeResponse(request.challenge, passwordHash);
    if (!constantTimeEqual(expected, decoded.value.ntResponse)) {
      return fail(`MS-CHAPv1 response of ${JSON.stringify(request.peerName)} does not match`);
    }
    return {
      ok: true,
      message: options.successText ?? DEFAULT_SUCCESS,
      mppeKeys: mschapV1MppeKeys(hashNtPasswordHash(passwordHash), request.challenge),
    };
  }

  const decoded = decodeMschapV2Response(request.response);
  if (!decoded.ok) return fail(`malformed MS-CHAPv2 response: ${decoded.error.reason}`);
  const { peerChallenge, ntResponse, flags } = decoded.value;
  const userName = stripDomain(request.peerName);
  const expected = generateNtResponse(request.challenge, peerChallenge, userName, passwordHash);
  if (!constantTimeEqual(expected, ntResponse)) {
    return fail(`MS-CHAPv2 response of ${JSON.stringify(request.peerName)} does not match`);
  }
  const authResponse = generateAuthenticatorResponse(
    passwordHash,
    ntResponse,
    peerChallenge,
    request.challenge,
    userName,
  );
  // RFC 2759 §5 wants "S=... M=...". pppd leaves M= out when the peer's Flags are nonzero:
  // Windows 98 sets Flags and rejects an M= part. Same here.
  const s = authenticatorResponseString(authResponse);
  return {
    ok: true,
    message: flags !== 0 ? s : `${s} M=${options.successText ?? DEFAULT_SUCCESS}`,
    mppeKeys: mschapV2MppeKeys(hashNtPasswordHash(passwordHash), ntResponse, 'authenticator'),
  };
}

// ---------------------------------------------------------------------------------------------
// Peer side

export interface MschapV2PeerResponse {
  /** The 49-byte Value of our CHAP Response. */
  readonly value: Buffer;
  /** The Name field to send: our name as configured. */
  readonly name: string;
  /** Identifier of the Challenge answered, passed through for the caller's bookkeeping. */
  readonly identifier?: number;
  /** The authenticator response (20 bytes) the Success message must carry in S=. */
  readonly expectedAuthenticatorResponse: Buffer;
  /** Our MPPE start keys (peer side: send = RFC 3079 client send key). */
  readonly mppeKeys: MppeMasterKeys;
}

export interface MschapV2PeerInput {
  readonly credentials: PeerCredentials;
  /** The authenticator's 16-byte challenge. */
  readonly authenticatorChallenge: Buffer;
  /** Our 16-byte peer challenge; random when absent (tests fix it). */
  readonly peerChallenge?: Buffer;
  readonly identifier?: number;
}

/** RFC 2759 §4: our Response to an MS-CHAPv2 Challenge. */
export function mschapV2PeerResponse(input: MschapV2PeerInput): Result<MschapV2PeerResponse> {
  const passwordHash = secretNtHash(input.credentials);
  if (passwordHash === undefined) {
    return err('no-secret', 'MS-CHAPv2 needs a password or a 16-byte NT hash');
  }
  if (input.authenticatorChallenge.length !== 16) {
    return err(
      'bad-challenge',
      `MS-CHAPv2 challenge is ${input.authenticatorChallenge.length} bytes`,
    );
  }
  const peerChallenge = input.peerChallenge ?? nodeRandomBytes(16);
  if (peerChallenge.length !== 16) return err('bad-challenge', 'peer challenge must be 16 bytes');
  const userName = stripDomain(input.credentials.name);
  const ntResponse = generateNtResponse(
    input.authenticatorChallenge,
    peerChallenge,
    userName,
    passwordHash,
  );
  return ok({
    value: encodeMschapV2Response({ peerChallenge, ntResponse, flags: 0 }),
    name: input.credentials.name,
    ...(input.identifier !== undefined ? { identifier: input.identifier } : {}),
    expectedAuthenticatorResponse: generateAuthenticatorResponse(
      passwordHash,
      ntResponse,
      peerChallenge,
      input.authenticatorChallenge,
      userName,
    ),
    mppeKeys: mschapV2MppeKeys(hashNtPasswordHash(passwordHash), ntResponse, 'peer'),
  });
}

/**
 * RFC 2759 §5/§8.8: checks the Message of the authenticator's Success against the S= we
 * expect, in constant time. An error means the link must end (mutual authentication failed).
 * On success returns the M= text, if any.
 */
export function checkMschapV2Success(
  expectedAuthenticatorResponse: Buffer,
  message: Uint8Array,
): Result<{ message?: string }> {
  const decoded = decodeMschapV2Success(message);
  if (!decoded.ok) return decoded;
  if (!constantTimeEqual(expectedAuthenticatorResponse, decoded.value.authenticatorResponse)) {
    return err('bad-authenticator', 'MS-CHAPv2 authenticator response (S=) does not match');
  }
  return ok(decoded.value.message !== undefined ? { message: decoded.value.message } : {});
}

export interface MschapV1PeerResponse {
  readonly value: Buffer;
  readonly name: string;
  readonly mppeKeys: MppeMasterKeys;
}

/**
 * RFC 2433 §5: our Response to an MS-CHAPv1 Challenge. The LM-Response is zeros and Flags
 * is 1 (use the NT response), as pppd sends.
 */
export function mschapV1PeerResponse(input: {
  readonly credentials: PeerCredentials;
  readonly challenge: Buffer;
}): Result<MschapV1PeerResponse> {
  const passwordHash = secretNtHash(input.credentials);
  if (passwordHash === undefined) {
    return err('no-secret', 'MS-CHAPv1 needs a password or a 16-byte NT hash');
  }
  if (input.challenge.length !== 8) {
    return err('bad-challenge', `MS-CHAPv1 challenge is ${input.challenge.length} bytes`);
  }
  return ok({
    value: encodeMschapV1Response({
      lmResponse: Buffer.alloc(24),
      ntResponse: ntChallengeResponse(input.challenge, passwordHash),
      flags: 1,
    }),
    name: input.credentials.name,
    mppeKeys: mschapV1MppeKeys(hashNtPasswordHash(passwordHash), input.challenge),
  });
}
