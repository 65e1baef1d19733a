/**
 * Decoders in branchlink never throw on untrusted bytes: they return a Result.
 * The error is data (a code and a human reason) so callers can count and log it.
 */
export type Result<T, E = DecodeError> = { ok: true; value: T } | { ok: false; error: E };

export interface DecodeError {
  /** Short machine-readable kind, e.g. 'truncated', 'bad-length', 'bad-fcs'. */
  readonly kind: string;
  /** One readable sentence for logs; never contains secrets. */
  readonly reason: string;
}

export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function err(kind: string, reason: string): { ok: false; error: DecodeError } {
  return { ok: false, error: { kind, reason } };
}
