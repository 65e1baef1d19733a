/**
 * The interop peer VM: Debian bookworm with pppd 2.4.9, pptpd 1.4.0 and pptp-linux 1.10 on
 * Debian's kernel (kernel PPP, MPPE and PPTP, which the host kernel lacks), under QEMU.
 *
 *   host                                      VM (Debian kernel, /sbin/bl-init as PID 1)
 *   serialPty (/dev/pts/N)  <── 16550 ──>     /dev/ttyS1   (pppd for the dial-up cases)
 *   netns <name>: tap 192.0.2.1/24 <─ virtio-net ─> eth0 192.0.2.2/24 (pptpd / pptp)
 *   agent socket  <── virtio-serial ──>       bl-agent (exec, spawn, readFile, kill)
 *   console.log   <── ttyS0                   kernel + bl-init messages
 *
 * startPeerVm() builds the image on demand (scripts/interop/build-vm.sh, cached by recipe
 * hash), creates the namespace and tap, boots QEMU with -snapshot (every boot starts from
 * the same clean disk) and resolves once the agent inside says it is ready. stop() tears
 * down the VM, the tap and the namespace; a process 'exit' hook and a detached reaper do the
 * same if the test process dies first. Every wait is bounded.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentClient, type ExecResult, type ProcessExit, type ProcessStatus } from './agent.js';
import {
  checkHost,
  createNetns,
  deleteNetnsSync,
  deleteStaleNetns,
  killGroup,
  type RunResult,
  run,
  which,
} from './host.js';
import { QmpClient } from './qmp.js';

export type { ExecResult, ProcessExit, ProcessStatus } from './agent.js';
export { checkHost, HOST_TOOLS, PeerVmUnavailableError, type RunResult } from './host.js';

export const REPO_DIR = fileURLToPath(new URL('../../../', import.meta.url));
export const BUILD_SCRIPT = join(REPO_DIR, 'scripts/interop/build-vm.sh');
const NETNS_PREFIX = 'blvm';

/** Where build-vm.sh keeps the image: $BRANCHLINK_VM_CACHE or <repo>/.cache/interop-vm. */
export function vmCacheDir(): string {
  return process.env.BRANCHLINK_VM_CACHE ?? join(REPO_DIR, '.cache/interop-vm');
}

export interface VmImage {
  readonly dir: string;
  /** vmlinux (uncompressed, PVH entry) when the build could extract it, else vmlinuz. */
  readonly kernel: string;
  readonly initrd: string;
  readonly rootfs: string;
  /** build-vm.sh's recipe hash of this image. */
  readonly recipe: string;
  /** Package → version inside the image (ppp, pptpd, pptp-linux, linux-image-…, …). */
  readonly packages: Readonly<Record<string, string>>;
  readonly kernelRelease: string;
  /** Time build-vm.sh took in this call (about 0.02 s when the cache is current). */
  readonly buildMs: number;
}

/**
 * Runs build-vm.sh (a no-op when the cached image matches its recipe), bounded by
 * timeoutMs; its progress goes to `log` (stderr by default).
 */
export async function ensurePeerVmImage(
  opts: { timeoutMs?: number; log?: (text: string) => void } = {},
): Promise<VmImage> {
  const timeoutMs = opts.timeoutMs ?? envNumber('BRANCHLINK_VM_BUILD_TIMEOUT_MS', 480_000);
  const log = opts.log ?? ((t: string) => process.stderr.write(t));
  const dir = vmCacheDir();
  const started = performance.now();
  const code = await new Promise<number | string>((resolve, reject) => {
    const child = spawn('bash', [BUILD_SCRIPT], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, BRANCHLINK_VM_CACHE: dir },
    });
    const timer = setTimeout(() => {
      killGroup(child.pid, 'SIGKILL');
      resolve(`timed out after ${timeoutMs} ms`);
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => log(b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => log(b.toString('utf8')));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (c, signal) => {
      clearTimeout(timer);
      resolve(c ?? String(signal));
    });
  });
  if (code !== 0) {
    throw new Error(
      `building the peer VM failed (${BUILD_SCRIPT}: ${typeof code === 'number' ? `exit ${code}` : code}); ` +
        `its output is above, its logs in ${join(dir, 'build.tmp')}`,
    );
  }
  const packages: Record<string, string> = {};
  let kernelRelease = '';
  for (const line of readFileSync(join(dir, 'manifest.txt'), 'utf8').split('\n')) {
    const [key, value] = line.split(' ', 2);
    if (!key || value === undefined) continue;
    if (key === 'kernel') kernelRelease = value;
    else if (key !== 'recipe' && key !== 'built') packages[key] = value;
  }
  return {
    dir,
    // The uncompressed kernel boots ~3 s faster under TCG (no in-guest decompression).
    kernel: existsSync(join(dir, 'vmlinux')) ? join(dir, 'vmlinux') : join(dir, 'vmlinuz'),
    initrd: join(dir, 'initrd.img'),
    rootfs: join(dir, 'rootfs.ext4'),
    recipe: readFileSync(join(dir, 'recipe.sha256'), 'utf8').trim(),
    packages,
    kernelRelease,
    buildMs: performance.now() - started,
  };
}

export type Accel = 'kvm' | 'tcg';

/**
 * KVM when it can really boot Debian's kernel, else TCG. /dev/kvm may exist and still not
 * boot a stock kernel (nested virtualisation hangs early), so a short probe boot decides;
 * its verdict is cached per host kernel, QEMU and image.
 */
export async function chooseAccel(
  requested: 'auto' | Accel,
  image: VmImage,
  log: (text: string) => void = (t) => process.stderr.write(t),
): Promise<Accel> {
  if (requested === 'tcg') return 'tcg';
  if (!existsSync('/dev/kvm')) {
    if (requested === 'kvm') throw new Error('accel kvm requested but /dev/kvm does not exist');
    return 'tcg';
  }
  const qemuVersion = (await run('qemu-system-x86_64', ['--version'])).stdout.split('\n')[0];
  const key = `${release()}|${qemuVersion}|${image.recipe}`;
  const cacheFile = join(image.dir, 'kvm-probe.json');
  let works: boolean | undefined;
  try {
    const cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as { key?: string; works?: boolean };
    if (cached.key === key && typeof cached.works === 'boolean') works = cached.works;
  } catch {
    // no verdict yet
  }
  if (works === undefined) {
    const started = performance.now();
    const r = await run(
      'qemu-system-x86_64',
      [
        ...['-nodefaults', '-nographic', '-no-reboot', '-no-user-config'],
        // Default CPU model, as the real boot uses (-cpu host trips MSR errors when nested).
        ...['-accel', 'kvm', '-m', '256', '-serial', 'stdio'],
        ...['-kernel', image.kernel, '-initrd', image.initrd],
        ...['-append', 'console=ttyS0 bl.probe panic=-1'],
      ],
      // Under KVM the kernel reaches the initramfs in 1-2 s; nested KVM hangs before that.
      { timeoutMs: 8_000 },
    );
    works = r.stdout.includes('bl-probe-ok');
    log(
      `[peer-vm] KVM probe: ${works ? 'boots' : 'cannot boot Debian kernel; using TCG'} ` +
        `(${Math.round(performance.now() - started)} ms)\n`,
    );
    writeFileSync(cacheFile, `${JSON.stringify({ key, works })}\n`);
  }
  if (!works && requested === 'kvm')
    throw new Error('accel kvm requested but the KVM probe failed');
  return works ? 'kvm' : 'tcg';
}

export interface PeerVmOptions {
  /** Label for logs and the run directory. Default 'peer'. */
  readonly name?: string;
  /** Default $BRANCHLINK_VM_ACCEL or 'auto' (probe KVM once, fall back to TCG). */
  readonly accel?: 'auto' | Accel;
  readonly memoryMb?: number;
  /** From QEMU start to the agent's ready event. Default 90 s (TCG boots in about 10 s). */
  readonly bootTimeoutMs?: number;
  /** Bound on build-vm.sh when the image must be (re)built. Default 480 s. */
  readonly buildTimeoutMs?: number;
  /** Host end of the link, on the tap in the namespace. Default 192.0.2.1/24 (TEST-NET-1). */
  readonly hostCidr?: string;
  /** The VM's eth0. Default 192.0.2.2/24. */
  readonly vmCidr?: string;
  /** Appended to the kernel command line. */
  readonly kernelArgs?: readonly string[];
  /** Progress lines (build, probe, boot). Default: stderr. */
  readonly log?: (text: string) => void;
}

export interface SpawnedProcess {
  readonly pid: number;
  readonly cmd: string;
  /** The process's stdout+stderr, in the VM. */
  readonly log: string;
  /** Resolves when it exits (or the VM stops); never rejects. */
  readonly exited: Promise<ProcessExit>;
  kill(signal?: string): Promise<boolean>;
  status(): Promise<ProcessStatus>;
  readLog(): Promise<string>;
}

export interface PeerVm {
  readonly name: string;
  /** Host pty wired to the VM's ttyS1: branchlink's dial-up link (or the modem sim) opens it. */
  readonly serialPty: string;
  /** Network namespace holding the tap to the VM's NIC; run host-side peers in it. */
  readonly netns: string;
  readonly tap: string;
  /** Address of the host end (the tap) in the namespace, without prefix. */
  readonly hostAddress: string;
  /** Address of the VM's eth0, without prefix. */
  readonly vmAddress: string;
  readonly prefixLength: number;
  readonly accel: Accel;
  readonly image: VmImage;
  /** QEMU start to agent ready, ms. */
  readonly bootMs: number;
  /** Host directory with console.log and qemu.log of this boot (kept after stop). */
  readonly runDir: string;

  /** Runs `sh -c cmd` in the VM to completion (killed after timeoutMs, default 30 s). */
  exec(cmd: string, opts?: { timeoutMs?: number; stdin?: Buffer | string }): Promise<ExecResult>;
  /** exec() that throws, with stdout and stderr, unless the command exits 0. */
  execOk(cmd: string, opts?: { timeoutMs?: number; stdin?: Buffer | string }): Promise<ExecResult>;
  /** Starts `sh -c cmd` in the background in its own session, output to `log` in the VM. */
  spawn(cmd: string, opts?: { log?: string }): Promise<SpawnedProcess>;
  readFile(path: string): Promise<Buffer>;
  writeFile(path: string, data: Buffer | string, mode?: number): Promise<void>;
  /** Polls a VM file until `pattern` matches its text; returns the match. Bounded. */
  waitForFile(path: string, pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Runs a host command inside the namespace (`ip netns exec`), bounded. */
  netnsRun(
    command: string,
    args: readonly string[],
    opts?: { timeoutMs?: number; input?: Buffer | string },
  ): Promise<RunResult>;
  /** Starts a host command inside the namespace; stop() kills it (process group). */
  netnsSpawn(command: string, args: readonly string[]): ChildProcess;
  /** The VM's serial console so far (kernel messages, bl-init, agent). */
  consoleLog(): string;
  /**
   * pppd/pptpd logs: syslog (/var/log/messages), every spawned process's log, `files`, and
   * the tail of the console. For failure messages; never throws.
   */
  peerLogs(files?: readonly string[]): Promise<string>;
  /** Stops QEMU and removes the tap and the namespace. Idempotent; never throws. */
  stop(): Promise<void>;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ESC is the point
const TERMINAL_ESCAPES = /\u001b(?:\[[0-9;?]*[A-Za-z]|c)/g;

let instanceCounter = 0;
const liveVms = new Set<PeerVmInstance>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: kill and delete without waiting for anything.
  process.once('exit', () => {
    for (const vm of liveVms) vm.stopSync();
  });
}

// The reaper outlives the test process: when the harness dies without stop() (crash,
// SIGKILL), its end of the reaper's stdin closes and the reaper kills QEMU and deletes the
// namespace. stop() cleans up itself and then kills the reaper.
const REAPER = `cat >/dev/null
if grep -q qemu "/proc/$1/cmdline" 2>/dev/null; then kill -KILL "$1"; fi
ip netns del "$2" 2>/dev/null
rm -rf "$3"`;

/** Boots a fresh peer VM (building the image first if needed). */
export async function startPeerVm(options: PeerVmOptions = {}): Promise<PeerVm> {
  const log = options.log ?? ((t: string) => process.stderr.write(t));
  checkHost({ needBuild: !imageLooksCurrent() });
  const image = await ensurePeerVmImage({
    log,
    ...(options.buildTimeoutMs !== undefined ? { timeoutMs: options.buildTimeoutMs } : {}),
  });
  const requested = options.accel ?? parseAccel(process.env.BRANCHLINK_VM_ACCEL);
  const accel = await chooseAccel(requested, image, log);
  await deleteStaleNetns(NETNS_PREFIX);
  const vm = new PeerVmInstance(options, image, accel, log);
  try {
    await vm.boot();
  } catch (e) {
    const tail = vm.consoleTail(40);
    await vm.stop();
    if (e instanceof Error) {
      e.message += `\n--- peer VM console (last 40 lines, ${vm.runDir}/console.log)\n${tail}`;
    }
    throw e;
  }
  return vm;
}

/**
 * Runs fn; if it throws, appends the peers' logs (pppd, pptpd, pptp, syslog, console tail)
 * to the error message and rethrows, so a failed interop assertion shows what pppd said.
 */
export async function withPeerLogs<T>(
  vm: PeerVm,
  fn: () => Promise<T> | T,
  opts: { files?: readonly string[] } = {},
): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const logs = await vm.peerLogs(opts.files);
    const error = e instanceof Error ? e : new Error(String(e));
    const before = error.message;
    error.message = `${before}\n\n${logs}`;
    if (error.stack?.includes(before)) error.stack = error.stack.replace(before, error.message);
    throw error;
  }
}

function imageLooksCurrent(): boolean {
  const dir = vmCacheDir();
  return ['vmlinuz', 'initrd.img', 'rootfs.ext4', 'recipe.sha256'].every((f) =>
    existsSync(join(dir, f)),
  );
}

function parseAccel(value: string | undefined): 'auto' | Accel {
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if (value === 'kvm' || value === 'tcg') return value;
  throw new Error(`BRANCHLINK_VM_ACCEL must be auto, kvm or tcg (got ${value})`);
}

function envNumber(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

function splitCidr(cidr: string): { address: string; prefix: number } {
  const [address, prefix] = cidr.split('/');
  if (!address || !prefix || !/^\d+$/.test(prefix)) throw new Error(`${cidr} is not ADDR/LEN`);
  return { address, prefix: Number(prefix) };
}

/** Accepts the single connection QEMU makes to a unix socket we listen on. */
function listenOnce(path: string): { server: Server; connection: Promise<Socket> } {
  const server = createServer();
  const connection = new Promise<Socket>((resolve, reject) => {
    server.once('connection', (s) => {
      server.close();
      resolve(s);
    });
    server.once('error', reject);
  });
  server.listen(path);
  return { server, connection };
}

function tail(text: string, lines: number): string {
  const all = text.split('\n');
  return all.slice(Math.max(0, all.length - lines - 1)).join('\n');
}

function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

class PeerVmInstance implements PeerVm {
  readonly name: string;
  readonly netns: string;
  readonly tap = 'bltap0';
  readonly hostAddress: string;
  readonly vmAddress: string;
  readonly prefixLength: number;
  readonly runDir: string;
  serialPty = '';
  bootMs = 0;

  private readonly hostCidr: string;
  private readonly vmCidr: string;
  private sockDir = '';
  private qemu: ChildProcess | undefined;
  private qemuExit: Promise<void> | undefined;
  private reaper: ChildProcess | undefined;
  private agent: AgentClient | undefined;
  private qmp: QmpClient | undefined;
  private servers: Server[] = [];
  private netnsCreated = false;
  private readonly netnsChildren = new Set<ChildProcess>();
  private readonly spawned: SpawnedProcess[] = [];
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly options: PeerVmOptions,
    readonly image: VmImage,
    readonly accel: Accel,
    private readonly log: (text: string) => void,
  ) {
    const n = ++instanceCounter;
    this.name = options.name ?? 'peer';
    this.netns = `${NETNS_PREFIX}-${process.pid}-${n}`;
    this.hostCidr = options.hostCidr ?? '192.0.2.1/24';
    this.vmCidr = options.vmCidr ?? '192.0.2.2/24';
    const host = splitCidr(this.hostCidr);
    const guest = splitCidr(this.vmCidr);
    this.hostAddress = host.address;
    this.vmAddress = guest.address;
    this.prefixLength = guest.prefix;
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    this.runDir = join(image.dir, 'runs', `${stamp}-${this.name}-${process.pid}-${n}`);
  }

  async boot(): Promise<void> {
    installExitHook();
    liveVms.add(this);
    mkdirSync(this.runDir, { recursive: true });
    await pruneRuns(join(this.image.dir, 'runs'), 20);
    // Unix socket paths are limited to 108 bytes: keep them in a short temporary directory.
    this.sockDir = await mkdtemp(join(tmpdir(), 'blvm-'));
    await createNetns(this.netns, this.tap, this.hostCidr);
    this.netnsCreated = true;

    const agentSock = join(this.sockDir, 'agent.sock');
    const qmpSock = join(this.sockDir, 'qmp.sock');
    const agentListen = listenOnce(agentSock);
    const qmpListen = listenOnce(qmpSock);
    this.servers = [agentListen.server, qmpListen.server];
    await Promise.all(
      this.servers.map((s) => new Promise<void>((resolve) => s.once('listening', resolve))),
    );

    const kernelArgs = [
      'console=ttyS0',
      'panic=1',
      'quiet',
      `bl.ip=${this.vmCidr}`,
      ...(this.options.kernelArgs ?? []),
    ];
    const args = [
      ...['-nodefaults', '-nographic', '-no-reboot', '-no-user-config', '-snapshot'],
      ...['-machine', 'pc', '-accel', this.accel],
      ...['-m', String(this.options.memoryMb ?? 512), '-smp', '1'],
      ...['-kernel', this.image.kernel, '-initrd', this.image.initrd],
      ...['-append', kernelArgs.join(' ')],
      ...['-drive', `file=${this.image.rootfs},format=raw,if=virtio`],
      // ttyS0: console to a file; ttyS1: a host pty for pppd's serial line.
      ...['-chardev', `file,id=con,path=${join(this.runDir, 'console.log')}`],
      ...['-serial', 'chardev:con', '-chardev', 'pty,id=ser1', '-serial', 'chardev:ser1'],
      ...['-device', 'virtio-serial-pci,id=vs0', '-chardev', `socket,id=agent,path=${agentSock}`],
      ...['-device', 'virtserialport,bus=vs0.0,chardev=agent,name=org.branchlink.agent'],
      ...['-chardev', `socket,id=qmp,path=${qmpSock}`, '-mon', 'chardev=qmp,mode=control'],
      ...['-netdev', `tap,id=n0,ifname=${this.tap},script=no,downscript=no`],
      ...['-device', 'virtio-net-pci,netdev=n0,mac=52:54:00:b1:00:02,romfile='],
    ];
    writeFileSync(join(this.runDir, 'qemu.args'), `${args.join('\n')}\n`);
    const qemuLog = openSync(join(this.runDir, 'qemu.log'), 'a');
    const started = performance.now();
    // `ip netns exec` execs QEMU, so the child's pid is QEMU's and it opens the tap there.
    const qemu = spawn('ip', ['netns', 'exec', this.netns, 'qemu-system-x86_64', ...args], {
      stdio: ['ignore', qemuLog, qemuLog],
    });
    closeSync(qemuLog);
    this.qemu = qemu;
    const qemuExit = new Promise<void>((resolve) => qemu.once('exit', () => resolve()));
    this.qemuExit = qemuExit;
    const died = qemuExit.then(() => {
      throw new Error(
        `QEMU exited during boot (${qemu.exitCode ?? qemu.signalCode}); ` +
          `qemu.log:\n${this.readHostFile('qemu.log')}`,
      );
    });
    died.catch(() => {});
    this.startReaper(qemu.pid);
    this.log(`[peer-vm] ${this.name}: booting (${this.accel}, netns ${this.netns})\n`);

    const bootTimeoutMs = this.options.bootTimeoutMs ?? 90_000;
    const what = `peer VM ${this.name} boot (accel ${this.accel})`;
    const [agentSocket, qmpSocket] = await bounded(
      Promise.race([Promise.all([agentListen.connection, qmpListen.connection]), died]),
      10_000,
      `${what}: QEMU connecting to the agent and QMP sockets`,
    );
    this.qmp = new QmpClient(qmpSocket);
    this.agent = new AgentClient(agentSocket);
    const agent = this.agent;
    agent.on('exit', (ev: ProcessExit) =>
      this.log(`[peer-vm] ${this.name}: pid ${ev.pid} exited (${ev.code ?? ev.signal})\n`),
    );
    const ready = agent.waitReady(bootTimeoutMs);
    ready.catch(() => {}); // awaited below; this only keeps an early rejection handled
    await bounded(this.qmp.init(10_000), 10_000, `${what}: QMP`);
    this.serialPty = await this.qmp.ptyPath('ser1');
    await Promise.race([ready, died]);
    this.bootMs = performance.now() - started;
    this.log(
      `[peer-vm] ${this.name}: agent ready after ${Math.round(this.bootMs)} ms; ttyS1 = ${this.serialPty}\n`,
    );
  }

  private startReaper(qemuPid: number | undefined): void {
    if (qemuPid === undefined) return;
    const reaper = spawn(
      'sh',
      ['-c', REAPER, 'bl-reaper', String(qemuPid), this.netns, this.sockDir],
      {
        detached: true,
        stdio: ['pipe', 'ignore', 'ignore'],
      },
    );
    reaper.unref();
    // Keep the pipe open but let the event loop end without it.
    (reaper.stdin as unknown as Socket).unref();
    this.reaper = reaper;
  }

  private requireAgent(): AgentClient {
    if (!this.agent || this.stopping) throw new Error(`peer VM ${this.name} is not running`);
    return this.agent;
  }

  async exec(
    cmd: string,
    opts: { timeoutMs?: number; stdin?: Buffer | string } = {},
  ): Promise<ExecResult> {
    return this.requireAgent().exec(cmd, opts);
  }

  async execOk(
    cmd: string,
    opts: { timeoutMs?: number; stdin?: Buffer | string } = {},
  ): Promise<ExecResult> {
    const r = await this.exec(cmd, opts);
    if (r.code !== 0) {
      throw new Error(
        `in peer VM: \`${cmd}\` ${r.timedOut ? 'timed out' : `exited ${r.code ?? r.signal}`}` +
          `\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`,
      );
    }
    return r;
  }

  async spawn(cmd: string, opts: { log?: string } = {}): Promise<SpawnedProcess> {
    const agent = this.requireAgent();
    const { pid, log } = await agent.spawn(cmd, opts.log);
    const proc: SpawnedProcess = {
      pid,
      cmd,
      log,
      exited: agent.exited(pid),
      kill: (signal = 'TERM') => agent.kill(pid, signal),
      status: () => agent.status(pid),
      readLog: async () => (await agent.readFile(log)).toString('utf8'),
    };
    this.spawned.push(proc);
    return proc;
  }

  async readFile(path: string): Promise<Buffer> {
    return this.requireAgent().readFile(path);
  }

  async writeFile(path: string, data: Buffer | string, mode?: number): Promise<void> {
    return this.requireAgent().writeFile(path, data, mode);
  }

  async waitForFile(path: string, pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const deadline = performance.now() + timeoutMs;
    let last = '';
    for (;;) {
      try {
        last = (await this.readFile(path)).toString('utf8');
        const m = last.match(pattern);
        if (m) return m;
      } catch (e) {
        last = `(unreadable: ${e instanceof Error ? e.message : String(e)})`;
      }
      if (performance.now() > deadline) {
        throw new Error(
          `peer VM ${path} did not match ${pattern} within ${timeoutMs} ms; it holds:\n${tail(last, 40)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  netnsRun(
    command: string,
    args: readonly string[],
    opts: { timeoutMs?: number; input?: Buffer | string } = {},
  ): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.netns, command, ...args], opts);
  }

  netnsSpawn(command: string, args: readonly string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.netns, command, ...args], {
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.netnsChildren.add(child);
    child.once('exit', () => this.netnsChildren.delete(child));
    return child;
  }

  consoleLog(): string {
    return this.readHostFile('console.log');
  }

  /** The console's last lines without SeaBIOS's terminal escapes, for error messages. */
  consoleTail(lines: number): string {
    return tail(this.consoleLog().replace(TERMINAL_ESCAPES, ''), lines);
  }

  async peerLogs(files: readonly string[] = []): Promise<string> {
    const sections: string[] = [];
    const add = async (title: string, path: string): Promise<void> => {
      let text: string;
      try {
        if (!this.agent || this.stopping) throw new Error('VM not running');
        const buf = await this.agent.readFile(path);
        text =
          buf.length > 16_384
            ? `…\n${buf.subarray(buf.length - 16_384).toString('utf8')}`
            : buf.toString('utf8');
      } catch (e) {
        text = `(unavailable: ${e instanceof Error ? e.message : String(e)})`;
      }
      sections.push(`--- peer ${this.name}: ${title} (${path})\n${text.trimEnd()}`);
    };
    await add('syslog (pppd, pptpd)', '/var/log/messages');
    for (const p of this.spawned) await add(`pid ${p.pid}: ${p.cmd}`, p.log);
    for (const f of files) await add('file', f);
    try {
      if (!this.agent || this.stopping) throw new Error('VM not running');
      const dmesg = await this.agent.exec('dmesg | tail -n 30', { timeoutMs: 5_000 });
      sections.push(`--- peer ${this.name}: kernel log, last 30 lines\n${dmesg.stdout.trimEnd()}`);
    } catch (e) {
      sections.push(
        `--- peer ${this.name}: kernel log (unavailable: ${e instanceof Error ? e.message : String(e)})`,
      );
    }
    sections.push(
      `--- peer ${this.name}: console, last 30 lines (${join(this.runDir, 'console.log')})\n${this.consoleTail(30).trimEnd()}`,
    );
    return sections.join('\n');
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    for (const child of this.netnsChildren) killGroup(child.pid, 'SIGKILL');
    const qemu = this.qemu;
    if (qemu && qemu.exitCode === null && qemu.signalCode === null && this.qemuExit) {
      try {
        await this.qmp?.execute('quit', undefined, 2_000);
      } catch {
        // QMP gone or slow: SIGKILL below
      }
      const exited = await Promise.race([
        this.qemuExit.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 3_000)),
      ]);
      if (!exited) {
        qemu.kill('SIGKILL');
        await Promise.race([this.qemuExit, new Promise((r) => setTimeout(r, 3_000))]);
      }
    }
    this.agent?.close();
    this.qmp?.close();
    for (const s of this.servers) s.close();
    if (this.netnsCreated) deleteNetnsSync(this.netns);
    if (this.reaper?.pid !== undefined) killGroup(this.reaper.pid, 'SIGKILL');
    if (this.sockDir) await rm(this.sockDir, { recursive: true, force: true });
    liveVms.delete(this);
  }

  /** For the process 'exit' hook: no awaiting possible there. */
  stopSync(): void {
    for (const child of this.netnsChildren) killGroup(child.pid, 'SIGKILL');
    if (this.qemu?.pid !== undefined && this.qemu.exitCode === null) {
      try {
        process.kill(this.qemu.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    if (this.netnsCreated) deleteNetnsSync(this.netns);
    if (this.reaper?.pid !== undefined) killGroup(this.reaper.pid, 'SIGKILL');
    if (this.sockDir) {
      try {
        execFileSync('rm', ['-rf', this.sockDir], { stdio: 'ignore' });
      } catch {
        // best effort
      }
    }
  }

  private readHostFile(name: string): string {
    try {
      return readFileSync(join(this.runDir, name), 'utf8');
    } catch {
      return '';
    }
  }
}

/** Keeps the newest `keep` run directories (console and QEMU logs of past boots). */
async function pruneRuns(dir: string, keep: number): Promise<void> {
  let entries: string[];
  try {
    entries = (await readdir(dir)).sort();
  } catch {
    return;
  }
  for (const e of entries.slice(0, Math.max(0, entries.length - keep))) {
    await rm(join(dir, e), { recursive: true, force: true });
  }
}

/** True when this host can run the interop suite at all (for describe.skipIf and messages). */
export function hasQemu(env: NodeJS.ProcessEnv = process.env): boolean {
  return which('qemu-system-x86_64', env) !== undefined;
}
