/**
 * FailoverPolicy resuming from a previous policy's state (a configuration reload):
 * the primary may already be up, and the backup may already be in use.
 */
import { describe, expect, it } from 'vitest';
import { FailoverPolicy } from '../../src/daemon/failover.js';

const config = { downSeconds: 30, upSeconds: 60 };

describe('failover policy resumed after a reload', () => {
  it('with the primary up and the backup idle, never starts the backup', () => {
    const f = new FailoverPolicy(config, 0, { primaryUp: true, backupActive: false });
    expect(f.pollTimeout()).toBeUndefined();
    expect(f.handleTimeout(3_600_000)).toBeUndefined();
    expect(f.backupWanted).toBe(false);
    // It still reacts to the primary going down afterwards.
    expect(f.primary(false, 4_000_000)).toBeUndefined();
    expect(f.handleTimeout(4_030_000)).toBe('start-backup');
  });

  it('with the primary up and the backup in use, hangs the backup up after upSeconds', () => {
    const f = new FailoverPolicy(config, 1_000, { primaryUp: true, backupActive: true });
    expect(f.backupWanted).toBe(true);
    expect(f.pollTimeout()).toBe(61_000);
    expect(f.handleTimeout(60_999)).toBeUndefined();
    expect(f.handleTimeout(61_000)).toBe('stop-backup');
  });

  it('with the primary down and the backup in use, keeps the backup', () => {
    const f = new FailoverPolicy(config, 0, { primaryUp: false, backupActive: true });
    expect(f.pollTimeout()).toBeUndefined();
    expect(f.handleTimeout(3_600_000)).toBeUndefined();
    expect(f.primary(true, 10_000)).toBeUndefined();
    expect(f.handleTimeout(70_000)).toBe('stop-backup');
  });

  it('without a previous state, counts downSeconds from the start (the primary is not up yet)', () => {
    const f = new FailoverPolicy(config, 5_000);
    expect(f.pollTimeout()).toBe(35_000);
    expect(f.handleTimeout(35_000)).toBe('start-backup');
  });
});
