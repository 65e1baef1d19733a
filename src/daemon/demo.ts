/**
 * The built-in default (`npm start`): the whole router on one machine with no
 * hardware. Two branchlink instances, "hq" and "branch", each in its own network
 * namespace, joined by a simulated modem line (dial-up, RFC 1662 over ptys) and a
 * veth "broadband" link (PPTP: TCP 1723 + GRE). Both links authenticate with
 * MS-CHAPv2, encrypt with MPPE-128, bring up TUN devices, and the demo pings
 * across each. The branch router's LED row is drawn live in the terminal.
 *
 * Without root it says what it cannot do (namespaces, TUN, GRE) and runs what it
 * can: PPP negotiation over the modem line, in the current namespace.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModemSimulator } from '../../scripts/modem-sim/sim.js';
import { callService } from '../cli/control-client.js';
import {
  type CommandError,
  createVethPair,
  isRoot,
  NetNamespace,
  run,
  uniqueName,
  type VethPair,
} from '../net/netns.js';
import { renderStatusTable, type StatusReport } from './status.js';

export interface DemoOptions {
  readonly headless: boolean;
  readonly dir?: string;
  /** Stop after this long; default: until SIGINT/SIGTERM. */
  readonly seconds?: number;
  /** Where the narration goes; default stdout. */
  readonly out?: NodeJS.WritableStream;
}

const SECRET_TEXT = 'demo-only-secret';
const HQ_WAN = '10.250.0.1';
/** Without root, port 1723 cannot be bound: the demo's PPTP uses this one on loopback. */
const UNPRIVILEGED_PPTP_PORT = 17230;
const BRANCH_WAN = '10.250.0.2';

interface Instance {
  readonly name: string;
  readonly socket: string;
  readonly child: ChildProcess;
  readonly log: string;
}

function writeJson(path: string, value: unknown, mode = 0o644): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`, { mode });
  chmodSync(path, mode);
}

function configs(dir: string, lines: Record<string, string>, full: boolean) {
  const common = { lcpEchoInterval: 10, lcpEchoFailure: 3 };
  const hq = {
    name: 'hq',
    board: { profile: 'virtual', render: false },
    secrets: { file: join(dir, 'hq-secrets.json') },
    control: { socket: join(dir, 'hq.sock') },
    log: { level: 'info', format: 'json' },
    links: [
      {
        name: 'modem-in',
        type: 'dialup',
        role: 'answer',
        device: lines['200'],
        answer: { mode: 'ring', rings: 1 },
        ppp: {
          ...common,
          require: ['mschap-v2'],
          localAddress: '10.98.0.1',
          remoteAddress: '10.98.0.2',
        },
      },
      {
        name: 'remote-workers',
        type: 'pptp',
        role: 'server',
        // Without root: loopback and an unprivileged port, to show the control connection.
        listen: full ? HQ_WAN : '127.0.0.1',
        port: full ? 1723 : UNPRIVILEGED_PPTP_PORT,
        pool: '10.99.0.10-10.99.0.50',
        ppp: { ...common, require: ['mschap-v2'], localAddress: '10.99.0.1' },
      },
    ],
  };
  const branch = {
    name: 'branch',
    board: { profile: 'virtual' },
    secrets: { file: join(dir, 'branch-secrets.json') },
    control: { socket: join(dir, 'branch.sock') },
    log: { level: 'info', format: 'json' },
    links: [
      {
        name: 'backup-modem',
        type: 'dialup',
        role: 'dial',
        device: lines['100'],
        number: '200',
        holdoff: 2,
        ppp: { ...common, user: 'branch', allow: ['mschap-v2'] },
      },
      {
        name: 'hq-vpn',
        type: 'pptp',
        role: 'client',
        server: full ? HQ_WAN : '127.0.0.1',
        port: full ? 1723 : UNPRIVILEGED_PPTP_PORT,
        holdoff: full ? 2 : 10,
        ppp: { ...common, user: 'branch', allow: ['mschap-v2'] },
      },
    ],
  };
  const secrets = {
    version: 1,
    secrets: [{ client: 'branch', server: '*', secret: SECRET_TEXT, addresses: '*', note: 'demo' }],
  };
  return { hq, branch, secrets };
}

/** How to start this very program again (compiled JS, or TypeScript under tsx). */
function selfCommand(): [string, string[]] {
  return [process.execPath, [...process.execArgv, process.argv[1]!]];
}

async function waitFor(pred: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred().catch(() => false)) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

export async function runDemo(options: DemoOptions): Promise<void> {
  const out = options.out ?? process.stdout;
  const say = (line: string): void => {
    out.write(`demo: ${line}\n`);
  };
  const full = isRoot() && existsSync('/dev/net/tun');
  if (!full) {
    say('not running as root: no network namespaces, TUN devices or GRE sockets can be made.');
    say(
      'running what needs no privileges: both routers negotiate PPP (LCP, MS-CHAPv2, IPCP, MPPE) over the',
    );
    say(
      'simulated modem line without TUN devices, and the PPTP client opens its control connection',
    );
    say(
      'and call to the server on loopback; the call stops short of GRE, which needs CAP_NET_RAW.',
    );
    say('Run as root (sudo npm start) for the whole router.');
  }
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'branchlink-demo-'));
  mkdirSync(dir, { recursive: true });
  const cleanups: (() => Promise<void>)[] = [];
  const instances: Instance[] = [];
  let stopping = false;

  const cleanup = async (): Promise<void> => {
    for (const i of instances) if (i.child.exitCode === null) i.child.kill('SIGTERM');
    await Promise.all(
      instances.map(
        (i) =>
          new Promise<void>((resolve) => {
            if (i.child.exitCode !== null) return resolve();
            const t = setTimeout(() => {
              i.child.kill('SIGKILL');
              resolve();
            }, 8000);
            i.child.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
          }),
      ),
    );
    for (const c of cleanups.reverse()) await c().catch(() => {});
  };

  try {
    const sim = await ModemSimulator.start({
      lines: [{ number: '100' }, { number: '200' }],
      ringIntervalMs: 1000,
    });
    cleanups.push(() => sim.stop());
    const { hq, branch, secrets } = configs(dir, sim.paths, full);
    writeJson(join(dir, 'hq.json'), hq);
    writeJson(join(dir, 'branch.json'), branch);
    writeJson(join(dir, 'hq-secrets.json'), secrets, 0o600);
    writeJson(join(dir, 'branch-secrets.json'), secrets, 0o600);

    let hqNs: NetNamespace | undefined;
    let branchNs: NetNamespace | undefined;
    if (full) {
      hqNs = await NetNamespace.create(uniqueName('bl-demo-hq', 32));
      cleanups.push(() => hqNs!.delete());
      branchNs = await NetNamespace.create(uniqueName('bl-demo-br', 32));
      cleanups.push(() => branchNs!.delete());
      const veth: VethPair = await createVethPair(
        { name: uniqueName('blhq'), ns: hqNs, address: `${HQ_WAN}/24` },
        { name: uniqueName('blbr'), ns: branchNs, address: `${BRANCH_WAN}/24` },
      );
      cleanups.push(() => veth.delete());
      say(
        `namespaces ${hqNs.name} and ${branchNs.name}, joined by a veth "broadband" link ${HQ_WAN} ↔ ${BRANCH_WAN}`,
      );
    }
    say(`modem lines: 100 → ${sim.paths['100']}, 200 → ${sim.paths['200']}`);
    say(`files and logs in ${dir}`);

    const [node, base] = selfCommand();
    const start = (name: string, ns: NetNamespace | undefined, leds: boolean): Instance => {
      const config = join(dir, `${name}.json`);
      const socket = join(dir, `${name}.sock`);
      const log = join(dir, `${name}.log`);
      const args = [
        ...base,
        'run',
        '--config',
        config,
        '--socket',
        socket,
        ...(leds ? [] : ['--no-leds']),
        ...(full ? [] : ['--no-tun']),
      ];
      const stdout = openSync(log, 'a');
      const [file, argv] = ns ? ['ip', ['netns', 'exec', ns.name, node, ...args]] : [node, args];
      const child = spawn(file, argv, { stdio: ['ignore', stdout, leds ? 'inherit' : stdout] });
      const instance = { name, socket, child, log };
      instances.push(instance);
      child.once('exit', (code, signal) => {
        if (!stopping) say(`${name} exited (${code ?? signal}); see ${log}`);
      });
      return instance;
    };
    const hqInstance = start('hq', hqNs, false);
    await waitFor(async () => existsSync(hqInstance.socket), 15_000);
    const branchInstance = start('branch', branchNs, !options.headless);
    say(
      `hq and branch routers started; status with: branchlink status --socket ${branchInstance.socket}`,
    );

    const statusOf = async (i: Instance): Promise<StatusReport> =>
      (await callService(i.socket, { command: 'status' })) as StatusReport;
    // Without root only the modem link can reach Network; the PPTP link's status says why not.
    const allUp = async (): Promise<boolean> =>
      (await statusOf(branchInstance)).links
        .filter((l) => full || l.type === 'dialup')
        // Network begins before IPCP has agreed the addresses: wait for those too.
        .every((l) => l.phase === 'network' && l.remoteIp !== null);
    const t0 = Date.now();
    if (await waitFor(allUp, 60_000)) {
      const which = full ? 'every link' : 'the modem link';
      say(
        `${which} of the branch router reached Network in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      );
      if (!full) {
        // Let the PPTP client make its first attempt, so its reason shows in the table.
        await waitFor(
          async () =>
            (await statusOf(branchInstance)).links.some(
              (l) => l.type === 'pptp' && l.lastError !== null,
            ),
          10_000,
        );
      }
      const report = await statusOf(branchInstance);
      out.write(renderStatusTable(report, false));
      if (full && branchNs) {
        for (const link of report.links) {
          if (!link.remoteIp) continue;
          // A link is in Network as soon as IPCP opens; its TUN device follows a moment
          // later. Ask a few times before calling the ping a failure.
          let summary = '';
          for (let attempt = 0; attempt < 5; attempt++) {
            const r = await run('ip', [
              'netns',
              'exec',
              branchNs.name,
              'ping',
              '-c',
              '3',
              '-W',
              '2',
              link.remoteIp,
            ]).catch((e: CommandError) => ({ stdout: e.stdout, stderr: e.stderr }));
            summary =
              r.stdout.split('\n').find((l) => l.includes('packets transmitted')) ??
              r.stderr.trim();
            if (/ 0% packet loss/.test(summary)) break;
            await new Promise((resolve) => setTimeout(resolve, 500));
          }
          say(`ping ${link.remoteIp} across ${link.name}: ${summary}`);
        }
      }
      say('ready');
    } else {
      say('not every link reached Network within 60 s; see the logs');
      out.write(renderStatusTable(await statusOf(branchInstance), false));
    }

    await new Promise<void>((resolve) => {
      const timer =
        options.seconds !== undefined ? setTimeout(resolve, options.seconds * 1000) : undefined;
      const onSignal = (): void => {
        if (timer) clearTimeout(timer);
        resolve();
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      for (const i of instances) i.child.once('exit', () => resolve());
    });
  } finally {
    stopping = true;
    say('stopping');
    await cleanup();
    if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
  }
}
