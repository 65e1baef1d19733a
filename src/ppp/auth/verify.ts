/**
 * Checking a peer's credentials against a known secret — the part every local
 * authenticator shares (the lowdb store, tests). Comparisons are constant-time and
 * nothing here puts a secret into a reason or message.
 */

import { constantTimeEqual } from '../crypto/constant-time.js';
import type { AuthDecision, AuthRequest } from './authenticator.js';
import { chapMd5Response } from './chap-md5.js';

export interface KnownSecret {
  readonly password?: string;
  /** NT password hash: serves MS-CHAP only. */
  readonly ntHash?: Buffer;
}

/** Verify PAP or CHAP-MD5 against a known password. MS-CHAP goes through mschap-verify. */
export function verifyPapOrMd5(request: AuthRequest, secret: KnownSecret): AuthDecision {
  if (request.method !== 'pap' && request.method !== 'chap-md5') {
    return { ok: false, reason: `${request.method} is not verified here` };
  }
  if (secret.password === undefined) {
    return {
      ok: false,
      reason: `the secret for '${request.peerName}' holds only an NT hash; ${request.method} needs the password`,
    };
  }
  if (request.method === 'pap') {
    const good = constantTimeEqual(
      Buffer.from(request.password),
      Buffer.from(secret.password, 'utf8'),
    );
    return good
      ? { ok: true, message: 'Login ok' }
      : { ok: false, reason: 'wrong password', message: 'Login incorrect' };
  }
  const expected = chapMd5Response(request.identifier, secret.password, request.challenge);
  return constantTimeEqual(request.response, expected)
    ? { ok: true, message: 'Access granted' }
    : { ok: false, reason: 'wrong CHAP-MD5 response', message: 'Access denied' };
}
