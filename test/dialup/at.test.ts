import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatResult,
  isDialString,
  LineSplitter,
  parseConnect,
  parseModemLine,
  RESULT_TEXT,
  type ResultCode,
} from '../../src/dialup/at.js';

describe('CONNECT parsing', () => {
  it.each([
    ['CONNECT 115200/ARQ/V42', 115200, ['ARQ', 'V42']],
    ['CONNECT 33600/V34/LAPM/V42BIS', 33600, ['V34', 'LAPM', 'V42BIS']],
    ['CONNECT 115200 V42bis', 115200, ['V42bis']],
    ['CONNECT 9600', 9600, []],
    ['CONNECT', undefined, []],
    ['connect 2400/REL', 2400, ['REL']],
  ])('reads %s as speed %s and protocols %j', (line, speed, protocols) => {
    expect(parseConnect(line)).toEqual({ speed, protocols, text: line });
  });

  it('does not take other lines for CONNECT', () => {
    expect(parseConnect('CONNECTED')).toBeUndefined();
    expect(parseConnect('NO CARRIER')).toBeUndefined();
  });
});

describe('modem line classification', () => {
  const codes = Object.keys(RESULT_TEXT) as ResultCode[];

  it.each(codes)('recognises the verbose result %s', (code) => {
    const line = parseModemLine(RESULT_TEXT[code]);
    expect(line).toMatchObject({ kind: 'result', code });
  });

  it.each(codes)('recognises the numeric result of %s', (code) => {
    const text = formatResult(code, false).trim();
    expect(parseModemLine(text)).toMatchObject({ kind: 'result', code });
  });

  it('reads numeric CONNECT codes with their speed', () => {
    expect(parseModemLine('10')).toMatchObject({
      kind: 'result',
      code: 'connect',
      connect: { speed: 2400 },
    });
  });

  it('accepts "NO DIAL TONE" spelled with a space', () => {
    expect(parseModemLine('NO DIAL TONE')).toMatchObject({ kind: 'result', code: 'no-dialtone' });
  });

  it('treats a command echo as echo, not as its result', () => {
    expect(parseModemLine('ATDT555OK')).toEqual({ kind: 'echo', text: 'ATDT555OK' });
    expect(parseModemLine('at&f')).toEqual({ kind: 'echo', text: 'at&f' });
  });

  it('treats anything else as information', () => {
    expect(parseModemLine('CARRIER 28800')).toEqual({ kind: 'info', text: 'CARRIER 28800' });
  });

  it('formats verbose results between CR LF pairs and numeric ones ending in CR', () => {
    expect(formatResult('ok', true)).toBe('\r\nOK\r\n');
    expect(formatResult('connect', true, ' 115200')).toBe('\r\nCONNECT 115200\r\n');
    expect(formatResult('busy', false)).toBe('7\r');
  });
});

describe('line splitter', () => {
  it('splits lines identically whatever the chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('OK', 'RING', 'CONNECT 9600', 'ATZ', 'garbage'), {
          maxLength: 10,
        }),
        fc.array(fc.nat(200), { maxLength: 10 }),
        (lines, cuts) => {
          const text = Buffer.from(lines.map((l) => `\r\n${l}\r\n`).join(''));
          const s = new LineSplitter();
          const out: string[] = [];
          let prev = 0;
          for (const c of [...cuts.map((x) => x % (text.length + 1))].sort((a, b) => a - b)) {
            out.push(...s.push(text.subarray(prev, c)));
            prev = c;
          }
          out.push(...s.push(text.subarray(prev)));
          expect(out).toEqual(lines);
        },
      ),
    );
  });

  it('cuts a line that never ends so memory stays bounded', () => {
    const s = new LineSplitter(16);
    const lines = s.push(Buffer.alloc(40, 0x41));
    expect(lines).toEqual(['A'.repeat(16), 'A'.repeat(16)]);
    expect(s.pending).toBe('A'.repeat(8));
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 500 }), (b) => {
        for (const l of new LineSplitter().push(b)) parseModemLine(l);
      }),
    );
  });
});

describe('dial strings', () => {
  it('accepts digits and dial modifiers', () => {
    expect(isDialString('0,555-1234')).toBe(true);
    expect(isDialString('*99#')).toBe(true);
    expect(isDialString('9W 555 1234')).toBe(true);
  });

  it('refuses strings that could smuggle another command', () => {
    expect(isDialString('555\rATH')).toBe(false);
    expect(isDialString('555;ATZ')).toBe(false);
    expect(isDialString('')).toBe(false);
  });
});
