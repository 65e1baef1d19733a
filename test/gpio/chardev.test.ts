import { describe, expect, it } from 'vitest';
import { GpioOutputs, gpioChipInfo, gpioChipPath, gpioLineInfo } from '../../src/gpio/chardev.js';
import { type NativeAddon, NativeError, native } from '../../src/net/native.js';

/** A simulated GPIO chip behind the addon's GPIO calls (there is no GPIO hardware here). */
function simulatedChip(lines: number) {
  const levels = new Array<number>(lines).fill(0);
  const calls: unknown[][] = [];
  let requested: readonly number[] = [];
  const addon: NativeAddon = {
    ...native(),
    gpioRequestOutputs(path, offsets, consumer, initial, activeLow, drive) {
      calls.push(['request', path, [...offsets], consumer, [...initial], activeLow, drive]);
      if (offsets.some((o) => o >= lines)) {
        throw Object.assign(new Error('EINVAL: invalid argument, ioctl'), {
          code: 'EINVAL',
          errno: -22,
          syscall: 'ioctl GPIO_V2_GET_LINE',
        });
      }
      requested = offsets;
      offsets.forEach((o, i) => {
        levels[o] = initial[i]!;
      });
      return 42;
    },
    gpioSetValues(fd, values) {
      calls.push(['set', fd, [...values]]);
      values.forEach((v, i) => {
        if (v >= 0) levels[requested[i]!] = v;
      });
    },
    gpioGetValues(fd, count) {
      calls.push(['get', fd, count]);
      return requested.slice(0, count).map((o) => levels[o]!);
    },
    closeFd(fd) {
      calls.push(['close', fd]);
    },
  };
  return { addon, levels, calls };
}

describe('GpioOutputs over a simulated chip', () => {
  it('requests the lines as outputs with their initial levels and options', () => {
    const chip = simulatedChip(54);
    GpioOutputs.request({
      chip: 0,
      offsets: [17, 27, 22],
      initial: [true, false, true],
      activeLow: true,
      drive: 'open-drain',
      addon: chip.addon,
    });
    expect(chip.calls[0]).toEqual([
      'request',
      '/dev/gpiochip0',
      [17, 27, 22],
      'branchlink',
      [1, 0, 1],
      true,
      1,
    ]);
    expect(chip.levels[17]).toBe(1);
    expect(chip.levels[22]).toBe(1);
  });

  it('sets one line by its offset and leaves the others unchanged', () => {
    const chip = simulatedChip(54);
    const out = GpioOutputs.request({ chip: 0, offsets: [17, 27, 22], addon: chip.addon });
    out.set(27, true);
    expect(chip.calls.at(-1)).toEqual(['set', 42, [-1, 1, -1]]);
    out.setMany(
      new Map([
        [17, true],
        [27, false],
      ]),
    );
    expect(chip.calls.at(-1)).toEqual(['set', 42, [1, 0, -1]]);
    expect(out.get()).toEqual(
      new Map([
        [17, true],
        [27, false],
        [22, false],
      ]),
    );
  });

  it('refuses a line that was not requested, and any use after release', () => {
    const chip = simulatedChip(54);
    const out = GpioOutputs.request({ chip: '/dev/gpiochip1', offsets: [5], addon: chip.addon });
    expect(() => out.set(6, true)).toThrow(/not among the requested lines/);
    out.release();
    out.release();
    expect(chip.calls.filter((c) => c[0] === 'close')).toEqual([['close', 42]]);
    expect(out.released).toBe(true);
    expect(() => out.set(5, true)).toThrow(
      expect.objectContaining({ code: 'ERR_BRANCHLINK_GPIO_RELEASED' }),
    );
  });

  it('explains an out-of-range offset reported by the kernel', () => {
    const chip = simulatedChip(8);
    expect(() => GpioOutputs.request({ chip: 0, offsets: [9], addon: chip.addon })).toThrow(
      /line offset is out of range/,
    );
  });

  it('validates the request before any system call', () => {
    const chip = simulatedChip(54);
    expect(() => GpioOutputs.request({ chip: 0, offsets: [], addon: chip.addon })).toThrow(
      RangeError,
    );
    expect(() => GpioOutputs.request({ chip: 0, offsets: [1, 1], addon: chip.addon })).toThrow(
      /distinct/,
    );
    expect(() =>
      GpioOutputs.request({ chip: 0, offsets: [1], initial: [], addon: chip.addon }),
    ).toThrow(/one entry per offset/);
    expect(() =>
      GpioOutputs.request({ chip: 0, offsets: [1], consumer: 'c'.repeat(32), addon: chip.addon }),
    ).toThrow(/longer than 31 bytes/);
    expect(() => gpioChipPath(-1)).toThrow(RangeError);
    expect(chip.calls).toEqual([]);
  });
});

describe('GPIO through the real addon on a machine without that chip', () => {
  it('explains a missing chip', () => {
    expect(() => GpioOutputs.request({ chip: 999, offsets: [17] })).toThrow(NativeError);
    expect(() => GpioOutputs.request({ chip: 999, offsets: [17] })).toThrow(
      'cannot request lines 17 as outputs: /dev/gpiochip999 does not exist — no GPIO character device',
    );
    expect(() => gpioChipInfo(999)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => gpioLineInfo(999, 0)).toThrow(/does not exist/);
  });

  it('explains a device that is not a GPIO chip', () => {
    expect(() => gpioChipInfo('/dev/null')).toThrow(
      'cannot read chip info: /dev/null is not a GPIO chip',
    );
    expect(() => GpioOutputs.request({ chip: '/dev/null', offsets: [1, 2] })).toThrow(
      expect.objectContaining({ code: 'ENOTTY' }),
    );
  });

  it('reports a set on a fd that is not a line request as a system error', () => {
    expect(() => native().gpioSetValues(-1, [1])).toThrow(
      expect.objectContaining({ code: 'EBADF' }),
    );
  });
});
