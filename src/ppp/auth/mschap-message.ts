/**
 * Codecs for the MS-CHAP fields carried inside CHAP packets (RFC 1994 framing is chap.ts's):
 * - the Response Value of MS-CHAPv1 (RFC 2433 §5) and MS-CHAPv2 (RFC 2759 §4), 49 bytes each;
 * - the MS-CHAPv2 Success message "S=<40 hex> M=<text>" (RFC 2759 §5);
 * - the Failure message "E=eeee R=r C=cccc V=vvvv M=<text>" (RFC 2433 §6, RFC 2759 §6).
 * Decoders take untrusted bytes and return a Result; they never throw.
 */
import { err, ok, type Result } from '../result.js';

/** Length of the Value field of an MS-CHAP Response, both versions. */
export const MSCHAP_RESPONSE_LENGTH = 49;

// ---------------------------------------------------------------------------------------------
// Response Values

/** RFC 2433 §5: LM-Response (24), NT-Response (24), Flags (1: 1 = use the NT response). */
export interface MschapV1ResponseValue {
  readonly lmResponse: Buffer;
  readonly ntResponse: Buffer;
  /** RFC 2433: 1 means "use the NT response"; 0 means LM only (refused by this router). */
  readonly flags: number;
}

/** RFC 2759 §4: Peer-Challenge (16), Reserved (8, zero), NT-Response (24), Flags (1, zero). */
export interface MschapV2ResponseValue {
  readonly peerChallenge: Buffer;
  readonly ntResponse: Buffer;
  readonly flags: number;
}

export function decodeMschapV1Response(value: Uint8Array): Result<MschapV1ResponseValue> {
  if (value.length !== MSCHAP_RESPONSE_LENGTH) {
    return err('bad-length', `MS-CHAPv1 response value is ${value.length} bytes, expected 49`);
  }
  const b = Buffer.from(value.buffer, value.byteOffset, value.length);
  return ok({
    lmResponse: Buffer.from(b.subarray(0, 24)),
    ntResponse: Buffer.from(b.subarray(24, 48)),
    flags: b[48]!,
  });
}

export function encodeMschapV1Response(repr: MschapV1ResponseValue): Buffer {
  const out = Buffer.alloc(MSCHAP_RESPONSE_LENGTH);
  Buffer.from(repr.lmResponse).copy(out, 0, 0, 24);
  Buffer.from(repr.ntResponse).copy(out, 24, 0, 24);
  out[48] = repr.flags & 0xff;
  return out;
}

export function decodeMschapV2Response(value: Uint8Array): Result<MschapV2ResponseValue> {
  if (value.length !== MSCHAP_RESPONSE_LENGTH) {
    return err('bad-length', `MS-CHAPv2 response value is ${value.length} bytes, expected 49`);
  }
  const b = Buffer.from(value.buffer, value.byteOffset, value.length);
  // RFC 2759 §4 says the 8 reserved bytes MUST be zero; like pppd we ignore them on
  // receipt rather than fail a peer for sloppiness there.
  return ok({
    peerChallenge: Buffer.from(b.subarray(0, 16)),
    ntResponse: Buffer.from(b.subarray(24, 48)),
    flags: b[48]!,
  });
}

export function encodeMschapV2Response(repr: MschapV2ResponseValue): Buffer {
  const out = Buffer.alloc(MSCHAP_RESPONSE_LENGTH);
  Buffer.from(repr.peerChallenge).copy(out, 0, 0, 16);
  Buffer.from(repr.ntResponse).copy(out, 24, 0, 24);
  out[48] = repr.flags & 0xff;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Success message (MS-CHAPv2)

/** RFC 2759 §5: "S=<auth_string> M=<message>", auth_string 40 hex digits. */
export interface MschapV2Success {
  /** The 20-byte authenticator response. */
  readonly authenticatorResponse: Buffer;
  /** The M= text, when present. */
  readonly message?: string;
}

const HEX = /^[0-9A-Fa-f]*$/;

export function decodeMschapV2Success(data: Uint8Array): Result<MschapV2Success> {
  const text = Buffer.from(data.buffer, data.byteOffset, data.length).toString('latin1');
  if (!text.startsWith('S=')) return err('bad-format', 'MS-CHAPv2 success message lacks "S="');
  const hex = text.slice(2, 42);
  if (hex.length !== 40 || !HEX.test(hex)) {
    return err('bad-format', 'MS-CHAPv2 success message needs 40 hex digits after "S="');
  }
  const authenticatorResponse = Buffer.from(hex, 'hex');
  const rest = text.slice(42);
  if (rest.length === 0) return ok({ authenticatorResponse });
  // RFC 2759 wants " M="; pppd also accepts "M=" with no space, and so do we.
  const prefix = rest.startsWith(' M=') ? 3 : rest.startsWith('M=') ? 2 : -1;
  if (prefix < 0) return err('bad-format', 'MS-CHAPv2 success message has text not led by "M="');
  const message = Buffer.from(data.subarray(42 + prefix)).toString('utf8');
  return ok({ authenticatorResponse, message });
}

export function encodeMschapV2Success(repr: MschapV2Success): Buffer {
  const s = 'S=' + repr.authenticatorResponse.toString('hex').toUpperCase();
  return Buffer.from(repr.message === undefined ? s : `${s} M=${repr.message}`, 'utf8');
}

// ---------------------------------------------------------------------------------------------
// Failure message (both versions)

/** RFC 2433 §6 / RFC 2759 §6 error codes. An unknown code is data: its name is 'unknown'. */
export const MSCHAP_ERRORS = {
  646: 'restricted-logon-hours',
  647: 'account-disabled',
  648: 'password-expired',
  649: 'no-dialin-permission',
  691: 'authentication-failure',
  709: 'changing-password',
} as const;

export type MschapErrorName = (typeof MSCHAP_ERRORS)[keyof typeof MSCHAP_ERRORS];

export function mschapErrorName(code: number): MschapErrorName | 'unknown' {
  return (MSCHAP_ERRORS as Record<number, MschapErrorName>)[code] ?? 'unknown';
}

export function mschapErrorCode(name: MschapErrorName): number {
  const entry = Object.entries(MSCHAP_ERRORS).find(([, n]) => n === name);
  return entry === undefined ? 691 : Number(entry[0]);
}

/** "E=691 R=0 C=<hex> V=3 M=<text>"; every field but E is optional on receipt. */
export interface MschapFailure {
  /** E=: the decimal error code. */
  readonly error: number;
  /** R=: 1 if the peer may retry. */
  readonly retry?: boolean;
  /** C=: the challenge for a retry (8 bytes in MS-CHAPv1, 16 in MS-CHAPv2). */
  readonly challenge?: Buffer;
  /** V=: password-change protocol version (3 for MS-CHAPv2). */
  readonly version?: number;
  /** M=: human text (MS-CHAPv2); everything after " M=" up to the end. */
  readonly message?: string;
}

const DECIMAL = /^[0-9]{1,10}$/;

export function decodeMschapFailure(data: Uint8Array): Result<MschapFailure> {
  const text = Buffer.from(data.buffer, data.byteOffset, data.length).toString('latin1');
  if (!text.startsWith('E=')) return err('bad-format', 'MS-CHAP failure message lacks "E="');
  // The M= text may contain spaces and '=': split it off first (RFC 2759 §6: M= is last).
  let head = text;
  let message: string | undefined;
  const m = text.indexOf(' M=');
  if (m >= 0) {
    head = text.slice(0, m);
    message = Buffer.from(data.subarray(m + 3)).toString('utf8');
  }
  let error: number | undefined;
  let retry: boolean | undefined;
  let challenge: Buffer | undefined;
  let version: number | undefined;
  for (const field of head.split(' ')) {
    if (field.length === 0) continue;
    const key = field.slice(0, 2);
    const value = field.slice(2);
    switch (key) {
      case 'E=':
        if (!DECIMAL.test(value)) return err('bad-format', 'MS-CHAP failure E= is not a number');
        error = Number(value);
        break;
      case 'R=':
        if (value !== '0' && value !== '1')
          return err('bad-format', 'MS-CHAP failure R= is not 0/1');
        retry = value === '1';
        break;
      case 'C=':
        if (value.length % 2 !== 0 || value.length > 64 || !HEX.test(value)) {
          return err('bad-format', 'MS-CHAP failure C= is not a hex challenge');
        }
        challenge = Buffer.from(value, 'hex');
        break;
      case 'V=':
        if (!DECIMAL.test(value)) return err('bad-format', 'MS-CHAP failure V= is not a number');
        version = Number(value);
        break;
      default:
        // Unknown fields are skipped: later Windows versions may add some.
        break;
    }
  }
  if (error === undefined) return err('bad-format', 'MS-CHAP failure E= is empty');
  return ok({
    error,
    ...(retry !== undefined ? { retry } : {}),
    ...(challenge !== undefined ? { challenge } : {}),
    ...(version !== undefined ? { version } : {}),
    ...(message !== undefined ? { message } : {}),
  });
}

export function encodeMschapFailure(repr: MschapFailure): Buffer {
  const parts = [`E=${repr.error}`];
  if (repr.retry !== undefined) parts.push(`R=${repr.retry ? 1 : 0}`);
  if (repr.challenge !== undefined) parts.push(`C=${repr.challenge.toString('hex').toUpperCase()}`);
  if (repr.version !== undefined) parts.push(`V=${repr.version}`);
  if (repr.message !== undefined) parts.push(`M=${repr.message}`);
  return Buffer.from(parts.join(' '), 'utf8');
}

/** One line for logs, e.g. `E=691 authentication-failure "Access denied"`. */
export function formatMschapFailure(f: MschapFailure): string {
  const text = f.message === undefined ? '' : ` ${JSON.stringify(f.message)}`;
  return `E=${f.error} ${mschapErrorName(f.error)}${text}`;
}
