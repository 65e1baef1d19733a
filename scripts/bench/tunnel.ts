/**
 * PPTP tunnel benchmarks between two network namespaces joined by a veth pair, with the
 * real router: two `branchlink run` processes (a PPTP client in namespace A, a PNS in B).
 *
 * 1. Throughput, A → B, for 1400- and 64-byte IP packets through
 *      blaster → TUN → PPP → MPPE-128 → GRE → veth → GRE → MPPE → PPP → TUN → sink,
 *    beside the same run's ceiling: a bare relay (two processes of this file) that moves
 *    the same packets TUN → raw GRE socket → veth → raw GRE socket → TUN with no PPP work.
 *    Load: a UDP blaster (a Node process of this file) in A floods the far tunnel address
 *    for WINDOW_MS after a warm-up. Sink: the kernel of B, which counts every datagram it
 *    receives for the (unbound) port in /proc/net/snmp (Udp NoPorts); the count is read
 *    before and after the window. No process competes with the router for the sink.
 * 2. Sessions established per second against one PNS: a dialler process of this file in A
 *    runs SESSIONS PPTP clients in-process (dialPptp + PppSession + SessionDriver, exactly
 *    what a `branchlink` client link runs, without TUN), at most DIAL_CONCURRENCY dialling
 *    at once, each to IPCP up (MS-CHAPv2, MPPE-128).
 * 3. Resident memory per session: VmRSS of the PNS process with SESSIONS sessions up
 *    (each with its TUN device in B) minus its VmRSS idle before the first dial, divided
 *    by SESSIONS.
 *
 * As a module: `run()` (the bench contract). With a first argument of `blast`, `relay`
 * or `dial` it is one of the worker processes inside a namespace.
 */
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { callService } from '../../src/cli/control-client.js';
import { PptpClientLinkSchema } from '../../src/daemon/config.js';
import { buildSessionConfig } from '../../src/daemon/session-config.js';
import type { StatusReport } from '../../src/daemon/status.js';
import { nativeStatus } from '../../src/net/native.js';
import {
  createVethPair,
  isRoot,
  NetNamespace,
  nodeCommand,
  uniqueName,
} from '../../src/net/netns.js';
import { TunDevice } from '../../src/net/tun.js';
import { PppSession } from '../../src/ppp/session.js';
import type { PptpCallLink } from '../../src/pptp/call-link.js';
import { decodeGre, stripIpv4Header, writeGreHeader } from '../../src/pptp/gre.js';
import { GreTransport, RawGreSocket } from '../../src/pptp/gre-transport.js';
import { dialPptp } from '../../src/pptp/pac.js';
import { SessionDriver } from '../../src/runtime/session-driver.js';
import type { BenchResult } from './types.js';

const SIZES = [1400, 64] as const;
const WARMUP_MS = 700;
const WINDOW_MS = 3000;
const SESSIONS = Number(process.env.BENCH_TUNNEL_SESSIONS ?? 500);
const DIAL_CONCURRENCY = Number(process.env.BENCH_TUNNEL_CONCURRENCY ?? 16);
const SECRET = 'bench-only-secret';
const SINK_PORT = 9;

const WAN_A = '10.219.0.2';
const WAN_B = '10.219.0.1';
/** The PNS's own tunnel address (the blaster's target through the tunnel). */
const TUNNEL_B = '10.220.0.1';
/** Client pool: room for SESSIONS + the throughput client. */
const POOL = '10.220.4.1-10.220.7.250';
/** The bare relay's TUN addresses (A side, B side). */
const RELAY_A = '10.221.0.2';
const RELAY_B = '10.221.0.1';
const RELAY_CALL_ID = 7;

const here = fileURLToPath(import.meta.url);
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(REPO, 'src/cli/main.ts');

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ───────────────────────────────────────────────────────────── worker: UDP blaster

/**
 * Floods `destination` with UDP datagrams making `size`-byte IP packets for `ms`
 * milliseconds, keeping at most 512 sends outstanding; prints what it offered.
 */
async function blast(destination: string, size: number, ms: number): Promise<void> {
  const socket = createSocket('udp4');
  socket.on('error', () => {});
  const payload = Buffer.alloc(size - 28, 0x5a);
  let sent = 0;
  let failed = 0;
  let outstanding = 0;
  const done = (error: Error | null) => {
    outstanding--;
    if (error) failed++;
    else sent++;
  };
  const start = performance.now();
  const end = start + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 64 && outstanding < 512; i++) {
      outstanding++;
      socket.send(payload, SINK_PORT, destination, done);
    }
    await new Promise((r) => setImmediate(r));
  }
  const seconds = (performance.now() - start) / 1000;
  process.stdout.write(`${JSON.stringify({ sent, failed, pps: sent / seconds })}\n`);
  socket.close();
}

// ───────────────────────────────────────────────────────────── worker: bare relay

/**
 * The ceiling: the same packets TUN → raw GRE socket → TUN with no PPP work. Side `a`
 * reads its TUN and sends each packet in an enhanced-GRE header (sequence number, no
 * window) to `peer`; side `b` decodes the GRE from its raw socket and writes the payload
 * to its TUN.
 */
function relay(side: 'a' | 'b', peer: string): void {
  const [local, remote] = side === 'a' ? [RELAY_A, RELAY_B] : [RELAY_B, RELAY_A];
  const tun = TunDevice.open('blrelay%d');
  tun.configure({ mtu: 1500, localAddress: local, remoteAddress: remote });
  const gre = RawGreSocket.open();
  let seq = 0;
  if (side === 'a') {
    tun.onPackets((batch) => {
      for (const p of batch) {
        const out = Buffer.allocUnsafe(12 + p.length);
        writeGreHeader(out, RELAY_CALL_ID, p.length, seq, undefined);
        seq = (seq + 1) >>> 0;
        p.copy(out, 12);
        gre.send(out, peer);
      }
    });
  } else {
    gre.onPacket((ip) => {
      const g = stripIpv4Header(ip);
      if (!g.ok) return;
      const d = decodeGre(g.value);
      if (!d.ok || d.value.callId !== RELAY_CALL_ID) return;
      tun.write(d.value.payload);
    });
  }
  process.stdout.write(`${JSON.stringify({ ready: tun.name })}\n`);
  createInterface({ input: process.stdin }).on('close', () => {
    tun.close();
    gre.close();
    process.exit(0);
  });
}

// ───────────────────────────────────────────────────────────── worker: dialler

/**
 * Dials `count` PPTP sessions to `server`, at most `concurrency` at once, each to IPCP
 * up; prints progress lines and a summary, then holds the sessions until stdin closes.
 * With `callsOnly` each dial stops at the established call (TCP, Start-Control-Connection,
 * Outgoing-Call) and hangs up: the baseline without PPP.
 */
async function dial(
  server: string,
  count: number,
  concurrency: number,
  callsOnly: boolean,
): Promise<void> {
  const link = PptpClientLinkSchema.parse({
    type: 'pptp',
    role: 'client',
    name: 'bench',
    server,
    ppp: { user: 'bench', allow: ['mschap-v2'] },
  });
  const drivers: SessionDriver[] = [];
  const links: PptpCallLink[] = [];
  const setupMs: number[] = [];
  let failed = 0;
  let next = 0;
  const start = performance.now();
  const one = async (): Promise<void> => {
    const t0 = performance.now();
    const l = await dialPptp({ server, connectTimeoutMs: 10_000 });
    if (callsOnly) {
      setupMs.push(performance.now() - t0);
      await l.close('bench: call placed');
      return;
    }
    links.push(l);
    const config = buildSessionConfig({
      ourName: 'bench-client',
      ppp: link.ppp,
      async: false,
      credentials: { name: 'bench', password: SECRET },
      source: l.source,
    });
    if (!config.ok) throw new Error(config.error.reason);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no IPCP within 30 s')), 30_000);
      const driver = new SessionDriver({
        session: new PppSession(config.value),
        link: l,
        onEvent: (e) => {
          if (e.type === 'ip-up') {
            clearTimeout(timer);
            resolve();
          } else if (e.type === 'terminated') {
            clearTimeout(timer);
            reject(new Error(e.reason));
          }
        },
      });
      drivers.push(driver);
      driver.start();
    });
    setupMs.push(performance.now() - t0);
  };
  const lane = async (): Promise<void> => {
    while (next < count) {
      next++;
      try {
        await one();
      } catch (e) {
        failed++;
        process.stderr.write(`dial failed: ${e instanceof Error ? e.message : String(e)}\n`);
      }
      const up = setupMs.length;
      if (up % 100 === 0 && up > 0) process.stdout.write(`${JSON.stringify({ progress: up })}\n`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const seconds = (performance.now() - start) / 1000;
  setupMs.sort((a, b) => a - b);
  process.stdout.write(
    `${JSON.stringify({
      established: setupMs.length,
      failed,
      seconds,
      p50: setupMs[Math.floor(setupMs.length / 2)] ?? 0,
      p95: setupMs[Math.floor(setupMs.length * 0.95)] ?? 0,
      transport: GreTransport.shared().counters,
      droppedBeforeAttach: links.reduce((n, l) => n + l.counters.droppedBeforeAttach, 0),
    })}\n`,
  );
  createInterface({ input: process.stdin }).on('close', () => process.exit(0));
}

// ───────────────────────────────────────────────────────────── orchestration

/** A worker of this file in a namespace, whose JSON stdout lines are collected. */
class Worker {
  readonly lines: Record<string, unknown>[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(ns: NetNamespace, args: string[]) {
    this.child = ns.spawnNode(here, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    this.exited = new Promise((r) => this.child.once('exit', (code) => r(code)));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      try {
        this.lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        process.stderr.write(`${line}\n`);
      }
    });
  }

  async waitFor(key: string, ms: number): Promise<Record<string, unknown>> {
    const end = Date.now() + ms;
    for (;;) {
      const found = this.lines.find((l) => key in l);
      if (found) return found;
      if (this.child.exitCode !== null) throw new Error(`worker exited before '${key}'`);
      if (Date.now() > end) throw new Error(`worker gave no '${key}' within ${ms} ms`);
      await sleep(50);
    }
  }

  async close(): Promise<void> {
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** A `branchlink run` in a namespace. */
class Router {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(
    ns: NetNamespace,
    readonly socket: string,
    config: string,
    nodeArgs: readonly string[] = [],
  ) {
    const [node, argv] = nodeCommand(MAIN, [
      'run',
      '--config',
      config,
      '--socket',
      socket,
      '--no-leds',
    ]);
    const log = openSync(`${socket.replace(/\.sock$/, '')}.log`, 'a');
    this.child = ns.spawn(node, [...nodeArgs, ...argv], {
      cwd: REPO,
      stdio: ['ignore', log, log],
    });
    this.exited = new Promise((r) => this.child.once('exit', (code) => r(code)));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  status(): Promise<StatusReport> {
    return callService(this.socket, { command: 'status' }, 10_000) as Promise<StatusReport>;
  }

  async waitFor(what: string, pred: (s: StatusReport) => boolean, ms: number): Promise<void> {
    const end = Date.now() + ms;
    for (;;) {
      const s = await this.status().catch(() => undefined);
      if (s !== undefined && pred(s)) return;
      if (this.child.exitCode !== null) throw new Error(`branchlink exited before ${what}`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(200);
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Datagrams B's kernel received for UDP (NoPorts: nothing listens on the sink port). */
async function sinkCount(ns: NetNamespace): Promise<number> {
  const { stdout } = await ns.exec('cat', ['/proc/net/snmp']);
  const lines = stdout.split('\n').filter((l) => l.startsWith('Udp:'));
  const names = lines[0]!.split(/\s+/);
  const values = lines[1]!.split(/\s+/).map(Number);
  return values[names.indexOf('NoPorts')]! + values[names.indexOf('InDatagrams')]!;
}

/** CPU seconds (user + system) a process has used. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? Number.NaN);
}

/**
 * A preload for the PNS (bench only): on SIGUSR2 it runs a full garbage collection and
 * writes process.memoryUsage() to `file`, so memory is read without garbage in it.
 */
function gcPreload(dir: string, file: string): string {
  const path = join(dir, 'gc-on-sigusr2.cjs');
  writeFileSync(
    path,
    `process.on('SIGUSR2', () => { globalThis.gc(); globalThis.gc();
      require('node:fs').writeFileSync(${JSON.stringify(file)}, JSON.stringify(process.memoryUsage())); });\n`,
  );
  return path;
}

interface Memory {
  /** VmRSS after a full GC, kB. */
  rssKb: number;
  /** V8 heap in use plus memory outside it (Buffers), kB. */
  heapKb: number;
}

/** Full GC in the PNS, then its VmRSS and heap. */
async function memoryAfterGc(pid: number, file: string): Promise<Memory> {
  rmSync(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 100 && !existsSync(file); i++) await sleep(50);
  await sleep(500); // let the freed pages go back to the system
  const usage = JSON.parse(readFileSync(file, 'utf8')) as { heapUsed: number; external: number };
  return { rssKb: rssKb(pid), heapKb: Math.round((usage.heapUsed + usage.external) / 1024) };
}

interface Throughput {
  pps: number;
  offered: number;
  cpu: Record<string, number>;
}

/** Blasts `size`-byte packets at `target` from A and counts what B's kernel received. */
async function throughput(
  a: NetNamespace,
  b: NetNamespace,
  target: string,
  size: number,
  processes: Record<string, number>,
): Promise<Throughput> {
  const blaster = new Worker(a, ['blast', target, String(size), String(WARMUP_MS + WINDOW_MS)]);
  await sleep(WARMUP_MS);
  const pids = { ...processes, blaster: blaster.child.pid ?? -1 };
  const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuSeconds(p)]));
  const n0 = await sinkCount(b);
  const t0 = performance.now();
  await sleep(WINDOW_MS - 100);
  const n1 = await sinkCount(b);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = Object.fromEntries(
    Object.entries(pids).map(([k, p]) => [k, (cpuSeconds(p) - cpu0[k]!) / seconds]),
  );
  const offered = Number((await blaster.waitFor('pps', 10_000)).pps);
  await blaster.exited;
  await sleep(300); // let the queues drain before the next run
  return { pps: (n1 - n0) / seconds, offered, cpu };
}

/** Each process's CPU share and its CPU time per delivered packet. */
function cpuText(t: Throughput): string {
  return Object.entries(t.cpu)
    .map(([k, v]) => `${k} ${Math.round(v * 100)}% (${((v / t.pps) * 1e6).toFixed(1)} µs/pkt)`)
    .join(', ');
}

export async function run(): Promise<BenchResult[]> {
  const status = nativeStatus();
  const skip = !isRoot()
    ? 'needs root (network namespaces, TUN, raw GRE sockets)'
    : !existsSync('/dev/net/tun')
      ? 'no /dev/net/tun'
      : !status.available
        ? status.reason
        : undefined;
  if (skip !== undefined) {
    console.error(`bench tunnel: skipped: ${skip}`);
    return [];
  }
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.error(`bench tunnel: load average before the run: ${load}`);
  const dir = mkdtempSync(join(tmpdir(), 'bl-bench-tunnel-'));
  const a = await NetNamespace.create(uniqueName('blbench-tun-a', 32));
  const b = await NetNamespace.create(uniqueName('blbench-tun-b', 32));
  const routers: Router[] = [];
  const results: BenchResult[] = [];
  try {
    await createVethPair(
      { name: uniqueName('blbta'), ns: a, address: `${WAN_A}/24` },
      { name: uniqueName('blbtb'), ns: b, address: `${WAN_B}/24` },
    );
    for (const ns of [a, b]) {
      await ns.exec('sysctl', [
        '-qw',
        'net.ipv4.conf.all.rp_filter=0',
        'net.ipv4.conf.default.rp_filter=0',
      ]);
    }

    // ── The ceiling: the bare relay.
    const ceiling = new Map<number, Throughput>();
    {
      const ra = new Worker(a, ['relay', 'a', WAN_B]);
      const rb = new Worker(b, ['relay', 'b', WAN_A]);
      await ra.waitFor('ready', 15_000);
      await rb.waitFor('ready', 15_000);
      for (const size of SIZES) {
        const t = await throughput(a, b, RELAY_B, size, {
          'relay A': ra.child.pid ?? -1,
          'relay B': rb.child.pid ?? -1,
        });
        ceiling.set(size, t);
        console.error(
          `bench tunnel: relay ${size} B: offered ${Math.round(t.offered)} pkt/s; CPU ${cpuText(t)}`,
        );
      }
      await ra.close();
      await rb.close();
    }

    // ── The router: PNS in B, one client in A.
    const secrets = {
      version: 1,
      secrets: [{ client: 'bench', server: '*', secret: SECRET, addresses: '*' }],
    };
    writeFileSync(join(dir, 'secrets.json'), JSON.stringify(secrets), { mode: 0o600 });
    const common = {
      board: { profile: 'virtual', render: false },
      log: { level: 'info', format: 'json' },
    };
    // MRU 1450 on both sides: a 1400-byte IP packet fits the tunnel (TUN MTU 1446).
    writeFileSync(
      join(dir, 'pns.json'),
      JSON.stringify({
        ...common,
        name: 'pns',
        secrets: { file: join(dir, 'secrets.json') },
        control: { socket: join(dir, 'pns.sock') },
        links: [
          {
            name: 'rw',
            type: 'pptp',
            role: 'server',
            listen: WAN_B,
            pool: POOL,
            maxConnections: SESSIONS + 50,
            ppp: { require: ['mschap-v2'], localAddress: TUNNEL_B, mru: 1450 },
          },
        ],
      }),
    );
    writeFileSync(
      join(dir, 'client.json'),
      JSON.stringify({
        ...common,
        name: 'client',
        secrets: { file: join(dir, 'secrets.json') },
        control: { socket: join(dir, 'client.sock') },
        links: [
          {
            name: 'hq',
            type: 'pptp',
            role: 'client',
            server: WAN_B,
            ppp: { user: 'bench', allow: ['mschap-v2'], mru: 1450 },
          },
        ],
      }),
    );
    const memFile = join(dir, 'pns-memory.json');
    const pns = new Router(b, join(dir, 'pns.sock'), join(dir, 'pns.json'), [
      '--expose-gc',
      '--require',
      gcPreload(dir, memFile),
    ]);
    routers.push(pns);
    await pns.waitFor('the PNS to start', () => true, 20_000);
    const client = new Router(a, join(dir, 'client.sock'), join(dir, 'client.json'));
    routers.push(client);
    await client.waitFor(
      'the client to reach Network',
      (s) => s.links[0]?.phase === 'network',
      30_000,
    );
    await sleep(500); // the TUN devices come up just after IPCP
    for (const size of SIZES) {
      const t = await throughput(a, b, TUNNEL_B, size, {
        'client branchlink': client.pid,
        'PNS branchlink': pns.pid,
      });
      console.error(
        `bench tunnel: PPTP ${size} B: offered ${Math.round(t.offered)} pkt/s; CPU ${cpuText(t)}`,
      );
      const base = ceiling.get(size)!;
      const mbit = (pps: number) => (pps * size * 8) / 1e6;
      const perPacket = (cpu: number | undefined, pps: number) =>
        Number((((cpu ?? 0) / pps) * 1e6).toFixed(1));
      results.push(
        {
          name: `PPTP tunnel (MPPE-128), ${size} B packets`,
          value: Math.round(t.pps),
          unit: 'pkt/s',
          baseline: {
            name: `bare TUN → raw GRE → TUN relay, ${size} B`,
            value: Math.round(base.pps),
            unit: 'pkt/s',
          },
        },
        {
          name: `PPTP tunnel (MPPE-128), ${size} B packets`,
          value: Number(mbit(t.pps).toFixed(1)),
          unit: 'Mbit/s',
          baseline: {
            name: `bare TUN → raw GRE → TUN relay, ${size} B`,
            value: Number(mbit(base.pps).toFixed(1)),
            unit: 'Mbit/s',
          },
        },
        {
          // CPU time per delivered packet: the figure a busy machine distorts least.
          name: `PPTP client process CPU per packet, ${size} B`,
          value: perPacket(t.cpu['client branchlink'], t.pps),
          unit: 'µs/pkt',
          baseline: {
            name: `bare relay (sending side) CPU per packet, ${size} B`,
            value: perPacket(base.cpu['relay A'], base.pps),
            unit: 'µs/pkt',
          },
        },
        {
          name: `PNS process CPU per packet, ${size} B`,
          value: perPacket(t.cpu['PNS branchlink'], t.pps),
          unit: 'µs/pkt',
          baseline: {
            name: `bare relay (receiving side) CPU per packet, ${size} B`,
            value: perPacket(base.cpu['relay B'], base.pps),
            unit: 'µs/pkt',
          },
        },
      );
    }
    await client.stop();
    await pns.waitFor(
      'the PNS to drop the client',
      (s) => (s.links[0]?.sessions?.length ?? 0) === 0,
      15_000,
    );

    // ── Sessions per second, and memory per session at SESSIONS sessions.
    if (SESSIONS <= 0) return results;
    await sleep(1000);
    const idle = await memoryAfterGc(pns.pid, memFile);
    const dialler = new Worker(a, [
      'dial',
      WAN_B,
      String(SESSIONS),
      String(DIAL_CONCURRENCY),
      'sessions',
    ]);
    const summary = await dialler.waitFor('established', 600_000);
    const established = Number(summary.established);
    await pns.waitFor(
      `${established} sessions in Network at the PNS`,
      (s) =>
        (s.links[0]?.sessions ?? []).filter((x) => x.phase === 'network').length >= established,
      60_000,
    );
    const tuns = (await b.ipJson<{ ifname: string }[]>(['link'])).filter((l) =>
      l.ifname.startsWith('bl'),
    ).length;
    await sleep(2000);
    const full = await memoryAfterGc(pns.pid, memFile);
    console.error(
      `bench tunnel: dialler GRE ${JSON.stringify(summary.transport)}, frames before attach ${summary.droppedBeforeAttach}`,
    );
    console.error(
      `bench tunnel: ${established} sessions (${summary.failed} failed) in ${Number(summary.seconds).toFixed(1)} s, ${DIAL_CONCURRENCY} dialling at once; setup p50 ${Number(summary.p50).toFixed(0)} ms, p95 ${Number(summary.p95).toFixed(0)} ms; ${tuns} TUN devices at the PNS; after a full GC the PNS has VmRSS ${idle.rssKb} kB idle and ${full.rssKb} kB with the sessions, V8 heap + external ${idle.heapKb} kB and ${full.heapKb} kB`,
    );
    await dialler.close();

    // Baseline of the same run: calls placed and hung up, no PPP.
    await pns.waitFor(
      'the PNS to drop the sessions',
      (s) => (s.links[0]?.sessions?.length ?? 0) === 0,
      60_000,
    );
    const calls = new Worker(a, [
      'dial',
      WAN_B,
      String(SESSIONS),
      String(DIAL_CONCURRENCY),
      'calls',
    ]);
    const callSummary = await calls.waitFor('established', 600_000);
    await calls.close();
    console.error(
      `bench tunnel: ${callSummary.established} calls without PPP (${callSummary.failed} failed) in ${Number(callSummary.seconds).toFixed(1)} s; setup p50 ${Number(callSummary.p50).toFixed(0)} ms`,
    );
    results.push(
      {
        name: `sessions established per second (${DIAL_CONCURRENCY} dialling at once, to IPCP up)`,
        value: Number((established / Number(summary.seconds)).toFixed(1)),
        unit: 'sessions/s',
        baseline: {
          name: 'PPTP calls placed per second, no PPP (TCP + control + Outgoing-Call)',
          value: Number((Number(callSummary.established) / Number(callSummary.seconds)).toFixed(1)),
          unit: 'calls/s',
        },
      },
      {
        name: `PNS resident memory per session at ${established} sessions (VmRSS delta after GC)`,
        value: Number(((full.rssKb - idle.rssKb) / established).toFixed(1)),
        unit: 'kB/session',
        baseline: {
          name: 'PNS resident memory idle (VmRSS after GC)',
          value: idle.rssKb,
          unit: 'kB',
        },
      },
      {
        name: `PNS JS heap + Buffers per session at ${established} sessions`,
        value: Number(((full.heapKb - idle.heapKb) / established).toFixed(1)),
        unit: 'kB/session',
        baseline: { name: 'PNS JS heap + Buffers idle', value: idle.heapKb, unit: 'kB' },
      },
    );
  } finally {
    for (const r of routers) r.child.kill('SIGKILL');
    await Promise.all(routers.map((r) => r.exited));
    await a.delete();
    await b.delete();
    if (process.env.BENCH_TUNNEL_KEEP) console.error(`bench tunnel: files kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === 'blast') {
    await blast(args[0]!, Number(args[1]), Number(args[2]));
  } else if (mode === 'relay') {
    relay(args[0] as 'a' | 'b', args[1]!);
  } else if (mode === 'dial') {
    await dial(args[0]!, Number(args[1]), Number(args[2]), args[3] === 'calls');
  } else {
    for (const r of await run()) {
      const base =
        r.baseline === undefined
          ? ''
          : `   (baseline: ${r.baseline.name} ${r.baseline.value} ${r.baseline.unit})`;
      console.log(`${r.name}: ${r.value} ${r.unit}${base}`);
    }
  }
}
