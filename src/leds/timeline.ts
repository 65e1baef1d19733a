/**
 * A pattern of the table unrolled into on/off segments over a time window: what the
 * legend image draws and what the tests hold the player to.
 */
import type { LedPattern, Level } from './patterns.js';

export interface Segment {
  readonly from: number;
  readonly to: number;
  readonly level: Level;
}

/**
 * Segments from 0 to `windowMs`, adjacent equal levels merged. `restingLevel` is where a
 * `resume` pattern ends up. Zero-length steps are never shown, as in the player.
 */
export function patternTimeline(
  pattern: LedPattern,
  windowMs: number,
  restingLevel: Level = 0,
): Segment[] {
  const out: Segment[] = [];
  const push = (from: number, to: number, level: Level) => {
    const end = Math.min(to, windowMs);
    if (end <= from) return;
    const last = out[out.length - 1];
    if (last !== undefined && last.level === level && last.to === from) {
      out[out.length - 1] = { from: last.from, to: end, level };
    } else {
      out.push({ from, to: end, level });
    }
  };
  const steps = pattern.steps.filter(([, ms]) => ms > 0);
  const cycle = steps.reduce((sum, [, ms]) => sum + ms, 0);
  let t = 0;
  do {
    for (const [level, ms] of steps) {
      push(t, t + ms, level);
      t += ms;
      if (t >= windowMs) return out;
    }
  } while (pattern.after === 'repeat' && cycle > 0);
  // A repeating pattern without duration holds its last level.
  const level: Level = pattern.steps.at(-1)?.[0] ?? 0;
  const tail: Level =
    pattern.after === 'on'
      ? 1
      : pattern.after === 'off'
        ? 0
        : pattern.after === 'resume'
          ? restingLevel
          : level;
  push(t, windowMs, tail);
  return out;
}

/** Times at which the level changes, with the new level (the pin writes a player makes). */
export function transitions(segments: readonly Segment[]): { at: number; level: Level }[] {
  const out: { at: number; level: Level }[] = [];
  let prev: Level | undefined;
  for (const s of segments) {
    if (s.level !== prev) out.push({ at: s.from, level: s.level });
    prev = s.level;
  }
  return out;
}
