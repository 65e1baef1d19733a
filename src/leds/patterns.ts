/**
 * THE table: which pattern each LED shows for each state or event. Everything else
 * (the indicator, `branchlink leds test`, the README legend image, the tests) reads
 * this one table; change a rhythm here and all of them follow.
 *
 * A pattern is data: a list of (level, duration ms) steps and what follows them.
 */
import type { Phase } from '../ppp/events.js';

export type LedName = 'power' | 'dialup' | 'vpn' | 'auth';
export const LED_NAMES: readonly LedName[] = ['power', 'dialup', 'vpn', 'auth'];

export type LinkGroup = 'dialup' | 'vpn';
export const LINK_GROUPS: readonly LinkGroup[] = ['dialup', 'vpn'];

/** 1 = LED lit, 0 = dark. */
export type Level = 0 | 1;
export type PatternStep = readonly [level: Level, ms: number];

export interface LedPattern {
  /** When the LED shows it, in a technician's words (legend, `leds test`). */
  readonly when: string;
  /** What it looks like, in words. */
  readonly looks: string;
  readonly steps: readonly PatternStep[];
  /**
   * What follows the steps: `repeat` runs them again forever; `on` / `off` hold that
   * level until the next state; `resume` goes back to the LED's resting state (the
   * auth LED's idle or failed state).
   */
  readonly after: 'repeat' | 'on' | 'off' | 'resume';
  /**
   * Advance only from timers that fire on time: when the event loop has stalled longer
   * than the indicator's threshold, the LED goes dark and the pattern waits for the
   * loop to run on time again (power heartbeat: a hung service shows no heartbeat).
   */
  readonly watchdog?: boolean;
}

export type PowerState = 'heartbeat' | 'stopped';
/** A link LED shows its group's PPP phase, `ready` when no link of the group is configured. */
export type LinkState = Phase | 'ready' | 'stopped';
/** `idle` and `failed` are the auth LED's resting states; the others play over them. */
export type AuthState =
  | 'idle'
  | 'failed'
  | 'success'
  | 'failure'
  | 'locked-out'
  | 'config-refused'
  | 'stopped';

const OFF: readonly PatternStep[] = [[0, 0]];
const ON: readonly PatternStep[] = [[1, 0]];

/**
 * The phase patterns, the same for both link LEDs. RFC 1661 §3.2 phases; for a PPTP
 * server (PNS) the `vpn` LED shows the most advanced session: on while any session is
 * in Network, else fast blink while any authenticates, and so on down this list.
 */
const LINK_PHASE_PATTERNS = {
  dead: { when: 'link down (Dead), not dialling', looks: 'off', steps: OFF, after: 'off' },
  establish: {
    when: 'dialling / LCP negotiating (Establish)',
    looks: 'slow blink, 1 Hz',
    steps: [
      [1, 500],
      [0, 500],
    ],
    after: 'repeat',
  },
  authenticate: {
    when: 'authenticating (Authenticate)',
    looks: 'fast blink, 4 Hz',
    steps: [
      [1, 125],
      [0, 125],
    ],
    after: 'repeat',
  },
  network: {
    when: 'link up, IP flowing (Network)',
    looks: 'steady on',
    steps: ON,
    after: 'on',
  },
  terminate: {
    when: 'hanging up (Terminate)',
    looks: 'short double flash, then off',
    // Dark first: from Network's steady on, the first flash would otherwise merge with it.
    steps: [
      [0, 150],
      [1, 120],
      [0, 120],
      [1, 120],
    ],
    after: 'off',
  },
  ready: {
    when: 'service up, no link of this kind configured',
    looks: 'short blip every 3 s',
    steps: [
      [1, 60],
      [0, 2940],
    ],
    after: 'repeat',
  },
  stopped: { when: 'service stopped', looks: 'off', steps: OFF, after: 'off' },
} as const satisfies Record<LinkState, LedPattern>;

export const LED_PATTERNS = {
  power: {
    heartbeat: {
      when: 'service running (stops when the service hangs or dies)',
      looks: 'short blink every second',
      steps: [
        [1, 100],
        [0, 900],
      ],
      after: 'repeat',
      watchdog: true,
    },
    stopped: { when: 'service stopped, hung or dead', looks: 'off', steps: OFF, after: 'off' },
  },
  dialup: LINK_PHASE_PATTERNS,
  vpn: LINK_PHASE_PATTERNS,
  auth: {
    idle: { when: 'no failure since the last success', looks: 'off', steps: OFF, after: 'off' },
    failed: {
      when: 'after a failure, until the next success',
      looks: 'steady on',
      steps: ON,
      after: 'on',
    },
    // The auth patterns open with a short dark gap so a flash stays visible when the LED
    // was steadily on (failed state) before it.
    success: {
      when: 'a peer (or this router) authenticated',
      looks: 'one long flash, then off',
      steps: [
        [0, 150],
        [1, 1500],
      ],
      after: 'off',
    },
    failure: {
      when: 'an authentication failed (stays on until the next success)',
      looks: 'three quick flashes, then on',
      steps: [
        [0, 150],
        [1, 100],
        [0, 150],
        [1, 100],
        [0, 150],
        [1, 100],
        [0, 500],
      ],
      after: 'on',
    },
    'locked-out': {
      when: 'a peer was locked out after repeated failures (stays on until the next success)',
      looks: 'three long flashes, then on',
      steps: [
        [0, 150],
        [1, 500],
        [0, 250],
        [1, 500],
        [0, 250],
        [1, 500],
        [0, 500],
      ],
      after: 'on',
    },
    'config-refused': {
      when: 'a configuration edit was refused',
      looks: 'short-long twice, then as before',
      steps: [
        [0, 150],
        [1, 100],
        [0, 200],
        [1, 700],
        [0, 300],
        [1, 100],
        [0, 200],
        [1, 700],
        [0, 500],
      ],
      after: 'resume',
    },
    stopped: { when: 'service stopped', looks: 'off', steps: OFF, after: 'off' },
  },
} as const satisfies {
  power: Record<PowerState, LedPattern>;
  dialup: Record<LinkState, LedPattern>;
  vpn: Record<LinkState, LedPattern>;
  auth: Record<AuthState, LedPattern>;
};

export type LedTable = typeof LED_PATTERNS;
