/**
 * TUN throughput through branchlink's native addon, beside the same run's
 * thread-pool baseline (fs.read / fs.write on the same fd).
 *
 *   in  (kernel → JS): the kernel's queue of TUN B is filled (20000 packets), then
 *       drained by the uv_poll watcher (batches of 64), or by sequential fs.read
 *       calls on the thread pool (one in flight, as a read stream does). The
 *       reader runs alone, so the figure is its capacity.
 *   out (JS → kernel): packets written into TUN A by write() per packet and by
 *       writeBatch(64), or by sequential fs.write calls on the thread pool; the
 *       kernel routes them to a blackhole route (route lookup included, no queue).
 *
 * Everything runs in a network namespace created for the run: TUN A (10.203.0.1
 * peer 10.203.0.2) and TUN B (10.203.1.1 peer 10.203.1.2) with forwarding on, so
 * UDP packets written into A from 10.203.0.2 to 10.203.1.2 land in B's queue.
 *
 * As a module: `run()` (the bench contract). Executed with the argument
 * `worker`, it is the measuring process inside the namespace.
 */
import { existsSync, read, write } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { encodeUdp } from '../../src/net/ipv4-packet.js';
import { nativeStatus } from '../../src/net/native.js';
import { isRoot, NetNamespace, run as runCommand, uniqueName } from '../../src/net/netns.js';
import { TunDevice } from '../../src/net/tun.js';
import type { BenchResult } from './types.js';

const PHASE_MS = 1500;
const WARMUP_MS = 250;
const BATCH = 64;
const SIZES = [1400, 64] as const;

const A = { local: '10.203.0.1', peer: '10.203.0.2' };
const B = { local: '10.203.1.1', peer: '10.203.1.2' };
/** Routed to a blackhole in the namespace: the "out" packets end there. */
const SINK = '10.203.9.9';
/** Packets queued in B per fill. */
const QUEUE = 20000;
/** The watcher drain ends after this long without a packet. */
const IDLE_MS = 40;

function packetOf(size: number, destination: string): Buffer {
  // IPv4 20 + UDP 8 + payload = size bytes on the wire.
  return encodeUdp({
    source: A.peer,
    destination,
    sourcePort: 40000,
    destinationPort: 9,
    payload: Buffer.alloc(size - 28, 0xa5),
  });
}

/** Runs `step` until the deadline, yielding to the loop between chunks; returns pkt/s. */
async function timedSync(step: () => number): Promise<number> {
  const runFor = async (ms: number): Promise<number> => {
    let count = 0;
    const start = performance.now();
    const end = start + ms;
    while (performance.now() < end) {
      for (let i = 0; i < 16; i++) count += step();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return count / ((performance.now() - start) / 1000);
  };
  await runFor(WARMUP_MS);
  return runFor(PHASE_MS);
}

/** Sequential async loop (one request in flight, like a stream); returns completions/s. */
function timedAsync(once: (done: (ok: boolean) => void) => void, ms: number): Promise<number> {
  return new Promise((resolve) => {
    let count = 0;
    const start = performance.now();
    const end = start + ms;
    const next = (ok: boolean): void => {
      if (ok) count++;
      if (performance.now() >= end) {
        resolve(count / ((performance.now() - start) / 1000));
        return;
      }
      once(next);
    };
    once(next);
  });
}

interface WorkerFigures {
  size: number;
  inAddon: number;
  inThreadPool: number;
  inPackets: number;
  outWrite: number;
  outWriteBatch: number;
  outThreadPool: number;
}

/** Queues `count` packets in B's kernel queue by writing them into A (forwarded into B). */
function fillB(a: TunDevice, packet: Buffer, count: number): void {
  const batch = Array.from({ length: BATCH }, () => packet);
  for (let left = count; left > 0; left -= BATCH) {
    a.writeBatch(left >= BATCH ? batch : batch.slice(0, left));
  }
}

/** Drains B with the addon's watcher; returns [packets, seconds from start to the last batch]. */
function drainWithAddon(b: TunDevice): Promise<[number, number]> {
  return new Promise((resolve) => {
    let received = 0;
    let last = 0;
    const start = performance.now();
    const idle = setInterval(() => {
      if (performance.now() - Math.max(last, start) > IDLE_MS) {
        clearInterval(idle);
        b.pause();
        resolve([received, (last - start) / 1000]);
      }
    }, IDLE_MS / 2);
    b.onPackets((packets) => {
      received += packets.length;
      last = performance.now();
    });
  });
}

/** Drains B with sequential fs.read calls on the thread pool until the queue is empty. */
function drainWithThreadPool(b: TunDevice): Promise<[number, number]> {
  return new Promise((resolve) => {
    const buffer = Buffer.alloc(65536);
    let received = 0;
    const start = performance.now();
    const next = (): void =>
      read(b.fd, buffer, 0, buffer.length, null, (error, n) => {
        if (error === null && n > 0) {
          received++;
          next();
        } else {
          resolve([received, (performance.now() - start) / 1000]);
        }
      });
    next();
  });
}

async function inRate(
  a: TunDevice,
  b: TunDevice,
  packet: Buffer,
  drain: (b: TunDevice) => Promise<[number, number]>,
): Promise<[number, number]> {
  let packets = 0;
  let seconds = 0;
  fillB(a, packet, 2000);
  await drain(b); // warm-up
  while (seconds < PHASE_MS / 1000) {
    fillB(a, packet, QUEUE);
    const [n, s] = await drain(b);
    packets += n;
    seconds += s;
  }
  return [packets / seconds, packets];
}

async function measure(size: number): Promise<WorkerFigures> {
  const a = TunDevice.open('blbencha');
  const b = TunDevice.open('blbenchb');
  try {
    a.configure({ mtu: 1500, localAddress: A.local, remoteAddress: A.peer });
    b.configure({ mtu: 1500, localAddress: B.local, remoteAddress: B.peer });
    // B's queue holds a whole fill, so the reader is measured draining it alone.
    await runCommand('ip', ['link', 'set', 'dev', b.name, 'txqueuelen', String(QUEUE + 1000)]);

    // in: kernel → JS.
    const packet = packetOf(size, B.peer);
    const [inAddon, inPackets] = await inRate(a, b, packet, drainWithAddon);
    const [inThreadPool] = await inRate(a, b, packet, drainWithThreadPool);

    // out: JS → kernel; the kernel routes the packets to a blackhole route and drops them.
    const sink = packetOf(size, SINK);
    const batch = Array.from({ length: BATCH }, () => sink);
    const outWrite = await timedSync(() => (a.write(sink) ? 1 : 0));
    const outWriteBatch = await timedSync(() => a.writeBatch(batch));
    await timedAsync((done) => write(a.fd, sink, (e) => done(e === null)), WARMUP_MS);
    const outThreadPool = await timedAsync(
      (done) => write(a.fd, sink, (e) => done(e === null)),
      PHASE_MS,
    );
    return { size, inAddon, inThreadPool, inPackets, outWrite, outWriteBatch, outThreadPool };
  } finally {
    a.close();
    b.close();
  }
}

async function worker(): Promise<void> {
  const figures: WorkerFigures[] = [];
  for (const size of SIZES) figures.push(await measure(size));
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

export async function run(): Promise<BenchResult[]> {
  const status = nativeStatus();
  const skip = !isRoot()
    ? 'needs root (network namespace, TUN)'
    : !existsSync('/dev/net/tun')
      ? 'no /dev/net/tun'
      : !status.available
        ? status.reason
        : undefined;
  if (skip !== undefined) {
    console.error(`bench tun: skipped: ${skip}`);
    return [];
  }
  const ns = await NetNamespace.create(uniqueName('blbench', 32));
  try {
    await ns.exec('sysctl', [
      '-qw',
      'net.ipv4.ip_forward=1',
      'net.ipv4.conf.all.rp_filter=0',
      'net.ipv4.conf.default.rp_filter=0',
    ]);
    await ns.ip(['route', 'add', 'blackhole', '10.203.9.0/24']);
    const child = ns.spawnNode(fileURLToPath(import.meta.url), ['worker'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`tun bench worker exited with ${code}`);
    const figures = JSON.parse(out) as WorkerFigures[];
    const results: BenchResult[] = [];
    const pps = (n: number): number => Math.round(n);
    for (const f of figures) {
      const inBase = {
        name: `fs.read on the thread pool, ${f.size} B`,
        value: pps(f.inThreadPool),
        unit: 'pkt/s',
      };
      const outBase = {
        name: `fs.write on the thread pool, ${f.size} B`,
        value: pps(f.outThreadPool),
        unit: 'pkt/s',
      };
      results.push(
        {
          name: `TUN in (kernel → JS), uv_poll batches, ${f.size} B`,
          value: pps(f.inAddon),
          unit: 'pkt/s',
          baseline: inBase,
        },
        {
          name: `TUN out (JS → kernel), write(), ${f.size} B`,
          value: pps(f.outWrite),
          unit: 'pkt/s',
          baseline: outBase,
        },
        {
          name: `TUN out (JS → kernel), writeBatch(${BATCH}), ${f.size} B`,
          value: pps(f.outWriteBatch),
          unit: 'pkt/s',
          baseline: outBase,
        },
      );
      console.error(
        `bench tun: ${f.size} B: "in" drained ${f.inPackets} packets from a full queue`,
      );
    }
    return results;
  } finally {
    await ns.delete();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === 'worker') {
    await worker();
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
