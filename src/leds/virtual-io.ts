/**
 * The `virtual` board: a johnny-five IO plugin that records every pin write with a
 * timestamp from the injected clock, and can show the LED row live in a terminal so
 * the demo gives the same glance a technician gets on the Pi.
 */
import type { Clock } from './clock.js';
import { OutputIo } from './output-io.js';
import type { Level } from './patterns.js';

export interface PinWrite {
  /** Clock time of the write, ms. */
  readonly at: number;
  readonly pin: number;
  readonly value: Level;
}

export interface VirtualLed {
  readonly name: string;
  readonly pin: number;
  /** ANSI colour of the lit dot. */
  readonly colour: 'green' | 'yellow' | 'blue' | 'red';
}

export interface RenderStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

const ANSI = { green: 32, yellow: 33, blue: 34, red: 31 } as const;
/** Enough for minutes of heartbeat history; older writes are dropped (bounded memory). */
const DEFAULT_KEEP = 10_000;

export class VirtualIo extends OutputIo {
  private readonly log: PinWrite[] = [];
  private readonly levels = new Map<number, Level>();

  constructor(
    readonly leds: readonly VirtualLed[],
    private readonly clock: Clock,
    private readonly render?: RenderStream,
    private readonly keep = DEFAULT_KEEP,
  ) {
    super(
      'Virtual',
      leds.map((l) => l.pin),
    );
  }

  /** Every recorded write, oldest first. */
  get writes(): readonly PinWrite[] {
    return this.log;
  }

  clearWrites(): void {
    this.log.length = 0;
  }

  close(): void {
    if (this.render?.isTTY) this.render.write('\n');
  }

  protected writePin(pin: number, value: Level): void {
    this.log.push({ at: this.clock.now(), pin, value });
    if (this.log.length > this.keep) this.log.splice(0, this.log.length - this.keep);
    this.levels.set(pin, value);
    if (this.render !== undefined) this.draw(this.render, pin);
  }

  /** On a TTY the row is redrawn in place; otherwise one plain line per change. */
  private draw(out: RenderStream, pin: number): void {
    if (out.isTTY) {
      const row = this.leds.map((l) => {
        const lit = this.levels.get(l.pin) === 1;
        const dot = lit ? `\x1b[${ANSI[l.colour]}m●\x1b[0m` : '\x1b[90m○\x1b[0m';
        return `${dot} ${l.name}`;
      });
      out.write(`\r\x1b[2K  ${row.join('   ')}`);
      return;
    }
    const led = this.leds.find((l) => l.pin === pin);
    const row = this.leds.map((l) => `${l.name}=${this.levels.get(l.pin) === 1 ? 'on' : 'off'}`);
    const secs = (this.clock.now() / 1000).toFixed(3);
    out.write(`leds ${secs}s ${led?.name ?? `pin${pin}`} -> ${row.join(' ')}\n`);
  }
}
