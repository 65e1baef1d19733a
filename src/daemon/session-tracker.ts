/**
 * Follows one session's events and counters to answer `status`: phase, peer,
 * addresses, method, MPPE, uptime, traffic, and why it last ended.
 */
import type { AuthMethod, Phase, SessionEvent } from '../ppp/events.js';
import type { PppSession } from '../ppp/session.js';
import type { SessionStatus } from './status.js';

export class SessionTracker {
  phase: Phase = 'dead';
  peer: string | null = null;
  localIp: string | null = null;
  remoteIp: string | null = null;
  authMethod: AuthMethod | null = null;
  mppe: string | null = null;
  networkSince: number | null = null;
  lastReason: string | null = null;
  authFailure: string | null = null;
  readonly startedAt = Date.now();

  constructor(
    readonly id: string,
    readonly source: string,
    private readonly session: PppSession,
  ) {}

  observe(event: SessionEvent): void {
    switch (event.type) {
      case 'phase':
        this.phase = event.phase;
        if (event.phase === 'network') this.networkSince = Date.now();
        if (event.previous === 'network') this.networkSince = null;
        break;
      case 'auth-success':
        this.authMethod = event.method;
        if (event.role === 'authenticator' || this.peer === null) this.peer = event.peerName;
        break;
      case 'auth-failure':
        this.authMethod = event.method;
        this.authFailure = `${event.role === 'authenticator' ? `peer '${event.peerName}'` : 'we'} failed ${event.method}: ${event.reason}`;
        break;
      case 'ip-up':
        this.localIp = event.localAddress;
        this.remoteIp = event.remoteAddress;
        break;
      case 'ip-down':
        this.localIp = null;
        this.remoteIp = null;
        break;
      case 'mppe-up':
        {
          const mode = (d: { bits: number; stateful: boolean }) =>
            `${d.bits}-bit ${d.stateful ? 'stateful' : 'stateless'}`;
          const send = mode(event);
          const recv = mode(event.recv);
          this.mppe = send === recv ? send : `send ${send}, receive ${recv}`;
        }
        break;
      case 'terminated':
        this.lastReason = event.reason;
        this.mppe = null;
        break;
      default:
        break;
    }
  }

  get uptimeSeconds(): number | null {
    return this.networkSince === null ? null : (Date.now() - this.networkSince) / 1000;
  }

  get counters(): { bytesIn: number; bytesOut: number; packetsIn: number; packetsOut: number } {
    const c = this.session.counters;
    return {
      bytesIn: c.ipBytesIn,
      bytesOut: c.ipBytesOut,
      packetsIn: c.ipPacketsIn,
      packetsOut: c.ipPacketsOut,
    };
  }

  status(): SessionStatus {
    return {
      id: this.id,
      phase: this.phase,
      peer: this.peer,
      source: this.source,
      localIp: this.localIp,
      remoteIp: this.remoteIp,
      authMethod: this.authMethod,
      mppe: this.mppe,
      uptimeSeconds: (Date.now() - this.startedAt) / 1000,
      ...this.counters,
    };
  }
}
