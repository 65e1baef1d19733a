/**
 * Opens the LED board through johnny-five: a Board on our IO plugin (virtual recorder
 * or Pi GPIO) and one `Led` component per LED. Never rejects: any failure (no GPIO
 * chip, a pin busy, the addon missing, johnny-five throwing) is logged once and the
 * LEDs become a no-op, so the router runs on without them.
 */
import type { Board as FiveBoard, Led as FiveLed } from 'johnny-five';
import { type BoardConfig, type BoardProfile, resolveBoard } from '../../board/profiles.js';
import { type Clock, systemClock } from './clock.js';
import { errorMessage, type LedDriver, type LedLogger, nullLedDriver } from './driver.js';
import type { GpioBackend, GpioIo } from './gpio-io.js';
import { LedIndicator, type LedIndicatorOptions } from './indicator.js';
import type { OutputIo } from './output-io.js';
import { LED_NAMES, type LedName, type Level } from './patterns.js';
import { type RenderStream, VirtualIo } from './virtual-io.js';

export interface OpenLedBoardOptions {
  /** The config's `board` section; default: the virtual profile. */
  readonly board?: BoardConfig;
  readonly log: LedLogger;
  readonly clock?: Clock;
  /** Virtual board: draw the LED row here (e.g. process.stderr). */
  readonly render?: RenderStream;
  /** Pi board: the GPIO backend; default the native addon, loaded on first use (tests inject). */
  readonly gpio?: GpioBackend;
  /** Pi board: where the gpiochip devices are, for `chip: auto`. Default /dev. */
  readonly devRoot?: string;
  /** How long johnny-five may take to report the board ready. Default 3000 ms. */
  readonly readyTimeoutMs?: number;
}

export interface OpenedLedBoard {
  readonly driver: LedDriver;
  /** undefined when the config was invalid. */
  readonly profile: BoardProfile | undefined;
  /** The recorder, when the profile is virtual. */
  readonly virtual: VirtualIo | undefined;
  /** Why the LEDs are off, when they are. */
  readonly failure: string | undefined;
}

/** LEDs driven through johnny-five `Led` components on one Board. */
class FiveLedDriver implements LedDriver {
  constructor(
    readonly description: string,
    private readonly io: OutputIo,
    private readonly leds: Readonly<Record<LedName, FiveLed>>,
  ) {}

  write(led: LedName, level: Level): void {
    if (level === 1) this.leds[led].on();
    else this.leds[led].off();
  }

  close(): void {
    this.io.close();
  }
}

export async function openLedBoard(options: OpenLedBoardOptions): Promise<OpenedLedBoard> {
  const resolved = resolveBoard(options.board);
  if (!resolved.ok) return disabled(options.log, undefined, resolved.reason);
  const profile = resolved.value;
  const clock = options.clock ?? systemClock;
  let io: OutputIo | undefined;
  try {
    io = await openIo(profile, options, clock);
    const pinList = LED_NAMES.map((n) => `${n}=${profile.leds[n].pin}`).join(' ');
    const where = io instanceof VirtualIo ? 'virtual' : `rpi ${(io as GpioIo).chip}`;
    const driver = await attachFive(io, profile, where, options.readyTimeoutMs ?? 3000);
    options.log.info(`LEDs on ${where} (${pinList})`);
    return {
      driver,
      profile,
      virtual: io instanceof VirtualIo ? io : undefined,
      failure: undefined,
    };
  } catch (e) {
    try {
      io?.close();
    } catch {
      // The failure below is the one worth reporting.
    }
    return disabled(options.log, profile, errorMessage(e));
  }
}

/** Open the board and build an indicator on it (not started). */
export async function createLedIndicator(
  options: OpenLedBoardOptions &
    Omit<LedIndicatorOptions, 'driver' | 'log' | 'clock' | 'disabledReason'>,
): Promise<{ indicator: LedIndicator; board: OpenedLedBoard }> {
  const board = await openLedBoard(options);
  const indicator = new LedIndicator({
    ...options,
    driver: board.driver,
    disabledReason: board.failure,
    log: options.log,
    clock: options.clock ?? systemClock,
  });
  return { indicator, board };
}

async function openIo(
  profile: BoardProfile,
  options: OpenLedBoardOptions,
  clock: Clock,
): Promise<OutputIo> {
  if (profile.io === 'virtual') {
    const leds = LED_NAMES.map((name) => ({ name, ...profile.leds[name] }));
    return new VirtualIo(leds, clock, options.render);
  }
  // The Pi backend is loaded only here, so nothing of it runs off a Pi.
  const gpio = await import('./gpio-io.js');
  const backend = options.gpio ?? (await loadGpio(gpio.loadNativeGpio));
  const chip =
    profile.chip === 'auto'
      ? await gpio.findPiGpioChip(backend.chipLabel, options.devRoot ?? '/dev')
      : profile.chip;
  const pins = LED_NAMES.map((n) => profile.leds[n].pin);
  return gpio.GpioIo.open(backend.openLines, chip, pins);
}

async function loadGpio(load: () => Promise<GpioBackend>): Promise<GpioBackend> {
  try {
    return await load();
  } catch (e) {
    throw new Error(`GPIO backend unavailable (native addon: ${errorMessage(e)})`);
  }
}

async function attachFive(
  io: OutputIo,
  profile: BoardProfile,
  where: string,
  readyTimeoutMs: number,
): Promise<LedDriver> {
  const five = (await import('johnny-five')).default;
  // sigint: false, or johnny-five installs a SIGINT handler that exits the process and
  // takes the service's own shutdown out of its hands. repl/debug: no stdin, no stdout.
  const board = new five.Board({ io, repl: false, debug: false, sigint: false });
  // An 'error' with no listener would throw from an EventEmitter; a later one means
  // the IO failed, which the guarded writes report.
  board.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`johnny-five board not ready after ${readyTimeoutMs} ms`)),
      readyTimeoutMs,
    );
    board.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
    board.once('error', (e: unknown) => {
      clearTimeout(timer);
      reject(e instanceof Error ? e : new Error(`johnny-five: ${String(e)}`));
    });
  });
  const leds = {} as Record<LedName, FiveLed>;
  for (const name of LED_NAMES) {
    leds[name] = new five.Led({ pin: profile.leds[name].pin, board: board as FiveBoard, id: name });
  }
  return new FiveLedDriver(where, io, leds);
}

function disabled(
  log: LedLogger,
  profile: BoardProfile | undefined,
  reason: string,
): OpenedLedBoard {
  log.warn(`LEDs disabled: ${reason}; the router keeps running without them`);
  return { driver: nullLedDriver, profile, virtual: undefined, failure: reason };
}
