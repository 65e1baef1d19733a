/**
 * The Hayes AT engine: initialise a modem, dial out or answer, reach data mode, and hang
 * up again. Sans-I/O in the quinn-proto manner: it is fed the modem's bytes and the time
 * (`receive`, `handleTimeout`), and polled for what to do to the port (`pollAction`:
 * write bytes, set DTR), when to wake (`pollTimeout`) and what happened (`pollEvent`).
 * The serial link (serial-link.ts) is its driver.
 *
 * In data mode the engine steps aside: the bytes are PPP's, and the link watches for
 * carrier loss. Hang-up is by DTR drop (modems set to AT&D2 go on-hook), then — if the
 * modem still answers in data mode — the escape sequence with its guard times and ATH0.
 */
import {
  type ConnectInfo,
  type DialFailure,
  failureOf,
  isDialString,
  LineSplitter,
  type ModemAction,
  type ModemLine,
  parseModemLine,
  type ResultCode,
} from './at.js';
import { CHAT_DEFAULT_TIMEOUT_MS, ChatRunner, type ChatScript, parseChatScript } from './chat.js';

/**
 * pppd/chat users expect a reset, then a factory profile with echo off, verbose results,
 * DCD following the carrier (&C1) and DTR drop hanging up (&D2).
 */
export const DEFAULT_INIT: readonly string[] = ['ATZ', 'AT&F E0 V1 Q0 &C1 &D2'];

export interface ModemTimeouts {
  /** Each init command, the escape sequence's OK, ATH0. */
  readonly commandMs: number;
  /** ATD until CONNECT (S7 is 50 s on most modems; allow for dialling itself). */
  readonly dialMs: number;
  /** Answer mode: waiting for the first RING; 0 waits for ever. */
  readonly ringWaitMs: number;
  /** Answer mode: from ATA (or the first RING when auto-answering) until CONNECT. */
  readonly answerMs: number;
  /** How long DTR is held low to hang up. */
  readonly dtrDropMs: number;
}

export const DEFAULT_TIMEOUTS: ModemTimeouts = {
  commandMs: 5_000,
  dialMs: 90_000,
  ringWaitMs: 0,
  answerMs: 60_000,
  dtrDropMs: 500,
};

export interface ModemConfig {
  /** Dial out, or wait for calls. */
  readonly role: 'dial' | 'answer';
  /** Dial: the number (digits and dial modifiers such as , W * #). */
  readonly number?: string;
  /** Dial: ATDT (tone, default) or ATDP (pulse). */
  readonly dialMethod?: 'tone' | 'pulse';
  /** Init commands, each answered by OK; default DEFAULT_INIT. */
  readonly init?: readonly string[];
  /** Answer: answer with ATA after this many RINGs (default 1). */
  readonly answerAfterRings?: number;
  /** Answer: let the modem answer by itself after n rings (ATS0=n) instead of ATA. */
  readonly autoAnswerRings?: number;
  /** A chat(8)-style script that replaces init + dial/answer. */
  readonly chat?: string | readonly string[] | ChatScript;
  /** The chat script's TIMEOUT until it sets one (seconds in the script; ms here). */
  readonly chatTimeoutMs?: number;
  readonly timeouts?: Partial<ModemTimeouts>;
  /** Escape guard time (S12, default 50 × 20 ms = 1 s) before and after "+++". */
  readonly guardTimeMs?: number;
  /** Escape character (S2, default '+'). */
  readonly escapeChar?: string;
  /** A RING arriving more than this after the previous one starts a new count. */
  readonly ringResetMs?: number;
}

export type ModemPhase =
  | 'idle'
  | 'init'
  | 'chat'
  | 'dialing'
  | 'waiting-ring'
  | 'answering'
  | 'data'
  | 'hanging-up'
  | 'on-hook'
  | 'failed';

/** How a hang-up ended. */
export type HangupHow = 'dtr' | 'escape' | 'command';

export type ModemEvent =
  | { readonly type: 'phase'; readonly phase: ModemPhase; readonly previous: ModemPhase }
  /** A command written to the modem (for logs). */
  | { readonly type: 'sent'; readonly text: string }
  /** A line the modem printed in command mode. */
  | { readonly type: 'line'; readonly line: ModemLine }
  | { readonly type: 'ring'; readonly count: number }
  | { readonly type: 'connected'; readonly connect: ConnectInfo }
  | { readonly type: 'failed'; readonly reason: DialFailure; readonly detail: string }
  /** Hang-up finished; `clean` is false when the modem never confirmed it. */
  | { readonly type: 'on-hook'; readonly how: HangupHow; readonly clean: boolean }
  /** SAY / REPORT output of a chat script, and other notes worth a log line. */
  | { readonly type: 'info'; readonly text: string };

export interface HangupOptions {
  /** Try DTR drop first (the driver reports `dtrUnsupported` if the port cannot). */
  readonly dtr?: boolean;
  /** The carrier is already gone (NO CARRIER seen / DCD low): the modem is in command mode. */
  readonly carrierLost?: boolean;
}

type HangStep = 'dtr-low' | 'probe' | 'guard' | 'escape' | 'ath' | 's0';

const INIT_OK: ReadonlySet<ResultCode> = new Set(['ok']);

/** Validates a modem configuration; returns a readable problem or undefined. */
export function checkModemConfig(config: ModemConfig): string | undefined {
  if (config.role === 'dial') {
    if (config.chat === undefined && (config.number === undefined || !isDialString(config.number)))
      return 'dial needs a number made of digits and dial modifiers (0-9 * # , W P T @ ! + - ( ) space)';
  }
  if (
    config.answerAfterRings !== undefined &&
    !(config.answerAfterRings >= 1 && config.answerAfterRings <= 255)
  )
    return 'answerAfterRings must be 1..255';
  if (
    config.autoAnswerRings !== undefined &&
    !(config.autoAnswerRings >= 0 && config.autoAnswerRings <= 255)
  )
    return 'autoAnswerRings must be 0..255';
  for (const s of config.init ?? []) {
    if (/[\r\n]/.test(s)) return `init string ${JSON.stringify(s)} must not contain CR or LF`;
  }
  if (typeof config.chat === 'string' || Array.isArray(config.chat)) {
    const parsed = parseChatScript(config.chat as string | readonly string[]);
    if (!parsed.ok) return `chat script: ${parsed.error.reason}`;
  }
  if (config.escapeChar !== undefined && config.escapeChar.length !== 1)
    return 'escapeChar must be one character';
  return undefined;
}

export class ModemEngine {
  private phaseValue: ModemPhase = 'idle';
  private readonly lines = new LineSplitter();
  private readonly actions: ModemAction[] = [];
  private readonly events: ModemEvent[] = [];
  private deadline: number | undefined;
  private readonly timeouts: ModemTimeouts;
  private readonly init: readonly string[];
  private initIndex = 0;
  private rings = 0;
  private lastRingAt: number | undefined;
  private readonly guardTimeMs: number;
  private readonly escape: string;
  private readonly chatScript: ChatScript | undefined;
  private chat: ChatRunner | undefined;
  private hangStep: HangStep | undefined;
  private hangHow: HangupHow = 'command';
  /** The modem is dialling or handshaking: any character aborts that. */
  private abortable = false;
  private dataLeftover: Buffer | undefined;

  constructor(readonly config: ModemConfig) {
    const problem = checkModemConfig(config);
    if (problem) throw new RangeError(problem);
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...config.timeouts };
    const init = [...(config.init ?? DEFAULT_INIT)];
    if (config.role === 'answer') {
      // Auto-answer is the modem's own S0 register; manual answer keeps it off so the
      // modem does not pick up before we say ATA.
      init.push(`ATS0=${config.autoAnswerRings ?? 0}`);
    }
    if (config.guardTimeMs !== undefined) {
      // Tell the modem the guard time we keep (S12 counts fiftieths of a second).
      init.push(`ATS12=${Math.max(1, Math.min(255, Math.round(config.guardTimeMs / 20)))}`);
    }
    this.init = init;
    this.guardTimeMs = config.guardTimeMs ?? 1000;
    this.escape = (config.escapeChar ?? '+').repeat(3);
    if (config.chat !== undefined) {
      if (typeof config.chat === 'string' || Array.isArray(config.chat)) {
        const parsed = parseChatScript(config.chat as string | readonly string[]);
        // checkModemConfig has already rejected a script that does not parse.
        this.chatScript = parsed.ok ? parsed.value : { steps: [] };
      } else {
        this.chatScript = config.chat as ChatScript;
      }
    }
  }

  get phase(): ModemPhase {
    return this.phaseValue;
  }

  /** Begin init and dial/answer. */
  start(now: number): void {
    if (this.phaseValue !== 'idle') return;
    if (this.chatScript) {
      this.setPhase('chat');
      this.chat = new ChatRunner(
        this.chatScript,
        this.config.chatTimeoutMs ?? CHAT_DEFAULT_TIMEOUT_MS,
      );
      this.chat.start(now);
      this.drainChat();
      return;
    }
    this.setPhase('init');
    this.initIndex = 0;
    this.sendInit(now);
  }

  /**
   * Bytes from the port while not in data mode. When CONNECT ends command mode part-way
   * through `bytes`, the rest is the peer's first data: collect it with takeData().
   */
  receive(bytes: Uint8Array, now: number): void {
    const p = this.phaseValue;
    if (p === 'idle' || p === 'on-hook' || p === 'failed' || p === 'data') return;
    if (p === 'chat' && this.chat) {
      this.chat.receive(bytes, now);
      this.drainChat();
      return;
    }
    let start = 0;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i] as number;
      if (b !== 0x0d && b !== 0x0a) continue;
      for (const text of this.lines.push(bytes.subarray(start, i + 1))) {
        const line = parseModemLine(text);
        this.events.push({ type: 'line', line });
        if (line.kind === 'result') this.onResult(line.code, line.connect, now);
      }
      start = i + 1;
      if (this.phaseValue === 'data') {
        if (start < bytes.length) this.dataLeftover = Buffer.from(bytes.subarray(start));
        return;
      }
    }
    this.lines.push(bytes.subarray(start));
  }

  /** Bytes that arrived with the CONNECT but belong to data mode (once, after 'connected'). */
  takeData(): Buffer | undefined {
    const d = this.dataLeftover;
    this.dataLeftover = undefined;
    return d;
  }

  handleTimeout(now: number): void {
    if (this.phaseValue === 'chat' && this.chat) {
      this.chat.handleTimeout(now);
      this.drainChat();
      return;
    }
    if (this.deadline === undefined || now < this.deadline) return;
    this.deadline = undefined;
    switch (this.phaseValue) {
      case 'init':
        this.fail('timeout', `no OK to ${this.init[this.initIndex] ?? 'init'}`);
        return;
      case 'dialing':
        // Any character aborts a dial in progress (V.250 §6.3.1).
        this.write('\r');
        this.fail('timeout', `no CONNECT within ${this.timeouts.dialMs} ms of dialling`);
        return;
      case 'waiting-ring':
        if (this.rings > 0) {
          // Auto-answer: rang, but the modem never connected.
          this.write('\r');
          this.fail('timeout', `no CONNECT within ${this.timeouts.answerMs} ms of the first RING`);
        } else {
          this.fail('timeout', `no RING within ${this.timeouts.ringWaitMs} ms`);
        }
        return;
      case 'answering':
        this.write('\r');
        this.fail('timeout', `no CONNECT within ${this.timeouts.answerMs} ms of ATA`);
        return;
      case 'hanging-up':
        this.hangupTimeout(now);
        return;
      default:
        return;
    }
  }

  /**
   * Hang up from any phase. From data mode: DTR drop (when `dtr`), else or then the
   * escape sequence and ATH0. From command mode: ATH0.
   */
  hangup(now: number, options: HangupOptions = {}): void {
    const p = this.phaseValue;
    if (p === 'hanging-up' || p === 'on-hook') return;
    if (p === 'idle') {
      this.setPhase('on-hook');
      this.events.push({ type: 'on-hook', how: 'command', clean: true });
      return;
    }
    const wasChat = p === 'chat';
    this.chat?.cancel();
    this.drainChat();
    this.setPhase('hanging-up');
    this.lines.clear();
    if (options.carrierLost) {
      this.hangHow = 'command';
      this.startHangStep('ath', now);
    } else if (p === 'data' || wasChat) {
      // A chat script may have ended in (or left the modem in) data mode.
      if (options.dtr) {
        this.hangHow = 'dtr';
        this.startHangStep('dtr-low', now);
      } else {
        this.hangHow = 'escape';
        this.startHangStep('guard', now);
      }
    } else {
      if (this.abortable) this.write('\r');
      this.hangHow = 'command';
      this.startHangStep('ath', now);
    }
  }

  /** The driver could not change DTR (a pty, a port without modem control). */
  dtrUnsupported(now: number): void {
    if (this.phaseValue === 'hanging-up' && this.hangStep === 'dtr-low') {
      this.hangHow = 'escape';
      this.startHangStep('guard', now);
    }
  }

  pollTimeout(): number | undefined {
    if (this.phaseValue === 'chat' && this.chat) return this.chat.pollTimeout();
    return this.deadline;
  }

  pollAction(): ModemAction | undefined {
    return this.actions.shift();
  }

  pollEvent(): ModemEvent | undefined {
    return this.events.shift();
  }

  // -------------------------------------------------------------------------------------

  private setPhase(phase: ModemPhase): void {
    if (phase === this.phaseValue) return;
    const previous = this.phaseValue;
    this.phaseValue = phase;
    this.events.push({ type: 'phase', phase, previous });
  }

  private write(text: string): void {
    this.actions.push({ type: 'write', data: Buffer.from(text, 'latin1') });
  }

  private command(text: string, now: number, timeoutMs: number): void {
    this.write(`${text}\r`);
    this.events.push({ type: 'sent', text });
    this.deadline = timeoutMs > 0 ? now + timeoutMs : undefined;
  }

  private sendInit(now: number): void {
    const cmd = this.init[this.initIndex];
    if (cmd === undefined) {
      this.afterInit(now);
      return;
    }
    this.command(cmd, now, this.timeouts.commandMs);
  }

  private afterInit(now: number): void {
    if (this.config.role === 'dial') {
      this.setPhase('dialing');
      this.abortable = true;
      const method = this.config.dialMethod === 'pulse' ? 'P' : 'T';
      this.command(`ATD${method}${this.config.number ?? ''}`, now, this.timeouts.dialMs);
      return;
    }
    this.setPhase('waiting-ring');
    this.rings = 0;
    this.deadline = this.timeouts.ringWaitMs > 0 ? now + this.timeouts.ringWaitMs : undefined;
  }

  private onResult(code: ResultCode, connect: ConnectInfo | undefined, now: number): void {
    switch (this.phaseValue) {
      case 'init':
        if (INIT_OK.has(code)) {
          this.initIndex++;
          this.sendInit(now);
        } else if (code === 'error') {
          this.fail('error', `ERROR to ${this.init[this.initIndex] ?? 'init'}`);
        }
        // RING or a stale NO CARRIER while initialising: not an answer to the command.
        return;
      case 'dialing':
      case 'answering':
        if (code === 'connect') {
          this.connected(connect, now);
          return;
        }
        {
          const failure = failureOf(code);
          if (failure) {
            this.abortable = false;
            this.fail(failure, `${this.phaseValue === 'dialing' ? 'dial' : 'answer'}: ${code}`);
          }
        }
        return;
      case 'waiting-ring':
        if (code === 'ring') {
          this.ring(now);
          return;
        }
        if (code === 'connect') {
          // Auto-answer (S0) connected, or a modem whose stored profile answers itself.
          this.connected(connect, now);
          return;
        }
        if (code === 'no-carrier' && this.rings > 0) {
          // The handshake of an auto-answered call failed, or the caller gave up.
          this.fail('no-carrier', 'answer: no-carrier');
        }
        return;
      case 'hanging-up':
        this.hangupResult(code, now);
        return;
      default:
        return;
    }
  }

  private ring(now: number): void {
    const reset = this.config.ringResetMs ?? 10_000;
    if (this.lastRingAt !== undefined && now - this.lastRingAt > reset) this.rings = 0;
    this.lastRingAt = now;
    this.rings++;
    this.events.push({ type: 'ring', count: this.rings });
    const auto = this.config.autoAnswerRings ?? 0;
    if (auto > 0) {
      if (this.rings === 1) this.deadline = now + this.timeouts.answerMs;
      return;
    }
    if (this.rings >= (this.config.answerAfterRings ?? 1)) {
      this.setPhase('answering');
      this.abortable = true;
      this.command('ATA', now, this.timeouts.answerMs);
    }
  }

  private connected(connect: ConnectInfo | undefined, _now: number): void {
    this.abortable = false;
    this.deadline = undefined;
    this.lines.clear();
    this.setPhase('data');
    this.events.push({
      type: 'connected',
      connect: connect ?? { speed: undefined, protocols: [], text: 'CONNECT' },
    });
  }

  private fail(reason: DialFailure, detail: string): void {
    this.deadline = undefined;
    this.abortable = false;
    this.setPhase('failed');
    this.events.push({ type: 'failed', reason, detail });
  }

  private drainChat(): void {
    const chat = this.chat;
    if (!chat) return;
    for (let a = chat.pollAction(); a; a = chat.pollAction()) this.actions.push(a);
    for (let e = chat.pollEvent(); e; e = chat.pollEvent()) {
      switch (e.type) {
        case 'send':
          this.events.push({ type: 'sent', text: e.text });
          break;
        case 'line':
          this.events.push({ type: 'line', line: parseModemLine(e.text) });
          break;
        case 'say':
        case 'report':
          this.events.push({ type: 'info', text: e.text });
          break;
        case 'expect':
          break;
        case 'done':
          this.dataLeftover = chat.takeLeftover();
          this.chat = undefined;
          this.connected(e.connect, 0);
          break;
        case 'failed':
          this.chat = undefined;
          if (this.phaseValue === 'chat') this.fail(e.reason, `chat: ${e.detail}`);
          break;
      }
    }
  }

  // Hang-up ------------------------------------------------------------------------------

  private startHangStep(step: HangStep, now: number): void {
    this.hangStep = step;
    switch (step) {
      case 'dtr-low':
        this.actions.push({ type: 'dtr', value: false });
        this.deadline = now + this.timeouts.dtrDropMs;
        return;
      case 'probe':
        // Is the modem in command mode after the DTR drop? Waiting for the answer also
        // provides the guard time the escape sequence needs if it is not.
        this.command('AT', now, this.guardTimeMs + 200);
        return;
      case 'guard':
        // Hayes escape: silence for the guard time before "+++" (the link has stopped
        // sending and drained its queue before asking to hang up).
        this.deadline = now + this.guardTimeMs;
        return;
      case 'escape':
        this.write(this.escape);
        this.events.push({ type: 'sent', text: this.escape });
        // The modem answers OK only after the guard time following the escape.
        this.deadline = now + this.guardTimeMs + this.timeouts.commandMs;
        return;
      case 'ath':
        this.command('ATH0', now, this.timeouts.commandMs);
        return;
      case 's0':
        this.command('ATS0=0', now, this.timeouts.commandMs);
        return;
    }
  }

  private hangupResult(code: ResultCode, now: number): void {
    switch (this.hangStep) {
      case 'dtr-low':
        if (code === 'no-carrier' || code === 'ok') {
          // The modem went on-hook on DTR (AT&D2). Raise DTR and confirm with ATH0.
          this.actions.push({ type: 'dtr', value: true });
          this.startHangStep('ath', now);
        }
        return;
      case 'probe':
      case 'escape':
        if (code === 'ok' || code === 'no-carrier') this.startHangStep('ath', now);
        return;
      case 'ath':
        if (code === 'ok' || code === 'no-carrier' || code === 'error')
          this.afterAth(now, code !== 'error');
        return;
      case 's0':
        if (code === 'ok' || code === 'error') this.finishHangup(true);
        return;
      default:
        return;
    }
  }

  private hangupTimeout(now: number): void {
    switch (this.hangStep) {
      case 'dtr-low':
        this.actions.push({ type: 'dtr', value: true });
        this.startHangStep('probe', now);
        return;
      case 'probe':
        this.hangHow = 'escape';
        this.startHangStep('escape', now);
        return;
      case 'guard':
        this.startHangStep('escape', now);
        return;
      case 'escape':
        // No OK: perhaps already in command mode; ATH0 costs nothing.
        this.startHangStep('ath', now);
        return;
      case 'ath':
        this.afterAth(now, false);
        return;
      case 's0':
        this.finishHangup(false);
        return;
      default:
        return;
    }
  }

  private afterAth(now: number, clean: boolean): void {
    if (!clean) {
      this.finishHangup(false);
      return;
    }
    if ((this.config.autoAnswerRings ?? 0) > 0) {
      // Do not leave the modem answering calls nobody is listening for.
      this.startHangStep('s0', now);
      return;
    }
    this.finishHangup(true);
  }

  private finishHangup(clean: boolean): void {
    this.deadline = undefined;
    this.hangStep = undefined;
    this.setPhase('on-hook');
    this.events.push({ type: 'on-hook', how: this.hangHow, clean });
  }
}
