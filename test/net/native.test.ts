import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CAP_NET_ADMIN_HINT,
  explainGpioError,
  explainNetifError,
  explainTunOpenError,
  loadNativeAddon,
  NativeError,
  native,
  nativeAddonPath,
} from '../../src/net/native.js';

const dir = mkdtempSync(join(tmpdir(), 'blnative-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function systemError(code: string, errno: number, syscall: string): Error {
  return Object.assign(new Error(`${code}: x, ${syscall}`), { code, errno: -errno, syscall });
}

describe('loading the addon', () => {
  it('looks for build/Release/branchlink_native.node at the package root', () => {
    expect(nativeAddonPath()).toBe(
      join(process.cwd(), 'build', 'Release', 'branchlink_native.node'),
    );
  });

  it('explains a missing build with how to build it', () => {
    const missing = join(dir, 'build', 'Release', 'branchlink_native.node');
    expect(() => loadNativeAddon(missing)).toThrow(NativeError);
    expect(() => loadNativeAddon(missing)).toThrow(
      /native addon is not built .*`npx node-gyp rebuild`/,
    );
    try {
      loadNativeAddon(missing);
    } catch (error) {
      expect(error).toMatchObject({ code: 'ERR_BRANCHLINK_NATIVE_MISSING' });
    }
  });

  it('refuses a stale build whose ABI does not match', () => {
    const stale = join(dir, 'stale.cjs');
    writeFileSync(stale, 'module.exports = { abi: 0 };');
    expect(() => loadNativeAddon(stale)).toThrow(
      expect.objectContaining({ code: 'ERR_BRANCHLINK_NATIVE_STALE' }),
    );
  });

  it('wraps a load failure instead of crashing', () => {
    const broken = join(dir, 'broken.cjs');
    writeFileSync(broken, "throw new Error('wrong ELF class');");
    expect(() => loadNativeAddon(broken)).toThrow(/cannot load .*wrong ELF class/);
  });

  it('loads the built addon with every export', () => {
    const addon = native();
    for (const name of [
      'tunOpen',
      'tunWatch',
      'tunUnwatch',
      'tunWatchRef',
      'tunWrite',
      'tunWriteBatch',
      'closeFd',
      'ifSetMtu',
      'ifSetUp',
      'ifSetPointToPoint',
      'ifClearAddress',
      'ifGetInfo',
      'routeAdd',
      'routeDelete',
      'gpioChipInfo',
      'gpioLineInfo',
      'gpioRequestOutputs',
      'gpioSetValues',
      'gpioGetValues',
    ] as const) {
      expect(typeof addon[name], name).toBe('function');
    }
  });
});

describe('addon calls that need no privileges', () => {
  it('throws Node-style system errors with code, errno and syscall', () => {
    try {
      native().tunOpen('bl%d', join(dir, 'no-tun'), true);
      expect.unreachable('opening a missing device node must fail');
    } catch (error) {
      expect(error).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'open' });
      expect((error as Error).message).toBe(
        `ENOENT: no such file or directory, open '${join(dir, 'no-tun')}'`,
      );
    }
  });

  it('reports an unknown interface as ENODEV', () => {
    expect(() => native().ifGetInfo('blnosuch0')).toThrow(
      expect.objectContaining({ code: 'ENODEV' }),
    );
  });

  it('reads the loopback interface through ioctls', () => {
    expect(native().ifGetInfo('lo')).toMatchObject({
      up: true,
      address: '127.0.0.1',
      netmask: '255.0.0.0',
    });
  });

  it('rejects bad arguments with TypeErrors, not crashes', () => {
    const addon = native() as unknown as Record<string, (...args: unknown[]) => unknown>;
    expect(() => addon.tunOpen!(1, '/dev/net/tun', true)).toThrow(TypeError);
    expect(() => addon.tunOpen!('x'.repeat(16), '/dev/net/tun', true)).toThrow(/too long/);
    expect(() => addon.tunOpen!('a\0b', '/dev/net/tun', true)).toThrow(/NUL/);
    expect(() => addon.tunWrite!(1.5, Buffer.alloc(1))).toThrow(/32-bit integer/);
    expect(() => addon.tunWrite!(0, 'text')).toThrow(/Buffer or Uint8Array/);
    expect(() =>
      addon.tunWatch!(
        0,
        0,
        () => {},
        () => {},
      ),
    ).toThrow(/batch/);
    expect(() => addon.routeAdd!('lo', '10.0.0.1', 8, 0)).toThrow(/host bits/);
    expect(() => addon.routeAdd!('lo', 'ten', 8, 0)).toThrow(/not an IPv4 address/);
    expect(() => addon.ifSetMtu!('lo', 20)).toThrow(/between 68 and 65535/);
    expect(() => addon.ifGetInfo!()).toThrow(/expected 1 arguments/);
  });

  it('returns -errno from a write to a bad fd instead of throwing', () => {
    expect(native().tunWrite(-1, Buffer.from([0x45]))).toBe(-9);
    expect(native().tunWriteBatch(-1, [Buffer.from([0x45]), Buffer.from([0x45])])).toEqual([0, 0]);
  });
});

describe('operator-facing explanations', () => {
  it('names CAP_NET_ADMIN for a permission failure on open or TUNSETIFF', () => {
    const open = explainTunOpenError(systemError('EACCES', 13, 'open'), '/dev/net/tun', 'bl%d');
    expect(open.message).toBe(
      `cannot open /dev/net/tun: permission denied — ${CAP_NET_ADMIN_HINT}`,
    );
    expect(open.code).toBe('EACCES');
    expect(open.cause).toBeInstanceOf(Error);
    const ioctl = explainTunOpenError(
      systemError('EPERM', 1, 'ioctl TUNSETIFF'),
      '/dev/net/tun',
      'bl0',
    );
    expect(ioctl.message).toContain(CAP_NET_ADMIN_HINT);
  });

  it('says what a missing TUN device node means', () => {
    const e = explainTunOpenError(systemError('ENOENT', 2, 'open'), '/dev/net/tun', '');
    expect(e.message).toMatch(/no such device — the kernel lacks TUN support/);
  });

  it('explains busy and invalid interface names', () => {
    expect(
      explainTunOpenError(systemError('EBUSY', 16, 'ioctl TUNSETIFF'), '/dev/net/tun', 'bl0')
        .message,
    ).toBe("cannot create TUN interface 'bl0': it is already in use by another process");
    expect(
      explainTunOpenError(systemError('EINVAL', 22, 'ioctl TUNSETIFF'), '/dev/net/tun', 'eth0')
        .message,
    ).toMatch(/invalid name/);
  });

  it('explains interface and route failures', () => {
    expect(
      explainNetifError(systemError('ENODEV', 19, 'ioctl SIOCSIFMTU'), 'set mtu', 'bl9').message,
    ).toBe("cannot set mtu: interface 'bl9' does not exist");
    expect(
      explainNetifError(systemError('EPERM', 1, 'ioctl SIOCADDRT'), 'add route', 'bl0').message,
    ).toContain(CAP_NET_ADMIN_HINT);
    expect(
      explainNetifError(systemError('ENETDOWN', 100, 'ioctl SIOCADDRT'), 'add route', 'bl0')
        .message,
    ).toMatch(/is down/);
  });

  it('explains GPIO failures', () => {
    expect(
      explainGpioError(systemError('ENOENT', 2, 'open'), '/dev/gpiochip0', 'request lines').message,
    ).toMatch(/\/dev\/gpiochip0 does not exist — no GPIO character device/);
    expect(
      explainGpioError(systemError('EBUSY', 16, 'ioctl'), '/dev/gpiochip0', 'request lines')
        .message,
    ).toMatch(/in use by another consumer/);
    expect(
      explainGpioError(systemError('ENOTTY', 25, 'ioctl'), '/dev/null', 'read chip info').message,
    ).toMatch(/is not a GPIO chip/);
  });

  it('keeps non-system errors readable', () => {
    const e = explainNetifError(new Error('odd'), 'configure bl0', 'bl0');
    expect(e.message).toBe('cannot configure bl0: odd');
    expect(e.code).toBe('ERR_BRANCHLINK_NATIVE');
  });
});
