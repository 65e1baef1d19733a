/**
 * The Raspberry Pi LED backend: a johnny-five IO plugin on the Linux GPIO character
 * device (GPIO uAPI v2, /dev/gpiochipN), through the native addon (src/net/native.ts).
 * Loaded lazily, only for the `rpi` profile, so nothing here runs off a Pi.
 *
 * Why the LEDs go dark when the service dies: the lines are requested through a file
 * descriptor; when the process exits (even by SIGKILL) the kernel closes it and frees
 * the lines. Debian's kernel (mainline pinctrl-bcm2835) then returns a freed pin to
 * input, and an LED wired from the pin to GND through a resistor goes dark. A dead
 * service therefore shows no heartbeat and no link LEDs.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { OutputIo } from './output-io.js';
import type { Level } from './patterns.js';

/** Output lines requested on one chip; `offset` is the line number (BCM number on a Pi). */
export interface OutputLines {
  set(offset: number, value: Level): void;
  /** Release the lines (the kernel also does it when the process exits). */
  close(): void;
}

export type OpenOutputLines = (
  chip: string,
  offsets: readonly number[],
  consumer: string,
) => OutputLines;

/** The label of a GPIO chip (GPIO_GET_CHIPINFO_IOCTL), e.g. "pinctrl-bcm2711". */
export type ChipLabel = (chip: string) => string;

export interface GpioBackend {
  readonly openLines: OpenOutputLines;
  readonly chipLabel: ChipLabel;
}

/** The GPIO functions of the native addon (src/net/native.ts), loaded on first use. */
export async function loadNativeGpio(): Promise<GpioBackend> {
  const { native } = await import('../net/native.js');
  const addon = native();
  const openLines: OpenOutputLines = (chip, offsets, consumer) => {
    // Push-pull outputs, active high, all initially low (LED dark).
    const fd = addon.gpioRequestOutputs(
      chip,
      offsets,
      consumer,
      offsets.map(() => 0),
      false,
      0,
    );
    let open = true;
    return {
      set(offset, value) {
        const index = offsets.indexOf(offset);
        if (index < 0) throw new Error(`GPIO line ${offset} was not requested`);
        // -1 leaves the other requested lines as they are.
        addon.gpioSetValues(
          fd,
          offsets.map((_, i) => (i === index ? value : -1)),
        );
      },
      close() {
        if (!open) return;
        open = false;
        addon.closeFd(fd);
      },
    };
  };
  return { openLines, chipLabel: (chip) => addon.gpioChipInfo(chip).label };
}

export class GpioIo extends OutputIo {
  private closed = false;

  constructor(
    private readonly lines: OutputLines,
    readonly chip: string,
    pins: readonly number[],
  ) {
    super('Linux GPIO', pins);
  }

  /** Request the LED pins as outputs, initially low. Throws a readable error. */
  static open(
    openLines: OpenOutputLines,
    chip: string,
    pins: readonly number[],
    consumer = 'branchlink-leds',
  ): GpioIo {
    try {
      return new GpioIo(openLines(chip, pins, consumer), chip, pins);
    } catch (e) {
      throw new Error(describeGpioFailure(e, chip, pins));
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Dark first, then release: on an orderly stop the LEDs do not depend on what the
    // pin does once freed.
    for (const [pin, p] of this.pins.entries()) {
      if (p.mode === this.MODES.OUTPUT) {
        try {
          this.lines.set(pin, 0);
        } catch {
          // The release below still frees the line.
        }
      }
    }
    this.lines.close();
  }

  protected writePin(pin: number, level: Level): void {
    if (this.closed) return;
    this.lines.set(pin, level);
  }
}

/** One sentence a technician can act on. */
export function describeGpioFailure(e: unknown, chip: string, pins: readonly number[]): string {
  const code = (e as { code?: unknown } | null)?.code;
  const message = e instanceof Error ? e.message : String(e);
  switch (code) {
    case 'ENOENT':
      return `no GPIO chip ${chip} (not a Raspberry Pi? use board.profile "virtual")`;
    case 'EBUSY':
      return `GPIO pin busy on ${chip} (one of ${pins.join(', ')} is held by another program or overlay; is branchlink already running?)`;
    case 'EACCES':
    case 'EPERM':
      return `no permission to open ${chip} (run as root or give the service user the gpio group)`;
    case 'EINVAL':
      return `GPIO chip ${chip} refused pins ${pins.join(', ')} (${message})`;
    default:
      return `cannot open GPIO ${chip} pins ${pins.join(', ')}: ${message}`;
  }
}

/**
 * The chip that carries the Pi's header GPIOs, found by its label: RP1 on a Pi 5
 * ("pinctrl-rp1"), the SoC controller on a Pi 4/3 ("pinctrl-bcm2711"/"-bcm2835").
 * Falls back to /dev/gpiochip0, the header chip of a Pi 3/4.
 */
export async function findPiGpioChip(chipLabel: ChipLabel, devRoot = '/dev'): Promise<string> {
  const fallback = path.join(devRoot, 'gpiochip0');
  let names: string[];
  try {
    names = (await readdir(devRoot)).filter((n) => /^gpiochip\d+$/.test(n));
  } catch {
    return fallback;
  }
  const rank = (label: string): number | undefined =>
    /rp1/i.test(label) ? 0 : /bcm2711|bcm2835/i.test(label) ? 1 : undefined;
  let best: { chip: string; rank: number } | undefined;
  for (const name of names.sort((a, b) => Number(a.slice(8)) - Number(b.slice(8)))) {
    const chip = path.join(devRoot, name);
    let r: number | undefined;
    try {
      r = rank(chipLabel(chip));
    } catch {
      continue;
    }
    if (r !== undefined && (best === undefined || r < best.rank)) best = { chip, rank: r };
  }
  return best?.chip ?? fallback;
}
