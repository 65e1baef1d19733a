/**
 * pppd's persist / holdoff / maxfail for links that dial out (dial-up in dial
 * mode, PPTP clients), with exponential backoff capped by configuration. Sans-I/O:
 * fed what happened and when, asked when to dial next.
 */
export interface RedialConfig {
  /** Redial after the link goes down (pppd persist). */
  readonly persist: boolean;
  /** Seconds to wait before redialling (pppd holdoff). */
  readonly holdoffSeconds: number;
  /** Consecutive failed attempts before giving up; 0 = never give up (pppd maxfail). */
  readonly maxfail: number;
  /** Cap of the exponential backoff, in seconds. */
  readonly backoffMaxSeconds: number;
}

export type RedialDecision =
  | { readonly kind: 'dial-at'; readonly at: number; readonly attempt: number }
  | { readonly kind: 'stop'; readonly reason: string };

export class RedialPolicy {
  /** Attempts since the link last reached Network. */
  private failures = 0;

  constructor(private readonly config: RedialConfig) {}

  get consecutiveFailures(): number {
    return this.failures;
  }

  /** The link reached Network: the next outage starts counting from zero. */
  connected(): void {
    this.failures = 0;
  }

  /**
   * The link went down at `now` (ms). `reachedNetwork` tells a dropped session from
   * a failed attempt. Returns when to dial again, or why not to.
   */
  down(now: number, reachedNetwork: boolean): RedialDecision {
    if (reachedNetwork) this.failures = 0;
    else this.failures++;
    if (!this.config.persist) return { kind: 'stop', reason: 'persist is off' };
    if (this.config.maxfail > 0 && this.failures >= this.config.maxfail) {
      return {
        kind: 'stop',
        reason: `${this.failures} consecutive attempts failed (maxfail ${this.config.maxfail})`,
      };
    }
    const holdoff = Math.max(0, this.config.holdoffSeconds);
    // First retry after holdoff; each further failure doubles it, up to the cap.
    const exponent = Math.max(0, this.failures - 1);
    const seconds = Math.min(
      Math.max(holdoff, this.config.backoffMaxSeconds),
      holdoff * 2 ** Math.min(exponent, 30),
    );
    return { kind: 'dial-at', at: now + seconds * 1000, attempt: this.failures + 1 };
  }

  /** A manual `branchlink dial`: forget the failures. */
  reset(): void {
    this.failures = 0;
  }
}
