/**
 * The contract between a link (dial-up serial line, PPTP call) and the session
 * driver. A link turns its medium into PPP frames and back and reports down;
 * everything PPP lives in the core (DESIGN principle 3).
 *
 * A "PPP frame" here is what sits between the HDLC flags minus the FCS, or in a
 * GRE payload: [address 0xFF, control 0x03] (absent when ACFC applies), the protocol
 * field (1 byte when PFC applies), the information field.
 */
export interface AsyncLinkParams {
  /** ACCM for bytes we send (the peer's requested async-map). */
  readonly sendAccm: number;
  /** ACCM we asked the peer to use towards us. */
  readonly recvAccm: number;
  /** Largest information field we accept (our MRU). */
  readonly mru: number;
}

export interface PppLinkHandlers {
  /** A complete frame arrived (FCS checked, unescaped). */
  onFrame(frame: Buffer): void;
  /** The medium is gone (carrier lost, call cleared, socket closed). Called once. */
  onDown(reason: string): void;
}

export interface PppLink {
  /** For logs and status, e.g. "ttyUSB0" or "pptp 203.0.113.7 call 4". */
  readonly description: string;
  /** Where the peer is, for lockout and logs: an IP address or a tty path. */
  readonly source: string;
  /** Framing overhead-free MTU the medium can carry for PPP (e.g. 1500 - IP - GRE). */
  readonly maxFrame: number;
  /**
   * Install the receiver. Frames that arrive before this are dropped and counted, or
   * (PPTP: the peer's first few) held and delivered by this call.
   */
  attach(handlers: PppLinkHandlers): void;
  /** Send one PPP frame. Never throws; a dead medium drops it. */
  send(frame: Buffer): void;
  /**
   * Optional admission check for an IP packet, asked before it is framed (and encrypted):
   * false means the medium is congested (PPTP: GRE send window shut, queue full), the
   * link has counted the drop, and the packet must be dropped. Links without flow
   * control leave it out.
   */
  admitIp?(): boolean;
  /** LCP opened: async links apply the agreed ACCMs; synchronous links ignore this. */
  setAsyncParams(params: AsyncLinkParams): void;
  /** Hang up / clear the call. Resolves when the medium is released. */
  close(reason: string): Promise<void>;
}
