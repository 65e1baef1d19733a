/**
 * Network namespaces and veth pairs through iproute2's `ip`, for tests and demos
 * (never the data path). A Node process cannot move itself into a namespace, so
 * code that must run inside one is started as a child with `ip netns exec`.
 *
 * Names are unique per process (`uniqueName`), teardown is idempotent, and a
 * namespace kills the children it spawned when it is deleted.
 */
import { type ChildProcess, execFile, type SpawnOptions, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Kill the command after this long; default 30 s. */
  readonly timeoutMs?: number;
}

/** A command that failed: exit status and stderr in the message. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  readonly command: string;
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;

  constructor(
    command: string,
    exitCode: number | null,
    stdout: string,
    stderr: string,
    why: string,
  ) {
    super(`${command}: ${why}${stderr.trim() === '' ? '' : `: ${stderr.trim()}`}`);
    this.command = command;
    this.exitCode = exitCode;
    this.stdout = stdout;
    this.stderr = stderr;
  }
}

/** Runs a command without a shell; rejects with CommandError on a non-zero exit. */
export function run(
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const command = [file, ...args].join(' ');
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { timeout: options.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve({ stdout, stderr });
          return;
        }
        const code = typeof error.code === 'number' ? error.code : null;
        const why = error.killed
          ? 'timed out'
          : code === null
            ? String(error.code ?? error.message)
            : `exit status ${code}`;
        reject(new CommandError(command, code, stdout, stderr, why));
      },
    );
  });
}

let counter = 0;

/**
 * A name unique to this process and call: prefix + pid + counter in base 36,
 * trimmed to maxLength (15 fits an interface name; namespaces allow more).
 */
export function uniqueName(prefix: string, maxLength = 15): string {
  const suffix = `${process.pid.toString(36)}x${(counter++).toString(36)}`;
  const room = Math.max(0, maxLength - suffix.length);
  const name = prefix.slice(0, room) + suffix;
  if (name.length > maxLength) {
    throw new RangeError(`cannot fit a unique name in ${maxLength} characters`);
  }
  return name;
}

/** The node command line for a script: TypeScript goes through tsx's loader. */
export function nodeCommand(script: string, args: readonly string[] = []): [string, string[]] {
  if (!script.endsWith('.ts')) return [process.execPath, [script, ...args]];
  let loader: string;
  try {
    loader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  } catch {
    throw new Error(`cannot run ${script}: the tsx package (a dev dependency) is not installed`);
  }
  return [process.execPath, ['--import', loader, script, ...args]];
}

function isMissing(error: unknown): boolean {
  return (
    error instanceof CommandError &&
    /No such file|does not exist|Cannot find device|not found/i.test(error.stderr)
  );
}

export class NetNamespace {
  readonly name: string;
  private readonly children = new Set<ChildProcess>();
  private deleted = false;

  private constructor(name: string) {
    this.name = name;
  }

  /** Creates a namespace (unique name by default) with its loopback up. */
  static async create(name: string = uniqueName('blns', 32)): Promise<NetNamespace> {
    await run('ip', ['netns', 'add', name]);
    const ns = new NetNamespace(name);
    try {
      await ns.ip(['link', 'set', 'lo', 'up']);
    } catch (error) {
      await ns.delete();
      throw error;
    }
    return ns;
  }

  /** Runs a command inside the namespace. */
  exec(file: string, args: readonly string[], options?: RunOptions): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.name, file, ...args], options);
  }

  /** Runs `ip -n NAME ...`. */
  ip(args: readonly string[], options?: RunOptions): Promise<RunResult> {
    return run('ip', ['-n', this.name, ...args], options);
  }

  /** Runs `ip -j -n NAME ...` and parses its JSON. */
  async ipJson<T>(args: readonly string[]): Promise<T> {
    const { stdout } = await run('ip', ['-j', '-n', this.name, ...args]);
    return JSON.parse(stdout === '' ? '[]' : stdout) as T;
  }

  /** Starts a long-running command inside the namespace; killed by `delete()`. */
  spawn(file: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    if (this.deleted) throw new Error(`network namespace ${this.name} is deleted`);
    const child = spawn('ip', ['netns', 'exec', this.name, file, ...args], options);
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Starts a Node process (a .ts script runs through tsx) inside the namespace. */
  spawnNode(
    script: string,
    args: readonly string[] = [],
    options: SpawnOptions = {},
  ): ChildProcess {
    const [file, nodeArgs] = nodeCommand(script, args);
    return this.spawn(file, nodeArgs, options);
  }

  /** Kills the children it started and deletes the namespace. Idempotent. */
  async delete(): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const child of this.children) {
      if (child.exitCode === null && child.signalCode === null) {
        waits.push(new Promise((resolve) => child.once('exit', () => resolve())));
        child.kill('SIGKILL');
      }
    }
    await Promise.all(waits);
    this.children.clear();
    if (this.deleted) return;
    this.deleted = true;
    try {
      await run('ip', ['netns', 'delete', this.name]);
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }
}

export interface VethEnd {
  /** Interface name (at most 15 bytes). */
  readonly name: string;
  /** Where this end lives; the current namespace when absent. */
  readonly ns?: NetNamespace;
  /** Address with prefix length, e.g. "10.250.0.1/30". */
  readonly address?: string;
}

export interface VethPair {
  readonly a: VethEnd;
  readonly b: VethEnd;
  /** Deletes the pair (deleting one end removes both). Idempotent. */
  delete(): Promise<void>;
}

function ipArgs(end: VethEnd, args: readonly string[]): readonly string[] {
  return end.ns === undefined ? args : ['-n', end.ns.name, ...args];
}

async function waitOperUp(end: VethEnd, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { stdout } = await run('ip', ipArgs(end, ['-j', 'link', 'show', 'dev', end.name]));
    const [link] = JSON.parse(stdout) as { operstate?: string }[];
    if (link?.operstate === 'UP') return;
    if (Date.now() > deadline) {
      throw new Error(`veth ${end.name} did not come up within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Creates a veth pair with each end in its namespace, addressed, up and with carrier. */
export async function createVethPair(a: VethEnd, b: VethEnd): Promise<VethPair> {
  const args = ['link', 'add', a.name];
  if (a.ns !== undefined) args.push('netns', a.ns.name);
  args.push('type', 'veth', 'peer', 'name', b.name);
  if (b.ns !== undefined) args.push('netns', b.ns.name);
  await run('ip', args);
  const pair: VethPair = {
    a,
    b,
    async delete(): Promise<void> {
      try {
        await run('ip', ipArgs(a, ['link', 'delete', a.name]));
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    },
  };
  try {
    for (const end of [a, b]) {
      if (end.address !== undefined) {
        await run('ip', ipArgs(end, ['addr', 'add', end.address, 'dev', end.name]));
      }
      await run('ip', ipArgs(end, ['link', 'set', end.name, 'up']));
    }
    // The kernel reports carrier (operstate UP, IFF_RUNNING) through its link
    // watcher, up to a second later; wait so callers get a pair that is ready.
    for (const end of [a, b]) await waitOperUp(end);
  } catch (error) {
    await pair.delete();
    throw error;
  }
  return pair;
}

/** Whether this process can manage namespaces and TUN devices (for test skips). */
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}
