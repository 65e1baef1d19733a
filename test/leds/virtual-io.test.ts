import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/leds/clock.js';
import { VirtualIo, type VirtualLed } from '../../src/leds/virtual-io.js';

const LEDS: VirtualLed[] = [
  { name: 'power', pin: 17, colour: 'green' },
  { name: 'vpn', pin: 22, colour: 'blue' },
];

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, isTTY, write: (t: string) => chunks.push(t) };
}

describe('VirtualIo', () => {
  it('records each write with the clock time', () => {
    const clock = new ManualClock(500);
    const io = new VirtualIo(LEDS, clock);
    io.pinMode(17, io.MODES.OUTPUT).pinMode(22, io.MODES.OUTPUT);
    io.digitalWrite(17, 1);
    clock.advance(250);
    io.digitalWrite(22, 1);
    io.digitalWrite(17, 0);
    expect(io.writes).toEqual([
      { at: 500, pin: 17, value: 1 },
      { at: 750, pin: 22, value: 1 },
      { at: 750, pin: 17, value: 0 },
    ]);
  });

  it('refuses pins that are not LED outputs, like a board would', () => {
    const io = new VirtualIo(LEDS, new ManualClock());
    expect(() => io.pinMode(5, io.MODES.OUTPUT)).toThrow(/pin 5 is not an LED output/);
    expect(() => io.pinMode(17, io.MODES.PWM)).toThrow();
    expect(() => io.digitalWrite(22, 1)).toThrow(/not set up as an output/);
  });

  it('keeps a bounded history', () => {
    const io = new VirtualIo(LEDS, new ManualClock(), undefined, 100);
    io.pinMode(17, io.MODES.OUTPUT);
    for (let i = 0; i < 1000; i++) io.digitalWrite(17, i % 2);
    expect(io.writes).toHaveLength(100);
    expect(io.writes.at(-1)).toMatchObject({ value: 1 });
  });

  it('redraws the LED row in place on a TTY, with coloured dots and names', () => {
    const out = sink(true);
    const io = new VirtualIo(LEDS, new ManualClock(), out);
    io.pinMode(17, io.MODES.OUTPUT).pinMode(22, io.MODES.OUTPUT);
    io.digitalWrite(22, 1);
    expect(out.chunks).toEqual(['\r\x1b[2K  \x1b[90m○\x1b[0m power   \x1b[34m●\x1b[0m vpn']);
    io.close();
    expect(out.chunks.at(-1)).toBe('\n');
  });

  it('logs one plain line per change when not on a TTY', () => {
    const out = sink(false);
    const clock = new ManualClock(1234);
    const io = new VirtualIo(LEDS, clock, out);
    io.pinMode(17, io.MODES.OUTPUT);
    io.digitalWrite(17, 1);
    expect(out.chunks).toEqual(['leds 1.234s power -> power=on vpn=off\n']);
  });
});
