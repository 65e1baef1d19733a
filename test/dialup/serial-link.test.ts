/**
 * The dial-up link against the modem simulator over real ptys (socat) through
 * serialport: every result code, every timeout path, data both ways, carrier loss.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ModemSimOptions, ModemSimulator } from '../../scripts/modem-sim/sim.js';
import type { ModemConfig, ModemEvent } from '../../src/dialup/modem.js';
import {
  DialError,
  openSerialLink,
  type SerialLink,
  type SerialLinkOptions,
} from '../../src/dialup/serial-link.js';

const FAST_SIM: Omit<ModemSimOptions, 'lines'> = {
  ringIntervalMs: 150,
  callSetupMs: 30,
  connectDelayMs: 30,
};
/** Guard time 100 ms (ATS12=5) keeps +++ hang-ups quick. */
const FAST_MODEM = {
  guardTimeMs: 100,
  timeouts: { commandMs: 2000 },
} satisfies Partial<ModemConfig>;

const sims: ModemSimulator[] = [];
const links: SerialLink[] = [];

afterEach(async () => {
  await Promise.allSettled(links.splice(0).map((l) => l.close('test over')));
  await Promise.allSettled(sims.splice(0).map((s) => s.stop()));
});

async function sim(extra: Partial<ModemSimOptions> = {}): Promise<ModemSimulator> {
  const s = await ModemSimulator.start({
    lines: [{ number: '100' }, { number: '200' }],
    ...FAST_SIM,
    ...extra,
  });
  sims.push(s);
  return s;
}

async function open(
  s: ModemSimulator,
  number: string,
  modem: ModemConfig,
  extra: Partial<SerialLinkOptions> = {},
): Promise<SerialLink> {
  const link = await openSerialLink({
    device: s.path(number),
    modem: { ...FAST_MODEM, ...modem, timeouts: { ...FAST_MODEM.timeouts, ...modem.timeouts } },
    dcdPollMs: 100,
    ...extra,
  });
  links.push(link);
  return link;
}

async function failure(p: Promise<unknown>): Promise<DialError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DialError);
    return e as DialError;
  }
  throw new Error('expected the dial to fail');
}

/** Dials 100 → 200 (200 answering with `answer`) and returns both links. */
async function pair(
  s: ModemSimulator,
  answer: Partial<ModemConfig> = {},
): Promise<{ a: SerialLink; b: SerialLink; bEvents: ModemEvent[] }> {
  const bEvents: ModemEvent[] = [];
  const bp = open(
    s,
    '200',
    { role: 'answer', ...answer },
    { onModemEvent: (e) => bEvents.push(e) },
  );
  // Let the answering side finish its init before the call arrives.
  await until(
    () =>
      s.mode('200') === 'command' &&
      bEvents.some((e) => e.type === 'phase' && e.phase === 'waiting-ring'),
  );
  const a = await open(s, '100', { role: 'dial', number: '200' });
  return { a, b: await bp, bEvents };
}

async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Collector {
  frames: Buffer[];
  downs: string[];
}

function collect(link: SerialLink, echo = false): Collector {
  const c: Collector = { frames: [], downs: [] };
  link.attach({
    onFrame: (f) => {
      c.frames.push(f);
      if (echo) link.send(f);
    },
    onDown: (r) => c.downs.push(r),
  });
  return c;
}

function randomFrame(): Buffer {
  // A PPP-looking frame: address, control, IPv4 protocol, random payload 1..600 octets
  // (random bytes: flags, escapes and control characters all occur).
  return Buffer.concat([
    Buffer.from([0xff, 0x03, 0x00, 0x21]),
    randomBytes(1 + Math.floor(Math.random() * 600)),
  ]);
}

describe('dial and answer over the simulator', () => {
  it('connects line 100 dialling line 200 answering with ATA after two RINGs', async () => {
    const s = await sim();
    const { a, b, bEvents } = await pair(s, { answerAfterRings: 2 });
    expect(a.connect).toEqual({
      speed: 115200,
      protocols: ['ARQ', 'V42'],
      text: 'CONNECT 115200/ARQ/V42',
    });
    expect(b.connect.speed).toBe(115200);
    expect(bEvents.filter((e) => e.type === 'ring').length).toBe(2);
    expect(s.mode('100')).toBe('online');
    expect(s.mode('200')).toBe('online');
  });

  it('connects to a line that auto-answers with ATS0=2', async () => {
    const s = await sim();
    const { b, bEvents } = await pair(s, { autoAnswerRings: 2 });
    expect(b.connect.text).toBe('CONNECT 115200/ARQ/V42');
    expect(bEvents.some((e) => e.type === 'sent' && e.text === 'ATA')).toBe(false);
    expect(bEvents.filter((e) => e.type === 'ring').length).toBe(2);
  });

  it('relays HDLC frames both ways intact, before and after the ACCMs change', async () => {
    const s = await sim();
    const { a, b } = await pair(s);
    const atB = collect(b, true); // B echoes every frame back
    const atA = collect(a);
    const sent: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      const f = randomFrame();
      sent.push(f);
      a.send(f);
    }
    await until(() => atA.frames.length === 40);
    // LCP opened: both ends agree on ACCM 0 (only 0x7D/0x7E escaped).
    a.setAsyncParams({ sendAccm: 0, recvAccm: 0, mru: 1500 });
    b.setAsyncParams({ sendAccm: 0, recvAccm: 0, mru: 1500 });
    for (let i = 0; i < 40; i++) {
      const f = randomFrame();
      sent.push(f);
      a.send(f);
    }
    await until(() => atA.frames.length === 80);
    expect(atB.frames).toEqual(sent);
    expect(atA.frames).toEqual(sent);
    expect(a.counters.rx.badFcs + b.counters.rx.badFcs).toBe(0);
    expect(atA.downs).toEqual([]);
  });

  it('delivers the first frame even when it follows CONNECT in the same read', async () => {
    const s = await sim({ connectDelayMs: 30 });
    const { a, b } = await pair(s);
    const atB = collect(b);
    a.send(Buffer.from('ff03c021010100040000', 'hex'));
    await until(() => atB.frames.length === 1);
    expect(b.counters.droppedBeforeAttach).toBe(0);
  });

  it('counts frames that arrive before attach()', async () => {
    const s = await sim();
    const { a, b } = await pair(s);
    a.send(Buffer.from('ff03c021010100040000', 'hex'));
    await until(() => b.counters.droppedBeforeAttach === 1);
    expect(b.counters.rx.frames).toBe(1);
  });

  it('runs a chat script instead of the built-in dial sequence', async () => {
    const s = await sim();
    const bp = open(s, '200', { role: 'answer', autoAnswerRings: 1 });
    await until(() => s.mode('200') === 'command');
    await new Promise((r) => setTimeout(r, 100));
    const a = await open(s, '100', {
      role: 'dial',
      chat: `ABORT BUSY ABORT 'NO CARRIER' TIMEOUT 5 '' ATZ OK 'ATE0 V1' OK ATDT200 CONNECT \\c`,
    });
    await bp;
    expect(a.connect.speed).toBe(115200);
  });
});

describe('result codes from the simulator', () => {
  it('fails with busy when the number answers BUSY', async () => {
    const s = await sim({ faults: { '200': 'busy' } });
    const e = await failure(open(s, '100', { role: 'dial', number: '200' }));
    expect(e.reason).toBe('busy');
  });

  it('fails with busy when the called line is already in a call', async () => {
    const s = await ModemSimulator.start({
      lines: [{ number: '1' }, { number: '2' }, { number: '3' }],
      ...FAST_SIM,
    });
    sims.push(s);
    const bp = open(s, '2', { role: 'answer' });
    await new Promise((r) => setTimeout(r, 100));
    await open(s, '1', { role: 'dial', number: '2' });
    await bp;
    const e = await failure(open(s, '3', { role: 'dial', number: '2' }));
    expect(e.reason).toBe('busy');
  });

  it('fails with no-dialtone when the line has no dial tone', async () => {
    const s = await sim({ faults: { '100': 'no-dialtone' } });
    expect((await failure(open(s, '100', { role: 'dial', number: '200' }))).reason).toBe(
      'no-dialtone',
    );
  });

  it('fails with no-answer when the number does not answer', async () => {
    const s = await sim({ faults: { '200': 'no-answer' } });
    expect((await failure(open(s, '100', { role: 'dial', number: '200' }))).reason).toBe(
      'no-answer',
    );
  });

  it('fails with no-carrier on both ends when the handshake fails', async () => {
    const s = await sim({ faults: { '200': 'no-carrier' } });
    const bp = failure(open(s, '200', { role: 'answer', autoAnswerRings: 1 }));
    await new Promise((r) => setTimeout(r, 100));
    const ea = await failure(open(s, '100', { role: 'dial', number: '200' }));
    expect(ea.reason).toBe('no-carrier');
    expect((await bp).reason).toBe('no-carrier');
  });

  it('fails with no-carrier when dialling a number that does not exist', async () => {
    const s = await sim();
    expect((await failure(open(s, '100', { role: 'dial', number: '999' }))).reason).toBe(
      'no-carrier',
    );
  });

  it('fails with error when the modem answers ERROR to an init string', async () => {
    const s = await sim();
    const e = await failure(
      open(s, '100', { role: 'dial', number: '200', init: ['ATZ', 'AT+BOGUS'] }),
    );
    expect(e.reason).toBe('error');
    expect(e.message).toMatch(/AT\+BOGUS/);
  });

  it('fails with a port error on a device that does not exist', async () => {
    const e = await failure(
      openSerialLink({ device: '/nonexistent/ttyX', modem: { role: 'dial', number: '1' } }),
    );
    expect(e.reason).toBe('port');
  });
});

describe('timeouts against the simulator', () => {
  it('times out an init command the modem does not answer (ATQ1 silences it)', async () => {
    const s = await sim();
    const e = await failure(
      open(s, '100', {
        role: 'dial',
        number: '200',
        init: ['ATZ', 'ATQ1'],
        timeouts: { commandMs: 300 },
      }),
    );
    expect(e.reason).toBe('timeout');
    expect(e.message).toMatch(/no OK to ATQ1/);
  });

  it('times out a dial nobody answers and aborts it so the modem is idle again', async () => {
    const s = await sim();
    const e = await failure(
      open(s, '100', { role: 'dial', number: '200', timeouts: { dialMs: 500 } }),
    );
    expect(e.reason).toBe('timeout');
    expect(s.mode('100')).toBe('command');
  });

  it('times out waiting for RING', async () => {
    const s = await sim();
    const e = await failure(open(s, '200', { role: 'answer', timeouts: { ringWaitMs: 300 } }));
    expect(e.reason).toBe('timeout');
    expect(e.message).toMatch(/no RING/);
  });

  it('times out ATA when the handshake takes too long', async () => {
    const s = await sim({ connectDelayMs: 3000 });
    const bp = failure(open(s, '200', { role: 'answer', timeouts: { answerMs: 300 } }));
    await new Promise((r) => setTimeout(r, 100));
    const ap = failure(open(s, '100', { role: 'dial', number: '200' }));
    expect((await bp).reason).toBe('timeout');
    // The answering modem aborted the handshake: the caller hears NO CARRIER.
    expect((await ap).reason).toBe('no-carrier');
  });

  it('times out an auto-answer that rings but never connects', async () => {
    const s = await sim({ connectDelayMs: 3000 });
    const bp = failure(
      open(s, '200', { role: 'answer', autoAnswerRings: 1, timeouts: { answerMs: 300 } }),
    );
    await new Promise((r) => setTimeout(r, 100));
    const ap = failure(open(s, '100', { role: 'dial', number: '200' }));
    expect((await bp).reason).toBe('timeout');
    expect((await ap).reason).toBe('no-carrier');
  });

  it('cancels a wait for RING through the abort signal and frees the port', async () => {
    const s = await sim();
    const ctl = new AbortController();
    const p = failure(
      openSerialLink(
        { device: s.path('200'), modem: { role: 'answer', ...FAST_MODEM } },
        ctl.signal,
      ),
    );
    await new Promise((r) => setTimeout(r, 200));
    ctl.abort();
    expect((await p).reason).toBe('cancelled');
    // The port was closed: it opens again.
    const { b } = await pair(s);
    expect(b.connect.speed).toBe(115200);
  });
});

describe('carrier, hang-up and line noise', () => {
  it('reports down on both links when the simulator drops the call', async () => {
    const s = await sim();
    const { a, b } = await pair(s);
    const atA = collect(a);
    const atB = collect(b);
    expect(s.drop('100')).toBe(true);
    await until(() => atA.downs.length === 1 && atB.downs.length === 1);
    expect(atA.downs).toEqual(['carrier lost (NO CARRIER)']);
    expect(atB.downs).toEqual(['carrier lost (NO CARRIER)']);
    expect(a.isDown).toBe(true);
    a.send(Buffer.from('ff03c021', 'hex'));
    expect(a.counters.txDropped).toBe(1);
    const t0 = Date.now();
    await a.close('carrier lost');
    // After carrier loss the modem is in command mode: ATH0 only, no guard times.
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('hangs up with +++ and ATH0 on close, and the far end reports down once', async () => {
    const s = await sim();
    const { a, b } = await pair(s);
    collect(a);
    const atB = collect(b);
    const events: string[] = [];
    s.onEvent((e) => events.push(`${e.type}:${'number' in e ? e.number : ''}`));
    await a.close('admin down');
    expect(s.mode('100')).toBe('command');
    expect(events).toContain('hangup:100');
    await until(() => atB.downs.length === 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(atB.downs).toEqual(['carrier lost (NO CARRIER)']);
  });

  it('can dial again on the same port after a hang-up (redial)', async () => {
    const s = await sim();
    const first = await pair(s);
    await first.a.close('redial test');
    await first.b.close('redial test');
    const second = await pair(s);
    const atB = collect(second.b);
    second.a.send(Buffer.from('ff03c021010100040000', 'hex'));
    await until(() => atB.frames.length === 1);
  });

  it('does not mistake NO CARRIER inside a frame payload for carrier loss', async () => {
    const s = await sim();
    const { a, b } = await pair(s);
    const atB = collect(b);
    a.setAsyncParams({ sendAccm: 0, recvAccm: 0, mru: 1500 });
    b.setAsyncParams({ sendAccm: 0, recvAccm: 0, mru: 1500 });
    a.send(Buffer.concat([Buffer.from('ff030021', 'hex'), Buffer.from('\r\nNO CARRIER\r\n')]));
    await until(() => atB.frames.length === 1);
    await new Promise((r) => setTimeout(r, 400));
    expect(atB.downs).toEqual([]);
  });

  it('counts bad FCS on garbled bytes, delivers only intact frames and never throws', async () => {
    const s = await sim({ seed: 42 });
    const { a, b } = await pair(s);
    const atB = collect(b);
    s.setGarble(0.002);
    const sent = new Set<string>();
    for (let i = 0; i < 150; i++) {
      const f = randomFrame();
      sent.add(f.toString('hex'));
      a.send(f);
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await until(() => s.stats('100').bytesFromDte >= a.counters.tx.octets);
    await new Promise((r) => setTimeout(r, 300));
    expect(s.stats('200').garbled).toBeGreaterThan(0);
    expect(b.counters.rx.badFcs).toBeGreaterThan(0);
    expect(atB.frames.length).toBeGreaterThan(0);
    expect(atB.frames.length).toBeLessThan(150);
    for (const f of atB.frames) expect(sent.has(f.toString('hex'))).toBe(true);
  });
});

describe('direct line (no modem)', () => {
  /** A null-modem cable: a socat pty pair, both ends plain serial ports. */
  async function cable(): Promise<{ a: string; b: string; stop: () => void }> {
    const dir = mkdtempSync(join(tmpdir(), 'bl-direct-'));
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    const socat = spawn('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
      stdio: 'ignore',
    });
    await until(() => existsSync(a) && existsSync(b));
    return {
      a,
      b,
      stop: () => {
        socat.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }

  it('opens a dialling link without a number and carries frames both ways, no AT said', async () => {
    const c = await cable();
    try {
      // Regression (interop with pppd on a VM serial port): a dial link with "modem": false
      // has no number, and opening it failed with "dial needs a number".
      const a = await openSerialLink({ device: c.a, modem: { role: 'dial' }, direct: true });
      links.push(a);
      const b = await openSerialLink({ device: c.b, modem: { role: 'answer' }, direct: true });
      links.push(b);
      expect(a.connect.text).toBe('direct');
      const atA = collect(a);
      const atB = collect(b);
      const frame = Buffer.from('ff03c021010100040000', 'hex');
      a.send(frame);
      b.send(frame);
      await until(() => atA.frames.length === 1 && atB.frames.length === 1);
      expect(atB.frames[0]).toEqual(frame);
      expect(atA.frames[0]).toEqual(frame);
      // Only HDLC went over the line: the first octet each side got was a flag, not "AT".
      expect(a.counters.rx.octets).toBe(b.counters.tx.octets);
      const t0 = Date.now();
      await a.close('test over');
      // No modem to hang up: no guard time, no +++.
      expect(Date.now() - t0).toBeLessThan(1000);
    } finally {
      c.stop();
    }
  });
});
