/**
 * Time for the LED layer, injected so every pattern and the heartbeat watchdog run
 * deterministically in tests (DESIGN principle 1 applied to the LEDs).
 */

export interface Clock {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  /** Run `fn` once after `delayMs`; the returned function cancels it. */
  schedule(delayMs: number, fn: () => void): () => void;
}

/** The real clock. Timers are unref'd: an LED never keeps the process alive. */
export const systemClock: Clock = {
  now: () => performance.now(),
  schedule(delayMs, fn) {
    const timer = setTimeout(fn, Math.max(0, delayMs));
    timer.unref();
    return () => clearTimeout(timer);
  },
};

interface ManualTimer {
  readonly due: number;
  readonly seq: number;
  readonly fn: () => void;
}

/**
 * A clock for tests. `advance` fires timers at their due time, in order; `stall`
 * moves time on without firing anything, then fires the overdue timers late, as a
 * blocked event loop does when it resumes.
 */
export class ManualClock implements Clock {
  private time: number;
  private seq = 0;
  private timers: ManualTimer[] = [];

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  schedule(delayMs: number, fn: () => void): () => void {
    const timer: ManualTimer = { due: this.time + Math.max(0, delayMs), seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  /** Pending timers (for tests that check nothing is left running). */
  get pending(): number {
    return this.timers.length;
  }

  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const next = this.nextDue(end);
      if (next === undefined) break;
      this.time = Math.max(this.time, next.due);
      this.fire(next);
    }
    this.time = end;
  }

  /** The loop was blocked for `ms`: time jumps, then overdue timers fire late. */
  stall(ms: number): void {
    this.time += ms;
    this.advance(0);
  }

  private nextDue(limit: number): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const t of this.timers) {
      if (t.due > limit) continue;
      if (best === undefined || t.due < best.due || (t.due === best.due && t.seq < best.seq)) {
        best = t;
      }
    }
    return best;
  }

  private fire(timer: ManualTimer): void {
    this.timers = this.timers.filter((t) => t !== timer);
    timer.fn();
  }
}
