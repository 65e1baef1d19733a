/**
 * Host side of the peer VM's agent (scripts/interop/vm/agent.py): one JSON object per line
 * over the virtio-serial port, which QEMU connects to a unix socket the harness listens on.
 * Every request has an id and gets exactly one answer; `ready` and `exit` arrive as events.
 * Every request is bounded by a timeout here too, so a wedged VM fails a test instead of
 * hanging it.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';

/** Result of a command run to completion in the VM. */
export interface ExecResult {
  /** Exit code; null when the command died of a signal. */
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The command overran its timeout and was killed (with its whole process group). */
  readonly timedOut: boolean;
  /** Output was capped at 4 MiB per stream. */
  readonly truncated: boolean;
  readonly durationMs: number;
}

/** How a spawned process ended. `vmStopped` when the VM went away first. */
export interface ProcessExit {
  readonly pid: number;
  readonly code: number | null;
  readonly signal: string | number | null;
  readonly vmStopped?: boolean;
}

export interface ProcessStatus extends ProcessExit {
  readonly running: boolean;
  readonly log: string;
}

export interface ReadyEvent {
  readonly uptime: number;
  readonly uname: string;
  readonly pid: number;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Reply = { [key: string]: Json };

interface Pending {
  readonly op: string;
  readonly resolve: (reply: Reply) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Request timeout when the op itself has none: the agent answers these in milliseconds. */
const DEFAULT_TIMEOUT_MS = 15_000;
/** Slack on top of an op's own timeout (agent scheduling under TCG, output transfer). */
const GRACE_MS = 10_000;
const MAX_LINE = 64 * 1024 * 1024;
const READ_CHUNK = 8 * 1024 * 1024;

export class AgentClient extends EventEmitter {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buffer = '';
  private closed: Error | undefined;
  /** Exit events that arrived before the spawn reply, or before anyone asked. */
  private readonly exits = new Map<number, ProcessExit>();
  private readonly exitWaiters = new Map<number, Array<(exit: ProcessExit) => void>>();

  constructor(private readonly socket: Socket) {
    super();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (e) => this.fail(new Error(`agent socket error: ${e.message}`)));
    socket.on('close', () => this.fail(new Error('agent connection closed (VM stopped?)')));
  }

  /** Resolves with the agent's ready event (the VM has booted), bounded by timeoutMs. */
  waitReady(timeoutMs: number): Promise<ReadyEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`agent not ready within ${timeoutMs} ms`));
      }, timeoutMs);
      const onReady = (ev: ReadyEvent): void => {
        cleanup();
        resolve(ev);
      };
      const onClose = (e: Error): void => {
        cleanup();
        reject(e);
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('ready', onReady);
        this.off('closed', onClose);
      };
      if (this.closed) {
        cleanup();
        reject(this.closed);
        return;
      }
      this.on('ready', onReady);
      this.on('closed', onClose);
    });
  }

  request(
    op: string,
    args: { [key: string]: Json },
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<Reply> {
    if (this.closed) return Promise.reject(this.closed);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`agent op ${op} got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { op, resolve, reject, timer });
      this.socket.write(`${JSON.stringify({ ...args, id, op })}\n`);
    });
  }

  async exec(
    cmd: string,
    opts: { timeoutMs?: number; stdin?: Buffer | string } = {},
  ): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const args: { [key: string]: Json } = { cmd, timeoutMs };
    if (opts.stdin !== undefined) args.stdin = Buffer.from(opts.stdin).toString('base64');
    const r = await this.request('exec', args, timeoutMs + GRACE_MS);
    return {
      code: typeof r.code === 'number' ? r.code : null,
      signal: typeof r.signal === 'string' ? r.signal : null,
      stdout: String(r.stdout ?? ''),
      stderr: String(r.stderr ?? ''),
      timedOut: r.timedOut === true,
      truncated: r.truncated === true,
      durationMs: Number(r.durationMs ?? 0),
    };
  }

  async spawn(cmd: string, log?: string): Promise<{ pid: number; log: string }> {
    const args: { [key: string]: Json } = { cmd };
    if (log !== undefined) args.log = log;
    const r = await this.request('spawn', args);
    return { pid: Number(r.pid), log: String(r.log) };
  }

  async status(pid: number, waitMs = 0): Promise<ProcessStatus> {
    const r =
      waitMs > 0
        ? await this.request('wait', { pid, timeoutMs: waitMs }, waitMs + GRACE_MS)
        : await this.request('status', { pid });
    return toStatus(r);
  }

  async kill(pid: number, signal = 'TERM', group = true): Promise<boolean> {
    const r = await this.request('kill', { pid, signal, group });
    return r.sent === true;
  }

  /** The whole file, fetched in 8 MiB pieces (a pcap of a 10 MB transfer is bigger). */
  async readFile(path: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let offset = 0;
    for (;;) {
      const r = await this.request('readFile', { path, offset, maxBytes: READ_CHUNK }, 60_000);
      const data = Buffer.from(String(r.data), 'base64');
      chunks.push(data);
      offset += data.length;
      if (data.length < READ_CHUNK || offset >= Number(r.size)) break;
    }
    return Buffer.concat(chunks);
  }

  async writeFile(path: string, data: Buffer | string, mode = 0o644): Promise<void> {
    await this.request(
      'writeFile',
      { path, data: Buffer.from(data).toString('base64'), mode },
      60_000,
    );
  }

  async ping(): Promise<number> {
    const r = await this.request('ping', {});
    return Number(r.uptime);
  }

  /** Resolves when the spawned process `pid` exits (or the VM goes away). Never rejects. */
  exited(pid: number): Promise<ProcessExit> {
    const known = this.exits.get(pid);
    if (known) return Promise.resolve(known);
    if (this.closed) return Promise.resolve({ pid, code: null, signal: null, vmStopped: true });
    return new Promise((resolve) => {
      const list = this.exitWaiters.get(pid) ?? [];
      list.push(resolve);
      this.exitWaiters.set(pid, list);
    });
  }

  close(): void {
    this.socket.destroy();
    this.fail(new Error('agent connection closed by the harness'));
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    if (this.buffer.length > MAX_LINE) {
      this.fail(new Error(`agent sent a line over ${MAX_LINE} bytes`));
      this.socket.destroy();
      return;
    }
    let nl = this.buffer.indexOf('\n');
    while (nl >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (line.trim() !== '') this.onLine(line);
      nl = this.buffer.indexOf('\n');
    }
  }

  private onLine(line: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      this.emit('garbage', line);
      return;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return;
    const reply = msg as Reply;
    if (typeof reply.event === 'string') {
      this.onEvent(reply);
      return;
    }
    const id = typeof reply.id === 'number' ? reply.id : -1;
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (reply.ok === true) p.resolve(reply);
    else p.reject(new Error(`agent op ${p.op} failed: ${String(reply.error)}`));
  }

  private onEvent(ev: Reply): void {
    if (ev.event === 'ready') {
      this.emit('ready', {
        uptime: Number(ev.uptime),
        uname: String(ev.uname),
        pid: Number(ev.pid),
      } satisfies ReadyEvent);
    } else if (ev.event === 'exit') {
      const exit = toStatus(ev);
      const done: ProcessExit = { pid: exit.pid, code: exit.code, signal: exit.signal };
      this.exits.set(done.pid, done);
      for (const w of this.exitWaiters.get(done.pid) ?? []) w(done);
      this.exitWaiters.delete(done.pid);
      this.emit('exit', done);
    }
  }

  private fail(e: Error): void {
    if (this.closed) return;
    this.closed = e;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error(`agent op ${p.op}: ${e.message}`));
      this.pending.delete(id);
    }
    for (const [pid, waiters] of this.exitWaiters) {
      for (const w of waiters) w({ pid, code: null, signal: null, vmStopped: true });
    }
    this.exitWaiters.clear();
    this.emit('closed', e);
  }
}

function toStatus(r: Reply): ProcessStatus {
  const sig = r.signal;
  return {
    pid: Number(r.pid),
    running: r.running === true,
    code: typeof r.code === 'number' ? r.code : null,
    signal: typeof sig === 'string' || typeof sig === 'number' ? sig : null,
    log: String(r.log ?? ''),
  };
}
