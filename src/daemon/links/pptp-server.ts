/**
 * A PPTP server (pptpd's role) for remote workers: every call is its own PPP
 * session that authenticates the peer and hands it an address from the pool.
 */
import { PptpServer } from '../../pptp/pns.js';
import { parsePool } from '../../secrets/address-spec.js';
import { AddressPool } from '../address-pool.js';
import { PcapWriter } from '../capture.js';
import type { PptpServerLinkConfig } from '../config.js';
import type { LinkStatus } from '../status.js';
import { baseStatus, type LinkRunner } from './runner.js';
import { type LinkHost, launchSession, type RunningSession } from './session-host.js';

const PHASE_RANK = { dead: 0, terminate: 1, establish: 2, authenticate: 3, network: 4 } as const;

export class PptpServerRunner implements LinkRunner {
  private server: PptpServer | undefined;
  private readonly sessions = new Map<string, RunningSession>();
  private readonly pool: AddressPool;
  private nextId = 1;
  private lastError: string | null = null;
  private captureWanted: string | undefined;
  private stopped = false;

  constructor(
    readonly config: PptpServerLinkConfig,
    private readonly host: LinkHost,
  ) {
    const [first, last] = poolBounds(config.pool);
    const reserved = [config.ppp.localAddress ?? first];
    this.pool = AddressPool.fromRange(first, last, reserved);
  }

  get isUp(): boolean {
    for (const s of this.sessions.values()) if (s.tracker.phase === 'network') return true;
    return false;
  }

  start(): void {
    if (!this.config.enabled) return;
    void this.listen();
  }

  private async listen(): Promise<void> {
    const log = this.host.log.child({ link: this.config.name });
    const server = new PptpServer({
      listenAddress: this.config.listen,
      port: this.config.port,
      maxControlConnections: this.config.maxConnections,
      maxCallsPerConnection: this.config.maxCallsPerConnection,
      maxHalfOpen: this.config.maxHalfOpen,
      startTimeoutMs: this.config.handshakeTimeout * 1000,
      hostName: this.host.ourName,
      trace: this.config.ppp.debug,
      log: {
        // With ppp.debug the control-message trace shows at the default level, as PPP's does.
        debug: (m: string) => (this.config.ppp.debug ? log.info(m) : log.debug(m)),
        info: (m: string) => log.info(m),
        warn: (m: string) => log.warn(m),
      },
      onCall: (link) => {
        const address = this.pool.allocate();
        if (address === undefined) {
          log.warn({ peer: link.source }, 'address pool exhausted: refusing the call');
          void link.close('address pool exhausted');
          return;
        }
        const id = `${this.config.name}-${this.nextId++}`;
        let running: RunningSession;
        try {
          running = launchSession(this.host, this.config, link, {
            id,
            async: false,
            assignedRemote: address,
            ...(this.config.ppp.localAddress
              ? {}
              : { defaultLocal: firstOfPool(this.config.pool) }),
          });
        } catch (e) {
          this.pool.release(address);
          this.lastError = e instanceof Error ? e.message : String(e);
          void link.close('configuration error');
          return;
        }
        if (this.captureWanted && !running.capture)
          running.capture = new PcapWriter(this.captureWanted, { append: true });
        this.sessions.set(id, running);
        void running.finished.then(() => {
          this.sessions.delete(id);
          this.pool.release(address);
        });
      },
    });
    try {
      await server.listen();
      if (this.stopped) {
        await server.close('shutting down');
        return;
      }
      this.server = server;
      log.info({ listen: `${this.config.listen}:${this.config.port}` }, 'PPTP server listening');
    } catch (e) {
      this.lastError = `cannot listen on ${this.config.listen}:${this.config.port}: ${e instanceof Error ? e.message : String(e)}`;
      log.error({ reason: this.lastError }, 'PPTP server did not start');
    }
  }

  dial(): void {
    throw new Error(`link '${this.config.name}' is a PPTP server: it answers, it does not dial`);
  }

  async hangup(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => s.driver.stop('User request')));
  }

  async stop(reason: string): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.sessions.values()].map((s) => s.driver.stop(reason)));
    await this.server?.close(reason);
    this.server = undefined;
  }

  async killSession(id: string): Promise<boolean> {
    const s = this.sessions.get(id);
    if (!s) return false;
    await s.driver.stop('Killed by administrator');
    return true;
  }

  startCapture(path: string): void {
    // One fresh file for every call, those already up included: each appends its frames.
    new PcapWriter(path).close();
    this.captureWanted = path;
    for (const s of this.sessions.values())
      if (!s.capture) s.capture = new PcapWriter(path, { append: true });
  }

  stopCapture(): void {
    this.captureWanted = undefined;
    for (const s of this.sessions.values()) {
      s.capture?.close();
      s.capture = undefined;
    }
  }

  status(): LinkStatus {
    const sessions = [...this.sessions.values()].map((s) => s.tracker.status());
    const base = baseStatus(this.config, `${this.config.listen}:${this.config.port}`);
    let phase = base.phase;
    for (const s of sessions) if (PHASE_RANK[s.phase] > PHASE_RANK[phase]) phase = s.phase;
    const up = sessions.filter((s) => s.phase === 'network').length;
    const sum = (k: 'bytesIn' | 'bytesOut' | 'packetsIn' | 'packetsOut') =>
      sessions.reduce((n, s) => n + s[k], 0);
    return {
      ...base,
      phase,
      peer: `${up} of ${sessions.length} sessions up`,
      localIp: this.config.ppp.localAddress ?? firstOfPool(this.config.pool),
      lastError: this.server === undefined && this.config.enabled ? this.lastError : null,
      bytesIn: sum('bytesIn'),
      bytesOut: sum('bytesOut'),
      packetsIn: sum('packetsIn'),
      packetsOut: sum('packetsOut'),
      sessions,
    };
  }
}

function poolBounds(pool: string): [string, string] {
  const parsed = parsePool(pool);
  // config.ts validated the pool already; this only guards against a hand-built config.
  if (!parsed.ok) throw new Error(`pool '${pool}': ${parsed.reason}`);
  return [parsed.value.firstText, parsed.value.lastText];
}

/** Without a configured localAddress the server takes the pool's first address as its own. */
function firstOfPool(pool: string): string {
  return poolBounds(pool)[0];
}
