/**
 * Expect/send scripts in the spirit of chat(8), for modems (or login prompts) that the
 * built-in AT sequence does not suit. Sans-I/O: the runner is fed received bytes and
 * time, and polled for port actions, its next deadline and events.
 *
 * Supported: expect/send pairs, `''` (expect nothing), sub-expects `a-send-b`,
 * ABORT / CLR_ABORT, TIMEOUT (seconds), SAY, REPORT, ECHO/HANGUP (accepted, ignored),
 * send escapes \b \c \d \K \n \N \p \q \r \s \t \\ \ddd ^X, BREAK and EOT.
 */
import { err, ok, type Result } from '../ppp/result.js';
import {
  type ConnectInfo,
  type DialFailure,
  LineSplitter,
  type ModemAction,
  parseConnect,
  parseModemLine,
} from './at.js';

/** chat(8)'s default TIMEOUT. */
export const CHAT_DEFAULT_TIMEOUT_MS = 45_000;
/** Longest expect/abort string; chat's own limit is similar. */
const MAX_STRING = 128;
/** Received text kept for matching: enough for the longest string, bounded. */
const WINDOW = 1024;
/** Most bytes held while a send pauses. */
const MAX_HELD = 16 * 1024;

export type SendPart =
  | { readonly kind: 'bytes'; readonly data: Buffer }
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'break' };

export interface SendString {
  readonly parts: readonly SendPart[];
  /** For logs; "??????" when the string holds \q (e.g. a password). */
  readonly display: string;
}

export interface ExpectAlternative {
  /** Empty: do not wait. */
  readonly expect: string;
  /** Sent when `expect` times out and another alternative follows (sub-expect). */
  readonly onTimeout?: SendString;
}

export type ChatStep =
  | { readonly kind: 'abort'; readonly text: string }
  | { readonly kind: 'clear-abort'; readonly text: string }
  | { readonly kind: 'timeout'; readonly ms: number }
  | { readonly kind: 'say'; readonly text: string }
  | { readonly kind: 'report'; readonly text: string }
  | {
      readonly kind: 'expect-send';
      readonly expect: readonly ExpectAlternative[];
      readonly send: SendString | undefined;
    };

export interface ChatScript {
  readonly steps: readonly ChatStep[];
}

const KEYWORDS_WITH_ARG = new Set([
  'ABORT',
  'CLR_ABORT',
  'TIMEOUT',
  'SAY',
  'REPORT',
  'CLR_REPORT',
  'ECHO',
  'HANGUP',
]);

/** Splits a chat script into tokens: whitespace-separated, '…' and "…" quoting, # comments. */
export function tokenizeChat(source: string): Result<string[]> {
  const tokens: string[] = [];
  let i = 0;
  const n = source.length;
  while (i < n) {
    const c = source[i] as string;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < n && source[i] !== '\n') i++;
      continue;
    }
    let tok = '';
    while (i < n) {
      const ch = source[i] as string;
      if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n') break;
      if (ch === "'" || ch === '"') {
        const end = findQuoteEnd(source, i + 1, ch);
        if (end < 0) return err('bad-script', `unterminated ${ch} quote at offset ${i}`);
        tok += source.slice(i + 1, end);
        i = end + 1;
        continue;
      }
      if (ch === '\\' && i + 1 < n) {
        tok += source.slice(i, i + 2);
        i += 2;
        continue;
      }
      tok += ch;
      i++;
    }
    tokens.push(tok);
  }
  return ok(tokens);
}

function findQuoteEnd(s: string, from: number, quote: string): number {
  for (let i = from; i < s.length; i++) {
    if (s[i] === '\\') {
      i++;
      continue;
    }
    if (s[i] === quote) return i;
  }
  return -1;
}

/** Parses a chat script from text (`ABORT BUSY '' ATZ OK ATDT123 CONNECT ''`) or tokens. */
export function parseChatScript(source: string | readonly string[]): Result<ChatScript> {
  let tokens: readonly string[];
  if (typeof source === 'string') {
    const t = tokenizeChat(source);
    if (!t.ok) return t;
    tokens = t.value;
  } else {
    tokens = source;
  }
  const steps: ChatStep[] = [];
  let i = 0;
  while (i < tokens.length) {
    const tok = tokens[i] as string;
    if (KEYWORDS_WITH_ARG.has(tok)) {
      const arg = tokens[i + 1];
      if (arg === undefined) return err('bad-script', `${tok} needs an argument`);
      i += 2;
      switch (tok) {
        case 'ABORT':
        case 'CLR_ABORT': {
          const text = unescapeExpect(arg);
          if (text.length === 0 || text.length > MAX_STRING)
            return err('bad-script', `${tok} string must be 1..${MAX_STRING} characters`);
          steps.push({ kind: tok === 'ABORT' ? 'abort' : 'clear-abort', text });
          break;
        }
        case 'TIMEOUT': {
          const secs = Number(arg);
          if (!Number.isFinite(secs) || secs <= 0 || secs > 86_400)
            return err('bad-script', `TIMEOUT ${arg} is not a number of seconds`);
          steps.push({ kind: 'timeout', ms: Math.round(secs * 1000) });
          break;
        }
        case 'SAY':
          steps.push({ kind: 'say', text: unescapeExpect(arg) });
          break;
        case 'REPORT':
          steps.push({ kind: 'report', text: unescapeExpect(arg) });
          break;
        default:
          // CLR_REPORT, ECHO, HANGUP: accepted for compatibility, nothing to do here.
          break;
      }
      continue;
    }
    const expect = parseExpect(tok);
    if (!expect.ok) return expect;
    const sendTok = tokens[i + 1];
    i += 2;
    steps.push({
      kind: 'expect-send',
      expect: expect.value,
      send: sendTok === undefined ? undefined : parseSend(sendTok),
    });
  }
  return ok({ steps });
}

/** "ogin:-BREAK-ogin:" → expect "ogin:", on timeout send BREAK, expect "ogin:" again. */
function parseExpect(token: string): Result<ExpectAlternative[]> {
  const pieces = splitDashes(token);
  const alts: ExpectAlternative[] = [];
  for (let k = 0; k < pieces.length; k += 2) {
    const expect = unescapeExpect(pieces[k] as string);
    if (expect.length > MAX_STRING)
      return err('bad-script', `expect string over ${MAX_STRING} characters`);
    const sub = pieces[k + 1];
    alts.push(sub === undefined ? { expect } : { expect, onTimeout: parseSend(sub) });
  }
  return ok(alts);
}

/** Splits on '-' except an escaped '\-'. */
function splitDashes(token: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < token.length; i++) {
    const c = token[i] as string;
    if (c === '\\' && token[i + 1] === '-') {
      cur += '-';
      i++;
    } else if (c === '-') {
      out.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  out.push(cur);
  return out;
}

/** Expect-side escapes: \b \n \N \r \s \t \\ \ddd ^X. */
export function unescapeExpect(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '^' && i + 1 < s.length) {
      out += String.fromCharCode((s.charCodeAt(i + 1) & 0x1f) >>> 0);
      i++;
      continue;
    }
    if (c !== '\\' || i + 1 >= s.length) {
      out += c;
      continue;
    }
    const e = s[++i] as string;
    const octal = /^[0-7]{1,3}/.exec(s.slice(i));
    if (octal) {
      out += String.fromCharCode(Number.parseInt(octal[0], 8) & 0xff);
      i += octal[0].length - 1;
      continue;
    }
    out += ESCAPES[e] ?? e;
  }
  return out;
}

const ESCAPES: Readonly<Record<string, string>> = {
  b: '\b',
  n: '\n',
  N: '\0',
  r: '\r',
  s: ' ',
  t: '\t',
  '\\': '\\',
};

/** Send-side string: escapes, \c (no trailing CR), delays, BREAK and EOT. */
export function parseSend(token: string): SendString {
  if (token === 'BREAK') return { parts: [{ kind: 'break' }], display: 'BREAK' };
  if (token === 'EOT')
    return { parts: [{ kind: 'bytes', data: Buffer.from([0x04]) }], display: 'EOT' };
  const parts: SendPart[] = [];
  let text = '';
  let addCr = true;
  let quiet = false;
  const flush = (): void => {
    if (text.length > 0) parts.push({ kind: 'bytes', data: Buffer.from(text, 'latin1') });
    text = '';
  };
  for (let i = 0; i < token.length; i++) {
    const c = token[i] as string;
    if (c === '^' && i + 1 < token.length) {
      text += String.fromCharCode(token.charCodeAt(i + 1) & 0x1f);
      i++;
      continue;
    }
    if (c !== '\\' || i + 1 >= token.length) {
      text += c;
      continue;
    }
    const e = token[++i] as string;
    const octal = /^[0-7]{1,3}/.exec(token.slice(i));
    if (octal) {
      text += String.fromCharCode(Number.parseInt(octal[0], 8) & 0xff);
      i += octal[0].length - 1;
      continue;
    }
    switch (e) {
      case 'c':
        // chat(8): \c at the end suppresses the trailing carriage return.
        if (i === token.length - 1) addCr = false;
        break;
      case 'd':
        flush();
        parts.push({ kind: 'delay', ms: 1000 });
        break;
      case 'p':
        flush();
        parts.push({ kind: 'delay', ms: 100 });
        break;
      case 'K':
        flush();
        parts.push({ kind: 'break' });
        break;
      case 'q':
        quiet = true;
        break;
      default:
        text += ESCAPES[e] ?? e;
    }
  }
  if (addCr) text += '\r';
  flush();
  return { parts, display: quiet ? '??????' : token };
}

export type ChatEvent =
  | { readonly type: 'expect'; readonly text: string }
  | { readonly type: 'send'; readonly text: string }
  | { readonly type: 'line'; readonly text: string }
  | { readonly type: 'say'; readonly text: string }
  | { readonly type: 'report'; readonly text: string }
  | { readonly type: 'done'; readonly connect: ConnectInfo | undefined }
  | { readonly type: 'failed'; readonly reason: DialFailure; readonly detail: string };

type RunState = 'idle' | 'sending' | 'expecting' | 'done' | 'failed';

/**
 * Runs a ChatScript. Poll `pollAction` for writes, `pollTimeout` for the next deadline,
 * `pollEvent` for progress; `finished` tells when it is over (done or failed).
 */
export class ChatRunner {
  private state: RunState = 'idle';
  private stepIndex = 0;
  private timeoutMs: number;
  private readonly aborts: string[] = [];
  private readonly reports: string[] = [];
  private window = '';
  private readonly lines = new LineSplitter();
  private lastConnect: ConnectInfo | undefined;
  private readonly actions: ModemAction[] = [];
  private readonly events: ChatEvent[] = [];
  private deadline: number | undefined;
  /** The current expect-send step: its alternatives, which one is awaited, its send. */
  private alternatives: readonly ExpectAlternative[] = [];
  private altIndex = 0;
  private stepSend: SendString | undefined;
  /** The send in progress and what follows it. */
  private sendQueue: SendPart[] = [];
  private afterSend: 'next-step' | 'expect' = 'next-step';
  /** The script finished inside receive(): report it once the lines are parsed. */
  private doneEvent = false;
  private inReceive = false;
  /** Bytes received while a send was pausing, or after the end. */
  private held: Buffer[] = [];
  private heldBytes = 0;

  constructor(
    private readonly script: ChatScript,
    defaultTimeoutMs: number = CHAT_DEFAULT_TIMEOUT_MS,
  ) {
    this.timeoutMs = defaultTimeoutMs;
  }

  get finished(): boolean {
    return this.state === 'done' || this.state === 'failed';
  }

  start(now: number): void {
    if (this.state !== 'idle') return;
    this.nextStep(now);
  }

  /**
   * Received bytes (command-mode text). While a send is pausing (\d, \p) they are held
   * and matched afterwards, as chat(8) leaves them in the tty until it reads again. Once
   * the script is done, whatever follows belongs to data mode: see takeLeftover().
   */
  receive(bytes: Uint8Array, now: number): void {
    this.inReceive = true;
    let i = 0;
    for (; i < bytes.length; i++) {
      if (this.state === 'done' || this.state === 'failed') break;
      if (this.state === 'sending') {
        this.hold(bytes.subarray(i));
        break;
      }
      if (this.state !== 'expecting') continue;
      // chat(8) strips parity and matches the tail of what it has read while expecting.
      this.window += String.fromCharCode((bytes[i] as number) & 0x7f);
      if (this.window.length > WINDOW) this.window = this.window.slice(-MAX_STRING);
      const abort = this.aborts.find((a) => this.window.endsWith(a));
      if (abort !== undefined) {
        this.fail(abortReason(abort), `aborted on "${printable(abort.trim())}"`);
        continue;
      }
      const want = this.alternatives[this.altIndex]?.expect ?? '';
      if (this.window.endsWith(want)) this.expectMatched(now);
    }
    // Bytes up to where matching stopped were read; the rest is held or is data.
    this.parseLines(bytes.subarray(0, i));
    if (this.state === 'done' && i < bytes.length) this.hold(bytes.subarray(i));
    this.inReceive = false;
    this.emitDone();
  }

  /** Bytes received after the script ended (or during its last pause): data-mode bytes. */
  takeLeftover(): Buffer | undefined {
    if (this.held.length === 0) return undefined;
    const out = Buffer.concat(this.held);
    this.held = [];
    this.heldBytes = 0;
    return out;
  }

  private hold(bytes: Uint8Array): void {
    // Bounded: a modem babbling during a pause cannot grow memory without limit.
    if (this.heldBytes + bytes.length > MAX_HELD) return;
    this.held.push(Buffer.from(bytes));
    this.heldBytes += bytes.length;
  }

  private parseLines(bytes: Uint8Array): void {
    for (const line of this.lines.push(bytes)) {
      this.events.push({ type: 'line', text: line });
      const parsed = parseModemLine(line);
      if (parsed.kind === 'result' && parsed.connect) this.lastConnect = parsed.connect;
      for (const r of this.reports) {
        if (line.startsWith(r)) this.events.push({ type: 'report', text: line });
      }
    }
  }

  handleTimeout(now: number): void {
    if (this.deadline === undefined || now < this.deadline) return;
    this.deadline = undefined;
    if (this.state === 'sending') {
      this.pumpSend(now);
      return;
    }
    if (this.state !== 'expecting') return;
    const alt = this.alternatives[this.altIndex];
    if (alt?.onTimeout && this.altIndex + 1 < this.alternatives.length) {
      // Sub-expect: send the alternative, then expect the next string.
      this.altIndex++;
      this.startSend(alt.onTimeout, 'expect', now);
      return;
    }
    this.fail('timeout', `timed out waiting for "${printable(alt?.expect ?? '')}"`);
  }

  /** Stop early (hang-up or close requested). */
  cancel(): void {
    if (this.finished) return;
    this.fail('cancelled', 'chat script cancelled');
  }

  pollTimeout(): number | undefined {
    return this.finished ? undefined : this.deadline;
  }

  pollAction(): ModemAction | undefined {
    return this.actions.shift();
  }

  pollEvent(): ChatEvent | undefined {
    return this.events.shift();
  }

  private nextStep(now: number): void {
    while (this.stepIndex < this.script.steps.length) {
      const step = this.script.steps[this.stepIndex++] as ChatStep;
      switch (step.kind) {
        case 'abort':
          if (!this.aborts.includes(step.text)) this.aborts.push(step.text);
          break;
        case 'clear-abort': {
          const k = this.aborts.indexOf(step.text);
          if (k >= 0) this.aborts.splice(k, 1);
          break;
        }
        case 'timeout':
          this.timeoutMs = step.ms;
          break;
        case 'say':
          this.events.push({ type: 'say', text: step.text });
          break;
        case 'report':
          this.reports.push(step.text);
          break;
        case 'expect-send':
          this.alternatives = step.expect;
          this.altIndex = 0;
          this.stepSend = step.send;
          this.startExpect(now);
          return;
      }
    }
    this.state = 'done';
    this.deadline = undefined;
    this.doneEvent = true;
    if (!this.inReceive) this.emitDone();
  }

  private emitDone(): void {
    if (!this.doneEvent) return;
    this.doneEvent = false;
    // A script ending on CONNECT matches before the rest of the line ("115200/ARQ") is
    // read: complete that line from what followed (it still goes on to data mode).
    let connect = this.lastConnect;
    const pending = this.lines.pending;
    if (pending.length > 0) {
      const rest = Buffer.concat(this.held).toString('latin1');
      const end = rest.search(/[\r\n]/);
      const line = pending + (end >= 0 ? rest.slice(0, end) : rest);
      connect = parseConnect(line) ?? connect;
      for (const r of this.reports) {
        if (line.startsWith(r)) this.events.push({ type: 'report', text: line });
      }
    }
    this.events.push({ type: 'done', connect });
  }

  private startExpect(now: number): void {
    const alt = this.alternatives[this.altIndex];
    if (alt === undefined || alt.expect.length === 0) {
      this.expectMatched(now);
      return;
    }
    this.state = 'expecting';
    this.window = '';
    this.deadline = now + this.timeoutMs;
    this.events.push({ type: 'expect', text: printable(alt.expect) });
  }

  private expectMatched(now: number): void {
    this.deadline = undefined;
    this.window = '';
    const send = this.stepSend;
    this.stepSend = undefined;
    if (send) this.startSend(send, 'next-step', now);
    else this.nextStep(now);
  }

  private startSend(send: SendString, then: 'next-step' | 'expect', now: number): void {
    this.state = 'sending';
    this.events.push({ type: 'send', text: send.display });
    this.sendQueue = [...send.parts];
    this.afterSend = then;
    this.pumpSend(now);
  }

  private pumpSend(now: number): void {
    while (this.sendQueue.length > 0) {
      const part = this.sendQueue.shift() as SendPart;
      if (part.kind === 'bytes') this.actions.push({ type: 'write', data: part.data });
      else if (part.kind === 'break') this.actions.push({ type: 'break' });
      else {
        this.deadline = now + part.ms;
        return;
      }
    }
    if (this.afterSend === 'expect') this.startExpect(now);
    else this.nextStep(now);
    if (this.state === 'expecting' && this.heldBytes > 0 && !this.inReceive) {
      // Match what arrived during the pause.
      const held = this.takeLeftover() as Buffer;
      this.receive(held, now);
    }
  }

  private fail(reason: DialFailure, detail: string): void {
    this.state = 'failed';
    this.deadline = undefined;
    this.sendQueue = [];
    this.events.push({ type: 'failed', reason, detail });
  }
}

/** An ABORT string that is a result code maps to that failure ("BUSY" → busy). */
function abortReason(text: string): DialFailure {
  const parsed = parseModemLine(text.trim());
  if (parsed.kind === 'result') {
    switch (parsed.code) {
      case 'busy':
      case 'no-carrier':
      case 'no-dialtone':
      case 'no-answer':
      case 'error':
        return parsed.code;
      default:
        break;
    }
  }
  return 'abort';
}

function printable(s: string): string {
  let out = '';
  for (const c of s) {
    const code = c.charCodeAt(0);
    if (c === '\r') out += '\\r';
    else if (c === '\n') out += '\\n';
    else if (code < 0x20) out += `^${String.fromCharCode(code + 64)}`;
    else out += c;
  }
  return out;
}
