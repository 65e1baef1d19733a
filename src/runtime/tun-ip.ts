/**
 * The IP side of a session on a real TUN device: opened when IPCP comes up with
 * the negotiated addresses and MTU, routes added, packets pumped both ways; closed
 * (addresses and routes removed, device deleted) when IPCP goes down.
 */
import { TunDevice } from '../net/tun.js';
import type { IpInterface, IpInterfaceFactory, IpUp } from './session-driver.js';

export interface TunIpOptions {
  /** Interface name or pattern (`bl%d` lets the kernel pick). */
  readonly name?: string;
  /** MTU to use instead of the peer's MRU (pppd `mtu`). Never above the peer's MRU. */
  readonly mtu?: number;
  /** Route everything through this link (pppd `defaultroute`). */
  readonly defaultRoute?: boolean;
  /** Further prefixes routed through this link. */
  readonly routes?: readonly string[];
  /** Route metric: a backup link's routes yield to its primary's (lower wins). */
  readonly metric?: number;
  /** Called with the interface name once it is up (status, logs). */
  readonly onUp?: (name: string, up: IpUp) => void;
  /** Called when a route cannot be added; the interface stays up. */
  readonly onRouteError?: (prefix: string, error: Error) => void;
}

/**
 * Only IPv4 crosses the link: PPP protocol 0x0021 carries IPv4 (RFC 1332 §3), and IPv6
 * would need its own protocol number and IPV6CP (RFC 5072), which branchlink does not
 * negotiate. The kernel still sends IPv6 (MLD, router solicitations) to a TUN device,
 * and an IFF_NO_PI device takes a packet's family from its version nibble, so both
 * directions are filtered here.
 */
function isIpv4(packet: Buffer): boolean {
  return packet.length > 0 && packet[0]! >> 4 === 4;
}

/** MPPE adds 4 octets (header + protocol) to every packet. */
const MPPE_OVERHEAD = 4;

export function tunIpFactory(options: TunIpOptions = {}): IpInterfaceFactory {
  return async (up: IpUp): Promise<IpInterface> => {
    const tun = TunDevice.open(options.name ?? 'bl%d');
    try {
      const mtu = Math.min(options.mtu ?? up.mtu, up.mtu) - MPPE_OVERHEAD;
      tun.configure({ mtu, localAddress: up.localAddress, remoteAddress: up.remoteAddress });
      const routes = [...(options.defaultRoute ? ['default'] : []), ...(options.routes ?? [])];
      for (const prefix of routes) {
        try {
          tun.addRoute(prefix, { metric: options.metric ?? 0 });
        } catch (e) {
          options.onRouteError?.(prefix, e instanceof Error ? e : new Error(String(e)));
        }
      }
      tun.onPackets((packets) => {
        for (const p of packets) if (isIpv4(p)) up.send(p);
      });
      options.onUp?.(tun.name, up);
    } catch (e) {
      tun.close();
      throw e;
    }
    return {
      write: (packet) => {
        if (isIpv4(packet)) tun.write(packet);
      },
      close: async () => tun.close(),
    };
  };
}
