/**
 * The I/O driver of one control connection: a TCP socket, a ControlReader, the
 * ControlConnection state machine and one timer. TCP bytes go through the reader into the
 * machine; the machine's messages go out encoded; its events go to the owner (pns.ts or
 * pac.ts). Bad input closes this connection with a logged reason, never the process.
 */
import type { Socket } from 'node:net';
import { encodeControlMessage } from './control.js';
import type { ControlConnection, ControlEvent } from './control-connection.js';
import { ControlReader } from './control-reader.js';

/** Minimal logger; pino's Logger fits. Never given secrets. */
export interface PptpLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
}

export const silentLogger: PptpLogger = { debug() {}, info() {}, warn() {} };

/** A monotonic clock in milliseconds. */
export const monotonicMs = (): number => performance.now();

/** How long a closing socket may take to flush before it is destroyed. */
const CLOSE_GRACE_MS = 2_000;

export class ControlSocket {
  readonly connection: ControlConnection;
  readonly socket: Socket;
  readonly reader = new ControlReader();
  private readonly onEvent: (event: ControlEvent) => void;
  private readonly clock: () => number;
  private readonly log: PptpLogger;
  private timer: NodeJS.Timeout | undefined;
  private pumping = false;
  private pumpAgain = false;
  private ended = false;
  /** Resolves once the TCP socket is closed. */
  readonly closed: Promise<void>;

  constructor(
    socket: Socket,
    connection: ControlConnection,
    onEvent: (event: ControlEvent) => void,
    options: { clock?: () => number; log?: PptpLogger } = {},
  ) {
    this.socket = socket;
    this.connection = connection;
    this.onEvent = onEvent;
    this.clock = options.clock ?? monotonicMs;
    this.log = options.log ?? silentLogger;
    socket.setNoDelay(true);
    connection.onWake = () => this.pump();
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onTransportGone('peer closed the TCP connection'));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const why =
        error.code === 'ECONNRESET'
          ? 'TCP connection reset by peer'
          : `TCP error: ${error.message}`;
      this.onTransportGone(why);
    });
    socket.on('close', () => {
      this.onTransportGone('TCP connection closed');
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
    });
  }

  /** Runs a local command on the machine (start, placeCall, stop...) and pumps. */
  act<T>(command: (connection: ControlConnection, now: number) => T): T {
    const result = command(this.connection, this.clock());
    this.pump();
    return result;
  }

  /** Hard close: RST, no flush. */
  destroy(reason: string): void {
    this.ended = true; // no FIN: this is an abort
    this.connection.transportClosed(reason);
    this.pump();
    this.socket.resetAndDestroy();
  }

  private onData(chunk: Buffer): void {
    const { frames, error } = this.reader.push(chunk);
    const now = this.clock();
    for (const frame of frames) this.connection.handleFrame(frame, now);
    if (error !== undefined) {
      this.log.warn(
        `pptp ${this.socket.remoteAddress}: closing control connection: ${error.kind}: ${error.reason}`,
      );
      this.connection.transportClosed(`bad control stream (${error.kind}): ${error.reason}`);
      this.pump();
      this.socket.destroy();
      return;
    }
    this.pump();
  }

  private onTransportGone(reason: string): void {
    if (this.connection.isClosed) return;
    this.connection.transportClosed(reason);
    this.pump();
  }

  /** Drains the machine: messages to TCP, events to the owner; then re-arms the timer. */
  pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        for (
          let m = this.connection.pollTransmit();
          m !== undefined;
          m = this.connection.pollTransmit()
        ) {
          if (!this.socket.destroyed && this.socket.writable)
            this.socket.write(encodeControlMessage(m));
        }
        for (
          let e = this.connection.pollEvent();
          e !== undefined;
          e = this.connection.pollEvent()
        ) {
          if (e.type === 'closed') this.endSocket();
          try {
            this.onEvent(e);
          } catch (error) {
            this.log.warn(`pptp: control event handler threw: ${String(error)}`);
          }
        }
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
    this.armTimer();
  }

  private endSocket(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.socket.destroyed) return;
    // Let what is queued (a Stop-Control-Connection-Reply) leave, then FIN.
    this.socket.end();
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  private armTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const at = this.connection.pollTimeout();
    if (at === undefined) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.connection.handleTimeout(this.clock());
        this.pump();
      },
      Math.max(1, Math.ceil(at - this.clock())),
    );
  }
}
