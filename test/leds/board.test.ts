import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createLedIndicator, openLedBoard } from '../../src/leds/board.js';
import { ManualClock } from '../../src/leds/clock.js';
import {
  describeGpioFailure,
  findPiGpioChip,
  type GpioBackend,
  type OutputLines,
} from '../../src/leds/gpio-io.js';
import { OutputIo } from '../../src/leds/output-io.js';
import type { Level } from '../../src/leds/patterns.js';
import type { SessionEvent } from '../../src/ppp/events.js';
import { PIN, recordingLog } from './helpers.js';

const network: SessionEvent = { type: 'phase', phase: 'network', previous: 'authenticate' };

/** A GPIO backend that records line requests and writes, as the native addon would get them. */
function fakeGpio(options: { failOpen?: string; failSetAfter?: number } = {}) {
  const requests: { chip: string; offsets: readonly number[]; consumer: string }[] = [];
  const sets: [number, Level][] = [];
  let closed = 0;
  const backend: GpioBackend = {
    chipLabel: () => 'pinctrl-bcm2711',
    openLines(chip, offsets, consumer): OutputLines {
      if (options.failOpen !== undefined) {
        throw Object.assign(new Error(`${options.failOpen} (fake)`), {
          code: options.failOpen,
          syscall: 'ioctl',
        });
      }
      requests.push({ chip, offsets: [...offsets], consumer });
      return {
        set(offset, value) {
          if (options.failSetAfter !== undefined && sets.length >= options.failSetAfter) {
            throw Object.assign(new Error('Device or resource busy'), { code: 'EBUSY' });
          }
          sets.push([offset, value]);
        },
        close() {
          closed++;
        },
      };
    },
  };
  return { backend, requests, sets, closedCount: () => closed };
}

describe('openLedBoard with the rpi profile', () => {
  it('a missing GPIO chip gives one clear log line and an indicator that still takes events', async () => {
    const log = recordingLog();
    const chip = `/dev/gpiochip-missing-${process.pid}`;
    const { indicator, board } = await createLedIndicator({
      board: { profile: 'rpi', chip },
      log,
      clock: new ManualClock(),
    });
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).toMatch(/^warn LEDs disabled: .+; the router keeps running without them$/);
    // Either the chip is named (addon built) or the addon is (not built): both say why.
    expect(log.lines[0]).toMatch(/gpiochip-missing|native addon/);
    expect(board.failure).toBeDefined();
    expect(() => {
      indicator.start();
      indicator.onSessionEvent('vpn', 'c1', network);
      indicator.onLockout('peer');
      indicator.onConfigRefused();
      indicator.stop();
      indicator.close();
    }).not.toThrow();
    expect(indicator.state()).toMatchObject({ driver: 'none', sessions: { vpn: 1 } });
    expect(indicator.state().failure).toBe(board.failure);
    expect(log.lines).toHaveLength(1);
  });

  it('a busy pin is reported as busy, once', async () => {
    const log = recordingLog();
    const gpio = fakeGpio({ failOpen: 'EBUSY' });
    const board = await openLedBoard({ board: { profile: 'rpi' }, log, gpio: gpio.backend });
    expect(board.driver.description).toBe('none');
    expect(log.lines).toEqual([
      'warn LEDs disabled: GPIO pin busy on /dev/gpiochip0 (one of 17, 27, 22, 23 is held by another program or overlay; is branchlink already running?); the router keeps running without them',
    ]);
  });

  it('drives the requested lines through johnny-five Led components', async () => {
    const log = recordingLog();
    const clock = new ManualClock();
    const gpio = fakeGpio();
    const { indicator } = await createLedIndicator({
      board: { profile: 'rpi', chip: '/dev/gpiochip0', leds: { auth: 24 } },
      log,
      clock,
      gpio: gpio.backend,
    });
    expect(log.lines).toEqual([
      'info LEDs on rpi /dev/gpiochip0 (power=17 dialup=27 vpn=22 auth=24)',
    ]);
    expect(gpio.requests).toEqual([
      { chip: '/dev/gpiochip0', offsets: [17, 27, 22, 24], consumer: 'branchlink-leds' },
    ]);
    indicator.start();
    indicator.onSessionEvent('vpn', 'c1', network);
    clock.advance(1000);
    expect(gpio.sets).toEqual([
      [17, 1],
      [27, 0],
      [22, 0],
      [24, 0],
      [22, 1],
      [17, 0],
      [17, 1],
    ]);
    gpio.sets.length = 0;
    indicator.close();
    // stop() darkens each LED, the IO darkens every line once more, then releases them.
    expect(gpio.sets).toEqual([
      [17, 0],
      [27, 0],
      [22, 0],
      [24, 0],
      [17, 0],
      [22, 0],
      [24, 0],
      [27, 0],
    ]);
    expect(gpio.closedCount()).toBe(1);
  });

  it('a line that starts failing mid-run is logged once; events keep flowing', async () => {
    const log = recordingLog();
    const clock = new ManualClock();
    const gpio = fakeGpio({ failSetAfter: 6 });
    const { indicator } = await createLedIndicator({
      board: { profile: 'rpi', chip: '/dev/gpiochip0' },
      log,
      clock,
      gpio: gpio.backend,
    });
    indicator.start();
    expect(() => {
      for (let i = 0; i < 50; i++) {
        indicator.onSessionEvent('dialup', 's', {
          type: 'phase',
          phase: i % 2 === 0 ? 'establish' : 'authenticate',
          previous: 'dead',
        });
        clock.advance(300);
      }
    }).not.toThrow();
    const warnings = log.lines.filter((l) => l.startsWith('warn'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^warn LEDs disabled on rpi \/dev\/gpiochip0: writing the \w+ LED failed: Device or resource busy/,
    );
    expect(gpio.sets).toHaveLength(6);
    expect(gpio.closedCount()).toBe(1);
    expect(indicator.state().dialup).toBe('authenticate');
  });

  it('johnny-five throwing while the LEDs are set up disables them with one log line', async () => {
    const log = recordingLog();
    const spy = vi.spyOn(OutputIo.prototype, 'pinMode').mockImplementation(() => {
      throw new Error('Pin Error: 27 is not a valid OUTPUT pin (Led)');
    });
    try {
      const gpio = fakeGpio();
      const board = await openLedBoard({
        board: { profile: 'rpi', chip: '/dev/gpiochip0' },
        log,
        gpio: gpio.backend,
      });
      expect(board.driver.description).toBe('none');
      expect(log.lines).toEqual([
        'warn LEDs disabled: Pin Error: 27 is not a valid OUTPUT pin (Led); the router keeps running without them',
      ]);
      // The lines it had requested are released again.
      expect(gpio.closedCount()).toBe(1);
    } finally {
      spy.mockRestore();
    }
  });

  it('an invalid board config is one log line too', async () => {
    const log = recordingLog();
    const board = await openLedBoard({
      board: { profile: 'rpi', leds: { vpn: 17 } },
      log,
    });
    expect(board.driver.description).toBe('none');
    expect(log.lines).toEqual([
      'warn LEDs disabled: board.leds: power and vpn are both on pin 17; the router keeps running without them',
    ]);
  });
});

describe('johnny-five Board setup', () => {
  it('adds no SIGINT listener and prints nothing', async () => {
    const before = process.listenerCount('SIGINT');
    const out = vi.spyOn(console, 'log');
    try {
      const a = await openLedBoard({ log: recordingLog() });
      const b = await openLedBoard({
        board: { profile: 'rpi', chip: '/dev/gpiochip0' },
        log: recordingLog(),
        gpio: fakeGpio().backend,
      });
      a.driver.write('power', 1);
      b.driver.write('power', 1);
      expect(process.listenerCount('SIGINT')).toBe(before);
      expect(out).not.toHaveBeenCalled();
    } finally {
      out.mockRestore();
    }
  });

  it('each Led is bound to its own board, not the first one made', async () => {
    const first = await openLedBoard({ log: recordingLog() });
    const second = await openLedBoard({ log: recordingLog() });
    second.driver.write('vpn', 1);
    expect(first.virtual!.writes).toEqual([]);
    expect(second.virtual!.writes.map((w) => [w.pin, w.value])).toEqual([[PIN.vpn, 1]]);
  });
});

describe('findPiGpioChip', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bl-leds-dev-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  for (const name of ['gpiochip0', 'gpiochip1', 'gpiochip10', 'gpiochip4', 'ttyS0']) {
    writeFileSync(path.join(dir, name), '');
  }
  const labels = (map: Record<string, string>) => (chip: string) => {
    const label = map[path.basename(chip)];
    if (label === undefined) throw Object.assign(new Error('not a chip'), { code: 'ENOTTY' });
    return label;
  };

  it('picks the RP1 chip on a Pi 5', async () => {
    const chip = await findPiGpioChip(
      labels({ gpiochip0: 'gpio-brcmstb@107d508500', gpiochip4: 'pinctrl-rp1' }),
      dir,
    );
    expect(chip).toBe(path.join(dir, 'gpiochip4'));
  });

  it('picks the SoC controller on a Pi 4, not the firmware expander', async () => {
    const chip = await findPiGpioChip(
      labels({ gpiochip0: 'raspberrypi-exp-gpio', gpiochip1: 'pinctrl-bcm2711' }),
      dir,
    );
    expect(chip).toBe(path.join(dir, 'gpiochip1'));
  });

  it('falls back to gpiochip0 when no label is known or there is no /dev', async () => {
    expect(await findPiGpioChip(labels({}), dir)).toBe(path.join(dir, 'gpiochip0'));
    const missing = path.join(dir, 'nope');
    expect(await findPiGpioChip(labels({}), missing)).toBe(path.join(missing, 'gpiochip0'));
  });
});

describe('describeGpioFailure', () => {
  it.each([
    ['ENOENT', /no GPIO chip \/dev\/gpiochip0 .*virtual/],
    ['EBUSY', /busy.*already running/],
    ['EACCES', /permission.*gpio group/],
    ['EPERM', /permission/],
    ['EINVAL', /refused pins 17, 27/],
    ['EIO', /cannot open GPIO \/dev\/gpiochip0 pins 17, 27: boom/],
  ])('%s becomes an actionable sentence', (code, pattern) => {
    const e = Object.assign(new Error('boom'), { code });
    expect(describeGpioFailure(e, '/dev/gpiochip0', [17, 27])).toMatch(pattern);
  });
});
