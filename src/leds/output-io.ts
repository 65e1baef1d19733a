/**
 * The shape of a johnny-five IO plugin, reduced to what LEDs need: digital outputs on
 * a fixed set of pins. The virtual recorder and the Pi GPIO plugin fill in `writePin`.
 * Pins are numbered as the board numbers them (BCM numbers on a Raspberry Pi).
 */
import { EventEmitter } from 'node:events';
import type { Level } from './patterns.js';

const MODES = { INPUT: 0, OUTPUT: 1, ANALOG: 2, PWM: 3, SERVO: 4 } as const;

export interface IoPin {
  supportedModes: number[];
  mode: number | undefined;
  value: number;
  report: number;
  analogChannel: number;
}

export abstract class OutputIo extends EventEmitter {
  /** johnny-five reads these fields directly. */
  readonly MODES = MODES;
  readonly HIGH = 1;
  readonly LOW = 0;
  readonly pins: IoPin[];
  readonly analogPins: number[] = [];
  readonly defaultLed: number;
  isReady = true;

  /** `outputs`: the pins this plugin may drive; every other pin supports no mode. */
  constructor(
    readonly name: string,
    outputs: readonly number[],
  ) {
    super();
    const size = Math.max(0, ...outputs) + 1;
    this.pins = Array.from({ length: size }, (_, pin) => ({
      supportedModes: outputs.includes(pin) ? [MODES.OUTPUT] : [],
      mode: undefined,
      value: 0,
      report: 0,
      analogChannel: 127,
    }));
    this.defaultLed = outputs[0] ?? 0;
  }

  pinMode(pin: number, mode: number): this {
    const p = this.pins[pin];
    if (p === undefined || !p.supportedModes.includes(mode)) {
      throw new Error(`pin ${pin} is not an LED output of this board`);
    }
    p.mode = mode;
    return this;
  }

  digitalWrite(pin: number, value: number): this {
    const p = this.pins[pin];
    if (p === undefined || p.mode !== MODES.OUTPUT) {
      throw new Error(`pin ${pin} is not set up as an output`);
    }
    const level: Level = value ? 1 : 0;
    this.writePin(pin, level);
    p.value = level;
    return this;
  }

  /** Release the hardware; the LEDs are left dark where the hardware allows. */
  abstract close(): void;

  protected abstract writePin(pin: number, level: Level): void;
}
