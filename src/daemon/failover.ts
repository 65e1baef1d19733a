/**
 * Failover of a primary link (a PPTP client to head office) onto a backup dial-up
 * link: the backup dials when the primary has been down for `downSeconds` and hangs
 * up when the primary has been back for `upSeconds`. Sans-I/O on injected time.
 */
export interface FailoverConfig {
  readonly downSeconds: number;
  readonly upSeconds: number;
}

export type FailoverAction = 'start-backup' | 'stop-backup';

export class FailoverPolicy {
  private primaryUp = false;
  private since = 0;
  private backupActive = false;
  private deadline: number | undefined;

  constructor(
    private readonly config: FailoverConfig,
    now: number,
    /** Where a previous policy stood (a configuration reload); default: nothing up yet. */
    initial: { readonly primaryUp: boolean; readonly backupActive: boolean } = {
      primaryUp: false,
      backupActive: false,
    },
  ) {
    // At start the primary is not up yet: the down clock runs from the start. A reload
    // resumes: a primary already up sends no phase event to say so again.
    this.since = now;
    this.primaryUp = initial.primaryUp;
    this.backupActive = initial.backupActive;
    if (initial.primaryUp) {
      this.deadline = initial.backupActive ? now + config.upSeconds * 1000 : undefined;
    } else {
      this.deadline = initial.backupActive ? undefined : now + config.downSeconds * 1000;
    }
  }

  get backupWanted(): boolean {
    return this.backupActive;
  }

  /** The primary's Network phase began (`up`) or ended (`!up`) at `now`. */
  primary(up: boolean, now: number): FailoverAction | undefined {
    if (up === this.primaryUp) return undefined;
    this.primaryUp = up;
    this.since = now;
    if (up) {
      this.deadline = this.backupActive ? now + this.config.upSeconds * 1000 : undefined;
    } else {
      this.deadline = this.backupActive ? undefined : now + this.config.downSeconds * 1000;
    }
    return this.handleTimeout(now);
  }

  pollTimeout(): number | undefined {
    return this.deadline;
  }

  handleTimeout(now: number): FailoverAction | undefined {
    if (this.deadline === undefined || now < this.deadline) return undefined;
    this.deadline = undefined;
    if (!this.primaryUp && !this.backupActive) {
      this.backupActive = true;
      return 'start-backup';
    }
    if (this.primaryUp && this.backupActive) {
      this.backupActive = false;
      return 'stop-backup';
    }
    return undefined;
  }

  /** How long the primary has been in its current state, for status. */
  stateAge(now: number): number {
    return now - this.since;
  }
}
