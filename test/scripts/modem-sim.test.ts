/**
 * The modem simulator itself, spoken to over its ptys with a bare serialport: the AT
 * interpreter, the escape sequence's guard time, and the CLI.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ModemSimulator } from '../../scripts/modem-sim/sim.js';

const sims: ModemSimulator[] = [];
const ports: SerialPort[] = [];

afterEach(async () => {
  await Promise.allSettled(
    ports.splice(0).map((p) => new Promise((r) => (p.isOpen ? p.close(r) : r(null)))),
  );
  await Promise.allSettled(sims.splice(0).map((s) => s.stop()));
});

/** A raw terminal on a line: write text, wait for text. */
class Term {
  buf = '';
  constructor(readonly port: SerialPort) {
    port.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
    });
  }
  static async open(path: string): Promise<Term> {
    const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
    await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
    ports.push(port);
    return new Term(port);
  }
  send(text: string): void {
    this.port.write(Buffer.from(text, 'latin1'));
  }
  async expect(text: string, timeoutMs = 3000): Promise<string> {
    const start = Date.now();
    while (!this.buf.includes(text)) {
      if (Date.now() - start > timeoutMs)
        throw new Error(`no ${JSON.stringify(text)} in ${JSON.stringify(this.buf)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const out = this.buf;
    this.buf = '';
    return out;
  }
}

async function start(): Promise<ModemSimulator> {
  const s = await ModemSimulator.start({
    lines: [{ number: '100' }, { number: '200' }],
    ringIntervalMs: 100,
    callSetupMs: 20,
    connectDelayMs: 20,
  });
  sims.push(s);
  return s;
}

describe('simulated Hayes modem', () => {
  it('echoes commands and answers OK, with numeric results under V0 and silence under Q1', async () => {
    const s = await start();
    const t = await Term.open(s.path('100'));
    t.send('ATZ\r');
    expect(await t.expect('OK\r\n')).toBe('ATZ\r\r\nOK\r\n');
    t.send('ATE0V0\r');
    await t.expect('0\r');
    t.send('AT+FOO\r');
    expect(await t.expect('4\r')).toBe('4\r');
    t.send('ATQ1\r');
    await new Promise((r) => setTimeout(r, 100));
    expect(t.buf).toBe('');
  });

  it('sets and reads S-registers and repeats the last command with A/', async () => {
    const s = await start();
    const t = await Term.open(s.path('100'));
    t.send('ATE0S7=30\r');
    await t.expect('OK');
    t.send('ATS7?\r');
    expect(await t.expect('OK')).toContain('030');
    t.send('A/');
    expect(await t.expect('OK')).toContain('030');
  });

  it('rings the called line, connects on ATA, relays data, and escapes only after guard time', async () => {
    const s = await start();
    const a = await Term.open(s.path('100'));
    const b = await Term.open(s.path('200'));
    a.send('ATE0S12=5\r'); // guard time 100 ms
    await a.expect('OK');
    b.send('ATE0\r');
    await b.expect('OK');
    a.send('ATDT200\r');
    await b.expect('RING');
    await b.expect('RING');
    b.send('ATA\r');
    expect(await a.expect('CONNECT 115200/ARQ/V42\r\n')).toContain('CONNECT');
    await b.expect('CONNECT');
    a.send('hello');
    expect(await b.expect('hello')).toBe('hello');
    // "+++" right after data (no guard before) is data, not an escape.
    a.send('x+++');
    await new Promise((r) => setTimeout(r, 300));
    expect(s.mode('100')).toBe('online');
    expect(await b.expect('x+++')).toBe('x+++');
    // Silence, "+++", silence: command mode with OK; ATO goes back online.
    await new Promise((r) => setTimeout(r, 150));
    a.send('+++');
    await a.expect('OK');
    expect(s.mode('100')).toBe('online-command');
    a.send('ATO\r');
    await a.expect('CONNECT');
    expect(s.mode('100')).toBe('online');
    await new Promise((r) => setTimeout(r, 150));
    a.send('+++');
    await a.expect('OK');
    a.send('ATH0\r');
    await a.expect('OK');
    expect(await b.expect('NO CARRIER')).toContain('NO CARRIER');
  });

  it('aborts a dial when a character arrives, and stops the far end ringing', async () => {
    const s = await start();
    const a = await Term.open(s.path('100'));
    const b = await Term.open(s.path('200'));
    a.send('ATE0\r');
    await a.expect('OK');
    a.send('ATDT200\r');
    await b.expect('RING');
    a.send('x');
    await a.expect('NO CARRIER');
    b.buf = '';
    await new Promise((r) => setTimeout(r, 300));
    expect(b.buf).toBe('');
  });

  it('auto-answers after S0 rings', async () => {
    const s = await start();
    const a = await Term.open(s.path('100'));
    const b = await Term.open(s.path('200'));
    b.send('ATS0=2\r');
    await b.expect('OK');
    a.send('ATD200\r');
    const seen = await b.expect('CONNECT');
    expect(seen.match(/RING/g)?.length).toBe(2);
    await a.expect('CONNECT');
  });

  it('keeps the pty usable after the router closes and reopens it', async () => {
    const s = await start();
    const t1 = await Term.open(s.path('100'));
    t1.send('AT\r');
    await t1.expect('OK');
    await new Promise((r) => t1.port.close(r));
    const t2 = await Term.open(s.path('100'));
    t2.send('AT\r');
    await t2.expect('OK');
  });
});

describe('modem-sim CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'modem-sim-cli-'));
  let child: ChildProcess | undefined;

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child?.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the pty paths it created, takes commands on stdin, and cleans up on SIGTERM', async () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'scripts/modem-sim.ts',
        '--quiet',
        '--line',
        `100:${a}`,
        '--line',
        `200:${b}`,
        '--busy',
        '200',
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const start = Date.now();
    while (!out.includes('ready')) {
      if (Date.now() - start > 15_000 || child.exitCode !== null)
        throw new Error(`no ready: ${out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(out).toContain(`line 100: ${a}`);
    expect(out).toContain(`line 200: ${b}`);
    const t = await Term.open(a);
    t.send('ATE0DT200\r');
    await t.expect('BUSY');
    child.stdin?.write('fault 200 none\nstatus\n');
    while (!out.includes('line 200: command')) await new Promise((r) => setTimeout(r, 20));
    const exited = new Promise((r) => child?.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    expect(existsSync(a)).toBe(false);
  });
});
