import { describe, expect, it } from 'vitest';
import { NativeError } from '../../src/net/native.js';
import { checkInterfaceName, TunDevice } from '../../src/net/tun.js';

describe('checkInterfaceName', () => {
  it('accepts names and one %d pattern the kernel accepts', () => {
    for (const good of ['bl0', 'bl%d', 'ppp-branch', 'x'.repeat(15), 'tun_1', '']) {
      expect(checkInterfaceName(good), good).toBeUndefined();
    }
  });

  it('refuses what the kernel would refuse, saying why', () => {
    expect(checkInterfaceName('x'.repeat(16))).toMatch(/longer than 15 bytes/);
    expect(checkInterfaceName('é'.repeat(8))).toMatch(/longer than 15 bytes/);
    expect(checkInterfaceName('.')).toMatch(/not a valid/);
    expect(checkInterfaceName('..')).toMatch(/not a valid/);
    expect(checkInterfaceName('a/b')).toMatch(/'\/', ':' or whitespace/);
    expect(checkInterfaceName('a:b')).toMatch(/whitespace/);
    expect(checkInterfaceName('a b')).toMatch(/whitespace/);
    expect(checkInterfaceName('bl%s')).toMatch(/one '%d'/);
    expect(checkInterfaceName('bl%d%d')).toMatch(/one '%d'/);
  });
});

describe('TunDevice.open without privileges', () => {
  it('rejects a bad name with ERR_BRANCHLINK_BAD_NAME before any system call', () => {
    expect(() => TunDevice.open('bad name')).toThrow(
      expect.objectContaining({ code: 'ERR_BRANCHLINK_BAD_NAME' }),
    );
  });

  it('rejects a read batch outside 1..1024', () => {
    expect(() => TunDevice.open('bl%d', { batch: 0 })).toThrow(RangeError);
    expect(() => TunDevice.open('bl%d', { batch: 2000 })).toThrow(RangeError);
  });

  it('explains a missing TUN device node as a NativeError with code ENOENT', () => {
    try {
      TunDevice.open('bl%d', { devicePath: '/nonexistent/net/tun' });
      expect.unreachable('must fail');
    } catch (error) {
      expect(error).toBeInstanceOf(NativeError);
      expect(error).toMatchObject({ code: 'ENOENT', syscall: 'open' });
      expect((error as Error).message).toMatch(
        /^cannot open \/nonexistent\/net\/tun: no such device — the kernel lacks TUN support/,
      );
    }
  });
});
