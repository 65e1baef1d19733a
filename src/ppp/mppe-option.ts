/**
 * CCP configuration option 18, MPPE/MPPC (RFC 3078 §2), and the MPPE policy that decides
 * how this router answers it. Sans-I/O: the CCP automaton (ccp.ts) calls these.
 *
 * Supported Bits, 4 octets, most significant first:
 *   H 0x01000000 stateless   M 0x80 56-bit   S 0x40 128-bit   L 0x20 40-bit
 *   D 0x10 obsolete          C 0x01 MPPC compression
 */

import type { MppeKeyBits } from './mppe-keys.js';
import { err, ok, type Result } from './result.js';

export const CCP_OPTION_MPPE = 18;
/** Type + Length + 4 octets of Supported Bits. */
export const MPPE_OPTION_LENGTH = 6;

export const MPPE_SUPPORTED_BITS = {
  H: 0x01000000,
  M: 0x80,
  S: 0x40,
  L: 0x20,
  D: 0x10,
  C: 0x01,
} as const;

const KNOWN_BITS =
  MPPE_SUPPORTED_BITS.H |
  MPPE_SUPPORTED_BITS.M |
  MPPE_SUPPORTED_BITS.S |
  MPPE_SUPPORTED_BITS.L |
  MPPE_SUPPORTED_BITS.D |
  MPPE_SUPPORTED_BITS.C;

/** The option's meaning. `unknownBits` keeps any other bit so re-encoding is lossless. */
export interface MppeOptionRepr {
  /** H: stateless mode (key change every packet). */
  readonly stateless: boolean;
  /** L: 40-bit keys. */
  readonly bits40: boolean;
  /** M: 56-bit keys. */
  readonly bits56: boolean;
  /** S: 128-bit keys. */
  readonly bits128: boolean;
  /** D: obsolete, never set by us. */
  readonly obsolete: boolean;
  /** C: MPPC compression, never negotiated by this router. */
  readonly mppc: boolean;
  /** Bits RFC 3078 does not define. */
  readonly unknownBits: number;
}

export function mppeOptionFromBits(bits: number): MppeOptionRepr {
  const b = bits >>> 0;
  return {
    stateless: (b & MPPE_SUPPORTED_BITS.H) !== 0,
    bits40: (b & MPPE_SUPPORTED_BITS.L) !== 0,
    bits56: (b & MPPE_SUPPORTED_BITS.M) !== 0,
    bits128: (b & MPPE_SUPPORTED_BITS.S) !== 0,
    obsolete: (b & MPPE_SUPPORTED_BITS.D) !== 0,
    mppc: (b & MPPE_SUPPORTED_BITS.C) !== 0,
    unknownBits: (b & ~KNOWN_BITS) >>> 0,
  };
}

export function mppeOptionToBits(repr: MppeOptionRepr): number {
  let b = repr.unknownBits & ~KNOWN_BITS;
  if (repr.stateless) b |= MPPE_SUPPORTED_BITS.H;
  if (repr.bits40) b |= MPPE_SUPPORTED_BITS.L;
  if (repr.bits56) b |= MPPE_SUPPORTED_BITS.M;
  if (repr.bits128) b |= MPPE_SUPPORTED_BITS.S;
  if (repr.obsolete) b |= MPPE_SUPPORTED_BITS.D;
  if (repr.mppc) b |= MPPE_SUPPORTED_BITS.C;
  return b >>> 0;
}

/** Decodes the option's value: the 4 Supported Bits octets (after Type and Length). */
export function decodeMppeOptionValue(value: Uint8Array): Result<MppeOptionRepr> {
  if (value.length !== 4) {
    return err('bad-length', `MPPE option value is ${value.length} bytes, expected 4`);
  }
  const bits = ((value[0]! << 24) | (value[1]! << 16) | (value[2]! << 8) | value[3]!) >>> 0;
  return ok(mppeOptionFromBits(bits));
}

export function encodeMppeOptionValue(repr: MppeOptionRepr): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(mppeOptionToBits(repr), 0);
  return out;
}

/** Decodes a whole option: Type 18, Length 6, Supported Bits. */
export function decodeMppeOption(option: Uint8Array): Result<MppeOptionRepr> {
  if (option.length < 2) return err('truncated', 'MPPE option shorter than its header');
  if (option[0] !== CCP_OPTION_MPPE) return err('bad-type', `option type ${option[0]} is not 18`);
  if (option[1] !== MPPE_OPTION_LENGTH || option.length !== MPPE_OPTION_LENGTH) {
    return err('bad-length', `MPPE option length ${option[1]}, expected 6`);
  }
  return decodeMppeOptionValue(option.subarray(2));
}

export function encodeMppeOption(repr: MppeOptionRepr): Buffer {
  return Buffer.concat([
    Buffer.from([CCP_OPTION_MPPE, MPPE_OPTION_LENGTH]),
    encodeMppeOptionValue(repr),
  ]);
}

/** pppd-style text for packet logs: `<mppe +H -M +S -L -D -C>`. */
export function formatMppeOption(repr: MppeOptionRepr): string {
  const f = (on: boolean, c: string): string => (on ? '+' : '-') + c;
  const extra = repr.unknownBits !== 0 ? ` 0x${repr.unknownBits.toString(16)}` : '';
  return (
    `<mppe ${f(repr.stateless, 'H')} ${f(repr.bits56, 'M')} ${f(repr.bits128, 'S')} ` +
    `${f(repr.bits40, 'L')} ${f(repr.obsolete, 'D')} ${f(repr.mppc, 'C')}${extra}>`
  );
}

// ---------------------------------------------------------------------------------------------
// Policy

export interface MppePolicy {
  /** The link terminates if MPPE cannot be negotiated. */
  readonly required: boolean;
  /** Key lengths this router accepts; empty means MPPE is off (we reject option 18). */
  readonly bits: readonly MppeKeyBits[];
  /** Stateful mode acceptable (pppd `mppe-stateful`); stateless is tried first. */
  readonly statefulAllowed: boolean;
  /**
   * Ask for stateful mode in our own Configure-Request, as Windows does
   * (`mppe-prefer-stateful`, branchlink's own token; pppd has none).
   */
  readonly preferStateful?: boolean;
}

export const MPPE_POLICY_OFF: MppePolicy = { required: false, bits: [], statefulAllowed: false };
/** The default wherever MS-CHAPv2 is used: pppd's `require-mppe-128`, stateless only. */
export const MPPE_POLICY_DEFAULT: MppePolicy = {
  required: true,
  bits: [128],
  statefulAllowed: false,
};

export const MPPE_POLICY_TOKENS = [
  'require-mppe',
  'require-mppe-40',
  'require-mppe-56',
  'require-mppe-128',
  'nomppe',
  'nomppe-40',
  'nomppe-56',
  'nomppe-128',
  'mppe-stateful',
  'nomppe-stateful',
  'mppe-prefer-stateful',
] as const;

export type MppePolicyToken = (typeof MPPE_POLICY_TOKENS)[number];

/**
 * Turns pppd-vocabulary tokens into a policy. Differences from pppd, on purpose:
 * 40 and 56-bit keys are off unless named (`require-mppe` alone means 128-bit, where pppd
 * allows 40 or 128), and contradictions are errors instead of last-one-wins.
 *
 * With no token, MPPE is required at 128 bits when the link uses MS-CHAPv2
 * (`usesMschapV2`), else off (PAP and CHAP-MD5 give no keys to derive MPPE keys from).
 */
export function parseMppePolicy(
  tokens: readonly string[],
  context: { readonly usesMschapV2?: boolean } = {},
): Result<MppePolicy> {
  const seen = new Set<string>();
  for (const t of tokens) {
    if (!(MPPE_POLICY_TOKENS as readonly string[]).includes(t)) {
      return err('unknown-token', `unknown MPPE option "${t}"`);
    }
    seen.add(t);
  }
  const conflict = (a: string, b: string): Result<MppePolicy> =>
    err('contradiction', `MPPE options "${a}" and "${b}" contradict each other`);

  const requires = [...seen].filter((t) => t.startsWith('require-mppe'));
  if (seen.has('nomppe')) {
    const other = requires[0] ?? (seen.has('mppe-stateful') ? 'mppe-stateful' : undefined);
    if (other !== undefined) return conflict('nomppe', other);
  }
  if (seen.has('mppe-stateful') && seen.has('nomppe-stateful')) {
    return conflict('mppe-stateful', 'nomppe-stateful');
  }
  if (seen.has('mppe-prefer-stateful') && seen.has('nomppe-stateful')) {
    return conflict('mppe-prefer-stateful', 'nomppe-stateful');
  }
  const preferStateful = seen.has('mppe-prefer-stateful');
  for (const n of [40, 56, 128] as const) {
    if (seen.has(`require-mppe-${n}`) && seen.has(`nomppe-${n}`)) {
      return conflict(`require-mppe-${n}`, `nomppe-${n}`);
    }
  }
  const statefulAllowed = seen.has('mppe-stateful') || preferStateful;
  if (seen.has('nomppe')) return ok({ ...MPPE_POLICY_OFF });

  let required: boolean;
  let bits: Set<MppeKeyBits>;
  const named = ([40, 56, 128] as const).filter((n) => seen.has(`require-mppe-${n}`));
  if (named.length > 0) {
    required = true;
    bits = new Set(named);
  } else if (seen.has('require-mppe') || context.usesMschapV2 === true) {
    required = true;
    bits = new Set([128]);
  } else {
    return ok({ ...MPPE_POLICY_OFF, statefulAllowed });
  }
  for (const n of [40, 56, 128] as const) if (seen.has(`nomppe-${n}`)) bits.delete(n);
  if (bits.size === 0) {
    return err(
      'contradiction',
      'MPPE options leave no key length (40/56-bit need require-mppe-40 or require-mppe-56)',
    );
  }
  const sorted = [...bits].sort((a, b) => b - a);
  return ok({
    required,
    bits: sorted,
    statefulAllowed,
    ...(preferStateful ? { preferStateful } : {}),
  });
}

/** pppd tokens that reproduce `policy` (for status output and round-trip tests). */
export function formatMppePolicy(policy: MppePolicy): string[] {
  if (policy.bits.length === 0) return ['nomppe'];
  const tokens = [...policy.bits].sort((a, b) => a - b).map((n) => `require-mppe-${n}`);
  tokens.push(
    policy.preferStateful
      ? 'mppe-prefer-stateful'
      : policy.statefulAllowed
        ? 'mppe-stateful'
        : 'nomppe-stateful',
  );
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// Negotiation

function keyBitsOf(repr: MppeOptionRepr): MppeKeyBits[] {
  const out: MppeKeyBits[] = [];
  if (repr.bits128) out.push(128);
  if (repr.bits56) out.push(56);
  if (repr.bits40) out.push(40);
  return out;
}

function optionFor(bits: MppeKeyBits, stateless: boolean): MppeOptionRepr {
  return {
    stateless,
    bits40: bits === 40,
    bits56: bits === 56,
    bits128: bits === 128,
    obsolete: false,
    mppc: false,
    unknownBits: 0,
  };
}

function strongest(policy: MppePolicy): MppeKeyBits | undefined {
  return [...policy.bits].sort((a, b) => b - a)[0];
}

/**
 * Our Configure-Request option, pppd-compatible: exactly one key length (the strongest we
 * allow) and H (stateless first, even with mppe-stateful). Undefined when MPPE is off.
 */
export function mppeRequestOption(policy: MppePolicy): MppeOptionRepr | undefined {
  const bits = strongest(policy);
  return bits === undefined ? undefined : optionFor(bits, policy.preferStateful !== true);
}

export type MppeVerdict =
  | { readonly kind: 'ack'; readonly bits: MppeKeyBits; readonly stateful: boolean }
  | { readonly kind: 'nak'; readonly suggest: MppeOptionRepr; readonly reason: string }
  | { readonly kind: 'reject'; readonly reason: string };

/**
 * How to answer the peer's option 18 in its Configure-Request:
 * - ack: exactly one key length we allow, H set (or stateful allowed), no other bit;
 * - nak: several key lengths (suggest the strongest both allow), stateful when we refuse
 *   it (suggest H), MPPC/D/unknown bits (suggest them cleared), or no key length at all
 *   (suggest our strongest);
 * - reject: MPPE off, or the peer offers only key lengths we refuse (as pppd rejects).
 */
export function negotiateMppe(policy: MppePolicy, peer: MppeOptionRepr): MppeVerdict {
  const ours = strongest(policy);
  if (ours === undefined) return { kind: 'reject', reason: 'MPPE is disabled' };
  const offered = keyBitsOf(peer);
  const common = offered.filter((b) => policy.bits.includes(b));
  let bits: MppeKeyBits;
  const reasons: string[] = [];
  if (offered.length === 0) {
    bits = ours;
    reasons.push('no key length offered');
  } else if (common.length === 0) {
    return {
      kind: 'reject',
      reason: `peer offers ${offered.join('/')}-bit MPPE, policy allows ${policy.bits.join('/')}`,
    };
  } else {
    bits = common[0]!;
    if (offered.length > 1) reasons.push('several key lengths offered');
  }
  const stateless = peer.stateless || !policy.statefulAllowed;
  if (!peer.stateless && !policy.statefulAllowed) reasons.push('stateful mode refused');
  if (peer.mppc || peer.obsolete || peer.unknownBits !== 0) reasons.push('unsupported bits set');
  if (reasons.length > 0) {
    return { kind: 'nak', suggest: optionFor(bits, stateless), reason: reasons.join(', ') };
  }
  return { kind: 'ack', bits, stateful: !stateless };
}

/**
 * The peer Nak'd our option 18 with `suggest`. Returns our next request, or an error when
 * the suggestion is not acceptable (the session then gives up on MPPE and, if it is
 * required, terminates the link). Like pppd we take the peer's key length if our policy
 * allows it, and stateful mode only with mppe-stateful.
 */
export function mppeAfterNak(policy: MppePolicy, suggest: MppeOptionRepr): Result<MppeOptionRepr> {
  const common = keyBitsOf(suggest).filter((b) => policy.bits.includes(b));
  if (common.length === 0) {
    return err('mppe-refused', 'peer suggests only MPPE key lengths our policy refuses');
  }
  if (!suggest.stateless && !policy.statefulAllowed) {
    return err('mppe-refused', 'peer wants stateful MPPE, which our policy refuses');
  }
  return ok(optionFor(common[0]!, suggest.stateless));
}

/**
 * After both Configure-Requests were acked: MPPE needs the same key length and mode both
 * ways (Linux ppp_mppe and Windows use one setting for the link).
 */
export function mppeAgreed(
  ours: MppeOptionRepr,
  theirs: MppeOptionRepr,
): Result<{ bits: MppeKeyBits; stateful: boolean }> {
  const a = keyBitsOf(ours);
  const b = keyBitsOf(theirs);
  if (a.length !== 1 || b.length !== 1) {
    return err('mppe-mismatch', 'MPPE needs exactly one key length in each direction');
  }
  if (a[0] !== b[0]) return err('mppe-mismatch', `MPPE key lengths differ: ${a[0]} vs ${b[0]}`);
  if (ours.stateless !== theirs.stateless) {
    return err('mppe-mismatch', 'MPPE stateless/stateful differs between directions');
  }
  return ok({ bits: a[0]!, stateful: !ours.stateless });
}

export interface MppeDirection {
  readonly bits: MppeKeyBits;
  readonly stateful: boolean;
}

/**
 * After both Configure-Requests were acked, per direction (RFC 1962 §2: each
 * direction is negotiated on its own; Linux ppp_mppe keeps a compressor and a
 * decompressor with their own settings): our request sets how we receive, the
 * peer's how we send. Each must name exactly one key length.
 */
export function mppeDirections(
  ours: MppeOptionRepr,
  theirs: MppeOptionRepr,
): Result<{ send: MppeDirection; recv: MppeDirection }> {
  const a = keyBitsOf(ours);
  const b = keyBitsOf(theirs);
  if (a.length !== 1 || b.length !== 1) {
    return err('mppe-mismatch', 'MPPE needs exactly one key length in each direction');
  }
  return ok({
    recv: { bits: a[0]!, stateful: !ours.stateless },
    send: { bits: b[0]!, stateful: !theirs.stateless },
  });
}
