/**
 * One simulated Hayes modem: the AT command interpreter, echo, result codes (V0/V1, Q),
 * S-registers, and the escape sequence with its guard time in data mode. It talks to
 * its DTE (the router's serial port) through `toDte` and to the telephone exchange
 * (the simulator) through the Exchange interface.
 */
import { formatResult, type ResultCode } from '../../src/dialup/at.js';

/** What the modem asks of the telephone network. */
export interface Exchange {
  /** ATD: place a call. The exchange answers with result()/online() later. */
  dial(from: SimModem, number: string): void;
  /** ATA (or S0 auto-answer): pick up the call ringing on this line. */
  answer(modem: SimModem): void;
  /** Go on-hook (ATH, ATZ, an aborted dial or answer). */
  hangup(modem: SimModem): void;
  /** Data-mode bytes from this modem's DTE, to the far end. */
  data(from: SimModem, bytes: Buffer): void;
}

export type SimMode =
  /** On-hook (or off-hook idle), interpreting commands. */
  | 'command'
  /** ATD issued; waiting for the network. */
  | 'dialing'
  /** ATA issued; handshaking. */
  | 'answering'
  /** Connected, relaying data. */
  | 'online'
  /** Connected, but escaped to command mode with +++ (ATO returns, ATH hangs up). */
  | 'online-command';

/** Hayes defaults (S2 '+', S3 CR, S4 LF, S5 BS, S7 50 s, S12 50 × 20 ms). */
function defaultRegisters(): number[] {
  const s = new Array<number>(32).fill(0);
  s[2] = 43;
  s[3] = 13;
  s[4] = 10;
  s[5] = 8;
  s[6] = 2;
  s[7] = 50;
  s[8] = 2;
  s[10] = 14;
  s[12] = 50;
  return s;
}

const MAX_COMMAND = 64;

export class SimModem {
  mode: SimMode = 'command';
  echo = true;
  verbose = true;
  quiet = false;
  registers = defaultRegisters();
  /** Incoming call state, driven by the exchange. */
  ringing = false;
  ringCount = 0;
  private cmd = '';
  private lastCommand = '';
  private lastRxAt = 0;
  private plusCount = 0;
  private lastPlusAt = 0;
  private escapeTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly number: string,
    private readonly exchange: Exchange,
    private readonly toDte: (bytes: Buffer) => void,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** Guard time in ms (S12 in fiftieths of a second). */
  get guardMs(): number {
    return (this.registers[12] ?? 50) * 20;
  }

  /** S7: seconds to wait for carrier after dialling. */
  get waitForCarrierMs(): number {
    return (this.registers[7] ?? 50) * 1000;
  }

  // Called by the exchange ------------------------------------------------------------

  result(code: ResultCode, suffix = ''): void {
    if (this.quiet) return;
    this.toDte(Buffer.from(formatResult(code, this.verbose, suffix), 'latin1'));
  }

  /** The call is up: print CONNECT and start relaying. */
  online(connectText: string): void {
    this.mode = 'online';
    this.lastRxAt = this.clock();
    this.plusCount = 0;
    this.result('connect', connectText ? ` ${connectText}` : '');
  }

  /** The far end or the network hung up. */
  carrierLost(): void {
    if (this.mode === 'command') return;
    this.clearEscape();
    this.mode = 'command';
    this.result('no-carrier');
  }

  /** A dial or answer did not complete: report and go back to command mode. */
  callFailed(code: ResultCode): void {
    this.mode = 'command';
    this.result(code);
  }

  ring(): void {
    this.ringCount++;
    this.result('ring');
    const s0 = this.registers[0] ?? 0;
    if (s0 > 0 && this.ringCount >= s0 && this.mode === 'command') {
      this.mode = 'answering';
      this.exchange.answer(this);
    }
  }

  /** Data from the far end. */
  deliver(bytes: Buffer): void {
    // In online-command mode a modem does not pass data to the DTE.
    if (this.mode === 'online') this.toDte(bytes);
  }

  reset(): void {
    this.clearEscape();
    this.mode = 'command';
    this.echo = true;
    this.verbose = true;
    this.quiet = false;
    this.registers = defaultRegisters();
    this.cmd = '';
  }

  // From the DTE ------------------------------------------------------------------------

  fromDte(bytes: Buffer): void {
    if (this.mode === 'online') {
      this.watchEscape(bytes);
      this.exchange.data(this, bytes);
      return;
    }
    if (this.mode === 'dialing' || this.mode === 'answering') {
      // V.250 §6.3.1: any character aborts a call attempt. (A lone LF after the CR is
      // tolerated: some DTEs end commands with CR LF.)
      if (bytes.every((b) => b === 0x0a)) return;
      this.exchange.hangup(this);
      this.mode = 'command';
      this.result('no-carrier');
      return;
    }
    for (const b of bytes) this.commandChar(b);
  }

  private commandChar(b: number): void {
    if (this.echo) this.toDte(Buffer.from([b]));
    const cr = this.registers[3] ?? 13;
    const bs = this.registers[5] ?? 8;
    if (b === bs || b === 0x7f) {
      this.cmd = this.cmd.slice(0, -1);
      return;
    }
    if (b === cr) {
      const line = this.cmd;
      this.cmd = '';
      const at = line.search(/at/i);
      if (at >= 0) this.execute(line.slice(at + 2));
      return;
    }
    if (b === 0x0a) return;
    const ch = String.fromCharCode(b & 0x7f);
    // "A/" repeats the last command line at once (no CR).
    if (ch === '/' && /a$/i.test(this.cmd)) {
      this.cmd = '';
      this.execute(this.lastCommand);
      return;
    }
    if (this.cmd.length < MAX_COMMAND) this.cmd += ch;
  }

  /** Executes the text after "AT". */
  execute(body: string): void {
    this.lastCommand = body;
    const s = body;
    let i = 0;
    const num = (): number | undefined => {
      const m = /^\d+/.exec(s.slice(i));
      if (!m) return undefined;
      i += m[0].length;
      return Number.parseInt(m[0], 10);
    };
    while (i < s.length) {
      const c = (s[i] as string).toUpperCase();
      i++;
      switch (c) {
        case ' ':
          break;
        case 'Z':
          num();
          if (this.mode === 'online-command') this.exchange.hangup(this);
          this.reset();
          break;
        case '&': {
          const sub = (s[i] ?? '').toUpperCase();
          i++;
          if (sub === 'F') {
            num();
            if (this.mode === 'online-command') this.exchange.hangup(this);
            this.reset();
          } else if (/[CDKSW]/.test(sub)) {
            num();
          } else {
            this.result('error');
            return;
          }
          break;
        }
        case 'E':
          this.echo = (num() ?? 0) !== 0;
          break;
        case 'V':
          this.verbose = (num() ?? 0) !== 0;
          break;
        case 'Q':
          this.quiet = (num() ?? 0) === 1;
          break;
        case 'X':
        case 'L':
        case 'M':
        case 'B':
        case 'W':
          num();
          break;
        case 'I':
          num();
          this.toDte(Buffer.from('\r\nbranchlink modem simulator\r\n', 'latin1'));
          break;
        case 'S': {
          const reg = num();
          if (reg === undefined || reg >= this.registers.length) {
            this.result('error');
            return;
          }
          if (s[i] === '=') {
            i++;
            const v = num() ?? 0;
            if (v > 255) {
              this.result('error');
              return;
            }
            this.registers[reg] = v;
          } else if (s[i] === '?') {
            i++;
            const v = String(this.registers[reg] ?? 0).padStart(3, '0');
            this.toDte(Buffer.from(`\r\n${v}\r\n`, 'latin1'));
          } else {
            this.result('error');
            return;
          }
          break;
        }
        case 'D': {
          if (this.mode !== 'command') {
            this.result('error');
            return;
          }
          // The rest of the line is the dial string; keep the digits and * #.
          const number = s.slice(i).replace(/[^0-9*#]/g, '');
          this.mode = 'dialing';
          this.exchange.dial(this, number);
          return;
        }
        case 'A':
          num();
          if (this.mode !== 'command') {
            this.result('error');
            return;
          }
          this.mode = 'answering';
          this.exchange.answer(this);
          return;
        case 'H':
          num();
          if (this.mode === 'online-command') this.exchange.hangup(this);
          this.mode = 'command';
          break;
        case 'O':
          num();
          if (this.mode === 'online-command') {
            this.online('');
            return;
          }
          this.result('no-carrier');
          return;
        default:
          // Unknown commands, extended (+...) commands included.
          this.result('error');
          return;
      }
    }
    this.result('ok');
  }

  // Escape sequence -----------------------------------------------------------------------

  /**
   * Hayes escape with guard time: silence ≥ S12, three S2 characters each within S12 of
   * the previous, then silence ≥ S12 → online command mode with OK. The characters are
   * still passed on, as a real modem does.
   */
  private watchEscape(bytes: Buffer): void {
    const t = this.clock();
    const esc = this.registers[2] ?? 43;
    const guard = this.guardMs;
    for (const b of bytes) {
      const isEsc = b === esc;
      if (isEsc && this.plusCount === 0 && t - this.lastRxAt >= guard) {
        this.plusCount = 1;
      } else if (isEsc && this.plusCount > 0 && this.plusCount < 3 && t - this.lastPlusAt < guard) {
        this.plusCount++;
      } else {
        this.plusCount = 0;
      }
      this.lastPlusAt = t;
      this.lastRxAt = t;
    }
    this.clearEscape();
    if (this.plusCount === 3) {
      this.escapeTimer = setTimeout(() => {
        this.escapeTimer = undefined;
        if (this.mode !== 'online' || this.plusCount !== 3) return;
        this.plusCount = 0;
        this.mode = 'online-command';
        this.cmd = '';
        this.result('ok');
      }, guard);
    }
  }

  private clearEscape(): void {
    if (this.escapeTimer) clearTimeout(this.escapeTimer);
    this.escapeTimer = undefined;
  }

  dispose(): void {
    this.clearEscape();
  }
}
