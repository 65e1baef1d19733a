/**
 * The dial-up link: a modem on a serial port, driven through `serialport`.
 *
 * `openSerialLink` opens the device, runs the AT engine (dial or answer) to CONNECT and
 * returns a PppLink whose data path is RFC 1662 async HDLC. The link reports down once,
 * on carrier loss (NO CARRIER in the stream, DCD falling where the port reports it), on
 * a port error or close. `close()` hangs up (DTR drop, then +++ / ATH0 if the modem
 * still answers) and closes the port; it does not call onDown.
 */
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SerialPort } from 'serialport';
import type { AsyncLinkParams, PppLink, PppLinkHandlers } from '../runtime/link.js';
import type { ConnectInfo, DialFailure, ModemAction } from './at.js';
import {
  DEFAULT_ACCM,
  DEFAULT_MRU,
  type FcsBits,
  HdlcDecoder,
  type HdlcDecoderCounters,
  HdlcEncoder,
  type HdlcEncoderCounters,
  type HdlcFrameSink,
} from './hdlc.js';
import { type HangupOptions, type ModemConfig, ModemEngine, type ModemEvent } from './modem.js';

export interface SerialLinkOptions {
  /** The serial device, e.g. /dev/ttyUSB0, /dev/serial0, or a pty path. */
  readonly device: string;
  /** DTE speed (bit/s); default 115200. */
  readonly baudRate?: number;
  /** RTS/CTS hardware flow control (pppd `crtscts`); default false. */
  readonly rtscts?: boolean;
  /** What to say to the modem: dial or answer, number, init strings or a chat script. */
  readonly modem: ModemConfig;
  /**
   * A direct line (null-modem cable, a VM's serial port): no modem, no AT commands.
   * The link is up as soon as the port is open; closing only drops DTR.
   */
  readonly direct?: boolean;
  /** Our MRU before LCP sets one (frames up to this size are accepted); default 1500. */
  readonly mru?: number;
  /** FCS size on the line (FCS-32 only when both ends are set up for it); default 16. */
  readonly fcs?: FcsBits;
  /** DCD poll interval in ms (0 disables); polling stops if the port cannot report DCD. */
  readonly dcdPollMs?: number;
  /** Hang up by dropping DTR first (pppd's default on close); default true. */
  readonly hangupByDtr?: boolean;
  /** Bytes allowed to wait in the write queue; frames beyond are dropped. Default 64 KiB. */
  readonly maxTxQueue?: number;
  /** Quiet time after "NO CARRIER" in the data stream before it counts; default 200 ms. */
  readonly noCarrierQuietMs?: number;
  /** Give up on a hang-up that has not finished after this long (ms); default 15 s. */
  readonly hangupTimeoutMs?: number;
  /** One-line log sink (modem dialogue, carrier, counters). */
  readonly log?: (line: string) => void;
  /** Every modem engine event, for status displays and tests. */
  readonly onModemEvent?: (event: ModemEvent) => void;
}

/** Async-link parameters with the FCS size, for a core that negotiates FCS-Alternatives. */
export interface AsyncHdlcParams extends AsyncLinkParams {
  readonly fcsBits?: FcsBits;
}

/** Why opening a serial link failed: the modem's answer or a port problem. */
export class DialError extends Error {
  constructor(
    readonly reason: DialFailure | 'port',
    message: string,
  ) {
    super(message);
    this.name = 'DialError';
  }
}

export interface SerialLinkCounters {
  readonly rx: HdlcDecoderCounters;
  readonly tx: HdlcEncoderCounters;
  /** Frames that arrived before attach(). */
  droppedBeforeAttach: number;
  /** Frames not sent: link down, closing, or the write queue full. */
  txDropped: number;
}

/** Carrier-loss text in the data stream, as a modem prints it after hanging up. */
const NO_CARRIER = 'NO CARRIER';
/** Bytes kept since the last flag to look for NO CARRIER (more than "+++\r\nNO CARRIER\r\n"). */
const TAIL_MAX = 32;

const now = (): number => performance.now();

/**
 * Drives a ModemEngine against an open port: writes, DTR, timers, events. Used in command
 * mode (before CONNECT and while hanging up); in data mode the link owns the bytes.
 */
class EngineDriver {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly port: SerialPort,
    readonly engine: ModemEngine,
    private readonly onEvent: (e: ModemEvent) => void,
  ) {}

  pump(): void {
    if (this.stopped) return;
    const engine = this.engine;
    for (let a = engine.pollAction(); a; a = engine.pollAction()) this.act(a);
    for (let e = engine.pollEvent(); e; e = engine.pollEvent()) this.onEvent(e);
    this.arm();
  }

  receive(bytes: Buffer): void {
    this.engine.receive(bytes, now());
    this.pump();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const at = this.engine.pollTimeout();
    if (at === undefined) return;
    const delay = Math.max(0, Math.ceil(at - now()));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.engine.handleTimeout(now());
      this.pump();
    }, delay);
  }

  private act(a: ModemAction): void {
    switch (a.type) {
      case 'write':
        this.port.write(a.data);
        return;
      case 'dtr':
        this.port.set({ dtr: a.value }, (e) => {
          // A pty (or a port without modem control) refuses: fall back to the escape.
          if (e && !a.value && !this.stopped) {
            this.engine.dtrUnsupported(now());
            this.pump();
          }
        });
        return;
      case 'break':
        this.port.set({ brk: true }, () => {
          setTimeout(() => this.port.set({ brk: false }), 250);
        });
        return;
    }
  }
}

function openPort(options: SerialLinkOptions): Promise<SerialPort> {
  return new Promise((resolve, reject) => {
    const port = new SerialPort({
      path: options.device,
      baudRate: options.baudRate ?? 115200,
      rtscts: options.rtscts ?? false,
      hupcl: true,
      autoOpen: false,
    });
    port.open((e) => {
      if (e) reject(new DialError('port', `cannot open ${options.device}: ${e.message}`));
      else resolve(port);
    });
  });
}

function closePort(port: SerialPort): Promise<void> {
  return new Promise((resolve) => {
    if (!port.isOpen) {
      resolve();
      return;
    }
    port.close(() => resolve());
  });
}

/** Describes a modem event as one log line (nothing secret: chat \q sends are masked). */
export function formatModemEvent(e: ModemEvent): string | undefined {
  switch (e.type) {
    case 'phase':
      return `modem: ${e.previous} -> ${e.phase}`;
    case 'sent':
      return `modem: send (${e.text})`;
    case 'line':
      return e.line.kind === 'echo' ? undefined : `modem: got (${e.line.text})`;
    case 'ring':
      return `modem: RING ${e.count}`;
    case 'connected':
      return `modem: connected ${e.connect.text}`;
    case 'failed':
      return `modem: failed: ${e.reason} (${e.detail})`;
    case 'on-hook':
      return `modem: on-hook by ${e.how}${e.clean ? '' : ' (unconfirmed)'}`;
    case 'info':
      return `modem: ${e.text}`;
  }
}

/**
 * Opens the port, dials or answers, and resolves with the link in data mode. Rejects
 * with a DialError (BUSY, NO CARRIER, timeout, port error ...); the port is then closed
 * and the modem back on-hook. `signal` cancels (e.g. a daemon stop while waiting for RING).
 */
export async function openSerialLink(
  options: SerialLinkOptions,
  signal?: AbortSignal,
): Promise<SerialLink> {
  // A direct line talks to no modem: no engine, so a dial link needs no number there.
  const engine = options.direct ? undefined : new ModemEngine(options.modem);
  if (signal?.aborted) throw new DialError('cancelled', 'cancelled before opening the port');
  const port = await openPort(options);
  const log = options.log;
  // Whatever the modem said while nobody listened (old RINGs, a stale NO CARRIER) is not
  // an answer to our commands.
  await new Promise<void>((r) => port.flush(() => r()));
  if (engine === undefined) {
    log?.(`serial: ${options.device}: direct line, no modem`);
    return new SerialLink(port, undefined, options, {
      speed: options.baudRate ?? 115200,
      protocols: [],
      text: 'direct',
    });
  }

  return new Promise<SerialLink>((resolve, reject) => {
    let settled = false;
    let failure: DialError | undefined;
    const hangupTimeoutMs = options.hangupTimeoutMs ?? 15_000;
    let hangupGuard: NodeJS.Timeout | undefined;

    const finishFailure = (): void => {
      if (settled) return;
      settled = true;
      driver.stop();
      if (hangupGuard) clearTimeout(hangupGuard);
      port.removeListener('data', onData);
      port.removeListener('close', onClose);
      port.removeListener('error', onError);
      signal?.removeEventListener('abort', onAbort);
      void closePort(port).then(() => reject(failure ?? new DialError('cancelled', 'cancelled')));
    };

    const startHangup = (opts: HangupOptions): void => {
      hangupGuard = setTimeout(finishFailure, hangupTimeoutMs);
      engine.hangup(now(), opts);
      driver.pump();
    };

    const onEvent = (e: ModemEvent): void => {
      options.onModemEvent?.(e);
      if (log) {
        const line = formatModemEvent(e);
        if (line) log(line);
      }
      if (settled) return;
      switch (e.type) {
        case 'connected': {
          settled = true;
          driver.stop();
          port.removeListener('data', onData);
          port.removeListener('close', onClose);
          port.removeListener('error', onError);
          signal?.removeEventListener('abort', onAbort);
          const link = new SerialLink(port, engine, options, e.connect);
          const leftover = engine.takeData();
          resolve(link);
          if (leftover) link.receiveData(leftover);
          return;
        }
        case 'failed':
          failure = new DialError(e.reason, `${options.device}: ${e.detail}`);
          // Make sure the modem is on-hook before the port closes.
          startHangup({ dtr: options.hangupByDtr ?? true });
          return;
        case 'on-hook':
          finishFailure();
          return;
        default:
          return;
      }
    };

    const driver = new EngineDriver(port, engine, onEvent);
    const onData = (chunk: Buffer): void => driver.receive(chunk);
    const onClose = (): void => {
      failure ??= new DialError('port', `${options.device} closed while dialling`);
      finishFailure();
    };
    const onAbort = (): void => {
      if (settled || engine.phase === 'hanging-up') return;
      failure = new DialError('cancelled', `${options.device}: cancelled`);
      startHangup({ dtr: options.hangupByDtr ?? true });
    };
    port.on('data', onData);
    port.on('close', onClose);
    const onError = (e: Error): void => log?.(`serial: ${options.device}: ${e.message}`);
    port.on('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
    engine.start(now());
    driver.pump();
  });
}

export class SerialLink implements PppLink {
  readonly description: string;
  readonly source: string;
  readonly maxFrame: number;
  readonly counters: SerialLinkCounters;
  private readonly encoder: HdlcEncoder;
  private readonly decoder: HdlcDecoder;
  private handlers: PppLinkHandlers | undefined;
  private down = false;
  private carrierLost = false;
  private closing: Promise<void> | undefined;
  private dcdTimer: NodeJS.Timeout | undefined;
  private dcdSeenHigh = false;
  private carrierTimer: NodeJS.Timeout | undefined;
  /** Octets since the last flag, to spot NO CARRIER outside any frame. */
  private tail = '';
  private readonly maxTxQueue: number;
  private readonly sink: HdlcFrameSink = (r) => {
    if (!r.ok) return; // counted by the decoder
    if (this.handlers) this.handlers.onFrame(r.value);
    else this.counters.droppedBeforeAttach++;
  };

  /** Use openSerialLink; the constructor takes a port already in data mode. */
  constructor(
    private readonly port: SerialPort,
    /** Undefined on a direct line: nothing to hang up. */
    private readonly engine: ModemEngine | undefined,
    private readonly options: SerialLinkOptions,
    readonly connect: ConnectInfo,
  ) {
    this.description = basename(options.device);
    this.source = options.device;
    const mru = options.mru ?? DEFAULT_MRU;
    this.maxFrame = mru;
    const fcs = options.fcs ?? 16;
    // RFC 1662 §7.1: every control character is escaped until LCP agrees an ACCM.
    this.encoder = new HdlcEncoder({ accm: DEFAULT_ACCM, fcs });
    this.decoder = new HdlcDecoder({ accm: DEFAULT_ACCM, fcs, mru });
    this.counters = {
      rx: this.decoder.counters,
      tx: this.encoder.counters,
      droppedBeforeAttach: 0,
      txDropped: 0,
    };
    this.maxTxQueue = options.maxTxQueue ?? 64 * 1024;
    port.on('data', this.onData);
    port.on('close', this.onPortClose);
    port.on('error', this.onPortError);
    const poll = options.dcdPollMs ?? 500;
    if (poll > 0) this.dcdTimer = setInterval(this.pollDcd, poll);
  }

  attach(handlers: PppLinkHandlers): void {
    this.handlers = handlers;
  }

  send(frame: Buffer): void {
    if (this.down || this.closing || !this.port.isOpen) {
      this.counters.txDropped++;
      return;
    }
    if (this.port.writableLength > this.maxTxQueue) {
      // The line is slower than the session: drop rather than queue without bound.
      this.counters.txDropped++;
      return;
    }
    this.port.write(this.encoder.encode(frame, now()));
  }

  setAsyncParams(params: AsyncHdlcParams): void {
    this.encoder.accm = params.sendAccm;
    this.decoder.accm = params.recvAccm;
    this.decoder.mru = params.mru;
    if (params.fcsBits) {
      this.encoder.fcsBits = params.fcsBits;
      this.decoder.fcs = params.fcsBits;
    }
  }

  /** True once the medium is gone (carrier, port). */
  get isDown(): boolean {
    return this.down;
  }

  close(reason: string): Promise<void> {
    this.closing ??= this.doClose(reason);
    return this.closing;
  }

  /** Data-mode bytes (also the ones that came in with the CONNECT line). */
  receiveData(chunk: Buffer): void {
    if (this.closing) return;
    this.watchCarrierText(chunk);
    this.decoder.push(chunk, this.sink);
  }

  private readonly onData = (chunk: Buffer): void => this.receiveData(chunk);

  private readonly onPortClose = (): void => this.goDown('serial port closed');

  private readonly onPortError = (e: Error): void => {
    this.options.log?.(`serial: ${this.source}: ${e.message}`);
  };

  private readonly pollDcd = (): void => {
    if (this.down || this.closing || !this.port.isOpen) return;
    this.port.get((e, status) => {
      if (e || !status) {
        // No modem-control lines here (a pty, some USB adapters): rely on NO CARRIER.
        this.stopDcdPolling();
        this.options.log?.(`serial: ${this.source} does not report DCD; watching for NO CARRIER`);
        return;
      }
      if (status.dcd) this.dcdSeenHigh = true;
      else if (this.dcdSeenHigh && !this.down && !this.closing) {
        // Only a fall counts: a modem or cable without DCD wired never raises it.
        this.carrierLost = true;
        this.goDown('carrier lost (DCD dropped)');
      }
    });
  };

  private stopDcdPolling(): void {
    if (this.dcdTimer) clearInterval(this.dcdTimer);
    this.dcdTimer = undefined;
  }

  /**
   * A modem that loses carrier drops to command mode and prints "NO CARRIER" after the
   * last frame. Only text after the last flag counts, and only if no flag follows it
   * within a short quiet time: the same words inside a frame's payload are followed by
   * that frame's closing flag, while after a real NO CARRIER nothing more comes.
   */
  private watchCarrierText(chunk: Buffer): void {
    const flag = chunk.lastIndexOf(0x7e);
    if (flag >= 0) {
      this.tail = chunk.toString('latin1', Math.max(flag + 1, chunk.length - TAIL_MAX));
      if (this.carrierTimer) {
        clearTimeout(this.carrierTimer);
        this.carrierTimer = undefined;
      }
    } else {
      const piece = chunk.toString('latin1', Math.max(0, chunk.length - TAIL_MAX));
      this.tail = (this.tail + piece).slice(-TAIL_MAX);
    }
    if (this.carrierTimer === undefined && this.tail.includes(NO_CARRIER)) {
      this.carrierTimer = setTimeout(() => {
        this.carrierTimer = undefined;
        this.carrierLost = true;
        this.goDown('carrier lost (NO CARRIER)');
      }, this.options.noCarrierQuietMs ?? 200);
    }
  }

  private goDown(reason: string): void {
    if (this.down) return;
    this.down = true;
    this.stopDcdPolling();
    if (this.carrierTimer) clearTimeout(this.carrierTimer);
    this.carrierTimer = undefined;
    this.options.log?.(`serial: ${this.source}: ${reason}`);
    if (!this.closing) this.handlers?.onDown(reason);
  }

  private async doClose(reason: string): Promise<void> {
    this.stopDcdPolling();
    if (this.carrierTimer) clearTimeout(this.carrierTimer);
    this.carrierTimer = undefined;
    this.options.log?.(`serial: ${this.source}: closing (${reason})`);
    const port = this.port;
    port.removeListener('data', this.onData);
    port.removeListener('close', this.onPortClose);
    if (port.isOpen) {
      // Let queued frames leave before the guard time of the escape sequence starts.
      await new Promise<void>((r) => port.drain(() => r()));
      // A direct line has no modem to hang up: closing the port drops DTR.
      if (this.engine) await this.hangup(this.engine);
    }
    this.down = true;
    port.removeListener('error', this.onPortError);
    await closePort(port);
  }

  private hangup(engine: ModemEngine): Promise<void> {
    const port = this.port;
    const options = this.options;
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(guard);
        driver.stop();
        port.removeListener('data', onData);
        port.removeListener('close', finish);
        resolve();
      };
      const driver = new EngineDriver(port, engine, (e) => {
        options.onModemEvent?.(e);
        const line = formatModemEvent(e);
        if (line) options.log?.(line);
        if (e.type === 'on-hook') finish();
      });
      const onData = (chunk: Buffer): void => driver.receive(chunk);
      const guard = setTimeout(finish, options.hangupTimeoutMs ?? 15_000);
      port.on('data', onData);
      port.on('close', finish);
      engine.hangup(now(), {
        dtr: options.hangupByDtr ?? true,
        carrierLost: this.carrierLost,
      });
      driver.pump();
    });
  }
}
