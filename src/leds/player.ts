/**
 * Plays one pattern of the table on one LED, on the injected clock. Steps are
 * scheduled against their planned start times, so a slow loop does not drift a blink.
 */
import type { Clock } from './clock.js';
import type { LedPattern, Level } from './patterns.js';

export interface PlayerOptions {
  /**
   * A `watchdog` pattern stops (LED dark) when a timer fires later than this: the event
   * loop was stalled. It resumes after one whole on-time cycle of the pattern.
   */
  readonly stallThresholdMs: number;
  /** Told once per detected stall, with how late the timer fired. */
  readonly onStall?: (lateMs: number) => void;
}

export class PatternPlayer {
  private pattern: LedPattern | undefined;
  private resting: (() => LedPattern) | undefined;
  private index = 0;
  private cancel: (() => void) | undefined;
  private level: Level | undefined;
  private stalled = false;

  constructor(
    private readonly write: (level: Level) => void,
    private readonly clock: Clock,
    private readonly options: PlayerOptions,
  ) {}

  /** The pattern being shown (the resting one once a `resume` pattern has ended). */
  get current(): LedPattern | undefined {
    return this.pattern;
  }

  /** True while steps are still running (a finite pattern has not reached its end). */
  get isPlaying(): boolean {
    return this.cancel !== undefined;
  }

  /** True while the watchdog holds the LED dark after a stall. */
  get isStalled(): boolean {
    return this.stalled;
  }

  /**
   * Show `pattern`. A finite pattern that ends dark (Terminate's double flash) is not
   * cut short by a steady-off one (Dead usually follows Terminate within milliseconds).
   * `resting` is where a `resume` pattern returns to.
   */
  play(pattern: LedPattern, resting?: () => LedPattern): void {
    if (this.isPlayingFiniteToOff() && isSteadyOff(pattern)) return;
    this.force(pattern, resting);
  }

  /** Show `pattern` at once, whatever is playing. */
  force(pattern: LedPattern, resting?: () => LedPattern): void {
    this.halt();
    this.pattern = pattern;
    this.resting = resting;
    this.stalled = false;
    this.startStep(0, this.clock.now());
  }

  /** Stop timers; the LED keeps its level. */
  halt(): void {
    this.cancel?.();
    this.cancel = undefined;
  }

  /** Forget the last written level so the next step writes even if it is the same. */
  invalidate(): void {
    this.level = undefined;
  }

  private isPlayingFiniteToOff(): boolean {
    const p = this.pattern;
    return p !== undefined && p.after === 'off' && this.cancel !== undefined && !isSteadyOff(p);
  }

  private startStep(index: number, plannedStart: number): void {
    const pattern = this.pattern;
    if (pattern === undefined) return;
    // Zero-length steps are never shown: the steps' end says where the LED rests.
    let i = index;
    while (i < pattern.steps.length && pattern.steps[i]![1] <= 0) i++;
    const step = pattern.steps[i];
    if (step === undefined) {
      this.finish(plannedStart);
      return;
    }
    this.index = i;
    // A step that would already be over (the loop was busy) starts now: no burst of
    // catch-up toggles after a pause.
    const now = this.clock.now();
    const start = now - plannedStart >= step[1] ? now : plannedStart;
    this.set(step[0]);
    const due = start + step[1];
    this.cancel = this.clock.schedule(due - now, () => this.onStepEnd(due));
  }

  private onStepEnd(due: number): void {
    this.cancel = undefined;
    const pattern = this.pattern;
    if (pattern === undefined) return;
    const late = this.clock.now() - due;
    if (pattern.watchdog === true && late > this.options.stallThresholdMs) {
      this.options.onStall?.(late);
      this.stall();
      return;
    }
    const next = this.index + 1;
    if (next < pattern.steps.length) this.startStep(next, due);
    else this.finish(due);
  }

  private finish(at: number): void {
    const pattern = this.pattern;
    if (pattern === undefined) return;
    switch (pattern.after) {
      case 'repeat':
        if (cycleMs(pattern) > 0) this.startStep(0, at);
        else this.set(pattern.steps.at(-1)?.[0] ?? 0);
        return;
      case 'on':
        this.set(1);
        return;
      case 'off':
        this.set(0);
        return;
      case 'resume': {
        const resting = this.resting?.();
        if (resting !== undefined) this.force(resting, this.resting);
        else this.set(0);
        return;
      }
    }
  }

  /**
   * The loop was blocked: dark now, and try again one cycle later. Only a check timer
   * that fires on time restarts the pattern, so a loop that keeps stalling stays dark.
   */
  private stall(): void {
    this.stalled = true;
    this.set(0);
    const pattern = this.pattern;
    const wait = pattern === undefined ? 1000 : Math.max(1, cycleMs(pattern));
    const due = this.clock.now() + wait;
    this.cancel = this.clock.schedule(wait, () => {
      this.cancel = undefined;
      if (this.clock.now() - due > this.options.stallThresholdMs) {
        this.stall();
        return;
      }
      this.stalled = false;
      this.startStep(0, this.clock.now());
    });
  }

  private set(level: Level): void {
    if (this.level === level) return;
    this.level = level;
    this.write(level);
  }
}

export function isSteadyOff(p: LedPattern): boolean {
  return p.after === 'off' && p.steps.every(([level]) => level === 0);
}

export function cycleMs(p: LedPattern): number {
  return p.steps.reduce((sum, [, ms]) => sum + ms, 0);
}
