/**
 * The modem simulator: several Hayes modems ("lines") on ptys, joined by a telephone
 * exchange. Each line is a socat pty pair: the router opens one end (`path`), the
 * simulator the other. A line that dials another's number makes it RING; once it
 * answers (ATA or S0 auto-answer) both print CONNECT and the exchange relays bytes.
 *
 * Faults, on command: calls to a number answer BUSY / NO ANSWER / fail the handshake
 * with NO CARRIER; a line has NO DIALTONE; a call is dropped mid-session (both ends get
 * NO CARRIER); a fraction of relayed bytes is garbled. A pty has no modem-control lines,
 * so DTR and DCD are not modelled: hang up with +++ / ATH0, watch for NO CARRIER.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { type Exchange, SimModem } from './hayes.js';

/** A fault applied to calls to a number (busy, no-answer, no-carrier) or from it (no-dialtone). */
export type SimFault = 'busy' | 'no-answer' | 'no-carrier' | 'no-dialtone';

export interface SimLineConfig {
  readonly number: string;
  /** Where the router-side pty link goes; default `<dir>/line-<number>`. */
  readonly path?: string;
}

export interface ModemSimOptions {
  readonly lines: readonly SimLineConfig[];
  /** Directory for pty links; default a fresh temp dir (removed on stop). */
  readonly dir?: string;
  /** Time between RINGs; default 2000 ms (real lines: 6 s). */
  readonly ringIntervalMs?: number;
  /** Dialling + network delay before the far end rings or a failure is reported. */
  readonly callSetupMs?: number;
  /** Modem handshake after the answer, before both CONNECT. */
  readonly connectDelayMs?: number;
  /** Text after "CONNECT "; default "115200/ARQ/V42". */
  readonly connectText?: string;
  /** Fraction (0..1) of relayed bytes to garble. */
  readonly garble?: number;
  /** Drop every call this long after it connects (0 = never). */
  readonly dropAfterMs?: number;
  /** Initial faults by number. */
  readonly faults?: Readonly<Record<string, SimFault>>;
  /** Seed for the garbling PRNG (reproducible noise). */
  readonly seed?: number;
  readonly log?: (line: string) => void;
}

export interface SimLineStats {
  /** Data-mode bytes this line's DTE sent into calls. */
  bytesFromDte: number;
  /** Data-mode bytes delivered to this line's DTE. */
  bytesToDte: number;
  /** Bytes garbled on their way to this line. */
  garbled: number;
  calls: number;
}

export type SimEvent =
  | { type: 'dial'; from: string; to: string }
  | { type: 'ring'; number: string; count: number }
  | { type: 'connected'; caller: string; callee: string }
  | { type: 'failed'; number: string; result: string }
  | { type: 'hangup'; number: string; by: 'local' | 'remote' | 'drop' };

interface Call {
  caller: Line;
  callee: Line;
  state: 'setup' | 'ringing' | 'answering' | 'connected' | 'ended';
  timers: NodeJS.Timeout[];
}

class Line {
  port: SerialPort | undefined;
  socat: ChildProcess | undefined;
  call: Call | undefined;
  fault: SimFault | undefined;
  garble: number | undefined;
  /** Timers of a failing dial (BUSY, NO DIALTONE ...), cleared on abort. */
  pendingTimers: NodeJS.Timeout[] = [];
  readonly stats: SimLineStats = { bytesFromDte: 0, bytesToDte: 0, garbled: 0, calls: 0 };
  modem!: SimModem;

  constructor(
    readonly number: string,
    readonly path: string,
    readonly modemPath: string,
  ) {}
}

/** A small deterministic PRNG (mulberry32) so garbling can be reproduced. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) resolve();
      else if (Date.now() - start > timeoutMs) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 5);
    };
    tick();
  });
}

export class ModemSimulator implements Exchange {
  readonly dir: string;
  private readonly ownsDir: boolean;
  private readonly lines = new Map<string, Line>();
  private readonly byModem = new Map<SimModem, Line>();
  private readonly ringIntervalMs: number;
  private readonly callSetupMs: number;
  private readonly connectDelayMs: number;
  private readonly connectText: string;
  private garbleRate: number;
  private dropAfterMs: number;
  private readonly random: () => number;
  private readonly listeners: Array<(e: SimEvent) => void> = [];
  private stopped = false;

  /** socat outlives a parent that dies without stop(): kill it on the way out. */
  private readonly killChildren = (): void => {
    for (const line of this.lines.values()) {
      if (line.socat && line.socat.exitCode === null) line.socat.kill('SIGTERM');
    }
  };

  private constructor(private readonly options: ModemSimOptions) {
    this.ownsDir = options.dir === undefined;
    this.dir = options.dir ?? mkdtempSync(join(tmpdir(), 'modem-sim-'));
    this.ringIntervalMs = options.ringIntervalMs ?? 2000;
    this.callSetupMs = options.callSetupMs ?? 300;
    this.connectDelayMs = options.connectDelayMs ?? 200;
    this.connectText = options.connectText ?? '115200/ARQ/V42';
    this.garbleRate = options.garble ?? 0;
    this.dropAfterMs = options.dropAfterMs ?? 0;
    this.random = prng(options.seed ?? 0x5eed);
    process.once('exit', this.killChildren);
  }

  /** Creates the ptys and starts answering AT commands on every line. */
  static async start(options: ModemSimOptions): Promise<ModemSimulator> {
    const sim = new ModemSimulator(options);
    try {
      for (const cfg of options.lines) await sim.addLine(cfg);
      for (const [number, fault] of Object.entries(options.faults ?? {}))
        sim.setFault(number, fault);
    } catch (e) {
      await sim.stop();
      throw e;
    }
    return sim;
  }

  /** The router-side pty path of a line. */
  path(number: string): string {
    return this.getLine(number).path;
  }

  /** Every line's number and router-side path. */
  get paths(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [n, l] of this.lines) out[n] = l.path;
    return out;
  }

  stats(number: string): Readonly<SimLineStats> {
    return this.getLine(number).stats;
  }

  /** The line's modem state, for tests ('command', 'online', ...). */
  mode(number: string): string {
    return this.getLine(number).modem.mode;
  }

  onEvent(listener: (e: SimEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const k = this.listeners.indexOf(listener);
      if (k >= 0) this.listeners.splice(k, 1);
    };
  }

  /** Sets (or clears) the fault of a number. */
  setFault(number: string, fault: SimFault | undefined): void {
    this.getLine(number).fault = fault;
  }

  /** Garble this fraction of relayed bytes: on every line, or only towards one. */
  setGarble(rate: number, number?: string): void {
    const r = Math.max(0, Math.min(1, rate));
    if (number === undefined) this.garbleRate = r;
    else this.getLine(number).garble = r;
  }

  setDropAfter(ms: number): void {
    this.dropAfterMs = Math.max(0, ms);
  }

  /** Drops the call on this line: both ends get NO CARRIER. False if there was none. */
  drop(number: string): boolean {
    const call = this.getLine(number).call;
    if (!call) return false;
    this.log(`drop call ${call.caller.number} -> ${call.callee.number}`);
    this.endCall(call);
    for (const l of [call.caller, call.callee]) {
      l.modem.carrierLost();
      this.emit({ type: 'hangup', number: l.number, by: 'drop' });
    }
    return true;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    process.removeListener('exit', this.killChildren);
    for (const line of this.lines.values()) {
      if (line.call) this.endCall(line.call);
      line.modem?.dispose();
      const port = line.port;
      if (port?.isOpen) await new Promise<void>((r) => port.close(() => r()));
      const socat = line.socat;
      if (socat && socat.exitCode === null && socat.signalCode === null) {
        const exited = new Promise<void>((r) => socat.once('exit', () => r()));
        socat.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      }
    }
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }

  // Exchange ------------------------------------------------------------------------------

  dial(from: SimModem, number: string): void {
    const caller = this.lineOf(from);
    if (!caller) return;
    this.emit({ type: 'dial', from: caller.number, to: number });
    this.log(`${caller.number} dials ${number}`);
    const later = (ms: number, fn: () => void): void => {
      const t = setTimeout(() => {
        if (from.mode === 'dialing') fn();
      }, ms);
      caller.pendingTimers.push(t);
    };
    if (caller.fault === 'no-dialtone') {
      later(100, () => this.failCall(caller, 'no-dialtone'));
      return;
    }
    const callee = this.lines.get(number);
    if (!callee) {
      later(this.callSetupMs, () => this.failCall(caller, 'no-carrier'));
      return;
    }
    if (
      callee === caller ||
      callee.call ||
      callee.modem.mode !== 'command' ||
      callee.fault === 'busy'
    ) {
      later(this.callSetupMs, () => this.failCall(caller, 'busy'));
      return;
    }
    if (callee.fault === 'no-answer') {
      later(this.callSetupMs + this.ringIntervalMs, () => this.failCall(caller, 'no-answer'));
      return;
    }
    const call: Call = { caller, callee, state: 'setup', timers: [] };
    caller.call = call;
    callee.call = call;
    caller.stats.calls++;
    callee.stats.calls++;
    call.timers.push(
      setTimeout(() => {
        if (call.state !== 'setup') return;
        call.state = 'ringing';
        callee.modem.ringing = true;
        callee.modem.ringCount = 0;
        this.ring(call);
      }, this.callSetupMs),
    );
    // S7 on the caller: no carrier within the wait time ends the attempt (Hayes reports
    // NO CARRIER; NO ANSWER is for the @ dial modifier).
    call.timers.push(
      setTimeout(() => {
        if (call.state === 'connected' || call.state === 'ended') return;
        this.endCall(call);
        if (call.callee.modem.mode === 'answering') call.callee.modem.callFailed('no-carrier');
        this.failCall(caller, 'no-carrier');
      }, this.callSetupMs + from.waitForCarrierMs),
    );
  }

  answer(modem: SimModem): void {
    const line = this.lineOf(modem);
    if (!line) return;
    const call = line.call;
    if (!call || call.callee !== line || call.state !== 'ringing') {
      // Off-hook in answer mode with nobody calling: no carrier.
      setTimeout(() => {
        if (modem.mode === 'answering') modem.callFailed('no-carrier');
      }, this.connectDelayMs);
      return;
    }
    call.state = 'answering';
    line.modem.ringing = false;
    call.timers.push(
      setTimeout(() => {
        if (call.state !== 'answering') return;
        if (line.fault === 'no-carrier') {
          // The handshake fails: both modems report NO CARRIER.
          this.endCall(call);
          line.modem.callFailed('no-carrier');
          this.failCall(call.caller, 'no-carrier');
          this.emit({ type: 'failed', number: line.number, result: 'no-carrier' });
          return;
        }
        call.state = 'connected';
        this.log(`connected ${call.caller.number} <-> ${line.number}`);
        call.caller.modem.online(this.connectText);
        line.modem.online(this.connectText);
        this.emit({ type: 'connected', caller: call.caller.number, callee: line.number });
        if (this.dropAfterMs > 0) {
          call.timers.push(setTimeout(() => this.drop(line.number), this.dropAfterMs));
        }
      }, this.connectDelayMs),
    );
  }

  hangup(modem: SimModem): void {
    const line = this.lineOf(modem);
    if (!line) return;
    this.clearPending(line);
    const call = line.call;
    if (!call) return;
    this.endCall(call);
    const other = call.caller === line ? call.callee : call.caller;
    this.log(`${line.number} hangs up`);
    this.emit({ type: 'hangup', number: line.number, by: 'local' });
    if (other.modem.mode === 'online' || other.modem.mode === 'online-command') {
      other.modem.carrierLost();
      this.emit({ type: 'hangup', number: other.number, by: 'remote' });
    } else if (other.modem.mode === 'dialing' || other.modem.mode === 'answering') {
      other.modem.callFailed('no-carrier');
    }
  }

  data(from: SimModem, bytes: Buffer): void {
    const line = this.lineOf(from);
    const call = line?.call;
    if (!line || !call || call.state !== 'connected') return;
    line.stats.bytesFromDte += bytes.length;
    const other = call.caller === line ? call.callee : call.caller;
    const rate = other.garble ?? this.garbleRate;
    let out = bytes;
    if (rate > 0) {
      out = Buffer.from(bytes);
      for (let i = 0; i < out.length; i++) {
        if (this.random() < rate) {
          out[i] = (out[i] as number) ^ (1 + Math.floor(this.random() * 255));
          other.stats.garbled++;
        }
      }
    }
    if (other.modem.mode === 'online') other.stats.bytesToDte += out.length;
    other.modem.deliver(out);
  }

  // Internals -----------------------------------------------------------------------------

  private ring(call: Call): void {
    if (call.state !== 'ringing') return;
    const callee = call.callee;
    callee.modem.ring();
    this.emit({ type: 'ring', number: callee.number, count: callee.modem.ringCount });
    if (call.state === 'ringing') {
      call.timers.push(setTimeout(() => this.ring(call), this.ringIntervalMs));
    }
  }

  private failCall(
    caller: Line,
    result: 'busy' | 'no-answer' | 'no-carrier' | 'no-dialtone',
  ): void {
    if (caller.call?.caller === caller) this.endCall(caller.call);
    this.clearPending(caller);
    if (caller.modem.mode !== 'dialing') return;
    this.log(`${caller.number}: ${result}`);
    caller.modem.callFailed(result);
    this.emit({ type: 'failed', number: caller.number, result });
  }

  private endCall(call: Call): void {
    for (const t of call.timers) clearTimeout(t);
    call.timers = [];
    // Timers that already fired see 'ended' and do nothing.
    call.state = 'ended';
    call.callee.modem.ringing = false;
    if (call.caller.call === call) call.caller.call = undefined;
    if (call.callee.call === call) call.callee.call = undefined;
  }

  private clearPending(line: Line): void {
    for (const t of line.pendingTimers) clearTimeout(t);
    line.pendingTimers = [];
  }

  private async addLine(cfg: SimLineConfig): Promise<void> {
    if (this.lines.has(cfg.number)) throw new Error(`line ${cfg.number} defined twice`);
    if (!/^[0-9*#]{1,32}$/.test(cfg.number))
      throw new Error(`line number ${cfg.number} is not digits`);
    const path = cfg.path ?? join(this.dir, `line-${cfg.number}`);
    const modemPath = `${path}.modem`;
    const line = new Line(cfg.number, path, modemPath);
    this.lines.set(cfg.number, line);
    // socat keeps its own handle on each slave, so the router may close and reopen its
    // end (a redial) without tearing the pair down.
    const socat = spawn(
      'socat',
      ['-d', '-d', `pty,raw,echo=0,link=${path}`, `pty,raw,echo=0,link=${modemPath}`],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    line.socat = socat;
    let stderr = '';
    socat.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString();
    });
    socat.on('exit', (code) => {
      if (!this.stopped)
        this.log(`socat for line ${cfg.number} exited (${code}): ${stderr.trim()}`);
    });
    await waitFor(
      () => (existsSync(path) && existsSync(modemPath)) || socat.exitCode !== null,
      5000,
      `socat ptys for line ${cfg.number}`,
    );
    if (socat.exitCode !== null) throw new Error(`socat failed for line ${cfg.number}: ${stderr}`);
    const port = new SerialPort({ path: modemPath, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    line.port = port;
    line.modem = new SimModem(cfg.number, this, (bytes) => {
      if (port.isOpen) port.write(bytes);
    });
    this.byModem.set(line.modem, line);
    port.on('data', (chunk: Buffer) => line.modem.fromDte(chunk));
    port.on('error', (e: Error) => this.log(`line ${cfg.number}: ${e.message}`));
    this.log(`line ${cfg.number}: ${path}`);
  }

  private getLine(number: string): Line {
    const line = this.lines.get(number);
    if (!line) throw new Error(`no line ${number}`);
    return line;
  }

  private lineOf(modem: SimModem): Line | undefined {
    return this.byModem.get(modem);
  }

  private emit(e: SimEvent): void {
    for (const l of this.listeners) l(e);
  }

  private log(line: string): void {
    this.options.log?.(`modem-sim: ${line}`);
  }
}
