/**
 * PPTP end to end with the real `branchlink` command: a PNS (`branchlink run` with a PPTP
 * server link) in one network namespace and branchlink clients in another, joined by a
 * veth pair this file creates. MS-CHAPv2 + MPPE-128 (the defaults), IPCP, TUN devices,
 * ping and a 10 MB transfer (sha256 compared) across the tunnel; a TCP RST on the PNS's
 * control connection and the client's redial; then 50 clients against the one PNS, each
 * pinging through its own session and TUN. Needs root. Names are unique to this file and
 * run, and torn down in afterAll even on failure.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LinkStatus, StatusReport } from '../../src/daemon/status.js';
import { RouterProcess, statusJson, waitUntil, writeJson } from './pptp/fixtures/router-process.js';

const isRoot = process.getuid?.() === 0;
const tag = (process.pid % 1_000_000).toString(36);
const NS_PNS = `ble2e-pns-${tag}`;
const NS_CLI = `ble2e-cli-${tag}`;
const VETH_PNS = `ve2p${tag}`; // interface names stay under 15 characters
const VETH_CLI = `ve2c${tag}`;
const OCTET = (process.pid % 200) + 20;
const WAN_PNS = `10.216.${OCTET}.1`;
const WAN_CLI = `10.216.${OCTET}.2`;
/** The PNS's own address inside every tunnel; clients get pool addresses. */
const TUNNEL_PNS = `10.217.${OCTET}.1`;
const POOL = `10.217.${OCTET}.10-10.217.${OCTET}.250`;
const SECRET = 'e2e-secret-not-for-production';
const MANY = 50;
const TRANSFER_BYTES = 10 * 1024 * 1024;

function sh(file: string, ...args: string[]): string {
  return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function shQuiet(file: string, ...args: string[]): void {
  try {
    sh(file, ...args);
  } catch {
    // teardown: already gone
  }
}

/** Runs a command inside a namespace; resolves with its exit code and output. */
function nsRun(
  ns: string,
  args: readonly string[],
  timeoutMs = 30_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

interface IpAddr {
  ifname: string;
  flags: string[];
  mtu: number;
  operstate?: string;
  addr_info: { family: string; local: string; address?: string; prefixlen: number }[];
}

function interfaces(ns: string): IpAddr[] {
  return JSON.parse(sh('ip', '-j', '-n', ns, 'addr', 'show')) as IpAddr[];
}

/** The interface of `ns` whose IPv4 local address is `local`. */
function interfaceWith(ns: string, local: string): IpAddr | undefined {
  return interfaces(ns).find((i) =>
    i.addr_info.some((a) => a.family === 'inet' && a.local === local),
  );
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

const pnsConfig = (dir: string) => ({
  name: 'hq',
  board: { profile: 'virtual', render: false },
  secrets: { file: join(dir, 'pns-secrets.json') },
  links: [
    {
      name: 'remote-workers',
      type: 'pptp',
      role: 'server',
      listen: WAN_PNS,
      pool: POOL,
      maxConnections: 200,
      ppp: { require: ['mschap-v2'], localAddress: TUNNEL_PNS },
    },
  ],
});

const clientLink = (name: string, user: string) => ({
  name,
  type: 'pptp',
  role: 'client',
  server: WAN_PNS,
  holdoff: 1,
  ppp: { user, allow: ['mschap-v2'] },
});

const clientConfig = (dir: string, name: string, links: unknown[]) => ({
  name,
  board: { profile: 'virtual', render: false },
  secrets: { file: join(dir, `${name}-secrets.json`) },
  links,
});

const users = ['branch', ...Array.from({ length: MANY }, (_, i) => `worker${i + 1}`)];
const secretsFile = {
  version: 1,
  secrets: users.map((client) => ({ client, server: '*', secret: SECRET, addresses: '*' })),
};

describe.skipIf(!isRoot)('PPTP end to end: branchlink client ↔ branchlink PNS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bl-pptp-e2e-'));
  const routers: RouterProcess[] = [];
  let pns: RouterProcess;
  let branch: RouterProcess | undefined;

  beforeAll(async () => {
    sh('ip', 'netns', 'add', NS_PNS);
    sh('ip', 'netns', 'add', NS_CLI);
    sh('ip', 'link', 'add', VETH_PNS, 'type', 'veth', 'peer', 'name', VETH_CLI);
    sh('ip', 'link', 'set', VETH_PNS, 'netns', NS_PNS);
    sh('ip', 'link', 'set', VETH_CLI, 'netns', NS_CLI);
    sh('ip', '-n', NS_PNS, 'addr', 'add', `${WAN_PNS}/24`, 'dev', VETH_PNS);
    sh('ip', '-n', NS_CLI, 'addr', 'add', `${WAN_CLI}/24`, 'dev', VETH_CLI);
    for (const [ns, dev] of [
      [NS_PNS, VETH_PNS],
      [NS_CLI, VETH_CLI],
    ] as const) {
      sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
      sh('ip', '-n', ns, 'link', 'set', dev, 'up');
    }
    writeJson(join(dir, 'pns-secrets.json'), secretsFile);
    writeJson(join(dir, 'branch-secrets.json'), secretsFile);
    writeJson(join(dir, 'workers-secrets.json'), secretsFile);
    pns = await RouterProcess.start({ name: 'pns', ns: NS_PNS, dir, config: pnsConfig(dir) });
    routers.push(pns);
  });

  afterAll(async () => {
    await Promise.all(routers.map((r) => r.stop(5000).catch(() => r.kill())));
    for (const r of routers) r.kill();
    // Deleting a namespace deletes the veth end and the TUN devices inside it.
    shQuiet('ip', 'netns', 'del', NS_PNS);
    shQuiet('ip', 'netns', 'del', NS_CLI);
    rmSync(dir, { recursive: true, force: true });
  });

  /** The client link of `report` named `name`. */
  const linkOf = (report: StatusReport, name: string): LinkStatus => {
    const l = report.links.find((x) => x.name === name);
    if (l === undefined) throw new Error(`no link ${name} in status`);
    return l;
  };

  it('authenticates with MS-CHAPv2, encrypts with MPPE-128, brings TUNs up and pings across', async () => {
    branch = await RouterProcess.start({
      name: 'branch',
      ns: NS_CLI,
      dir,
      config: clientConfig(dir, 'branch', [clientLink('hq-vpn', 'branch')]),
    });
    routers.push(branch);
    const b = branch;
    await waitUntil(
      'the branch link to reach Network',
      async () => linkOf(await b.status(), 'hq-vpn').phase === 'network',
      30_000,
    ).catch((e: Error) => {
      throw new Error(
        `${e.message}\n--- branch log ---\n${b.log()}\n--- pns log ---\n${pns.log()}`,
      );
    });

    const client = linkOf(await statusJson(b.socket), 'hq-vpn');
    expect(client.authMethod).toBe('mschap-v2');
    expect(client.mppe).toBe('128-bit stateless');
    expect(client.remoteIp).toBe(TUNNEL_PNS);
    const server = linkOf(await statusJson(pns.socket), 'remote-workers');
    expect(server.sessions).toHaveLength(1);
    const session = server.sessions![0]!;
    expect(session).toMatchObject({
      phase: 'network',
      peer: 'branch',
      authMethod: 'mschap-v2',
      mppe: '128-bit stateless',
      localIp: TUNNEL_PNS,
      remoteIp: client.localIp,
      source: WAN_CLI,
    });

    // TUN devices up on both sides, point-to-point with the negotiated addresses.
    const upWith = (ns: string, local: string) => {
      const tun = interfaceWith(ns, local);
      return tun?.flags.includes('UP') ? tun : undefined;
    };
    const clientTun = await waitUntil(
      'the client TUN',
      () => upWith(NS_CLI, client.localIp!),
      5000,
    );
    const serverTun = await waitUntil('the PNS TUN', () => upWith(NS_PNS, TUNNEL_PNS), 5000);
    for (const tun of [clientTun, serverTun]) {
      expect(tun.flags).toContain('POINTOPOINT');
      expect(tun.mtu).toBe(1396); // MRU 1400 less the 4 octets MPPE adds
    }
    expect(clientTun.addr_info.find((a) => a.family === 'inet')?.address).toBe(TUNNEL_PNS);
    expect(serverTun.addr_info.find((a) => a.family === 'inet')?.address).toBe(client.localIp);

    const ping = await nsRun(NS_CLI, ['ping', '-n', '-c', '3', '-i', '0.2', '-W', '2', TUNNEL_PNS]);
    expect(ping.stdout).toMatch(/3 packets transmitted, 3 received/);
    const back = await nsRun(NS_PNS, [
      'ping',
      '-n',
      '-c',
      '3',
      '-i',
      '0.2',
      '-W',
      '2',
      client.localIp!,
    ]);
    expect(back.stdout).toMatch(/3 packets transmitted, 3 received/);
  });

  it('carries 10 MB each way across the tunnel with identical sha256', async () => {
    const b = branch!;
    const client = linkOf(await b.status(), 'hq-vpn');
    const upload = join(dir, 'upload.bin');
    const download = join(dir, 'download.bin');
    writeFileSync(upload, randomBytes(TRANSFER_BYTES));
    writeFileSync(download, randomBytes(TRANSFER_BYTES));
    const cases = [
      // client → PNS: the sink listens on the PNS's tunnel address.
      { sinkNs: NS_PNS, sourceNs: NS_CLI, at: TUNNEL_PNS, file: upload, port: 5001 },
      // PNS → client: the sink listens on the client's tunnel address.
      { sinkNs: NS_CLI, sourceNs: NS_PNS, at: client.localIp!, file: download, port: 5002 },
    ];
    for (const c of cases) {
      const received = `${c.file}.received`;
      const sink = nsRun(
        c.sinkNs,
        ['socat', '-u', `TCP-LISTEN:${c.port},bind=${c.at},reuseaddr`, `CREATE:${received}`],
        60_000,
      );
      const started = Date.now();
      const source = await nsRun(
        c.sourceNs,
        ['socat', '-u', `OPEN:${c.file}`, `TCP:${c.at}:${c.port},retry=50,interval=0.1`],
        60_000,
      );
      expect(source.code, source.stderr).toBe(0);
      const done = await sink;
      expect(done.code, done.stderr).toBe(0);
      const seconds = (Date.now() - started) / 1000;
      process.stderr.write(
        `pptp e2e: 10 MB ${c.sourceNs === NS_CLI ? 'client → PNS' : 'PNS → client'} in ${seconds.toFixed(2)} s (${((TRANSFER_BYTES * 8) / seconds / 1e6).toFixed(1)} Mbit/s)\n`,
      );
      expect(sha256(received)).toBe(sha256(c.file));
    }
    const after = linkOf(await statusJson(b.socket), 'hq-vpn');
    expect(after.bytesOut).toBeGreaterThan(TRANSFER_BYTES);
    expect(after.bytesIn).toBeGreaterThan(TRANSFER_BYTES);
  });

  it('tears the call down on both sides when the PNS control connection is reset, and the client redials', async () => {
    const b = branch!;
    const before = linkOf(await statusJson(pns.socket), 'remote-workers').sessions!;
    expect(before).toHaveLength(1);
    const oldSession = before[0]!.id;

    // SOCK_DESTROY on the PNS's end of TCP 1723: the kernel sends the client an RST.
    const killed = await nsRun(NS_PNS, [
      'ss',
      '-K',
      '-tn',
      'state',
      'established',
      'sport',
      '=',
      ':1723',
    ]);
    expect(killed.code, killed.stderr).toBe(0);
    expect(killed.stdout).toContain(WAN_CLI);

    // Client side: the session goes down with the reset as the reason, a redial is scheduled.
    const down = await waitUntil(
      'the client link to go down',
      async () => {
        const l = linkOf(await b.status(), 'hq-vpn');
        return l.phase !== 'network' && l.lastError !== null ? l : undefined;
      },
      10_000,
      50,
    );
    expect(down.lastError).toMatch(/control connection closed|reset|ECONNRESET/i);
    // Server side: the old session is gone.
    await waitUntil(
      'the PNS to drop the old session',
      async () =>
        !linkOf(await pns.status(), 'remote-workers').sessions!.some((s) => s.id === oldSession),
      10_000,
      50,
    );
    // persist + holdoff 1 s: the client dials again and reaches Network on a new session.
    await waitUntil(
      'the client to redial and reach Network',
      async () => linkOf(await b.status(), 'hq-vpn').phase === 'network',
      20_000,
    );
    const client = linkOf(await statusJson(b.socket), 'hq-vpn');
    expect(client.phase).toBe('network');
    expect(client.lastError).toBeNull();
    expect(client.mppe).toBe('128-bit stateless');
    const sessions = linkOf(await statusJson(pns.socket), 'remote-workers').sessions!;
    expect(sessions).toHaveLength(1);
    expect(sessions[0]!.id).not.toBe(oldSession);
    expect(sessions[0]!.phase).toBe('network');
    expect(pns.log()).toMatch(/control connection from [\d.]+ closed/);
    expect(b.log()).toMatch(/redialling/);
    await waitUntil(
      "the new session's TUN",
      () => interfaceWith(NS_CLI, client.localIp!)?.flags.includes('UP'),
      5000,
    );
    const ping = await nsRun(NS_CLI, ['ping', '-n', '-c', '2', '-i', '0.2', '-W', '2', TUNNEL_PNS]);
    expect(ping.stdout).toMatch(/2 packets transmitted, 2 received/);

    await b.stop();
    await waitUntil(
      'the PNS to see the branch hang up',
      async () => linkOf(await pns.status(), 'remote-workers').sessions!.length === 0,
      10_000,
    );
  });

  it(`serves ${MANY} clients at once, each pinging through its own session and TUN`, async () => {
    const links = Array.from({ length: MANY }, (_, i) => clientLink(`w${i + 1}`, `worker${i + 1}`));
    const workers = await RouterProcess.start({
      name: 'workers',
      ns: NS_CLI,
      dir,
      config: clientConfig(dir, 'workers', links),
    });
    routers.push(workers);
    const started = Date.now();
    const up = await waitUntil(
      `all ${MANY} client links to reach Network`,
      async () => {
        const r = await workers.status();
        // Network begins before IPCP agrees the addresses: wait for those too.
        return r.links.every((l) => l.phase === 'network' && l.remoteIp !== null) ? r : undefined;
      },
      90_000,
      250,
    ).catch(async (e: Error) => {
      const r = await workers.status().catch(() => undefined);
      const stuck = r?.links
        .filter((l) => l.phase !== 'network')
        .map((l) => `${l.name}:${l.phase}:${l.lastError}`);
      throw new Error(`${e.message}; not up: ${JSON.stringify(stuck)}`);
    });
    const refused = (pns.log().match(/refused TCP connection/g) ?? []).length;
    const redials = (workers.log().match(/could not connect/g) ?? []).length;
    process.stderr.write(
      `pptp e2e: ${MANY} clients reached Network in ${((Date.now() - started) / 1000).toFixed(1)} s (PNS refused ${refused} TCP connections over its half-open limit; ${redials} failed dials redialled)\n`,
    );

    // Each session has its own pool address and its own TUN on the client side.
    const locals = up.links.map((l) => l.localIp!);
    expect(new Set(locals).size).toBe(MANY);
    // A TUN device comes up just after IPCP (status says Network first), and the PNS's
    // view of its sessions is read a moment after the clients'.
    const tuns = await waitUntil(
      `a TUN device up for each of the ${MANY} sessions`,
      () => {
        const all = interfaces(NS_CLI);
        const found = locals.map((local) =>
          all.find((i) => i.addr_info.some((a) => a.family === 'inet' && a.local === local)),
        );
        return found.every((t) => t?.flags.includes('UP')) ? found.map((t) => t!) : undefined;
      },
      10_000,
    );
    expect(new Set(tuns.map((t) => t.ifname)).size).toBe(MANY);
    const serverBefore = await waitUntil(
      `${MANY} sessions in Network at the PNS`,
      async () => {
        const sessions = linkOf(await pns.status(), 'remote-workers').sessions!;
        return sessions.filter((s) => s.phase === 'network').length === MANY ? sessions : undefined;
      },
      10_000,
    );
    const packetsBefore = new Map(serverBefore.map((s) => [s.remoteIp, s.packetsIn]));

    // Ping the PNS through every interface (SO_BINDTODEVICE: only that TUN's route).
    const failures: string[] = [];
    for (let i = 0; i < MANY; i += 10) {
      await Promise.all(
        tuns.slice(i, i + 10).map(async (tun) => {
          const r = await nsRun(NS_CLI, [
            'ping',
            '-n',
            '-c',
            '2',
            '-i',
            '0.2',
            '-W',
            '3',
            '-I',
            tun.ifname,
            TUNNEL_PNS,
          ]);
          if (!/2 packets transmitted, 2 received/.test(r.stdout))
            failures.push(`${tun.ifname}: ${r.stdout}${r.stderr}`);
        }),
      );
    }
    expect(failures).toEqual([]);

    // The PNS saw the echo requests on the session that owns each source address.
    const serverAfter = linkOf(await statusJson(pns.socket), 'remote-workers').sessions!;
    expect(serverAfter.filter((s) => s.phase === 'network')).toHaveLength(MANY);
    for (const s of serverAfter) {
      expect(s.packetsIn - (packetsBefore.get(s.remoteIp) ?? 0), s.id).toBeGreaterThanOrEqual(2);
    }
    await workers.stop(15_000);
    await waitUntil(
      'the PNS to see every worker hang up',
      async () => linkOf(await pns.status(), 'remote-workers').sessions!.length === 0,
      15_000,
    );
  });
});
