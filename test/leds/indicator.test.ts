import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/leds/clock.js';
import type { LedDriver } from '../../src/leds/driver.js';
import { LedIndicator } from '../../src/leds/indicator.js';
import { LED_PATTERNS } from '../../src/leds/patterns.js';
import { patternTimeline, transitions } from '../../src/leds/timeline.js';
import type { Phase, SessionEvent } from '../../src/ppp/events.js';
import { PHASES } from '../../src/ppp/events.js';
import { PIN, recordingLog, virtualRig } from './helpers.js';

const phase = (p: Phase, previous: Phase = 'dead'): SessionEvent => ({
  type: 'phase',
  phase: p,
  previous,
});
const success: SessionEvent = {
  type: 'auth-success',
  role: 'authenticator',
  method: 'mschap-v2',
  peerName: 'alice',
};
const failure: SessionEvent = {
  type: 'auth-failure',
  role: 'authenticator',
  method: 'chap-md5',
  peerName: 'mallory',
  reason: 'bad secret',
};

describe('LedIndicator start and heartbeat', () => {
  it('writes every LED once on start: power lit, links and auth dark', async () => {
    const rig = await virtualRig();
    rig.mark();
    rig.indicator.start();
    expect(rig.io.writes.map((w) => [w.at - 10_000, w.pin, w.value])).toEqual([
      [0, PIN.power, 1],
      [0, PIN.dialup, 0],
      [0, PIN.vpn, 0],
      [0, PIN.auth, 0],
    ]);
  });

  it('blinks the power LED 100 ms every second', async () => {
    const rig = await virtualRig();
    rig.mark();
    rig.indicator.start();
    rig.clock.advance(3000);
    expect(rig.seq('power')).toEqual([
      [0, 1],
      [100, 0],
      [1000, 1],
      [1100, 0],
      [2000, 1],
      [2100, 0],
      [3000, 1],
    ]);
  });
});

describe('LedIndicator link phases (exact pin writes)', () => {
  async function started() {
    const rig = await virtualRig();
    rig.indicator.start();
    rig.clock.advance(10);
    rig.mark();
    return rig;
  }

  it('Dead to Establish: slow blink at 1 Hz', async () => {
    const rig = await started();
    rig.indicator.onSessionEvent('dialup', 's1', phase('establish'));
    rig.clock.advance(2000);
    expect(rig.seq('dialup')).toEqual([
      [0, 1],
      [500, 0],
      [1000, 1],
      [1500, 0],
      [2000, 1],
    ]);
    expect(rig.seq('vpn')).toEqual([]);
    expect(rig.seq('auth')).toEqual([]);
  });

  it('Establish to Authenticate: fast blink at 4 Hz from the moment of the change', async () => {
    const rig = await started();
    rig.indicator.onSessionEvent('dialup', 's1', phase('establish'));
    rig.clock.advance(700);
    rig.mark();
    rig.indicator.onSessionEvent('dialup', 's1', phase('authenticate', 'establish'));
    rig.clock.advance(500);
    expect(rig.seq('dialup')).toEqual([
      [0, 1],
      [125, 0],
      [250, 1],
      [375, 0],
      [500, 1],
    ]);
  });

  it('Authenticate to Network: steady on, no further writes', async () => {
    const rig = await started();
    rig.indicator.onSessionEvent('dialup', 's1', phase('authenticate', 'establish'));
    rig.clock.advance(400);
    rig.mark();
    rig.indicator.onSessionEvent('dialup', 's1', phase('network', 'authenticate'));
    rig.clock.advance(5000);
    expect(rig.seq('dialup')).toEqual([[0, 1]]);
  });

  it('Network to Terminate: dark gap, double flash, then off; Dead right after does not cut it', async () => {
    const rig = await started();
    rig.indicator.onSessionEvent('dialup', 's1', phase('network', 'authenticate'));
    rig.clock.advance(1000);
    rig.mark();
    rig.indicator.onSessionEvent('dialup', 's1', phase('terminate', 'network'));
    rig.clock.advance(20);
    rig.indicator.onSessionEvent('dialup', 's1', phase('dead', 'terminate'));
    rig.clock.advance(5000);
    expect(rig.seq('dialup')).toEqual([
      [0, 0],
      [150, 1],
      [270, 0],
      [390, 1],
      [510, 0],
    ]);
    expect(rig.indicator.state().sessions.dialup).toBe(0);
  });

  it('Establish to Dead (carrier lost): off at once', async () => {
    const rig = await started();
    rig.indicator.onSessionEvent('dialup', 's1', phase('establish'));
    rig.clock.advance(200);
    rig.indicator.onSessionEvent('dialup', 's1', phase('dead', 'establish'));
    rig.clock.advance(3000);
    expect(rig.seq('dialup')).toEqual([
      [0, 1],
      [200, 0],
    ]);
  });

  it.each(PHASES.filter((p) => p !== 'dead'))(
    'from Dead, %s shows exactly its pattern of the table',
    async (p) => {
      const rig = await started();
      rig.indicator.onSessionEvent('vpn', 'c1', phase(p));
      rig.clock.advance(3000);
      const all = transitions(patternTimeline(LED_PATTERNS.vpn[p], 3001));
      // The LED was dark already: a pattern opening dark writes nothing at 0.
      const expected = (all[0]?.level === 0 ? all.slice(1) : all).map((t) => [t.at, t.level]);
      expect(rig.seq('vpn')).toEqual(expected);
    },
  );
});

describe('LedIndicator auth outcomes (exact pin writes)', () => {
  async function started() {
    const rig = await virtualRig();
    rig.indicator.start();
    rig.clock.advance(10);
    rig.mark();
    return rig;
  }

  it('success: one long flash, then off', async () => {
    const rig = await started();
    rig.indicator.onSessionEvent('vpn', 'c1', success);
    rig.clock.advance(5000);
    expect(rig.seq('auth')).toEqual([
      [150, 1],
      [1650, 0],
    ]);
    expect(rig.indicator.state().auth).toBe('idle');
  });

  it('failure: three quick flashes, then stays on until the next success', async () => {
    const rig = await started();
    rig.indicator.onSessionEvent('dialup', 's1', failure);
    rig.clock.advance(10_000);
    expect(rig.seq('auth')).toEqual([
      [150, 1],
      [250, 0],
      [400, 1],
      [500, 0],
      [650, 1],
      [750, 0],
      [1250, 1],
    ]);
    expect(rig.indicator.state().auth).toBe('failed');
    rig.mark();
    rig.indicator.onSessionEvent('vpn', 'c2', success);
    rig.clock.advance(5000);
    expect(rig.seq('auth')).toEqual([
      [0, 0],
      [150, 1],
      [1650, 0],
    ]);
    expect(rig.indicator.state().auth).toBe('idle');
  });

  it('a second failure while on replays the flashes after a dark gap', async () => {
    const rig = await started();
    rig.indicator.onSessionEvent('dialup', 's1', failure);
    rig.clock.advance(2000);
    rig.mark();
    rig.indicator.onSessionEvent('dialup', 's1', failure);
    rig.clock.advance(2000);
    expect(rig.seq('auth')).toEqual([
      [0, 0],
      [150, 1],
      [250, 0],
      [400, 1],
      [500, 0],
      [650, 1],
      [750, 0],
      [1250, 1],
    ]);
  });

  it('lockout: three long flashes, then on', async () => {
    const rig = await started();
    rig.indicator.onLockout('mallory');
    rig.clock.advance(10_000);
    expect(rig.seq('auth')).toEqual([
      [150, 1],
      [650, 0],
      [900, 1],
      [1400, 0],
      [1650, 1],
      [2150, 0],
      [2650, 1],
    ]);
    expect(rig.indicator.state().auth).toBe('failed');
  });

  it('config refused: short-long twice, then back to dark when idle', async () => {
    const rig = await started();
    rig.indicator.onConfigRefused();
    rig.clock.advance(10_000);
    expect(rig.seq('auth')).toEqual([
      [150, 1],
      [250, 0],
      [450, 1],
      [1150, 0],
      [1450, 1],
      [1550, 0],
      [1750, 1],
      [2450, 0],
    ]);
    expect(rig.indicator.state().auth).toBe('idle');
  });

  it('config refused after a failure: back to steady on', async () => {
    const rig = await started();
    rig.indicator.onSessionEvent('dialup', 's1', failure);
    rig.clock.advance(2000);
    rig.mark();
    rig.indicator.onConfigRefused();
    rig.clock.advance(10_000);
    expect(rig.seq('auth')).toEqual([
      [0, 0],
      [150, 1],
      [250, 0],
      [450, 1],
      [1150, 0],
      [1450, 1],
      [1550, 0],
      [1750, 1],
      [2450, 0],
      [2950, 1],
    ]);
    expect(rig.indicator.state().auth).toBe('failed');
  });

  it('auth outcomes leave the link LEDs alone', async () => {
    const rig = await started();
    rig.indicator.onSessionEvent('dialup', 's1', failure);
    rig.indicator.onLockout('x');
    rig.indicator.onConfigRefused();
    rig.clock.advance(5000);
    expect(rig.seq('dialup')).toEqual([]);
    expect(rig.seq('vpn')).toEqual([]);
  });
});

describe('LedIndicator several links and sessions', () => {
  async function started() {
    const rig = await virtualRig();
    rig.indicator.start();
    rig.clock.advance(10);
    rig.mark();
    return rig;
  }

  it('two links changing phase at once drive their own LEDs only', async () => {
    const rig = await started();
    rig.indicator.onSessionEvent('dialup', 'tty', phase('establish'));
    rig.indicator.onSessionEvent('vpn', 'call-1', phase('authenticate', 'establish'));
    rig.clock.advance(1000);
    expect(rig.seq('dialup')).toEqual([
      [0, 1],
      [500, 0],
      [1000, 1],
    ]);
    expect(rig.seq('vpn')).toEqual([
      [0, 1],
      [125, 0],
      [250, 1],
      [375, 0],
      [500, 1],
      [625, 0],
      [750, 1],
      [875, 0],
      [1000, 1],
    ]);
    expect(rig.seq('auth')).toEqual([]);
    // A vpn change in the middle of a dial-up blink does not disturb it.
    rig.clock.advance(250);
    rig.indicator.onSessionEvent('vpn', 'call-1', phase('network', 'authenticate'));
    rig.clock.advance(750);
    expect(rig.seq('dialup').slice(3)).toEqual([
      [1500, 0],
      [2000, 1],
    ]);
    expect(rig.seq('vpn').slice(9)).toEqual([
      [1125, 0],
      [1250, 1],
    ]);
  });

  it('PNS: vpn is on while any session is in Network, fast blink while any authenticates', async () => {
    const rig = await started();
    const vpn = (id: string, p: Phase) => rig.indicator.onSessionEvent('vpn', id, phase(p));
    vpn('a', 'establish');
    expect(rig.indicator.state().vpn).toBe('establish');
    vpn('b', 'establish');
    rig.clock.advance(300);
    // A second session in the same phase does not restart the blink.
    expect(rig.seq('vpn')).toEqual([[0, 1]]);
    vpn('b', 'authenticate');
    expect(rig.indicator.state().vpn).toBe('authenticate');
    vpn('a', 'authenticate');
    vpn('a', 'network');
    expect(rig.indicator.state().vpn).toBe('network');
    rig.mark();
    rig.clock.advance(2000);
    expect(rig.seq('vpn')).toEqual([]);
    vpn('c', 'establish');
    vpn('b', 'dead');
    expect(rig.indicator.state().vpn).toBe('network');
    vpn('a', 'terminate');
    expect(rig.indicator.state().vpn).toBe('establish');
    vpn('a', 'dead');
    rig.indicator.onSessionEvent('vpn', 'c', { type: 'terminated', reason: 'peer hung up' });
    expect(rig.indicator.state()).toMatchObject({ vpn: 'dead', sessions: { vpn: 0 } });
    rig.clock.advance(3000);
    expect(rig.seq('vpn').at(-1)?.[1]).toBe(0);
  });

  it('remembers at most maxSessionsPerGroup sessions', async () => {
    const rig = await virtualRig({ maxSessionsPerGroup: 3 });
    rig.indicator.start();
    for (let i = 0; i < 10; i++) rig.indicator.onSessionEvent('vpn', `c${i}`, phase('establish'));
    expect(rig.indicator.state().sessions.vpn).toBe(3);
  });

  it('a group with no link configured shows ready, and real events still show', async () => {
    const rig = await virtualRig({ configured: ['dialup'] });
    rig.mark();
    rig.indicator.start();
    rig.clock.advance(3100);
    expect(rig.seq('vpn')).toEqual([
      [0, 1],
      [60, 0],
      [3000, 1],
      [3060, 0],
    ]);
    expect(rig.indicator.state()).toMatchObject({ dialup: 'dead', vpn: 'ready' });
    rig.indicator.onSessionEvent('vpn', 'c1', phase('network'));
    expect(rig.indicator.state().vpn).toBe('network');
    rig.indicator.setConfigured([]);
    expect(rig.indicator.state()).toMatchObject({ dialup: 'ready', vpn: 'network' });
  });
});

describe('LedIndicator stop and restart', () => {
  it('stop darkens every LED and leaves no timer running', async () => {
    const rig = await virtualRig();
    rig.indicator.start();
    rig.indicator.onSessionEvent('dialup', 's', phase('establish'));
    rig.indicator.onSessionEvent('vpn', 'c', phase('network'));
    rig.indicator.onSessionEvent('vpn', 'c', failure);
    rig.clock.advance(50);
    rig.mark();
    rig.indicator.stop();
    expect(rig.io.writes.map((w) => [w.pin, w.value])).toEqual([
      [PIN.power, 0],
      [PIN.dialup, 0],
      [PIN.vpn, 0],
      [PIN.auth, 0],
    ]);
    expect(rig.clock.pending).toBe(0);
    rig.clock.advance(5000);
    expect(rig.io.writes).toHaveLength(4);
    expect(rig.indicator.state()).toMatchObject({
      running: false,
      power: 'stopped',
      dialup: 'stopped',
    });
  });

  it('events while stopped are tracked and shown on start', async () => {
    const rig = await virtualRig();
    rig.indicator.onSessionEvent('vpn', 'c', phase('network'));
    rig.indicator.onSessionEvent('vpn', 'c', failure);
    rig.clock.advance(3000);
    expect(rig.io.writes).toEqual([]);
    rig.mark();
    rig.indicator.start();
    expect(rig.seq('vpn')).toEqual([[0, 1]]);
    expect(rig.seq('auth')).toEqual([[0, 1]]);
  });
});

describe('LedIndicator heartbeat watchdog (injected clock)', () => {
  it('stops the heartbeat when the loop stalls past the threshold, resumes one cycle later', async () => {
    const rig = await virtualRig({ stallThresholdMs: 3000 });
    rig.mark();
    rig.indicator.start();
    rig.clock.advance(1050); // lit since 1000
    rig.clock.stall(5000); // the 1100 ms timer fires at 6050
    rig.clock.advance(2050);
    expect(rig.seq('power')).toEqual([
      [0, 1],
      [100, 0],
      [1000, 1],
      [6050, 0], // late timer: stall seen, LED dark, no catch-up blink
      [7050, 1], // the check timer fired on time: heartbeat back
      [7150, 0],
      [8050, 1],
    ]);
    expect(rig.log.lines.filter((l) => l.includes('stalled'))).toEqual([
      'warn event loop stalled 5.0 s: power LED heartbeat paused',
    ]);
  });

  it('stays dark while the loop keeps stalling', async () => {
    const rig = await virtualRig({ stallThresholdMs: 3000 });
    rig.indicator.start();
    rig.clock.advance(500);
    rig.mark();
    for (let i = 0; i < 5; i++) rig.clock.stall(4500);
    expect(rig.seq('power')).toEqual([]);
    rig.clock.advance(1000);
    expect(rig.seq('power')).toEqual([[23_500, 1]]);
  });

  it('a pause under the threshold delays the heartbeat without a burst of catch-up writes', async () => {
    const rig = await virtualRig({ stallThresholdMs: 3000 });
    rig.indicator.start();
    rig.indicator.onSessionEvent('dialup', 's', phase('authenticate'));
    rig.clock.advance(150);
    rig.mark();
    rig.clock.stall(2000);
    rig.clock.advance(1000);
    const power = rig.seq('power');
    expect(power).toEqual([
      [2000, 1],
      [2100, 0],
      [3000, 1],
    ]);
    const dialup = rig.seq('dialup');
    const times = dialup.map(([t]) => t);
    expect(new Set(times).size).toBe(times.length);
    expect(dialup[0]).toEqual([2000, 1]);
  });
});

describe('LedIndicator when the LEDs fail', () => {
  it('a driver that throws is logged once and the indicator keeps accepting events', () => {
    const clock = new ManualClock();
    const log = recordingLog();
    let writes = 0;
    const driver: LedDriver = {
      description: 'flaky',
      write() {
        writes++;
        if (writes > 5) throw Object.assign(new Error('line vanished'), { code: 'ENODEV' });
      },
      close() {},
    };
    const indicator = new LedIndicator({ driver, clock, log });
    indicator.start();
    expect(() => {
      for (let i = 0; i < 20; i++) {
        indicator.onSessionEvent('vpn', `c${i}`, phase('establish'));
        indicator.onSessionEvent('vpn', `c${i}`, failure);
        indicator.onLockout('p');
        indicator.onConfigRefused();
        clock.advance(333);
      }
      indicator.onSessionEvent('vpn', 'c1', phase('network'));
      clock.advance(10_000);
      indicator.stop();
      indicator.close();
    }).not.toThrow();
    expect(log.lines).toEqual([
      'warn LEDs disabled on flaky: writing the power LED failed: line vanished; the router keeps running without them',
    ]);
    expect(writes).toBe(6);
    expect(indicator.state()).toMatchObject({ driver: 'none', sessions: { vpn: 20 } });
    expect(indicator.state().failure).toContain('line vanished');
  });
});
