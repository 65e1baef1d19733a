/**
 * Hayes AT result codes: the line splitter and the parser of what a modem says in
 * command mode. Shared by the AT engine (modem.ts), chat scripts (chat.ts) and the
 * modem simulator. Pure functions; nothing here throws.
 */

/** The result codes of the Hayes command set (V.250 §5.7.1), as data. */
export type ResultCode =
  | 'ok'
  | 'connect'
  | 'ring'
  | 'no-carrier'
  | 'error'
  | 'no-dialtone'
  | 'busy'
  | 'no-answer';

/** Verbose (V1) text of each result code, as a modem prints it. */
export const RESULT_TEXT: Readonly<Record<ResultCode, string>> = {
  ok: 'OK',
  connect: 'CONNECT',
  ring: 'RING',
  'no-carrier': 'NO CARRIER',
  error: 'ERROR',
  'no-dialtone': 'NO DIALTONE',
  busy: 'BUSY',
  'no-answer': 'NO ANSWER',
};

/** Numeric (V0) form of each result code (V.250 Table 1 and Hayes' extensions 6-8). */
export const RESULT_NUMBER: Readonly<Record<ResultCode, number>> = {
  ok: 0,
  connect: 1,
  ring: 2,
  'no-carrier': 3,
  error: 4,
  'no-dialtone': 6,
  busy: 7,
  'no-answer': 8,
};

const VERBOSE: ReadonlyMap<string, ResultCode> = new Map<string, ResultCode>([
  ['OK', 'ok'],
  ['RING', 'ring'],
  ['NO CARRIER', 'no-carrier'],
  ['ERROR', 'error'],
  ['NO DIALTONE', 'no-dialtone'],
  ['NO DIAL TONE', 'no-dialtone'],
  ['BUSY', 'busy'],
  ['NO ANSWER', 'no-answer'],
]);

/** Hayes numeric codes; 5 and 10+ are CONNECT at a given speed (X1 and above). */
const NUMERIC: ReadonlyMap<string, { code: ResultCode; speed?: number }> = new Map([
  ['0', { code: 'ok' as ResultCode }],
  ['1', { code: 'connect' as ResultCode }],
  ['2', { code: 'ring' as ResultCode }],
  ['3', { code: 'no-carrier' as ResultCode }],
  ['4', { code: 'error' as ResultCode }],
  ['5', { code: 'connect' as ResultCode, speed: 1200 }],
  ['6', { code: 'no-dialtone' as ResultCode }],
  ['7', { code: 'busy' as ResultCode }],
  ['8', { code: 'no-answer' as ResultCode }],
  ['10', { code: 'connect' as ResultCode, speed: 2400 }],
  ['11', { code: 'connect' as ResultCode, speed: 4800 }],
  ['12', { code: 'connect' as ResultCode, speed: 9600 }],
]);

export interface ConnectInfo {
  /** Line (or DTE) speed in bit/s from "CONNECT <speed>", when the modem gave one. */
  readonly speed: number | undefined;
  /** What followed the speed: error correction / compression, e.g. ["ARQ", "V42"]. */
  readonly protocols: readonly string[];
  /** The CONNECT line as received. */
  readonly text: string;
}

export type ModemLine =
  | {
      readonly kind: 'result';
      readonly code: ResultCode;
      readonly text: string;
      readonly connect?: ConnectInfo;
    }
  /** The modem echoing a command back (E1). */
  | { readonly kind: 'echo'; readonly text: string }
  /** Anything else: ATI output, "CARRIER 28800", "PROTOCOL: LAPM", noise. */
  | { readonly kind: 'info'; readonly text: string };

/**
 * Parses "CONNECT", "CONNECT 115200", "CONNECT 115200/ARQ/V42", "CONNECT 33600/V34/LAPM/V42BIS",
 * "CONNECT 115200 V42bis". Returns undefined when the line is not a CONNECT.
 */
export function parseConnect(line: string): ConnectInfo | undefined {
  const text = line.trim();
  const m = /^CONNECT(?:\s+(\d{1,9}))?(?:[\s/]+(.*))?$/i.exec(text);
  if (!m) return undefined;
  const speed = m[1] === undefined ? undefined : Number.parseInt(m[1], 10);
  const protocols = (m[2] ?? '').split(/[\s/]+/).filter((p) => p.length > 0);
  return { speed, protocols, text };
}

/** Classifies one line from the modem. */
export function parseModemLine(line: string): ModemLine {
  const text = line.trim();
  if (/^AT/i.test(text) || text === 'A/' || text.startsWith('+++')) return { kind: 'echo', text };
  const connect = parseConnect(text);
  if (connect) return { kind: 'result', code: 'connect', text, connect };
  const verbose = VERBOSE.get(text.toUpperCase());
  if (verbose) return { kind: 'result', code: verbose, text };
  const numeric = NUMERIC.get(text);
  if (numeric) {
    if (numeric.code === 'connect') {
      return {
        kind: 'result',
        code: 'connect',
        text,
        connect: { speed: numeric.speed, protocols: [], text },
      };
    }
    return { kind: 'result', code: numeric.code, text };
  }
  return { kind: 'info', text };
}

/** Formats a result code as a modem prints it: "\r\nOK\r\n" (V1) or "0\r" (V0). */
export function formatResult(code: ResultCode, verbose: boolean, suffix = ''): string {
  if (!verbose) return `${RESULT_NUMBER[code]}\r`;
  return `\r\n${RESULT_TEXT[code]}${suffix}\r\n`;
}

/**
 * Splits the modem's output into lines at CR or LF; empty lines are skipped. A line
 * longer than `maxLine` is cut there, so a babbling line cannot grow memory.
 */
export class LineSplitter {
  private partial = '';

  constructor(private readonly maxLine = 256) {}

  /** Feeds bytes; returns the complete lines they finished. */
  push(bytes: Uint8Array): string[] {
    const lines: string[] = [];
    let cur = this.partial;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i] as number;
      if (b === 0x0d || b === 0x0a) {
        if (cur.length > 0) lines.push(cur);
        cur = '';
        continue;
      }
      // Modems speak 7-bit ASCII; other octets (line noise, parity) become '?'.
      cur += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : b === 0x09 ? ' ' : '?';
      if (cur.length >= this.maxLine) {
        lines.push(cur);
        cur = '';
      }
    }
    this.partial = cur;
    return lines;
  }

  /** The unterminated text so far (a prompt like "login:" has no line end). */
  get pending(): string {
    return this.partial;
  }

  clear(): void {
    this.partial = '';
  }
}

/** Characters a dial string may hold: digits and the usual Hayes dial modifiers. */
const DIAL_STRING = /^[0-9*#,;WwPpTt@!+\-() ]{1,64}$/;

/** True when `number` is safe to append to ATD (no way to smuggle another command). */
export function isDialString(number: string): boolean {
  return DIAL_STRING.test(number);
}

/** What a dialler asks its driver to do to the port. */
export type ModemAction =
  | { readonly type: 'write'; readonly data: Buffer }
  /** Raise or drop DTR (hang-up by DTR drop with AT&D2). */
  | { readonly type: 'dtr'; readonly value: boolean }
  /** Send a break (chat's \K and BREAK). */
  | { readonly type: 'break' };

/** Why dialling, answering or a chat script did not reach data mode. */
export type DialFailure =
  | 'busy'
  | 'no-carrier'
  | 'no-dialtone'
  | 'no-answer'
  | 'error'
  | 'timeout'
  /** A chat ABORT string matched that is not a result code. */
  | 'abort'
  /** The dialler was stopped (hang-up or close before CONNECT). */
  | 'cancelled';

/** Maps a failing result code to the failure it means. */
export function failureOf(code: ResultCode): DialFailure | undefined {
  switch (code) {
    case 'busy':
    case 'no-carrier':
    case 'no-dialtone':
    case 'no-answer':
    case 'error':
      return code;
    default:
      return undefined;
  }
}
