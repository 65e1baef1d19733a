import { describe, expect, it } from 'vitest';
import { FailoverPolicy } from '../../src/daemon/failover.js';
import { RedialPolicy } from '../../src/daemon/redial.js';

describe('redial (pppd persist/holdoff/maxfail with backoff)', () => {
  it('redials after holdoff, doubling per failed attempt up to the cap', () => {
    const p = new RedialPolicy({
      persist: true,
      holdoffSeconds: 5,
      maxfail: 0,
      backoffMaxSeconds: 60,
    });
    const delays = [1, 2, 3, 4, 5, 6].map(() => {
      const d = p.down(0, false);
      return d.kind === 'dial-at' ? d.at / 1000 : -1;
    });
    expect(delays).toEqual([5, 10, 20, 40, 60, 60]);
  });

  it('starts again from holdoff after a session that reached Network', () => {
    const p = new RedialPolicy({
      persist: true,
      holdoffSeconds: 5,
      maxfail: 0,
      backoffMaxSeconds: 60,
    });
    p.down(0, false);
    p.down(0, false);
    expect(p.down(100_000, true)).toEqual({ kind: 'dial-at', at: 105_000, attempt: 1 });
  });

  it('gives up after maxfail consecutive failures', () => {
    const p = new RedialPolicy({
      persist: true,
      holdoffSeconds: 1,
      maxfail: 3,
      backoffMaxSeconds: 10,
    });
    expect(p.down(0, false).kind).toBe('dial-at');
    expect(p.down(0, false).kind).toBe('dial-at');
    expect(p.down(0, false)).toEqual({
      kind: 'stop',
      reason: '3 consecutive attempts failed (maxfail 3)',
    });
  });

  it('does not redial without persist', () => {
    const p = new RedialPolicy({
      persist: false,
      holdoffSeconds: 1,
      maxfail: 0,
      backoffMaxSeconds: 10,
    });
    expect(p.down(0, true)).toEqual({ kind: 'stop', reason: 'persist is off' });
  });
});

describe('failover of a primary link onto a dial-up backup', () => {
  it('starts the backup after the primary has been down for downSeconds, stops it after upSeconds back', () => {
    const f = new FailoverPolicy({ downSeconds: 30, upSeconds: 60 }, 0);
    expect(f.primary(true, 1_000)).toBeUndefined();
    expect(f.pollTimeout()).toBeUndefined();
    expect(f.primary(false, 10_000)).toBeUndefined();
    expect(f.pollTimeout()).toBe(40_000);
    expect(f.handleTimeout(39_999)).toBeUndefined();
    expect(f.handleTimeout(40_000)).toBe('start-backup');
    expect(f.primary(true, 50_000)).toBeUndefined();
    expect(f.pollTimeout()).toBe(110_000);
    expect(f.handleTimeout(110_000)).toBe('stop-backup');
    expect(f.backupWanted).toBe(false);
  });

  it('keeps the backup when the primary flaps back down before upSeconds', () => {
    const f = new FailoverPolicy({ downSeconds: 10, upSeconds: 60 }, 0);
    expect(f.handleTimeout(10_000)).toBe('start-backup');
    f.primary(true, 20_000);
    f.primary(false, 30_000);
    expect(f.pollTimeout()).toBeUndefined();
    expect(f.handleTimeout(90_000)).toBeUndefined();
    expect(f.backupWanted).toBe(true);
  });

  it('does not start the backup when the primary comes back within downSeconds', () => {
    const f = new FailoverPolicy({ downSeconds: 30, upSeconds: 60 }, 0);
    f.primary(true, 5_000);
    f.primary(false, 100_000);
    f.primary(true, 120_000);
    expect(f.handleTimeout(200_000)).toBeUndefined();
    expect(f.backupWanted).toBe(false);
  });
});
