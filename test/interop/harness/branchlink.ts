/**
 * branchlink as the interop suite runs it: a real `branchlink run` process (TypeScript under
 * tsx) inside the peer VM's namespace, so its TUN device, its PPTP sockets and the pings
 * across stay in that namespace. Status comes over its control socket (the protocol
 * `branchlink status --json` speaks); `cliStatus()` runs the CLI itself.
 *
 * Plus the host-side tools every interop file needs: pcap checks with Debian's tshark,
 * bounded polling, and sha256 of transferred files.
 */
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { callService } from '../../../src/cli/control-client.js';
import type { LinkStatus, StatusReport } from '../../../src/daemon/status.js';
import { sleep, waitUntil, writeJson } from '../../system/fixtures/branchlink.js';
import { type RunResult, run } from './host.js';
import { type PeerVm, REPO_DIR } from './vm.js';

export const MAIN = join(REPO_DIR, 'src/cli/main.ts');

function tsxLoader(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
}

// The same small helpers the system tests use.
export { sleep, waitUntil, writeJson };

export interface SecretEntry {
  readonly client: string;
  readonly server?: string;
  readonly secret: string;
  readonly addresses?: string;
}

/** branchlink's secrets file (0600, version 1). */
export function writeSecrets(path: string, entries: readonly SecretEntry[]): void {
  writeJson(path, {
    version: 1,
    secrets: entries.map((e) => ({
      client: e.client,
      server: e.server ?? '*',
      secret: e.secret,
      addresses: e.addresses ?? '*',
    })),
  });
}

/** A `branchlink run` process in the peer VM's namespace. */
export class Branchlink {
  /** stdout + stderr (JSON log lines), for failure messages. */
  output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly name: string,
    readonly configPath: string,
    readonly socket: string,
    private readonly child: ChildProcess,
  ) {
    const take = (d: string): void => {
      this.output += d;
      // A long transfer with `debug` logs a lot: keep the tail only.
      if (this.output.length > 4_000_000) this.output = this.output.slice(-2_000_000);
    };
    child.stdout?.setEncoding('utf8').on('data', take);
    child.stderr?.setEncoding('utf8').on('data', take);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
  }

  /**
   * Writes DIR/NAME.json (control socket and JSON log filled in) and starts
   * `branchlink run` on it in vm.netns; resolves once the control socket answers.
   */
  static async start(
    vm: PeerVm,
    options: { name: string; dir: string; config: Record<string, unknown> },
  ): Promise<Branchlink> {
    const configPath = join(options.dir, `${options.name}.json`);
    const socket = join(options.dir, `${options.name}.sock`);
    writeJson(
      configPath,
      {
        board: { profile: 'virtual', render: false },
        ...options.config,
        control: { socket },
        log: { level: 'debug', format: 'json' },
      },
      0o644,
    );
    const child = vm.netnsSpawn(process.execPath, [
      '--import',
      tsxLoader(),
      MAIN,
      'run',
      '--config',
      configPath,
      '--socket',
      socket,
      '--no-leds',
    ]);
    child.stdin?.end();
    const bl = new Branchlink(options.name, configPath, socket, child);
    await waitUntil(
      `branchlink ${options.name} to answer on its control socket`,
      async () => {
        if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}`);
        await bl.status();
        return true;
      },
      30_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n--- branchlink ${options.name}\n${bl.output}`);
    });
    return bl;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  status(): Promise<StatusReport> {
    return callService(this.socket, { command: 'status' }, 5_000) as Promise<StatusReport>;
  }

  async link(name: string): Promise<LinkStatus> {
    const l = (await this.status()).links.find((x) => x.name === name);
    if (!l) throw new Error(`branchlink ${this.name} has no link '${name}'`);
    return l;
  }

  /** Polls the link's status until `pred` holds; returns that status. */
  async waitLink(
    name: string,
    what: string,
    pred: (l: LinkStatus) => boolean,
    timeoutMs = 60_000,
  ): Promise<LinkStatus> {
    let last: LinkStatus | undefined;
    try {
      return await waitUntil(
        `link '${name}' ${what}`,
        async () => {
          last = await this.link(name);
          return pred(last) ? last : undefined;
        },
        timeoutMs,
      );
    } catch (e) {
      const error = e as Error;
      error.message += `; last status: ${JSON.stringify(last)}`;
      throw error;
    }
  }

  /** `branchlink status --json --socket S`, the CLI itself (a fresh node process). */
  async cliStatus(): Promise<StatusReport> {
    const r = await run(
      process.execPath,
      ['--import', tsxLoader(), MAIN, 'status', '--json', '--socket', this.socket],
      { timeoutMs: 30_000 },
    );
    if (r.code !== 0) throw new Error(`branchlink status --json exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as StatusReport;
  }

  /** Time (ms since the epoch) of the first log record whose msg matches, if any. */
  firstLogTime(msg: RegExp): number | undefined {
    for (const line of this.output.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const r = JSON.parse(line) as { msg?: string; time?: number };
        if (r.msg !== undefined && msg.test(r.msg)) return r.time;
      } catch {
        // not a record
      }
    }
    return undefined;
  }

  /** Log lines (the JSON records' text) matching `pattern`. */
  logLines(pattern: RegExp): string[] {
    return this.output.split('\n').filter((l) => pattern.test(l));
  }

  /** SIGTERM, then SIGKILL after timeoutMs. Never throws. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Runs fn with branchlink's own log appended to any failure (beside the peers'). `current`
 * is read when the failure happens, so fn may start the process itself.
 */
export async function withBranchlinkLog<T>(
  current: () => Branchlink | undefined,
  fn: () => Promise<T> | T,
): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const error = e instanceof Error ? e : new Error(String(e));
    const bl = current();
    if (bl) {
      const tail = bl.output.length > 20_000 ? `…${bl.output.slice(-20_000)}` : bl.output;
      const extra = `\n--- branchlink ${bl.name} log\n${tail.trimEnd()}`;
      const before = error.message;
      error.message += extra;
      if (error.stack?.includes(before)) error.stack = error.stack.replace(before, error.message);
    }
    throw error;
  }
}

// ---------------------------------------------------------------------------------------
// Wireshark

export interface TsharkVerdict {
  /** Frames in the file. */
  readonly frames: number;
  /** Every distinct frame.protocols chain, e.g. "ppp:lcp" or "eth:ethertype:ip:gre:ppp:comp_data". */
  readonly chains: ReadonlySet<string>;
  /** Every protocol name that appears in some chain. */
  readonly protocols: ReadonlySet<string>;
  /** Lines of `tshark -V` that mention a malformed packet (empty when all is well). */
  readonly malformed: readonly string[];
  /** Expert-info errors (`_ws.expert.severity == error`), one line per frame. */
  readonly errors: readonly string[];
}

/**
 * Dissects a capture with Debian's tshark: `tshark -r FILE -V | grep -i malformed` must be
 * empty for a clean capture; also the protocol chains, to check what is in it.
 */
export async function tshark(file: string): Promise<TsharkVerdict> {
  const opts = { timeoutMs: 240_000 };
  const verbose = await run('tshark', ['-n', '-r', file, '-V'], opts);
  if (verbose.code !== 0)
    throw new Error(`tshark -r ${file} -V exited ${verbose.code}: ${verbose.stderr}`);
  const malformed = verbose.stdout.split('\n').filter((l) => /malformed/i.test(l));
  const fields = await run(
    'tshark',
    ['-n', '-r', file, '-T', 'fields', '-e', 'frame.protocols'],
    opts,
  );
  const chains = new Set(fields.stdout.split('\n').filter((l) => l !== ''));
  const protocols = new Set([...chains].flatMap((c) => c.split(':')));
  const errors = await run(
    'tshark',
    [
      '-n',
      '-r',
      file,
      '-Y',
      '_ws.expert.severity == error',
      '-T',
      'fields',
      '-e',
      'frame.number',
      '-e',
      '_ws.expert.message',
    ],
    opts,
  );
  return {
    frames: fields.stdout.split('\n').filter((l) => l !== '').length,
    chains,
    protocols,
    malformed,
    errors: errors.stdout.split('\n').filter((l) => l.trim() !== ''),
  };
}

/** One-line pppd-style summary of a capture (for failure messages): `tshark -r FILE`. */
export async function tsharkSummary(file: string, max = 60): Promise<string> {
  const r: RunResult = await run('tshark', ['-n', '-r', file, '-c', String(max)], {
    timeoutMs: 60_000,
  });
  return r.stdout;
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

// ---------------------------------------------------------------------------------------
// branchlink's own pcap (LINKTYPE_PPP_WITH_DIR), read back for checks tshark cannot make

export interface CapturedFrame {
  readonly direction: 'sent' | 'rcvd';
  /** The PPP frame as on the link: [FF 03] protocol information. */
  readonly frame: Buffer;
}

/** Reads a little-endian pcap with LINKTYPE_PPP_WITH_DIR (204), as src/daemon/capture.ts writes. */
export function readPppPcap(bytes: Buffer): CapturedFrame[] {
  if (bytes.length < 24 || bytes.readUInt32LE(0) !== 0xa1b2c3d4 || bytes.readUInt32LE(20) !== 204)
    throw new Error('not a little-endian LINKTYPE_PPP_WITH_DIR pcap');
  const out: CapturedFrame[] = [];
  let at = 24;
  while (at + 16 <= bytes.length) {
    const caplen = bytes.readUInt32LE(at + 8);
    if (caplen < 1 || at + 16 + caplen > bytes.length) break;
    const record = bytes.subarray(at + 16, at + 16 + caplen);
    out.push({ direction: record[0] === 1 ? 'sent' : 'rcvd', frame: record.subarray(1) });
    at += 16 + caplen;
  }
  return out;
}

/** The protocol number and information field of a PPP frame (ACFC and PFC undone). */
export function pppPayload(frame: Buffer): { protocol: number; info: Buffer } | undefined {
  let at = frame[0] === 0xff && frame[1] === 0x03 ? 2 : 0;
  if (at >= frame.length) return undefined;
  let protocol = frame[at]!;
  if ((protocol & 1) === 0) {
    if (at + 1 >= frame.length) return undefined;
    protocol = (protocol << 8) | frame[at + 1]!;
    at += 2;
  } else at += 1;
  return { protocol, info: frame.subarray(at) };
}

/**
 * RFC 3078 §3: MPPE packets (protocol 0x00FD) of one direction, counted by their A bit
 * ("flushed": set on every packet in stateless mode, only after a reset in stateful mode).
 */
export function mppeFlushedCounts(
  frames: readonly CapturedFrame[],
  direction: 'sent' | 'rcvd',
): { packets: number; flushed: number } {
  let packets = 0;
  let flushed = 0;
  for (const f of frames) {
    if (f.direction !== direction) continue;
    const p = pppPayload(f.frame);
    if (p?.protocol !== 0x00fd || p.info.length < 2) continue;
    packets++;
    if ((p.info[0]! & 0x80) !== 0) flushed++;
  }
  return { packets, flushed };
}
