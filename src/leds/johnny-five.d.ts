/**
 * The part of johnny-five 2.1.0 that branchlink uses (the package ships no types).
 * In ESM only the default import works: `import five from 'johnny-five'`.
 */
declare module 'johnny-five' {
  import type { EventEmitter } from 'node:events';

  export interface BoardOptions {
    /** An IO plugin instance; without one johnny-five scans serial ports for Firmata. */
    io: EventEmitter;
    id?: string;
    /** Default true: starts a REPL on stdin. */
    repl?: boolean;
    /** Default true: logs to stdout with console.log. */
    debug?: boolean;
    /** Default true: adds a process SIGINT listener that exits the process. */
    sigint?: boolean;
  }

  export class Board extends EventEmitter {
    constructor(options: BoardOptions);
    readonly isReady: boolean;
    readonly id: string;
  }

  export interface LedOptions {
    pin: number;
    /** Always pass it: without it a component attaches to the first Board ever made. */
    board: Board;
    id?: string;
  }

  export class Led {
    constructor(options: LedOptions);
    on(): this;
    off(): this;
    stop(): this;
    readonly isOn: boolean;
    readonly pin: number;
  }

  const five: { Board: typeof Board; Led: typeof Led };
  export default five;
}
