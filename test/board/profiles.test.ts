import { describe, expect, it } from 'vitest';
import {
  BOARD_PROFILES,
  type BoardConfig,
  boardConfigSchema,
  resolveBoard,
} from '../../board/profiles.js';

describe('board profiles', () => {
  it('the Pi defaults are BCM 17, 27, 22, 23 for power, dialup, vpn, auth', () => {
    const leds = BOARD_PROFILES.rpi.leds;
    expect([leds.power.pin, leds.dialup.pin, leds.vpn.pin, leds.auth.pin]).toEqual([
      17, 27, 22, 23,
    ]);
    expect(BOARD_PROFILES.rpi.io).toBe('gpio-cdev');
    expect(BOARD_PROFILES.virtual.io).toBe('virtual');
  });

  it('defaults to the virtual profile', () => {
    const r = resolveBoard();
    expect(r.ok && r.value.name).toBe('virtual');
  });

  it('applies pin and chip overrides from the config', () => {
    const r = resolveBoard({ profile: 'rpi', chip: '/dev/gpiochip4', leds: { vpn: 5, auth: 6 } });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.chip).toBe('/dev/gpiochip4');
    expect(r.value.leds.vpn).toEqual({ pin: 5, colour: 'blue' });
    expect(r.value.leds.auth.pin).toBe(6);
    expect(r.value.leds.power.pin).toBe(17);
    // The table itself is untouched.
    expect(BOARD_PROFILES.rpi.leds.vpn.pin).toBe(22);
  });

  it('accepts the board section as the daemon config parses it', () => {
    const r = resolveBoard({
      profile: 'rpi',
      chip: '/dev/gpiochip0',
      leds: { power: 17, dialup: 27, vpn: 22, auth: 23 },
      render: false,
    });
    expect(r.ok && r.value.chip).toBe('/dev/gpiochip0');
    const auto = resolveBoard({ profile: 'rpi', chip: 'auto' });
    expect(auto.ok && auto.value.chip).toBe('auto');
  });

  it('refuses two LEDs on one pin, pins off the header and unknown keys', () => {
    expect(resolveBoard({ profile: 'rpi', leds: { dialup: 17 } })).toEqual({
      ok: false,
      reason: 'board.leds: power and dialup are both on pin 17',
    });
    expect(resolveBoard({ profile: 'rpi', leds: { power: 40 } }).ok).toBe(false);
    expect(resolveBoard({ profile: 'rpi', leds: { power: 1.5 } }).ok).toBe(false);
    expect(boardConfigSchema.safeParse({ profile: 'rpi', leds: { lamp: 3 } }).success).toBe(false);
    expect(boardConfigSchema.safeParse({ profile: 'arduino' }).success).toBe(false);
  });
});

describe('board profiles and the daemon config', () => {
  it("the daemon config's board section is accepted as it is", async () => {
    const { ConfigFileSchema } = await import('../../src/daemon/config.js');
    const parsed = ConfigFileSchema.parse({ board: { profile: 'rpi', leds: { vpn: 5 } } });
    const board: BoardConfig = parsed.board;
    const r = resolveBoard(board);
    expect(r.ok && r.value.leds.vpn.pin).toBe(5);
  });
});
