/**
 * The Authenticator over the local secrets store: PAP and CHAP-MD5 against the record's
 * password, MS-CHAP v1/v2 against its password or NT hash, with lockout of repeated
 * failures. Reasons are for logs and name the record; they never contain a secret, and the
 * message for the peer is the same whether the user is unknown or the secret wrong (no
 * user enumeration).
 *
 * Address column (pppd auth.c set_allowed_addrs): the first single-host entry becomes
 * `remoteAddress`; all entries are returned as `allowedAddresses` for the IPCP side to
 * enforce. "-" (no IP address) refuses the authentication: every branchlink link carries
 * IP only, so a peer that may not use IP has nothing to do here (pppd would let it
 * authenticate and then fail IPCP; refusing early gives a clearer log line).
 */
import type {
  AuthDecision,
  Authenticator,
  AuthRequest,
  PeerCredentials,
} from '../ppp/auth/authenticator.js';
import { type MschapVerifyOptions, verifyMschapLocally } from '../ppp/auth/mschap-verify.js';
import { verifyPapOrMd5 } from '../ppp/auth/verify.js';
import { suggestedAddress } from './address-spec.js';
import type { Lockout } from './lockout.js';
import type { SecretRecord } from './schema.js';

/** Anything that finds the record for (client, server): the SecretStore, or a test table. */
export interface SecretSource {
  lookup(client: string | undefined, server: string | undefined): SecretRecord | undefined;
}

export interface LocalAuthenticatorOptions {
  /** Lockout of repeated failures; none when absent. */
  readonly lockout?: Lockout;
  /** Passed to the MS-CHAP verifier (random source, M= texts). */
  readonly mschap?: MschapVerifyOptions;
  /** Renders lock end times in reasons. Default ISO 8601 UTC. */
  readonly formatTime?: (epochMs: number) => string;
}

type OkDecision = Extract<AuthDecision, { ok: true }>;
type FailDecision = Extract<AuthDecision, { ok: false }>;

/**
 * A decision of the local store. The ok branch adds the record's address column
 * (`allowedAddresses`: undefined = any) for the IPCP side; it is a subtype of AuthDecision.
 */
export type LocalAuthDecision =
  | (OkDecision & { readonly allowedAddresses?: readonly string[] })
  | FailDecision;

/** A peer-supplied name, safe for a log line: control characters escaped, length capped. */
export function logName(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping control characters is the point
  const clean = name.replace(/[\u0000-\u001f\u007f-\u009f\\']/g, (c) =>
    c === '\\' || c === "'" ? `\\${c}` : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return clean.length > 64 ? `${clean.slice(0, 64)}…` : clean;
}

const PEER_MESSAGE: Record<'pap' | 'chap-md5', string> = {
  pap: 'Login incorrect',
  'chap-md5': 'Access denied',
};

export class LocalAuthenticator implements Authenticator {
  readonly #source: SecretSource;
  readonly #lockout: Lockout | undefined;
  readonly #mschap: MschapVerifyOptions;
  readonly #formatTime: (ms: number) => string;

  constructor(source: SecretSource, options: LocalAuthenticatorOptions = {}) {
    this.#source = source;
    this.#lockout = options.lockout;
    this.#mschap = options.mschap ?? {};
    this.#formatTime = options.formatTime ?? ((ms) => new Date(ms).toISOString());
  }

  async authenticate(request: AuthRequest): Promise<LocalAuthDecision> {
    return this.authenticateSync(request);
  }

  /** The same decision without the promise (everything here is local and quick). */
  authenticateSync(request: AuthRequest): LocalAuthDecision {
    const who = `'${logName(request.peerName)}'`;
    const from = request.source ? ` from ${logName(request.source)}` : '';

    const locked = this.#lockout?.check(request.peerName, request.source);
    if (locked?.locked) {
      // Refused without looking at the secret: a locked-out guesser learns nothing.
      const by = locked.by === 'peer' ? `peer name ${who}` : `source ${logName(locked.key)}`;
      return this.#failure(
        request,
        `${who}${from} refused: ${by} locked out until ${this.#formatTime(locked.until)}`,
        false,
      );
    }

    const record = this.#source.lookup(request.peerName, request.ourName);
    if (!record) {
      return this.#failure(
        request,
        `no secret for ${who} (server '${logName(request.ourName)}')${from}`,
        true,
      );
    }
    const label = `record for '${logName(record.client)}'${record.server === '*' ? '' : ` (server '${logName(record.server)}')`}`;

    let decision: AuthDecision;
    if (request.method === 'pap' || request.method === 'chap-md5') {
      if (record.secret === undefined) {
        return this.#failure(
          request,
          `${label} holds only an NT hash; ${request.method} needs the password`,
          true,
        );
      }
      decision = verifyPapOrMd5(request, { password: record.secret });
    } else {
      decision = verifyMschapLocally(
        request,
        {
          ...(record.secret !== undefined ? { password: record.secret } : {}),
          ...(record.ntHash !== undefined ? { ntHash: Buffer.from(record.ntHash, 'hex') } : {}),
        },
        this.#mschap,
      );
    }

    if (!decision.ok) {
      const what =
        request.method === 'pap' ? 'wrong password' : `${request.method} response does not match`;
      return this.#failure(request, `${what} for ${who}${from} (${label})`, true, decision.message);
    }

    if (record.addresses === '-') {
      // Right secret, but the record forbids IP: not a guessing failure, so not counted.
      return this.#failure(
        request,
        `${label} allows no IP address ('-' in its address column); branchlink links carry IP only`,
        false,
      );
    }

    this.#lockout?.recordSuccess(request.peerName, request.source);
    const remoteAddress = suggestedAddress(record.addresses);
    return {
      ...decision,
      ...(remoteAddress !== undefined ? { remoteAddress } : {}),
      ...(record.addresses !== '*' ? { allowedAddresses: [...record.addresses] } : {}),
    };
  }

  /**
   * Our credentials when the peer authenticates us (pppd get_secret with client = our
   * user name, server = the peer's name; undefined remotename matches any server).
   */
  credentialsFor(ourUser: string, remotename?: string): PeerCredentials | undefined {
    const rec = this.#source.lookup(ourUser, remotename);
    if (!rec) return undefined;
    return {
      name: ourUser,
      ...(rec.secret !== undefined ? { password: rec.secret } : {}),
      ...(rec.ntHash !== undefined ? { ntHash: Buffer.from(rec.ntHash, 'hex') } : {}),
    };
  }

  #failure(
    request: AuthRequest,
    reason: string,
    count: boolean,
    peerMessage?: string,
  ): FailDecision {
    let why = reason;
    if (count && this.#lockout) {
      const status = this.#lockout.recordFailure(request.peerName, request.source);
      if (status.locked) why += `; now locked out until ${this.#formatTime(status.until)}`;
    }
    return { ok: false, reason: why, message: peerMessage ?? this.#peerMessage(request) };
  }

  /** The same failure text whatever went wrong. */
  #peerMessage(request: AuthRequest): string | undefined {
    if (request.method === 'pap' || request.method === 'chap-md5')
      return PEER_MESSAGE[request.method];
    // An MS-CHAP Failure must carry E= R= C= V= (RFC 2759 §6): let the verifier build one
    // by checking against no secret at all.
    const f = verifyMschapLocally(request, {}, this.#mschap);
    return f.ok ? undefined : f.message;
  }
}
