/**
 * What the indicator writes to: one level per named LED. A driver may throw (a GPIO
 * line vanishes, johnny-five refuses a pin); `guardDriver` turns the first failure
 * into one log line and a no-op, so an LED problem never reaches a link.
 */
import type { LedName, Level } from './patterns.js';

export interface LedDriver {
  /** For logs, e.g. "rpi /dev/gpiochip0" or "virtual". */
  readonly description: string;
  write(led: LedName, level: Level): void;
  /** Leave the LEDs dark where possible and release the hardware. */
  close(): void;
}

/** The subset of pino's logger the LED layer uses. */
export interface LedLogger {
  info(message: string): void;
  warn(message: string): void;
}

export const nullLedDriver: LedDriver = {
  description: 'none',
  write() {},
  close() {},
};

export const silentLogger: LedLogger = { info() {}, warn() {} };

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A driver that never throws: the first failure is logged once and disables it. */
export class GuardedDriver implements LedDriver {
  private inner: LedDriver;
  private failedWith: string | undefined;

  /** `failure`: why the LEDs are already off (the board did not open), for status. */
  constructor(
    driver: LedDriver,
    private readonly log: LedLogger,
    failure?: string,
  ) {
    this.inner = driver;
    this.failedWith = failure;
  }

  get description(): string {
    return this.inner.description;
  }

  /** Why the LEDs were disabled, if they were. */
  get failure(): string | undefined {
    return this.failedWith;
  }

  write(led: LedName, level: Level): void {
    try {
      this.inner.write(led, level);
    } catch (e) {
      this.disable(`writing the ${led} LED failed: ${errorMessage(e)}`);
    }
  }

  close(): void {
    try {
      this.inner.close();
    } catch (e) {
      this.log.warn(`LEDs: releasing ${this.inner.description} failed: ${errorMessage(e)}`);
    }
    this.inner = nullLedDriver;
  }

  private disable(reason: string): void {
    const broken = this.inner;
    this.failedWith = reason;
    this.inner = nullLedDriver;
    this.log.warn(
      `LEDs disabled on ${broken.description}: ${reason}; the router keeps running without them`,
    );
    try {
      broken.close();
    } catch {
      // Already reported the failure that matters.
    }
  }
}
