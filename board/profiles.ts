/**
 * Board profiles as data: which pin each LED sits on and which johnny-five IO plugin
 * drives them. Technicians move LEDs in the config (`board.leds`), not here.
 */
import { z } from 'zod';
import type { LedName } from '../src/leds/patterns.js';

export type BoardProfileName = 'rpi' | 'virtual';
export type LedColour = 'green' | 'yellow' | 'blue' | 'red';

export interface LedWiring {
  /** BCM GPIO number on a Raspberry Pi (the Linux GPIO line offset on its chip). */
  readonly pin: number;
  readonly colour: LedColour;
}

export interface BoardProfile {
  readonly name: BoardProfileName;
  readonly description: string;
  /** `gpio-cdev`: Linux GPIO character device (Pi); `virtual`: the recording plugin. */
  readonly io: 'gpio-cdev' | 'virtual';
  /** GPIO chip device; `auto` finds the Pi's header chip by its label. */
  readonly chip: string;
  readonly leds: Readonly<Record<LedName, LedWiring>>;
}

/**
 * Raspberry Pi 3/4/5 defaults (BCM numbering), all on the 40-pin header next to a GND:
 * power BCM17 = header pin 11, dialup BCM27 = pin 13, vpn BCM22 = pin 15,
 * auth BCM23 = pin 16; GND on pins 9, 14, 20, 25. BCM 17/22/23/27 are plain GPIOs
 * (no I2C/SPI/UART function in the default device tree) and are pulled down at reset,
 * so an LED on them is dark until the service drives it.
 */
const PI_LEDS: Readonly<Record<LedName, LedWiring>> = {
  power: { pin: 17, colour: 'green' },
  dialup: { pin: 27, colour: 'yellow' },
  vpn: { pin: 22, colour: 'blue' },
  auth: { pin: 23, colour: 'red' },
};

export const BOARD_PROFILES: Readonly<Record<BoardProfileName, BoardProfile>> = {
  rpi: {
    name: 'rpi',
    description: 'Raspberry Pi 3/4/5, LEDs on the GPIO header (Linux GPIO character device)',
    io: 'gpio-cdev',
    chip: 'auto',
    leds: PI_LEDS,
  },
  virtual: {
    name: 'virtual',
    description: 'no hardware: pin writes are recorded and can be shown in the terminal',
    io: 'virtual',
    chip: 'none',
    // Same numbers as the Pi so a demo's pin log reads like the device's.
    leds: PI_LEDS,
  },
};

/** GPIO numbers on the Pi's 40-pin header. */
const pinSchema = z.number().int().min(0).max(27);

/**
 * The config's `board` section (src/daemon/config.ts validates the file; its output
 * fits this input). `chip` may be a device path or `auto`.
 */
export const boardConfigSchema = z
  .object({
    profile: z.enum(['rpi', 'virtual']).default('virtual'),
    /** e.g. `/dev/gpiochip0`; default `auto`. */
    chip: z.string().min(1).optional(),
    leds: z
      .object({
        power: pinSchema.optional(),
        dialup: pinSchema.optional(),
        vpn: pinSchema.optional(),
        auth: pinSchema.optional(),
      })
      .strict()
      .optional(),
    /** Virtual board: draw the LED row in the terminal (the service picks the stream). */
    render: z.boolean().optional(),
  })
  .strict();

export type BoardConfig = z.input<typeof boardConfigSchema>;

/**
 * The profile with the config's pin and chip overrides applied. Two LEDs on one pin
 * is a config error (the technician would see one LED do two jobs).
 */
export function resolveBoard(
  config: BoardConfig = {},
): { ok: true; value: BoardProfile } | { ok: false; reason: string } {
  const parsed = boardConfigSchema.safeParse(config);
  if (!parsed.success) {
    return { ok: false, reason: `board: ${parsed.error.issues.map((i) => i.message).join('; ')}` };
  }
  const base = BOARD_PROFILES[parsed.data.profile];
  const overrides = parsed.data.leds ?? {};
  const leds = { ...base.leds };
  for (const name of Object.keys(leds) as LedName[]) {
    const pin = overrides[name];
    if (pin !== undefined) leds[name] = { ...leds[name], pin };
  }
  const byPin = new Map<number, LedName>();
  for (const [name, wiring] of Object.entries(leds) as [LedName, LedWiring][]) {
    const other = byPin.get(wiring.pin);
    if (other !== undefined) {
      return {
        ok: false,
        reason: `board.leds: ${other} and ${name} are both on pin ${wiring.pin}`,
      };
    }
    byPin.set(wiring.pin, name);
  }
  return { ok: true, value: { ...base, chip: parsed.data.chip ?? base.chip, leds } };
}
