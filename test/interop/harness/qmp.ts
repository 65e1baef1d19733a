/**
 * A minimal QMP (QEMU Machine Protocol) client: enough to learn where QEMU put the VM's
 * serial pty (query-chardev) and to ask it to quit. QEMU connects to a unix socket the
 * harness listens on (`-chardev socket,...` + `-mon mode=control`), so there is no race
 * for a socket file to appear.
 */
import type { Socket } from 'node:net';

type QmpValue = null | boolean | number | string | QmpValue[] | { [key: string]: QmpValue };

interface Waiter {
  readonly resolve: (value: QmpValue) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
  readonly command: string;
}

export class QmpClient {
  private buffer = '';
  private greeted = false;
  private readonly greeting: Promise<void>;
  private greetingResolve: (() => void) | undefined;
  /** QMP answers in order; without ids a FIFO of waiters matches them. */
  private readonly queue: Waiter[] = [];
  private closed = false;

  constructor(private readonly socket: Socket) {
    this.greeting = new Promise((resolve) => {
      this.greetingResolve = resolve;
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', () => this.fail('QMP socket error'));
    socket.on('close', () => this.fail('QMP connection closed'));
  }

  /** Waits for the greeting and leaves capabilities negotiation mode. */
  async init(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no QMP greeting within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([this.greeting, timeout]);
    } finally {
      clearTimeout(timer);
    }
    await this.execute('qmp_capabilities', undefined, timeoutMs);
  }

  execute(
    command: string,
    args?: { [key: string]: QmpValue },
    timeoutMs = 5_000,
  ): Promise<QmpValue> {
    if (this.closed) return Promise.reject(new Error(`QMP ${command}: connection closed`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.queue.findIndex((w) => w.timer === timer);
        if (i >= 0) this.queue.splice(i, 1);
        reject(new Error(`QMP ${command}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.queue.push({ resolve, reject, timer, command });
      const msg = args ? { execute: command, arguments: args } : { execute: command };
      this.socket.write(`${JSON.stringify(msg)}\n`);
    });
  }

  /** Host path of the pty behind chardev `label` (QEMU reports `pty:/dev/pts/N`). */
  async ptyPath(label: string): Promise<string> {
    const list = await this.execute('query-chardev');
    if (!Array.isArray(list)) throw new Error('QMP query-chardev: unexpected answer');
    for (const entry of list) {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) continue;
      if (entry.label === label && typeof entry.filename === 'string') {
        const m = /^pty:(.+)$/.exec(entry.filename);
        if (m?.[1]) return m[1];
      }
    }
    throw new Error(`QMP query-chardev: no pty chardev labelled ${label}`);
  }

  close(): void {
    this.socket.destroy();
    this.fail('QMP connection closed by the harness');
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl = this.buffer.indexOf('\n');
    while (nl >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line !== '') this.onLine(line);
      nl = this.buffer.indexOf('\n');
    }
  }

  private onLine(line: string): void {
    let msg: { [key: string]: QmpValue };
    try {
      msg = JSON.parse(line) as { [key: string]: QmpValue };
    } catch {
      return;
    }
    if ('QMP' in msg && !this.greeted) {
      this.greeted = true;
      this.greetingResolve?.();
      return;
    }
    if ('event' in msg) return;
    const w = this.queue.shift();
    if (!w) return;
    clearTimeout(w.timer);
    if ('return' in msg) w.resolve(msg.return ?? null);
    else w.reject(new Error(`QMP ${w.command} failed: ${JSON.stringify(msg.error ?? msg)}`));
  }

  private fail(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.queue.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error(`QMP ${w.command}: ${reason}`));
    }
  }
}
