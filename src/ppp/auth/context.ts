/** What an authentication protocol machine needs from its session: time, output, randomness. */
export interface AuthContext {
  now(): number;
  send(protocol: number, packet: Buffer): void;
  /** Cryptographically secure random bytes (challenges). */
  random(length: number): Buffer;
}

export interface AuthTimers {
  /** Retransmission period for Challenges / Authenticate-Requests (pppd: 3 s). */
  readonly restartMs: number;
  /** Transmissions before giving up (pppd: chap-max-challenge 10, pap-max-authreq 10). */
  readonly maxTransmits: number;
  /** How long an authenticator waits for PAP credentials (pppd pap-timeout). */
  readonly waitMs: number;
}

export const DEFAULT_AUTH_TIMERS: AuthTimers = {
  restartMs: 3000,
  maxTransmits: 10,
  waitMs: 30_000,
};
