/**
 * The power heartbeat against a really blocked event loop: real timers, a busy-wait
 * on this thread, and the pin writes the virtual board recorded.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { openLedBoard } from '../../src/leds/board.js';
import { systemClock } from '../../src/leds/clock.js';
import { LedIndicator } from '../../src/leds/indicator.js';
import { PIN, recordingLog } from './helpers.js';

function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // Blocking the loop is the point.
  }
}

it('stops the heartbeat while the loop is blocked and resumes it a cycle after', async () => {
  const log = recordingLog();
  const board = await openLedBoard({ log, clock: systemClock });
  const io = board.virtual!;
  const indicator = new LedIndicator({
    driver: board.driver,
    clock: systemClock,
    log,
    stallThresholdMs: 1000,
  });
  indicator.start();
  await sleep(2200);
  const blockStart = performance.now();
  busyWait(2500);
  const blockEnd = performance.now();
  await sleep(2600);
  indicator.close();

  const power = io.writes.filter((w) => w.pin === PIN.power && w.at < blockEnd + 2600);
  const before = power.filter((w) => w.at < blockStart);
  const during = power.filter((w) => w.at > blockStart && w.at < blockEnd);
  const heldDark = power.filter((w) => w.at >= blockEnd && w.at <= blockEnd + 800);
  const resumed = power.filter((w) => w.at > blockEnd + 800 && w.value === 1);

  expect(before.filter((w) => w.value === 1).length).toBeGreaterThanOrEqual(2);
  expect(during).toEqual([]);
  // No catch-up blink when the loop comes back: at most the write that darkens it.
  expect(heldDark.filter((w) => w.value === 1)).toEqual([]);
  expect(resumed.length).toBeGreaterThanOrEqual(1);
  expect(log.lines.some((l) => /event loop stalled \d+\.\d s/.test(l))).toBe(true);
});
