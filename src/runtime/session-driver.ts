/**
 * The driver of one PPP session: it owns the clock, the timer, the link and the IP
 * interface, and asks the Authenticator. The core session stays sans-I/O; this is
 * the thin shell around it that both links (dial-up, PPTP) share.
 *
 * Hot path: link frame → session.handleFrame → ip.write, and ip packet →
 * session.encapsulateIp → link.send. One straight call each way.
 */
import type { AuthDecision, Authenticator } from '../ppp/auth/authenticator.js';
import type { Phase, SessionEvent } from '../ppp/events.js';
import type { PppSession } from '../ppp/session.js';
import type { PppLink } from './link.js';

/** Where IP packets go once IPCP is up (a TUN device, or a test sink). */
export interface IpInterface {
  /** Deliver an IP packet to the host. */
  write(packet: Buffer): void;
  /** Remove addresses and routes and release the device. */
  close(): Promise<void>;
}

export interface IpUp {
  readonly localAddress: string;
  readonly remoteAddress: string;
  readonly dns: readonly string[];
  /** Largest IP packet the peer accepts (its MRU). */
  readonly mtu: number;
  /** Call with every packet the host sends towards the peer. */
  readonly send: (packet: Buffer) => void;
}

/** Opens the IP side when IPCP comes up. */
export type IpInterfaceFactory = (up: IpUp) => Promise<IpInterface>;

export interface SessionDriverOptions {
  readonly session: PppSession;
  readonly link: PppLink;
  readonly authenticator?: Authenticator;
  readonly openIp?: IpInterfaceFactory;
  /** Every session event, in order. */
  readonly onEvent?: (event: SessionEvent) => void;
  /** Called once when the session is Dead and the link released. */
  readonly onFinished?: (reason: string) => void;
  /** Called when the IP side could not be opened (the session is then closed). */
  readonly onIpError?: (error: Error) => void;
  /** Monotonic milliseconds. */
  readonly clock?: () => number;
  /** Sees every frame in both directions (captures); off the hot path when absent. */
  readonly tap?: (direction: 'sent' | 'rcvd', frame: Buffer) => void;
}

export class SessionDriver {
  private timer: NodeJS.Timeout | undefined;
  private timerAt: number | undefined;
  private ip: IpInterface | undefined;
  private ipOpening: Promise<void> | undefined;
  private finished = false;
  private started = false;
  private finishWaiters: (() => void)[] = [];
  readonly startedAt = Date.now();
  private readonly clock: () => number;

  constructor(private readonly options: SessionDriverOptions) {
    this.clock = options.clock ?? (() => performance.now());
  }

  get session(): PppSession {
    return this.options.session;
  }

  get link(): PppLink {
    return this.options.link;
  }

  get phase(): Phase {
    return this.options.session.phase;
  }

  get isFinished(): boolean {
    return this.finished;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.options.link.attach({
      onFrame: (frame) => this.onFrame(frame),
      onDown: (reason) => {
        this.options.session.lowerDown(reason, this.clock());
        this.flush();
      },
    });
    this.options.session.open(this.clock());
    this.flush();
  }

  /** Host → peer: frame one IP packet and send it. */
  sendIp(packet: Buffer): void {
    // A congested link drops the packet before PPP frames and encrypts it (link.ts).
    if (this.options.link.admitIp?.() === false) return;
    const frame = this.options.session.encapsulateIp(packet);
    if (frame === undefined) return;
    this.options.tap?.('sent', frame);
    this.options.link.send(frame);
  }

  /** Close administratively; resolves when the session is Dead and the link released. */
  stop(reason: string, graceMs = 5000): Promise<void> {
    if (this.finished) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.finishWaiters.push(resolve));
    if (!this.started) {
      void this.finish(reason);
      return done;
    }
    this.options.session.close(reason, this.clock());
    this.flush();
    // A peer that never acknowledges must not hold a shutdown hostage.
    const guard = setTimeout(() => {
      this.options.session.lowerDown('shutdown', this.clock());
      this.flush();
      void this.finish(reason);
    }, graceMs);
    return done.finally(() => clearTimeout(guard));
  }

  private onFrame(frame: Buffer): void {
    this.options.tap?.('rcvd', frame);
    const packet = this.options.session.handleFrame(frame, this.clock());
    if (packet !== undefined) {
      this.ip?.write(packet);
      return;
    }
    this.flush();
  }

  private flush(): void {
    const s = this.options.session;
    for (let f = s.pollTransmit(); f !== undefined; f = s.pollTransmit()) {
      this.options.tap?.('sent', f);
      this.options.link.send(f);
    }
    for (let r = s.pollAuthRequest(); r !== undefined; r = s.pollAuthRequest())
      this.authenticate(r.token, r.request);
    for (let e = s.pollEvent(); e !== undefined; e = s.pollEvent()) this.handleEvent(e);
    this.schedule();
  }

  private authenticate(token: number, request: Parameters<Authenticator['authenticate']>[0]): void {
    const authenticator = this.options.authenticator;
    const settle = (decision: AuthDecision): void => {
      if (this.finished) return;
      this.options.session.completeAuth(token, decision, this.clock());
      this.flush();
    };
    if (authenticator === undefined) {
      settle({ ok: false, reason: 'no authenticator is configured for this link' });
      return;
    }
    authenticator.authenticate(request).then(settle, (e: unknown) =>
      settle({
        ok: false,
        reason: `authenticator failed: ${e instanceof Error ? e.message : String(e)}`,
      }),
    );
  }

  private handleEvent(event: SessionEvent): void {
    switch (event.type) {
      case 'link-params':
        this.options.link.setAsyncParams({
          sendAccm: event.sendAccm,
          recvAccm: event.recvAccm,
          mru: event.mru,
        });
        break;
      case 'ip-up':
        this.openIp(event.localAddress, event.remoteAddress, event.dns);
        break;
      case 'ip-down':
        void this.closeIp();
        break;
      case 'terminated':
        // The last event of a session: deliver it, then release the link.
        this.options.onEvent?.(event);
        void this.finish(event.reason);
        return;
    }
    this.options.onEvent?.(event);
  }

  private openIp(localAddress: string, remoteAddress: string, dns: string[]): void {
    const factory = this.options.openIp;
    if (factory === undefined) return;
    const mtu = this.options.session.ipMtu;
    this.ipOpening = factory({
      localAddress,
      remoteAddress,
      dns,
      mtu,
      send: (p) => this.sendIp(p),
    }).then(
      (ip) => {
        if (this.finished || this.options.session.addresses === undefined) {
          void ip.close();
          return;
        }
        this.ip = ip;
      },
      (e: unknown) => {
        const error = e instanceof Error ? e : new Error(String(e));
        this.options.onIpError?.(error);
        this.options.session.close(
          `cannot bring up the IP interface: ${error.message}`,
          this.clock(),
        );
        this.flush();
      },
    );
  }

  private async closeIp(): Promise<void> {
    await this.ipOpening;
    const ip = this.ip;
    this.ip = undefined;
    await ip?.close();
  }

  private schedule(): void {
    const at = this.options.session.pollTimeout();
    if (at === this.timerAt) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = at;
    if (at === undefined || this.finished) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = undefined;
        this.options.session.handleTimeout(this.clock());
        this.flush();
      },
      Math.max(0, at - this.clock()),
    );
  }

  private async finish(reason: string): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.closeIp().catch(() => {});
    await this.options.link.close(reason).catch(() => {});
    this.options.onFinished?.(reason);
    for (const w of this.finishWaiters.splice(0)) w();
  }
}
