/**
 * Dial-up links: a modem that dials out (supervised like any dialling link) or
 * answers calls from remote users, one call after another.
 */
import type { ModemConfig } from '../../dialup/modem.js';
import { DialError, openSerialLink, type SerialLinkOptions } from '../../dialup/serial-link.js';
import type { PppLink } from '../../runtime/link.js';
import type { AnswerLinkConfig, DialLinkConfig, DialupLinkConfig } from '../config.js';
import type { LinkStatus } from '../status.js';
import { baseStatus, DialingRunner, type LinkRunner, SessionSlot } from './runner.js';
import { type LinkHost, launchSession, type RunningSession } from './session-host.js';

function serialOptions(
  config: DialupLinkConfig,
  modem: ModemConfig,
  host: LinkHost,
): SerialLinkOptions {
  const log = host.log.child({ link: config.name, device: config.device });
  return {
    device: config.device,
    baudRate: config.speed,
    modem,
    direct: !config.modem,
    mru: config.ppp.mru,
    log: (line) => log.info(line),
  };
}

function commonModem(config: DialupLinkConfig): Pick<ModemConfig, 'init' | 'chat'> {
  return {
    ...(config.init ? { init: config.init } : {}),
    ...(config.chat ? { chat: config.chat } : {}),
  };
}

export class DialupDialRunner extends DialingRunner {
  protected readonly async = true;
  protected readonly endpoint: string;

  constructor(
    override readonly config: DialLinkConfig,
    host: LinkHost,
  ) {
    super(config, host);
    this.endpoint = config.modem
      ? `${config.device} → ${config.number ?? ''}`
      : `${config.device} (direct)`;
  }

  protected connect(signal: AbortSignal): Promise<PppLink> {
    const modem: ModemConfig = {
      role: 'dial',
      ...(this.config.number !== undefined ? { number: this.config.number } : {}),
      dialMethod: this.config.dialPrefix === 'ATDP' ? 'pulse' : 'tone',
      ...commonModem(this.config),
    };
    return openSerialLink(serialOptions(this.config, modem, this.host), signal);
  }
}

/** Pause before waiting for the next call after a failure, so a broken port does not spin. */
const ANSWER_RETRY_MS = 2000;

export class DialupAnswerRunner implements LinkRunner {
  private readonly slot = new SessionSlot();
  private abort: AbortController | undefined;
  private stopped = false;
  private lastError: string | null = null;
  private calls = 0;
  private loop: Promise<void> | undefined;

  constructor(
    readonly config: AnswerLinkConfig,
    private readonly host: LinkHost,
  ) {}

  get isUp(): boolean {
    return this.slot.isUp;
  }

  start(): void {
    if (!this.config.enabled || this.loop) return;
    this.loop = this.answerLoop();
  }

  private async answerLoop(): Promise<void> {
    const log = this.host.log.child({ link: this.config.name });
    const modem: ModemConfig = {
      role: 'answer',
      ...(this.config.answer.mode === 'auto'
        ? { autoAnswerRings: this.config.answer.rings }
        : { answerAfterRings: this.config.answer.rings }),
      ...commonModem(this.config),
    };
    while (!this.stopped) {
      const abort = new AbortController();
      this.abort = abort;
      let link: PppLink;
      try {
        link = await openSerialLink(serialOptions(this.config, modem, this.host), abort.signal);
      } catch (e) {
        if (this.stopped) break;
        this.lastError = e instanceof Error ? e.message : String(e);
        if (!(e instanceof DialError && e.reason === 'cancelled'))
          log.warn({ reason: this.lastError }, 'answering failed');
        await sleep(ANSWER_RETRY_MS);
        continue;
      }
      if (this.stopped) {
        await link.close('shutting down');
        break;
      }
      this.calls++;
      let running: RunningSession;
      try {
        running = launchSession(this.host, this.config, link, {
          id: `${this.config.name}-${this.calls}`,
          async: true,
        });
      } catch (e) {
        this.lastError = e instanceof Error ? e.message : String(e);
        await link.close('configuration error');
        log.error({ reason: this.lastError }, 'cannot run PPP on this link');
        break;
      }
      this.slot.adopt(running);
      const reason = await running.finished;
      this.lastError = running.tracker.authFailure ?? reason;
      this.slot.release();
    }
  }

  dial(): void {
    throw new Error(`link '${this.config.name}' answers calls; it does not dial`);
  }

  async hangup(): Promise<void> {
    await this.slot.current?.driver.stop('User request');
  }

  async stop(reason: string): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    await this.slot.current?.driver.stop(reason);
    await this.loop;
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
      ...baseStatus(this.config, this.config.device),
      lastError: this.lastError,
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
