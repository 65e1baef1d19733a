/**
 * Issue 8's failover, on real links with short timings, as root: the branch's modem is
 * the backup of its PPTP link (downSeconds 3, upSeconds 3). Hanging up the PPTP link
 * makes the modem dial after 3 s; dialling the PPTP link again makes the modem hang up
 * 3 s after the tunnel is back. A prefix routed through both links follows whichever
 * link carries it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LinkStatus } from '../../src/daemon/status.js';
import { isRoot } from '../../src/net/netns.js';
import { cli, pppInterface, type Router, sleep, waitUntil } from './fixtures/branchlink.js';
import { MODEM_BR, Topology } from './fixtures/two-routers.js';

const DOWN_S = 3;
const UP_S = 3;
/** The service checks failover deadlines once a second. */
const TICK_S = 1;
/** Dial + ring + answer + LCP/CHAP/IPCP, generous for a loaded 2-core machine. */
const NEGOTIATION_S = 10;
const SHARED_ROUTE = '10.96.70.0/24';

async function linkOf(r: Router, name: string): Promise<LinkStatus> {
  const l = (await r.status()).links.find((x) => x.name === name);
  if (!l) throw new Error(`no link ${name}`);
  return l;
}

describe.skipIf(!isRoot())('failover of the PPTP link onto the dial-up backup', () => {
  const t = new Topology({
    failover: { downSeconds: DOWN_S, upSeconds: UP_S },
    sharedRoute: SHARED_ROUTE,
  });
  let br: Router;

  /** The device the kernel would send SHARED_ROUTE's traffic through. */
  async function routeDevice(): Promise<string | undefined> {
    const { stdout } = await t
      .nsBr!.exec('ip', ['-j', 'route', 'get', '10.96.70.5'])
      .catch(() => ({ stdout: '[]' }));
    return (JSON.parse(stdout) as { dev?: string }[])[0]?.dev;
  }

  /** The first `phase ...` log record of a link after index `from` that matches. */
  function phaseRecord(from: number, linkName: string, match: (phase: string) => boolean) {
    const rec = br.records
      .slice(from)
      .find((x) => x.link === linkName && typeof x.phase === 'string' && match(x.phase));
    if (!rec) throw new Error(`no matching phase record of ${linkName}`);
    return rec;
  }

  beforeAll(async () => {
    try {
      await t.start('fo');
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${t.output}`);
    }
    br = t.br!;
  });

  afterAll(async () => {
    await t.teardown();
  });

  it('leaves the backup on-hook while the primary comes up in time', async () => {
    await waitUntil(
      'vpn in network',
      async () => (await linkOf(br, 'vpn')).phase === 'network',
      20_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${t.output}`);
    });
    // Past the downSeconds counted from the service start, and a tick.
    await sleep((DOWN_S + TICK_S) * 1000);
    const modem = await linkOf(br, 'modem');
    expect(modem.phase).toBe('dead');
    expect(modem.nextDialAt).toBeNull();
    expect(br.logs(/dialling the backup/)).toEqual([]);
    const vpnIf = await pppInterface(t.nsBr!, (await linkOf(br, 'vpn')).localIp!);
    expect(await routeDevice()).toBe(vpnIf?.ifname);
  });

  it('dials the backup once the primary has been down for downSeconds, and moves the route to it', async () => {
    const mark = br.records.length;
    const r = await cli(['hangup', 'vpn', '--socket', br.socket]);
    expect(r.code, r.stderr).toBe(0);
    await waitUntil('vpn dead', async () => (await linkOf(br, 'vpn')).phase === 'dead', 10_000);
    // The primary is down from its first phase change out of Network (its own log time).
    const downAt = phaseRecord(mark, 'vpn', (p) => p !== 'network').time;
    const started = await waitUntil(
      'the failover to start the backup',
      () => br.records.find((x) => /primary down: dialling the backup/.test(x.msg)),
      (DOWN_S + TICK_S + 3) * 1000,
      100,
    );
    const afterS = (started.time - downAt) / 1000;
    console.log(`failover: backup dialled ${afterS.toFixed(1)} s after the primary went down`);
    expect(afterS).toBeGreaterThanOrEqual(DOWN_S);
    expect(afterS).toBeLessThanOrEqual(DOWN_S + TICK_S + 1);
    await waitUntil(
      'the backup in network',
      async () => (await linkOf(br, 'modem')).phase === 'network',
      NEGOTIATION_S * 1000,
    );
    const modemIf = await pppInterface(t.nsBr!, MODEM_BR);
    await waitUntil(
      'the route via the backup',
      async () => (await routeDevice()) === modemIf?.ifname,
      5000,
    );
  });

  it('hangs the backup up once the primary has been back for upSeconds; the route moves back', async () => {
    const mark = br.records.length;
    const r = await cli(['dial', 'vpn', '--socket', br.socket]);
    expect(r.code, r.stderr).toBe(0);
    await waitUntil(
      'vpn back in network',
      async () => (await linkOf(br, 'vpn')).phase === 'network',
      NEGOTIATION_S * 1000,
    );
    const upAt = phaseRecord(mark, 'vpn', (p) => p === 'network').time;
    const vpnIf = await pppInterface(t.nsBr!, (await linkOf(br, 'vpn')).localIp!);
    const stopped = await waitUntil(
      'the failover to stop the backup',
      () => br.records.find((x) => /primary back: hanging up the backup/.test(x.msg)),
      (UP_S + TICK_S + 3) * 1000,
      100,
    );
    const afterS = (stopped.time - upAt) / 1000;
    console.log(`failover: backup hung up ${afterS.toFixed(1)} s after the primary came back`);
    expect(afterS).toBeGreaterThanOrEqual(UP_S);
    expect(afterS).toBeLessThanOrEqual(UP_S + TICK_S + 1);
    await waitUntil(
      'the backup dead',
      async () => (await linkOf(br, 'modem')).phase === 'dead',
      10_000,
    );
    expect(await routeDevice()).toBe(vpnIf?.ifname);
    // It stays on-hook: the failover hung it up, and the primary is up.
    await sleep(2000);
    expect((await linkOf(br, 'modem')).phase).toBe('dead');
    expect(br.logs(/cannot add route/)).toEqual([]);
  });

  it('a SIGHUP reload while the primary is up does not dial the backup', async () => {
    expect((await linkOf(br, 'vpn')).phase).toBe('network');
    const mark = br.records.length;
    process.kill(br.pid, 'SIGHUP');
    await waitUntil(
      'the reload',
      () => br.records.slice(mark).find((x) => x.msg === 'configuration reloaded'),
      10_000,
      50,
    );
    await sleep((DOWN_S + TICK_S + 1) * 1000);
    expect(br.records.slice(mark).filter((x) => /dialling the backup/.test(x.msg))).toEqual([]);
    expect((await linkOf(br, 'modem')).phase).toBe('dead');
  });
});
