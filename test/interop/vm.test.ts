/**
 * Smoke tests of the interop harness itself, without branchlink: the peer VM boots, its
 * agent runs commands, Debian's peers and kernel PPP are there, pppd on ttyS1 reaches the
 * host pty, the namespace reaches the VM and pptpd answers on TCP 1723, and a failing
 * assertion carries the peers' logs.
 */
import { execFileSync } from 'node:child_process';
import { SerialPort } from 'serialport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHost, type PeerVm, startPeerVm, withPeerLogs } from './harness/vm.js';

describe('interop host checks', () => {
  it('names the Debian package to install when qemu-system-x86_64 is missing', () => {
    expect(() => checkHost({ env: { PATH: '/nonexistent' }, uid: 0, needBuild: false })).toThrow(
      /qemu-system-x86_64 \(install Debian package qemu-system-x86\)/,
    );
  });

  it('names debootstrap when the image must be built and debootstrap is missing', () => {
    expect(() => checkHost({ env: { PATH: '/nonexistent' }, uid: 0, needBuild: true })).toThrow(
      /debootstrap \(install Debian package debootstrap\)/,
    );
  });

  it('says root is needed when run unprivileged', () => {
    expect(() => checkHost({ uid: 1000, needBuild: false })).toThrow(/must run as root/);
  });
});

/** Bytes from the host end of the VM's ttyS1 until `pattern` shows up (bounded). */
function collectUntil(port: SerialPort, pattern: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (b: Buffer): void => {
      chunks.push(b);
      const all = Buffer.concat(chunks);
      if (all.includes(pattern)) {
        cleanup();
        resolve(all);
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(
        new Error(
          `no ${pattern.toString('hex')} on the pty within ${timeoutMs} ms; got ${Buffer.concat(chunks).toString('hex')}`,
        ),
      );
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      port.off('data', onData);
    };
    port.on('data', onData);
  });
}

function openPort(path: string): Promise<SerialPort> {
  return new Promise((resolve, reject) => {
    const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
    port.open((e) => (e ? reject(e) : resolve(port)));
  });
}

function closePort(port: SerialPort): Promise<void> {
  return new Promise((resolve) => {
    if (!port.isOpen) {
      resolve();
      return;
    }
    port.close(() => resolve());
  });
}

/** RFC 2637 §2.1 Start-Control-Connection-Request, 156 bytes. */
function startControlConnectionRequest(): Buffer {
  const b = Buffer.alloc(156);
  b.writeUInt16BE(156, 0); // Length
  b.writeUInt16BE(1, 2); // PPTP Message Type: control message
  b.writeUInt32BE(0x1a2b3c4d, 4); // Magic Cookie
  b.writeUInt16BE(1, 8); // Control Message Type: SCCRQ
  b.writeUInt16BE(0x0100, 12); // Protocol Version 1.0
  b.writeUInt32BE(1, 16); // Framing Capabilities: asynchronous
  b.writeUInt32BE(1, 20); // Bearer Capabilities: analog
  b.write('interop-smoke', 28, 'ascii'); // Host Name (64 octets)
  b.write('branchlink', 92, 'ascii'); // Vendor String (64 octets)
  return b;
}

describe('peer VM (QEMU, Debian bookworm)', () => {
  let vm: PeerVm | undefined;

  beforeAll(async () => {
    vm = await startPeerVm({ name: 'smoke' });
    console.log(
      `peer VM: ${vm.accel}, agent ready ${Math.round(vm.bootMs)} ms after QEMU start, ` +
        `image build step ${Math.round(vm.image.buildMs)} ms; ttyS1 = ${vm.serialPty}, netns ${vm.netns}`,
    );
  });

  afterAll(async () => {
    if (!vm) return;
    const { netns } = vm;
    await vm.stop();
    const left = execFileSync('ip', ['netns', 'list']).toString();
    expect(left.split('\n').map((l) => l.split(' ')[0])).not.toContain(netns);
  });

  const peer = (): PeerVm => {
    if (!vm) throw new Error('peer VM did not start');
    return vm;
  };

  it('boots Debian’s kernel and its agent answers commands', async () => {
    const v = peer();
    const r = await v.execOk('uname -r; cat /proc/1/cmdline | tr "\\0" " "');
    expect(r.stdout).toContain(v.image.kernelRelease);
    expect(r.stdout).toContain('/sbin/bl-init');
    const failing = await v.exec('echo out; echo err >&2; exit 3');
    expect(failing).toMatchObject({ code: 3, stdout: 'out\n', stderr: 'err\n', timedOut: false });
  });

  it('kills a command that overruns its timeout', async () => {
    const r = await peer().exec('sleep 30', { timeoutMs: 500 });
    expect(r.timedOut).toBe(true);
    expect(r.code).toBeNull();
    expect(r.signal).toBe('SIGKILL');
  });

  it('runs Debian’s pppd 2.4.9, pptpd 1.4.0 and pptp-linux 1.10', async () => {
    const v = peer();
    const pppd = await v.exec('pppd --version');
    expect(pppd.stdout + pppd.stderr).toMatch(/pppd version 2\.4\.9\b/);
    const pptpd = await v.exec('pptpd --version');
    expect(pptpd.stdout + pptpd.stderr).toMatch(/pptpd v1\.4\.0\b/);
    const pptp = await v.exec('pptp --version');
    expect(pptp.stdout + pptp.stderr).toMatch(/pptp version 1\.10\./);
    expect(v.image.packages.ppp).toMatch(/^2\.4\.9-/);
    expect(v.image.packages.pptpd).toMatch(/^1\.4\.0-/);
    expect(v.image.packages['pptp-linux']).toMatch(/^1\.10\./);
  });

  it('has kernel PPP: ppp_async, ppp_mppe and pptp load and /dev/ppp exists', async () => {
    const v = peer();
    await v.execOk('modprobe -a ppp_async ppp_mppe pptp && test -c /dev/ppp');
    const lsmod = (await v.execOk('lsmod')).stdout;
    for (const mod of ['ppp_generic', 'ppp_async', 'ppp_mppe', 'pptp', 'gre']) {
      expect(lsmod).toMatch(new RegExp(`^${mod}\\s`, 'm'));
    }
  });

  it('pppd on ttyS1 sends LCP Configure-Requests that arrive async-escaped on the host pty', async () => {
    const v = peer();
    const port = await openPort(v.serialPty);
    try {
      const pppd = await v.spawn(
        'exec pppd /dev/ttyS1 115200 nodetach debug local noauth lcp-max-configure 5',
        { log: '/var/log/pppd-smoke.log' },
      );
      await withPeerLogs(v, async () => {
        // RFC 1662 §4.2/§7.1: flag, then FF 03 C0 21 (address, control, LCP) and code 01
        // (Configure-Request), with 03 and 01 escaped (7D, xor 0x20) under the default ACCM.
        const frameStart = Buffer.from([0x7e, 0xff, 0x7d, 0x23, 0xc0, 0x21, 0x7d, 0x21]);
        const bytes = await collectUntil(port, frameStart, 20_000);
        expect(bytes.includes(frameStart)).toBe(true);
        await v.waitForFile(pppd.log, /sent \[LCP ConfReq id=0x1 /, 10_000);
      });
      await pppd.kill('TERM');
      const exit = await pppd.exited;
      expect(exit.vmStopped).toBeUndefined();
    } finally {
      await closePort(port);
    }
  });

  it('the namespace reaches the VM and pptpd answers a PPTP SCCRQ on TCP 1723', async () => {
    const v = peer();
    const ping = await v.netnsRun('ping', ['-c', '1', '-W', '5', v.vmAddress], {
      timeoutMs: 15_000,
    });
    expect(ping.code, ping.stdout + ping.stderr).toBe(0);

    const pptpd = await v.spawn('exec pptpd --fg --debug', { log: '/var/log/pptpd-smoke.log' });
    try {
      await withPeerLogs(v, async () => {
        await v.waitForFile('/proc/net/tcp', /^\s*\d+: 00000000:06BB 00000000:0000 0A /m, 15_000);
        const reply = await v.netnsRun(
          'socat',
          ['-t', '5', '-T', '10', '-', `TCP:${v.vmAddress}:1723,connect-timeout=5`],
          { timeoutMs: 20_000, input: startControlConnectionRequest() },
        );
        const sccrp = reply.stdoutBytes;
        expect(sccrp.length, reply.stderr).toBeGreaterThanOrEqual(16);
        expect(sccrp.readUInt16BE(2)).toBe(1); // control message
        expect(sccrp.readUInt32BE(4)).toBe(0x1a2b3c4d); // magic cookie
        expect(sccrp.readUInt16BE(8)).toBe(2); // Start-Control-Connection-Reply
        expect(sccrp.readUInt8(14)).toBe(1); // Result Code: successful channel establishment
      });
    } finally {
      await pptpd.kill('TERM');
      await pptpd.exited;
    }
  });

  it('attaches pppd’s log to a failing assertion', async () => {
    const v = peer();
    const pppd = await v.spawn(
      'exec pppd /dev/ttyS1 115200 nodetach debug local noauth lcp-max-configure 3',
      { log: '/var/log/pppd-logs.log' },
    );
    try {
      await v.waitForFile(pppd.log, /sent \[LCP ConfReq/, 15_000);
      const error = await withPeerLogs(v, () => {
        expect('Opened', 'LCP state').toBe('Closed');
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      const message = (error as Error).message;
      expect(message).toContain("expected 'Opened' to be 'Closed'");
      expect(message).toContain(`pid ${pppd.pid}: exec pppd /dev/ttyS1`);
      expect(message).toMatch(/sent \[LCP ConfReq id=0x1 /);
      expect(message).toContain('syslog (pppd, pptpd) (/var/log/messages)');
      expect(message).toContain('console, last 30 lines');
    } finally {
      // KILL: TERM makes pppd wait ~6 s for a Terminate-Ack nobody sends.
      await pppd.kill('KILL');
      await pppd.exited;
    }
  });
});
