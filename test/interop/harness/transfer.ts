/**
 * Bulk transfers across a PPP link between branchlink's namespace and the peer VM, with
 * sha256 on both ends: a TCP sink in the VM (python3, which the VM has for its agent) fed by
 * socat in the namespace, and the reverse (python3 in the VM sending to socat listening in
 * the namespace). Every step is bounded.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256File, waitUntil } from './branchlink.js';
import type { PeerVm } from './vm.js';

/** TCP sink: accepts one connection, reads to EOF, writes "<bytes> <sha256> <seconds>". */
const SINK = `import hashlib, socket, sys, time
port, ready, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', port))
s.listen(1)
open(ready, 'w').write('listening\\n')
c, _ = s.accept()
h, n, t0 = hashlib.sha256(), 0, time.time()
while True:
    b = c.recv(65536)
    if not b:
        break
    h.update(b)
    n += len(b)
open(out, 'w').write('%d %s %.3f\\n' % (n, h.hexdigest(), time.time() - t0))
`;

/** TCP source: connects, sends a file, closes; writes "<bytes> <seconds>". */
const SOURCE = `import socket, sys, time
host, port, path, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
data = open(path, 'rb').read()
t0 = time.time()
c = socket.create_connection((host, port), timeout=30)
c.settimeout(None)
c.sendall(data)
c.shutdown(socket.SHUT_WR)
c.recv(1)
c.close()
open(out, 'w').write('%d %.3f\\n' % (len(data), time.time() - t0))
`;

export interface TransferResult {
  readonly bytes: number;
  readonly sentSha256: string;
  readonly receivedSha256: string;
  readonly receivedBytes: number;
  /** Wall time of the transfer as the receiver saw it, seconds. */
  readonly seconds: number;
}

let counter = 0;

async function installScripts(vm: PeerVm): Promise<void> {
  await vm.writeFile('/tmp/bl-sink.py', SINK, 0o644);
  await vm.writeFile('/tmp/bl-source.py', SOURCE, 0o644);
}

/** Host namespace → VM: `bytes` random octets to `target:port` (an address of the VM). */
export async function sendToVm(
  vm: PeerVm,
  opts: { target: string; port: number; bytes: number; dir: string; timeoutMs: number },
): Promise<TransferResult> {
  await installScripts(vm);
  const n = ++counter;
  const file = join(opts.dir, `tx-${n}.bin`);
  writeFileSync(file, randomBytes(opts.bytes));
  const sentSha256 = await sha256File(file);
  const ready = `/tmp/sink-${n}.ready`;
  const out = `/tmp/sink-${n}.out`;
  await vm.spawn(`exec python3 /tmp/bl-sink.py ${opts.port} ${ready} ${out}`, {
    log: `/tmp/sink-${n}.log`,
  });
  await vm.waitForFile(ready, /listening/, 15_000);
  const started = performance.now();
  const r = await vm.netnsRun(
    'socat',
    ['-u', `OPEN:${file},rdonly`, `TCP:${opts.target}:${opts.port},connect-timeout=10`],
    { timeoutMs: opts.timeoutMs },
  );
  if (r.code !== 0) {
    throw new Error(
      `socat sending ${opts.bytes} bytes to ${opts.target}:${opts.port} ${r.timedOut ? 'timed out' : `exited ${r.code}`}: ${r.stderr}`,
    );
  }
  const m = await vm.waitForFile(out, /^(\d+) ([0-9a-f]{64}) ([\d.]+)/, 30_000);
  return {
    bytes: opts.bytes,
    sentSha256,
    receivedBytes: Number(m[1]),
    receivedSha256: m[2] ?? '',
    seconds: Math.max(Number(m[3]), (performance.now() - started) / 1000),
  };
}

/** VM → host namespace: the VM sends `bytes` random octets to socat listening on `listen:port`. */
export async function receiveFromVm(
  vm: PeerVm,
  opts: { listen: string; port: number; bytes: number; dir: string; timeoutMs: number },
): Promise<TransferResult> {
  await installScripts(vm);
  const n = ++counter;
  const file = join(opts.dir, `rx-${n}.bin`);
  const vmFile = `/tmp/tx-${n}.bin`;
  await vm.execOk(`head -c ${opts.bytes} /dev/urandom > ${vmFile}`);
  const sentSha256 = (await vm.execOk(`sha256sum ${vmFile}`)).stdout.split(' ')[0] ?? '';
  const sink = vm.netnsSpawn('socat', [
    '-u',
    `TCP-LISTEN:${opts.port},bind=${opts.listen},reuseaddr`,
    `OPEN:${file},creat,trunc,wronly`,
  ]);
  const sinkExit = new Promise<number | null>((resolve) => sink.once('exit', (c) => resolve(c)));
  let stderr = '';
  sink.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  sink.stdin?.end();
  // socat is listening once the namespace shows the socket.
  await waitUntil(
    `socat to listen on ${opts.listen}:${opts.port}`,
    async () => {
      const ss = await vm.netnsRun('ss', ['-ltnH', `sport = :${opts.port}`], { timeoutMs: 5_000 });
      return ss.stdout.includes(`:${opts.port}`);
    },
    15_000,
  );
  const out = `/tmp/source-${n}.out`;
  const started = performance.now();
  const source = await vm.spawn(
    `exec python3 /tmp/bl-source.py ${opts.listen} ${opts.port} ${vmFile} ${out}`,
    { log: `/tmp/source-${n}.log` },
  );
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    sinkExit,
    new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), opts.timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) {
    if (code === 'timeout') sink.kill('SIGKILL');
    await source.kill('KILL');
    throw new Error(
      `receiving ${opts.bytes} bytes from the VM on ${opts.listen}:${opts.port}: socat ${code === 'timeout' ? 'timed out' : `exited ${code}`} ${stderr}` +
        `\n--- VM sender\n${await source.readLog().catch(() => '')}`,
    );
  }
  await source.exited;
  const receivedBytes = existsSync(file) ? statSync(file).size : 0;
  return {
    bytes: opts.bytes,
    sentSha256,
    receivedBytes,
    receivedSha256: receivedBytes > 0 ? await sha256File(file) : '',
    seconds,
  };
}

/** "1.00 MB in 9.1 s (110 kB/s)" */
export function describeTransfer(t: TransferResult): string {
  const mb = t.bytes / 1_000_000;
  return `${mb.toFixed(2)} MB in ${t.seconds.toFixed(1)} s (${Math.round(t.bytes / t.seconds / 1000)} kB/s)`;
}
