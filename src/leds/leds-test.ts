/**
 * `branchlink leds test`: a technician's check after flashing. All LEDs on (bulb
 * check), then every LED through every pattern of the table, one at a time, with a
 * line saying what should be seen. Run it with the service stopped: the service holds
 * the GPIO lines.
 */
import { setTimeout as sleepReal } from 'node:timers/promises';
import type { BoardConfig } from '../../board/profiles.js';
import { openLedBoard } from './board.js';
import { type Clock, systemClock } from './clock.js';
import { GuardedDriver, type LedLogger } from './driver.js';
import type { GpioBackend } from './gpio-io.js';
import { LED_NAMES, LED_PATTERNS, type LedName, type LedPattern } from './patterns.js';
import { cycleMs, PatternPlayer } from './player.js';
import type { RenderStream, VirtualIo } from './virtual-io.js';

export interface LedsTestOptions {
  readonly board?: BoardConfig;
  readonly log: LedLogger;
  /** Where the walk is narrated (stdout for the CLI). */
  readonly out: { write(text: string): unknown };
  /** How long a repeating pattern is shown. Default 3 s. */
  readonly secondsPerPattern?: number;
  /** Virtual board: draw the LED row here. */
  readonly render?: RenderStream;
  readonly clock?: Clock;
  /** Waits on the clock; default real time. Tests pass one that advances a ManualClock. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly signal?: AbortSignal;
  /** Pi board: the GPIO backend (tests inject one); default the native addon. */
  readonly gpio?: GpioBackend;
}

export interface LedsTestResult {
  /** Board the walk ran on ("none" when the LEDs could not be opened). */
  readonly driver: string;
  /** Patterns shown, bulb check included. */
  readonly shown: number;
  /** Why the LEDs did not work, if they did not. */
  readonly failure: string | undefined;
  /** The recorder, for a virtual board. */
  readonly virtual: VirtualIo | undefined;
}

const BULB_CHECK_MS = 1500;
const PAUSE_MS = 400;

export async function runLedsTest(options: LedsTestOptions): Promise<LedsTestResult> {
  const clock = options.clock ?? systemClock;
  const sleep = options.sleep ?? ((ms: number) => sleepReal(ms, undefined));
  const opened = await openLedBoard({
    board: options.board,
    log: options.log,
    clock,
    render: options.render,
    gpio: options.gpio,
  });
  const out = options.out;
  if (opened.failure !== undefined) {
    out.write(`LED test not run: ${opened.failure}\n`);
    return { driver: 'none', shown: 0, failure: opened.failure, virtual: undefined };
  }
  const driver = new GuardedDriver(opened.driver, options.log);
  const players = {} as Record<LedName, PatternPlayer>;
  for (const led of LED_NAMES) {
    players[led] = new PatternPlayer((level) => driver.write(led, level), clock, {
      stallThresholdMs: Number.POSITIVE_INFINITY,
    });
  }
  const pins = opened.profile?.leds;
  const perPatternMs = (options.secondsPerPattern ?? 3) * 1000;
  const description = driver.description;
  let shown = 0;
  const aborted = () => options.signal?.aborted === true || driver.failure !== undefined;
  try {
    out.write(`LED test on ${description}\n`);
    out.write('all LEDs on: each should light\n');
    for (const led of LED_NAMES) players[led].force({ ...ON, when: '', looks: '' });
    shown++;
    await sleep(BULB_CHECK_MS);
    for (const led of LED_NAMES) players[led].force(LED_PATTERNS[led].stopped);
    for (const led of LED_NAMES) {
      for (const [state, pattern] of Object.entries(LED_PATTERNS[led]) as [string, LedPattern][]) {
        if (state === 'stopped' || aborted()) continue;
        const pin = pins === undefined ? '' : ` (pin ${pins[led].pin})`;
        out.write(`${led}${pin} ${state}: ${pattern.looks} = ${pattern.when}\n`);
        players[led].force(pattern, () => LED_PATTERNS.auth.idle);
        shown++;
        await sleep(showFor(pattern, perPatternMs));
        players[led].force(LED_PATTERNS[led].stopped);
        await sleep(PAUSE_MS);
      }
    }
    out.write(
      driver.failure === undefined ? 'LED test done\n' : `LED test stopped: ${driver.failure}\n`,
    );
  } finally {
    for (const led of LED_NAMES) {
      players[led].halt();
      players[led].force(LED_PATTERNS[led].stopped);
    }
    driver.close();
  }
  return { driver: description, shown, failure: driver.failure, virtual: opened.virtual };
}

const ON: Pick<LedPattern, 'steps' | 'after'> = { steps: [[1, 0]], after: 'on' };

/** A repeating pattern for the chosen time (at least one cycle); a finite one to its end, plus a second. */
function showFor(pattern: LedPattern, perPatternMs: number): number {
  if (pattern.after === 'repeat') return Math.max(perPatternMs, cycleMs(pattern));
  return cycleMs(pattern) + 1000;
}
