/**
 * Loader and typed surface of the native addon (native/*.c, built by node-gyp into
 * build/Release/branchlink_native.node): TUN devices, interface/route ioctls and
 * the GPIO character device, the few system calls Node.js does not expose.
 *
 * Errors from the addon are Node-style system errors (`code` 'EPERM', 'ENOENT', …,
 * negative `errno`, `syscall`). `explainTunError` / `explainNetifError` /
 * `explainGpioError` turn them into a `NativeError` whose message tells an
 * operator what to do.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Bumped with BRANCHLINK_NATIVE_ABI in native/addon.c when an export changes shape. */
export const NATIVE_ABI = 1;

export interface TunOpenResult {
  readonly fd: number;
  /** The name the kernel gave the interface (a `%d` pattern resolved). */
  readonly name: string;
}

/** Opaque handle of a read watcher returned by `tunWatch`. */
export interface TunWatchHandle {
  readonly __tunWatchHandle: never;
}

export interface InterfaceInfo {
  readonly index: number;
  readonly mtu: number;
  /** IFF_* flags (IFF_UP = 0x1, IFF_POINTOPOINT = 0x10, IFF_RUNNING = 0x40). */
  readonly flags: number;
  readonly up: boolean;
  readonly running: boolean;
  readonly pointToPoint: boolean;
  readonly address: string | null;
  readonly peer: string | null;
  readonly netmask: string | null;
}

export interface GpioChipInfo {
  /** Kernel name, e.g. "gpiochip0". */
  readonly name: string;
  /** Driver label, e.g. "pinctrl-bcm2711". */
  readonly label: string;
  readonly lines: number;
}

export interface GpioLineInfo {
  readonly name: string;
  /** Who holds the line ('' when free or unnamed). */
  readonly consumer: string;
  readonly used: boolean;
  readonly output: boolean;
  readonly activeLow: boolean;
}

/** 0 push-pull, 1 open-drain, 2 open-source. */
export type GpioDriveCode = 0 | 1 | 2;

/** A system error as the addon throws it (the shape of Node's fs errors). */
export interface SystemError extends Error {
  readonly code: string;
  /** Negative errno, as in Node's fs errors (-2 for ENOENT). */
  readonly errno: number;
  readonly syscall: string;
  /** The file, interface or route the call was about. */
  readonly subject?: string;
}

/** The addon's exports, one to one. Argument errors throw TypeErrors (ERR_INVALID_ARG_*). */
export interface NativeAddon {
  readonly abi: number;
  /** Opens devicePath, TUNSETIFF IFF_TUN|IFF_NO_PI with name ('' or a `%d` pattern lets the kernel choose). */
  tunOpen(name: string, devicePath: string, nonBlocking: boolean): TunOpenResult;
  /** Starts a readiness watcher: each wake-up reads up to `batch` packets and calls onPackets once. */
  tunWatch(
    fd: number,
    batch: number,
    onPackets: (packets: Buffer[]) => void,
    onError: (error: SystemError) => void,
  ): TunWatchHandle;
  /** Stops a watcher; idempotent. Call before closing the fd. */
  tunUnwatch(handle: TunWatchHandle): void;
  /** Whether the watcher keeps the event loop alive. */
  tunWatchRef(handle: TunWatchHandle, ref: boolean): void;
  /** Writes one packet: bytes written, or -errno (never throws for I/O errors). */
  tunWrite(fd: number, packet: Uint8Array): number;
  /** Writes each packet with its own write(2); returns [packets accepted, bytes accepted]. */
  tunWriteBatch(fd: number, packets: readonly Uint8Array[]): [number, number];
  closeFd(fd: number): void;
  ifSetMtu(name: string, mtu: number): void;
  ifSetUp(name: string, up: boolean): void;
  /** SIOCSIFADDR local, SIOCSIFDSTADDR peer, SIOCSIFNETMASK 255.255.255.255. */
  ifSetPointToPoint(name: string, local: string, peer: string): void;
  /** Removes the primary IPv4 address; EADDRNOTAVAIL when there is none. */
  ifClearAddress(name: string): void;
  ifGetInfo(name: string): InterfaceInfo;
  /** IPv4 route to destination/prefixLength through the interface (no gateway). */
  routeAdd(name: string, destination: string, prefixLength: number, metric: number): void;
  routeDelete(name: string, destination: string, prefixLength: number, metric: number): void;
  gpioChipInfo(chipPath: string): GpioChipInfo;
  gpioLineInfo(chipPath: string, offset: number): GpioLineInfo;
  /** Requests lines as outputs (GPIO_V2_GET_LINE_IOCTL); returns the line-request fd. */
  gpioRequestOutputs(
    chipPath: string,
    offsets: readonly number[],
    consumer: string,
    initialValues: readonly number[],
    activeLow: boolean,
    drive: GpioDriveCode,
  ): number;
  /** values[i] drives the i-th requested line: 1 active, 0 inactive, -1 unchanged. */
  gpioSetValues(lineFd: number, values: readonly number[]): void;
  gpioGetValues(lineFd: number, count: number): number[];
}

/**
 * An operator-facing error from the native layer. `code` is the errno name
 * ('EPERM', 'ENOENT', 'EBUSY', …) or an ERR_BRANCHLINK_* code; `cause` keeps the
 * original system error.
 */
export class NativeError extends Error {
  override readonly name = 'NativeError';
  readonly code: string;
  readonly syscall: string | undefined;

  constructor(code: string, message: string, options?: { cause?: unknown; syscall?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.syscall = options?.syscall;
  }
}

export const CAP_NET_ADMIN_HINT =
  'branchlink needs CAP_NET_ADMIN (run as root or grant the capability)';

export function isSystemError(error: unknown): error is SystemError {
  return (
    error instanceof Error &&
    typeof (error as Partial<SystemError>).code === 'string' &&
    typeof (error as Partial<SystemError>).syscall === 'string'
  );
}

function packageRoot(): string {
  // Works from src/net/ (tsx, vitest) and from dist/src/net/ (compiled): walk up
  // to the package.json that names this package.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      try {
        const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: unknown };
        if (pkg.name === 'branchlink') return dir;
      } catch {
        // An unreadable package.json is not ours; keep walking.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new NativeError(
        'ERR_BRANCHLINK_NATIVE_MISSING',
        `cannot locate the branchlink package root above ${fileURLToPath(import.meta.url)}`,
      );
    }
    dir = parent;
  }
}

/** Where the built addon is expected: <package root>/build/Release/branchlink_native.node. */
export function nativeAddonPath(): string {
  return join(packageRoot(), 'build', 'Release', 'branchlink_native.node');
}

const BUILD_HINT =
  'build it with `npm rebuild branchlink` or `npx node-gyp rebuild` in the package directory ' +
  '(needs make, a C compiler, python3 and the Node.js headers)';

/** Loads an addon file (not cached). Throws NativeError ERR_BRANCHLINK_NATIVE_MISSING / _STALE / _LOAD. */
export function loadNativeAddon(path: string): NativeAddon {
  if (!existsSync(path)) {
    throw new NativeError(
      'ERR_BRANCHLINK_NATIVE_MISSING',
      `branchlink's native addon is not built (${path} is missing): ${BUILD_HINT}`,
    );
  }
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new NativeError(
      'ERR_BRANCHLINK_NATIVE_LOAD',
      `cannot load branchlink's native addon ${path}: ${reason}; rebuild it: ${BUILD_HINT}`,
      { cause },
    );
  }
  if (addon.abi !== NATIVE_ABI) {
    throw new NativeError(
      'ERR_BRANCHLINK_NATIVE_STALE',
      `branchlink's native addon ${path} is stale (ABI ${String(addon.abi)}, expected ${NATIVE_ABI}): ${BUILD_HINT}`,
    );
  }
  return addon;
}

let cached: NativeAddon | undefined;

/** The addon, loaded once. Throws NativeError with a build hint when it is not built. */
export function native(): NativeAddon {
  cached ??= loadNativeAddon(nativeAddonPath());
  return cached;
}

/** Whether the addon loads; the reason when not (for skips and status output). */
export function nativeStatus(): { available: true } | { available: false; reason: string } {
  try {
    native();
    return { available: true };
  } catch (error) {
    return { available: false, reason: error instanceof Error ? error.message : String(error) };
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function codeOf(error: unknown): string {
  return isSystemError(error) ? error.code : 'ERR_BRANCHLINK_NATIVE';
}

function wrap(error: unknown, message: string): NativeError {
  return new NativeError(codeOf(error), message, {
    cause: error,
    ...(isSystemError(error) ? { syscall: error.syscall } : {}),
  });
}

/** Turns a failure of tunOpen into an operator-facing NativeError. */
export function explainTunOpenError(error: unknown, devicePath: string, name: string): NativeError {
  if (!isSystemError(error)) return wrap(error, `cannot open ${devicePath}: ${describe(error)}`);
  const what = name === '' ? 'a TUN interface' : `TUN interface '${name}'`;
  if (error.syscall === 'open') {
    switch (error.code) {
      case 'EACCES':
      case 'EPERM':
        return wrap(error, `cannot open ${devicePath}: permission denied — ${CAP_NET_ADMIN_HINT}`);
      case 'ENOENT':
      case 'ENODEV':
      case 'ENXIO':
        return wrap(
          error,
          `cannot open ${devicePath}: no such device — the kernel lacks TUN support (CONFIG_TUN) ` +
            'or the device node is missing (modprobe tun; in a container, pass --device /dev/net/tun)',
        );
      default:
        return wrap(error, `cannot open ${devicePath}: ${error.message}`);
    }
  }
  switch (error.code) {
    case 'EPERM':
    case 'EACCES':
      return wrap(error, `cannot create ${what}: permission denied — ${CAP_NET_ADMIN_HINT}`);
    case 'EBUSY':
      return wrap(error, `cannot create ${what}: it is already in use by another process`);
    case 'EINVAL':
      return wrap(
        error,
        `cannot create ${what}: invalid name, or an interface that is not a TUN device has that name`,
      );
    case 'ENFILE':
    case 'EMFILE':
      return wrap(error, `cannot create ${what}: too many open files`);
    default:
      return wrap(error, `cannot create ${what}: ${error.message}`);
  }
}

/** Turns a failure of an interface or route ioctl into an operator-facing NativeError. */
export function explainNetifError(error: unknown, action: string, ifname: string): NativeError {
  if (!isSystemError(error)) return wrap(error, `cannot ${action}: ${describe(error)}`);
  switch (error.code) {
    case 'EPERM':
    case 'EACCES':
      return wrap(error, `cannot ${action}: permission denied — ${CAP_NET_ADMIN_HINT}`);
    case 'ENODEV':
    case 'ENXIO':
      return wrap(error, `cannot ${action}: interface '${ifname}' does not exist`);
    case 'EEXIST':
      return wrap(error, `cannot ${action}: the route already exists`);
    case 'ESRCH':
      return wrap(error, `cannot ${action}: no such route`);
    case 'ENETDOWN':
    case 'ENETUNREACH':
      return wrap(error, `cannot ${action}: interface '${ifname}' is down or has no IPv4 address`);
    case 'EADDRNOTAVAIL':
      return wrap(error, `cannot ${action}: interface '${ifname}' has no IPv4 address`);
    default:
      return wrap(error, `cannot ${action}: ${error.message}`);
  }
}

/** Turns a failure of a GPIO call into an operator-facing NativeError. */
export function explainGpioError(error: unknown, chipPath: string, action: string): NativeError {
  if (!isSystemError(error))
    return wrap(error, `cannot ${action} on ${chipPath}: ${describe(error)}`);
  switch (error.code) {
    case 'ENOENT':
    case 'ENODEV':
    case 'ENXIO':
      return wrap(
        error,
        `cannot ${action}: ${chipPath} does not exist — no GPIO character device ` +
          '(kernel without CONFIG_GPIO_CDEV, or another chip number on this board)',
      );
    case 'EACCES':
    case 'EPERM':
      return wrap(
        error,
        `cannot ${action} on ${chipPath}: permission denied — run as root or add the user to the gpio group`,
      );
    case 'EBUSY':
      return wrap(error, `cannot ${action} on ${chipPath}: a line is in use by another consumer`);
    case 'EINVAL':
      return wrap(
        error,
        `cannot ${action} on ${chipPath}: a line offset is out of range or the configuration is invalid`,
      );
    case 'ENOTTY':
      return wrap(error, `cannot ${action}: ${chipPath} is not a GPIO chip`);
    default:
      return wrap(error, `cannot ${action} on ${chipPath}: ${error.message}`);
  }
}
