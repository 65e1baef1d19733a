/** A virtual LED board on johnny-five with a manual clock, as every LED test uses it. */
import { BOARD_PROFILES } from '../../board/profiles.js';
import { openLedBoard } from '../../src/leds/board.js';
import { ManualClock } from '../../src/leds/clock.js';
import type { LedLogger } from '../../src/leds/driver.js';
import { LedIndicator, type LedIndicatorOptions } from '../../src/leds/indicator.js';
import type { LedName, Level } from '../../src/leds/patterns.js';
import type { VirtualIo } from '../../src/leds/virtual-io.js';

export const PIN = {
  power: BOARD_PROFILES.rpi.leds.power.pin,
  dialup: BOARD_PROFILES.rpi.leds.dialup.pin,
  vpn: BOARD_PROFILES.rpi.leds.vpn.pin,
  auth: BOARD_PROFILES.rpi.leds.auth.pin,
} as const satisfies Record<LedName, number>;

export function recordingLog(): LedLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
  };
}

export interface Rig {
  clock: ManualClock;
  io: VirtualIo;
  indicator: LedIndicator;
  log: ReturnType<typeof recordingLog>;
  /** Writes on one LED since `mark()`, as [ms since mark, level]. */
  seq(led: LedName): [number, Level][];
  /** Forget recorded writes; later times are relative to now. */
  mark(): void;
}

export async function virtualRig(
  options: Omit<LedIndicatorOptions, 'driver' | 'clock' | 'log'> = {},
): Promise<Rig> {
  const clock = new ManualClock(10_000);
  const log = recordingLog();
  const board = await openLedBoard({ log, clock });
  if (board.virtual === undefined) throw new Error(`virtual board did not open: ${board.failure}`);
  const io = board.virtual;
  const indicator = new LedIndicator({ ...options, driver: board.driver, clock, log });
  let t0 = clock.now();
  return {
    clock,
    io,
    indicator,
    log,
    mark() {
      io.clearWrites();
      t0 = clock.now();
    },
    seq(led) {
      return io.writes.filter((w) => w.pin === PIN[led]).map((w) => [w.at - t0, w.value]);
    },
  };
}
