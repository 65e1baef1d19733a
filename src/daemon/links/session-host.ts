/**
 * What every link runner needs from the service, and the one function that turns a
 * ready PppLink into a running, tracked session. Shared by dial-up and PPTP.
 */
import type { Authenticator, PeerCredentials } from '../../ppp/auth/authenticator.js';
import type { SessionEvent } from '../../ppp/events.js';
import { PppSession } from '../../ppp/session.js';
import type { PppLink } from '../../runtime/link.js';
import { type IpInterfaceFactory, SessionDriver } from '../../runtime/session-driver.js';
import { PcapWriter } from '../capture.js';
import type { LinkConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { buildSessionConfig } from '../session-config.js';
import { SessionTracker } from '../session-tracker.js';

export interface LinkHost {
  readonly ourName: string;
  readonly log: Logger;
  readonly authenticator: Authenticator;
  /** Our credentials when a peer authenticates us (secrets file: client=user, server=remotename). */
  credentialsFor(
    user: string | undefined,
    remotename: string | undefined,
  ): PeerCredentials | undefined;
  /** The IP side of a session (a TUN device in production). */
  ipFactory(link: LinkConfig, sessionId: string): IpInterfaceFactory | undefined;
  /** Every session event, for LEDs and the supervisor. */
  onSessionEvent(link: LinkConfig, sessionId: string, event: SessionEvent): void;
  /** A per-session observer (RADIUS accounting), made when the session starts. */
  observeSession?(
    link: LinkConfig,
    sessionId: string,
    session: PppSession,
    source: string,
  ): ((event: SessionEvent) => void) | undefined;
}

export interface RunningSession {
  readonly id: string;
  readonly driver: SessionDriver;
  readonly tracker: SessionTracker;
  /** Resolves with the reason once the session is Dead and the link released. */
  readonly finished: Promise<string>;
  /** A capture started with `branchlink capture`, if any. */
  capture: PcapWriter | undefined;
  /** The link's configured capture (`ppp.capture`), independent of the command's. */
  readonly configuredCapture: PcapWriter | undefined;
}

export interface LaunchOptions {
  readonly id: string;
  readonly assignedRemote?: string;
  readonly defaultLocal?: string;
  readonly async: boolean;
  /** The runner's own view of the session's events (after tracking and logging). */
  readonly onEvent?: (event: SessionEvent) => void;
}

/** Start PPP on a link that is up. Throws only for a configuration error (bad MPPE tokens). */
export function launchSession(
  host: LinkHost,
  link: LinkConfig,
  ppp: PppLink,
  options: LaunchOptions,
): RunningSession {
  const credentials = host.credentialsFor(link.ppp.user, link.ppp.remotename);
  const config = buildSessionConfig({
    ourName: host.ourName,
    ppp: link.ppp,
    async: options.async,
    ...(credentials ? { credentials } : {}),
    source: ppp.source,
    ...(options.assignedRemote ? { assignedRemote: options.assignedRemote } : {}),
    ...(options.defaultLocal ? { defaultLocal: options.defaultLocal } : {}),
  });
  if (!config.ok) throw new Error(`link '${link.name}': ${config.error.reason}`);
  const session = new PppSession(config.value);
  const tracker = new SessionTracker(options.id, ppp.source, session);
  const log = host.log.child({ link: link.name, session: options.id });
  let resolveFinished: (reason: string) => void = () => {};
  const finished = new Promise<string>((resolve) => {
    resolveFinished = resolve;
  });
  const ipFactory = host.ipFactory(link, options.id);
  const observer = host.observeSession?.(link, options.id, session, ppp.source);
  const driver = new SessionDriver({
    session,
    link: ppp,
    authenticator: host.authenticator,
    ...(ipFactory ? { openIp: ipFactory } : {}),
    tap: (direction, frame) => {
      running.capture?.write(direction, frame);
      running.configuredCapture?.write(direction, frame);
    },
    onEvent: (event) => {
      tracker.observe(event);
      logEvent(log, event);
      host.onSessionEvent(link, options.id, event);
      observer?.(event);
      options.onEvent?.(event);
    },
    onIpError: (error) => log.error({ err: error.message }, 'cannot bring up the IP interface'),
    onFinished: (reason) => {
      running.capture?.close();
      running.configuredCapture?.close();
      resolveFinished(reason);
    },
  });
  // The callbacks above run only after start(), when `running` exists.
  const running: RunningSession = {
    id: options.id,
    tracker,
    finished,
    driver,
    // Every session of the link adds to the configured file (a redial must not erase
    // the frames that show why the last session ended).
    capture: undefined,
    configuredCapture: link.ppp.capture
      ? new PcapWriter(link.ppp.capture, { append: true })
      : undefined,
  };
  log.info({ via: ppp.description }, 'starting PPP');
  driver.start();
  return running;
}

function logEvent(log: Logger, event: SessionEvent): void {
  switch (event.type) {
    case 'packet':
      // The core emits packet lines only for links with `debug` on; logging them at
      // debug level would hide them behind the service's `log.level` (info by default),
      // so the per-link switch would seem to do nothing.
      log.info(`${event.line}`);
      break;
    case 'phase':
      log.info({ phase: event.phase }, `phase ${event.phase}`);
      break;
    case 'auth-success':
      log.info(
        { method: event.method, peer: event.peerName, role: event.role },
        'authentication succeeded',
      );
      break;
    case 'auth-failure':
      log.warn(
        { method: event.method, peer: event.peerName, role: event.role, reason: event.reason },
        'authentication failed',
      );
      break;
    case 'ip-up':
      log.info({ local: event.localAddress, remote: event.remoteAddress, dns: event.dns }, 'IP up');
      break;
    case 'ip-down':
      log.info('IP down');
      break;
    case 'mppe-up':
      log.info({ bits: event.bits, stateful: event.stateful }, 'MPPE up');
      break;
    case 'keepalive-lost':
      log.warn({ missed: event.missed }, 'peer stopped answering LCP echoes');
      break;
    case 'terminated':
      log.info({ reason: event.reason }, 'session ended');
      break;
    default:
      break;
  }
}
