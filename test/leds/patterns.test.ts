import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/leds/clock.js';
import { LED_NAMES, LED_PATTERNS, type LedPattern, type Level } from '../../src/leds/patterns.js';
import { cycleMs, PatternPlayer } from '../../src/leds/player.js';
import { patternTimeline, transitions } from '../../src/leds/timeline.js';
import { PHASES } from '../../src/ppp/events.js';

const allPatterns = LED_NAMES.flatMap((led) =>
  (Object.entries(LED_PATTERNS[led]) as [string, LedPattern][]).map(
    ([state, pattern]) => [`${led}.${state}`, pattern] as const,
  ),
);

/** What a player writes over `windowMs`, starting from an LED of unknown level. */
function played(pattern: LedPattern, windowMs: number, resting: Level = 0): [number, Level][] {
  const clock = new ManualClock();
  const writes: [number, Level][] = [];
  const player = new PatternPlayer((level) => writes.push([clock.now(), level]), clock, {
    stallThresholdMs: Number.POSITIVE_INFINITY,
  });
  const rest: LedPattern = {
    when: '',
    looks: '',
    steps: [[resting, 0]],
    after: resting === 1 ? 'on' : 'off',
  };
  player.play(pattern, () => rest);
  clock.advance(windowMs);
  return writes;
}

describe('the pattern table', () => {
  it('has a pattern for every PPP phase on both link LEDs', () => {
    for (const phase of PHASES) {
      expect(LED_PATTERNS.dialup[phase]).toBeDefined();
      expect(LED_PATTERNS.vpn[phase]).toBeDefined();
    }
  });

  it('blinks Establish at 1 Hz and Authenticate at 4 Hz, half on, half off', () => {
    for (const [phase, period] of [
      ['establish', 1000],
      ['authenticate', 250],
    ] as const) {
      const p = LED_PATTERNS.dialup[phase];
      expect(p.after).toBe('repeat');
      expect(cycleMs(p)).toBe(period);
      expect(p.steps).toEqual([
        [1, period / 2],
        [0, period / 2],
      ]);
    }
  });

  it('every repeating pattern has a positive cycle and every step a whole, non-negative duration', () => {
    for (const [name, p] of allPatterns) {
      if (p.after === 'repeat') expect(cycleMs(p), name).toBeGreaterThan(0);
      for (const [level, ms] of p.steps) {
        expect([0, 1], name).toContain(level);
        expect(Number.isInteger(ms) && ms >= 0, name).toBe(true);
      }
    }
  });

  it('auth outcomes open dark, so they show even over a steadily lit LED', () => {
    for (const state of ['success', 'failure', 'locked-out', 'config-refused'] as const) {
      expect(LED_PATTERNS.auth[state].steps[0]?.[0], state).toBe(0);
    }
  });

  it('the four auth outcomes and the five phases look different from each other', () => {
    const auth = ['success', 'failure', 'locked-out', 'config-refused'].map((s) =>
      JSON.stringify(patternTimeline(LED_PATTERNS.auth[s as 'success'], 4000)),
    );
    expect(new Set(auth).size).toBe(4);
    const link = PHASES.map((p) => JSON.stringify(patternTimeline(LED_PATTERNS.vpn[p], 4000)));
    expect(new Set(link).size).toBe(PHASES.length);
  });

  it('only the power heartbeat is a watchdog pattern', () => {
    const watchdogs = allPatterns.filter(([, p]) => p.watchdog === true).map(([n]) => n);
    expect(watchdogs).toEqual(['power.heartbeat']);
  });

  it.each(allPatterns)('the player writes exactly the timeline of %s', (_, pattern) => {
    expect(played(pattern, 6000)).toEqual(
      transitions(patternTimeline(pattern, 6001)).map((t) => [t.at, t.level]),
    );
  });
});

describe('player and timeline agree on any pattern', () => {
  const step = fc.tuple(fc.constantFrom<Level>(0, 1), fc.integer({ min: 0, max: 700 }));
  const pattern = fc
    .record({
      steps: fc.array(step, { minLength: 1, maxLength: 8 }),
      after: fc.constantFrom('repeat', 'on', 'off', 'resume'),
    })
    .map(
      (p): LedPattern => ({
        when: '',
        looks: '',
        steps: p.steps,
        after: p.after as LedPattern['after'],
      }),
    );

  it('writes one level change per timeline transition, at its time', () => {
    fc.assert(
      fc.property(pattern, fc.constantFrom<Level>(0, 1), (p, resting) => {
        expect(played(p, 3000, resting)).toEqual(
          transitions(patternTimeline(p, 3001, resting)).map((t) => [t.at, t.level]),
        );
      }),
      { numRuns: 300 },
    );
  });
});
