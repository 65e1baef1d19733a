import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ModemAction } from '../../src/dialup/at.js';
import {
  type ChatEvent,
  ChatRunner,
  type ChatScript,
  parseChatScript,
  parseSend,
  tokenizeChat,
  unescapeExpect,
} from '../../src/dialup/chat.js';

function script(src: string): ChatScript {
  const r = parseChatScript(src);
  if (!r.ok) throw new Error(r.error.reason);
  return r.value;
}

/** Drives a runner with a fake clock and collects what it writes and reports. */
class Harness {
  t = 0;
  written = '';
  breaks = 0;
  events: ChatEvent[] = [];
  constructor(readonly runner: ChatRunner) {}
  start(): this {
    this.runner.start(this.t);
    return this.drain();
  }
  feed(text: string | Buffer): this {
    this.runner.receive(typeof text === 'string' ? Buffer.from(text, 'latin1') : text, this.t);
    return this.drain();
  }
  /** Advances time, firing the runner's deadlines in order. */
  advance(ms: number): this {
    const end = this.t + ms;
    for (;;) {
      const at = this.runner.pollTimeout();
      if (at === undefined || at > end) break;
      this.t = at;
      this.runner.handleTimeout(this.t);
      this.drain();
    }
    this.t = end;
    return this;
  }
  drain(): this {
    for (
      let a: ModemAction | undefined = this.runner.pollAction();
      a;
      a = this.runner.pollAction()
    ) {
      if (a.type === 'write') this.written += a.data.toString('latin1');
      else if (a.type === 'break') this.breaks++;
    }
    for (let e = this.runner.pollEvent(); e; e = this.runner.pollEvent()) this.events.push(e);
    return this;
  }
  last(): ChatEvent | undefined {
    return this.events.at(-1);
  }
}

describe('chat script parsing', () => {
  it('tokenizes quotes, escapes and comments like chat(8)', () => {
    const t = tokenizeChat(`# comment\nABORT 'NO CARRIER' "" ATZ OK\\r 'a b'"c"`);
    expect(t).toEqual({ ok: true, value: ['ABORT', 'NO CARRIER', '', 'ATZ', 'OK\\r', 'a bc'] });
  });

  it('reports an unterminated quote as an error value', () => {
    expect(tokenizeChat(`'' 'ATZ`)).toMatchObject({ ok: false, error: { kind: 'bad-script' } });
  });

  it('reads keywords and expect/send pairs', () => {
    const s = script(`ABORT BUSY TIMEOUT 5 SAY hi '' ATZ OK ATDT123 CONNECT ''`);
    expect(s.steps.map((x) => x.kind)).toEqual([
      'abort',
      'timeout',
      'say',
      'expect-send',
      'expect-send',
      'expect-send',
    ]);
    expect(s.steps[1]).toEqual({ kind: 'timeout', ms: 5000 });
  });

  it('refuses a TIMEOUT that is not a number of seconds and a keyword without argument', () => {
    expect(parseChatScript('TIMEOUT soon')).toMatchObject({ ok: false });
    expect(parseChatScript("'' ATZ ABORT")).toMatchObject({ ok: false });
  });

  it('appends CR to send strings unless they end in \\c, and expands escapes', () => {
    const bytes = (s: string): string =>
      parseSend(s)
        .parts.map((p) => (p.kind === 'bytes' ? p.data.toString('latin1') : `<${p.kind}>`))
        .join('');
    expect(bytes('ATZ')).toBe('ATZ\r');
    expect(bytes('ATZ\\c')).toBe('ATZ');
    expect(bytes('')).toBe('\r');
    expect(bytes('a\\sb\\nc\\\\d\\101^C\\c')).toBe('a b\nc\\dA\x03');
    expect(bytes('\\dAT\\pZ\\c')).toBe('<delay>AT<delay>Z');
    expect(bytes('BREAK')).toBe('<break>');
    expect(bytes('EOT')).toBe('\x04');
  });

  it('masks send strings marked \\q in logs', () => {
    expect(parseSend('secret\\q').display).toBe('??????');
  });

  it('expands expect escapes', () => {
    expect(unescapeExpect('ogin:\\s\\r\\n^M')).toBe('ogin: \r\n\r');
  });

  it('parses and runs the example script of the user manual', () => {
    const src = `ABORT BUSY ABORT 'NO CARRIER' ABORT 'NO DIALTONE' ABORT 'NO ANSWER' ABORT ERROR
TIMEOUT 10
'' ATZ
OK 'AT&F E0 V1 &C1 &D2'
OK-AT-OK ATDT0201234567
TIMEOUT 60
CONNECT \\c`;
    const h = new Harness(new ChatRunner(script(src))).start();
    h.feed('OK\r\n');
    h.advance(10_000); // no OK to AT&F: the sub-expect sends AT
    h.feed('OK\r\n');
    expect(h.written).toBe('ATZ\rAT&F E0 V1 &C1 &D2\rAT\rATDT0201234567\r');
    h.advance(59_000).feed('CONNECT 33600/V42\r\n');
    expect(h.last()).toMatchObject({ type: 'done', connect: { speed: 33600 } });
  });

  it('never throws on random scripts', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (src) => {
        const r = parseChatScript(src);
        if (r.ok) new Harness(new ChatRunner(r.value, 10)).start().feed(src).advance(100_000);
      }),
    );
  });
});

describe('chat script runner', () => {
  const DIAL = `ABORT BUSY ABORT 'NO CARRIER' ABORT 'NO DIALTONE' TIMEOUT 10 '' ATZ OK ATDT555 CONNECT ''`;

  it('runs a dial script to CONNECT and reports the speed', () => {
    const h = new Harness(new ChatRunner(script(DIAL))).start();
    expect(h.written).toBe('ATZ\r');
    h.feed('ATZ\r\r\nOK\r\n');
    expect(h.written).toBe('ATZ\rATDT555\r');
    h.feed('\r\nCONNECT 115200/ARQ\r\n');
    expect(h.written).toBe('ATZ\rATDT555\r\r');
    expect(h.last()).toEqual({
      type: 'done',
      connect: { speed: 115200, protocols: ['ARQ'], text: 'CONNECT 115200/ARQ' },
    });
    expect(h.runner.finished).toBe(true);
  });

  it('keeps the bytes after the final match for data mode', () => {
    const h = new Harness(new ChatRunner(script(`'' ATDT1 CONNECT \\c`))).start();
    h.feed('\r\nCONNECT 9600\r\n~\xff\x7d\x23');
    expect(h.last()).toMatchObject({ type: 'done' });
    expect(h.runner.takeLeftover()?.toString('latin1')).toBe(' 9600\r\n~\xff\x7d\x23');
  });

  it.each([
    ['BUSY', 'busy'],
    ['NO CARRIER', 'no-carrier'],
    ['NO DIALTONE', 'no-dialtone'],
  ])('fails with %s when that ABORT string arrives', (text, reason) => {
    const h = new Harness(new ChatRunner(script(DIAL))).start().feed('OK\r\n');
    h.feed(`\r\n${text}\r\n`);
    expect(h.last()).toMatchObject({ type: 'failed', reason });
  });

  it('fails with "abort" on an ABORT string that is not a result code', () => {
    const h = new Harness(new ChatRunner(script(`ABORT 'Access denied' '' ATZ OK`))).start();
    h.feed('Access denied');
    expect(h.last()).toMatchObject({ type: 'failed', reason: 'abort' });
  });

  it('times out after TIMEOUT seconds without the expected string', () => {
    const h = new Harness(new ChatRunner(script(DIAL))).start();
    h.advance(9_999);
    expect(h.runner.finished).toBe(false);
    h.advance(1);
    expect(h.last()).toMatchObject({ type: 'failed', reason: 'timeout' });
  });

  it('uses the default timeout until the script sets one', () => {
    const h = new Harness(new ChatRunner(script(`'' ATZ OK`), 300)).start();
    h.advance(300);
    expect(h.last()).toMatchObject({ type: 'failed', reason: 'timeout' });
  });

  it('sends the sub-expect string on timeout and expects again', () => {
    const h = new Harness(new ChatRunner(script(`TIMEOUT 1 ogin:-BREAK-ogin: ppp`))).start();
    h.advance(1000);
    expect(h.breaks).toBe(1);
    h.feed('login:');
    expect(h.written).toBe('ppp\r');
    expect(h.last()).toMatchObject({ type: 'done' });
  });

  it('waits \\d before sending the rest and matches what arrived meanwhile', () => {
    const h = new Harness(new ChatRunner(script(`'' \\dATZ OK ATA`))).start();
    expect(h.written).toBe('');
    h.advance(1000);
    expect(h.written).toBe('ATZ\r');
    const h2 = new Harness(new ChatRunner(script(`'' ATZ OK \\dATH OK`))).start();
    h2.feed('OK\r\n');
    h2.feed('early OK\r\n'); // arrives during the 1 s pause
    h2.advance(1000);
    expect(h2.written).toBe('ATZ\rATH\r');
    expect(h2.last()).toMatchObject({ type: 'done' });
  });

  it('matches strings split across chunks', () => {
    const h = new Harness(new ChatRunner(script(`'' ATZ OK ATDT1 CONNECT`))).start();
    for (const c of 'O K\r\nOK\r\nCONN'.split(' ')) h.feed(c);
    h.feed('ECT');
    expect(h.last()).toMatchObject({ type: 'done' });
  });

  it('emits SAY text and REPORT lines', () => {
    const h = new Harness(
      new ChatRunner(script(`SAY 'dialling' REPORT CONNECT '' ATD1 CONNECT ''`)),
    ).start();
    h.feed('\r\nCONNECT 2400\r\n');
    expect(h.events).toContainEqual({ type: 'say', text: 'dialling' });
    expect(h.events).toContainEqual({ type: 'report', text: 'CONNECT 2400' });
  });

  it('stops when cancelled', () => {
    const h = new Harness(new ChatRunner(script(DIAL))).start();
    h.runner.cancel();
    h.drain();
    expect(h.last()).toMatchObject({ type: 'failed', reason: 'cancelled' });
    expect(h.runner.pollTimeout()).toBeUndefined();
  });
});
