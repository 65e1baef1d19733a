import { describe, expect, it } from 'vitest';
import type { ModemAction } from '../../src/dialup/at.js';
import {
  checkModemConfig,
  DEFAULT_INIT,
  type HangupOptions,
  type ModemConfig,
  ModemEngine,
  type ModemEvent,
} from '../../src/dialup/modem.js';

/** Drives an engine with a fake clock; records writes, DTR changes and events. */
class Harness {
  t = 0;
  written: string[] = [];
  dtr: boolean[] = [];
  events: ModemEvent[] = [];
  readonly engine: ModemEngine;
  constructor(config: ModemConfig) {
    this.engine = new ModemEngine(config);
  }
  start(): this {
    this.engine.start(this.t);
    return this.drain();
  }
  /** The modem says something (a full line with CR LF around it). */
  say(line: string): this {
    return this.feed(`\r\n${line}\r\n`);
  }
  feed(text: string): this {
    this.engine.receive(Buffer.from(text, 'latin1'), this.t);
    return this.drain();
  }
  advance(ms: number): this {
    const end = this.t + ms;
    for (;;) {
      const at = this.engine.pollTimeout();
      if (at === undefined || at > end) break;
      this.t = at;
      this.engine.handleTimeout(this.t);
      this.drain();
    }
    this.t = end;
    return this;
  }
  hangup(opts: HangupOptions = {}): this {
    this.engine.hangup(this.t, opts);
    return this.drain();
  }
  drain(): this {
    for (
      let a: ModemAction | undefined = this.engine.pollAction();
      a;
      a = this.engine.pollAction()
    ) {
      if (a.type === 'write') {
        // Commands end in CR; keep each write as one string.
        this.written.push(a.data.toString('latin1'));
      } else if (a.type === 'dtr') this.dtr.push(a.value);
    }
    for (let e = this.engine.pollEvent(); e; e = this.engine.pollEvent()) this.events.push(e);
    return this;
  }
  lastWrite(): string | undefined {
    return this.written.at(-1);
  }
  find<T extends ModemEvent['type']>(type: T): Extract<ModemEvent, { type: T }> | undefined {
    return this.events.find((e) => e.type === type) as Extract<ModemEvent, { type: T }> | undefined;
  }
  /** Answers OK to every init command. */
  init(): this {
    for (let i = 0; i < 10 && this.engine.phase === 'init'; i++) this.say('OK');
    return this;
  }
}

const DIAL: ModemConfig = {
  role: 'dial',
  number: '5551234',
  timeouts: { commandMs: 1000, dialMs: 30_000 },
};

describe('modem engine: init and dial', () => {
  it('sends ATZ, then the factory-profile init, then ATDT with the number', () => {
    const h = new Harness(DIAL).start();
    expect(h.written).toEqual(['ATZ\r']);
    h.feed('ATZ\r').say('OK'); // echo first, then OK
    expect(h.lastWrite()).toBe(`${DEFAULT_INIT[1]}\r`);
    h.say('OK');
    expect(h.lastWrite()).toBe('ATDT5551234\r');
    expect(h.engine.phase).toBe('dialing');
  });

  it('dials with ATDP when pulse dialling is configured', () => {
    const h = new Harness({ ...DIAL, dialMethod: 'pulse', init: [] }).start();
    expect(h.written).toEqual(['ATDP5551234\r']);
  });

  it('tells the modem its guard time in S12 when one is configured', () => {
    const h = new Harness({ ...DIAL, init: ['ATZ'], guardTimeMs: 200 }).start();
    h.say('OK');
    expect(h.lastWrite()).toBe('ATS12=10\r');
  });

  it('reaches data mode on CONNECT and reports speed and protocols', () => {
    const h = new Harness(DIAL).start().init();
    h.say('CONNECT 115200/ARQ/V42');
    expect(h.engine.phase).toBe('data');
    expect(h.find('connected')?.connect).toEqual({
      speed: 115200,
      protocols: ['ARQ', 'V42'],
      text: 'CONNECT 115200/ARQ/V42',
    });
  });

  it('hands over the bytes that came in the same read as CONNECT', () => {
    const h = new Harness(DIAL).start().init();
    h.feed('\r\nCONNECT 9600\r~\xff\x7d\x23');
    expect(h.engine.phase).toBe('data');
    expect(h.engine.takeData()?.toString('latin1')).toBe('~\xff\x7d\x23');
    expect(h.engine.takeData()).toBeUndefined();
  });

  it.each([
    ['BUSY', 'busy'],
    ['NO CARRIER', 'no-carrier'],
    ['NO DIALTONE', 'no-dialtone'],
    ['NO ANSWER', 'no-answer'],
    ['ERROR', 'error'],
    ['7', 'busy'],
  ])('fails the dial on %s', (line, reason) => {
    const h = new Harness(DIAL).start().init();
    h.say(line);
    expect(h.engine.phase).toBe('failed');
    expect(h.find('failed')?.reason).toBe(reason);
  });

  it('fails on ERROR to an init command', () => {
    const h = new Harness({ ...DIAL, init: ['ATZ', 'AT+BOGUS'] }).start().say('OK').say('ERROR');
    expect(h.find('failed')).toMatchObject({ reason: 'error', detail: 'ERROR to AT+BOGUS' });
  });

  it('ignores RING and a stale NO CARRIER while waiting for OK to a command', () => {
    const h = new Harness(DIAL).start().say('RING').say('NO CARRIER');
    expect(h.engine.phase).toBe('init');
    h.say('OK');
    expect(h.lastWrite()).toBe(`${DEFAULT_INIT[1]}\r`);
  });

  it('times out an init command without OK', () => {
    const h = new Harness(DIAL).start();
    h.advance(999);
    expect(h.engine.phase).toBe('init');
    h.advance(1);
    expect(h.find('failed')).toMatchObject({ reason: 'timeout', detail: 'no OK to ATZ' });
  });

  it('times out a dial without CONNECT and aborts it with a character', () => {
    const h = new Harness(DIAL).start().init();
    h.advance(30_000);
    expect(h.find('failed')?.reason).toBe('timeout');
    expect(h.lastWrite()).toBe('\r');
  });

  it('rejects a number that could carry another command', () => {
    expect(checkModemConfig({ role: 'dial', number: '1;ATZ' })).toMatch(/number/);
    expect(() => new ModemEngine({ role: 'dial', number: '1\rATH' })).toThrow(RangeError);
  });
});

describe('modem engine: answer', () => {
  const ANSWER: ModemConfig = {
    role: 'answer',
    init: ['ATZ'],
    timeouts: { answerMs: 5000, ringWaitMs: 0 },
  };

  it('turns auto-answer off, waits for RING and answers with ATA', () => {
    const h = new Harness(ANSWER).start().say('OK');
    expect(h.lastWrite()).toBe('ATS0=0\r');
    h.say('OK');
    expect(h.engine.phase).toBe('waiting-ring');
    h.advance(3_600_000);
    expect(h.engine.phase).toBe('waiting-ring');
    h.say('RING');
    expect(h.lastWrite()).toBe('ATA\r');
    h.say('CONNECT 33600/LAPM');
    expect(h.engine.phase).toBe('data');
  });

  it('answers only after the configured number of rings', () => {
    const h = new Harness({ ...ANSWER, answerAfterRings: 3 }).start().init();
    h.say('RING').advance(2000).say('RING');
    expect(h.engine.phase).toBe('waiting-ring');
    h.advance(2000).say('RING');
    expect(h.lastWrite()).toBe('ATA\r');
    expect(
      h.events.filter((e) => e.type === 'ring').map((e) => (e as { count: number }).count),
    ).toEqual([1, 2, 3]);
  });

  it('restarts the ring count after a long silence (a new call)', () => {
    const h = new Harness({ ...ANSWER, answerAfterRings: 2, ringResetMs: 8000 }).start().init();
    h.say('RING').advance(20_000).say('RING');
    expect(h.engine.phase).toBe('waiting-ring');
    h.advance(3000).say('RING');
    expect(h.engine.phase).toBe('answering');
  });

  it('auto-answers with ATS0=n and waits for CONNECT without ATA', () => {
    const h = new Harness({ ...ANSWER, autoAnswerRings: 2 }).start().say('OK');
    expect(h.lastWrite()).toBe('ATS0=2\r');
    h.say('OK').say('RING').say('RING');
    expect(h.written).not.toContain('ATA\r');
    h.say('CONNECT 115200');
    expect(h.engine.phase).toBe('data');
  });

  it('fails with no-carrier when an auto-answered handshake fails', () => {
    const h = new Harness({ ...ANSWER, autoAnswerRings: 1 }).start().init();
    h.say('RING').say('NO CARRIER');
    expect(h.find('failed')?.reason).toBe('no-carrier');
  });

  it('fails with no-carrier when ATA gets NO CARRIER', () => {
    const h = new Harness(ANSWER).start().init().say('RING').say('NO CARRIER');
    expect(h.find('failed')).toMatchObject({ reason: 'no-carrier' });
  });

  it('times out waiting for the first RING when ringWaitMs is set', () => {
    const h = new Harness({ ...ANSWER, timeouts: { ringWaitMs: 10_000 } }).start().init();
    h.advance(10_000);
    expect(h.find('failed')).toMatchObject({
      reason: 'timeout',
      detail: 'no RING within 10000 ms',
    });
  });

  it('times out ATA without CONNECT', () => {
    const h = new Harness(ANSWER).start().init().say('RING');
    h.advance(5000);
    expect(h.find('failed')?.reason).toBe('timeout');
    expect(h.lastWrite()).toBe('\r');
  });

  it('times out an auto-answer that rang but never connected', () => {
    const h = new Harness({ ...ANSWER, autoAnswerRings: 1 }).start().init().say('RING');
    h.advance(5000);
    expect(h.find('failed')).toMatchObject({ reason: 'timeout' });
  });
});

describe('modem engine: hang-up', () => {
  function connected(config: Partial<ModemConfig> = {}): Harness {
    const h = new Harness({ ...DIAL, init: [], guardTimeMs: 1000, ...config }).start().init();
    h.say('CONNECT 9600');
    expect(h.engine.phase).toBe('data');
    h.written = [];
    return h;
  }

  it('drops DTR and confirms with ATH0 when the modem reports NO CARRIER', () => {
    const h = connected().hangup({ dtr: true });
    expect(h.dtr).toEqual([false]);
    h.say('NO CARRIER');
    expect(h.dtr).toEqual([false, true]);
    expect(h.lastWrite()).toBe('ATH0\r');
    h.say('OK');
    expect(h.find('on-hook')).toEqual({ type: 'on-hook', how: 'dtr', clean: true });
  });

  it('after a silent DTR drop probes with AT and hangs up with ATH0 if in command mode', () => {
    const h = connected().hangup({ dtr: true });
    h.advance(500);
    expect(h.dtr).toEqual([false, true]);
    expect(h.lastWrite()).toBe('AT\r');
    h.say('OK');
    expect(h.lastWrite()).toBe('ATH0\r');
    h.say('OK');
    expect(h.find('on-hook')).toMatchObject({ how: 'dtr', clean: true });
  });

  it('falls back to +++ with guard time when the modem still answers in data mode', () => {
    const h = connected().hangup({ dtr: true });
    h.advance(500); // DTR drop had no effect
    h.advance(1199); // no answer to the probe
    expect(h.lastWrite()).toBe('AT\r');
    h.advance(1);
    expect(h.lastWrite()).toBe('+++');
    h.advance(1000).say('OK');
    expect(h.lastWrite()).toBe('ATH0\r');
    h.say('OK');
    expect(h.find('on-hook')).toMatchObject({ how: 'escape', clean: true });
  });

  it('waits a full guard time of silence before +++ when DTR cannot be changed', () => {
    const h = connected().hangup({ dtr: true });
    h.engine.dtrUnsupported(h.t);
    h.drain().advance(999);
    expect(h.written).toEqual([]);
    h.advance(1);
    expect(h.written).toEqual(['+++']);
  });

  it('sends ATH0 anyway when +++ gets no OK, and ends unconfirmed when ATH0 times out', () => {
    const h = connected({ timeouts: { commandMs: 1000 } }).hangup({ dtr: false });
    h.advance(1000);
    expect(h.lastWrite()).toBe('+++');
    h.advance(2000);
    expect(h.lastWrite()).toBe('ATH0\r');
    h.advance(1000);
    expect(h.find('on-hook')).toEqual({ type: 'on-hook', how: 'escape', clean: false });
  });

  it('goes straight to ATH0 after carrier loss', () => {
    const h = connected().hangup({ dtr: true, carrierLost: true });
    expect(h.written).toEqual(['ATH0\r']);
    expect(h.dtr).toEqual([]);
    h.say('OK');
    expect(h.find('on-hook')).toMatchObject({ how: 'command', clean: true });
  });

  it('turns auto-answer off again after hanging up an auto-answered call', () => {
    const h = new Harness({ role: 'answer', init: [], autoAnswerRings: 1 }).start().say('OK');
    h.say('RING').say('CONNECT 2400');
    h.hangup({ carrierLost: true }).say('OK');
    expect(h.lastWrite()).toBe('ATS0=0\r');
    h.say('OK');
    expect(h.find('on-hook')).toMatchObject({ clean: true });
  });

  it('aborts a dial in progress with a character, then ATH0', () => {
    const h = new Harness(DIAL).start().init();
    h.written = [];
    h.hangup({ dtr: true });
    expect(h.written).toEqual(['\r', 'ATH0\r']);
  });

  it('hangs up at most once', () => {
    const h = connected().hangup({ carrierLost: true }).hangup({ dtr: true });
    expect(h.written).toEqual(['ATH0\r']);
  });
});

describe('modem engine: chat script', () => {
  it('runs a chat script instead of the built-in sequence', () => {
    const h = new Harness({
      role: 'dial',
      chat: `ABORT BUSY '' ATZ OK ATDT42 CONNECT \\c`,
    }).start();
    expect(h.engine.phase).toBe('chat');
    expect(h.written).toEqual(['ATZ\r']);
    h.say('OK');
    expect(h.lastWrite()).toBe('ATDT42\r');
    h.feed('\r\nCONNECT 31200/V34\r\n~');
    expect(h.engine.phase).toBe('data');
    expect(h.find('connected')?.connect.speed).toBe(31200);
    expect(h.engine.takeData()?.toString('latin1')).toBe(' 31200/V34\r\n~');
  });

  it('maps a chat ABORT on BUSY to a busy failure', () => {
    const h = new Harness({ role: 'dial', chat: `ABORT BUSY '' ATDT42 CONNECT` }).start();
    h.say('BUSY');
    expect(h.find('failed')?.reason).toBe('busy');
  });

  it('rejects a chat script that does not parse', () => {
    expect(checkModemConfig({ role: 'dial', chat: `'' 'ATZ` })).toMatch(/chat script/);
  });
});
