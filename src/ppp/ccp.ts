/**
 * CCP (RFC 1962) on the shared automaton, with MPPE (RFC 3078) as its only
 * algorithm, and CCP's own codes Reset-Request / Reset-Ack that resynchronise
 * stateful MPPE after loss.
 */
import type { Fsm, FsmHandler, RequestVerdict } from './fsm.js';
import {
  CCP_OPTION_MPPE,
  decodeMppeOptionValue,
  encodeMppeOptionValue,
  type MppeDirection,
  type MppeOptionRepr,
  type MppePolicy,
  mppeAfterNak,
  mppeDirections,
  mppeRequestOption,
  negotiateMppe,
} from './mppe-option.js';
import {
  Code,
  type ConfigOption,
  type ControlPacket,
  option,
  rejectNamesOurOptions,
} from './packet.js';
import { Protocol } from './protocol.js';

export interface CcpEvents {
  up(agreed: { send: MppeDirection; recv: MppeDirection }): void;
  down(): void;
  finished(reason: string): void;
  /** The peer lost packets (stateful MPPE): our next packet must be flushed. */
  resetRequested(): void;
  /** The negotiation cannot give MPPE (refused, mismatched); `reason` says why. */
  refused(reason: string): void;
}

export class CcpHandler implements FsmHandler {
  readonly name = 'CCP';
  readonly protocol = Protocol.CCP;
  private want: MppeOptionRepr | undefined;
  private ours: MppeOptionRepr | undefined;
  private theirs: MppeOptionRepr | undefined;
  private pendingTheirs: MppeOptionRepr | undefined;
  private suggested = false;

  constructor(
    private readonly policy: MppePolicy,
    private readonly events: CcpEvents,
  ) {
    this.resetOptions();
  }

  resetOptions(): void {
    this.want = mppeRequestOption(this.policy);
    this.ours = undefined;
    this.theirs = undefined;
    this.pendingTheirs = undefined;
    this.suggested = false;
  }

  ourOptions(): ConfigOption[] {
    return this.want === undefined
      ? []
      : [option(CCP_OPTION_MPPE, encodeMppeOptionValue(this.want))];
  }

  evaluateRequest(options: readonly ConfigOption[], allowNak: boolean): RequestVerdict {
    const rejects: ConfigOption[] = [];
    const naks: ConfigOption[] = [];
    let mppe: MppeOptionRepr | undefined;
    for (const o of options) {
      if (o.type !== CCP_OPTION_MPPE) {
        // Deflate, BSD-Compress, Predictor, MPPC alone...: MPPE is our only algorithm.
        rejects.push(o);
        continue;
      }
      const decoded = decodeMppeOptionValue(o.data);
      if (!decoded.ok) {
        rejects.push(o);
        continue;
      }
      const verdict = negotiateMppe(this.policy, decoded.value);
      if (verdict.kind === 'reject') rejects.push(o);
      else if (verdict.kind === 'nak')
        naks.push(option(CCP_OPTION_MPPE, encodeMppeOptionValue(verdict.suggest)));
      else mppe = decoded.value;
    }
    if (rejects.length > 0) return { kind: 'reject', options: rejects };
    if (naks.length > 0) return { kind: 'nak', options: naks };
    if (
      mppe === undefined &&
      this.policy.required &&
      allowNak &&
      !this.suggested &&
      this.want !== undefined
    ) {
      // RFC 1661 §5.3: a Nak may add an option the peer left out. We need MPPE both ways.
      this.suggested = true;
      return { kind: 'nak', options: [option(CCP_OPTION_MPPE, encodeMppeOptionValue(this.want))] };
    }
    this.pendingTheirs = mppe;
    return { kind: 'ack' };
  }

  acked(options: readonly ConfigOption[]): void {
    const o = options.find((x) => x.type === CCP_OPTION_MPPE);
    const decoded = o ? decodeMppeOptionValue(o.data) : undefined;
    this.ours = decoded?.ok ? decoded.value : undefined;
  }

  naked(options: readonly ConfigOption[]): boolean {
    for (const o of options) {
      if (o.type !== CCP_OPTION_MPPE) continue;
      const decoded = decodeMppeOptionValue(o.data);
      if (!decoded.ok) return false;
      if (this.want === undefined) continue;
      const next = mppeAfterNak(this.policy, decoded.value);
      if (next.ok) {
        this.want = next.value;
      } else {
        this.want = undefined;
        this.events.refused(next.error.reason);
      }
    }
    return true;
  }

  rejected(options: readonly ConfigOption[]): boolean {
    if (!rejectNamesOurOptions(this.ourOptions(), options)) return false;
    if (options.some((o) => o.type === CCP_OPTION_MPPE) && this.want !== undefined) {
      this.want = undefined;
      this.events.refused('the peer rejected MPPE');
    }
    return true;
  }

  layerUp(): void {
    this.theirs = this.pendingTheirs;
    if (this.ours === undefined || this.theirs === undefined) {
      this.events.refused('MPPE was not agreed in both directions');
      return;
    }
    const agreed = mppeDirections(this.ours, this.theirs);
    if (!agreed.ok) {
      this.events.refused(agreed.error.reason);
      return;
    }
    this.events.up(agreed.value);
  }

  layerDown(): void {
    this.events.down();
  }

  layerStarted(): void {}

  layerFinished(reason: string): void {
    this.events.finished(reason);
  }

  extraCode(packet: ControlPacket, fsm: Fsm): 'handled' | 'unknown' {
    if (packet.code === Code.RESET_REQUEST) {
      // RFC 1962 §3: answer with a Reset-Ack carrying the same Identifier.
      if (fsm.state === 'opened') {
        this.events.resetRequested();
        fsm.sendPacket(Code.RESET_ACK, packet.identifier, packet.data);
      }
      return 'handled';
    }
    if (packet.code === Code.RESET_ACK) return 'handled';
    return 'unknown';
  }
}
