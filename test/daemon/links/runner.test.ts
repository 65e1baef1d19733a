/**
 * The redial supervision of dialling links (DialingRunner) on virtual time: a fake
 * medium whose connect() fails, and vitest's fake timers (Date included), so the
 * seconds of holdoff and backoff pass in microseconds.
 */
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type PptpClientLinkConfig, validateConfig } from '../../../src/daemon/config.js';
import { DialingRunner } from '../../../src/daemon/links/runner.js';
import type { LinkHost } from '../../../src/daemon/links/session-host.js';
import type { PppLink } from '../../../src/runtime/link.js';

const T0 = Date.UTC(2030, 0, 1);

function linkConfig(overrides: Record<string, unknown>): PptpClientLinkConfig {
  const r = validateConfig(
    {
      links: [
        {
          name: 'vpn',
          type: 'pptp',
          role: 'client',
          server: '192.0.2.1',
          ppp: { user: 'branch', mppe: [] },
          ...overrides,
        },
      ],
    },
    'test.json',
  );
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value.links[0] as PptpClientLinkConfig;
}

const host: LinkHost = {
  ourName: 'test',
  log: pino({ level: 'silent' }),
  authenticator: { authenticate: async () => ({ ok: false, reason: 'unused' }) } as never,
  credentialsFor: () => undefined,
  ipFactory: () => undefined,
  onSessionEvent: () => {},
};

/** A medium that never connects: each attempt fails at once, or hangs until aborted. */
class FailingRunner extends DialingRunner {
  protected readonly async = false;
  protected readonly endpoint = 'nowhere';
  /** Virtual time (ms since T0) of every connect() call. */
  readonly calls: number[] = [];
  readonly signals: AbortSignal[] = [];
  hang = false;

  protected connect(signal: AbortSignal): Promise<PppLink> {
    this.calls.push(Date.now() - T0);
    this.signals.push(signal);
    if (!this.hang) return Promise.reject(new Error('no answer from 192.0.2.1'));
    return new Promise((_, reject) =>
      signal.addEventListener('abort', () => reject(new Error('cancelled'))),
    );
  }
}

const seconds = (ms: number[]): number[] => ms.map((m) => m / 1000);

describe('DialingRunner redial timing (pppd persist / holdoff / maxfail) on virtual time', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('dials at start, then after holdoff, 2×, 4×, ... holdoff, capped at backoffMax', async () => {
    const r = new FailingRunner(linkConfig({ holdoff: 5, backoffMax: 40 }), host);
    r.start();
    await vi.advanceTimersByTimeAsync(300_000);
    // Gaps 5, 10, 20, 40, then 40 s for ever (the cap).
    const gaps = r.calls.slice(1).map((t, i) => (t - r.calls[i]!) / 1000);
    expect(seconds(r.calls.slice(0, 6))).toEqual([0, 5, 15, 35, 75, 115]);
    expect(gaps.slice(0, 4)).toEqual([5, 10, 20, 40]);
    expect(new Set(gaps.slice(3))).toEqual(new Set([40]));
    await r.stop('test over');
  });

  it('reports the failure and when it dials next while it waits', async () => {
    const r = new FailingRunner(linkConfig({ holdoff: 5, backoffMax: 40 }), host);
    r.start();
    await vi.advanceTimersByTimeAsync(0);
    const s = r.status();
    expect(s.phase).toBe('dead');
    expect(s.lastError).toBe('no answer from 192.0.2.1');
    expect(s.nextDialAt).toBe(new Date(T0 + 5000).toISOString());
    await r.stop('test over');
  });

  it('stops redialling on hangup, and dial resumes at once with the backoff reset to holdoff', async () => {
    const r = new FailingRunner(linkConfig({ holdoff: 5, backoffMax: 40 }), host);
    r.start();
    await vi.advanceTimersByTimeAsync(36_000); // attempts at 0, 5, 15, 35; next at 75
    expect(seconds(r.calls)).toEqual([0, 5, 15, 35]);
    await r.hangup();
    expect(r.status().nextDialAt).toBeNull();
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(r.calls).toHaveLength(4);

    r.dial(); // at 3636 s
    expect(seconds(r.calls).at(-1)).toBe(3636);
    await vi.advanceTimersByTimeAsync(16_000);
    // Failures forgotten: 5 s, then 10 s, as after a fresh start.
    expect(seconds(r.calls.slice(4))).toEqual([3636, 3641, 3651]);
    await r.stop('test over');
  });

  it('hangup during a connect attempt aborts it and does not redial', async () => {
    const r = new FailingRunner(linkConfig({ holdoff: 1, backoffMax: 4 }), host);
    r.hang = true;
    r.start();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(r.calls).toEqual([0]);
    await r.hangup();
    await vi.advanceTimersByTimeAsync(0);
    expect(r.signals[0]?.aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(r.calls).toEqual([0]);
    expect(r.status().lastError).toBeNull();
    await r.stop('test over');
  });

  it('gives up after maxfail consecutive failures; dial starts again', async () => {
    const r = new FailingRunner(linkConfig({ holdoff: 2, backoffMax: 8, maxfail: 3 }), host);
    r.start();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(seconds(r.calls)).toEqual([0, 2, 6]);
    expect(r.status().nextDialAt).toBeNull();
    r.dial();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(seconds(r.calls)).toEqual([0, 2, 6, 600, 602, 606]);
    await r.stop('test over');
  });

  it('does not redial with persist off', async () => {
    const r = new FailingRunner(linkConfig({ holdoff: 1, persist: false }), host);
    r.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(r.calls).toEqual([0]);
    await r.stop('test over');
  });

  it('a backup link does not dial at start: it waits for the failover to call dial()', async () => {
    const r = new FailingRunner(linkConfig({ holdoff: 1 }), host);
    // backupFor is only valid on a dial-up link in the config; the runner only reads it.
    Object.assign(r.config, { backupFor: 'primary' });
    r.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(r.calls).toEqual([]);
    r.dial();
    expect(r.calls).toEqual([60_000]);
    await r.stop('test over');
  });

  it('stop ends the supervision for good: dial after stop does nothing', async () => {
    const r = new FailingRunner(linkConfig({ holdoff: 1 }), host);
    r.start();
    await vi.advanceTimersByTimeAsync(500);
    await r.stop('shutting down');
    r.dial();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(r.calls).toEqual([0]);
  });
});
