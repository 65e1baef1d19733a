import { describe, expect, it } from 'vitest';
import { AddressPool } from '../../src/daemon/address-pool.js';

describe('address pool', () => {
  it('hands out distinct addresses, skips reserved ones, and runs out', () => {
    const pool = AddressPool.fromRange('10.9.0.1', '10.9.0.4', ['10.9.0.1']);
    expect(pool.size).toBe(3);
    expect([pool.allocate(), pool.allocate(), pool.allocate()]).toEqual([
      '10.9.0.2',
      '10.9.0.3',
      '10.9.0.4',
    ]);
    expect(pool.allocate()).toBeUndefined();
    pool.release('10.9.0.3');
    expect(pool.allocate()).toBe('10.9.0.3');
  });

  it('does not reuse a just-released address while others are free', () => {
    const pool = AddressPool.fromRange('10.0.0.10', '10.0.0.20');
    const a = pool.allocate()!;
    pool.release(a);
    expect(pool.allocate()).not.toBe(a);
  });

  it('claims a specific address once', () => {
    const pool = AddressPool.fromRange('10.0.0.10', '10.0.0.20');
    expect(pool.claim('10.0.0.15')).toBe(true);
    expect(pool.claim('10.0.0.15')).toBe(false);
    expect(pool.inUse).toBe(1);
  });
});
