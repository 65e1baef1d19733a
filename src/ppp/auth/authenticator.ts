/**
 * How secrets reach the core: the session never reads a file. When it must
 * verify a peer it hands an AuthRequest to its driver, which asks an Authenticator
 * (the lowdb store, RADIUS, ...) and feeds the AuthDecision back.
 */
import type { AuthMethod } from '../events.js';

interface AuthRequestBase {
  /** Name the peer gave (PAP Peer-ID, CHAP Name). Untrusted. */
  readonly peerName: string;
  /** Our own name (chap-secrets "server" column). */
  readonly ourName: string;
  /** Where the peer comes from, for lockout and logs: an IP address or a tty path. */
  readonly source: string;
}

export type AuthRequest =
  | (AuthRequestBase & { readonly method: 'pap'; readonly password: Buffer })
  | (AuthRequestBase & {
      readonly method: Exclude<AuthMethod, 'pap'>;
      /** CHAP Identifier of the challenge this response answers. */
      readonly identifier: number;
      /** The challenge we sent (16 bytes for MS-CHAPv2, 8 for MS-CHAPv1). */
      readonly challenge: Buffer;
      /** The raw Value field of the peer's Response (16 bytes MD5, 49 bytes MS-CHAP). */
      readonly response: Buffer;
    });

export interface MppeMasterKeys {
  /** Key this router (the authenticator) encrypts with, before RFC 3079 session-key derivation. */
  readonly send: Buffer;
  /** Key this router decrypts with. */
  readonly recv: Buffer;
}

export type AuthDecision =
  | {
      readonly ok: true;
      /** Success message for the peer: PAP/CHAP text, or MS-CHAPv2's "S=<40 hex> M=...". */
      readonly message?: string;
      /** Address the peer must get (Framed-IP-Address or the secret's address column). */
      readonly remoteAddress?: string;
      /** MPPE master keys (MS-CHAP only). */
      readonly mppeKeys?: MppeMasterKeys;
      /** Seconds after which the session ends (RADIUS Session-Timeout). */
      readonly sessionTimeout?: number;
      /** Seconds of no data after which the session ends (RADIUS Idle-Timeout). */
      readonly idleTimeout?: number;
      /** Framed-MTU, if the authenticator imposes one. */
      readonly mtu?: number;
    }
  | {
      readonly ok: false;
      /** One line for logs; never contains a secret. */
      readonly reason: string;
      /** Failure message for the peer (MS-CHAP: "E=691 R=0 C=... V=3 M=..."). */
      readonly message?: string;
    };

export interface Authenticator {
  authenticate(request: AuthRequest): Promise<AuthDecision>;
}

/** What this router says about itself when it is the authenticated peer. */
export interface PeerCredentials {
  readonly name: string;
  /** Plain password: needed for PAP and CHAP-MD5. */
  readonly password?: string;
  /** NT password hash (MD4 of UTF-16LE password): enough for MS-CHAP. */
  readonly ntHash?: Buffer;
}
