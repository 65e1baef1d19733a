/**
 * Dial-up interop: branchlink against Debian's pppd 2.4.9 on a serial line.
 *
 *   branchlink (netns of the VM, TUN bl0)  ──  vm.serialPty  ══ 16550 ══  ttyS1  ──  pppd (ppp0)
 *
 * One VM for the whole file. Each case starts its own `branchlink run` with a direct-line
 * dial-up link (`"modem": false`: no AT commands) on the VM's serial pty and a pppd on ttyS1
 * with the options of that case, waits for both to agree (branchlink's status and pppd's own
 * log), then dissects branchlink's pcap of the link with tshark.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  Branchlink,
  mppeFlushedCounts,
  readPppPcap,
  sleep,
  tshark,
  withBranchlinkLog,
  writeSecrets,
} from './harness/branchlink.js';
import { describeTransfer, receiveFromVm, sendToVm } from './harness/transfer.js';
import { type PeerVm, type SpawnedProcess, startPeerVm, withPeerLogs } from './harness/vm.js';

/** branchlink's end of the line and pppd's end. */
const BL_IP = '10.77.0.1';
const PPPD_IP = '10.77.0.2';
/** Names: pppd's (`name`/`user`) and ours (`ppp.user`). */
const PEER = 'vmpeer';
const BRANCH = 'branch';
const SECRET = 'interop-Secret-1';
const LINK = 'serial';
const TRANSFER_BYTES = 1024 * 1024;
/**
 * QEMU does not pace the UART at 115200 bit/s, but its emulated 16550 takes only about
 * 50 kB/s into the VM under TCG (measured with raw bytes): 1 MB needs 20-30 s that way.
 */
const TRANSFER_TIMEOUT_MS = 240_000;
const KEEPALIVE_S = 8;

let vm: PeerVm | undefined;
let dir = '';
let bl: Branchlink | undefined;
let pppd: SpawnedProcess | undefined;
let caseNo = 0;

function peer(): PeerVm {
  if (!vm) throw new Error('peer VM did not start');
  return vm;
}

/**
 * pppd on ttyS1 with a case's options. `local` (no modem lines), `nocrtscts` (QEMU's
 * pty backend has no flow control) and `nodetach debug` (log to the spawned log) on top of
 * Debian's /etc/ppp/options (auth, lock, lcp-echo-interval 30 ...).
 */
async function startPppd(options: string, tag: string): Promise<SpawnedProcess> {
  const v = peer();
  pppd = await v.spawn(
    `exec pppd /dev/ttyS1 115200 nodetach debug local nocrtscts ${PPPD_IP}:${BL_IP} ${options}`,
    { log: `/var/log/pppd-${tag}.log` },
  );
  return pppd;
}

/** A dial-up link on the VM's serial pty, direct line, with `ppp` on top of the defaults. */
function serialLink(role: 'dial' | 'answer', ppp: Record<string, unknown>, extra = {}) {
  return {
    name: LINK,
    type: 'dialup',
    role,
    device: peer().serialPty,
    modem: false,
    persist: false,
    ...extra,
    ppp: { localAddress: BL_IP, remoteAddress: PPPD_IP, lcpEchoInterval: 0, debug: true, ...ppp },
  };
}

async function startBranchlink(
  tag: string,
  link: Record<string, unknown>,
  secrets: { client: string; secret: string }[],
): Promise<Branchlink> {
  const secretsFile = join(dir, `${tag}-secrets.json`);
  writeSecrets(secretsFile, secrets);
  bl = await Branchlink.start(peer(), {
    name: tag,
    dir,
    config: { name: 'branchlink', secrets: { file: secretsFile }, links: [link] },
  });
  return bl;
}

/** withPeerLogs (pppd, syslog, console) around withBranchlinkLog (our own JSON log). */
function checked<T>(fn: () => Promise<T>): Promise<T> {
  return withPeerLogs(peer(), () => withBranchlinkLog(() => bl, fn));
}

const upIn = (bound = 60_000) =>
  bl!.waitLink(
    LINK,
    'to reach Network',
    (l) => l.phase === 'network' && l.remoteIp !== null,
    bound,
  );

async function expectPcapClean(pcap: string, protocols: readonly string[]): Promise<void> {
  const verdict = await tshark(pcap);
  expect(verdict.frames, `frames in ${pcap}`).toBeGreaterThan(0);
  expect(verdict.malformed, `tshark -V on ${pcap}`).toEqual([]);
  expect(verdict.errors, `expert errors in ${pcap}`).toEqual([]);
  for (const p of protocols) expect([...verdict.protocols], `protocols in ${pcap}`).toContain(p);
}

/**
 * Ping across the link from branchlink's namespace, once pppd has configured ppp0 (its IPCP
 * opens a moment before its ip-pre-up script and the address are done: a ping sent in
 * between is dropped by pppd's kernel, not lost by branchlink).
 */
async function pingAcross(p: SpawnedProcess, count = 3): Promise<string> {
  await peer().waitForFile(p.log, /remote IP address 10\.77\.0\.1/, 20_000);
  const r = await peer().netnsRun(
    'ping',
    ['-n', '-c', String(count), '-i', '0.3', '-W', '3', PPPD_IP],
    { timeoutMs: 30_000 },
  );
  expect(r.stdout, `${r.stdout}${r.stderr}`).toMatch(
    new RegExp(`${count} packets transmitted, ${count} received`),
  );
  return r.stdout.split('\n').find((l) => l.includes('rtt')) ?? '';
}

type Method = 'pap' | 'chap-md5' | 'mschap' | 'mschap-v2';
type MppeMode = 'stateless' | 'stateful';

const PPPD_REQUIRE: Record<Method, string> = {
  pap: 'require-pap',
  'chap-md5': 'require-chap',
  mschap: 'require-mschap',
  'mschap-v2': 'require-mschap-v2',
};
/** What tshark calls each method's protocol. */
const PCAP_AUTH: Record<Method, string> = {
  pap: 'pap',
  'chap-md5': 'chap',
  mschap: 'chap',
  'mschap-v2': 'chap',
};

/** branchlink's MPPE tokens for a case (pppd vocabulary plus mppe-prefer-stateful). */
function blMppe(mode: MppeMode | undefined): string[] {
  if (mode === undefined) return [];
  return mode === 'stateful' ? ['require-mppe-128', 'mppe-prefer-stateful'] : ['require-mppe-128'];
}

function pppdMppe(mode: MppeMode | undefined): string {
  if (mode === undefined) return '';
  return mode === 'stateful'
    ? 'require-mppe-128 mppe-stateful'
    : 'require-mppe-128 nomppe-stateful';
}

const PCAP_MPPE = ['ccp', 'comp_data'];

/**
 * pppd 2.4.9 saying it accepted us: PAP has a notice; its CHAP code (chap-new.c) logs no
 * success line, so its CHAP Success packet is the proof.
 */
const PPPD_ACCEPTED: Record<Method, RegExp> = {
  pap: /PAP peer authentication succeeded for branch/,
  'chap-md5': /sent \[CHAP Success id=0x[0-9a-f]+ "Access granted"\]/,
  mschap: /sent \[CHAP Success id=0x[0-9a-f]+ "Access granted"\]/,
  'mschap-v2': /sent \[CHAP Success id=0x[0-9a-f]+ "S=[0-9A-F]{40} M=Access granted"\]/,
};

/** pppd 2.4.9 refusing us (upap.c, chap-new.c), and being refused by us. */
const PPPD_REFUSED: Record<Method, RegExp> = {
  pap: /PAP peer authentication failed for branch/,
  'chap-md5': /Peer branch failed CHAP authentication/,
  mschap: /Peer branch failed CHAP authentication/,
  'mschap-v2': /Peer branch failed CHAP authentication/,
};
const PPPD_WAS_REFUSED: Record<Method, RegExp> = {
  pap: /PAP authentication failed/,
  'chap-md5': /CHAP authentication failed/,
  mschap: /CHAP authentication failed/,
  'mschap-v2': /MS-CHAP authentication failed|CHAP authentication failed/,
};

/**
 * What branchlink's status says about MPPE. MPPE is negotiated per direction (RFC 1962 §2:
 * a Configure-Request names what its sender receives): with mppe-prefer-stateful branchlink
 * asks pppd for stateful, pppd (mppe-stateful allows it) agrees; pppd itself asks for
 * stateless, which branchlink grants.
 */
function statusMppe(mode: MppeMode | undefined): string | null {
  if (mode === undefined) return null;
  return mode === 'stateful'
    ? 'send 128-bit stateless, receive 128-bit stateful'
    : '128-bit stateless';
}

/**
 * The MPPE mode on the wire, from branchlink's pcap (RFC 3078 §3: the A bit is set on every
 * stateless packet and only after a reset in stateful mode): what we send is always
 * stateless (pppd asks for that), what we receive is stateful when we asked for it.
 */
function expectMppeOnWire(pcap: string, mode: MppeMode): void {
  const frames = readPppPcap(readFileSync(pcap));
  const sent = mppeFlushedCounts(frames, 'sent');
  const rcvd = mppeFlushedCounts(frames, 'rcvd');
  expect(sent.packets, 'MPPE packets sent').toBeGreaterThan(0);
  expect(rcvd.packets, 'MPPE packets received').toBeGreaterThan(0);
  expect(sent.flushed, 'sent packets with the A bit (stateless: all)').toBe(sent.packets);
  if (mode === 'stateless')
    expect(rcvd.flushed, 'received packets with the A bit').toBe(rcvd.packets);
  else
    expect(rcvd.flushed, 'received packets with the A bit (stateful: few)').toBeLessThan(
      rcvd.packets / 2,
    );
}

interface AuthCase {
  readonly method: Method;
  readonly mppe?: MppeMode;
  /** Also move 1 MB each way and compare sha256. */
  readonly transfer?: boolean;
}

const AUTH_CASES: readonly AuthCase[] = [
  { method: 'pap' },
  { method: 'chap-md5' },
  { method: 'mschap' },
  { method: 'mschap-v2', mppe: 'stateless', transfer: true },
  { method: 'mschap-v2', mppe: 'stateful', transfer: true },
];

const label = (c: AuthCase): string => `${c.method}${c.mppe ? ` + MPPE-128 ${c.mppe}` : ''}`;

/** 1 MB each way across the link; sha256 must match. Returns the figures for the log. */
async function transferBothWays(tag: string): Promise<string> {
  const v = peer();
  const toVm = await sendToVm(v, {
    target: PPPD_IP,
    port: 5001,
    bytes: TRANSFER_BYTES,
    dir,
    timeoutMs: TRANSFER_TIMEOUT_MS,
  });
  expect(toVm.receivedBytes, 'bytes the VM received').toBe(TRANSFER_BYTES);
  expect(toVm.receivedSha256, 'sha256 in the VM').toBe(toVm.sentSha256);
  const fromVm = await receiveFromVm(v, {
    listen: BL_IP,
    port: 5002,
    bytes: TRANSFER_BYTES,
    dir,
    timeoutMs: TRANSFER_TIMEOUT_MS,
  });
  expect(fromVm.receivedBytes, 'bytes branchlink’s side received').toBe(TRANSFER_BYTES);
  expect(fromVm.receivedSha256, 'sha256 on branchlink’s side').toBe(fromVm.sentSha256);
  // The VM's UART counters say whether bytes were lost on the way in (oe: FIFO overruns
  // under emulation), which TCP then resends; ppp0's errors say how many frames pppd dropped.
  const uart = (await v.exec('grep "^1:" /proc/tty/driver/serial')).stdout.trim();
  const ppp0 = (await v.exec('grep ppp0 /proc/net/dev')).stdout.trim().split(/\s+/);
  const line =
    `${tag}: to pppd ${describeTransfer(toVm)}; from pppd ${describeTransfer(fromVm)}; ` +
    `VM ttyS1 [${uart}]; ppp0 rx errors ${ppp0[3] ?? '?'}`;
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

describe('dial-up against pppd 2.4.9 on the serial line', () => {
  beforeAll(async () => {
    vm = await startPeerVm({ name: 'dialup' });
    dir = mkdtempSync(join(tmpdir(), 'bl-interop-dialup-'));
    // pppd's secrets: `branch` authenticates to pppd (pppd the authenticator), and pppd
    // as `vmpeer` authenticates to branchlink.
    const lines = `${BRANCH} * ${SECRET} *\n${PEER} * ${SECRET} *\n`;
    await vm.writeFile('/etc/ppp/pap-secrets', lines, 0o600);
    await vm.writeFile('/etc/ppp/chap-secrets', lines, 0o600);
  });

  afterEach(async () => {
    // KILL: TERM makes pppd wait for a Terminate-Ack that may never come.
    if (pppd) {
      await pppd.kill('KILL').catch(() => false);
      await pppd.exited;
      pppd = undefined;
    }
    await bl?.stop();
    bl = undefined;
  });

  afterAll(async () => {
    await vm?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('comes up with no authentication either way; ping across', async () => {
    await checked(async () => {
      const tag = `noauth-${++caseNo}`;
      const pcap = join(dir, `${tag}.pcap`);
      await startBranchlink(tag, serialLink('dial', { mppe: [], capture: pcap }), []);
      const p = await startPppd('noauth', tag);
      const up = await upIn();
      expect(up).toMatchObject({ localIp: BL_IP, remoteIp: PPPD_IP, authMethod: null, mppe: null });
      await peer().waitForFile(p.log, /remote IP address 10\.77\.0\.1/, 20_000);
      await pingAcross(p);
      // The CLI agrees with the control socket.
      const cli = await bl!.cliStatus();
      expect(cli.links.find((l) => l.name === LINK)).toMatchObject({ phase: 'network' });
      await bl!.stop();
      await expectPcapClean(pcap, ['ppp', 'lcp', 'ipcp', 'ip', 'icmp']);
    });
  });

  describe('branchlink authenticates to pppd (pppd requires it)', () => {
    for (const c of AUTH_CASES) {
      it(`${label(c)}: pppd accepts branchlink${c.mppe ? ', MPPE agreed' : ''}; ping${c.transfer ? ' and 1 MB each way' : ''}`, async () => {
        await checked(async () => {
          const tag = `peer-${c.method}-${c.mppe ?? 'plain'}-${++caseNo}`;
          const pcap = join(dir, `${tag}.pcap`);
          await startBranchlink(
            tag,
            serialLink('dial', {
              user: BRANCH,
              allow: [c.method],
              mppe: blMppe(c.mppe),
              capture: pcap,
            }),
            [{ client: BRANCH, secret: SECRET }],
          );
          const p = await startPppd(
            `name ${PEER} ${PPPD_REQUIRE[c.method]} ${pppdMppe(c.mppe)}`,
            tag,
          );
          const up = await upIn();
          expect(up).toMatchObject({
            authMethod: c.method,
            mppe: statusMppe(c.mppe),
          });
          await peer().waitForFile(p.log, PPPD_ACCEPTED[c.method], 20_000);
          // pppd names the mode it receives in: stateless in both cases.
          if (c.mppe)
            await peer().waitForFile(p.log, /MPPE 128-bit stateless compression enabled/, 20_000);
          await pingAcross(p);
          if (c.mppe) logIpAfterMppe(tag);
          if (c.transfer) await transferBothWays(tag);
          await bl!.stop();
          if (c.mppe) expectMppeOnWire(pcap, c.mppe);
          await expectPcapClean(pcap, [
            'lcp',
            PCAP_AUTH[c.method],
            'ipcp',
            ...(c.mppe ? PCAP_MPPE : ['icmp']),
          ]);
        });
      });
    }
  });

  describe('branchlink authenticates pppd (branchlink requires it)', () => {
    for (const c of AUTH_CASES) {
      it(`${label(c)}: branchlink accepts pppd${c.mppe ? ', MPPE agreed' : ''}; ping`, async () => {
        await checked(async () => {
          const tag = `auth-${c.method}-${c.mppe ?? 'plain'}-${++caseNo}`;
          const pcap = join(dir, `${tag}.pcap`);
          await startBranchlink(
            tag,
            serialLink('answer', { require: [c.method], mppe: blMppe(c.mppe), capture: pcap }),
            [{ client: PEER, secret: SECRET }],
          );
          const p = await startPppd(`noauth user ${PEER} ${pppdMppe(c.mppe)}`, tag);
          const up = await upIn();
          expect(up).toMatchObject({
            peer: PEER,
            authMethod: c.method,
            mppe: statusMppe(c.mppe),
          });
          await peer().waitForFile(p.log, /authentication succeeded/, 20_000);
          // pppd names the mode it receives in: stateless in both cases.
          if (c.mppe)
            await peer().waitForFile(p.log, /MPPE 128-bit stateless compression enabled/, 20_000);
          await pingAcross(p);
          if (c.mppe) logIpAfterMppe(tag);
          await bl!.stop();
          if (c.mppe) expectMppeOnWire(pcap, c.mppe);
          await expectPcapClean(pcap, [
            'lcp',
            PCAP_AUTH[c.method],
            'ipcp',
            ...(c.mppe ? PCAP_MPPE : ['icmp']),
          ]);
        });
      });
    }
  });

  describe('a wrong secret fails cleanly on both sides', () => {
    for (const method of ['pap', 'chap-md5', 'mschap-v2'] as const) {
      it(`${method}: pppd refuses branchlink’s wrong secret; both sides end the link`, async () => {
        await checked(async () => {
          const tag = `peer-wrong-${method}-${++caseNo}`;
          const pcap = join(dir, `${tag}.pcap`);
          await startBranchlink(
            tag,
            serialLink('dial', { user: BRANCH, allow: [method], mppe: [], capture: pcap }),
            [{ client: BRANCH, secret: 'not-the-secret' }],
          );
          const p = await startPppd(`name ${PEER} ${PPPD_REQUIRE[method]}`, tag);
          const dead = await bl!.waitLink(
            LINK,
            'to go Dead after the failure',
            (l) => l.phase === 'dead' && l.lastError !== null,
          );
          expect(dead.lastError).toMatch(new RegExp(`^we failed ${method}`));
          expect(dead.remoteIp).toBeNull();
          await peer().waitForFile(p.log, PPPD_REFUSED[method], 20_000);
          // pppd exits with EXIT_PEER_AUTH_FAILED (11).
          const exit = await p.exited;
          expect(exit.code, 'pppd exit code').toBe(11);
          await bl!.stop();
          await expectPcapClean(pcap, ['lcp', PCAP_AUTH[method]]);
        });
      });

      it(`${method}: branchlink refuses pppd’s wrong secret; both sides end the link`, async () => {
        await checked(async () => {
          const tag = `auth-wrong-${method}-${++caseNo}`;
          const pcap = join(dir, `${tag}.pcap`);
          await startBranchlink(
            tag,
            serialLink('answer', { require: [method], mppe: [], capture: pcap }),
            [{ client: PEER, secret: 'not-the-secret' }],
          );
          const p = await startPppd(`noauth user ${PEER}`, tag);
          await bl!.waitLink(LINK, 'to record the failure', (l) => l.lastError !== null);
          const l = await bl!.link(LINK);
          expect(l.lastError).toMatch(new RegExp(`^peer '${PEER}' failed ${method}`));
          // An answering direct line waits for the next call at once: never Network.
          expect(l.phase).not.toBe('network');
          expect(l.remoteIp).toBeNull();
          await peer().waitForFile(p.log, PPPD_WAS_REFUSED[method], 20_000);
          // pppd exits with EXIT_AUTH_TOPEER_FAILED (19).
          const exit = await p.exited;
          expect(exit.code, 'pppd exit code').toBe(19);
          await bl!.stop();
          await expectPcapClean(pcap, ['lcp', PCAP_AUTH[method]]);
        });
      });
    }
  });

  it('answers pppd’s LCP echoes (lcp-echo-interval 1, lcp-echo-failure 3) and stays up', async () => {
    await checked(async () => {
      const tag = `echo-${++caseNo}`;
      const pcap = join(dir, `${tag}.pcap`);
      // branchlink echoes too, once a second: each side keeps the other alive.
      await startBranchlink(
        tag,
        serialLink('dial', { mppe: [], capture: pcap, lcpEchoInterval: 1, lcpEchoFailure: 3 }),
        [],
      );
      const p = await startPppd('noauth lcp-echo-interval 1 lcp-echo-failure 3', tag);
      await upIn();
      await sleep(KEEPALIVE_S * 1000);
      const l = await bl!.link(LINK);
      expect(l.phase).toBe('network');
      expect(l.uptimeSeconds).toBeGreaterThanOrEqual(KEEPALIVE_S - 1);
      expect((await p.status()).running, 'pppd still running').toBe(true);
      const log = await p.readLog();
      expect(log).not.toMatch(/No response to \d+ echo-requests/);
      expect(bl!.logLines(/rcvd \[LCP EchoReq/).length).toBeGreaterThanOrEqual(KEEPALIVE_S - 2);
      expect(bl!.logLines(/sent \[LCP EchoRep/).length).toBeGreaterThanOrEqual(KEEPALIVE_S - 2);
      await bl!.stop();
      await expectPcapClean(pcap, ['lcp', 'ipcp']);
    });
  });

  it('goes Dead when pppd exits (SIGTERM: Terminate-Request) and pppd exits cleanly', async () => {
    await checked(async () => {
      const tag = `term-${++caseNo}`;
      const pcap = join(dir, `${tag}.pcap`);
      await startBranchlink(tag, serialLink('dial', { mppe: [], capture: pcap }), []);
      const p = await startPppd('noauth', tag);
      await upIn();
      const t0 = performance.now();
      await p.kill('TERM');
      const dead = await bl!.waitLink(LINK, 'to go Dead', (l) => l.phase === 'dead', 20_000);
      const ms = performance.now() - t0;
      expect(dead.remoteIp).toBeNull();
      expect(dead.lastError).toMatch(/terminat/i);
      const exit = await p.exited;
      // EXIT_USER_REQUEST (5): pppd got its Terminate-Ack and did not time out.
      expect(exit.code, 'pppd exit code').toBe(5);
      await peer().waitForFile(p.log, /rcvd \[LCP TermAck/, 5_000);
      console.log(`[interop] ${tag}: Dead ${Math.round(ms)} ms after pppd got SIGTERM`);
      await bl!.stop();
      await expectPcapClean(pcap, ['lcp', 'ipcp']);
    });
  });

  it('goes Dead when pppd is killed outright (SIGKILL): its LCP echoes go unanswered', async () => {
    await checked(async () => {
      const tag = `kill-${++caseNo}`;
      const pcap = join(dir, `${tag}.pcap`);
      await startBranchlink(
        tag,
        serialLink('dial', { mppe: [], capture: pcap, lcpEchoInterval: 1, lcpEchoFailure: 3 }),
        [],
      );
      const p = await startPppd('noauth', tag);
      await upIn();
      const t0 = performance.now();
      await p.kill('KILL');
      await p.exited;
      pppd = undefined;
      const dead = await bl!.waitLink(LINK, 'to go Dead', (l) => l.phase === 'dead', 30_000);
      const ms = performance.now() - t0;
      expect(dead.lastError).toMatch(/echo/i);
      console.log(`[interop] ${tag}: Dead ${Math.round(ms)} ms after pppd got SIGKILL`);
      await bl!.stop();
      await expectPcapClean(pcap, ['lcp', 'ipcp']);
    });
  });
});
