/**
 * The PPTP client: the branch router dialling head office. It opens the TCP control
 * connection, sends the Start-Control-Connection-Request and an Outgoing-Call-Request, as
 * pptp-linux does against pptpd, and hands the established call back as a PppLink.
 *
 * The issue calls this role PAC; on the wire it is the side that places the
 * Outgoing-Call-Request (RFC 2637's PNS; pptp-linux plays it). See call.ts.
 *
 * One call per control connection: when the call ends the control connection is stopped,
 * and when the control connection dies the call is reported down. Reconnecting (with
 * backoff) is the supervisor's job: `dialPptp` rejects with a `PptpDialError` whose
 * `kind` says which stage failed, and `link.whenDown()` / `onDown` say when to redial.
 */
import { connect, type Socket } from 'node:net';
import { EarlyGre, type GreTuning, type PptpCallInfo, PptpCallLink } from './call-link.js';
import { PPTP_TCP_PORT } from './control.js';
import {
  type CollisionDomain,
  ControlConnection,
  type ControlEvent,
  sharedCollisionDomain,
} from './control-connection.js';
import { ControlSocket, monotonicMs, type PptpLogger, silentLogger } from './control-socket.js';
import { DEFAULT_RECEIVE_WINDOW } from './gre-flow.js';
import { GreTransport } from './gre-transport.js';

export interface PptpClientOptions {
  /** Server address (IPv4 literal or host name). */
  readonly server: string;
  /** Default 1723. */
  readonly port?: number;
  /** Local address to connect from (multi-homed routers). */
  readonly localAddress?: string;
  /** TCP connect deadline; default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Start-Control-Connection-Reply deadline; default 30 s. */
  readonly startTimeoutMs?: number;
  /** Outgoing-Call-Reply deadline; default 60 s. */
  readonly callReplyTimeoutMs?: number;
  readonly echoIntervalMs?: number;
  readonly echoTimeoutMs?: number;
  readonly callClearTimeoutMs?: number;
  readonly stopReplyTimeoutMs?: number;
  /** Packet Recv. Window Size we announce; default DEFAULT_RECEIVE_WINDOW (512). */
  readonly receiveWindow?: number;
  readonly processingDelay?: number;
  readonly hostName?: string;
  readonly vendor?: string;
  /** Phone Number of the Outgoing-Call-Request (pptp-linux's --phone); default empty. */
  readonly phoneNumber?: string;
  readonly subaddress?: string;
  /** Path MTU towards the server, for maxFrame; default 1500. */
  readonly pathMtu?: number;
  readonly gre?: GreTuning;
  /** Default: the process-wide raw GRE socket. */
  readonly transport?: GreTransport;
  readonly collision?: CollisionDomain;
  readonly log?: PptpLogger;
  readonly trace?: boolean;
  readonly clock?: () => number;
  /** Aborts a dial in progress (the link, once returned, is closed with link.close). */
  readonly signal?: AbortSignal;
}

/** Which stage of a dial failed: what a supervisor logs and backs off on. */
export type PptpDialStage =
  /** TCP connect failed or timed out (server down, port filtered). */
  | 'connect'
  /** The control connection did not come up (refused, timed out, version, collision). */
  | 'start'
  /** The Outgoing-Call-Request was refused or timed out, or the connection died meanwhile. */
  | 'call'
  /** The call came up but GRE cannot flow (no raw socket: CAP_NET_RAW missing). */
  | 'gre'
  | 'aborted';

export class PptpDialError extends Error {
  readonly stage: PptpDialStage;
  constructor(stage: PptpDialStage, message: string) {
    super(message);
    this.name = 'PptpDialError';
    this.stage = stage;
  }
}

/**
 * Dials the server and resolves with the established call as a PppLink. The link reports
 * down once (onDown / whenDown) when the call is cleared or its control connection dies.
 */
export function dialPptp(options: PptpClientOptions): Promise<PptpCallLink> {
  const transport = options.transport ?? GreTransport.shared();
  const log = options.log ?? silentLogger;
  const clock = options.clock ?? monotonicMs;
  const port = options.port ?? PPTP_TCP_PORT;
  const target = `${options.server}:${port}`;

  return new Promise<PptpCallLink>((resolve, reject) => {
    let settled = false;
    let driver: ControlSocket | undefined;
    let link: PptpCallLink | undefined;
    let established = false;
    /** GRE of our call read before its Outgoing-Call-Reply (call-link.ts). */
    let early: { callId: number; receiver: EarlyGre } | undefined;
    const dropEarly = () => {
      if (early !== undefined) transport.unregister(early.callId, early.receiver);
      early = undefined;
    };

    const fail = (stage: PptpDialStage, message: string) => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener('abort', onAbort);
      reject(new PptpDialError(stage, `pptp ${target}: ${message}`));
    };
    const onAbort = () => {
      if (driver !== undefined) driver.destroy('dial aborted');
      else socket.destroy();
      fail('aborted', 'dial aborted');
    };
    if (options.signal?.aborted === true) {
      reject(new PptpDialError('aborted', `pptp ${target}: dial aborted`));
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const socket: Socket = connect({
      host: options.server,
      port,
      localAddress: options.localAddress,
    });
    const connectTimer = setTimeout(() => {
      socket.destroy();
      fail(
        'connect',
        `TCP connect timed out after ${(options.connectTimeoutMs ?? 10_000) / 1000} s`,
      );
    }, options.connectTimeoutMs ?? 10_000);
    socket.once('error', (error) => {
      clearTimeout(connectTimer);
      if (driver === undefined) fail('connect', `TCP connect failed: ${error.message}`);
    });

    socket.once('connect', () => {
      clearTimeout(connectTimer);
      const connection = new ControlConnection(
        {
          role: 'client',
          localAddress: socket.localAddress,
          peerAddress: socket.remoteAddress,
          hostName: options.hostName,
          vendor: options.vendor,
          startTimeoutMs: options.startTimeoutMs,
          callReplyTimeoutMs: options.callReplyTimeoutMs,
          callClearTimeoutMs: options.callClearTimeoutMs,
          stopReplyTimeoutMs: options.stopReplyTimeoutMs,
          echoIntervalMs: options.echoIntervalMs,
          echoTimeoutMs: options.echoTimeoutMs,
          maxCalls: 1,
          receiveWindow: options.receiveWindow,
          processingDelay: options.processingDelay,
          callIds: transport.callIds,
          collision: options.collision ?? sharedCollisionDomain,
          trace: options.trace,
        },
        clock(),
      );
      const d = new ControlSocket(socket, connection, (e) => onEvent(e), { clock, log });
      driver = d;
      log.debug(`pptp: connected to ${target}`);
      d.act((c, now) => c.start(now));

      function onEvent(e: ControlEvent): void {
        switch (e.type) {
          case 'established': {
            established = true;
            log.info(
              `pptp: control connection to ${target} up (host ${JSON.stringify(e.peer.hostName)}, vendor ${JSON.stringify(e.peer.vendor)})`,
            );
            const placed = d.act((c, now) =>
              c.placeCall(now, {
                phoneNumber: options.phoneNumber,
                subaddress: options.subaddress,
              }),
            );
            if (!placed.ok) {
              d.act((c, now) => c.stop(now, `cannot place call: ${placed.error.reason}`));
              fail('call', placed.error.reason);
              return;
            }
            early = { callId: placed.value, receiver: new EarlyGre() };
            transport.register(
              placed.value,
              socket.remoteAddress ?? options.server,
              early.receiver,
            );
            return;
          }
          case 'call-up': {
            if (transport.unavailable !== undefined) {
              // The control connection and the call worked; the data cannot: say so.
              dropEarly();
              const why = transport.unavailable;
              d.act((c, now) => c.clearCall(e.call.callId, now, 'no GRE socket'));
              fail('gre', why);
              return;
            }
            const info: PptpCallInfo = {
              role: 'client',
              peerAddress: socket.remoteAddress ?? options.server,
              peerPort: socket.remotePort ?? port,
              localAddress: socket.localAddress ?? '?',
              localPort: socket.localPort ?? 0,
              call: e.call,
              peerHostName: d.connection.peer?.hostName ?? '',
              peerVendor: d.connection.peer?.vendor ?? '',
            };
            const l = new PptpCallLink({
              info,
              transport,
              receiveWindow: options.receiveWindow ?? DEFAULT_RECEIVE_WINDOW,
              gre: options.gre,
              pathMtu: options.pathMtu,
              clock,
              early: early?.callId === e.call.callId ? early.receiver.packets : [],
              clear: async (reason) => {
                d.act((c, now) => c.clearCall(e.call.callId, now, reason));
                await d.closed;
              },
            });
            link = l;
            // The link registered itself under its Call ID, so this releases nothing it uses.
            dropEarly();
            log.info(
              `pptp: ${l.description} up (peer call ${e.call.peerCallId}, window ${e.call.peerReceiveWindow})`,
            );
            if (settled) {
              // Aborted meanwhile: hang up.
              void l.close('dial aborted');
              return;
            }
            settled = true;
            options.signal?.removeEventListener('abort', onAbort);
            resolve(l);
            return;
          }
          case 'call-down':
            dropEarly();
            log.info(`pptp: ${target} call ${e.callId} down: ${e.reason}`);
            if (link !== undefined) link.down(e.reason);
            else fail('call', e.reason);
            // One call per control connection: stop it once the call is gone.
            d.act((c, now) => c.stop(now, `call down: ${e.reason}`));
            return;
          case 'closed':
            dropEarly();
            log.info(`pptp: control connection to ${target} closed: ${e.reason}`);
            link?.down(`control connection closed: ${e.reason}`);
            fail(established ? 'call' : 'start', e.reason);
            return;
          case 'link-info':
            log.debug(`pptp: ${target} Set-Link-Info ignored (synchronous PPP)`);
            return;
          case 'wan-error':
            log.warn(
              `pptp: ${target} call ${e.callId} WAN-Error-Notify #${e.counts.notifications}`,
            );
            return;
          case 'warning':
            log.warn(`pptp: ${target}: ${e.message}`);
            return;
          case 'packet':
            log.debug(`pptp ${target}: ${e.line}`);
            return;
        }
      }
    });
  });
}
