/** Comparing secrets and their derivatives without leaking where they first differ. */
import { timingSafeEqual } from 'node:crypto';

/** Constant-time equality; a length mismatch is false (not a throw). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}
