/**
 * The LED indicator: turns session events, lockouts and refused config edits into the
 * patterns of the table (patterns.ts) on four LEDs. It never throws into its caller
 * and never stops a link: a failing LED driver is logged once and replaced by a no-op.
 */
import type { Phase, SessionEvent } from '../ppp/events.js';
import { type Clock, systemClock } from './clock.js';
import { GuardedDriver, type LedDriver, type LedLogger, silentLogger } from './driver.js';
import {
  type AuthState,
  LED_NAMES,
  LED_PATTERNS,
  type LedName,
  type LedPattern,
  LINK_GROUPS,
  type LinkGroup,
  type LinkState,
  type PowerState,
} from './patterns.js';
import { PatternPlayer } from './player.js';

export interface LedIndicatorOptions {
  readonly driver: LedDriver;
  readonly clock?: Clock;
  readonly log?: LedLogger;
  /** An event-loop stall longer than this stops the heartbeat. Default 3000 ms. */
  readonly stallThresholdMs?: number;
  /** Groups with a link configured; the others show `ready`. Default both. */
  readonly configured?: readonly LinkGroup[];
  /** Why the board is not driving LEDs (from `openLedBoard`), reported by `state()`. */
  readonly disabledReason?: string;
  /** Sessions remembered per group (a PNS has one per call); the oldest is dropped. */
  readonly maxSessionsPerGroup?: number;
}

export interface LedIndicatorState {
  readonly running: boolean;
  readonly power: PowerState;
  readonly dialup: LinkState;
  readonly vpn: LinkState;
  readonly auth: AuthState;
  readonly sessions: Readonly<Record<LinkGroup, number>>;
  readonly driver: string;
  /** Why the LEDs were disabled, if they were. */
  readonly failure: string | undefined;
}

/** RFC 1661 §3.2 phases from least to most advanced: a group shows its most advanced session. */
const PHASE_RANK: Record<Phase, number> = {
  dead: 0,
  terminate: 1,
  establish: 2,
  authenticate: 3,
  network: 4,
};

export class LedIndicator {
  private readonly driver: GuardedDriver;
  private readonly clock: Clock;
  private readonly log: LedLogger;
  private readonly players: Record<LedName, PatternPlayer>;
  private readonly sessions: Record<LinkGroup, Map<string, Phase>> = {
    dialup: new Map(),
    vpn: new Map(),
  };
  private readonly shown: Partial<Record<LedName, string>> = {};
  private readonly maxSessions: number;
  private configured: ReadonlySet<LinkGroup>;
  private running = false;
  private authRest: 'idle' | 'failed' = 'idle';
  private authState: AuthState = 'idle';

  constructor(options: LedIndicatorOptions) {
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? silentLogger;
    this.driver = new GuardedDriver(options.driver, this.log, options.disabledReason);
    this.configured = new Set(options.configured ?? LINK_GROUPS);
    this.maxSessions = options.maxSessionsPerGroup ?? 1024;
    const stallThresholdMs = options.stallThresholdMs ?? 3000;
    const player = (led: LedName, onStall?: (late: number) => void) =>
      new PatternPlayer((level) => this.driver.write(led, level), this.clock, {
        stallThresholdMs,
        onStall,
      });
    this.players = {
      power: player('power', (late) =>
        this.log.warn(
          `event loop stalled ${(late / 1000).toFixed(1)} s: power LED heartbeat paused`,
        ),
      ),
      dialup: player('dialup'),
      vpn: player('vpn'),
      auth: player('auth'),
    };
  }

  /** Show the current state on every LED, power heartbeat included. */
  start(): void {
    this.running = true;
    for (const led of LED_NAMES) {
      delete this.shown[led];
      this.players[led].invalidate();
    }
    this.render('power', 'heartbeat', LED_PATTERNS.power.heartbeat);
    for (const group of LINK_GROUPS) this.renderGroup(group);
    // An outcome that played while stopped is history now: show where it left the LED.
    this.renderAuth(this.authRest);
  }

  /** All LEDs to their stopped state (dark); events keep being tracked. */
  stop(): void {
    this.running = false;
    for (const led of LED_NAMES) {
      const player = this.players[led];
      player.halt();
      player.invalidate();
      player.force(LED_PATTERNS[led].stopped);
      this.shown[led] = 'stopped';
    }
  }

  /** Stop and release the board (GPIO lines). */
  close(): void {
    this.stop();
    this.driver.close();
  }

  /** Which groups have a link configured; the others show `ready`. */
  setConfigured(groups: readonly LinkGroup[]): void {
    this.configured = new Set(groups);
    for (const group of LINK_GROUPS) this.renderGroup(group);
  }

  onSessionEvent(group: LinkGroup, sessionId: string, event: SessionEvent): void {
    const sessions = this.sessions[group];
    if (sessions === undefined) return;
    switch (event.type) {
      case 'phase':
        if (event.phase === 'dead') sessions.delete(sessionId);
        else this.remember(sessions, sessionId, event.phase);
        this.renderGroup(group);
        return;
      case 'terminated':
        sessions.delete(sessionId);
        this.renderGroup(group);
        return;
      case 'auth-success':
        this.authRest = 'idle';
        this.renderAuth('success');
        return;
      case 'auth-failure':
        this.authRest = 'failed';
        this.renderAuth('failure');
        return;
      default:
        return;
    }
  }

  /** A peer was locked out after repeated failures (the name is not shown or logged). */
  onLockout(_peer: string): void {
    this.authRest = 'failed';
    this.renderAuth('locked-out');
  }

  /** A configuration edit was refused. */
  onConfigRefused(): void {
    this.renderAuth('config-refused');
  }

  state(): LedIndicatorState {
    return {
      running: this.running,
      power: this.running ? 'heartbeat' : 'stopped',
      dialup: this.running ? this.groupState('dialup') : 'stopped',
      vpn: this.running ? this.groupState('vpn') : 'stopped',
      auth: this.running ? this.currentAuth() : 'stopped',
      sessions: { dialup: this.sessions.dialup.size, vpn: this.sessions.vpn.size },
      driver: this.driver.description,
      failure: this.driver.failure,
    };
  }

  private remember(sessions: Map<string, Phase>, id: string, phase: Phase): void {
    // Re-insert so the Map's order is least recently changed first.
    sessions.delete(id);
    sessions.set(id, phase);
    while (sessions.size > this.maxSessions) {
      const oldest = sessions.keys().next();
      if (oldest.done === true) break;
      sessions.delete(oldest.value);
    }
  }

  /** An outcome's state while its pattern plays, then the resting state it left. */
  private currentAuth(): AuthState {
    return this.players.auth.isPlaying ? this.authState : this.authRest;
  }

  private groupState(group: LinkGroup): LinkState {
    let best: Phase | undefined;
    for (const phase of this.sessions[group].values()) {
      if (best === undefined || PHASE_RANK[phase] > PHASE_RANK[best]) best = phase;
    }
    if (best !== undefined) return best;
    return this.configured.has(group) ? 'dead' : 'ready';
  }

  private renderGroup(group: LinkGroup): void {
    const state = this.groupState(group);
    this.render(group, state, LED_PATTERNS[group][state]);
  }

  private renderAuth(state: AuthState): void {
    this.authState = state;
    if (!this.running) return;
    const resting = () => LED_PATTERNS.auth[this.authRest];
    this.shown.auth = state;
    // Every auth outcome replays its pattern, even the same one twice in a row.
    this.players.auth.force(LED_PATTERNS.auth[state], resting);
  }

  /** Start `pattern` unless the LED already shows this state (a blink is not restarted). */
  private render(led: LedName, state: string, pattern: LedPattern): void {
    if (!this.running || this.shown[led] === state) return;
    this.shown[led] = state;
    this.players[led].play(pattern);
  }
}
