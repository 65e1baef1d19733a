/**
 * The PPTP server: listens on TCP 1723 (or a configured address/port), accepts control
 * connections and answers Outgoing-Call-Requests, as pptpd does for remote workers and
 * branch routers. Each accepted call is handed to `onCall` as a PppLink; the session
 * driver runs PPP on it (branchlink authenticates the peer and assigns its address).
 *
 * The issue calls this role PNS; in RFC 2637's terms the side that answers
 * Outgoing-Call-Requests is the PAC (pptpd plays it), which is what this server does on
 * the wire. See call.ts.
 *
 * Limits: control connections at once, half-open connections (accepted, no
 * Start-Control-Connection-Request yet; each is closed after `startTimeoutMs`), and calls
 * per control connection (refused with General-Error/No-Resource beyond it).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { type GreTuning, type PptpCallInfo, PptpCallLink } from './call-link.js';
import { PPTP_TCP_PORT, STOP_REASON } from './control.js';
import {
  type CollisionDomain,
  ControlConnection,
  type ControlEvent,
  sharedCollisionDomain,
} from './control-connection.js';
import { ControlSocket, monotonicMs, type PptpLogger, silentLogger } from './control-socket.js';
import { DEFAULT_RECEIVE_WINDOW } from './gre-flow.js';
import { GreTransport } from './gre-transport.js';

export interface PptpServerOptions {
  /** Address to listen on; default "0.0.0.0". */
  readonly listenAddress?: string;
  /** TCP port; default 1723. 0 picks a free port (tests). */
  readonly port?: number;
  /** Control connections at once; default 100. */
  readonly maxControlConnections?: number;
  /** Accepted connections still waiting for their Start-Control-Connection-Request; default 16. */
  readonly maxHalfOpen?: number;
  /** Calls per control connection; default 1 (what pptpd allows and Windows uses). */
  readonly maxCallsPerConnection?: number;
  /** Half-open / start deadline; default 30 s. */
  readonly startTimeoutMs?: number;
  /** Keepalive: Echo-Request after this silence; default 60 s. */
  readonly echoIntervalMs?: number;
  /** Keepalive: Echo-Reply deadline; default 60 s. */
  readonly echoTimeoutMs?: number;
  /** A connection with no call for this long is stopped; default 60 s. */
  readonly idleTimeoutMs?: number;
  /** Packet Recv. Window Size we announce; default DEFAULT_RECEIVE_WINDOW (512). */
  readonly receiveWindow?: number;
  /** Packet Processing Delay we announce (1/10 s); default 0. */
  readonly processingDelay?: number;
  readonly hostName?: string;
  readonly vendor?: string;
  /** Path MTU towards clients, for maxFrame; default 1500. */
  readonly pathMtu?: number;
  readonly gre?: GreTuning;
  /** Default: the process-wide raw GRE socket. */
  readonly transport?: GreTransport;
  readonly collision?: CollisionDomain;
  readonly log?: PptpLogger;
  /** Log every control message pppd-style at debug level. */
  readonly trace?: boolean;
  readonly clock?: () => number;
  /** A call came up: run PPP on `link`. */
  readonly onCall: (link: PptpCallLink, info: PptpCallInfo) => void;
}

export interface PptpServerStats {
  controlConnections: number;
  halfOpen: number;
  calls: number;
  /** TCP connections refused by the connection or half-open limit. */
  refusedConnections: number;
  callsAccepted: number;
  callsRefused: number;
}

interface Conn {
  readonly driver: ControlSocket;
  readonly links: Map<number, PptpCallLink>;
  halfOpen: boolean;
}

export class PptpServer {
  private readonly o: PptpServerOptions;
  private readonly server: Server;
  private readonly conns = new Set<Conn>();
  private readonly transport: GreTransport;
  private readonly log: PptpLogger;
  private readonly clock: () => number;
  private halfOpenCount = 0;
  private readonly statsValue = { refusedConnections: 0, callsAccepted: 0, callsRefused: 0 };

  constructor(options: PptpServerOptions) {
    this.o = options;
    this.transport = options.transport ?? GreTransport.shared();
    this.log = options.log ?? silentLogger;
    this.clock = options.clock ?? monotonicMs;
    this.server = createServer((socket) => this.accept(socket));
  }

  /** Starts listening; resolves with the bound address and port. */
  listen(): Promise<{ address: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.port ?? PPTP_TCP_PORT, this.o.listenAddress ?? '0.0.0.0', () => {
        this.server.off('error', reject);
        const a = this.server.address();
        if (a === null || typeof a === 'string')
          reject(new Error('listening socket has no address'));
        else {
          this.log.info(`pptp: listening on ${a.address}:${a.port}`);
          resolve({ address: a.address, port: a.port });
        }
      });
    });
  }

  get stats(): PptpServerStats {
    let calls = 0;
    for (const c of this.conns) calls += c.links.size;
    return {
      controlConnections: this.conns.size,
      halfOpen: this.halfOpenCount,
      calls,
      ...this.statsValue,
    };
  }

  /**
   * Stops listening and closes every control connection politely (Call-Disconnect-Notify
   * for each call, Stop-Control-Connection-Request with Stop-Local-Shutdown), waiting at
   * most `stopReplyTimeoutMs` (10 s) for the peers.
   */
  async close(reason = 'server shutting down'): Promise<void> {
    // net.Server.close calls back only once every connection is gone: start it, stop
    // the connections, then wait for both.
    const listening = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const closing: Promise<void>[] = [listening];
    for (const c of this.conns) {
      c.driver.act((conn, now) => conn.stop(now, reason, STOP_REASON['Stop-Local-Shutdown']));
      closing.push(c.driver.closed);
    }
    await Promise.all(closing);
  }

  /**
   * Kicks peers: resets (TCP RST, no goodbye) every control connection from
   * `peerAddress`, or every one when it is undefined; their calls go down at once.
   * Returns how many connections were reset.
   */
  resetConnections(reason: string, peerAddress?: string): number {
    let n = 0;
    for (const c of [...this.conns]) {
      const from = c.driver.socket.remoteAddress;
      if (peerAddress !== undefined && from !== peerAddress && from !== `::ffff:${peerAddress}`)
        continue;
      c.driver.destroy(reason);
      n++;
    }
    return n;
  }

  private accept(socket: Socket): void {
    const peer = socket.remoteAddress ?? '?';
    const max = this.o.maxControlConnections ?? 100;
    const maxHalfOpen = this.o.maxHalfOpen ?? 16;
    if (this.conns.size >= max || this.halfOpenCount >= maxHalfOpen) {
      this.statsValue.refusedConnections++;
      this.log.warn(
        `pptp: refused TCP connection from ${peer}: ${this.conns.size}/${max} connections, ${this.halfOpenCount}/${maxHalfOpen} half-open`,
      );
      socket.resetAndDestroy();
      return;
    }
    const now = this.clock();
    const connection = new ControlConnection(
      {
        role: 'server',
        localAddress: socket.localAddress,
        peerAddress: socket.remoteAddress,
        hostName: this.o.hostName,
        vendor: this.o.vendor,
        startTimeoutMs: this.o.startTimeoutMs,
        echoIntervalMs: this.o.echoIntervalMs,
        echoTimeoutMs: this.o.echoTimeoutMs,
        idleTimeoutMs: this.o.idleTimeoutMs,
        maxCalls: this.o.maxCallsPerConnection ?? 1,
        receiveWindow: this.o.receiveWindow,
        processingDelay: this.o.processingDelay,
        callIds: this.transport.callIds,
        collision: this.o.collision ?? sharedCollisionDomain,
        trace: this.o.trace,
      },
      now,
    );
    // Events only flow from pump(), after `conn` is assigned below.
    let conn: Conn | undefined;
    const driver = new ControlSocket(socket, connection, (e) => conn && this.onEvent(conn, e), {
      clock: this.clock,
      log: this.log,
    });
    conn = { driver, links: new Map(), halfOpen: true };
    this.halfOpenCount++;
    this.conns.add(conn);
    this.log.debug(`pptp: TCP connection from ${peer}:${socket.remotePort}`);
    driver.pump();
  }

  private onEvent(conn: Conn, e: ControlEvent): void {
    const sock = conn.driver.socket;
    const peer = sock.remoteAddress ?? '?';
    switch (e.type) {
      case 'established':
        this.leaveHalfOpen(conn);
        this.log.info(
          `pptp: control connection from ${peer} up (host ${JSON.stringify(e.peer.hostName)}, vendor ${JSON.stringify(e.peer.vendor)})`,
        );
        return;
      case 'call-up': {
        if (this.transport.unavailable !== undefined) {
          this.log.warn(`pptp: refusing the call from ${peer}: ${this.transport.unavailable}`);
          void this.clearCall(conn, e.call.callId, 'no GRE socket');
          return;
        }
        this.statsValue.callsAccepted++;
        const info: PptpCallInfo = {
          role: 'server',
          peerAddress: peer,
          peerPort: sock.remotePort ?? 0,
          localAddress: sock.localAddress ?? '?',
          localPort: sock.localPort ?? 0,
          call: e.call,
          peerHostName: conn.driver.connection.peer?.hostName ?? '',
          peerVendor: conn.driver.connection.peer?.vendor ?? '',
        };
        const link = new PptpCallLink({
          info,
          transport: this.transport,
          receiveWindow: this.o.receiveWindow ?? DEFAULT_RECEIVE_WINDOW,
          gre: this.o.gre,
          pathMtu: this.o.pathMtu,
          clock: this.clock,
          clear: (reason) => this.clearCall(conn, e.call.callId, reason),
        });
        conn.links.set(e.call.callId, link);
        this.log.info(
          `pptp: ${link.description} up (peer call ${e.call.peerCallId}, window ${e.call.peerReceiveWindow})`,
        );
        try {
          this.o.onCall(link, info);
        } catch (error) {
          this.log.warn(`pptp: onCall threw for ${link.description}: ${String(error)}`);
          void link.close('call handler failed');
        }
        return;
      }
      case 'call-down': {
        const link = conn.links.get(e.callId);
        conn.links.delete(e.callId);
        if (!e.established) this.statsValue.callsRefused++;
        this.log.info(`pptp: ${peer} call ${e.callId} down: ${e.reason}`);
        link?.down(e.reason);
        return;
      }
      case 'link-info':
        this.log.debug(
          `pptp: ${peer} call ${e.callId} Set-Link-Info send-accm 0x${e.sendAccm.toString(16)} recv-accm 0x${e.receiveAccm.toString(16)} (ignored: synchronous PPP)`,
        );
        return;
      case 'wan-error':
        this.log.warn(
          `pptp: ${peer} call ${e.callId} WAN-Error-Notify #${e.counts.notifications}: crc ${e.counts.crcErrors} framing ${e.counts.framingErrors} overruns ${e.counts.hardwareOverruns}/${e.counts.bufferOverruns} timeouts ${e.counts.timeoutErrors} alignment ${e.counts.alignmentErrors}`,
        );
        return;
      case 'warning':
        this.log.warn(`pptp: ${peer}: ${e.message}`);
        return;
      case 'packet':
        this.log.debug(`pptp ${peer}: ${e.line}`);
        return;
      case 'closed':
        this.leaveHalfOpen(conn);
        this.conns.delete(conn);
        for (const link of conn.links.values()) link.down(`control connection closed: ${e.reason}`);
        conn.links.clear();
        this.log.info(`pptp: control connection from ${peer} closed: ${e.reason}`);
        return;
    }
  }

  private leaveHalfOpen(conn: Conn): void {
    if (!conn.halfOpen) return;
    conn.halfOpen = false;
    this.halfOpenCount--;
  }

  /** Local hang-up of an incoming call: Call-Disconnect-Notify, then Stop if it was the last. */
  private async clearCall(conn: Conn, callId: number, reason: string): Promise<void> {
    conn.driver.act((c, now) => {
      c.clearCall(callId, now, reason);
      // MS-PTPT §3.2.4: with no call left, the PAC closes the control connection.
      if (c.callCount === 0) c.stop(now, `last call closed: ${reason}`);
    });
  }
}
