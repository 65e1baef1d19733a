/**
 * PPTP interop: branchlink against Debian's pptpd 1.4.0 and pptp-linux 1.10 (each with
 * pppd 2.4.9) in the peer VM, over the VM's NIC.
 *
 *   namespace: branchlink (TCP 1723 + raw GRE, TUN)  ── tap 192.0.2.1 ══ eth0 192.0.2.2 ──  VM
 *     - branchlink's PPTP client  → pptpd (pppd: require-mschap-v2, require-mppe-128)
 *     - branchlink's PPTP server  ← pptp-linux (pppd pty "pptp --nolaunchpppd")
 *
 * One VM for the file. Every case captures the tap with tcpdump (TCP 1723 + GRE) and
 * branchlink's own PPP pcap, and both must dissect in tshark without a malformed packet.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  Branchlink,
  mppeFlushedCounts,
  readPppPcap,
  tshark,
  waitUntil,
  withBranchlinkLog,
  writeSecrets,
} from './harness/branchlink.js';
import { describeTransfer, receiveFromVm, sendToVm } from './harness/transfer.js';
import { type PeerVm, type SpawnedProcess, startPeerVm, withPeerLogs } from './harness/vm.js';

const SECRET = 'interop-Pptp-Secret-2';
/** branchlink's name towards pptpd, and pptp-linux's name towards branchlink. */
const BRANCH = 'branch';
const REMOTE = 'remote';
/** pptpd's tunnel addresses (pptpd.conf localip / remoteip). */
const PPTPD_LOCAL = '10.88.0.1';
const PPTPD_POOL_FIRST = '10.88.0.10';
/** branchlink's PNS: its own tunnel address and pool. */
const PNS_LOCAL = '10.89.0.1';
const PNS_POOL = '10.89.0.10-10.89.0.20';
const PNS_FIRST = '10.89.0.10';
/** One address: a second call comes up only if the first call's address went back. */
const PNS_POOL_OF_ONE = '10.89.0.10-10.89.0.10';
const TRANSFER_BYTES = 10 * 1024 * 1024;
const TRANSFER_TIMEOUT_MS = 240_000;

let vm: PeerVm | undefined;
let dir = '';
let bl: Branchlink | undefined;
let tcpdump: { child: ChildProcess; file: string; exited: Promise<void> } | undefined;
const started: SpawnedProcess[] = [];
let caseNo = 0;

function peer(): PeerVm {
  if (!vm) throw new Error('peer VM did not start');
  return vm;
}

function checked<T>(fn: () => Promise<T>): Promise<T> {
  return withPeerLogs(peer(), () => withBranchlinkLog(() => bl, fn));
}

async function spawnInVm(cmd: string, log: string): Promise<SpawnedProcess> {
  const p = await peer().spawn(cmd, { log });
  started.push(p);
  return p;
}

/** pids of processes named `name` in the VM (all of them are this file's). */
async function vmPids(name: string): Promise<number[]> {
  const r = await peer().exec(`pidof ${name}`);
  return r.stdout
    .trim()
    .split(/\s+/)
    .filter((s) => s !== '')
    .map(Number);
}

/** tcpdump on the tap in the namespace: the control connection and GRE, whole packets. */
async function startTcpdump(tag: string): Promise<string> {
  const file = join(dir, `${tag}.tap.pcap`);
  const child = peer().netnsSpawn('tcpdump', [
    '-i',
    peer().tap,
    '-U',
    '-s',
    '0',
    '-w',
    file,
    'tcp port 1723 or ip proto 47',
  ]);
  child.stdin?.end();
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  tcpdump = { child, file, exited };
  await waitUntil(`tcpdump to listen on ${peer().tap}`, () => /listening on/.test(stderr), 15_000);
  return file;
}

async function stopTcpdump(): Promise<void> {
  const t = tcpdump;
  if (!t) return;
  tcpdump = undefined;
  if (t.child.exitCode === null && t.child.signalCode === null) {
    t.child.kill('SIGINT');
    const timer = setTimeout(() => t.child.kill('SIGKILL'), 5_000);
    await t.exited;
    clearTimeout(timer);
  }
}

async function expectPcapClean(pcap: string, protocols: readonly string[]): Promise<void> {
  expect(existsSync(pcap), `${pcap} exists`).toBe(true);
  const verdict = await tshark(pcap);
  expect(verdict.frames, `frames in ${pcap}`).toBeGreaterThan(0);
  expect(verdict.malformed, `tshark -V on ${pcap}`).toEqual([]);
  expect(verdict.errors, `expert errors in ${pcap}`).toEqual([]);
  for (const p of protocols) expect([...verdict.protocols], `protocols in ${pcap}`).toContain(p);
}

/** On the wire both ways: MPPE (0x00FD) only, stateless (A bit on every packet). */
function expectMppeStateless(pcap: string): void {
  const frames = readPppPcap(readFileSync(pcap));
  for (const dir of ['sent', 'rcvd'] as const) {
    const c = mppeFlushedCounts(frames, dir);
    expect(c.packets, `MPPE packets ${dir}`).toBeGreaterThan(0);
    expect(c.flushed, `${dir} MPPE packets with the A bit`).toBe(c.packets);
  }
  // No IP packet went unencrypted (0x0021).
  const clear = frames.filter((f) => {
    const at = f.frame[0] === 0xff ? 2 : 0;
    return f.frame[at] === 0x21 || (f.frame[at] === 0x00 && f.frame[at + 1] === 0x21);
  });
  expect(clear.length, 'IP frames sent or received in the clear').toBe(0);
}

/**
 * Ping across the tunnel from branchlink's namespace, once the VM's pppd has given ppp0 its
 * address (`ready`): pppd's IPCP opens a moment before its ip-pre-up script and the address
 * are done, and a ping sent in between is dropped by the VM's kernel.
 */
async function ping(target: string, ready: () => Promise<unknown>, count = 3): Promise<string> {
  await ready();
  const r = await peer().netnsRun(
    'ping',
    ['-n', '-c', String(count), '-i', '0.3', '-W', '3', target],
    { timeoutMs: 30_000 },
  );
  expect(r.stdout, `${r.stdout}${r.stderr}`).toMatch(
    new RegExp(`${count} packets transmitted, ${count} received`),
  );
  return r.stdout.split('\n').find((l) => l.includes('rtt')) ?? '';
}

/** pptpd's pppd logs to syslog: wait until it has configured ppp0 for the `n`th time. */
const pptpdIpUp = (n: number) => () =>
  waitUntil(
    `pptpd's pppd to configure ppp0 (${n}×)`,
    async () => {
      const log = (await peer().readFile('/var/log/messages')).toString('utf8');
      return (log.match(/pppd\[\d+\]: remote IP address 10\.88\.0\.\d+/g) ?? []).length >= n;
    },
    20_000,
  );

/** pptp-linux's pppd (spawned with `nodetach`): its own log. */
const pppdIpUp = (p: SpawnedProcess) => () =>
  peer().waitForFile(p.log, /local {2}IP address 10\.89\.0\.\d+/, 20_000);

async function transferBothWays(
  tag: string,
  vmTarget: string,
  ourAddress: string,
): Promise<string> {
  const v = peer();
  const toVm = await sendToVm(v, {
    target: vmTarget,
    port: 5001,
    bytes: TRANSFER_BYTES,
    dir,
    timeoutMs: TRANSFER_TIMEOUT_MS,
  });
  expect(toVm.receivedBytes, 'bytes the VM received').toBe(TRANSFER_BYTES);
  expect(toVm.receivedSha256, 'sha256 in the VM').toBe(toVm.sentSha256);
  const fromVm = await receiveFromVm(v, {
    listen: ourAddress,
    port: 5002,
    bytes: TRANSFER_BYTES,
    dir,
    timeoutMs: TRANSFER_TIMEOUT_MS,
  });
  expect(fromVm.receivedBytes, 'bytes branchlink’s side received').toBe(TRANSFER_BYTES);
  expect(fromVm.receivedSha256, 'sha256 on branchlink’s side').toBe(fromVm.sentSha256);
  const line = `${tag}: to the VM ${describeTransfer(toVm)}; from the VM ${describeTransfer(fromVm)}`;
  console.log(`[interop] ${line}`);
  return line;
}

/** How long IP took after MPPE came up (IPCP against pppd's CCP-first order), for the log. */
function logIpAfterMppe(tag: string): void {
  const mppe = bl?.firstLogTime(/^MPPE up$/);
  const ip = bl?.firstLogTime(/^IP up$/);
  if (mppe !== undefined && ip !== undefined)
    console.log(`[interop] ${tag}: IP up ${ip - mppe} ms after MPPE up`);
}

async function stopAll(): Promise<void> {
  await bl?.stop();
  bl = undefined;
  for (const p of started.splice(0)) {
    await p.kill('KILL').catch(() => false);
    await p.exited;
  }
  // Each case reads syslog from its own start (busybox syslogd appends: truncating is safe).
  await peer()
    .exec(': > /var/log/messages')
    .catch(() => undefined);
  // pppd/pptpctrl children that left the spawned process groups.
  await peer()
    .exec('for p in $(pidof pppd pptpctrl pptp pptpd); do kill -9 $p; done; true')
    .catch(() => undefined);
  await stopTcpdump();
}

describe('PPTP against pptpd 1.4.0 and pptp-linux 1.10', () => {
  beforeAll(async () => {
    vm = await startPeerVm({ name: 'pptp' });
    dir = mkdtempSync(join(tmpdir(), 'bl-interop-pptp-'));
    await vm.writeFile(
      '/etc/ppp/chap-secrets',
      `${BRANCH} * ${SECRET} *\n${REMOTE} * ${SECRET} *\n`,
      0o600,
    );
    await vm.writeFile(
      '/etc/pptpd.conf',
      `option /etc/ppp/pptpd-options\nlocalip ${PPTPD_LOCAL}\nremoteip ${PPTPD_POOL_FIRST}-20\n`,
    );
    // Debian's pptpd-options (MS-CHAPv2, MPPE-128 required, nologfd) plus packet logs.
    const options = (await vm.readFile('/etc/ppp/pptpd-options')).toString('utf8');
    await vm.writeFile('/etc/ppp/pptpd-options', `${options}\ndebug\n`);
  });

  afterEach(async () => {
    await stopAll();
  });

  afterAll(async () => {
    await vm?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('branchlink’s PPTP client → pptpd', () => {
    const LINK = 'hq';

    async function startPptpd(tag: string): Promise<SpawnedProcess> {
      const p = await spawnInVm('exec pptpd --fg --debug', `/var/log/pptpd-${tag}.log`);
      await peer().waitForFile(
        '/proc/net/tcp',
        /^\s*\d+: 00000000:06BB 00000000:0000 0A /m,
        15_000,
      );
      return p;
    }

    async function startClient(tag: string, extra: Record<string, unknown> = {}): Promise<string> {
      const secrets = join(dir, `${tag}-secrets.json`);
      writeSecrets(secrets, [{ client: BRANCH, secret: SECRET }]);
      const pcap = join(dir, `${tag}.ppp.pcap`);
      bl = await Branchlink.start(peer(), {
        name: tag,
        dir,
        config: {
          name: 'branchlink',
          secrets: { file: secrets },
          links: [
            {
              name: LINK,
              type: 'pptp',
              role: 'client',
              server: peer().vmAddress,
              holdoff: 1,
              backoffMax: 2,
              ...extra,
              ppp: {
                user: BRANCH,
                allow: ['mschap-v2'],
                lcpEchoInterval: 0,
                debug: true,
                capture: pcap,
              },
            },
          ],
        },
      });
      return pcap;
    }

    const up = (what = 'to reach Network', timeoutMs = 60_000) =>
      bl!.waitLink(LINK, what, (l) => l.phase === 'network' && l.remoteIp !== null, timeoutMs);

    it('MS-CHAPv2 + MPPE-128 stateless; ping and 10 MB each way with identical sha256', async () => {
      await checked(async () => {
        const tag = `client-${++caseNo}`;
        const tap = await startTcpdump(tag);
        await startPptpd(tag);
        const pcap = await startClient(tag);
        const l = await up();
        expect(l).toMatchObject({
          authMethod: 'mschap-v2',
          mppe: '128-bit stateless',
          localIp: PPTPD_POOL_FIRST,
          remoteIp: PPTPD_LOCAL,
        });
        await peer().waitForFile('/var/log/messages', /MPPE 128-bit stateless compression enabled/);
        await peer().waitForFile('/var/log/messages', /remote IP address 10\.88\.0\.10/);
        console.log(`[interop] ${tag}: ping ${await ping(PPTPD_LOCAL, pptpdIpUp(1))}`);
        logIpAfterMppe(tag);
        await transferBothWays(tag, PPTPD_LOCAL, PPTPD_POOL_FIRST);
        await bl!.stop();
        await stopTcpdump();
        expectMppeStateless(pcap);
        await expectPcapClean(pcap, ['ppp', 'lcp', 'chap', 'ccp', 'ipcp', 'comp_data']);
        await expectPcapClean(tap, ['pptp', 'gre', 'ppp', 'lcp', 'chap', 'ccp', 'ipcp']);
      });
    });

    it('pptpd’s pppd exiting ends the session; the client redials and comes back up', async () => {
      await checked(async () => {
        const tag = `client-pppd-exit-${++caseNo}`;
        const tap = await startTcpdump(tag);
        await startPptpd(tag);
        await startClient(tag);
        await up();
        const [pid] = await vmPids('pppd');
        expect(pid, 'pppd under pptpd').toBeDefined();
        const t0 = performance.now();
        await peer().execOk(`kill -TERM ${pid}`);
        const dead = await bl!.waitLink(
          LINK,
          'to leave Network',
          (l) => l.phase !== 'network',
          20_000,
        );
        const downMs = performance.now() - t0;
        expect(dead.remoteIp).toBeNull();
        // branchlink acknowledged pppd's Terminate-Request.
        await peer().waitForFile(
          '/var/log/messages',
          new RegExp(`pppd\\[${pid}\\]: rcvd \\[LCP TermAck`),
        );
        await up('to come back up after redialling', 60_000);
        const backMs = performance.now() - t0;
        // The old pppd got its Terminate-Ack (no 6 s timeout) and exited.
        await waitUntil(
          'the old pppd to exit',
          async () => !(await vmPids('pppd')).includes(pid!),
          20_000,
        );
        await ping(PPTPD_LOCAL, pptpdIpUp(2));
        console.log(
          `[interop] ${tag}: session down ${Math.round(downMs)} ms after pppd got SIGTERM, up again after ${Math.round(backMs)} ms`,
        );
        await bl!.stop();
        await stopTcpdump();
        await expectPcapClean(tap, ['pptp', 'gre', 'lcp']);
      });
    });

    it('the control connection dying (pptpctrl killed) ends the session; the client redials', async () => {
      await checked(async () => {
        const tag = `client-ctrl-kill-${++caseNo}`;
        const tap = await startTcpdump(tag);
        await startPptpd(tag);
        await startClient(tag);
        await up();
        const ctrl = await vmPids('pptpctrl');
        expect(ctrl.length, 'pptpctrl processes').toBe(1);
        await peer().execOk(`kill -KILL ${ctrl[0]}`);
        const t0 = performance.now();
        const down = await bl!.waitLink(LINK, 'to go down', (l) => l.phase !== 'network', 30_000);
        expect(down.phase).not.toBe('network');
        await up('to come back up after redialling', 60_000);
        console.log(
          `[interop] ${tag}: control connection killed; up again after ${Math.round(performance.now() - t0)} ms`,
        );
        await ping(PPTPD_LOCAL, pptpdIpUp(2));
        await bl!.stop();
        await stopTcpdump();
        await expectPcapClean(tap, ['pptp', 'gre']);
      });
    });

    it('pptpd stopping takes the client to Dead; it keeps redialling and reconnects when pptpd returns', async () => {
      await checked(async () => {
        const tag = `client-pptpd-stop-${++caseNo}`;
        const tap = await startTcpdump(tag);
        const pptpd = await startPptpd(tag);
        await startClient(tag);
        await up();
        // Stop pptpd and everything it started (its process group: pptpctrl, pppd).
        await pptpd.kill('TERM');
        await pptpd.exited;
        for (const pid of await vmPids('pptpctrl')) await peer().exec(`kill -TERM ${pid}`);
        const dead = await bl!.waitLink(LINK, 'to go Dead', (l) => l.phase === 'dead', 30_000);
        expect(dead.remoteIp).toBeNull();
        // While pptpd is gone the redials fail at the TCP connect and say so.
        const failing = await bl!.waitLink(
          LINK,
          'to report a failed redial',
          (l) => l.lastError !== null && /ECONNREFUSED|refused|connect/i.test(l.lastError),
          30_000,
        );
        expect(failing.phase).toBe('dead');
        await startPptpd(`${tag}-again`);
        const t0 = performance.now();
        await up('to reconnect once pptpd is back', 60_000);
        console.log(
          `[interop] ${tag}: reconnected ${Math.round(performance.now() - t0)} ms after pptpd came back`,
        );
        await ping(PPTPD_LOCAL, pptpdIpUp(2));
        await bl!.stop();
        await stopTcpdump();
        await expectPcapClean(tap, ['pptp', 'gre']);
      });
    });
  });

  describe('pptp-linux → branchlink’s PPTP server', () => {
    const LINK = 'workers';

    async function startServer(tag: string, pool = PNS_POOL): Promise<string> {
      const secrets = join(dir, `${tag}-secrets.json`);
      writeSecrets(secrets, [{ client: REMOTE, secret: SECRET }]);
      const pcap = join(dir, `${tag}.ppp.pcap`);
      bl = await Branchlink.start(peer(), {
        name: tag,
        dir,
        config: {
          name: 'branchlink',
          secrets: { file: secrets },
          links: [
            {
              name: LINK,
              type: 'pptp',
              role: 'server',
              listen: peer().hostAddress,
              pool,
              ppp: {
                require: ['mschap-v2'],
                localAddress: PNS_LOCAL,
                lcpEchoInterval: 0,
                debug: true,
                capture: pcap,
              },
            },
          ],
        },
      });
      await bl.waitLink(LINK, 'to listen', (l) => l.lastError === null, 10_000);
      return pcap;
    }

    /** pppd with pptp-linux as its pty, as Debian's pptp-linux documents it. */
    async function dialIn(tag: string): Promise<SpawnedProcess> {
      return spawnInVm(
        `exec pppd pty "pptp ${peer().hostAddress} --nolaunchpppd --loglevel 1" ` +
          `nodetach debug file /etc/ppp/options.pptp name ${REMOTE} user ${REMOTE} ` +
          'remotename branchlink require-mppe-128 lcp-echo-interval 0',
        `/var/log/pptp-${tag}.log`,
      );
    }

    const sessionUp = () =>
      bl!.waitLink(
        LINK,
        'to have a session in Network',
        (l) => (l.sessions ?? []).some((s) => s.phase === 'network' && s.remoteIp !== null),
        60_000,
      );
    const noSessions = (what: string) =>
      bl!.waitLink(LINK, what, (l) => (l.sessions ?? []).length === 0, 30_000);

    it('MS-CHAPv2 + MPPE-128 stateless; ping and 10 MB each way with identical sha256', async () => {
      await checked(async () => {
        const tag = `pns-${++caseNo}`;
        const tap = await startTcpdump(tag);
        const pcap = await startServer(tag);
        const p = await dialIn(tag);
        const l = await sessionUp();
        expect(l.sessions?.[0]).toMatchObject({
          peer: REMOTE,
          authMethod: 'mschap-v2',
          mppe: '128-bit stateless',
          localIp: PNS_LOCAL,
          remoteIp: PNS_FIRST,
          source: peer().vmAddress,
        });
        await peer().waitForFile(p.log, /MPPE 128-bit stateless compression enabled/, 20_000);
        await peer().waitForFile(p.log, /local {2}IP address 10\.89\.0\.10/, 20_000);
        console.log(`[interop] ${tag}: ping ${await ping(PNS_FIRST, pppdIpUp(p))}`);
        logIpAfterMppe(tag);
        await transferBothWays(tag, PNS_FIRST, PNS_LOCAL);
        await bl!.stop();
        await stopTcpdump();
        expectMppeStateless(pcap);
        await expectPcapClean(pcap, ['ppp', 'lcp', 'chap', 'ccp', 'ipcp', 'comp_data']);
        await expectPcapClean(tap, ['pptp', 'gre', 'ppp', 'lcp', 'chap', 'ccp', 'ipcp']);
      });
    });

    it('pppd hanging up (SIGTERM) frees the session and its address; the next call gets it', async () => {
      await checked(async () => {
        const tag = `pns-hangup-${++caseNo}`;
        const tap = await startTcpdump(tag);
        await startServer(tag, PNS_POOL_OF_ONE);
        const p = await dialIn(tag);
        await sessionUp();
        const t0 = performance.now();
        // pppd alone (not its pptp): it sends an LCP Terminate-Request, then hangs up.
        await peer().execOk(`kill -TERM ${p.pid}`);
        await noSessions('to free the session');
        const ms = performance.now() - t0;
        const exit = await p.exited;
        // EXIT_USER_REQUEST (5): pppd got its Terminate-Ack from branchlink.
        expect(exit.code, 'pppd exit code').toBe(5);
        console.log(`[interop] ${tag}: session freed ${Math.round(ms)} ms after pppd got SIGTERM`);
        // The pool has one address: the next call comes up only because it was freed.
        const p2 = await dialIn(`${tag}-again`);
        const again = await sessionUp();
        expect(again.sessions).toHaveLength(1);
        expect(again.sessions?.[0]?.remoteIp).toBe(PNS_FIRST);
        await ping(PNS_FIRST, pppdIpUp(p2));
        await bl!.stop();
        await stopTcpdump();
        await expectPcapClean(tap, ['pptp', 'gre', 'lcp']);
      });
    });

    it('pptp-linux dying (control connection and GRE gone, SIGKILL) frees the session', async () => {
      await checked(async () => {
        const tag = `pns-kill-${++caseNo}`;
        const tap = await startTcpdump(tag);
        await startServer(tag, PNS_POOL_OF_ONE);
        const p = await dialIn(tag);
        await sessionUp();
        const t0 = performance.now();
        // The whole group: pppd and both pptp processes (call manager and GRE copier).
        await p.kill('KILL');
        await p.exited;
        await noSessions('to free the session after the control connection closed');
        console.log(
          `[interop] ${tag}: session freed ${Math.round(performance.now() - t0)} ms after pptp-linux was killed`,
        );
        const l = await bl!.link(LINK);
        expect(l.peer).toBe('0 of 0 sessions up');
        await dialIn(`${tag}-again`);
        const again = await sessionUp();
        expect(again.sessions?.[0]?.remoteIp).toBe(PNS_FIRST);
        await bl!.stop();
        await stopTcpdump();
        await expectPcapClean(tap, ['pptp', 'gre']);
      });
    });
  });
});
