import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/leds/clock.js';
import { runLedsTest } from '../../src/leds/leds-test.js';
import { LED_NAMES, LED_PATTERNS } from '../../src/leds/patterns.js';
import { PIN, recordingLog } from './helpers.js';

describe('runLedsTest (branchlink leds test)', () => {
  it('walks every LED through every pattern of the table and ends dark', async () => {
    const clock = new ManualClock();
    const lines: string[] = [];
    const result = await runLedsTest({
      log: recordingLog(),
      out: { write: (t: string) => lines.push(t) },
      clock,
      sleep: async (ms) => clock.advance(ms),
      secondsPerPattern: 2,
    });
    const rows = LED_NAMES.flatMap((led) =>
      Object.keys(LED_PATTERNS[led])
        .filter((s) => s !== 'stopped')
        .map((state) => [led, state] as const),
    );
    expect(result).toMatchObject({ driver: 'virtual', shown: rows.length + 1, failure: undefined });
    for (const [led, state] of rows) {
      expect(lines.some((l) => l.startsWith(`${led} (pin ${PIN[led]}) ${state}: `))).toBe(true);
    }
    expect(lines[0]).toBe('LED test on virtual\n');
    expect(lines.at(-1)).toBe('LED test done\n');
    const writes = result.virtual!.writes;
    for (const led of LED_NAMES) {
      const levels = writes.filter((w) => w.pin === PIN[led]).map((w) => w.value);
      expect(levels, led).toContain(1);
      expect(levels.at(-1), led).toBe(0);
    }
    // Bulb check: all four LEDs lit together at the start.
    expect(writes.slice(0, 4).map((w) => [w.pin, w.value])).toEqual([
      [PIN.power, 1],
      [PIN.dialup, 1],
      [PIN.vpn, 1],
      [PIN.auth, 1],
    ]);
    expect(clock.pending).toBe(0);
  });

  it('says why when the LEDs cannot be opened, without throwing', async () => {
    const lines: string[] = [];
    const log = recordingLog();
    const result = await runLedsTest({
      board: { profile: 'rpi', chip: `/dev/gpiochip-missing-${process.pid}` },
      log,
      out: { write: (t: string) => lines.push(t) },
      sleep: async () => {},
    });
    expect(result.shown).toBe(0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^LED test not run: /);
    expect(log.lines).toHaveLength(1);
  });
});
