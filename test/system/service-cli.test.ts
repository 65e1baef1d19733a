/**
 * Issue 8 end to end with the CLI, as root: two `branchlink run` services in network
 * namespaces (hq: PPTP server + answering modem; branch: PPTP client + dialling modem),
 * steered only with the `branchlink` command run as a child process, the way a
 * technician does over SSH. hq runs on a Pi board profile whose GPIO chip does not
 * exist, so every test here also shows that a broken LED board leaves the router
 * routing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LinkStatus, StatusReport } from '../../src/daemon/status.js';
import { isRoot, type NetNamespace, run } from '../../src/net/netns.js';
import {
  addresses,
  cli,
  cliBackground,
  namespacePids,
  ping,
  pppInterface,
  type Router,
  sleep,
  waitUntil,
} from './fixtures/branchlink.js';
import {
  brConfig,
  MODEM_BR,
  MODEM_HQ,
  MODEM_ROUTE,
  Topology,
  VPN_HQ,
  VPN_ROUTE,
} from './fixtures/two-routers.js';

const MISSING_CHIP = '/dev/gpiochip-branchlink-test-missing';

const link = (report: StatusReport, name: string): LinkStatus => {
  const l = report.links.find((x) => x.name === name);
  if (!l) throw new Error(`no link ${name} in ${JSON.stringify(report)}`);
  return l;
};

const phaseOf = async (r: Router, name: string): Promise<string> =>
  link(await r.status(), name).phase;

async function allNetwork(r: Router): Promise<StatusReport | undefined> {
  const s = await r.status();
  // Network begins before IPCP agrees the addresses; a link is up once it has them
  // (a PPTP server has no remote address of its own: its sessions do).
  const up = (l: StatusReport['links'][number]) =>
    l.phase === 'network' && (l.role === 'server' || l.remoteIp !== null);
  return s.links.every(up) ? s : undefined;
}

interface RouteEntry {
  dst: string;
  dev: string;
}

async function routes(ns: NetNamespace): Promise<RouteEntry[]> {
  return ns.ipJson<RouteEntry[]>(['route']);
}

describe.skipIf(!isRoot())('the service and its CLI, end to end in namespaces', () => {
  const t = new Topology({
    hqBoard: { profile: 'rpi', chip: MISSING_CHIP },
    hqModemDebug: true,
  });
  let hq: Router;
  let br: Router;

  beforeAll(async () => {
    try {
      await t.start('svc');
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${t.output}`);
    }
    hq = t.hq!;
    br = t.br!;
  });

  afterAll(async () => {
    await t.teardown();
  });

  it('status --json shows every link of both routers reach network, with the documented fields', async () => {
    await waitUntil('every link of the branch in network', () => allNetwork(br), 30_000).catch(
      (e: Error) => {
        throw new Error(`${e.message}\n${t.output}`);
      },
    );
    const hqReport = await waitUntil('every link of hq in network', () => allNetwork(hq), 10_000);
    const brReport = await br.status();
    expect(brReport.version).toBe(1);
    for (const l of [...brReport.links, ...hqReport.links]) {
      for (const key of ['name', 'type', 'role', 'phase', 'localIp', 'remoteIp', 'peer'])
        expect(l, `${l.name}.${key}`).toHaveProperty(key);
    }
    expect(link(brReport, 'vpn')).toMatchObject({
      type: 'pptp',
      role: 'client',
      phase: 'network',
      remoteIp: VPN_HQ,
      authMethod: 'mschap-v2',
      mppe: expect.stringContaining('128'),
    });
    expect(link(brReport, 'modem')).toMatchObject({
      type: 'dialup',
      role: 'dial',
      phase: 'network',
      localIp: MODEM_BR,
      remoteIp: MODEM_HQ,
      authMethod: 'chap-md5',
      mppe: null,
    });
    const workers = link(hqReport, 'workers');
    expect(workers).toMatchObject({ type: 'pptp', role: 'server', phase: 'network' });
    expect(workers.sessions).toHaveLength(1);
    expect(workers.sessions?.[0]).toMatchObject({
      phase: 'network',
      peer: 'branch',
      localIp: VPN_HQ,
      remoteIp: link(brReport, 'vpn').localIp,
      authMethod: 'mschap-v2',
    });
    expect(typeof workers.sessions?.[0]?.id).toBe('string');
    expect(link(hqReport, 'modem-in')).toMatchObject({
      type: 'dialup',
      role: 'answer',
      phase: 'network',
      peer: 'branch',
      localIp: MODEM_HQ,
      remoteIp: MODEM_BR,
    });
    // The human table names every link and the PNS's session under its link.
    const table = await cli(['status', '--socket', hq.socket]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^workers\s+pptp\/server\s+network/m);
    expect(table.stdout).toContain(`└ ${workers.sessions?.[0]?.id}`);
    expect(table.stdout).toMatch(/^modem-in\s+dialup\/answer\s+network/m);
  });

  it('routes across both links: ping reaches hq through the tunnel and over the modem line', async () => {
    const overVpn = await ping(t.nsBr!, VPN_HQ, { count: 3 });
    expect(overVpn.received, overVpn.output).toBe(3);
    const overModem = await ping(t.nsBr!, MODEM_HQ, { count: 3 });
    expect(overModem.received, overModem.output).toBe(3);
    const table = await routes(t.nsBr!);
    const vpnIf = await pppInterface(t.nsBr!, link(await br.status(), 'vpn').localIp!);
    const modemIf = await pppInterface(t.nsBr!, MODEM_BR);
    expect(table).toContainEqual(expect.objectContaining({ dst: VPN_ROUTE, dev: vpnIf?.ifname }));
    expect(table).toContainEqual(
      expect.objectContaining({ dst: MODEM_ROUTE, dev: modemIf?.ifname }),
    );
  });

  it('a broken LED board (rpi profile, missing GPIO chip) leaves hq routing, with one clear log line', async () => {
    const report = await hq.status();
    expect(report.service.board).toMatchObject({ profile: 'rpi', ok: false });
    expect(report.service.board.error).toEqual(expect.any(String));
    const ledLines = hq.records.filter((r) => /\bLEDs?\b/.test(r.msg) && r.level >= 40);
    expect(ledLines, JSON.stringify(hq.records.filter((r) => /LED/i.test(r.msg)))).toHaveLength(1);
    expect(ledLines[0]?.msg).toMatch(/LEDs disabled: .+; the router keeps running without them/);
    // It routes: both of hq's links carry a session in Network.
    expect(link(report, 'workers').sessions?.some((s) => s.phase === 'network')).toBe(true);
    expect(link(report, 'modem-in').phase).toBe('network');
  });

  it('prints one line and exits non-zero when no service is running', async () => {
    const nobody = join(t.dir, 'nobody.sock');
    for (const args of [
      ['status', '--json'],
      ['dial', 'modem'],
      ['hangup', 'modem'],
      ['sessions', 'kill', 'x-1'],
    ]) {
      const r = await cli([...args, '--socket', nobody]);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stdout).toBe('');
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/not running/);
      expect(lines[0]).toContain(nobody);
    }
  });

  it('hangup takes a link down and keeps it down; dial brings it back; capture writes a pcap tshark reads', async () => {
    const down = await cli(['hangup', 'modem', '--socket', br.socket]);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toBe('hung up modem\n');
    await waitUntil('modem dead', async () => (await phaseOf(br, 'modem')) === 'dead', 10_000);
    await waitUntil(
      'the modem TUN device gone',
      async () => !(await pppInterface(t.nsBr!, MODEM_BR)),
      5000,
    );
    // Stays down: well past the holdoff (1 s), no redial.
    await sleep(3000);
    const still = link(await br.status(), 'modem');
    expect(still.phase).toBe('dead');
    expect(still.nextDialAt).toBeNull();
    expect(link(await br.status(), 'vpn').phase).toBe('network');

    const pcap = join(t.dir, 'modem.pcap');
    const capture = cliBackground([
      'capture',
      'modem',
      '--out',
      pcap,
      '--seconds',
      '6',
      '--socket',
      br.socket,
    ]);
    await waitUntil(
      'the capture to start',
      () => capture.stderr().includes('capturing'),
      10_000,
      50,
    );
    const up = await cli(['dial', 'modem', '--socket', br.socket]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toBe('dialling modem\n');
    await waitUntil(
      'modem back in network',
      async () => (await phaseOf(br, 'modem')) === 'network',
      15_000,
    );
    const again = await ping(t.nsBr!, MODEM_HQ, { count: 2 });
    expect(again.received, again.output).toBe(2);
    const captured = await capture.done;
    expect(captured.code, captured.stderr).toBe(0);
    expect(captured.stderr).toContain('capture stopped');

    expect(existsSync(pcap)).toBe(true);
    const { stdout: protocols } = await run('tshark', [
      '-n',
      '-r',
      pcap,
      '-T',
      'fields',
      '-e',
      'frame.protocols',
    ]);
    const seen = new Set(protocols.split('\n').flatMap((l) => l.split(':')));
    for (const p of ['lcp', 'chap', 'ipcp', 'icmp']) expect([...seen], protocols).toContain(p);
    expect([...seen], protocols).not.toContain('ipv6');
    const { stdout: malformed } = await run('tshark', ['-n', '-r', pcap, '-Y', '_ws.malformed']);
    expect(malformed.trim()).toBe('');
    // Both directions, from the link-type's direction byte.
    const { stdout: dirs } = await run('tshark', [
      '-n',
      '-r',
      pcap,
      '-T',
      'fields',
      '-e',
      'ppp.direction',
    ]);
    expect(new Set(dirs.split('\n').filter((d) => d !== '')).size).toBe(2);
  });

  it('sessions kill ID ends a PPTP server session; the branch redials into a new one', async () => {
    const before = link(await hq.status(), 'workers').sessions ?? [];
    expect(before).toHaveLength(1);
    const id = before[0]!.id;
    const r = await cli(['sessions', 'kill', id, '--socket', hq.socket]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`killed ${id}\n`);
    await waitUntil(
      `session ${id} gone`,
      async () => !(link(await hq.status(), 'workers').sessions ?? []).some((s) => s.id === id),
      10_000,
    );
    expect(hq.logs(/Killed by administrator/).length).toBeGreaterThanOrEqual(1);
    const unknown = await cli(['sessions', 'kill', 'no-such-session', '--socket', hq.socket]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/no session 'no-such-session'/);
    const fresh = await waitUntil(
      'a new session in network',
      async () =>
        (link(await hq.status(), 'workers').sessions ?? []).find(
          (s) => s.phase === 'network' && s.id !== id,
        ),
      20_000,
    );
    expect(fresh.peer).toBe('branch');
    await waitUntil(
      'vpn back in network',
      async () => (await phaseOf(br, 'vpn')) === 'network',
      10_000,
    );
  });

  it('refuses a bad config edit on SIGHUP (links stay up, the log names file and field); a good edit restarts only the changed link', async () => {
    const cfg = brConfig(t.dir, t.sim!, t.options);
    const sessionsStarted = (name: string) =>
      br.records.filter((r) => r.msg === 'starting PPP' && r.link === name).length;
    const modemStarts = sessionsStarted('modem');
    const vpnStarts = sessionsStarted('vpn');

    // A typo'd MRU on the modem link.
    const bad = structuredClone(cfg);
    (bad.links[1]!.ppp as Record<string, unknown>).mru = 5;
    br.writeConfig(bad);
    process.kill(br.pid, 'SIGHUP');
    const refusal = await waitUntil(
      'the refusal in the log',
      () => br.records.find((r) => /configuration edit refused/.test(r.msg)),
      10_000,
      50,
    );
    expect(refusal.file).toBe(br.configPath);
    const fieldLine = br.records.find(
      (r) => r.level >= 50 && r.msg.includes(br.configPath) && r.msg.includes('ppp.mru'),
    );
    expect(fieldLine?.msg, JSON.stringify(br.records.slice(-5))).toMatch(
      /links\[1\] \(link 'modem'\)\.ppp\.mru/,
    );
    await sleep(500);
    expect(await allNetwork(br)).toBeDefined();
    expect(sessionsStarted('modem')).toBe(modemStarts);
    expect(sessionsStarted('vpn')).toBe(vpnStarts);

    // A good edit that changes the vpn link only (a shorter LCP echo interval).
    const good = structuredClone(cfg);
    (good.links[0]!.ppp as Record<string, unknown>).lcpEchoInterval = 20;
    br.writeConfig(good);
    process.kill(br.pid, 'SIGHUP');
    const reloaded = await waitUntil(
      'the reload in the log',
      () => br.records.find((r) => r.msg === 'configuration reloaded'),
      10_000,
      50,
    );
    expect(reloaded.restarted).toEqual(['vpn']);
    expect(reloaded.unchanged).toEqual(['modem']);
    await waitUntil('vpn back in network', () => allNetwork(br), 15_000);
    expect(sessionsStarted('vpn')).toBe(vpnStarts + 1);
    expect(sessionsStarted('modem')).toBe(modemStarts);
  });

  it('SIGTERM stops both services cleanly: no TUN device, no route, no process left behind', async () => {
    const vpnIf = (await pppInterface(t.nsBr!, link(await br.status(), 'vpn').localIp!))?.ifname;
    expect(vpnIf).toBeDefined();
    const mark = hq.records.length;
    const brExit = await br.stop();
    expect(brExit).toEqual({ code: 0, signal: null });
    // hq saw the branch leave: LCP Terminate-Request on the modem line, and a
    // Stop-Control-Connection-Request on the PPTP control connection.
    await waitUntil(
      'hq to see the branch hang up',
      async () => (await hq.status()).links.every((l) => l.phase !== 'network'),
      10_000,
    );
    const since = hq.records.slice(mark);
    expect(
      since.filter((r) => r.link === 'modem-in' && /^rcvd \[LCP TermReq/.test(r.msg)),
    ).not.toEqual([]);
    expect(
      since.filter(
        (r) => r.link === 'workers' && /peer stopped the control connection/.test(r.msg),
      ),
    ).not.toEqual([]);
    const hqExit = await hq.stop();
    expect(hqExit).toEqual({ code: 0, signal: null });
    for (const [ns, router] of [
      [t.nsBr!, br],
      [t.nsHq!, hq],
    ] as const) {
      const links = await ns.ipJson<{ ifname: string; link_type: string }[]>(['link']);
      // Only loopback and the veth end remain; a TUN device has link_type "none".
      expect(links.filter((l) => l.link_type === 'none')).toEqual([]);
      expect(links.map((l) => l.ifname).sort()).toHaveLength(2);
      const left = (await routes(ns)).filter((r) => r.dst.startsWith('10.96.'));
      expect(left).toEqual([]);
      expect(await namespacePids(ns)).toEqual([]);
      expect(existsSync(router.socket)).toBe(false);
      expect(router.records.at(-1)?.msg).toBe('stopped');
    }
    expect((await addresses(t.nsBr!)).some((i) => i.ifname === vpnIf)).toBe(false);
    // No process of ours outside the namespaces either (the sim's socat is the test's own).
    const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
    expect(ps).not.toContain(br.configPath);
    expect(ps).not.toContain(hq.configPath);
  });
});
