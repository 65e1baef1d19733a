/**
 * Issue 4 end to end, as root: branchlink A dials, branchlink B answers, each a real
 * `branchlink run` process in its own network namespace, joined only by the modem
 * simulator's ptys (the simulator runs in this test process; pty paths are visible in
 * every namespace). CHAP-MD5, IPCP, TUN devices, ping across; then the simulator
 * drops carrier, both sides go Dead, and A redials after its holdoff.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModemSimulator } from '../../scripts/modem-sim/sim.js';
import type { LinkStatus } from '../../src/daemon/status.js';
import { isRoot, NetNamespace, run, uniqueName } from '../../src/net/netns.js';
import {
  cliBackground,
  ping,
  pppInterface,
  Router,
  sleep,
  waitUntil,
  writeSecrets,
} from './fixtures/branchlink.js';

const A_IP = '10.97.0.2';
const B_IP = '10.97.0.1';
const HOLDOFF_S = 2;
/** Generous bound for dial + ring + answer + LCP/CHAP/IPCP on a loaded 2-core machine. */
const NEGOTIATION_BOUND_S = 10;

const linkOf = async (r: Router, name: string): Promise<LinkStatus | undefined> =>
  (await r.status()).links.find((l) => l.name === name);

describe.skipIf(!isRoot())('dial-up end to end: A dials B through the modem simulator', () => {
  let dir: string;
  let sim: ModemSimulator | undefined;
  let nsA: NetNamespace | undefined;
  let nsB: NetNamespace | undefined;
  let a: Router | undefined;
  let b: Router | undefined;
  let firstUpMs = 0;
  let pcap = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bl-dialup-e2e-'));
    pcap = join(dir, 'modem.pcap');
    sim = await ModemSimulator.start({
      lines: [{ number: '100' }, { number: '200' }],
      dir,
      ringIntervalMs: 500,
    });
    nsA = await NetNamespace.create(uniqueName('bl-e2e-dial', 32));
    nsB = await NetNamespace.create(uniqueName('bl-e2e-answer', 32));
    writeSecrets(join(dir, 'a-secrets.json'), 'alice', 'e2e-chap-secret');
    writeSecrets(join(dir, 'b-secrets.json'), 'alice', 'e2e-chap-secret');
    b = await Router.start({
      name: 'b',
      ns: nsB,
      dir,
      config: {
        name: 'router-b',
        board: { profile: 'virtual', render: false },
        secrets: { file: join(dir, 'b-secrets.json') },
        links: [
          {
            name: 'modem-in',
            type: 'dialup',
            role: 'answer',
            device: sim.path('200'),
            answer: { mode: 'ring', rings: 1 },
            ppp: {
              require: ['chap-md5'],
              mppe: [],
              localAddress: B_IP,
              remoteAddress: A_IP,
              lcpEchoInterval: 0,
            },
          },
        ],
      },
    });
    const t0 = Date.now();
    a = await Router.start({
      name: 'a',
      ns: nsA,
      dir,
      config: {
        name: 'router-a',
        board: { profile: 'virtual', render: false },
        secrets: { file: join(dir, 'a-secrets.json') },
        links: [
          {
            name: 'modem',
            type: 'dialup',
            role: 'dial',
            device: sim.path('100'),
            number: '200',
            holdoff: HOLDOFF_S,
            ppp: { user: 'alice', allow: ['chap-md5'], mppe: [], lcpEchoInterval: 0 },
          },
        ],
      },
    });
    await waitUntil(
      'A to reach Network',
      async () => (await linkOf(a!, 'modem'))?.phase === 'network',
      30_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n--- a ---\n${a?.output}\n--- b ---\n${b?.output}`);
    });
    firstUpMs = Date.now() - t0;
    console.log(`dial-up: A reached Network ${(firstUpMs / 1000).toFixed(1)} s after start`);
  });

  afterAll(async () => {
    await a?.kill();
    await b?.kill();
    await nsA?.delete();
    await nsB?.delete();
    await sim?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('authenticates with CHAP-MD5 and assigns the configured addresses with IPCP', async () => {
    const sa = await linkOf(a!, 'modem');
    const sb = await linkOf(b!, 'modem-in');
    expect(sa).toMatchObject({
      type: 'dialup',
      role: 'dial',
      phase: 'network',
      localIp: A_IP,
      remoteIp: B_IP,
      authMethod: 'chap-md5',
      mppe: null,
    });
    await waitUntil(
      'B to reach Network',
      async () => (await linkOf(b!, 'modem-in'))?.phase === 'network',
      10_000,
    );
    expect(await linkOf(b!, 'modem-in')).toMatchObject({
      role: 'answer',
      phase: 'network',
      peer: 'alice',
      localIp: B_IP,
      remoteIp: A_IP,
      authMethod: 'chap-md5',
    });
    expect(sb?.type).toBe('dialup');
  });

  it('brings up a point-to-point TUN device with the PPP addresses in each namespace', async () => {
    const ifA = await waitUntil('the TUN device in A', () => pppInterface(nsA!, A_IP), 5000);
    const ifB = await waitUntil('the TUN device in B', () => pppInterface(nsB!, B_IP), 5000);
    for (const [iface, peer] of [
      [ifA, B_IP],
      [ifB, A_IP],
    ] as const) {
      expect(iface.flags).toEqual(expect.arrayContaining(['POINTOPOINT', 'UP']));
      expect(iface.addr_info).toContainEqual(
        expect.objectContaining({ family: 'inet', address: peer, prefixlen: 32 }),
      );
    }
  });

  it("pings B's PPP address from A's namespace and gets the replies back", async () => {
    const small = await ping(nsA!, B_IP, { count: 10, intervalS: 0.2 });
    expect(small.received, small.output).toBe(10);
    const large = await ping(nsA!, B_IP, { count: 5, intervalS: 0.2, size: 1400 });
    expect(large.received, large.output).toBe(5);
    console.log(
      `dial-up ping RTT over the simulated modem line (ptys): 56 B avg ${small.rtt?.avg} ms (min ${small.rtt?.min}, max ${small.rtt?.max}); 1400 B avg ${large.rtt?.avg} ms (min ${large.rtt?.min}, max ${large.rtt?.max})`,
    );
  });

  it('goes Dead on both sides when the simulator drops carrier, and A redials within holdoff + negotiation', async () => {
    const before = await linkOf(a!, 'modem');
    expect(before?.phase).toBe('network');
    // A capture that spans the drop and the redial: it must keep both sessions' frames.
    const capture = cliBackground(['capture', 'modem', '--out', pcap, '--socket', a!.socket]);
    await waitUntil(
      'the capture to start',
      () => capture.stderr().includes('capturing'),
      10_000,
      50,
    );
    const beforeDrop = await ping(nsA!, B_IP, { count: 2 });
    expect(beforeDrop.received, beforeDrop.output).toBe(2);
    const droppedAt = Date.now();
    expect(sim!.drop('100')).toBe(true);
    // Both see NO CARRIER; A waits its holdoff before dialling again, so Dead is visible.
    const [deadA, deadB] = await Promise.all([
      waitUntil(
        'A to go Dead',
        async () => (await linkOf(a!, 'modem'))?.phase === 'dead',
        HOLDOFF_S * 1000 + 3000,
        100,
      ),
      waitUntil(
        'B to go Dead',
        async () => (await linkOf(b!, 'modem-in'))?.phase === 'dead',
        HOLDOFF_S * 1000 + 3000,
        100,
      ),
    ]);
    expect(deadA && deadB).toBe(true);
    const waiting = await linkOf(a!, 'modem');
    expect(waiting?.localIp).toBeNull();
    await waitUntil(
      'A back in Network',
      async () => (await linkOf(a!, 'modem'))?.phase === 'network',
      (HOLDOFF_S + NEGOTIATION_BOUND_S) * 1000,
      100,
    );
    const recoveredS = (Date.now() - droppedAt) / 1000;
    console.log(
      `dial-up: recovered ${recoveredS.toFixed(1)} s after the carrier drop (holdoff ${HOLDOFF_S} s)`,
    );
    // Not before the holdoff: pppd's holdoff is a pause, not a hint.
    expect(recoveredS).toBeGreaterThanOrEqual(HOLDOFF_S);
    expect(recoveredS).toBeLessThanOrEqual(HOLDOFF_S + NEGOTIATION_BOUND_S);
    expect(a!.logs(/redialling/).length).toBeGreaterThanOrEqual(1);
    await waitUntil(
      'B back in Network',
      async () => (await linkOf(b!, 'modem-in'))?.phase === 'network',
      10_000,
    );
    await sleep(200);
    const again = await ping(nsA!, B_IP, { count: 3 });
    expect(again.received, again.output).toBe(3);

    capture.child.kill('SIGINT');
    const captured = await capture.done;
    expect(captured.code, captured.stderr).toBe(0);
    const { stdout } = await run('tshark', [
      '-n',
      '-r',
      pcap,
      '-T',
      'fields',
      '-e',
      'frame.protocols',
      '-e',
      'ppp.direction',
    ]);
    const frames = stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.split('\t') as [string, string]);
    const firstLcp = frames.findIndex(([p]) => p.endsWith(':lcp'));
    // The first session's pings, then the second session's negotiation and pings.
    expect(firstLcp, stdout).toBeGreaterThan(0);
    expect(frames.slice(0, firstLcp).filter(([p]) => p.includes(':icmp')).length).toBe(4);
    for (const proto of ['lcp', 'chap', 'ipcp'])
      expect(
        frames.some(([p]) => p.endsWith(`:${proto}`)),
        proto,
      ).toBe(true);
    expect(frames.slice(firstLcp).filter(([p]) => p.includes(':icmp')).length, stdout).toBe(6);
    // IPv4 only in protocol 0x0021: the kernel's IPv6 chatter on the TUN stays home.
    expect(
      frames.filter(([p]) => p.includes('ipv6')),
      stdout,
    ).toEqual([]);
    const { stdout: malformed } = await run('tshark', ['-n', '-r', pcap, '-Y', '_ws.malformed']);
    expect(malformed.trim()).toBe('');
  });
});
