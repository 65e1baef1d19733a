/**
 * The router service: loads the configuration and the secrets, starts every link,
 * drives the LEDs, answers the control socket, fails a dial-up link over for a
 * PPTP link, reloads on SIGHUP and stops cleanly on SIGTERM.
 */

import { createLedIndicator } from '../leds/board.js';
import type { LedIndicator } from '../leds/indicator.js';
import type { LinkGroup } from '../leds/patterns.js';
import type { Authenticator, PeerCredentials } from '../ppp/auth/authenticator.js';
import type { SessionEvent as CoreEvent, SessionEvent } from '../ppp/events.js';
import type { PppSession } from '../ppp/session.js';
import type { IpInterfaceFactory } from '../runtime/session-driver.js';
import { tunIpFactory } from '../runtime/tun-ip.js';
import { LocalAuthenticator, logName } from '../secrets/local-authenticator.js';
import { Lockout } from '../secrets/lockout.js';
import {
  type AccountingSession,
  type RadiusAccounting,
  terminateCauseFromReason,
} from '../secrets/radius/accounting.js';
import { createRadius } from '../secrets/radius/setup.js';
import { SecretStore } from '../secrets/store.js';
import {
  type Config,
  diffConfigs,
  formatConfigError,
  type LinkConfig,
  loadConfig,
} from './config.js';
import type { ControlCommand } from './control-protocol.js';
import { ControlServer } from './control-server.js';
import { FailoverPolicy } from './failover.js';
import { DialupAnswerRunner, DialupDialRunner } from './links/dialup.js';
import { PptpClientRunner } from './links/pptp-client.js';
import { PptpServerRunner } from './links/pptp-server.js';
import type { LinkRunner } from './links/runner.js';
import type { LinkHost } from './links/session-host.js';
import { createLogger, type Logger } from './logger.js';
import type { StatusReport } from './status.js';

export interface ServiceOptions {
  readonly configPath: string;
  /** Control socket path overriding the config's (tests, a second instance). */
  readonly socketPath?: string;
  readonly log?: Logger;
  /** The IP side of sessions; default a TUN device per session. */
  readonly ipFactory?: (link: LinkConfig, sessionId: string) => IpInterfaceFactory | undefined;
  /** Draw the LED row here when the board is virtual; default stderr when it is a terminal. */
  readonly ledRender?: NodeJS.WritableStream | false;
  /** Install SIGTERM/SIGINT/SIGHUP handlers (the CLI does; tests do not). */
  readonly handleSignals?: boolean;
}

const BACKUP_ROUTE_METRIC = 100;

/** A service that cannot start: the reasons, one per line, ready to print. */
export class ServiceStartError extends Error {}

function groupOf(link: LinkConfig): LinkGroup {
  return link.type === 'dialup' ? 'dialup' : 'vpn';
}

export class Service {
  private readonly runners = new Map<string, LinkRunner>();
  /** Backup link name → its failover policy (which knows whether the primary is up). */
  private readonly failovers = new Map<string, FailoverPolicy>();
  private control: ControlServer | undefined;
  private stopping: Promise<void> | undefined;
  private readonly startedAt = new Date();
  private failoverTick: NodeJS.Timeout | undefined;
  private readonly signalHandlers: [NodeJS.Signals, () => void][] = [];

  private constructor(
    private config: Config,
    private readonly options: ServiceOptions,
    readonly log: Logger,
    private readonly store: SecretStore,
    private readonly local: LocalAuthenticator,
    private readonly authenticator: Authenticator,
    private readonly accounting: RadiusAccounting | undefined,
    private readonly closeRadius: (() => void | Promise<void>) | undefined,
    private readonly lockout: Lockout,
    private readonly leds: LedIndicator,
    private readonly board: { profile: string; ok: boolean; error: string | null },
  ) {}

  static async start(options: ServiceOptions): Promise<Service> {
    const loaded = loadConfig(options.configPath);
    if (!loaded.ok) {
      throw new ServiceStartError(loaded.error.map(formatConfigError).join('\n'));
    }
    const config = loaded.value;
    const log = options.log ?? createLogger({ level: config.log.level, format: config.log.format });
    const store = await SecretStore.open(config.secrets.file, { watch: true });
    if (!store.ok) throw new ServiceStartError(store.error.map(formatConfigError).join('\n'));
    const lockout = new Lockout({
      failures: config.secrets.lockout.failures,
      seconds: config.secrets.lockout.seconds,
    });
    const local = new LocalAuthenticator(store.value, { lockout });
    let authenticator: Authenticator = local;
    let accounting: RadiusAccounting | undefined;
    let closeRadius: (() => void | Promise<void>) | undefined;
    if (config.radius) {
      const radiusLog = log.child({ component: 'radius' });
      const r = await createRadius(config.radius, {
        defaultNasIdentifier: config.name,
        localAuthenticator: local,
        logger: {
          debug: (m: string) => radiusLog.debug(m),
          info: (m: string) => radiusLog.info(m),
          warn: (m: string) => radiusLog.warn(m),
        },
      });
      if (!r.ok) {
        await store.value.close();
        throw new ServiceStartError(r.error.join('\n'));
      }
      authenticator = r.value.authenticator;
      accounting = r.value.accounting;
      closeRadius = r.value.close;
    }

    const render =
      options.ledRender === false
        ? undefined
        : (options.ledRender ??
          ((config.board.render ?? process.stderr.isTTY) ? process.stderr : undefined));
    const ledLog = log.child({ component: 'leds' });
    const { indicator, board } = await createLedIndicator({
      board: config.board,
      log: {
        info: (m: string) => ledLog.info(m),
        warn: (m: string) => ledLog.warn(m),
      },
      ...(render ? { render: render as NodeJS.WriteStream } : {}),
      configured: [...new Set(config.links.filter((l) => l.enabled).map(groupOf))],
    });
    indicator.start();
    const service = new Service(
      config,
      options,
      log,
      store.value,
      local,
      authenticator,
      accounting,
      closeRadius,
      lockout,
      indicator,
      {
        profile: config.board.profile,
        ok: board.failure === undefined,
        error: board.failure ?? null,
      },
    );
    service.watchSecrets();
    for (const link of config.links) service.addRunner(link);
    await service.listen();
    service.startFailovers();
    if (options.handleSignals) service.installSignals();
    log.info(
      { links: config.links.length, board: config.board.profile, pid: process.pid },
      'branchlink ready',
    );
    return service;
  }

  // ── Links ────────────────────────────────────────────────────────────────

  private linkHost(): LinkHost {
    return {
      ourName: this.config.name,
      log: this.log,
      authenticator: this.authenticator,
      credentialsFor: (
        user: string | undefined,
        remotename: string | undefined,
      ): PeerCredentials | undefined =>
        user === undefined ? undefined : this.local.credentialsFor(user, remotename),
      ipFactory: (link, sessionId) =>
        this.options.ipFactory
          ? this.options.ipFactory(link, sessionId)
          : tunIpFactory({
              ...(link.ppp.mtu !== undefined ? { mtu: link.ppp.mtu } : {}),
              defaultRoute: link.ppp.defaultroute,
              routes: link.ppp.routes,
              // A backup's routes sit beside its primary's at a worse metric, so both can
              // be up at once and traffic follows the primary while it is there.
              metric: link.backupFor !== undefined ? BACKUP_ROUTE_METRIC : 0,
              onUp: (name, up) =>
                this.log.info(
                  { link: link.name, session: sessionId, interface: name, mtu: up.mtu },
                  'interface up',
                ),
              onRouteError: (prefix, e) =>
                this.log.warn({ link: link.name, prefix, reason: e.message }, 'cannot add route'),
            }),
      onSessionEvent: (link, sessionId, event) => this.sessionEvent(link, sessionId, event),
      observeSession: (_link, _id, session, source) => this.accountingObserver(session, source),
    };
  }

  private addRunner(link: LinkConfig): void {
    const host = this.linkHost();
    let runner: LinkRunner;
    if (link.type === 'dialup') {
      runner =
        link.role === 'dial'
          ? new DialupDialRunner(link, host)
          : new DialupAnswerRunner(link, host);
    } else {
      runner =
        link.role === 'client'
          ? new PptpClientRunner(link, host)
          : new PptpServerRunner(link, host);
    }
    this.runners.set(link.name, runner);
    runner.start();
  }

  private sessionEvent(link: LinkConfig, sessionId: string, event: SessionEvent): void {
    try {
      this.leds.onSessionEvent(groupOf(link), sessionId, event);
    } catch {
      // The indicator never throws by design; a broken board must not touch a link.
    }
    if (event.type === 'phase') this.primaryChanged(link.name);
  }

  /**
   * RADIUS accounting for sessions whose peer we authenticated: Start when IP comes
   * up, Interim-Updates on their own timer, Stop with the terminate cause.
   */
  private accountingObserver(
    session: PppSession,
    source: string,
  ): ((event: CoreEvent) => void) | undefined {
    const accounting = this.accounting;
    if (accounting === undefined) return undefined;
    let user: string | undefined;
    let open: AccountingSession | undefined;
    const counters = () => {
      const c = session.counters;
      return {
        inputOctets: c.ipBytesIn,
        outputOctets: c.ipBytesOut,
        inputPackets: c.ipPacketsIn,
        outputPackets: c.ipPacketsOut,
      };
    };
    return (event) => {
      if (event.type === 'auth-success' && event.role === 'authenticator') user = event.peerName;
      if (event.type === 'ip-up' && user !== undefined && open === undefined) {
        const hints = (
          session.peerDecision as
            | { accounting?: Parameters<RadiusAccounting['start']>[0]['hints'] }
            | undefined
        )?.accounting;
        open = accounting.start(
          {
            userName: user,
            framedIpAddress: event.remoteAddress,
            callingStationId: source,
            ...(hints ? { hints } : {}),
          },
          { counters },
        );
      }
      if (event.type === 'terminated' && open !== undefined) {
        const cause = this.stopping
          ? 'admin-reboot'
          : /^(Killed by administrator|User request)/.test(event.reason)
            ? // An operator ended it here: `sessions kill` or `hangup`.
              'admin-reset'
            : terminateCauseFromReason(event.reason);
        void open.stop(counters(), cause);
        open = undefined;
      }
    };
  }

  // ── Failover: a dial-up link backing up a PPTP client ───────────────────

  /**
   * `previous` and `restarted` come from a reload: the new policies resume from the
   * primary's current state (it may be up already, and no phase event will say so again)
   * and from whether the backup was in use, unless the backup link itself was restarted.
   */
  private startFailovers(
    previous: ReadonlyMap<string, FailoverPolicy> = new Map(),
    restarted: ReadonlySet<string> = new Set(),
  ): void {
    const now = Date.now();
    for (const link of this.config.links) {
      if (link.backupFor === undefined || !link.enabled) continue;
      const failover = link.failover ?? { downSeconds: 30, upSeconds: 60 };
      const primaryUp = this.runners.get(link.backupFor)?.isUp ?? false;
      const backupActive =
        !restarted.has(link.name) && previous.get(link.name)?.backupWanted === true;
      this.failovers.set(link.name, new FailoverPolicy(failover, now, { primaryUp, backupActive }));
    }
    if (this.failovers.size > 0) this.failoverTick = setInterval(() => this.failoverTimers(), 1000);
  }

  private primaryChanged(primaryName: string): void {
    for (const [backupName, policy] of this.failovers) {
      if (this.runners.get(backupName)?.config.backupFor !== primaryName) continue;
      // The policy ignores a report that does not change the primary's state.
      const up = this.runners.get(primaryName)?.isUp ?? false;
      this.applyFailover(backupName, policy.primary(up, Date.now()));
    }
  }

  private failoverTimers(): void {
    for (const [backupName, policy] of this.failovers)
      this.applyFailover(backupName, policy.handleTimeout(Date.now()));
  }

  private applyFailover(
    backupName: string,
    action: 'start-backup' | 'stop-backup' | undefined,
  ): void {
    if (action === undefined) return;
    const backup = this.runners.get(backupName);
    if (!backup) return;
    this.log.info(
      { link: backupName, primary: backup.config.backupFor },
      action === 'start-backup'
        ? 'primary down: dialling the backup'
        : 'primary back: hanging up the backup',
    );
    if (action === 'start-backup') backup.dial();
    else void backup.hangup();
  }

  // ── Secrets events ───────────────────────────────────────────────────────

  private watchSecrets(): void {
    this.store.on((event) => {
      if (event.type === 'reloaded') {
        this.log.info({ count: event.count, file: this.store.file }, 'secrets reloaded');
      } else {
        for (const e of event.errors) this.log.error(formatConfigError(e));
        this.log.error(
          { file: this.store.file },
          'secrets edit refused; the last good secrets stay in use',
        );
        this.leds.onConfigRefused();
      }
    });
    this.lockout.on((event) => {
      if (event.type === 'locked-out') {
        this.log.warn(
          {
            peer: logName(event.peer),
            source: logName(event.source),
            failures: event.failures,
            until: new Date(event.until).toISOString(),
            by: event.by,
          },
          'peer locked out after repeated authentication failures',
        );
        this.leds.onLockout(event.peer);
      } else {
        this.log.info({ by: event.by, key: logName(event.key) }, 'lockout released');
      }
    });
  }

  // ── Control socket ───────────────────────────────────────────────────────

  private async listen(): Promise<void> {
    const path = this.options.socketPath ?? this.config.control.socket;
    const group = this.config.control.group;
    let gid: number | undefined;
    if (group !== undefined) {
      const { execFileSync } = await import('node:child_process');
      try {
        gid = Number(execFileSync('getent', ['group', group], { encoding: 'utf8' }).split(':')[2]);
      } catch {
        this.log.warn({ group }, 'control group does not exist; the socket stays root-only');
      }
    }
    this.control = new ControlServer(
      path,
      (c) => this.command(c),
      gid !== undefined ? { group: gid } : {},
    );
    await this.control.listen();
  }

  private runner(name: string): LinkRunner {
    const r = this.runners.get(name);
    if (!r)
      throw new Error(
        `no link named '${name}' (links: ${[...this.runners.keys()].join(', ') || 'none'})`,
      );
    return r;
  }

  async command(c: ControlCommand): Promise<unknown> {
    switch (c.command) {
      case 'status':
        return this.status();
      case 'dial':
        this.runner(c.link).dial();
        return { ok: true };
      case 'hangup':
        await this.runner(c.link).hangup();
        return { ok: true };
      case 'kill-session':
        for (const r of this.runners.values())
          if (await r.killSession(c.session)) return { ok: true };
        throw new Error(`no session '${c.session}'`);
      case 'capture-start':
        this.runner(c.link).startCapture(c.path);
        return { ok: true, path: c.path };
      case 'capture-stop':
        this.runner(c.link).stopCapture();
        return { ok: true };
      case 'reload':
        return this.reload();
    }
  }

  status(): StatusReport {
    return {
      version: 1,
      service: {
        pid: process.pid,
        startedAt: this.startedAt.toISOString(),
        uptimeSeconds: (Date.now() - this.startedAt.getTime()) / 1000,
        config: this.options.configPath,
        board: this.board,
      },
      links: [...this.runners.values()].map((r) => r.status()),
    };
  }

  // ── Reload and stop ──────────────────────────────────────────────────────

  /** SIGHUP: apply a new configuration; links whose settings did not change stay up. */
  async reload(): Promise<{ ok: boolean; errors?: string[]; restarted?: string[] }> {
    const loaded = loadConfig(this.options.configPath);
    if (!loaded.ok) {
      const errors = loaded.error.map(formatConfigError);
      for (const e of errors) this.log.error(e);
      this.log.error(
        { file: this.options.configPath },
        'configuration edit refused; the running configuration stays',
      );
      this.leds.onConfigRefused();
      return { ok: false, errors };
    }
    const diff = diffConfigs(this.config, loaded.value);
    const restarted: string[] = [];
    for (const name of [...diff.removed, ...diff.changed]) {
      await this.runners.get(name)?.stop('configuration changed');
      this.runners.delete(name);
    }
    this.config = loaded.value;
    for (const name of [...diff.added, ...diff.changed]) {
      const link = this.config.links.find((l) => l.name === name);
      if (link) {
        this.addRunner(link);
        restarted.push(name);
      }
    }
    const previousFailovers = new Map(this.failovers);
    this.failovers.clear();
    if (this.failoverTick) clearInterval(this.failoverTick);
    this.startFailovers(previousFailovers, new Set([...diff.added, ...diff.changed]));
    this.leds.setConfigured([...new Set(this.config.links.filter((l) => l.enabled).map(groupOf))]);
    this.log.info({ restarted, unchanged: diff.unchanged }, 'configuration reloaded');
    return { ok: true, restarted };
  }

  stop(reason = 'shutting down'): Promise<void> {
    this.stopping ??= this.shutdown(reason);
    return this.stopping;
  }

  private async shutdown(reason: string): Promise<void> {
    this.log.info({ reason }, 'stopping');
    if (this.failoverTick) clearInterval(this.failoverTick);
    for (const [signal, handler] of this.signalHandlers) process.off(signal, handler);
    await Promise.all([...this.runners.values()].map((r) => r.stop(reason).catch(() => {})));
    await this.control?.close();
    await this.closeRadius?.();
    await this.store.close();
    this.leds.close();
    this.log.info('stopped');
  }

  private installSignals(): void {
    const on = (signal: NodeJS.Signals, handler: () => void): void => {
      process.on(signal, handler);
      this.signalHandlers.push([signal, handler]);
    };
    on('SIGTERM', () => void this.stop('SIGTERM').then(() => process.exit(0)));
    on('SIGINT', () => void this.stop('SIGINT').then(() => process.exit(0)));
    on('SIGHUP', () => void this.reload());
  }
}
