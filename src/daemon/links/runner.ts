/**
 * A configured link at run time. Dialling links (dial-up in dial mode, PPTP
 * clients) share the redial supervision here: pppd's persist / holdoff / maxfail
 * with a capped exponential backoff.
 */
import type { PppLink } from '../../runtime/link.js';
import { PcapWriter } from '../capture.js';
import type { LinkConfig } from '../config.js';
import { RedialPolicy } from '../redial.js';
import type { LinkStatus, SessionStatus } from '../status.js';
import { type LinkHost, launchSession, type RunningSession } from './session-host.js';

export interface LinkRunner {
  readonly config: LinkConfig;
  start(): void;
  /** Stop for good (service shutdown or the link removed from the config). */
  stop(reason: string): Promise<void>;
  /** `branchlink dial`: connect now, forgetting earlier failures. */
  dial(): void;
  /** `branchlink hangup`: end the session and stay down until `dial`. */
  hangup(): Promise<void>;
  killSession(id: string): Promise<boolean>;
  startCapture(path: string): void;
  stopCapture(): void;
  status(): LinkStatus;
  /** Whether the link (or one of its sessions) is in Network. */
  readonly isUp: boolean;
}

export function baseStatus(config: LinkConfig, endpoint: string): LinkStatus {
  return {
    name: config.name,
    type: config.type,
    role: config.role,
    phase: 'dead',
    peer: null,
    localIp: null,
    remoteIp: null,
    authMethod: null,
    mppe: null,
    uptimeSeconds: null,
    endpoint,
    lastError: null,
    nextDialAt: null,
    enabled: config.enabled,
    bytesIn: 0,
    bytesOut: 0,
    packetsIn: 0,
    packetsOut: 0,
  };
}

export function statusFromSession(
  base: LinkStatus,
  s: SessionStatus,
  uptime: number | null,
): LinkStatus {
  return {
    ...base,
    phase: s.phase,
    peer: s.peer,
    localIp: s.localIp,
    remoteIp: s.remoteIp,
    authMethod: s.authMethod,
    mppe: s.mppe,
    uptimeSeconds: uptime,
    bytesIn: s.bytesIn,
    bytesOut: s.bytesOut,
    packetsIn: s.packetsIn,
    packetsOut: s.packetsOut,
  };
}

/**
 * The one session a dialling or answering link carries at a time, the one before it
 * (for status after the link went down), and a capture that follows the link across
 * sessions.
 */
export class SessionSlot {
  current: RunningSession | undefined;
  private last: RunningSession | undefined;
  private captureWanted: string | undefined;

  get isUp(): boolean {
    return this.current?.tracker.phase === 'network';
  }

  adopt(running: RunningSession): void {
    this.current = running;
    if (this.captureWanted && !running.capture) {
      running.capture = new PcapWriter(this.captureWanted, { append: true });
    }
  }

  release(): void {
    this.last = this.current;
    this.current = undefined;
  }

  async kill(id: string): Promise<boolean> {
    if (this.current?.id !== id) return false;
    await this.current.driver.stop('Killed by administrator');
    return true;
  }

  startCapture(path: string): void {
    // A fresh file now; this session and every later one (redials, calls) append to it.
    new PcapWriter(path).close();
    this.captureWanted = path;
    if (this.current && !this.current.capture) {
      this.current.capture = new PcapWriter(path, { append: true });
    }
  }

  stopCapture(): void {
    this.captureWanted = undefined;
    this.current?.capture?.close();
    if (this.current) this.current.capture = undefined;
  }

  /** The link's status from its current session, or Dead with the last one's counters. */
  status(base: LinkStatus): LinkStatus {
    const s = this.current ?? this.last;
    if (s === undefined) return base;
    const st = statusFromSession(base, s.tracker.status(), s.tracker.uptimeSeconds);
    if (s === this.current) return st;
    return { ...st, phase: 'dead', localIp: null, remoteIp: null, mppe: null, uptimeSeconds: null };
  }
}

type DialState = 'idle' | 'connecting' | 'running' | 'waiting' | 'gave-up' | 'stopped';

export abstract class DialingRunner implements LinkRunner {
  private state: DialState = 'idle';
  private readonly slot = new SessionSlot();
  private timer: NodeJS.Timeout | undefined;
  private nextDialAt: number | undefined;
  private abort: AbortController | undefined;
  private manual = false;
  private lastError: string | null = null;
  private reachedNetwork = false;
  private attempts = 0;
  private readonly policy: RedialPolicy;

  constructor(
    readonly config: LinkConfig,
    protected readonly host: LinkHost,
  ) {
    this.policy = new RedialPolicy({
      persist: config.persist,
      holdoffSeconds: config.holdoff,
      maxfail: config.maxfail,
      backoffMaxSeconds: config.backoffMax,
    });
  }

  /** Bring the medium up (dial, open the tunnel). Rejects with a readable reason. */
  protected abstract connect(signal: AbortSignal): Promise<PppLink>;
  /** Async serial line (ACCM) or synchronous. */
  protected abstract readonly async: boolean;
  /** For status: the device or server. */
  protected abstract readonly endpoint: string;

  get isUp(): boolean {
    return this.slot.isUp;
  }

  start(): void {
    // A backup link waits for the failover manager to dial it.
    if (!this.config.enabled || this.config.backupFor !== undefined) return;
    void this.attempt();
  }

  dial(): void {
    if (this.state === 'stopped') return;
    if (this.state === 'connecting' || this.state === 'running') return;
    this.manual = false;
    this.clearTimer();
    this.policy.reset();
    void this.attempt();
  }

  async hangup(): Promise<void> {
    this.manual = true;
    await this.halt('User request');
    if (this.state !== 'stopped') this.state = 'idle';
  }

  async stop(reason: string): Promise<void> {
    this.state = 'stopped';
    await this.halt(reason);
  }

  killSession(id: string): Promise<boolean> {
    return this.slot.kill(id);
  }

  startCapture(path: string): void {
    this.slot.startCapture(path);
  }

  stopCapture(): void {
    this.slot.stopCapture();
  }

  status(): LinkStatus {
    return this.slot.status({
      ...baseStatus(this.config, this.endpoint),
      lastError: this.lastError,
      nextDialAt: this.nextDialAt !== undefined ? new Date(this.nextDialAt).toISOString() : null,
    });
  }

  private async halt(reason: string): Promise<void> {
    this.clearTimer();
    this.abort?.abort();
    const running = this.slot.current;
    if (running) await running.driver.stop(reason);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.nextDialAt = undefined;
  }

  private async attempt(): Promise<void> {
    this.state = 'connecting';
    this.attempts++;
    this.reachedNetwork = false;
    const abort = new AbortController();
    this.abort = abort;
    const log = this.host.log.child({ link: this.config.name });
    let link: PppLink;
    try {
      link = await this.connect(abort.signal);
    } catch (e) {
      this.abort = undefined;
      if (this.isStopped() || this.manual) {
        if (!this.isStopped()) this.state = 'idle';
        return;
      }
      this.lastError = e instanceof Error ? e.message : String(e);
      log.warn({ reason: this.lastError }, 'could not connect');
      this.afterDown();
      return;
    }
    this.abort = undefined;
    if (this.isStopped() || this.manual) {
      await link.close(this.isStopped() ? 'shutting down' : 'User request');
      return;
    }
    let running: RunningSession;
    try {
      running = launchSession(this.host, this.config, link, {
        id: `${this.config.name}-${this.attempts}`,
        async: this.async,
        onEvent: (event) => {
          if (event.type === 'phase' && event.phase === 'network' && !this.reachedNetwork) {
            this.reachedNetwork = true;
            this.policy.connected();
            this.lastError = null;
          }
        },
      });
    } catch (e) {
      await link.close('configuration error');
      this.lastError = e instanceof Error ? e.message : String(e);
      this.state = 'gave-up';
      return;
    }
    this.slot.adopt(running);
    const reason = await running.finished;
    this.slot.release();
    if (this.isStopped()) return;
    if (this.manual) {
      this.state = 'idle';
      return;
    }
    this.lastError = running.tracker.authFailure ?? reason;
    this.afterDown();
  }

  /** Read through a method: the state changes across awaits, which narrowing cannot see. */
  private isStopped(): boolean {
    return this.state === 'stopped';
  }

  private afterDown(): void {
    const decision = this.policy.down(Date.now(), this.reachedNetwork);
    const log = this.host.log.child({ link: this.config.name });
    if (decision.kind === 'stop') {
      this.state = 'gave-up';
      log.warn({ reason: decision.reason }, 'not redialling');
      return;
    }
    this.state = 'waiting';
    this.nextDialAt = decision.at;
    log.info(
      { inSeconds: Math.round((decision.at - Date.now()) / 1000), attempt: decision.attempt },
      'redialling',
    );
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.nextDialAt = undefined;
        void this.attempt();
      },
      Math.max(0, decision.at - Date.now()),
    );
  }
}
