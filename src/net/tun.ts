/**
 * A TUN device carrying IPv4 between PPP sessions and the kernel.
 *
 * Data path (boringtun style, no EventEmitter): the kernel's packets arrive as one
 * `Buffer[]` per readiness wake-up in the handler given to `onPackets`; `write`
 * is one write(2) per packet that returns whether the kernel took it. Drops are
 * counted, never thrown.
 *
 * Control path: `configure` sets MTU and the point-to-point addresses (what IPCP
 * negotiated) and brings the interface up; `addRoute` / `removeRoute` manage IPv4
 * routes through it; `close` removes everything it added and deletes the interface.
 */
import { formatPrefix, type Ipv4Prefix, parseIpv4, parsePrefix } from './ipv4.js';
import {
  explainNetifError,
  explainTunOpenError,
  type InterfaceInfo,
  isSystemError,
  type NativeAddon,
  NativeError,
  native,
  type SystemError,
  type TunWatchHandle,
} from './native.js';

export const DEFAULT_TUN_DEVICE = '/dev/net/tun';
/** Default interface name pattern: the kernel picks the next free bl0, bl1, … */
export const DEFAULT_TUN_NAME = 'bl%d';
/** Packets read per readiness wake-up before yielding to the event loop. */
export const DEFAULT_READ_BATCH = 64;

export interface TunOpenOptions {
  /** Character device to open; default /dev/net/tun. */
  readonly devicePath?: string;
  /** Packets per read batch (1–1024); default 64. */
  readonly batch?: number;
  /** The addon to use (tests); default the built one. */
  readonly addon?: NativeAddon;
}

export interface TunConfig {
  /** Interface MTU (68–65535): the MRU the peer accepted, usually 1500 or less. */
  readonly mtu: number;
  /** Our address on the link (IPCP's local IP-Address). */
  readonly localAddress: string;
  /** The peer's address (IPCP's remote IP-Address); a /32 route to it comes with it. */
  readonly remoteAddress: string;
}

export interface RouteOptions {
  /** Route metric (0–32766); default 0. Lower wins. */
  readonly metric?: number;
}

/** "in" is kernel → branchlink (read from the TUN), "out" is branchlink → kernel. */
export interface TunCounters {
  inPackets: number;
  inBytes: number;
  outPackets: number;
  outBytes: number;
  /** Packets the kernel did not take (queue full, not IPv4/IPv6, interface down, closed). */
  outDrops: number;
  /** Read failures; reading stops at the first one. */
  readErrors: number;
}

export type PacketHandler = (packets: Buffer[]) => void;
export type TunErrorHandler = (error: NativeError) => void;

/** Validates an interface name or `%d` pattern the way the kernel does (dev_valid_name). */
export function checkInterfaceName(name: string): string | undefined {
  if (Buffer.byteLength(name) > 15) return `'${name}' is longer than 15 bytes`;
  if (name === '.' || name === '..') return `'${name}' is not a valid interface name`;
  if (/[/:\s]/.test(name)) return `'${name}' contains '/', ':' or whitespace`;
  const percent = name.indexOf('%');
  if (percent >= 0 && (name[percent + 1] !== 'd' || name.includes('%', percent + 2))) {
    return `'${name}' may contain one '%d' and no other '%'`;
  }
  return undefined;
}

interface RouteEntry {
  readonly prefix: Ipv4Prefix;
  readonly metric: number;
}

export class TunDevice {
  /** The interface name the kernel gave (the `%d` of a pattern resolved). */
  readonly name: string;
  readonly devicePath: string;
  private readonly addon: NativeAddon;
  private readonly batch: number;
  private fdValue: number;
  private watch: TunWatchHandle | undefined;
  private handler: PacketHandler | undefined;
  private errorHandler: TunErrorHandler | undefined;
  private refed = true;
  private currentConfig: TunConfig | undefined;
  private readonly routeTable = new Map<string, RouteEntry>();
  private readonly c: TunCounters = {
    inPackets: 0,
    inBytes: 0,
    outPackets: 0,
    outBytes: 0,
    outDrops: 0,
    readErrors: 0,
  };
  private lastErrorValue: NativeError | undefined;

  private constructor(
    addon: NativeAddon,
    fd: number,
    name: string,
    devicePath: string,
    batch: number,
  ) {
    this.addon = addon;
    this.fdValue = fd;
    this.name = name;
    this.devicePath = devicePath;
    this.batch = batch;
  }

  /**
   * Creates (or attaches to an existing persistent) TUN interface, IFF_TUN|IFF_NO_PI,
   * non-blocking. `name` is a name or a pattern with `%d`; default 'bl%d'.
   * Throws NativeError: EACCES/EPERM (needs CAP_NET_ADMIN), ENOENT (no /dev/net/tun),
   * EBUSY (in use), EINVAL / ERR_BRANCHLINK_BAD_NAME (bad name).
   */
  static open(name: string = DEFAULT_TUN_NAME, options: TunOpenOptions = {}): TunDevice {
    const problem = checkInterfaceName(name);
    if (problem !== undefined) {
      throw new NativeError('ERR_BRANCHLINK_BAD_NAME', `cannot create TUN interface: ${problem}`);
    }
    const batch = options.batch ?? DEFAULT_READ_BATCH;
    if (!Number.isInteger(batch) || batch < 1 || batch > 1024) {
      throw new RangeError(`TUN read batch must be an integer from 1 to 1024, got ${batch}`);
    }
    const devicePath = options.devicePath ?? DEFAULT_TUN_DEVICE;
    const addon = options.addon ?? native();
    let opened: { fd: number; name: string };
    try {
      opened = addon.tunOpen(name, devicePath, true);
    } catch (error) {
      throw explainTunOpenError(error, devicePath, name);
    }
    return new TunDevice(addon, opened.fd, opened.name, devicePath, batch);
  }

  get fd(): number {
    return this.fdValue;
  }

  get isOpen(): boolean {
    return this.fdValue >= 0;
  }

  /** A snapshot of the counters. */
  get counters(): Readonly<TunCounters> {
    return { ...this.c };
  }

  /** The last read error (reading stopped there), if any. */
  get lastError(): NativeError | undefined {
    return this.lastErrorValue;
  }

  get config(): TunConfig | undefined {
    return this.currentConfig;
  }

  /** Routes this device added, as "a.b.c.d/len" or "default". */
  get routes(): readonly string[] {
    return [...this.routeTable.keys()];
  }

  /**
   * Installs the packet handler and starts reading. Each call of `handler` gets
   * every packet one readiness wake-up read (at most `batch`), in arrival order.
   * Calling again replaces the handler. A read error stops reading and goes to
   * `onError` (and `lastError`).
   */
  onPackets(handler: PacketHandler, onError?: TunErrorHandler): void {
    this.assertOpen('read');
    this.handler = handler;
    this.errorHandler = onError;
    if (this.watch === undefined) {
      this.watch = this.addon.tunWatch(this.fdValue, this.batch, this.deliver, this.readFailed);
      if (!this.refed) this.addon.tunWatchRef(this.watch, false);
    }
  }

  /** Stops reading (packets queue in the kernel, then drop there); `onPackets` resumes. */
  pause(): void {
    if (this.watch !== undefined) {
      this.addon.tunUnwatch(this.watch);
      this.watch = undefined;
    }
  }

  /** Writes one IP packet to the kernel. False (and a counted drop) if it was not taken. */
  write(packet: Uint8Array): boolean {
    if (this.fdValue < 0) {
      this.c.outDrops++;
      return false;
    }
    const n = this.addon.tunWrite(this.fdValue, packet);
    if (n >= 0) {
      this.c.outPackets++;
      this.c.outBytes += n;
      return true;
    }
    this.c.outDrops++;
    return false;
  }

  /** Writes several packets in one native call; returns how many the kernel took. */
  writeBatch(packets: readonly Uint8Array[]): number {
    if (this.fdValue < 0) {
      this.c.outDrops += packets.length;
      return 0;
    }
    const [written, bytes] = this.addon.tunWriteBatch(this.fdValue, packets);
    this.c.outPackets += written;
    this.c.outBytes += bytes;
    this.c.outDrops += packets.length - written;
    return written;
  }

  /**
   * Sets MTU and point-to-point addresses (local, peer, /32) and brings the
   * interface up; the kernel adds the route to the peer. Reconfiguring takes the
   * interface down and up again and re-adds this device's routes.
   */
  configure(config: TunConfig): void {
    this.assertOpen('configure');
    if (!Number.isInteger(config.mtu) || config.mtu < 68 || config.mtu > 65535) {
      throw new RangeError(`MTU must be an integer from 68 to 65535, got ${config.mtu}`);
    }
    for (const [what, text] of [
      ['local address', config.localAddress],
      ['remote address', config.remoteAddress],
    ] as const) {
      const parsed = parseIpv4(text);
      if (!parsed.ok) {
        throw new NativeError('ERR_BRANCHLINK_BAD_ADDRESS', `bad ${what}: ${parsed.error.reason}`);
      }
    }
    const action = `configure ${this.name} (mtu ${config.mtu}, ${config.localAddress} peer ${config.remoteAddress})`;
    try {
      // Addresses are set while down so the kernel installs only the /32 peer
      // route when the interface comes up, never a classful interim prefix.
      if (this.addon.ifGetInfo(this.name).up) this.addon.ifSetUp(this.name, false);
      this.addon.ifSetMtu(this.name, config.mtu);
      this.addon.ifSetPointToPoint(this.name, config.localAddress, config.remoteAddress);
      this.addon.ifSetUp(this.name, true);
    } catch (error) {
      throw explainNetifError(error, action, this.name);
    }
    this.currentConfig = { ...config };
    // Taking the interface down flushed the routes through it: put ours back.
    for (const entry of this.routeTable.values()) {
      try {
        this.installRoute(entry);
      } catch (error) {
        if (!(error instanceof NativeError && error.code === 'EEXIST')) throw error;
      }
    }
  }

  /** Removes this device's routes and address and takes the interface down (kept open). */
  deconfigure(): void {
    this.assertOpen('deconfigure');
    const problems = this.removeEverything();
    if (problems[0] !== undefined) throw problems[0];
  }

  /**
   * Adds an IPv4 route through this interface: "a.b.c.d/len", a bare address (/32)
   * or "default". Needs the interface configured (up, with an address). Adding a
   * route this device already added is a no-op.
   */
  addRoute(prefix: string, options: RouteOptions = {}): void {
    this.assertOpen('add a route');
    const parsed = parsePrefix(prefix);
    if (!parsed.ok) {
      throw new NativeError(
        'ERR_BRANCHLINK_BAD_PREFIX',
        `bad route prefix: ${parsed.error.reason}`,
      );
    }
    const metric = options.metric ?? 0;
    if (!Number.isInteger(metric) || metric < 0 || metric > 32766) {
      throw new RangeError(`route metric must be an integer from 0 to 32766, got ${metric}`);
    }
    const key = formatPrefix(parsed.value);
    if (this.routeTable.has(key)) return;
    const entry = { prefix: parsed.value, metric };
    this.installRoute(entry);
    this.routeTable.set(key, entry);
  }

  /** Removes a route this device added; a route already gone is not an error. */
  removeRoute(prefix: string): void {
    const parsed = parsePrefix(prefix);
    if (!parsed.ok) {
      throw new NativeError(
        'ERR_BRANCHLINK_BAD_PREFIX',
        `bad route prefix: ${parsed.error.reason}`,
      );
    }
    const key = formatPrefix(parsed.value);
    const entry = this.routeTable.get(key);
    if (entry === undefined) return;
    this.routeTable.delete(key);
    if (this.fdValue >= 0) this.deleteRouteQuietly(entry);
  }

  /** Interface state as the kernel reports it (flags, MTU, addresses). */
  info(): InterfaceInfo {
    try {
      return this.addon.ifGetInfo(this.name);
    } catch (error) {
      throw explainNetifError(error, `read the state of ${this.name}`, this.name);
    }
  }

  /** Lets the process exit while the device is still reading. */
  unref(): void {
    this.refed = false;
    if (this.watch !== undefined) this.addon.tunWatchRef(this.watch, false);
  }

  ref(): void {
    this.refed = true;
    if (this.watch !== undefined) this.addon.tunWatchRef(this.watch, true);
  }

  /**
   * Stops reading, removes the routes and address this device added, takes the
   * interface down and closes the fd (which deletes a non-persistent interface).
   * Idempotent; never throws — teardown always completes.
   */
  close(): void {
    if (this.fdValue < 0) return;
    this.pause();
    this.removeEverything();
    try {
      this.addon.closeFd(this.fdValue);
    } catch {
      // The fd is released by the kernel either way.
    }
    this.fdValue = -1;
    this.handler = undefined;
    this.errorHandler = undefined;
  }

  private readonly deliver = (packets: Buffer[]): void => {
    this.c.inPackets += packets.length;
    for (const p of packets) this.c.inBytes += p.length;
    this.handler?.(packets);
  };

  private readonly readFailed = (error: SystemError): void => {
    this.c.readErrors++;
    const explained = new NativeError(
      error.code,
      `reading from TUN interface ${this.name} failed: ${error.message}`,
      { cause: error, syscall: error.syscall },
    );
    this.lastErrorValue = explained;
    this.pause();
    this.errorHandler?.(explained);
  };

  private installRoute(entry: RouteEntry): void {
    const { prefix, metric } = entry;
    try {
      this.addon.routeAdd(this.name, prefix.address, prefix.length, metric);
    } catch (error) {
      throw explainNetifError(
        error,
        `add route ${formatPrefix(prefix)} dev ${this.name} metric ${metric}`,
        this.name,
      );
    }
  }

  private deleteRouteQuietly(entry: RouteEntry): NativeError | undefined {
    const { prefix, metric } = entry;
    try {
      this.addon.routeDelete(this.name, prefix.address, prefix.length, metric);
      return undefined;
    } catch (error) {
      // Gone already: the interface went down or away, which flushes its routes.
      if (isSystemError(error) && (error.code === 'ESRCH' || error.code === 'ENODEV')) {
        return undefined;
      }
      return explainNetifError(
        error,
        `delete route ${formatPrefix(prefix)} dev ${this.name}`,
        this.name,
      );
    }
  }

  /** Best-effort teardown of routes, address and up flag; returns what failed. */
  private removeEverything(): NativeError[] {
    const problems: NativeError[] = [];
    for (const entry of this.routeTable.values()) {
      const problem = this.deleteRouteQuietly(entry);
      if (problem !== undefined) problems.push(problem);
    }
    this.routeTable.clear();
    if (this.currentConfig !== undefined) {
      try {
        this.addon.ifClearAddress(this.name);
      } catch (error) {
        if (
          !(isSystemError(error) && (error.code === 'EADDRNOTAVAIL' || error.code === 'ENODEV'))
        ) {
          problems.push(explainNetifError(error, `remove the address of ${this.name}`, this.name));
        }
      }
      this.currentConfig = undefined;
    }
    try {
      this.addon.ifSetUp(this.name, false);
    } catch (error) {
      if (!(isSystemError(error) && error.code === 'ENODEV')) {
        problems.push(explainNetifError(error, `take ${this.name} down`, this.name));
      }
    }
    return problems;
  }

  private assertOpen(action: string): void {
    if (this.fdValue < 0) {
      throw new NativeError(
        'ERR_BRANCHLINK_TUN_CLOSED',
        `cannot ${action}: TUN interface ${this.name} is closed`,
      );
    }
  }
}
