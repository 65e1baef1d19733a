/**
 * IPCP (RFC 1332) with the DNS extensions of RFC 1877, as an option table for the
 * shared automaton. As the side that knows the peer's address (server) we Nak the
 * peer's IP-Address with the assigned one; as a client we request 0.0.0.0 and take
 * the address the server Naks back. Van Jacobson compression is rejected.
 */
import type { FsmHandler, RequestVerdict } from './fsm.js';
import { type ConfigOption, option, rejectNamesOurOptions, u32 } from './packet.js';
import { Protocol } from './protocol.js';

export const IpcpOption = {
  IP_ADDRESSES: 1,
  IP_COMPRESSION_PROTOCOL: 2,
  IP_ADDRESS: 3,
  PRIMARY_DNS: 129,
  PRIMARY_NBNS: 130,
  SECONDARY_DNS: 131,
  SECONDARY_NBNS: 132,
} as const;

export interface IpcpConfig {
  /** Our address; 0 asks the peer to assign one. */
  readonly localAddress: number;
  /** The address the peer must use; 0 accepts the peer's own choice. */
  readonly remoteAddress: number;
  /** DNS servers we hand to the peer (ms-dns), at most two. */
  readonly dns: readonly number[];
  /** Ask the peer for DNS servers (pppd usepeerdns). */
  readonly requestDns: boolean;
}

export interface IpcpNegotiated {
  localAddress: number;
  remoteAddress: number;
  /** DNS servers the peer gave us. */
  dns: number[];
}

export interface IpcpEvents {
  up(negotiated: IpcpNegotiated): void;
  down(): void;
  finished(reason: string): void;
}

export class IpcpHandler implements FsmHandler {
  readonly name = 'IPCP';
  readonly protocol = Protocol.IPCP;
  private wantAddress = 0;
  private sendAddress = true;
  private wantDns: [number | undefined, number | undefined] = [undefined, undefined];
  private peerAddress = 0;
  private suggestedAddress = false;
  /** Overrides the configured remote address (RADIUS Framed-IP-Address, the secret's entry). */
  assignedRemote = 0;
  readonly negotiated: IpcpNegotiated = { localAddress: 0, remoteAddress: 0, dns: [] };

  constructor(
    private readonly config: IpcpConfig,
    private readonly events: IpcpEvents,
  ) {
    this.resetOptions();
  }

  private get remote(): number {
    return this.assignedRemote || this.config.remoteAddress;
  }

  resetOptions(): void {
    this.wantAddress = this.config.localAddress;
    this.sendAddress = true;
    this.wantDns = this.config.requestDns ? [0, 0] : [undefined, undefined];
    this.peerAddress = 0;
    this.suggestedAddress = false;
  }

  ourOptions(): ConfigOption[] {
    const out: ConfigOption[] = [];
    if (this.sendAddress) out.push(option(IpcpOption.IP_ADDRESS, u32(this.wantAddress)));
    if (this.wantDns[0] !== undefined)
      out.push(option(IpcpOption.PRIMARY_DNS, u32(this.wantDns[0])));
    if (this.wantDns[1] !== undefined)
      out.push(option(IpcpOption.SECONDARY_DNS, u32(this.wantDns[1])));
    return out;
  }

  evaluateRequest(options: readonly ConfigOption[], allowNak: boolean): RequestVerdict {
    const naks: ConfigOption[] = [];
    const rejects: ConfigOption[] = [];
    let address: number | undefined;
    for (const o of options) {
      switch (o.type) {
        case IpcpOption.IP_ADDRESS: {
          if (o.data.length !== 4) {
            rejects.push(o);
            break;
          }
          const asked = o.data.readUInt32BE(0);
          const remote = this.remote;
          if (remote !== 0 && asked !== remote) {
            naks.push(option(IpcpOption.IP_ADDRESS, u32(remote)));
          } else if (asked === 0) {
            // The peer wants an address and we have none to give (RFC 1332 §3.3).
            rejects.push(o);
          } else if (asked === this.wantAddress && asked !== 0) {
            rejects.push(o);
          } else {
            address = asked;
          }
          break;
        }
        case IpcpOption.PRIMARY_DNS:
        case IpcpOption.SECONDARY_DNS: {
          const server = this.config.dns[o.type === IpcpOption.PRIMARY_DNS ? 0 : 1];
          if (o.data.length !== 4 || server === undefined) rejects.push(o);
          else if (o.data.readUInt32BE(0) !== server) naks.push(option(o.type, u32(server)));
          break;
        }
        default:
          // IP-Compression-Protocol (VJ), IP-Addresses, NBNS and unknown options.
          rejects.push(o);
      }
    }
    if (rejects.length > 0) return { kind: 'reject', options: rejects };
    if (
      address === undefined &&
      this.remote !== 0 &&
      !this.suggestedAddress &&
      allowNak &&
      !options.some((o) => o.type === IpcpOption.IP_ADDRESS)
    ) {
      // RFC 1332 §3.3: a Nak may suggest an option the peer left out: its address.
      this.suggestedAddress = true;
      naks.push(option(IpcpOption.IP_ADDRESS, u32(this.remote)));
    }
    if (naks.length > 0) return { kind: 'nak', options: naks };
    this.peerAddress = address ?? 0;
    return { kind: 'ack' };
  }

  acked(options: readonly ConfigOption[]): void {
    this.negotiated.dns = [];
    for (const o of options) {
      if (o.type === IpcpOption.IP_ADDRESS) this.negotiated.localAddress = o.data.readUInt32BE(0);
      if (o.type === IpcpOption.PRIMARY_DNS || o.type === IpcpOption.SECONDARY_DNS) {
        const v = o.data.readUInt32BE(0);
        if (v !== 0) this.negotiated.dns.push(v);
      }
    }
  }

  naked(options: readonly ConfigOption[]): boolean {
    for (const o of options) {
      if (o.data.length !== 4) return false;
      const v = o.data.readUInt32BE(0);
      switch (o.type) {
        case IpcpOption.IP_ADDRESS:
          // Take the server's assignment only when we asked for one (pppd without ipcp-accept-local).
          if (this.config.localAddress === 0 && v !== 0) this.wantAddress = v;
          break;
        case IpcpOption.PRIMARY_DNS:
          if (this.wantDns[0] !== undefined) this.wantDns[0] = v;
          break;
        case IpcpOption.SECONDARY_DNS:
          if (this.wantDns[1] !== undefined) this.wantDns[1] = v;
          break;
      }
    }
    return true;
  }

  rejected(options: readonly ConfigOption[]): boolean {
    if (!rejectNamesOurOptions(this.ourOptions(), options)) return false;
    for (const o of options) {
      if (o.type === IpcpOption.IP_ADDRESS) this.sendAddress = false;
      if (o.type === IpcpOption.PRIMARY_DNS) this.wantDns[0] = undefined;
      if (o.type === IpcpOption.SECONDARY_DNS) this.wantDns[1] = undefined;
    }
    return true;
  }

  layerUp(): void {
    if (!this.sendAddress) this.negotiated.localAddress = this.config.localAddress;
    this.negotiated.remoteAddress = this.peerAddress || this.remote;
    this.events.up(this.negotiated);
  }

  layerDown(): void {
    this.events.down();
  }

  layerStarted(): void {}

  layerFinished(reason: string): void {
    this.events.finished(reason);
  }
}
