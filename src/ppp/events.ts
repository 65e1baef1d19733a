/**
 * The typed events a PPP session emits. LEDs, status, logs and the supervisor
 * listen to these; the core never imports any of them (DESIGN principle 4).
 */

/** RFC 1661 §3.2 link phases. */
export type Phase = 'dead' | 'establish' | 'authenticate' | 'network' | 'terminate';

export const PHASES: readonly Phase[] = [
  'dead',
  'establish',
  'authenticate',
  'network',
  'terminate',
];

/** Authentication methods as negotiated through LCP's Authentication-Protocol option. */
export type AuthMethod = 'pap' | 'chap-md5' | 'mschap' | 'mschap-v2';

/** Which side of an authentication this router played. */
export type AuthRole = 'authenticator' | 'peer';

export type SessionEvent =
  | { type: 'phase'; phase: Phase; previous: Phase }
  | { type: 'auth-success'; role: AuthRole; method: AuthMethod; peerName: string }
  | { type: 'auth-failure'; role: AuthRole; method: AuthMethod; peerName: string; reason: string }
  | { type: 'ip-up'; localAddress: string; remoteAddress: string; dns: string[] }
  | { type: 'ip-down' }
  /** MPPE in force: `bits`/`stateful` for what we send, `recv` for what we receive. */
  | {
      type: 'mppe-up';
      bits: 40 | 56 | 128;
      stateful: boolean;
      recv: { bits: 40 | 56 | 128; stateful: boolean };
    }
  | { type: 'keepalive-lost'; missed: number }
  /** Link-level parameters agreed by LCP; an async HDLC link applies the ACCMs. */
  | { type: 'link-params'; sendAccm: number; recvAccm: number; mru: number; peerMru: number }
  /** The session reached Dead; `reason` says why in one line. */
  | { type: 'terminated'; reason: string }
  /** One pppd-style packet line, emitted only when tracing is on. */
  | { type: 'packet'; direction: 'sent' | 'rcvd'; line: string };

export type SessionEventType = SessionEvent['type'];
