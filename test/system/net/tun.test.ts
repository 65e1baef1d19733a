/**
 * TunDevice against the real kernel. The device lives in a network namespace this
 * file creates (driven by tun-agent.ts through `ip netns exec`), so addresses and
 * routes never touch the host's tables; traffic stays inside the namespace.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAP_NET_ADMIN_HINT, NativeError, native, nativeStatus } from '../../../src/net/native.js';
import { CommandError, isRoot, NetNamespace, uniqueName } from '../../../src/net/netns.js';
import { TunDevice } from '../../../src/net/tun.js';
import { AgentClient, AgentError } from './fixtures/agent-client.js';
import type { EchoSeen } from './fixtures/tun-agent.js';

const status = nativeStatus();
const skipReason = !isRoot()
  ? 'needs root (network namespaces, TUN)'
  : !existsSync('/dev/net/tun')
    ? 'no /dev/net/tun on this machine'
    : !status.available
      ? status.reason
      : undefined;
const suffix = skipReason === undefined ? '' : ` [skipped: ${skipReason}]`;

interface IpAddrEntry {
  ifname: string;
  mtu: number;
  flags: string[];
  addr_info: { family: string; local: string; address?: string; prefixlen: number }[];
}
interface IpRoute {
  dst: string;
  dev: string;
  metric?: number;
  protocol?: string;
  scope?: string;
}

const LOCAL = '10.201.0.1';
const PEER = '10.201.0.2';

describe.skipIf(skipReason !== undefined)(`TunDevice in a network namespace${suffix}`, () => {
  let ns: NetNamespace;
  let agent: AgentClient;
  let ifname: string;

  beforeAll(async () => {
    ns = await NetNamespace.create(uniqueName('bltun', 32));
    agent = await AgentClient.start(ns);
  });

  afterAll(async () => {
    await agent?.stop();
    await ns?.delete();
  });

  const addrOf = async (): Promise<IpAddrEntry> => {
    const entries = await ns.ipJson<IpAddrEntry[]>(['addr', 'show', 'dev', ifname]);
    expect(entries).toHaveLength(1);
    return entries[0]!;
  };
  const routesOf = (): Promise<IpRoute[]> => ns.ipJson<IpRoute[]>(['route', 'show', 'dev', ifname]);

  it('opens a TUN from a %d pattern and reports the name the kernel chose', async () => {
    const opened = await agent.call<{ name: string; fd: number }>('open', { name: 'blt%d' });
    ifname = opened.name;
    expect(ifname).toBe('blt0');
    expect(opened.fd).toBeGreaterThan(2);
    const entry = await addrOf();
    expect(entry.flags).toContain('POINTOPOINT');
    expect(entry.flags).not.toContain('UP');
  });

  it('configure sets the MTU and /32 point-to-point addresses and brings the interface up', async () => {
    await agent.call('configure', { mtu: 1400, localAddress: LOCAL, remoteAddress: PEER });
    const entry = await addrOf();
    expect(entry.mtu).toBe(1400);
    expect(entry.flags).toContain('UP');
    const inet = entry.addr_info.filter((a) => a.family === 'inet');
    expect(inet).toEqual([expect.objectContaining({ local: LOCAL, address: PEER, prefixlen: 32 })]);
    const routes = await routesOf();
    expect(routes).toContainEqual(expect.objectContaining({ dst: PEER, scope: 'link' }));
    // The ioctl view agrees with iproute2's.
    const info = await agent.call<{
      mtu: number;
      up: boolean;
      address: string;
      peer: string;
      netmask: string;
    }>('info');
    expect(info).toMatchObject({
      mtu: 1400,
      up: true,
      address: LOCAL,
      peer: PEER,
      netmask: '255.255.255.255',
    });
  });

  it('ping -c 3 from the kernel reaches the read callback as echo requests, and the answers come back', async () => {
    await agent.call('startEcho');
    const { stdout } = await ns.exec('ping', [
      '-n',
      '-c',
      '3',
      '-i',
      '0.2',
      '-W',
      '2',
      '-s',
      '56',
      PEER,
    ]);
    expect(stdout).toMatch(/3 packets transmitted, 3 received/);
    const { echoes } = await agent.call<{ echoes: EchoSeen[] }>('echoes');
    expect(echoes).toHaveLength(3);
    for (const [i, e] of echoes.entries()) {
      expect(e).toMatchObject({
        source: LOCAL,
        destination: PEER,
        type: 8,
        code: 0,
        sequence: i + 1,
        dataLength: 56,
        ipChecksumValid: true,
        icmpChecksumValid: true,
        replied: true,
      });
    }
    expect(new Set(echoes.map((e) => e.identifier)).size).toBe(1);
    const counters = await agent.call<{ inPackets: number; outPackets: number; outBytes: number }>(
      'counters',
    );
    expect(counters.inPackets).toBeGreaterThanOrEqual(3);
    expect(counters.outPackets).toBe(3);
    expect(counters.outBytes).toBe(3 * (20 + 8 + 56));
  });

  it('a UDP datagram written to the TUN reaches a socket, and its answer is read back', async () => {
    const result = await agent.call<{
      written: boolean;
      socketReceived: string;
      socketFrom: string;
      socketFromPort: number;
      reply: Record<string, unknown>;
    }>('udpRoundTrip', { payload: 'branchlink-udp-check' });
    expect(result.written).toBe(true);
    expect(result.socketReceived).toBe('branchlink-udp-check');
    expect(result.socketFrom).toBe(PEER);
    expect(result.socketFromPort).toBe(40000);
    expect(result.reply).toMatchObject({
      source: LOCAL,
      destination: PEER,
      ipChecksumValid: true,
      udpChecksumValid: true,
      destinationPort: 40000,
      sourcePort: result.reply.expectedSourcePort,
      payload: 're:branchlink-udp-check',
    });
  });

  it('adds a default route and prefixes through the device, and removes one', async () => {
    await agent.call('addRoute', { prefix: 'default' });
    await agent.call('addRoute', { prefix: '10.77.0.0/16' });
    const routes = await agent.call<string[]>('addRoute', { prefix: '192.0.2.0/24', metric: 50 });
    expect(routes).toEqual(['default', '10.77.0.0/16', '192.0.2.0/24']);
    let table = await routesOf();
    expect(table).toContainEqual(expect.objectContaining({ dst: 'default' }));
    expect(table).toContainEqual(expect.objectContaining({ dst: '10.77.0.0/16' }));
    expect(table).toContainEqual(expect.objectContaining({ dst: '192.0.2.0/24', metric: 50 }));

    await agent.call('removeRoute', { prefix: '10.77.0.0/16' });
    table = await routesOf();
    expect(table.map((r) => r.dst)).not.toContain('10.77.0.0/16');
    expect(table.map((r) => r.dst)).toContain('default');
  });

  it('rejects a prefix with host bits set and names the intended network', async () => {
    const failure = agent.call('addRoute', { prefix: '10.1.2.3/8' });
    await expect(failure).rejects.toMatchObject({ code: 'ERR_BRANCHLINK_BAD_PREFIX' });
    await expect(failure).rejects.toThrow(/did you mean 10\.0\.0\.0\/8/);
  });

  it('keeps its routes across a reconfigure (new MTU)', async () => {
    await agent.call('configure', { mtu: 1300, localAddress: LOCAL, remoteAddress: PEER });
    expect((await addrOf()).mtu).toBe(1300);
    const dsts = (await routesOf()).map((r) => r.dst);
    expect(dsts).toEqual(expect.arrayContaining(['default', '192.0.2.0/24', PEER]));
  });

  it('counts a packet the kernel refuses as a drop instead of throwing', async () => {
    const before = await agent.call<{ outDrops: number }>('counters');
    const result = await agent.call<{ accepted: boolean; counters: { outDrops: number } }>(
      'writeGarbage',
    );
    expect(result.accepted).toBe(false);
    expect(result.counters.outDrops).toBe(before.outDrops + 1);
  });

  it('deconfigure removes its routes and address and takes the interface down', async () => {
    await agent.call('deconfigure');
    const entry = await addrOf();
    expect(entry.flags).not.toContain('UP');
    expect(entry.addr_info.filter((a) => a.family === 'inet')).toEqual([]);
    expect(await routesOf()).toEqual([]);
  });

  it('close deletes the interface', async () => {
    await agent.call('configure', { mtu: 1500, localAddress: LOCAL, remoteAddress: PEER });
    await agent.call('addRoute', { prefix: '10.78.0.0/16' });
    const closed = await agent.call<{ isOpen: boolean }>('close');
    expect(closed.isOpen).toBe(false);
    await expect(ns.ip(['link', 'show', 'dev', ifname])).rejects.toBeInstanceOf(CommandError);
    const all = await ns.ipJson<IpRoute[]>(['route', 'show']);
    expect(all.filter((r) => r.dev === ifname)).toEqual([]);
  });
});

describe.skipIf(skipReason !== undefined)(`TUN errors${suffix}`, () => {
  let ns: NetNamespace;
  beforeAll(async () => {
    ns = await NetNamespace.create(uniqueName('bltunerr', 32));
  });
  afterAll(async () => {
    await ns?.delete();
  });

  it('refuses a bad interface name before reaching the kernel', () => {
    expect(() => TunDevice.open('bad name')).toThrow(NativeError);
    expect(() => TunDevice.open('bad name')).toThrow(/whitespace/);
    expect(() => TunDevice.open('x'.repeat(16))).toThrow(/longer than 15 bytes/);
    expect(() => TunDevice.open('bl%s')).toThrow(/'%d'/);
  });

  it('says EINVAL when the name belongs to an interface that is not a TUN device', () => {
    try {
      TunDevice.open('lo');
      expect.unreachable('opening lo as a TUN must fail');
    } catch (error) {
      expect(error).toMatchObject({ code: 'EINVAL' });
      expect((error as Error).message).toMatch(/is not a TUN device/);
    }
  });

  it('says EBUSY when another open TUN holds the name', () => {
    const first = TunDevice.open(uniqueName('blb'));
    try {
      expect(() => TunDevice.open(first.name)).toThrow(/already in use by another process/);
      try {
        TunDevice.open(first.name);
      } catch (error) {
        expect(error).toMatchObject({ code: 'EBUSY' });
      }
    } finally {
      first.close();
    }
    // Closing released the name.
    const again = TunDevice.open(first.name);
    expect(again.name).toBe(first.name);
    again.close();
  });

  it('explains a missing device node', () => {
    expect(() => TunDevice.open('bl%d', { devicePath: '/nonexistent/net/tun' })).toThrow(
      /cannot open \/nonexistent\/net\/tun: no such device/,
    );
  });

  it('explains a missing interface for configuration calls', () => {
    const dev = TunDevice.open(uniqueName('blm'));
    dev.close();
    expect(() => dev.configure({ mtu: 1500, localAddress: LOCAL, remoteAddress: PEER })).toThrow(
      expect.objectContaining({ code: 'ERR_BRANCHLINK_TUN_CLOSED' }),
    );
    expect(() => dev.info()).toThrow(/does not exist/);
    expect(() => native().ifSetMtu(dev.name, 1400)).toThrow(
      expect.objectContaining({ code: 'ENODEV' }),
    );
  });

  it('without CAP_NET_ADMIN, opening fails with the capability hint', async () => {
    const agent = await AgentClient.start(ns, [
      'setpriv',
      '--bounding-set=-net_admin',
      '--inh-caps=-net_admin',
      '--',
    ]);
    try {
      const failure = agent.call('open', { name: 'blcap%d' });
      await expect(failure).rejects.toBeInstanceOf(AgentError);
      await expect(failure).rejects.toMatchObject({ code: 'EPERM' });
      await expect(failure).rejects.toThrow(CAP_NET_ADMIN_HINT);
    } finally {
      await agent.stop();
    }
  });

  it('as an unprivileged user, opening /dev/net/tun fails with the permission message', async () => {
    const agent = await AgentClient.start(
      ns,
      ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'],
      { env: { ...process.env, HOME: '/tmp' } },
    );
    try {
      const failure = agent.call('open', { name: 'blusr%d' });
      await expect(failure).rejects.toThrow(
        `cannot open /dev/net/tun: permission denied — ${CAP_NET_ADMIN_HINT}`,
      );
    } finally {
      await agent.stop();
    }
  });
});

describe.skipIf(skipReason !== undefined)(`TUN read watcher lifecycle${suffix}`, () => {
  let ns: NetNamespace;
  let agent: AgentClient;
  let ifname: string;
  const peer = '10.201.5.2';

  beforeAll(async () => {
    ns = await NetNamespace.create(uniqueName('bltunlife', 32));
    agent = await AgentClient.start(ns);
    ifname = (await agent.call<{ name: string }>('open', { name: 'bll%d' })).name;
    await agent.call('configure', { mtu: 1500, localAddress: '10.201.5.1', remoteAddress: peer });
  });

  afterAll(async () => {
    await agent?.stop();
    await ns?.delete();
  });

  const pingOnce = async (): Promise<boolean> => {
    try {
      await ns.exec('ping', ['-n', '-c', '1', '-W', '1', peer]);
      return true;
    } catch (error) {
      if (error instanceof CommandError) return false;
      throw error;
    }
  };

  it('a handler that throws becomes an uncaught exception and reading goes on', async () => {
    await agent.call('armThrowOnPacket');
    expect(await pingOnce()).toBe(false);
    const state = await agent.call<{ lastUncaught?: string; packetsSeen: number }>('state');
    expect(state.lastUncaught).toBe('boom from the packet handler');
    expect(state.packetsSeen).toBeGreaterThanOrEqual(1);
    await agent.call('startEcho');
    expect(await pingOnce()).toBe(true);
  });

  it('a worker thread that ends without closing its TUN leaves no interface behind', async () => {
    const result = await agent.call<Record<string, unknown>>('workerLifecycle');
    expect(result).toMatchObject({ existedWhileRunning: true, goneAfterTerminate: true });
  });

  it('closing the device from inside its packet handler is safe and deletes the interface', async () => {
    await agent.call('armCloseOnPacket');
    expect(await pingOnce()).toBe(false);
    const state = await agent.call<{ isOpen: boolean; packetsSeen: number }>('state');
    expect(state.isOpen).toBe(false);
    await expect(ns.ip(['link', 'show', 'dev', ifname])).rejects.toBeInstanceOf(CommandError);
  });
});
