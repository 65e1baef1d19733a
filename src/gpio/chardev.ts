/**
 * GPIO outputs through the Linux GPIO character device (/dev/gpiochipN, v2 uAPI),
 * via branchlink's native addon: no libgpiod and no sysfs GPIO (deprecated, absent
 * from Debian's arm64 kernel). Built for LEDs: a handful of lines requested once
 * as outputs, set many times, released on exit.
 *
 * Lines are addressed by their offset on the chip, which on a Raspberry Pi's
 * gpiochip0 is the BCM GPIO number.
 */
import {
  explainGpioError,
  type GpioChipInfo,
  type GpioDriveCode,
  type GpioLineInfo,
  type NativeAddon,
  NativeError,
  native,
} from '../net/native.js';

export type { GpioChipInfo, GpioLineInfo } from '../net/native.js';

export type GpioDrive = 'push-pull' | 'open-drain' | 'open-source';

const DRIVE_CODES: Readonly<Record<GpioDrive, GpioDriveCode>> = {
  'push-pull': 0,
  'open-drain': 1,
  'open-source': 2,
};

export interface GpioOutputOptions {
  /** Chip number (0 → /dev/gpiochip0) or device path. */
  readonly chip: number | string;
  /** Line offsets to request (1–64, distinct). */
  readonly offsets: readonly number[];
  /** Consumer label shown by gpioinfo; default "branchlink" (at most 31 bytes). */
  readonly consumer?: string;
  /** Initial level per offset (same order); default all off. */
  readonly initial?: readonly boolean[];
  /** true: "on" drives the pin low (LED wired to 3.3 V). */
  readonly activeLow?: boolean;
  readonly drive?: GpioDrive;
  /** The addon to use (tests); default the built one. */
  readonly addon?: NativeAddon;
}

/** "/dev/gpiochipN" for a number; a string is taken as a path. */
export function gpioChipPath(chip: number | string): string {
  if (typeof chip === 'string') return chip;
  if (!Number.isInteger(chip) || chip < 0) {
    throw new RangeError(`GPIO chip number must be a non-negative integer, got ${chip}`);
  }
  return `/dev/gpiochip${chip}`;
}

/** Name, label and line count of a chip. Throws NativeError (ENOENT, EACCES, ENOTTY, …). */
export function gpioChipInfo(chip: number | string, addon: NativeAddon = native()): GpioChipInfo {
  const path = gpioChipPath(chip);
  try {
    return addon.gpioChipInfo(path);
  } catch (error) {
    throw explainGpioError(error, path, 'read chip info');
  }
}

/** Name, consumer and state of one line (e.g. to name who holds a busy pin). */
export function gpioLineInfo(
  chip: number | string,
  offset: number,
  addon: NativeAddon = native(),
): GpioLineInfo {
  const path = gpioChipPath(chip);
  try {
    return addon.gpioLineInfo(path, offset);
  } catch (error) {
    throw explainGpioError(error, path, `read line ${offset} info`);
  }
}

/** A set of GPIO lines held as outputs until `release()`. */
export class GpioOutputs {
  readonly chipPath: string;
  readonly offsets: readonly number[];
  private readonly addon: NativeAddon;
  private readonly index: ReadonlyMap<number, number>;
  private fd: number;

  private constructor(
    addon: NativeAddon,
    chipPath: string,
    offsets: readonly number[],
    fd: number,
  ) {
    this.addon = addon;
    this.chipPath = chipPath;
    this.offsets = offsets;
    this.index = new Map(offsets.map((offset, i) => [offset, i]));
    this.fd = fd;
  }

  /**
   * Requests the lines as outputs with their initial levels. Throws NativeError:
   * ENOENT (no such chip), EACCES (permission), EBUSY (a line is held by another
   * consumer), EINVAL (offset out of range).
   */
  static request(options: GpioOutputOptions): GpioOutputs {
    const path = gpioChipPath(options.chip);
    const offsets = [...options.offsets];
    if (offsets.length === 0 || offsets.length > 64) {
      throw new RangeError(`request 1 to 64 GPIO lines, got ${offsets.length}`);
    }
    if (new Set(offsets).size !== offsets.length) {
      throw new RangeError(`GPIO line offsets must be distinct: ${offsets.join(', ')}`);
    }
    for (const offset of offsets) {
      if (!Number.isInteger(offset) || offset < 0 || offset > 0xffffffff) {
        throw new RangeError(`GPIO line offset must be a non-negative integer, got ${offset}`);
      }
    }
    const initial = options.initial ?? offsets.map(() => false);
    if (initial.length !== offsets.length) {
      throw new RangeError('GPIO initial levels must have one entry per offset');
    }
    const consumer = options.consumer ?? 'branchlink';
    if (Buffer.byteLength(consumer) > 31) {
      throw new RangeError(`GPIO consumer label '${consumer}' is longer than 31 bytes`);
    }
    const addon = options.addon ?? native();
    let fd: number;
    try {
      fd = addon.gpioRequestOutputs(
        path,
        offsets,
        consumer,
        initial.map((on) => (on ? 1 : 0)),
        options.activeLow ?? false,
        DRIVE_CODES[options.drive ?? 'push-pull'],
      );
    } catch (error) {
      throw explainGpioError(error, path, `request lines ${offsets.join(', ')} as outputs`);
    }
    return new GpioOutputs(addon, path, offsets, fd);
  }

  get released(): boolean {
    return this.fd < 0;
  }

  /** Sets one line (by chip offset) on or off. */
  set(offset: number, on: boolean): void {
    this.setMany(new Map([[offset, on]]));
  }

  /** Sets several lines in one ioctl; lines not named keep their level. */
  setMany(levels: ReadonlyMap<number, boolean>): void {
    const fd = this.requireFd('set GPIO lines');
    const values = this.offsets.map(() => -1);
    for (const [offset, on] of levels) {
      const i = this.index.get(offset);
      if (i === undefined) {
        throw new RangeError(`GPIO line ${offset} is not among the requested lines`);
      }
      values[i] = on ? 1 : 0;
    }
    try {
      this.addon.gpioSetValues(fd, values);
    } catch (error) {
      throw explainGpioError(error, this.chipPath, 'set GPIO lines');
    }
  }

  /** Current logical levels (after active-low inversion), by offset. */
  get(): Map<number, boolean> {
    const fd = this.requireFd('read GPIO lines');
    let values: number[];
    try {
      values = this.addon.gpioGetValues(fd, this.offsets.length);
    } catch (error) {
      throw explainGpioError(error, this.chipPath, 'read GPIO lines');
    }
    return new Map(this.offsets.map((offset, i) => [offset, values[i] === 1]));
  }

  /** Gives the lines back to the kernel (they keep their last level). Idempotent. */
  release(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    try {
      this.addon.closeFd(fd);
    } catch {
      // Released either way.
    }
  }

  private requireFd(action: string): number {
    if (this.fd < 0) {
      throw new NativeError(
        'ERR_BRANCHLINK_GPIO_RELEASED',
        `cannot ${action}: lines were released`,
      );
    }
    return this.fd;
  }
}
