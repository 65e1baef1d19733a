/**
 * The RADIUS Authenticator: hands a peer's PAP, CHAP-MD5, MS-CHAPv1 or MS-CHAPv2 credentials
 * to a RADIUS server (RFC 2865, Microsoft attributes of RFC 2548) and turns its answer into an
 * AuthDecision: the Success/Failure message for the peer, the MPPE keys (MS-CHAP), the
 * address (Framed-IP-Address) and the session limits.
 *
 * When no server can be reached (every one timed out, or all are in their dead time) and a
 * fallback Authenticator is configured, the fallback decides; a Reject never falls back.
 * Reasons are for logs; they never contain a password, a key or the shared secret.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import type {
  AuthDecision,
  Authenticator,
  AuthRequest,
  MppeMasterKeys,
} from '../../ppp/auth/authenticator.js';
import {
  decodeMschapFailure,
  decodeMschapV1Response,
  decodeMschapV2Response,
  decodeMschapV2Success,
  encodeMschapFailure,
} from '../../ppp/auth/mschap-message.js';
import type { AuthMethod } from '../../ppp/events.js';
import { mschapV1MppeKeys } from '../../ppp/mppe-keys.js';
import { err, ok, type Result } from '../../ppp/result.js';
import { logName } from '../local-authenticator.js';
import type { RadiusClient, RadiusLogger, RadiusReply } from './client.js';
import { silentRadiusLogger } from './client.js';
import {
  Attr,
  addressAttribute,
  Code,
  codeName,
  decryptMsChapMppeKeys,
  decryptSaltedKey,
  encodeAccessRequest,
  FramedProtocol,
  findAttribute,
  findAttributes,
  integerAttribute,
  MAX_ATTRIBUTE_VALUE,
  MAX_PASSWORD_LENGTH,
  MsAttr,
  microsoftAttribute,
  NasPortType,
  type RadiusAttribute,
  readAddress,
  readInteger,
  ServiceType,
  textAttribute,
  VENDOR_MICROSOFT,
  vendorAttributes,
} from './packet.js';

type OkDecision = Extract<AuthDecision, { ok: true }>;
type FailDecision = Extract<AuthDecision, { ok: false }>;

/** What accounting needs to know about how a session was authenticated. */
export interface AccountingHints {
  /** RFC 2866 §5.6 Acct-Authentic: 'radius', or 'local' when the fallback decided. */
  readonly authentic: 'radius' | 'local';
  /** RFC 2865 §5.25: Class attributes to echo, unmodified, in accounting. */
  readonly class: readonly Buffer[];
  /** RFC 2869 §5.16 Acct-Interim-Interval from the server, in seconds. */
  readonly interimInterval?: number;
}

/**
 * A decision of the RADIUS authenticator; a subtype of AuthDecision. `accounting` is always
 * set on success; `allowedAddresses` passes through from the local fallback.
 */
export type RadiusAuthDecision =
  | (OkDecision & {
      readonly accounting: AccountingHints;
      readonly allowedAddresses?: readonly string[];
    })
  | FailDecision;

export interface RadiusAuthenticatorOptions {
  /** The client for the authentication servers (port 1812). */
  readonly client: RadiusClient;
  /** RFC 2865 §5.32 NAS-Identifier. */
  readonly nasIdentifier: string;
  /** RFC 2865 §5.4 NAS-IP-Address, dotted IPv4. */
  readonly nasIpAddress?: string;
  /**
   * RFC 2865 §5.41 NAS-Port-Type: a number, or a function of the request. Default: Async (0)
   * when the source is a tty path (dial-up), Virtual (5) otherwise (PPTP).
   */
  readonly nasPortType?: number | ((request: AuthRequest) => number);
  /** Decides when no RADIUS server answers (never after a Reject). None by default. */
  readonly fallback?: Authenticator;
  readonly logger?: RadiusLogger;
  /** Randomness for Request Authenticators and Failure challenges; tests inject one. */
  readonly randomBytes?: (length: number) => Buffer;
}

/** RFC 2759 §6 / RFC 2433 §6. */
const ERROR_AUTHENTICATION_FAILURE = 691;
const V2_FAILURE_VERSION = 3;
const V1_FAILURE_VERSION = 2;

const DEFAULT_SUCCESS: Record<AuthMethod, string> = {
  pap: 'Login ok',
  'chap-md5': 'Access granted',
  mschap: 'Access granted',
  'mschap-v2': 'Access granted',
};
const DEFAULT_FAILURE: Record<AuthMethod, string> = {
  pap: 'Login incorrect',
  'chap-md5': 'Access denied',
  mschap: 'Access denied',
  'mschap-v2': 'Access denied',
};

/** The default NAS-Port-Type: a tty path is a modem (Async), anything else is PPTP (Virtual). */
export function defaultNasPortType(request: AuthRequest): number {
  return request.source.startsWith('/') ? NasPortType.Async : NasPortType.Virtual;
}

/** Reply-Message text from the server, safe for a log line and a peer message. */
function replyMessage(reply: RadiusReply): string | undefined {
  const parts = findAttributes(reply.packet, Attr.ReplyMessage).map((v) => v.toString('utf8'));
  if (parts.length === 0) return undefined;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: flattening control characters is the point
  const CONTROLS = /[\u0000-\u001f\u007f]+/g;
  const text = parts.join(' ').replace(CONTROLS, ' ').trim();
  return text === '' ? undefined : text.slice(0, 200);
}

export class RadiusAuthenticator implements Authenticator {
  readonly #client: RadiusClient;
  readonly #options: RadiusAuthenticatorOptions;
  readonly #log: RadiusLogger;
  readonly #random: (length: number) => Buffer;

  constructor(options: RadiusAuthenticatorOptions) {
    this.#client = options.client;
    this.#options = options;
    this.#log = options.logger ?? silentRadiusLogger;
    this.#random = options.randomBytes ?? nodeRandomBytes;
  }

  async authenticate(request: AuthRequest): Promise<RadiusAuthDecision> {
    const who = `'${logName(request.peerName)}'`;
    const attributes = this.#attributes(request);
    if (!attributes.ok) return this.#fail(request, `${who}: ${attributes.error.reason}`);

    const password = request.method === 'pap' ? request.password : undefined;
    const result = await this.#client.request(Code.AccessRequest, ({ secret, identifier }) => {
      const authenticator = this.#random(16);
      const bytes = encodeAccessRequest({
        identifier,
        authenticator,
        attributes: attributes.value,
        secret,
        ...(password !== undefined ? { userPassword: password } : {}),
      });
      return bytes.ok ? ok({ bytes: bytes.value, authenticator }) : bytes;
    });

    if (!result.ok) {
      const fallback = this.#options.fallback;
      if (result.error.unreachable && fallback !== undefined) {
        this.#log.warn(
          `RADIUS unreachable (${result.error.reason}); ${who} is checked against the local secrets`,
        );
        const decision = await fallback.authenticate(request);
        if (!decision.ok) return decision;
        return { ...decision, accounting: { authentic: 'local', class: [] } };
      }
      return this.#fail(request, `${who} not authenticated: ${result.error.reason}`);
    }

    const reply = result.value;
    const packet = reply.packet;
    const server = `RADIUS server ${reply.serverLabel}`;
    const text = replyMessage(reply);
    if (packet.code === Code.AccessReject) {
      const why = `${server} rejected ${who} (${request.method})${text ? `: "${logName(text)}"` : ''}`;
      this.#log.info(why);
      return this.#fail(request, why, text, reply);
    }
    if (packet.code === Code.AccessChallenge) {
      // RFC 2865 §4.4: PPP cannot carry a server's prompt to the peer; treat as a Reject.
      return this.#fail(
        request,
        `${server} answered ${who} with an Access-Challenge, which PPP cannot relay`,
      );
    }
    if (packet.code !== Code.AccessAccept) {
      return this.#fail(request, `${server} answered ${who} with ${codeName(packet.code)}`);
    }
    return this.#accept(request, reply, text);
  }

  #attributes(request: AuthRequest): Result<RadiusAttribute[]> {
    const name = Buffer.from(request.peerName, 'utf8');
    if (name.length === 0) return err('bad-name', 'empty peer name');
    if (name.length > MAX_ATTRIBUTE_VALUE) return err('too-long', 'peer name exceeds 253 bytes');
    const o = this.#options;
    const portType =
      typeof o.nasPortType === 'function'
        ? o.nasPortType(request)
        : (o.nasPortType ?? defaultNasPortType(request));
    const list: RadiusAttribute[] = [
      { type: Attr.UserName, value: name },
      textAttribute(Attr.NasIdentifier, o.nasIdentifier),
    ];
    if (o.nasIpAddress !== undefined)
      list.push(addressAttribute(Attr.NasIpAddress, o.nasIpAddress));
    list.push(
      integerAttribute(Attr.NasPortType, portType),
      integerAttribute(Attr.ServiceType, ServiceType.Framed),
      integerAttribute(Attr.FramedProtocol, FramedProtocol.Ppp),
    );
    const source = Buffer.from(request.source, 'utf8');
    if (source.length > 0 && source.length <= MAX_ATTRIBUTE_VALUE) {
      list.push({ type: Attr.CallingStationId, value: source });
    }

    switch (request.method) {
      case 'pap':
        if (request.password.length > MAX_PASSWORD_LENGTH) {
          return err('too-long', 'PAP password exceeds the 128 bytes RADIUS can carry');
        }
        return ok(list);
      case 'chap-md5':
        // RFC 2865 §5.3 CHAP-Password: the CHAP Identifier, then the 16-byte response.
        if (request.response.length !== 16) {
          return err('bad-response', `CHAP-MD5 response is ${request.response.length} bytes`);
        }
        if (request.challenge.length === 0 || request.challenge.length > MAX_ATTRIBUTE_VALUE) {
          return err('bad-challenge', `CHAP challenge is ${request.challenge.length} bytes`);
        }
        list.push(
          {
            type: Attr.ChapPassword,
            value: Buffer.concat([Buffer.from([request.identifier & 0xff]), request.response]),
          },
          // RFC 2865 §5.40: always sent, so the server never has to assume the challenge is
          // the Request Authenticator.
          { type: Attr.ChapChallenge, value: request.challenge },
        );
        return ok(list);
      case 'mschap': {
        if (request.challenge.length !== 8) {
          return err('bad-challenge', `MS-CHAPv1 challenge is ${request.challenge.length} bytes`);
        }
        const r = decodeMschapV1Response(request.response);
        if (!r.ok) return err('bad-response', `malformed MS-CHAPv1 response: ${r.error.reason}`);
        // RFC 2548 §2.3.1 MS-CHAP-Response: Ident, Flags, LM-Response (24), NT-Response (24).
        const value = Buffer.concat([
          Buffer.from([request.identifier & 0xff, r.value.flags]),
          r.value.lmResponse,
          r.value.ntResponse,
        ]);
        return this.#withMicrosoft(list, [
          [MsAttr.ChapChallenge, request.challenge],
          [MsAttr.ChapResponse, value],
        ]);
      }
      case 'mschap-v2': {
        if (request.challenge.length !== 16) {
          return err('bad-challenge', `MS-CHAPv2 challenge is ${request.challenge.length} bytes`);
        }
        const r = decodeMschapV2Response(request.response);
        if (!r.ok) return err('bad-response', `malformed MS-CHAPv2 response: ${r.error.reason}`);
        // RFC 2548 §2.3.2 MS-CHAP2-Response: Ident, Flags, Peer-Challenge (16), Reserved (8),
        // Response (24): the CHAP Value's first 48 bytes after Ident and Flags.
        const value = Buffer.concat([
          Buffer.from([request.identifier & 0xff, r.value.flags]),
          request.response.subarray(0, 48),
        ]);
        return this.#withMicrosoft(list, [
          [MsAttr.ChapChallenge, request.challenge],
          [MsAttr.Chap2Response, value],
        ]);
      }
    }
  }

  #withMicrosoft(
    list: RadiusAttribute[],
    subs: readonly (readonly [number, Buffer])[],
  ): Result<RadiusAttribute[]> {
    for (const [type, value] of subs) {
      const a = microsoftAttribute(type, value);
      if (!a.ok) return a;
      list.push(a.value);
    }
    return ok(list);
  }

  #accept(request: AuthRequest, reply: RadiusReply, text: string | undefined): RadiusAuthDecision {
    const who = `'${logName(request.peerName)}'`;
    const server = `RADIUS server ${reply.serverLabel}`;
    const packet = reply.packet;
    const ms = vendorAttributes(packet, VENDOR_MICROSOFT).attributes;
    const msValue = (type: number): Buffer | undefined => ms.find((a) => a.type === type)?.value;

    let message = text ?? DEFAULT_SUCCESS[request.method];
    let mppeKeys: MppeMasterKeys | undefined;

    if (request.method === 'mschap-v2') {
      // RFC 2548 §2.3.3 MS-CHAP2-Success: Ident, then "S=<40 hex>" (the Success message).
      const success = msValue(MsAttr.Chap2Success);
      const s = success !== undefined && success.length > 1 ? success.subarray(1) : undefined;
      if (s === undefined || !decodeMschapV2Success(s).ok) {
        return this.#fail(
          request,
          `${server} accepted ${who} but sent no valid MS-CHAP2-Success; the peer could not verify it`,
        );
      }
      message = s.toString('latin1');
      // RFC 2548 §2.4.2/§2.4.3: MS-MPPE-Send-Key is the key the NAS (this router) sends
      // with, MS-MPPE-Recv-Key the key it receives with.
      const send = msValue(MsAttr.MppeSendKey);
      const recv = msValue(MsAttr.MppeRecvKey);
      if (send !== undefined && recv !== undefined) {
        const sk = decryptSaltedKey(send, reply.server.secret, reply.requestAuthenticator);
        const rk = decryptSaltedKey(recv, reply.server.secret, reply.requestAuthenticator);
        if (sk.ok && rk.ok && sk.value.length >= 8 && rk.value.length >= 8) {
          mppeKeys = { send: sk.value, recv: rk.value };
        } else {
          this.#log.warn(`${server}: MS-MPPE keys for ${who} do not decrypt; no MPPE keys`);
        }
      } else {
        this.#log.warn(`${server} sent no MS-MPPE-Send/Recv-Key for ${who}; no MPPE keys`);
      }
    } else if (request.method === 'mschap') {
      const keys = msValue(MsAttr.ChapMppeKeys);
      if (keys !== undefined) {
        const k = decryptMsChapMppeKeys(keys, reply.server.secret, reply.requestAuthenticator);
        // The NT key field carries the NT password hash-hash (see decryptMsChapMppeKeys);
        // RFC 3079 §2.4 derives the start key from it and the challenge.
        if (k.ok) mppeKeys = mschapV1MppeKeys(k.value.ntKey, request.challenge);
        else this.#log.warn(`${server}: MS-CHAP-MPPE-Keys for ${who} do not decrypt`);
      } else {
        this.#log.warn(`${server} sent no MS-CHAP-MPPE-Keys for ${who}; no MPPE keys`);
      }
      message = DEFAULT_SUCCESS.mschap;
    }

    const decision: {
      -readonly [K in keyof OkDecision]: OkDecision[K];
    } = { ok: true, message };
    if (mppeKeys !== undefined) decision.mppeKeys = mppeKeys;

    // RFC 2865 §5.8: 0xFFFFFFFF lets the user choose, 0xFFFFFFFE lets the NAS choose (pool).
    const ip = findAttribute(packet, Attr.FramedIpAddress);
    const address = ip !== undefined ? readAddress(ip) : undefined;
    if (address !== undefined && address !== '255.255.255.255' && address !== '255.255.255.254') {
      decision.remoteAddress = address;
    }
    const positive = (type: number, max = 0xffffffff): number | undefined => {
      const v = findAttribute(packet, type);
      const n = v !== undefined ? readInteger(v) : undefined;
      return n !== undefined && n > 0 && n <= max ? n : undefined;
    };
    const sessionTimeout = positive(Attr.SessionTimeout);
    if (sessionTimeout !== undefined) decision.sessionTimeout = sessionTimeout;
    const idleTimeout = positive(Attr.IdleTimeout);
    if (idleTimeout !== undefined) decision.idleTimeout = idleTimeout;
    // RFC 2865 §5.12: Framed-MTU is 64..65535.
    const mtu = positive(Attr.FramedMtu, 65535);
    if (mtu !== undefined && mtu >= 64) decision.mtu = mtu;

    const interim = positive(Attr.AcctInterimInterval);
    const accounting: AccountingHints = {
      authentic: 'radius',
      class: findAttributes(packet, Attr.Class).map((v) => Buffer.from(v)),
      ...(interim !== undefined ? { interimInterval: interim } : {}),
    };
    this.#log.info(`${server} accepted ${who} (${request.method})`);
    return { ...decision, accounting };
  }

  /**
   * A failure. For MS-CHAP the peer's message must be "E=... R=... C=... V=..." (RFC 2759 §6);
   * the server's MS-CHAP-Error is used when it has one, with R=0: this router, like pppd,
   * does not take a second response on the same link.
   */
  #fail(request: AuthRequest, reason: string, text?: string, reply?: RadiusReply): FailDecision {
    if (request.method === 'pap' || request.method === 'chap-md5') {
      return { ok: false, reason, message: text ?? DEFAULT_FAILURE[request.method] };
    }
    const v2 = request.method === 'mschap-v2';
    let error = ERROR_AUTHENTICATION_FAILURE;
    let challenge: Buffer | undefined;
    let version = v2 ? V2_FAILURE_VERSION : V1_FAILURE_VERSION;
    let message = text;
    if (reply !== undefined) {
      const ms = vendorAttributes(reply.packet, VENDOR_MICROSOFT).attributes;
      const e = ms.find((a) => a.type === MsAttr.ChapError)?.value;
      // RFC 2548 §2.1.5 MS-CHAP-Error: Ident, then the "E=..." text.
      const decoded =
        e !== undefined && e.length > 1 ? decodeMschapFailure(e.subarray(1)) : undefined;
      if (decoded?.ok) {
        error = decoded.value.error;
        challenge = decoded.value.challenge;
        if (decoded.value.version !== undefined) version = decoded.value.version;
        message = decoded.value.message ?? message;
      }
    }
    const length = v2 ? 16 : 8;
    if (challenge === undefined || challenge.length !== length) challenge = this.#random(length);
    const failure = encodeMschapFailure({
      error,
      retry: false,
      challenge,
      version,
      ...(v2 ? { message: message ?? DEFAULT_FAILURE[request.method] } : {}),
    });
    return { ok: false, reason, message: failure.toString('utf8') };
  }
}
