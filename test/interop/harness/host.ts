/**
 * Host-side helpers of the interop harness: bounded command runs, host tool checks
 * (with the Debian package to install), and the network namespace + tap the VM's NIC
 * lives in. Nothing here routes out: the namespace holds only lo and the tap.
 */
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  /** stdout as bytes, for binary protocol exchanges (e.g. a PPTP message through socat). */
  readonly stdoutBytes: Buffer;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/**
 * Runs a host command to completion, killed (its whole process group) after timeoutMs.
 * `input` goes to its stdin.
 */
export function run(
  command: string,
  args: readonly string[],
  opts: { timeoutMs?: number; input?: Buffer | string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      env: opts.env ?? process.env,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      resolve({
        code,
        signal,
        stdout: stdoutBytes.toString('utf8'),
        stdoutBytes,
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
      });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** Like run(), but throws (with the output) unless the command exits 0. */
export async function runOk(
  command: string,
  args: readonly string[],
  opts: { timeoutMs?: number; input?: Buffer | string } = {},
): Promise<RunResult> {
  const r = await run(command, args, opts);
  if (r.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} ${r.timedOut ? 'timed out' : `exited ${r.code ?? r.signal}`}` +
        `\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`,
    );
  }
  return r;
}

export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** `command` on PATH (as the harness's children will see it), or undefined. */
export function which(command: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, command);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A host tool the interop suite needs and the Debian package that provides it. */
export interface HostTool {
  readonly command: string;
  readonly debianPackage: string;
  /** Only needed to build the VM image (not to boot a cached one). */
  readonly buildOnly?: boolean;
}

export const HOST_TOOLS: readonly HostTool[] = [
  { command: 'qemu-system-x86_64', debianPackage: 'qemu-system-x86' },
  { command: 'ip', debianPackage: 'iproute2' },
  { command: 'debootstrap', debianPackage: 'debootstrap', buildOnly: true },
  { command: 'mkfs.ext4', debianPackage: 'e2fsprogs', buildOnly: true },
  { command: 'cpio', debianPackage: 'cpio', buildOnly: true },
];

export class PeerVmUnavailableError extends Error {
  override name = 'PeerVmUnavailableError';
}

/**
 * Throws a PeerVmUnavailableError naming each missing tool and its Debian package, or the
 * missing privilege (namespaces, tap and debootstrap need root). build-vm.sh checks the
 * rest of what a build needs (busybox-static among them) with the same kind of message.
 */
export function checkHost(
  opts: { env?: NodeJS.ProcessEnv; needBuild?: boolean; uid?: number } = {},
): void {
  const env = opts.env ?? process.env;
  const missing = HOST_TOOLS.filter((t) => opts.needBuild !== false || !t.buildOnly).filter(
    (t) => which(t.command, env) === undefined,
  );
  const problems: string[] = [];
  if (missing.length > 0) {
    problems.push(
      `missing host tools: ${missing.map((t) => `${t.command} (install Debian package ${t.debianPackage})`).join(', ')}`,
    );
  }
  const uid = opts.uid ?? process.getuid?.() ?? -1;
  if (uid !== 0) problems.push('must run as root (network namespace, tap device, debootstrap)');
  if (!existsSync('/dev/net/tun')) problems.push('no /dev/net/tun (the VM NIC is a tap device)');
  if (problems.length > 0) {
    throw new PeerVmUnavailableError(
      `interop peer VM unavailable: ${problems.join('; ')}. ` +
        'On Debian: sudo .ci/interop-deps.sh installs everything.',
    );
  }
}

export interface Netns {
  readonly name: string;
  /** The tap device inside the namespace that QEMU attaches the VM's NIC to. */
  readonly tap: string;
  readonly hostAddress: string;
  readonly prefixLength: number;
}

/** Creates namespace `name` with lo up and a tap holding hostCidr. */
export async function createNetns(name: string, tap: string, hostCidr: string): Promise<Netns> {
  const [address, prefix] = hostCidr.split('/');
  if (!address || !prefix) throw new Error(`host address ${hostCidr} is not ADDR/LEN`);
  await runOk('ip', ['netns', 'add', name]);
  try {
    await runOk('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    await runOk('ip', ['-n', name, 'tuntap', 'add', 'dev', tap, 'mode', 'tap']);
    await runOk('ip', ['-n', name, 'addr', 'add', hostCidr, 'dev', tap]);
    await runOk('ip', ['-n', name, 'link', 'set', tap, 'up']);
  } catch (e) {
    deleteNetnsSync(name);
    throw e;
  }
  return { name, tap, hostAddress: address, prefixLength: Number(prefix) };
}

/** Synchronous so it can run from a process 'exit' handler. Deleting takes the tap along. */
export function deleteNetnsSync(name: string): void {
  try {
    execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore', timeout: 10_000 });
  } catch {
    // already gone
  }
}

/**
 * Deletes namespaces `<prefix>-<pid>-*` left by harness processes that no longer exist
 * (killed before their cleanup ran).
 */
export async function deleteStaleNetns(prefix: string): Promise<string[]> {
  const r = await run('ip', ['netns', 'list'], { timeoutMs: 10_000 });
  const removed: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = new RegExp(`^${prefix}-(\\d+)-`).exec(name);
    if (!m?.[1]) continue;
    if (existsSync(`/proc/${m[1]}`)) continue;
    deleteNetnsSync(name);
    removed.push(name);
  }
  return removed;
}
