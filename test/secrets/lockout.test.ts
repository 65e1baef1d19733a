import { describe, expect, it } from 'vitest';
import { Lockout, type LockoutEvent } from '../../src/secrets/lockout.js';

function clock(start = 1_700_000_000_000) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

describe('Lockout', () => {
  it('engages after the configured number of failures and says until when', () => {
    const c = clock();
    const l = new Lockout({ failures: 3, seconds: 60, now: c.now });
    const events: LockoutEvent[] = [];
    l.on((e) => events.push(e));
    expect(l.recordFailure('alice', '198.51.100.7').locked).toBe(false);
    expect(l.recordFailure('alice', '198.51.100.7').locked).toBe(false);
    const third = l.recordFailure('alice', '198.51.100.7');
    expect(third).toEqual({ locked: true, by: 'peer', key: 'alice', until: c.now() + 60_000 });
    expect(l.check('alice', '203.0.113.1')).toMatchObject({ locked: true, by: 'peer' });
    // The source is locked too (three failures from it).
    expect(l.check('bob', '198.51.100.7')).toMatchObject({
      locked: true,
      by: 'source',
      key: '198.51.100.7',
    });
    expect(events.filter((e) => e.type === 'locked-out')).toEqual([
      {
        type: 'locked-out',
        by: 'peer',
        peer: 'alice',
        source: '198.51.100.7',
        failures: 3,
        until: c.now() + 60_000,
      },
      {
        type: 'locked-out',
        by: 'source',
        peer: 'alice',
        source: '198.51.100.7',
        failures: 3,
        until: c.now() + 60_000,
      },
    ]);
  });

  it('uses 5 failures and 300 seconds by default', () => {
    const c = clock();
    const l = new Lockout({ now: c.now });
    for (let i = 0; i < 4; i++) l.recordFailure('alice', '');
    expect(l.check('alice', '').locked).toBe(false);
    l.recordFailure('alice', '');
    expect(l.check('alice', '')).toMatchObject({ locked: true, until: c.now() + 300_000 });
  });

  it('releases after the configured time, with a release event, and counts afresh', () => {
    const c = clock();
    const l = new Lockout({ failures: 2, seconds: 10, now: c.now });
    const events: LockoutEvent[] = [];
    l.on((e) => events.push(e));
    l.recordFailure('alice', 'tty1');
    l.recordFailure('alice', 'tty1');
    c.advance(9_999);
    expect(l.check('alice', 'tty1').locked).toBe(true);
    c.advance(1);
    expect(l.check('alice', 'tty1').locked).toBe(false);
    expect(
      events
        .filter((e) => e.type === 'lockout-released')
        .map((e) => e.type === 'lockout-released' && e.by),
    ).toEqual(['peer', 'source']);
    // One more failure does not lock again: the count restarted.
    expect(l.recordFailure('alice', 'tty1').locked).toBe(false);
  });

  it('does not extend the lock for attempts made while locked out', () => {
    const c = clock();
    const l = new Lockout({ failures: 1, seconds: 10, now: c.now });
    l.recordFailure('alice', '');
    c.advance(5_000);
    const s = l.recordFailure('alice', '');
    expect(s).toMatchObject({ locked: true, until: c.now() + 5_000 });
  });

  it('a success resets the count of the name and the source', () => {
    const c = clock();
    const l = new Lockout({ failures: 3, seconds: 60, now: c.now });
    l.recordFailure('alice', '10.0.0.1');
    l.recordFailure('alice', '10.0.0.1');
    l.recordSuccess('alice', '10.0.0.1');
    l.recordFailure('alice', '10.0.0.1');
    l.recordFailure('alice', '10.0.0.1');
    expect(l.check('alice', '10.0.0.1').locked).toBe(false);
  });

  it('forgets failures older than the lock duration', () => {
    const c = clock();
    const l = new Lockout({ failures: 3, seconds: 60, now: c.now });
    l.recordFailure('alice', '');
    l.recordFailure('alice', '');
    c.advance(61_000);
    l.recordFailure('alice', '');
    expect(l.check('alice', '').locked).toBe(false);
  });

  it('keeps memory bounded under a flood of names, and the flood does not free a locked peer', () => {
    const c = clock();
    const l = new Lockout({ failures: 2, seconds: 60, maxEntries: 100, now: c.now });
    l.recordFailure('attacker', '');
    l.recordFailure('attacker', '');
    for (let i = 0; i < 10_000; i++) l.recordFailure(`random-${i}`, `198.51.100.${i % 250}`);
    expect(l.size).toBeLessThanOrEqual(200);
    expect(l.check('attacker', '').locked).toBe(true);
  });

  it('sweep releases expired locks and reports the next release time', () => {
    const c = clock();
    const l = new Lockout({ failures: 1, seconds: 30, now: c.now });
    l.recordFailure('a', '');
    c.advance(10_000);
    l.recordFailure('b', '');
    expect(l.nextRelease()).toBe(c.now() + 20_000);
    expect(
      l
        .active()
        .map((x) => x.key)
        .sort(),
    ).toEqual(['a', 'b']);
    c.advance(20_000);
    const released: string[] = [];
    l.on((e) => {
      if (e.type === 'lockout-released') released.push(e.key);
    });
    l.sweep();
    expect(released).toEqual(['a']);
    expect(l.active().map((x) => x.key)).toEqual(['b']);
  });
});
